#!/usr/bin/env bash
# The checks that need an NVIDIA GPU (CUDA 12 driver installed): the GPU trainer against the CPU
# trainer, and a TrainingJob asking for a GPU. CUDA's user-space libraries (cuBLAS, NVRTC) come
# from their PyPI wheels, so the machine needs only the driver. `make gpu-check` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv-gpu
.venv-gpu/bin/pip install --quiet --disable-pip-version-check \
  nvidia-cublas-cu12 nvidia-cuda-nvrtc-cu12 nvidia-cuda-runtime-cu12
libs=$(ls -d .venv-gpu/lib/python3*/site-packages/nvidia/*/lib | tr '\n' ':')
export LD_LIBRARY_PATH="${libs}${LD_LIBRARY_PATH:-}"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader

# Without LEPTON_REQUIRE_GPU the GPU test passes on machines without a GPU; here it must not.
export LEPTON_REQUIRE_GPU=1
cargo test --locked -p lepton-runner --features cuda --lib dense_gpu -- --nocapture
cargo test --locked -p lepton-runner --features cuda --test train_models gpu -- --nocapture
