#!/usr/bin/env bash
# `baton bench` on the GPU machine (16 CPU cores + one H200), 8x512 bench model, chat mix,
# slowdown SLOs (TPOT 2x, TTFT 8x uncontended), 3 interleaved repetitions, --quick:
#  (a) CPU only: 16 wasm threads; disaggregated with the best of the listed P:D splits vs 16
#      colocated vs 16 chunked (chunk size tuned);
#  (b) heterogeneous: disaggregated prefill on the GPU (webgpu) and decode on wasm threads, vs
#      colocated and chunked on the same devices (their first P actors on the GPU, the rest on wasm).
# Each run is capped with `timeout` (240 s and 200 s) so that both fit in ten minutes; every repetition is also
# logged to stderr as it ends, so a capped run still reports what it finished.
# Usage (on the GPU machine, Vulkan set up as in gpu/README.md; bundle = the runtime tree
# gpu/bundle.sh builds):
#   BUNDLE=<bundle> bash apps/bench/gpu-bench.sh
set -uo pipefail
bundle=${BUNDLE:-.gpu-bundle}
out=${OUT:-gpu-bench-out}
mkdir -p "$out"
common=(--model baton-8x512 --workload chat --threads 16 --slo-scale 2 --slo-scale-ttft 8 --quick --reps 3 --seed 1 --run-seconds 4 --chunks 128,256)
date -u; nproc; nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
run() {
  local name=$1 limit=$2; shift 2
  echo "## ($name) $*"
  timeout "$limit" node "$bundle/node_modules/@baton/bench/bin/baton-bench.js" "${common[@]}" "$@" --out "/tmp/bench-$name" \
    > "$out/$name-stdout.txt" 2> "$out/$name-stderr.txt"
  echo "rc=$? $(date -u +%T)"
  cp "/tmp/bench-$name/summary.json" "$out/$name-summary.json" 2>/dev/null
  cp "/tmp/bench-$name/slo-scale.svg" "$out/$name-slo-scale.svg" 2>/dev/null
}
run a "${LIMIT_A:-240}" --backend wasm --splits "${SPLITS_A:-6:10,10:6}" --rates "${RATES_A:-4,8}"
run b "${LIMIT_B:-200}" --backend wasm --prefill-backend webgpu --decode-backend wasm --splits "${SPLITS_B:-1:15,2:14}" --rates "${RATES_B:-4,8}"
