#!/usr/bin/env bash
# One training stretch on a GPU machine from the .gpu-train/ bundle (bundle-device.sh), with its
# results in $OUT: the float16 export (w/model.safetensors.partN, w/train_state.json), the progress
# log (train.log), the run's summary (summary.json), and the held-out loss of the starting weights
# and of the new checkpoint on one set of batches (eval.json); with MATMUL=1 also the dense layers'
# matMul forms timed on the GPU (matmul.json).
# Usage there, after `source .gpu/setup.sh`:
#   packages/train/scripts/device-stretch.sh FROM_DIR SECONDS <train.mjs flags>
# FROM_DIR: the checkpoint to resume (one without optimiser state, such as a float16 export,
# starts a new schedule from its weights); SECONDS: what train.mjs may take in all
# (--finish-within). EVAL_ARGS overrides the eval set (default 8 batches of 64 x 256 windows),
# EVAL_TIMEOUT its time limit in seconds (default 60). The eval runs after the export, so a device
# call that ends during it still returns the new weights.
set -uo pipefail
from=$1
seconds=$2
shift 2
source .gpu-train/unpack.sh
node .gpu-train/train.mjs --data .gpu-train/data.txt --backend webgpu --resume "$from" --out /tmp/stretch-ckpt \
  --export "$OUT/w" --finish-within "$seconds" "$@" 2> >(tee "$OUT/train.log" >&2) | tee "$OUT/summary.json"
# NOTE: the eval runs in its own bounded process, so a slow eval cannot cost the stretch its export.
timeout "${EVAL_TIMEOUT:-60}" node .gpu-train/eval.mjs --data .gpu-train/data.txt --backend webgpu --model "$from" --model /tmp/stretch-ckpt \
  ${EVAL_ARGS:---batch 64 --batches 8 --rows 64} | tee "$OUT/eval.json"
[ "${MATMUL:-0}" = 1 ] && timeout 40 node .gpu-train/matmul.mjs --backend webgpu --rows 32768 | tee "$OUT/matmul.json"
ls -la "$OUT" "$OUT/w"
