#!/usr/bin/env bash
# Everything that needs a CUDA device, in one go: the GPU tests, then both models with their training
# step captured as a CUDA graph (--compile cuda_graphs) against Lightning's bare loop (the same
# graphs) and the hand-written eager loop, the yardstick of the issue. Results go to $OUT (default:
# gpu-results/); the tables are then copied into docs/PERFORMANCE.md by hand. Run from the
# repository root with the project importable:
#     bash bench/gpu.sh
# About 7 minutes on an H200 machine with REPEATS=2; PLAIN=1 adds the eager models (4 routes),
# COMPILED=1 torch.compile's default mode (measured before: it does not pay for these models).
set -u
OUT=${OUT:-gpu-results}
PYTHON=${PYTHON:-python3}
REPEATS=${REPEATS:-2}        # rounds of alternating runs
PLAIN=${PLAIN:-0}
COMPILED=${COMPILED:-0}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

{
    $PYTHON -c "import torch, lightning, torchmetrics, torchvision, jsonargparse as j; print('torch', torch.__version__,
        'lightning', lightning.__version__, 'torchmetrics', torchmetrics.__version__, 'torchvision',
        torchvision.__version__, 'jsonargparse', j.__version__, 'cuda', torch.cuda.is_available())"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv
    nproc
} >"$OUT/versions.txt" 2>&1
cat "$OUT/versions.txt"

timeout 240 $PYTHON -m pytest -q -p no:cacheprovider -rA tests/test_gpu.py >"$OUT/gpu_tests.txt" 2>&1
tail -n 14 "$OUT/gpu_tests.txt"

for model in classifier autoencoder; do
    timeout $((60 + 60 * REPEATS)) $PYTHON -m bench.mnist --model $model --device cuda --epochs 6 --repeats "$REPEATS" \
        --compile cuda_graphs --routes amal lightning hand --output "$OUT/${model}_cuda_graphs.md" \
        2>>"$OUT/bench.log" | tail -n 9
done
for model in $([ "$PLAIN" = 1 ] && echo classifier autoencoder); do
    timeout $((60 + 80 * REPEATS)) $PYTHON -m bench.mnist --model $model --device cuda --epochs 6 --repeats "$REPEATS" \
        --output "$OUT/$model.md" 2>>"$OUT/bench.log" | tail -n 10
done
for model in $([ "$COMPILED" = 1 ] && echo classifier autoencoder); do
    timeout 100 $PYTHON -m bench.mnist --model $model --device cuda --epochs 6 --repeats 1 --compile default \
        --routes amal lightning hand --output "$OUT/${model}_compiled.md" 2>>"$OUT/bench.log" | tail -n 9
done
