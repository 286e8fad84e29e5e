#!/bin/bash
# Measures what specs/vram.md §4 allows for the CUDA context
# (kCudaContextBytes, plan/memory.h) on GPU 0: builds
# bench/cuda_context_probe.cu with nvcc and runs it with lazy and eager
# module loading. Without a GPU it builds, says so, and exits 0.
#   bash bench/cuda_context.sh            # CUDA_ARCH=90 (Hopper) by default
set -euo pipefail
cd "$(dirname "$0")/.."
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
ARCH=${CUDA_ARCH:-90}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$NVCC" -O2 -std=c++17 -gencode "arch=compute_$ARCH,code=[sm_$ARCH,compute_$ARCH]" \
  -o "$dir/probe" bench/cuda_context_probe.cu -lcublas
for mode in LAZY EAGER; do
  CUDA_MODULE_LOADING=$mode "$dir/probe"
  echo
done
