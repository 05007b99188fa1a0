#!/usr/bin/env bash
# The full training recipe on a lent GPU machine that has JAX but no TensorFlow or Keras (see README_VGG.md, "GPU").
#
# Prepare here once: `make gpu-prep` fills the git-ignored .gpu/ with the shared CIFAR-10 JPEG bundle, its converter
# and the Keras wheels for Python 3.12. Then run there, with the device tool:
#     command: bash bench/gpu_recipe.sh      carry: [".gpu"]      timeout_s: 600
# Variables: EPOCHS (default 400), CONFIGS (default "k1B2 fp32", trained one after the other while time allows),
# PRECISION (default float32). What comes back in $OUT: per configuration the history CSV and the log, and for
# quantized ones the weights npz gzipped (ternary kernels compress ~10x; the FP32 npz is too large to bring back).
# Afterwards, here: gunzip the npz into CIFAR10/ and run Spiking_VGG_CIFAR10.py on the CPU.
set -euo pipefail
OUT=${OUT:-runs/gpu}
EPOCHS=${EPOCHS:-400}
CONFIGS=${CONFIGS:-k1B2 fp32}
PRECISION=${PRECISION:-float32}
mkdir -p "$OUT"
if compgen -G ".gpu/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .gpu/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
[ -d data/cifar-10-batches-py ] || python3 .gpu/cifar10_from_jpeg.py --bundle .gpu/cifar10_jpeg.npz --out data/
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=2
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/device.txt" || true
python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)" | tee -a "$OUT/device.txt"
for config in $CONFIGS; do
    # the recipe's two phases, resumable: half the epochs at lr 1e-3, the rest at 1e-4
    python3 -m quant_snn.reproduce --configs "$config" --noise 0 --epochs "$EPOCHS" --output_dir runs/gpu-work \
        --precision "$PRECISION" 2>&1 | grep -v "^Epoch\|step -" | tee "$OUT/log_$config.txt"
    cp runs/gpu-work/history_model_cifar_10_"$config".csv "$OUT/"
    if [ "$config" != fp32 ]; then
        gzip -c runs/gpu-work/model_cifar_10_"$config".npz > "$OUT/model_cifar_10_$config.npz.gz"
    fi
done
