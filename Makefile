# make run     - set up .venv, fetch CIFAR-10 on first use, train CONFIGS for EPOCHS epochs, run the spiking
#                network at each NOISE ratio, draw the figures, write runs/cifar10/RESULTS_CIFAR10.md (resumable)
# make train   - only train k1B2 for EPOCHS epochs with the original's script
# make test    - set up .venv, lint (ruff), run the test suite on the TensorFlow, JAX and PyTorch backends (.ci/run)
# make bench   - training and spiking throughput benchmarks
# make gpu-prep - Keras wheels into .gpu/ for bench/gpu_campaign.sh on a GPU machine
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EPOCHS ?= 1
CONFIGS ?= k1B2
NOISE ?= 0,0.1,0.2
DATASET ?= cifar10
DATA_DIR ?= data

.PHONY: setup run train test bench gpu-prep

$(VENV)/.installed: requirements.txt requirements-test.txt requirements-backends.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

setup: $(VENV)/.installed

run: setup
	$(PY) -m quant_snn.reproduce --dataset $(DATASET) --configs $(CONFIGS) --noise $(NOISE) --epochs $(EPOCHS) --data_dir $(DATA_DIR)

train: setup
	$(PY) CIFAR10/Quant_VGG_CIFAR10.py --k 1 --B 2 --epochs $(EPOCHS) --data_dir $(DATA_DIR)

# The whole suite on TensorFlow (it also runs the scripts on JAX and PyTorch in subprocesses), then the tests marked
# `backends` (results that depend on the Keras backend: quantizers, augmentation, the simulator's exactness,
# schedules, optimizers, precision) on JAX and PyTorch. Two pytest workers, tests handed out one by one (a file
# whose module fixture is costly keeps its tests on one worker with an xdist_group mark).
WORKERS ?= 2
PYTEST := $(PY) -m pytest -q -n $(WORKERS)

test: setup
	$(PY) -m ruff check .
	$(PYTEST) --dist loadgroup
	KERAS_BACKEND=jax $(PYTEST) --dist loadgroup -m backends
	KERAS_BACKEND=torch $(PYTEST) --dist loadgroup -m backends

bench: setup
	$(PY) bench/train_throughput.py
	$(PY) bench/snn_throughput.py

# Put into the git-ignored .gpu/, for bench/gpu_campaign.sh on a GPU machine (JAX there, no TensorFlow or
# Keras), Keras and the two packages that machine lacks, as Python 3.12 wheels. The CIFAR-10 images travel
# separately (bench/gpu_stage.py).
gpu-prep: setup
	mkdir -p .gpu
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d .gpu \
		keras==$$($(PY) -c "import importlib.metadata as m; print(m.version('keras'))") namex optree
