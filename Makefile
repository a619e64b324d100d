# poft — two commands for a new machine:
#   make demo   set everything up, then run the main job
#   make test   set everything up, then run the test suite
# Every target is idempotent: a second run installs nothing.

PYTHON      ?= $(shell command -v python3.11 || command -v python3)
VENV        := .venv
PY          := $(VENV)/bin/python
PIP         := $(PY) -m pip --disable-pip-version-check -q
STAMP       := $(VENV)/.poft-installed
BENCH_STAMP := $(VENV)/.poft-bench-installed
CLUSTER_STAMP := $(VENV)/.poft-cluster-installed
FMNIST_DIR  := /usr/share/datasets/fashion-mnist
NODE_STAMP  := node_modules/.poft-installed
PYTEST_ARGS ?=
# Idle OpenMP threads sleep instead of spinning (spinning slows torch badly on 2 busy cores).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: setup venv data anvil browser lint test demo bench bench-setup cluster-setup clean config-docs

setup: venv data anvil browser

venv: $(STAMP)

# torch first, from the CPU wheel on disk, so nothing later resolves a CUDA build;
# then the package with every transitive version pinned by requirements.lock;
# byzfl without its dependencies (they would pull CUDA torch).
$(STAMP): pyproject.toml requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -c requirements.lock -e '.[dev]'
	$(PIP) install --no-deps byzfl==0.0.11
	@touch $@

data:
	@if [ -n "$$POFT_DATA_DIR" ]; then \
	  echo "data: using POFT_DATA_DIR=$$POFT_DATA_DIR"; \
	elif [ -f $(FMNIST_DIR)/train-images-idx3-ubyte.gz ]; then \
	  echo "data: Fashion-MNIST found in $(FMNIST_DIR)"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 || \
	   (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null)) && \
	  echo "data: installed dataset-fashion-mnist into $(FMNIST_DIR)"; \
	else \
	  echo "data: Fashion-MNIST is not installed and apt-get is not usable here."; \
	  echo "      Install Debian's dataset-fashion-mnist, or set POFT_DATA_DIR to a folder"; \
	  echo "      holding the four IDX files (train/t10k images and labels, .gz or plain)."; \
	fi

# Headless Chromium for the optional browser test of report.html
# (tests/outputs/test_report.py, skipped with the reason without it). Never fails the build.
browser:
	@if [ -x /usr/bin/chromium ]; then \
	  echo "browser: chromium found"; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  ((apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1)) && \
	   echo "browser: installed chromium") || \
	  echo "browser: could not install chromium; the browser test of report.html will be skipped"; \
	else \
	  echo "browser: chromium is not installed and apt-get is not usable here;"; \
	  echo "         the browser test of report.html will be skipped"; \
	fi

# The local Ethereum nodes pinned in package.json: anvil (@foundry-rs/anvil) and
# hardhat (2.x, its Rust EDR inside the package), for node mode and the JSON-RPC tests.
anvil: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null; then \
	  npm install --no-audit --no-fund --no-save --loglevel=error && touch $@; \
	else \
	  echo "anvil: npm not found; the JSON-RPC (anvil, hardhat) tests will be skipped."; \
	fi

# The linter (ruff, pinned in the dev extra; rules in pyproject.toml) runs before the tests
# and fails the build on any finding.
lint: venv
	$(VENV)/bin/ruff check .

# The test suite also installs the `cluster` extra, so its Ray tests (a local Ray:
# the same vectors, root and grid rows as serial) run here too, not only on clusters.
test: setup cluster-setup lint
	$(PY) -m pytest $(PYTEST_ARGS)

demo: setup
	$(VENV)/bin/poft run examples/two-networks.toml --out runs/two-networks --overwrite

# The optional `bench` extra (Flower + Ray, the baseline of bench/flower.py), every
# version pinned by requirements-bench.lock: requirements.lock plus what Flower pulls,
# with packaging 25.0 (flwr 1.41 needs packaging<26; requirements.lock pins the same).
# The lock pins torch too, so the CPU build stays.
bench-setup: $(BENCH_STAMP)

$(BENCH_STAMP): $(STAMP) pyproject.toml requirements-bench.lock
	$(PIP) install -c requirements-bench.lock -e '.[dev,bench]'
	@touch $@

# The optional `cluster` extra (Ray and its client: `poft run --cluster`, `poft bench
# robustness --cluster`), every version pinned by requirements-cluster.lock (the same
# versions as requirements-bench.lock). Run it on every node of the cluster.
cluster-setup: $(CLUSTER_STAMP)

$(CLUSTER_STAMP): $(STAMP) pyproject.toml requirements-cluster.lock
	$(PIP) install -c requirements-cluster.lock -e '.[dev,cluster]'
	@touch $@

# Every benchmark (bench/run_all.py): one table of figures, each measured side by
# side in the same run, and bench/results.json ({NAME: value, target, holds, unit}).
# About 40 minutes on 2 idle cores (after the first set-up), most of it bench/scale.py;
# `make bench BENCH_ARGS=--quick` is a smoke test.
BENCH_ARGS ?=
bench: setup bench-setup
	$(PY) -m bench.run_all $(BENCH_ARGS)

# docs/config.md from the config schema (tests/experiment/test_config_reference.py checks it).
config-docs: venv
	PYTHONPATH=src $(PY) -m poft.config.reference > docs/config.md

clean:
	rm -rf $(VENV) node_modules .poft-cache
