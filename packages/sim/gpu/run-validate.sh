#!/usr/bin/env bash
# sim:validate on this machine's CPU (wasm backend): a profile measured first in the same run, then
# per rate one real run per mode and one simulation of the same requests. Writes to $OUT (default
# ./sim-validate-out): machine.txt (cores, CPU, load before and after), profile.json, validate.json
# (rewritten after every row: a run cut short by the time limit keeps its rows), validate.md (the
# side-by-side table), validate.log (progress).
# Usage (repo root, on the machine): source .gpu/setup.sh; bash .gpu-sim/run-validate.sh
# Environment: LIMIT (seconds, default 270), ONLY (workloads, default chat), RATES, REQUESTS,
# PROFILE_QUICK=1 (a profile with fewer samples).
set -uo pipefail
out=${OUT:-sim-validate-out}
mkdir -p "$out"
bin=.gpu-sim/node_modules/@baton/sim/dist/bin
{ echo "cores $(nproc)"; grep -m1 'model name' /proc/cpuinfo; echo "node $(node --version)"; echo "before: $(uptime)"; } > "$out/machine.txt"
args=(--only "${ONLY:-chat}" --json "$out/validate.json" --profile-out "$out/profile.json")
[ -n "${PROFILE_QUICK:-}" ] && args+=(--profile-quick)
[ -n "${RATES:-}" ] && args+=(--rates "$RATES")
[ -n "${REQUESTS:-}" ] && args+=(--requests "$REQUESTS")
start=$(date +%s)
timeout "${LIMIT:-270}" node "$bin/sim-validate.js" "${args[@]}" > "$out/validate.md" 2> "$out/validate.log"
rc=$?
{ echo "sim-validate rc $rc after $(( $(date +%s) - start )) s"; echo "after: $(uptime)"; } >> "$out/machine.txt"
cat "$out/machine.txt"; tail -3 "$out/validate.log"
