#!/usr/bin/env bash
# Builds .gpu-sim/ for `sim:validate` on the GPU machine's CPU: gpu/bundle.sh's pruned tree of the
# installed packages plus @baton/sim (dist/ and profiles/) and run-validate.sh.
# Usage (repo root, after `npx turbo run build --filter=@baton/sim...`): packages/sim/gpu/bundle.sh;
# then carry .gpu (../shared/gpu/pack.sh) and .gpu-sim, and run `bash .gpu-sim/run-validate.sh`.
set -euo pipefail
cd "$(dirname "$0")/../../.."
GPU_BUNDLE=.gpu-sim gpu/bundle.sh >/dev/null
mkdir -p .gpu-sim/node_modules/@baton/sim
cp packages/sim/package.json .gpu-sim/node_modules/@baton/sim/
cp -r packages/sim/profiles .gpu-sim/node_modules/@baton/sim/
(cd packages/sim && find dist -name '*.js' -exec cp --parents {} ../../.gpu-sim/node_modules/@baton/sim/ \;)
cp packages/sim/gpu/run-validate.sh .gpu-sim/
du -sh .gpu-sim
