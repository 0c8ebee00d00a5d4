# One task runner for Onshi. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SUFFIX := $(shell $(PYTHON) -c "import sysconfig; print(sysconfig.get_config_var('EXT_SUFFIX'))")
MODULES := $(basename $(notdir $(wildcard core_ext/*.pyx)))  # each core_ext/*.pyx is one extension
EXT    := $(foreach m,$(MODULES),core_ext/$(m)$(SUFFIX))

.PHONY: help install run test test-fast test-db lint fmt clean bench loadtest image lock

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(EXT) &: $(STAMP) $(wildcard core_ext/*.pyx core_ext/*.pxd core_ext/*.pxi)
	$(BIN)/python setup.py --quiet build_ext --inplace
	touch $(EXT)  # cythonize skips a module whose own sources did not change

install: $(STAMP) $(EXT) ## create .venv, install Onshi and its tools, build the Cython core

run: install ## serve the demo population on 127.0.0.1:8000
	$(BIN)/onshi serve --demo

test: install ## run every test (both cores, the HTTP service, the public examples, the image)
	$(BIN)/pytest

test-fast: install ## the tests that need no PostgreSQL, no server process and no image (about a minute)
	$(BIN)/pytest -m "not db and not slow and not container"

test-db: install ## the PostgreSQL tests (tests/db; 127.0.0.1:5432 or ONSHI_TEST_POSTGRES)
	$(BIN)/pytest -m db

lint: install ## ruff (lint and format), cython-lint, mypy and stubtest
	$(BIN)/ruff check service core_ext tests bench loadtest
	$(BIN)/ruff format --check service core_ext tests bench loadtest
	PATH=$(BIN):$$PATH $(BIN)/cython-lint --max-line-length 110 core_ext/*.pyx core_ext/*.pxd core_ext/*.pxi
	$(BIN)/mypy
	$(BIN)/python -m mypy.stubtest $(foreach m,$(MODULES),core_ext.$(m)) --allowlist core_ext/stubtest-allowlist.txt

fmt: install ## ruff: fix what it can and format
	$(BIN)/ruff check --fix service core_ext tests bench loadtest
	$(BIN)/ruff format service core_ext tests bench loadtest

clean: ## remove build output, generated C and caches (not .venv, not data sets)
	rm -rf build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	rm -f core_ext/*.c core_ext/*.so core_ext/*.html
	find . -name __pycache__ -not -path './.venv/*' -prune -exec rm -rf {} +

BENCH_DATA ?= .bench/data
BENCH_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

bench: install ## Onshi vs the floor, FastAPI and asyncpg, batch, workers, core; JSON in bench/results/ (needs wrk, PostgreSQL)
	@command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk"; exit 2; }
	test -f $(BENCH_DATA)/institutions.csv || $(BIN)/onshi synth --members 200000 --out $(BENCH_DATA)
	$(BIN)/python bench/record.py -- \
		$(BIN)/python bench/floor.py --data $(BENCH_DATA) --database-url $(BENCH_DATABASE_URL) --frameworks \
		--- $(BIN)/python bench/scale.py --data $(BENCH_DATA) \
		--- $(BIN)/python bench/decide.py \
		--- $(BIN)/python bench/decide.py --sweep 5000,100000 --count 100000 \
		--- $(BIN)/python bench/decide.py --callgrind --members 20000 --count 20000 \
		--- $(BIN)/python bench/memlat.py

LOADTEST_DATA ?= .loadtest/data

loadtest: install ## a locust clinic day against a local server on 200,000 synthetic members
	test -f $(LOADTEST_DATA)/institutions.csv || $(BIN)/onshi synth --members 200000 --out $(LOADTEST_DATA)
	loadtest/run_local.sh $(LOADTEST_DATA)

image: ## build the container image localhost/onshi:latest (podman, else docker; docs/operations.md)
	deploy/image.sh

lock: $(STAMP) ## refresh requirements.lock and requirements-build.lock (pinned, with hashes) for the image
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-header \
		--output-file requirements.lock pyproject.toml
	$(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe --no-header \
		--only-build-deps --build-deps-for wheel --output-file requirements-build.lock pyproject.toml
