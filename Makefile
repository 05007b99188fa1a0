# make run     - set up .venv, fetch CIFAR-10 on first use, train CONFIGS for EPOCHS epochs, run the spiking
#                network at each NOISE ratio, draw the figures, write CIFAR10/RESULTS_CIFAR10.md (resumable)
# make train   - only train k1B2 for EPOCHS epochs with the original's script
# make test    - set up .venv and run the test suite (what .ci/run calls)
# make bench   - training and spiking throughput benchmarks
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EPOCHS ?= 1
CONFIGS ?= k1B2
NOISE ?= 0,0.1,0.2
DATASET ?= cifar10
DATA_DIR ?= data

.PHONY: setup run train test bench

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

setup: $(VENV)/.installed

run: setup
	$(PY) -m quant_snn.reproduce --dataset $(DATASET) --configs $(CONFIGS) --noise $(NOISE) --epochs $(EPOCHS) --data_dir $(DATA_DIR)

train: setup
	$(PY) CIFAR10/Quant_VGG_CIFAR10.py --k 1 --B 2 --epochs $(EPOCHS) --data_dir $(DATA_DIR)

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/train_throughput.py
	$(PY) bench/snn_throughput.py
