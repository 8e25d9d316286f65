# The two commands of README.md:  `make demo`  and  `make test`.
# Both create the virtual environment on first use (PYTHON picks the interpreter).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= configs/quick.yaml
PORT ?= 3000

# Offline by design here: weights and data are local. No usage tracking.
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export BENTOML_DO_NOT_TRACK ?= True
export TOKENIZERS_PARALLELISM ?= false
export BENTOML_HOME ?= $(CURDIR)/bentoml-home

.PHONY: setup demo train test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

train: setup
	$(BIN)/tweetmood train --config $(CONFIG)

demo: train

test: setup
	$(BIN)/python -m pytest -q --timeout=900

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf outputs bentoml-home mlartifacts mlflow.db
