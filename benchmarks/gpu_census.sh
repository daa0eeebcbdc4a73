#!/usr/bin/env bash
# The GPU item of the scale issue, in one prepared run (well under 10 minutes on an H200):
# a converged, certified, streamed census of 131072 and then of 10^6 restarts at
# (d, m) = (784, 1024), in true float32 (JAX_DEFAULT_MATMUL_PRECISION=highest: TF32 would
# void the certificates' mixed-precision margin). Writes $OUT/gpu_census_*.json and logs.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu_card.txt"
export JAX_DEFAULT_MATMUL_PRECISION=highest PYTHONUNBUFFERED=1
for run in 131072:150 1000000:380; do  # restarts:seconds allowed
  n=${run%%:*}
  /usr/bin/time -v timeout "${run##*:}" python3 -m adv_landscape.cli census --d 784 \
      --m 1024 --gamma 0.5 --inits "$n" --stream --chunk 131072 --no-progress \
      --json "$OUT/gpu_census_$n.json" > "$OUT/gpu_census_$n.log" 2>&1
  echo "n=$n exit $?"; tail -n 30 "$OUT/gpu_census_$n.log"
done
