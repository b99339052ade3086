# Two commands do all the set-up on a fresh clone: `make fit` and `make test`.
PYTHON ?= python3
VENV ?= .venv
CONFIG ?= configs/autoencoder.yaml
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: fit test lint

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

fit: $(STAMP)
	$(BIN)/amal fit --config $(CONFIG) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
