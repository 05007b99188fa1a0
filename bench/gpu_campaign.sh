#!/usr/bin/env bash
# bench/gpu_campaign.py on a GPU machine that has JAX but no TensorFlow or Keras (see README_VGG.md, "GPU").
#
# Prepare here once: `make gpu-prep` (the CIFAR-10 JPEG bundle, its converter and the Keras wheels in .gpu/).
# Then, with the device tool:   command: bash bench/gpu_campaign.sh   carry: [".gpu"]   timeout_s: 590
# Variables: DEADLINE (seconds of training, default 470), EPOCHS (fast-recipe epochs, default 40), CANDIDATES,
# ORIGINAL_EPOCHS (0: no original-recipe run), OTHER_CONFIGS ('' : no second stage).
# What comes back in $OUT: gpu_results.tgz.part-* (cat them together; histories, logs, weights npz, summary.json).
set -uo pipefail
OUT=${OUT:-runs/gpu}
mkdir -p "$OUT"
if compgen -G ".gpu/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target .gpu/site .gpu/*.whl
    export PYTHONPATH=$PWD/.gpu/site${PYTHONPATH:+:$PYTHONPATH}
fi
[ -d data/cifar-10-batches-py ] || python3 .gpu/cifar10_from_jpeg.py --bundle .gpu/cifar10_jpeg.npz --out data/ || exit 1
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
