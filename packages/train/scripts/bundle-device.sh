#!/usr/bin/env bash
# Builds .gpu-train/ (git-ignored): a single-file training program (train.mjs, esbuild; the
# `webgpu` package stays external, with only its linux-x64 dawn.node), and the training file,
# for a GPU machine that has no npm. Usage, from the repo root after `npm run build -w @baton/train`:
#   packages/train/scripts/bundle-device.sh DATA_FILE
# then on that machine: `node .gpu-train/train.mjs --data .gpu-train/data.txt --backend webgpu ...`
set -euo pipefail
cd "$(dirname "$0")/../../.."
OUT=.gpu-train
rm -rf "$OUT"
mkdir -p "$OUT/node_modules/webgpu/dist/linux-x64"
grep -qx "/$OUT/" .git/info/exclude || echo "/$OUT/" >> .git/info/exclude
npx esbuild packages/train/scripts/train-device.mjs --bundle --format=esm --platform=node --target=node20 \
  --external:webgpu --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --outfile="$OUT/train.mjs" --log-level=warning \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);"
cp node_modules/webgpu/{package.json,index.js} "$OUT/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$OUT/node_modules/webgpu/dist/linux-x64/"
cp "$1" "$OUT/data.txt"
du -sh "$OUT"
