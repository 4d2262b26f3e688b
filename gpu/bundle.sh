#!/usr/bin/env bash
# Builds .gpu-bundle/: what the GPU machine needs to run gpu/run-gpu-checks (no npm there, 64 MiB
# carry limit). NOTE: instead of one esbuild bundle, a pruned copy of the installed tree: the engine
# and actors start worker threads from their dist/ files by relative URL, which a single bundle
# would break. Kept: the workspace packages' dist/, each third-party runtime dependency, and of
# each @tensorflow package only package.json and its Node entry (plus tfjs-wasm's .wasm files);
# of `webgpu` only the linux-x64 dawn.node. The script itself is transpiled by esbuild.
# Usage: gpu/bundle.sh (from the repo root, after `npx turbo run build`); then carry .gpu and .gpu-bundle
# (GPU_BUNDLE=.other-dir builds into another git-ignored folder of the repo root instead).
# BUNDLE_XZ=1 also writes <bundle>-xz/bundle.tar.xz (~7 MiB instead of ~32): carry .gpu and that
# folder instead when the working tree (~27 MiB with the shipped model) and both folders exceed the
# 64 MiB carry, and unpack it there first: tar -C /tmp/bundle -xJf .gpu-bundle-xz/bundle.tar.xz
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${GPU_BUNDLE:-.gpu-bundle}
rm -rf "$OUT"
mkdir -p "$OUT/gpu" "$OUT/node_modules/@baton" "$OUT/fixtures"
grep -qx "/$OUT/" .git/info/exclude || echo "/$OUT/" >> .git/info/exclude
for p in actors engine kv-cache model; do
  mkdir -p "$OUT/node_modules/@baton/$p"
  cp packages/$p/package.json "$OUT/node_modules/@baton/$p/"
  (cd packages/$p && find dist -name '*.js' ! -path '*/bench/*' -exec cp --parents {} "../../$OUT/node_modules/@baton/$p/" \;)
done
# The goodput bench (`baton bench --backend webgpu`), run as node .gpu-bundle/node_modules/@baton/bench/bin/baton-bench.js.
mkdir -p "$OUT/node_modules/@baton/bench"
cp -r apps/bench/package.json apps/bench/bin "$OUT/node_modules/@baton/bench/"
(cd apps/bench && find dist -name '*.js' -exec cp --parents {} "../../$OUT/node_modules/@baton/bench/" \;)
copy() { mkdir -p "$OUT/node_modules/$1"; cp -r node_modules/$1/. "$OUT/node_modules/$1/"; }
for d in comlink eventemitter3 piscina @huggingface/tokenizers long seedrandom node-fetch whatwg-url tr46 webidl-conversions debug ms \
  @nats-io/transport-node @nats-io/nats-core @nats-io/nkeys @nats-io/nuid tweetnacl; do
  [ -d node_modules/$d ] && copy $d
done
for p in tfjs-core tfjs-backend-cpu tfjs-backend-wasm tfjs-backend-webgpu; do
  d=node_modules/@tensorflow/$p
  mkdir -p "$OUT/$d/dist"
  cp $d/package.json "$OUT/$d/"
  main=$(node -p "require('./$d/package.json').main")
  cp "$d/$main" "$OUT/$d/$main"
done
cp node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm "$OUT/node_modules/@tensorflow/tfjs-backend-wasm/dist/"
mkdir -p "$OUT/node_modules/webgpu/dist/linux-x64"
cp node_modules/webgpu/{package.json,index.js} "$OUT/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$OUT/node_modules/webgpu/dist/linux-x64/"
cp -r ../shared/fixtures/gpt2-tiny-bytes "$OUT/fixtures/"
npx esbuild gpu/run-gpu-checks.ts --format=esm --platform=node --target=node20 --outfile="$OUT/gpu/run-gpu-checks.mjs" --log-level=warning
du -sh "$OUT"
if [ "${BUNDLE_XZ:-0}" = 1 ]; then
  mkdir -p "$OUT-xz"
  grep -qx "/$OUT-xz/" .git/info/exclude || echo "/$OUT-xz/" >> .git/info/exclude
  tar -C "$OUT" -cf - . | xz -T0 -9 > "$OUT-xz/bundle.tar.xz"
  du -sh "$OUT-xz/bundle.tar.xz"
fi
