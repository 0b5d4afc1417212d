#!/usr/bin/env bash
# The training benchmark on a GPU machine: our Keras TextCNN with KERAS_BACKEND=jax (TensorFlow is
# not installed there; JAX and PyTorch are), PyTorch beside it on the same device.
#
#   bench/gpu.sh [gpu_train.py options]     e.g. --steps 50 --batch-sizes 128
#
# Keras 3.15 comes from the wheels in bench/.wheels (`make bench-gpu-wheels` puts them there; carry
# that folder to the machine). Results: $OUT/gpu.json when $OUT is set, else bench/results/gpu-<date>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if ! "$python" -c "import keras, sys; sys.exit(tuple(map(int, keras.__version__.split('.')[:2])) < (3, 15))" 2>/dev/null; then
  "$python" -m pip install --quiet --no-index --find-links bench/.wheels keras
fi
out=${OUT:+$OUT/gpu.json}
out=${out:-bench/results/gpu-$(date +%Y-%m-%d-%H%M).json}
mkdir -p "$(dirname "$out")"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
KERAS_BACKEND=jax PYTHONPATH=$PWD "$python" -m bench.gpu_train --out "$out" "$@"
