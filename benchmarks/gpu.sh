#!/usr/bin/env bash
# One GPU check, well under 10 minutes: PGA rate at d=784, m=1024, B in {4096, 65536}
# beside the card's GEMM rate. Uses the machine's python3 with JAX (CUDA) installed.
set -euo pipefail
cd "$(dirname "$0")/.."
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm --format=csv || true
PYTHONUNBUFFERED=1 python3 -m benchmarks.gpu
