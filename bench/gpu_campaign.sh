#!/usr/bin/env bash
# bench/gpu_campaign.py on a GPU machine that has JAX but no TensorFlow or Keras (see README_VGG.md, "GPU").
#
# Before it: `make gpu-prep` (the Keras wheels in .gpu/); the CIFAR-10 images travel separately (bench/gpu_stage.py)
# and must be in data/cifar-10-batches-py. Run from the repository root: bash bench/gpu_campaign.sh
# Variables: DEADLINE (seconds of training, default 470), EPOCHS (fast-recipe epochs, default 40), CANDIDATES,
# ORIGINAL_EPOCHS (0: no original-recipe run), OTHER_CONFIGS ('' : no second stage).
# Output in $OUT (default runs/gpu): gpu_results.tgz.part-* (cat them together: histories, logs, npz, summary.json).
set -uo pipefail
OUT=${OUT:-runs/gpu}
mkdir -p "$OUT"
if compgen -G ".gpu/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target .gpu/site .gpu/*.whl
    export PYTHONPATH=$PWD/.gpu/site${PYTHONPATH:+:$PYTHONPATH}
fi
[ -d data/cifar-10-batches-py ] || { echo "data/cifar-10-batches-py missing: stage it first (bench/gpu_stage.py)"; exit 1; }
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false TF_CPP_MIN_LOG_LEVEL=2
WORK=runs/campaign
if [ "$(df --output=avail -k /dev/shm 2>/dev/null | tail -1)" -gt 8000000 ] 2>/dev/null; then WORK=/dev/shm/campaign; fi
mkdir -p "$WORK"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"
  nproc; df -h /dev/shm . | tail -2; } 2>&1 | tee "$WORK/device.txt"
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 20 > "$WORK/gpu_utilization.csv" 2>&1 &
python3 bench/gpu_campaign.py --deadline "${DEADLINE:-470}" --epochs "${EPOCHS:-40}" --work "$WORK" --out "$OUT" \
    ${CANDIDATES:+--candidates "$CANDIDATES"} ${ORIGINAL_EPOCHS:+--original_epochs "$ORIGINAL_EPOCHS"} \
    ${OTHER_CONFIGS+--other_configs "$OTHER_CONFIGS"}
kill %1 2>/dev/null
ls -la "$OUT"
