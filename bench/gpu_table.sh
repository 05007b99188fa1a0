#!/usr/bin/env bash
# A results table trained on a GPU machine reached through a few calls (bench/gpu_table.py says how); run from the
# repository root, here or there:
#   bash bench/gpu_table.sh stage --dataset cifar100 --bundle cifar100_webp.npz    # here: parts + the calls to make
#   bash bench/gpu_table.sh receive                                                 # there, calls 1 .. n-1
#   bash bench/gpu_table.sh train --dataset cifar100 [--recipe fast60 --deadline 480]  # there, the last part's call
#   bash bench/gpu_table.sh check [--dataset cifar10 --configs fp32,k1B2]          # here: every step, scratch folders
#   bash bench/gpu_table.sh throughput                                              # bench/train_throughput.py
#   bash bench/gpu_table.sh cost                                                    # bench/step_cost.py
# On a machine without Keras, the wheels that `make gpu-prep` put into .gpu/ (carried by the first call) are
# installed into .gpu/site once; training there runs on JAX with a persistent compilation cache in runs/table/.
# MPS=1 runs the side-by-side processes under CUDA MPS (untried: compare summary.json's throughput with and without).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}  # PYTHON names the interpreter; else the project's .venv where there is one
if [ -z "${PYTHON:-}" ] && [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi
if ! "$PY" -c "import keras" 2>/dev/null; then
    if [ ! -d .gpu/site ] && compgen -G ".gpu/*.whl" >/dev/null; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target .gpu/site .gpu/*.whl
    fi
    export PYTHONPATH=$PWD/.gpu/site${PYTHONPATH:+:$PYTHONPATH}
    export KERAS_BACKEND=${KERAS_BACKEND:-jax}
fi
if command -v nvidia-smi >/dev/null 2>&1; then
    export KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false
    export JAX_COMPILATION_CACHE_DIR=$PWD/runs/table/jax_cache
    if [ "${1:-}" = train ]; then
        mkdir -p "${OUT:-runs/table_out}"
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "${OUT:-runs/table_out}/device.txt" 2>&1 || true
        nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 15 \
            > "${OUT:-runs/table_out}/gpu_utilization.csv" 2>&1 &
        trap 'kill %1 2>/dev/null || true' EXIT
        if [ "${MPS:-0}" = 1 ] && command -v nvidia-cuda-mps-control >/dev/null 2>&1; then  # opt-in: CUDA MPS
            export CUDA_MPS_PIPE_DIRECTORY=$PWD/runs/table/mps CUDA_MPS_LOG_DIRECTORY=$PWD/runs/table/mps
            mkdir -p runs/table/mps
            if nvidia-cuda-mps-control -d; then mps=on; else mps="failed to start: without it"; fi
            echo "CUDA MPS $mps" | tee -a "${OUT:-runs/table_out}/device.txt"
            trap 'kill %1 2>/dev/null || true; echo quit | nvidia-cuda-mps-control 2>/dev/null || true' EXIT
        fi
    fi
fi
export PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
if [ "${1:-}" = throughput ]; then  # model.fit and --loop device, 1 and 100 steps per call (later flags override)
    shift
    exec "$PY" bench/train_throughput.py --steps_per_execution 100 --device_loop --steps 100 --rounds 2 \
        --precision mixed_bfloat16 "$@"
fi
if [ "${1:-}" = cost ]; then  # XLA's FLOP and bytes of the training step compiled for this machine's device
    shift
    exec "$PY" bench/step_cost.py --configs k1B2 --precisions float32,mixed_bfloat16 "$@"
fi
"$PY" bench/gpu_table.py "$@"
