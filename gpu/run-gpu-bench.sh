#!/usr/bin/env bash
# The goodput bench (`baton bench`) on the GPU machine, webgpu backend: disaggregated vs colocated
# vs chunked, the same 2 model worker threads per mode (1P+1D vs 2), chat mix, --quick.
# 1. a calibration run at 2 req/s with loose targets (TTFT and TPOT of each mode at low load);
# 2. goodput searches from 16 req/s at two SLO pairs sized from the calibration (TTFT p50 5-6 ms,
#    TPOT p50 1.1-1.4 ms at low load): TPOT-tight 3 ms with TTFT 25 ms, and a looser 5 / 50 ms.
# Usage (on the GPU machine, from the repo root, after gpu/bundle.sh; Vulkan set up as in
# gpu/README.md):
#   bash gpu/run-gpu-bench.sh
# Each run's summary.json and attainment.svg go to $OUT (default ./gpu-bench-out).
set -uo pipefail
out=${OUT:-gpu-bench-out}
mkdir -p "$out"
bench() { node .gpu-bundle/node_modules/@baton/bench/bin/baton-bench.js --workload chat --seed 1 --backend webgpu "$@"; }
keep() { cp "/tmp/gpu-bench-$1/summary.json" "$out/$1-summary.json"; cp "/tmp/gpu-bench-$1/attainment.svg" "$out/$1-attainment.svg" 2>/dev/null || true; }
echo "## calibration: 2 req/s, loose targets"
bench --slo-ttft 1000 --slo-tpot 100 --rates 2 --requests 32 --modes disaggregated,colocated,chunked --out /tmp/gpu-bench-calibration && keep calibration
for slo in "25 3" "50 5"; do
  set -- $slo
  echo "## goodput: SLO TTFT $1 ms, TPOT $2 ms"
  bench --slo-ttft "$1" --slo-tpot "$2" --rate 16 --quick --out "/tmp/gpu-bench-ttft$1-tpot$2" && keep "ttft$1-tpot$2"
done
