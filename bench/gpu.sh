#!/usr/bin/env bash
# Everything that needs a CUDA device, in one go: the GPU tests, then the benchmark of both models,
# plain and compiled. Results go to $OUT (default: gpu-results/); the tables are then copied into
# docs/PERFORMANCE.md by hand. Run from the repository root with the project importable:
#     bash bench/gpu.sh
set -u
OUT=${OUT:-gpu-results}
PYTHON=${PYTHON:-python3}
REPEATS=${REPEATS:-2}        # runs of each route, plain models
COMPILED=${COMPILED:-1}      # 0: skip the compiled models
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

timeout 150 $PYTHON -m pytest -q -p no:cacheprovider -rA tests/test_gpu.py >"$OUT/gpu_tests.txt" 2>&1
tail -n 12 "$OUT/gpu_tests.txt"

for model in classifier autoencoder; do
    timeout $((60 + 50 * REPEATS)) $PYTHON -m bench.mnist --model $model --device cuda --epochs 6 --repeats "$REPEATS" \
        --output "$OUT/$model.md" 2>>"$OUT/bench.log" | tail -n 4
done
for model in $([ "$COMPILED" = 1 ] && echo classifier autoencoder); do
    timeout 80 $PYTHON -m bench.mnist --model $model --device cuda --epochs 6 --repeats 1 --compile true \
        --routes amal hand --output "$OUT/${model}_compiled.md" 2>>"$OUT/bench.log" | tail -n 3
done
