# Two commands do all the set-up on a fresh clone: `make fit` and `make test`. `make` alone lists the targets.
PYTHON ?= python3
VENV ?= .venv
CONFIG ?= configs/autoencoder.yaml
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install fit test test-fast test-slurm lint tensorboard bench figures notebook notebooks screenshot

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

test: $(STAMP) ## the whole test suite, one worker per core (about 4 minutes on 2), its 10 slowest tests named
	$(BIN)/python -m pytest -q -n auto -m "not slurm" --durations=10 $(PYTEST_ARGS)

test-fast: $(STAMP) ## the suite without the tests marked slow (about 70 s on 2 cores), for the edit-test loop
	$(BIN)/python -m pytest -q -n auto -m "not slow and not slurm" --durations=10 $(PYTEST_ARGS)

SLURM_DIR ?= /tmp/amal-slurm
test-slurm: $(STAMP) ## as root: start a one-node SLURM (scripts/slurm_one_node.sh), run the tests marked slurm on it, stop it
	AMAL_SLURM_DIR=$(SLURM_DIR) scripts/slurm_one_node.sh start
	status=0; SLURM_CONF=$(SLURM_DIR)/slurm.conf AMAL_SLURM_REQUIRED=1 $(BIN)/python -m pytest -q -p no:xdist \
	  -m slurm --durations=10 tests/test_slurm_real.py $(PYTEST_ARGS) || status=$$?; \
	AMAL_SLURM_DIR=$(SLURM_DIR) scripts/slurm_one_node.sh stop; exit $$status

lint: $(STAMP) ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP) ## run the benchmarks (MNIST, housing, start-up; about 40 min, BENCH_ARGS=--quick 15) into docs/PERFORMANCE.md
	$(BIN)/python -m bench.report $(BENCH_ARGS)

NOTEBOOK_STAMP := $(VENV)/.notebooks
$(NOTEBOOK_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,mlflow,notebooks]"
	touch $(NOTEBOOK_STAMP)

notebook: $(NOTEBOOK_STAMP) ## open JupyterLab on notebooks/ (one notebook per lab; installs the notebooks extra first)
	$(BIN)/jupyter lab notebooks

notebooks: $(NOTEBOOK_STAMP) ## execute each notebooks/*.py with its full settings and write its outputs into the paired .ipynb (about 5 min)
	cd notebooks && for script in tme*.py; do ../$(BIN)/jupytext --sync --execute "$$script"; done

CHROMIUM ?= chromium
screenshot: $(STAMP) ## redraw docs/figures/tensorboard-scalars.png: TensorBoard's page over a 200-epoch housing fit, in headless Chromium (apt install chromium)
	set -e; work=$$(mktemp -d); \
	cd $$work && $(CURDIR)/$(BIN)/amal fit --config $(CURDIR)/configs/regression.yaml --trainer.max_epochs 200 \
	  --model.learning_rate 0.05 --trainer.enable_progress_bar false > /dev/null; \
	$(CURDIR)/$(BIN)/tensorboard --logdir $$work/logs --host 127.0.0.1 --port 6099 > /dev/null 2>&1 & server=$$!; \
	sleep 10; \
	$(CHROMIUM) --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
	  --disable-sync --no-first-run --user-data-dir=$$work/chromium --window-size=1400,900 --virtual-time-budget=20000 \
	  --screenshot=$(CURDIR)/docs/figures/tensorboard-scalars.png "http://127.0.0.1:6099/#scalars&tagFilter=%5Etrain%2F&_smoothingWeight=0"; \
	kill $$server; rm -rf $$work; \
	$(BIN)/python -c "from PIL import Image; p = 'docs/figures/tensorboard-scalars.png'; \
	  Image.open(p).convert('RGB').quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(p)"  # as docs/figures' others

tensorboard: $(STAMP) ## open the runs' curves: tensorboard --logdir logs
	$(BIN)/tensorboard --logdir logs

# The studies whose figures docs/LABS.md shows, and the pictures of single runs it shows (study:run:picture).
# A run's pictures and checkpoints are read from the run its study's record names (scripts/study_runs.py).
FIGURE_STUDIES := tme1_step_size tme1_random tme2_step_size tme2_gd_variants tme2_linear_vs_tanh tme2_momentum \
	tme2_step_size_grid tme2_step_size_search tme3_autoencoder tme3_depth tme3_highway
RUN_PICTURES := tme3_autoencoder:code_16_tied.seed0:reconstructions tme3_autoencoder:code_500_tied.seed0:reconstructions \
	tme3_autoencoder:code_80_tied.seed0:interpolation tme3_autoencoder:code_80_tied.seed0:codes_pca \
	tme3_depth:2_hidden_layers_of_256.seed0:confusion tme3_depth:2_hidden_layers_of_256.seed0:confidently_wrong

figures: $(STAMP) ## run the studies of docs/LABS.md (MNIST on the bundled sample) and copy their figures to docs/figures (about 2 h on 2 cores, the studies' headers give each one's)
	set -e; for study in $(FIGURE_STUDIES); do \
	  $(BIN)/amal study configs/studies/$$study.yaml; \
	  for png in studies/$$study/*.png; do cp "$$png" "docs/figures/$$study-$$(basename $$png)"; done; \
	done
	set -e; for picture in $(RUN_PICTURES); do \
	  study=$${picture%%:*}; rest=$${picture#*:}; run=$${rest%%:*}; name=$${rest#*:}; \
	  folder=$$($(BIN)/python scripts/study_runs.py $$study $$run); \
	  cp "$$folder/$$name.png" "docs/figures/$$study-$${run%.seed0}-$$name.png"; \
	done
	$(BIN)/python -m amal_lightning.tme2.contours docs/figures/tme2_contours.png  # computed, not trained
	$(BIN)/python -m amal_lightning.tme3.signal_scale docs/figures/tme3_signal_scale.png  # at initialization, not trained
	$(BIN)/python scripts/resume_demo.py docs/figures/tme3_resume.png  # a fit stopped and resumed, over an uninterrupted one
	$(BIN)/python -m amal_lightning.tme3.highway_probes docs/figures/tme3_highway-probes_50 \
	  $$($(BIN)/python scripts/study_runs.py tme3_highway --checkpoint best.ckpt highway_50.seed0 highway_50.seed1 \
	  highway_50.seed2)  # gate maps and lesioning of the study's 50-block networks
	$(BIN)/python -m amal_lightning.tme3.code_probe studies/tme3_autoencoder/code_probe \
	  $$($(BIN)/python scripts/study_runs.py tme3_autoencoder --checkpoint best.ckpt | grep -v _500_digits)  # a linear probe of the codes, PCA's, the pixels
	cp studies/tme3_autoencoder/code_probe.png docs/figures/tme3_autoencoder-code_probe.png
