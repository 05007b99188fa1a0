# make run     - set up .venv (runtime requirements only), prepare the test set on first use, run the most accurate
#                published k1B2 network as a one-time-step spiking network at noise 0, 0.1 and 0.2, draw the figures
#                and print the results beside the paper's (runs/showcase/); NETWORK=k0B4_fast60 runs another
#                published network, NETWORK=all every one of them in one table (CIFAR10/published/SHA256SUMS lists
#                them); DATASET=cifar100 when its networks are published
# make train   - train CONFIGS with RECIPE (EPOCHS: the recipe's own unless given), run their spiking networks at
#                each NOISE ratio, draw the figures, write runs/<dataset>/RESULTS_<DATASET>.md (rerun to resume)
# make test    - set up .venv with the test requirements too (JAX, PyTorch, pytest), lint (ruff), run the test suite
#                on the TensorFlow, JAX and PyTorch backends (.ci/run)
# make bench   - training and spiking throughput benchmarks
# make gpu-prep - Keras wheels into .gpu/ for bench/gpu_table.sh (and gpu_campaign.sh) on a GPU machine
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EPOCHS ?=
RECIPE ?= fast
CONFIGS ?= k1B2
NOISE ?=
DATASET ?= cifar10
DATA_DIR ?= data
NETWORK ?=

.PHONY: runtime setup run train test bench gpu-prep

# An existing .venv is reused (pip then only checks what requirements.txt asks for: no download when it is there).
$(VENV)/.runtime: requirements.txt pyproject.toml
	test -x $(PY) || { $(PYTHON) -m venv $(VENV) && $(PY) -m pip install -q --upgrade pip; }
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed: $(VENV)/.runtime requirements-test.txt requirements-backends.txt
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

runtime: $(VENV)/.runtime
setup: $(VENV)/.installed

run: runtime
	$(PY) -m quant_snn showcase --dataset $(DATASET) --data_dir "$(DATA_DIR)" $(if $(NETWORK),--network $(NETWORK))

train: runtime
	$(PY) -m quant_snn reproduce --dataset $(DATASET) --configs $(CONFIGS) $(if $(NOISE),--noise $(NOISE)) \
		--recipe $(RECIPE) $(if $(EPOCHS),--epochs $(EPOCHS)) --data_dir "$(DATA_DIR)"

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

bench: runtime
	$(PY) bench/train_throughput.py
	$(PY) bench/snn_throughput.py

# Put into the git-ignored .gpu/, for bench/gpu_table.sh on a GPU machine (JAX there, no TensorFlow or
# Keras), Keras and the two packages that machine lacks, as Python 3.12 wheels (2.8 MiB). The images travel
# separately (bash bench/gpu_table.sh stage).
gpu-prep: setup
	mkdir -p .gpu
	$(PY) -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d .gpu \
		keras==$$($(PY) -c "import importlib.metadata as m; print(m.version('keras'))") namex optree
