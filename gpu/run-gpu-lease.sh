#!/usr/bin/env bash
# Everything one GPU lease measures, side by side and under one SM-clock log: the PyTorch
# baselines (`torch_baselines.py static`: a minimal GPT-2 with a static KV cache, eager and in a
# CUDA graph) on the bench shapes, then gpu/run-gpu-checks (kernels, fixture parity, engine mode
# token equality, speed per shape with dispatches and host encode time per step against those
# baselines, engine throughput per mode with per-step host times, profile, close loop).
# Usage (on the GPU machine, from the repo root, after gpu/bundle.sh; Node and Vulkan set up as in
# gpu/README.md):
#   BUNDLE=.gpu-bundle TORCH_BASELINES=path/to/torch_baselines.py bash gpu/run-gpu-lease.sh [run-gpu-checks args]
# Writes to $OUT (default ./gpu-lease-out): clocks.csv, baselines.json, torch.log, checks.log,
# results.json.
set -uo pipefail
out=${OUT:-gpu-lease-out}
bundle=${BUNDLE:-.gpu-bundle}
mkdir -p "$out"
out=$(cd "$out" && pwd)
nvidia-smi --query-gpu=timestamp,clocks.sm --format=csv,noheader -lms 100 > "$out/clocks.csv" &
smi=$!
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee "$out/gpu.txt"
if [ -n "${TORCH_BASELINES:-}" ] && [ -f "$TORCH_BASELINES" ]; then
  echo "## torch_baselines.py static"
  OUT=$out CLOCK_LOG=$out/clocks.csv SHAPES=${SHAPES:-4x256x8,8x512x8,12x768x12} REPS=${TORCH_REPS:-40} \
    timeout "${TORCH_TIMEOUT:-150}" python3 "$TORCH_BASELINES" static > "$out/torch.log" 2>&1
  echo "torch exit $?"; tail -n 30 "$out/torch.log"
fi
echo "## run-gpu-checks $*"
OUT=$out BATON_CLOCK_LOG=$out/clocks.csv BATON_TORCH_BASELINES=$out/baselines.json \
  node "$bundle/gpu/run-gpu-checks.mjs" "$@" 2>&1 | grep -v 'artificially reduced' | tee "$out/checks.log"
code=${PIPESTATUS[0]}
kill "$smi" 2>/dev/null
exit "$code"
