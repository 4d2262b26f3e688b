#!/usr/bin/env bash
# The context-caching comparison (`bench:context`) on the GPU machine's CPU cores: wasm actors only,
# no GPU. Every prefill actor gets cores of its own there (16 cores: 8 prefill + 3 decode child
# processes + the bench's own process), which a 2-core machine cannot give.
# Prepare (from the repo root, after `npx turbo run build --filter=@baton/bench...`):
#   GPU_BUNDLE=.gpu-bundle-context BUNDLE_XZ=1 gpu/bundle.sh
#   mkdir -p .gpu-context && xz -T2 -6 -c "$(readlink -f "$(command -v node)")" > .gpu-context/node.xz
# then carry .gpu-context and .gpu-bundle-context-xz and run: OUT=<dir> bash gpu/context-bench.sh [bench arguments]
# Without arguments it runs CONTEXT_ARGS below. Output: $OUT/context-bench.txt (streamed, so the
# rounds finished before a time limit survive), $OUT/load.txt (load average every 5 s), $OUT/machine.txt.
# LIMIT_S (default 150) bounds the bench itself.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-context-bench-out}
mkdir -p "$out"
if ! command -v node >/dev/null 2>&1 || [ -f .gpu-context/node.xz ]; then
  mkdir -p /tmp/ctx-node/bin
  [ -x /tmp/ctx-node/bin/node ] || { xz -dc .gpu-context/node.xz > /tmp/ctx-node/bin/node; chmod +x /tmp/ctx-node/bin/node; }
  export PATH=/tmp/ctx-node/bin:$PATH
fi
bundle=${BUNDLE_DIR:-/tmp/ctx-bundle}
if [ ! -d "$bundle/node_modules" ]; then
  mkdir -p "$bundle" && tar -C "$bundle" -xJf .gpu-bundle-context-xz/bundle.tar.xz
fi
CONTEXT_ARGS=(--prefill 8 --decode 3 --sessions 288 --rate 24 --think-ms 500 --kv-blocks 2048 --host-blocks 1024
  --heavy-share 0.25 --heavy-scale 4 --seed 2 --reps 1)
[ $# -gt 0 ] && CONTEXT_ARGS=("$@")
{ date -u; node --version; nproc; grep -m1 'model name' /proc/cpuinfo; free -g | head -2; } > "$out/machine.txt" 2>&1
cat "$out/machine.txt"
(while true; do echo "$(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 5; done) > "$out/load.txt" &
loadpid=$!
echo "args: ${CONTEXT_ARGS[*]}" | tee "$out/context-bench.txt"
start=$(date +%s)
timeout "${LIMIT_S:-150}" node "$bundle/node_modules/@baton/bench/dist/context-bench.js" "${CONTEXT_ARGS[@]}" 2>&1 | tee -a "$out/context-bench.txt"
rc=${PIPESTATUS[0]}
echo "bench exit $rc after $(( $(date +%s) - start )) s" | tee -a "$out/context-bench.txt"
kill "$loadpid" 2>/dev/null
cat "$out/load.txt" | tr '\n' ';'; echo
exit "$rc"
