# Two commands do all the set-up on a fresh clone: `make fit` and `make test`. `make` alone lists the targets.
PYTHON ?= python3
VENV ?= .venv
CONFIG ?= configs/autoencoder.yaml
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install fit test test-fast lint tensorboard bench

help: ## list the targets
	@echo "make TARGET, where TARGET is one of:"
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "Variables: CONFIG=$(CONFIG) (for fit), ARGS (more options for amal fit), PYTEST_ARGS (for the tests), BENCH_ARGS (for bench)."

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev,mlflow]"
	touch $(STAMP)

install: $(STAMP) ## create .venv and install the package into it (about 5.6 GB, mostly torch's CUDA libraries)

fit: $(STAMP) ## train a config: amal fit --config CONFIG ARGS (installs first if needed)
	$(BIN)/amal fit --config $(CONFIG) $(ARGS)

test: $(STAMP) ## the whole test suite, one worker per core (about 5 minutes on 2), its 10 slowest tests named
	$(BIN)/python -m pytest -q -n auto --durations=10 $(PYTEST_ARGS)

test-fast: $(STAMP) ## the suite without the tests marked slow (about 90 s on 2 cores), for the edit-test loop
	$(BIN)/python -m pytest -q -n auto -m "not slow" --durations=10 $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP) ## run the benchmarks (MNIST, housing, start-up; about 40 min, BENCH_ARGS=--quick 15) into docs/PERFORMANCE.md
	$(BIN)/python -m bench.report $(BENCH_ARGS)

tensorboard: $(STAMP) ## open the runs' curves: tensorboard --logdir logs
	$(BIN)/tensorboard --logdir logs
