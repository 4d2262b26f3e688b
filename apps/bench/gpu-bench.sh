#!/usr/bin/env bash
# `baton bench` on the GPU machine (16 CPU cores + one H200), 8x512 bench model, chat mix,
# slowdown SLOs (TPOT 2x, TTFT 8x uncontended), 3 interleaved repetitions, --quick, fixed rates
# (the SLO-scale sweep at each rate; goodput = highest passing rate of the list):
#  (a) CPU only: 16 wasm threads; disaggregated with the best of the P:D splits 8:8 and 10:6 vs 16
#      colocated vs 16 chunked (chunk 128 or 256, the better kept), at 6 and 12 req/s;
#  (b) heterogeneous: disaggregated 1P+15D, prefill on the GPU (webgpu) and decode on wasm threads,
#      vs colocated and chunked on the same devices (their first actor on the GPU, 15 on wasm), at
#      8 and 16 req/s. One GPU prefill actor: a 256-token 8x512 prefill takes a few ms there;
#  (c) with RUNS="c" (or "a b c"): all on the GPU, 4 webgpu actors (splits 1:3 and 2:2), 16 and 32 req/s.
# Each run is capped with `timeout` (LIMIT_A, LIMIT_B seconds) so both fit one call of ten minutes;
# every repetition is also logged to stderr as it ends, so a capped run still reports what it
# finished. The SM clock is logged every 500 ms beside the runs (clocks.csv).
# Outputs, written to $OUT as they are produced (at most 7 files): run.log, a.txt / b.txt / c.txt
# (tables), progress.txt (every run's progress), clocks.csv, results.tar.gz (each run's
# summary.json, charts and records).
# Usage (on the GPU machine, Vulkan set up as in gpu/README.md; bundle = the runtime tree
# gpu/bundle.sh builds):
#   BUNDLE=<bundle> bash apps/bench/gpu-bench.sh
# Dry run anywhere (tiny settings, GPU host thread on tfjs cpu):
#   BATON_GPU_HOST_BACKEND=cpu MODEL=baton-tiny THREADS=2 SPLITS_A=1:1 SPLITS_B=1:1 CHUNKS=64 REPS=1 \
#     RATES_A=4 RATES_B=4 EXTRA_B=--no-roofline BUNDLE=.gpu-bundle bash apps/bench/gpu-bench.sh
# (EXTRA_A / EXTRA_B: more bench arguments of run a / b; the tfjs-cpu GPU host makes b's roofline very slow)
set -uo pipefail
bundle=${BUNDLE:-.gpu-bundle}
out=${OUT:-gpu-bench-out}
work=${WORK:-/tmp/gpu-bench}
mkdir -p "$out" "$work"
common=(--model "${MODEL:-baton-8x512}" --workload "${WORKLOAD:-chat}" --slo-scale 2 --slo-scale-ttft 8
  --quick --reps "${REPS:-3}" --seed 1 --run-seconds "${RUN_SECONDS:-4}" --chunks "${CHUNKS:-128,256}")
log() { echo "$(date -u +%T) $*" | tee -a "$out/run.log"; }
log "start; $(nproc) cores ($(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2)); node $(node --version); load $(cut -d' ' -f1-3 /proc/loadavg)"
clock_pid=
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,memory.used --format=csv,noheader | tee -a "$out/run.log"
  nvidia-smi --query-gpu=timestamp,clocks.sm,utilization.gpu --format=csv,noheader -lms 500 > "$out/clocks.csv" &
  clock_pid=$!
fi
run() {
  local name=$1 limit=$2; shift 2
  log "($name) baton bench ${common[*]} $*"
  echo "## ($name) $(date -u +%T)" >> "$out/progress.txt"
  timeout "$limit" node "$bundle/node_modules/@baton/bench/bin/baton-bench.js" "${common[@]}" "$@" --out "$work/$name" \
    > "$out/$name.txt" 2>> "$out/progress.txt"
  log "($name) rc=$? load $(cut -d' ' -f1-3 /proc/loadavg)"
}
for r in ${RUNS:-a b}; do
  case $r in
    a) run a "${LIMIT_A:-270}" --threads "${THREADS:-16}" --backend wasm --splits "${SPLITS_A:-8:8,10:6}" --rates "${RATES_A:-6,12}" --tune-rate "${TUNE_A:-12}" ${EXTRA_A:-} ;;
    b) run b "${LIMIT_B:-250}" --threads "${THREADS:-16}" --backend wasm --prefill-backend webgpu --decode-backend wasm --splits "${SPLITS_B:-1:15}" --rates "${RATES_B:-8,16}" --tune-rate "${TUNE_B:-16}" ${EXTRA_B:-} ;;
    c) run c "${LIMIT_C:-250}" --threads "${THREADS_C:-4}" --backend webgpu --splits "${SPLITS_C:-1:3,2:2}" --rates "${RATES_C:-16,32}" --tune-rate "${TUNE_C:-32}" ${EXTRA_C:-} ;;
  esac
done
if [ -n "$clock_pid" ]; then
  kill "$clock_pid"
  log "SM clock MHz (min / median / max over the runs): $(awk -F', ' '{print $2+0}' "$out/clocks.csv" | sort -n | awk '{v[NR]=$1} END {if (NR) print v[1], "/", v[int((NR+1)/2)], "/", v[NR]}')"
fi
tar czf "$out/results.tar.gz" -C "$work" . && log "results.tar.gz: $(du -h "$out/results.tar.gz" | cut -f1)"
