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

.PHONY: setup demo train trial select import bento serve analyze test lint clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,onnx]'
	touch $@

setup: $(BIN)/.installed

train: setup
	$(BIN)/tweetmood train --config $(CONFIG)

import: setup
	$(BIN)/tweetmood import-model

bento: import
	$(BIN)/bentoml build

serve: setup
	$(BIN)/bentoml serve service:TweetMood --port $(PORT)

# The main job: train quick.yaml → MLflow champion → BentoML model → Bento → a running server.
demo: train bento serve

# Score the Trump 2018 archive through the running server (`make analyze LOCAL=1`: in-process).
ARCHIVE ?= ../shared/data/trump-tweets/trump-2018.csv
analyze: setup
	$(BIN)/tweetmood analyze $(ARCHIVE) --out outputs/trump-2018 --freq W --title "Donald Trump's mood in 2018" \
		$(if $(LOCAL),--local,--url http://127.0.0.1:$(PORT))

test: setup
	$(BIN)/python -m pytest -q --timeout=900

# Hyper-parameter trials of configs/full.yaml, validation only (README "Model quality"), e.g.
#   make trial NAME=lr5e-5-ep3 SET="train.learning_rate=5e-5 train.epochs=3"
# then choose among them on validation, and (TEST=1) test the choice once and register it:
#   make select RUNS="<run id> <run id> ..." TEST=1
trial: setup
	$(BIN)/tweetmood train --config configs/full.yaml --set run_name=trial-$(NAME) \
		--set train.output_dir=outputs/trials/$(NAME) --set train.evaluate_test=false $(foreach s,$(SET),--set $(s))

select: setup
	$(BIN)/tweetmood select --config configs/full.yaml $(foreach r,$(RUNS),--model-uri runs:/$(r)/model) \
		$(if $(TEST),--evaluate-test)

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf outputs bentoml-home mlartifacts mlflow.db

# Load tests (load_tests/README.md). `make loadtest` needs a running server (`make serve`);
# `make bench` starts and stops its own servers; `make soak` starts its own unless SOAK_URL is set.
.PHONY: loadtest bench soak
LOCUST_USERS ?= 16
LOCUST_TIME ?= 60s
P95_MS ?= 1000
loadtest: setup
	mkdir -p outputs/locust
	$(BIN)/locust -f load_tests/locustfile.py --headless -u $(LOCUST_USERS) -r 4 -t $(LOCUST_TIME) \
		--host http://127.0.0.1:$(PORT) --csv outputs/locust/run --only-summary; \
		$(BIN)/python load_tests/check_locust.py outputs/locust/run --p95-ms $(P95_MS)

MODEL_TAG ?= tweet-mood:latest
STAGES ?= inproc,bento,nobatch,mlflow
MLFLOW_URI ?= sqlite:///mlflow.db
bench: setup
	$(BIN)/python load_tests/bench.py --model-tag $(MODEL_TAG) --out outputs/bench --stages $(STAGES) \
		--mlflow-uri $(MLFLOW_URI)

SOAK_MINUTES ?= 10
soak: setup
	$(BIN)/python load_tests/soak.py --minutes $(SOAK_MINUTES) --out outputs/soak/soak.json \
		$(if $(SOAK_URL),--url $(SOAK_URL) $(if $(SOAK_PID),--pid $(SOAK_PID)),--start-server --model-tag $(MODEL_TAG))
