# make train   - set up .venv, fetch CIFAR-10 on first use, train k1B2 for EPOCHS epochs (default 1)
# make test    - set up .venv and run the test suite (what .ci/run calls)
# make bench   - training throughput, quantized vs. full precision
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EPOCHS ?= 1
DATA_DIR ?= data

.PHONY: setup train test bench

$(VENV)/.installed: requirements.txt requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-test.txt
	touch $@

setup: $(VENV)/.installed

train: setup
	$(PY) CIFAR10/Quant_VGG_CIFAR10.py --k 1 --B 2 --epochs $(EPOCHS) --data_dir $(DATA_DIR)

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/train_throughput.py
