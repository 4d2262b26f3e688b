#!/usr/bin/env bash
# `baton bench` on the GPU machine (16 CPU cores + one H200), 8x512 bench model, chat mix,
# slowdown SLOs (TPOT 2x, TTFT 8x uncontended), 3 interleaved repetitions, --quick:
#  (b) heterogeneous (the default run): disaggregated 1P+15D, prefill on the GPU (webgpu) and decode
#      on wasm threads, vs colocated and chunked (chunk 256) on the same devices (their first actor
#      on the GPU, 15 on wasm); a goodput search per mode from 3 req/s (x2 up to 24, /2 down to 1.5,
#      then 2 bisection steps; a failing run stops once its miss is certain), 64 requests per run
#      at 3 req/s and above (--run-seconds 22);
#  (a) with RUNS="a" (or "b a"): CPU only, 16 wasm threads; disaggregated with the best of the P:D
#      splits 8:8 and 10:6 vs 16 colocated vs 16 chunked (chunk 128 or 256), at fixed rates 6 and 12
#      (the SLO-scale sweep at each rate);
#  (c) with RUNS="c": all on the GPU, 4 webgpu actors (splits 1:3 and 2:2), fixed rates 16 and 32.
# Each run is capped with `timeout` (LIMIT_A, LIMIT_B, LIMIT_C seconds) so a call stays within its
# limit; every repetition is also logged to stderr as it ends, so a capped run still reports what it
# finished. The SM clock is logged every 500 ms beside the runs (clocks.csv).
# Outputs, written to $OUT as they are produced (at most 7 files): run.log, a.txt / b.txt / c.txt
# (tables), progress.txt (every run's progress, time-stamped), clocks.csv, results.tar.gz (each run's
# summary.json, charts and records).
# Usage (on the GPU machine, Vulkan set up as in gpu/README.md; bundle = the runtime tree
# gpu/bundle.sh builds):
#   BUNDLE=<bundle> bash apps/bench/gpu-bench.sh
#   (the compressed bundle of BUNDLE_XZ=1 gpu/bundle.sh: tar -C /tmp/bundle -xJf .gpu-bundle-xz/bundle.tar.xz, then BUNDLE=/tmp/bundle)
# Dry run anywhere (tiny settings, GPU host thread on tfjs cpu):
#   BATON_GPU_HOST_BACKEND=cpu MODEL=baton-tiny THREADS=2 SPLITS_B=1:1 REPS=1 RATES_B="--rate 2" \
#     RUN_SECONDS_B=4 EXTRA_B=--no-roofline BUNDLE=.gpu-bundle bash apps/bench/gpu-bench.sh
# (RATES_x: the rate arguments of run x; EXTRA_x: more bench arguments of run x; the tfjs-cpu GPU
# host makes b's roofline very slow)
set -uo pipefail
bundle=${BUNDLE:-.gpu-bundle}
out=${OUT:-gpu-bench-out}
work=${WORK:-/tmp/gpu-bench}
mkdir -p "$out" "$work"
common=(--model "${MODEL:-baton-8x512}" --workload "${WORKLOAD:-chat}" --slo-scale 2 --slo-scale-ttft 8
  --quick --reps "${REPS:-3}" --seed 1)
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
  # NOTE: stderr (progress) goes through the pipe, each line stamped with the time; stdout (tables) to the file.
  { timeout "$limit" node "$bundle/node_modules/@baton/bench/bin/baton-bench.js" "${common[@]}" "$@" --out "$work/$name" \
    2>&1 > "$out/$name.txt"; } | while IFS= read -r line; do echo "$(date -u +%T) $line"; done >> "$out/progress.txt"
  local rc=${PIPESTATUS[0]}
  log "($name) rc=$rc load $(cut -d' ' -f1-3 /proc/loadavg)"
}
for r in ${RUNS:-b}; do
  case $r in
    a) run a "${LIMIT_A:-270}" --threads "${THREADS:-16}" --backend wasm --splits "${SPLITS_A:-8:8,10:6}" ${RATES_A:---rates 6,12 --tune-rate 12} \
         --run-seconds "${RUN_SECONDS_A:-4}" --chunks "${CHUNKS_A:-128,256}" ${EXTRA_A:-} ;;
    b) run b "${LIMIT_B:-380}" --threads "${THREADS:-16}" --backend wasm --prefill-backend webgpu --decode-backend wasm --splits "${SPLITS_B:-1:15}" \
         ${RATES_B:---rate 3} --requests 64 --run-seconds "${RUN_SECONDS_B:-22}" --chunks "${CHUNKS_B:-256}" ${EXTRA_B:-} ;;
    c) run c "${LIMIT_C:-250}" --threads "${THREADS_C:-4}" --backend webgpu --splits "${SPLITS_C:-1:3,2:2}" ${RATES_C:---rates 16,32 --tune-rate 32} \
         --run-seconds "${RUN_SECONDS_C:-4}" --chunks "${CHUNKS_C:-128,256}" ${EXTRA_C:-} ;;
  esac
done
if [ -n "$clock_pid" ]; then
  kill "$clock_pid"
  log "SM clock MHz (min / median / max over the runs): $(awk -F', ' '{print $2+0}' "$out/clocks.csv" | sort -n | awk '{v[NR]=$1} END {if (NR) print v[1], "/", v[int((NR+1)/2)], "/", v[NR]}')"
fi
tar czf "$out/results.tar.gz" -C "$work" . && log "results.tar.gz: $(du -h "$out/results.tar.gz" | cut -f1)"
