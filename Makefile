# One task vocabulary: README, pre-commit, CI and the workflows call exactly these targets.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(abspath $(VENV))/bin
UV_VERSION := 0.13.9
# On a 2-core runner OpenMP oversubscription slowed HistGradientBoosting ~9x.
export OMP_NUM_THREADS ?= 2
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false
# Offline at run time (the same names as src/modelops/offline.py): no MLflow telemetry, no DVC
# analytics; .dvc/config also turns off DVC's update check.
export MLFLOW_DISABLE_TELEMETRY ?= true
export DO_NOT_TRACK ?= true
export DVC_NO_ANALYTICS ?= true
export PATH := $(BIN):$(PATH)

.PHONY: install demo test test-fast lint format lock lock-serve image bench bench-deps render verify clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q --compile-bytecode --python $(PY) -r requirements.lock
	$(BIN)/uv pip install -q --python $(PY) --no-deps -e .
	touch $@

install: $(VENV)/.installed  ## create .venv and install the locked dependencies

demo: install  ## generate data, run the DVC pipeline end to end, register a model version
	@test -d .git || (git init -q && git add -A && git -c user.name=demo -c user.email=demo@example.com commit -qm "demo: initial")
	@# First run only: accept a snapshot and pin the frozen evaluation set (commit the pin after).
	test -f configs/eval_set.yaml || { dvc repro validate && modelops data eval-set create; }
	dvc repro
	dvc push -q || echo "dvc push failed: data stays in the local cache (.dvc/cache)"
	@$(PY) -m modelops.demo_summary

test: install  ## every test (unit, data, model, integration); branch coverage of src/modelops with its floor
	$(BIN)/pytest --cov --cov-report=term

test-fast: install  ## unit tests only
	$(BIN)/pytest -m "not integration and not slow"

lint: install  ## pre-commit on every file (ruff, hygiene, workflow linters, release verify, render) and mypy (src and tests)
	$(BIN)/pre-commit run --all-files --show-diff-on-failure
	# one run: mypy_path=src (pyproject) resolves modelops from src/, typed by its py.typed marker
	$(BIN)/mypy src tests

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

verify: install  ## release files, model cards and overlays agree
	$(BIN)/modelops release verify

render: install  ## render every kustomize overlay and validate it offline
	$(BIN)/modelops release verify --render

lock:  ## re-resolve requirements.lock from pyproject.toml, then the serving lock constrained by it
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -q -o requirements.lock
	$(MAKE) lock-serve

lock-serve:  ## re-resolve requirements-serve.lock (the serving image) from requirements-serve.in
	$(BIN)/uv pip compile requirements-serve.in -c requirements.lock --python-version 3.11 --generate-hashes -q -o requirements-serve.lock

# Empty IMAGE_BASE keeps the Dockerfile's digest-pinned python slim base; IMAGE_BASE=debian-local
# builds one from Debian packages with mmdebstrap (no registry needed). Writes out/image/sbom.cdx.json.
IMAGE_BASE ?=
image: install  ## build the serving image with buildah (and its CycloneDX SBOM)
	$(PY) -m modelops.serve.image build --base "$(IMAGE_BASE)"

bench-deps:  ## wrk drives the serving benchmark (Debian package)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

bench: install bench-deps  ## run the benchmarks whose figures are in the README
	$(PY) benchmarks/demo_time.py
	$(PY) benchmarks/gate_bench.py
	$(PY) benchmarks/monitor_bench.py
	$(PY) benchmarks/serve/run.py
	$(PY) benchmarks/score_bench.py
	$(PY) benchmarks/gate_latency_noise.py

clean:  ## remove generated data, stores and caches (not .venv; keeps the committed profile and eval-set pointer)
	rm -rf data/raw data/split data/validated data/eval/eval.parquet artifacts .mlflow .dvcstore .dvc/cache .pytest_cache out
