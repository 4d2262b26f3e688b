#!/usr/bin/env bash
# The CPU-side benches on the GPU machine's 16 cores, one after another in one call (wasm actors,
# no GPU): the simulator's validation (`sim:validate`), the context-caching comparison
# (`bench:context`, via gpu/context-bench.sh) and the elastic P:D bench (`bench:elastic`). Each
# has a time limit of its own and streams its output, so a bench cut short keeps what it finished.
# Prepare (repo root, after `npm install`): .gpu/ with node.xz and setup.sh (see gpu/README.md), then
#   packages/sim/gpu/bundle.sh && mkdir -p .gpu-sim-xz && tar -C .gpu-sim -cf - . | xz -T2 -9 > .gpu-sim-xz/bundle.tar.xz
# and copy .gpu and .gpu-sim-xz to the GPU machine. Run: OUT=<dir> bash gpu/run-cpu-benches.sh
# Environment: BENCHES (a comma list of sim,context,elastic; default all), SIM_LIMIT, CONTEXT_LIMIT,
# ELASTIC_LIMIT (seconds), SIM_RATES, SIM_REQUESTS, SIM_WORKLOADS (default chat), ELASTIC_ARGS, ELASTIC_SEED.
# Output under $OUT: sim/ (validate.md, validate.json, profile.json, machine.txt), context/
# (context-bench.txt, load.txt), elastic/ (tables.txt, summary.json, charts, elastic.txt), load.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-cpu-benches-out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
source .gpu/setup.sh >/dev/null
bundle=/tmp/cpu-bench-bundle
if [ ! -d "$bundle/node_modules" ]; then
  mkdir -p "$bundle" && tar -C "$bundle" -xJf .gpu-sim-xz/bundle.tar.xz
fi
# NOTE: the sim's scripts expect the bundle at .gpu-sim of the repo root.
[ -e .gpu-sim ] || ln -s "$bundle" .gpu-sim
only=",${BENCHES:-sim,context,elastic},"
(while true; do echo "$(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 5; done) > "$out/load.txt" &
loadpid=$!
{ date -u; nproc; grep -m1 'model name' /proc/cpuinfo; node --version; } | tee "$out/machine.txt"
if [[ $only == *,sim,* ]]; then
  echo "## sim:validate"
  OUT=$out/sim ONLY=${SIM_WORKLOADS:-chat} LIMIT=${SIM_LIMIT:-110} RATES=${SIM_RATES:-2,4,8} REQUESTS=${SIM_REQUESTS:-24} PROFILE_QUICK=1 \
    bash .gpu-sim/run-validate.sh
  cat "$out/sim/validate.md" 2>/dev/null | tail -n 40
fi
if [[ $only == *,context,* ]]; then
  echo "## bench:context"
  OUT=$out/context BUNDLE_DIR=$bundle LIMIT_S=${CONTEXT_LIMIT:-150} bash gpu/context-bench.sh | tail -n 60
fi
if [[ $only == *,elastic,* ]]; then
  echo "## bench:elastic"
  mkdir -p "$out/elastic"
  # shellcheck disable=SC2206
  eargs=(${ELASTIC_ARGS:---model baton-8x512 --phase-s 18 --drain-s 8 --prefill-load 1.4 --decode-load 1.4 --parallel --no-costs})
  start=$(date +%s)
  timeout "${ELASTIC_LIMIT:-230}" node "$bundle/node_modules/@baton/bench/dist/elastic-bench.js" "${eargs[@]}" \
    --seed "${ELASTIC_SEED:-1}" --out "$out/elastic" > "$out/elastic/elastic.txt" 2>&1
  echo "elastic exit $? after $(( $(date +%s) - start )) s"
  tail -n 80 "$out/elastic/elastic.txt"
fi
kill "$loadpid" 2>/dev/null
tr '\n' ';' < "$out/load.txt" | tail -c 1500; echo
