#!/usr/bin/env bash
# Builds .gpu-train/ (git-ignored): a single-file training program (train.mjs, esbuild; the
# `webgpu` package stays external, with only its linux-x64 dawn.node), the held-out loss program
# (eval.mjs, from eval-loss.mjs), the matMul timing (matmul.mjs), and the training file,
# for a GPU machine that has no npm. Usage, from the repo root after `npm run build -w @baton/train`:
#   packages/train/scripts/bundle-device.sh DATA_FILE
# then on that machine: `source .gpu-train/unpack.sh; node .gpu-train/train.mjs --data .gpu-train/data.txt --backend webgpu ...`
# NOTE: dawn.node and the data travel xz-compressed (a transfer limit counts the whole working
# tree); unpack.sh, sourced there, restores them.
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=.gpu-train
rm -rf "$OUT"
mkdir -p "$OUT/node_modules/webgpu/dist/linux-x64"
grep -qx "/$OUT/" .git/info/exclude || echo "/$OUT/" >> .git/info/exclude
npx esbuild packages/train/scripts/train-device.mjs --bundle --format=esm --platform=node --target=node20 \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --outfile="$OUT/train.mjs" --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
# NOTE: eval.mjs (eval-loss.mjs) compares checkpoints on one held-out set on the same GPU after a
# stretch; matmul.mjs (matmul-probe.mjs) times the dense layers' transposed products there.
for pair in eval-loss:eval matmul-probe:matmul; do
  npx esbuild "packages/train/scripts/${pair%%:*}.mjs" --bundle --format=esm --platform=node --target=node20 \
    --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --outfile="$OUT/${pair##*:}.mjs" --log-level=warning \
    --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
done
cp node_modules/webgpu/{package.json,index.js} "$OUT/node_modules/webgpu/"
xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > "$OUT/dawn.node.xz"
xz -T2 -6 -c "$1" > "$OUT/data.txt.xz"
cat > "$OUT/unpack.sh" <<'UNPACK'
_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f "$_here/node_modules/webgpu/dist/linux-x64/dawn.node" ] || xz -dc "$_here/dawn.node.xz" > "$_here/node_modules/webgpu/dist/linux-x64/dawn.node"
[ -f "$_here/data.txt" ] || xz -dc "$_here/data.txt.xz" > "$_here/data.txt"
UNPACK
du -sh "$OUT"
