# Every target creates .venv when it is missing. Run from the repository root (Dagster reads pyproject.toml here).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home

.PHONY: run test lint dev bench check-config clean instance

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $(STAMP)

# The instance's settings: copied on first use and never overwritten (they may have been changed on purpose), so a
# copy that differs from the repo's (made by an older checkout, say, without run monitoring) is pointed out.
$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	cp -n dagster.yaml $@

instance: $(DAGSTER_HOME)/dagster.yaml
	@cmp -s dagster.yaml $< || echo "make: $< differs from the repo's dagster.yaml (copied on first use, never" \
	  "overwritten): diff them, and copy the repo's over to take its settings (run monitoring, pools, retries)" >&2

# Two notices Dagster prints about the command, not about the run, are filtered: that `dg launch` supersedes
# `dagster asset materialize` (the command the README documents), and that `--select '*'` uses a beta parameter.
QUIET_CLI := ignore:Function `asset_materialize_command` is superseded,$\
ignore:Parameter `include_sources` of function `AssetSelection.all` is currently in beta

## run: publish every dataset in the config (embedded local default unless UPLOAD_PIPELINE_HUB/S3 say otherwise)
run: $(STAMP) instance
	$(BIN)/python -m upload_pipeline.cli check
	PYTHONWARNINGS='$(QUIET_CLI)' $(BIN)/dagster asset materialize -m upload_pipeline --select '*'

check-config: $(STAMP)
	$(BIN)/python -m upload_pipeline.cli check

## test: the whole suite. pytest's exit code 5 ("no tests collected") means a broken suite here: reported, failed.
test: $(STAMP)
	@$(BIN)/python -m pytest -q $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure" >&2; exit 1; fi; \
	exit $$status

## lint: ruff over the package and the tests (configured in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check upload_pipeline upload_pipeline_tests

## dev: the Dagster UI, daemon, sensors and schedules on http://127.0.0.1:3000
dev: $(STAMP) instance
	exec env --default-signal=INT,TERM $(BIN)/dagster dev -h 127.0.0.1 -p $${PORT:-3000}

## bench: the benchmarks (not part of `make test`); BENCH_ARGS=--quick for a short run
bench: $(STAMP)
	$(BIN)/python -m upload_pipeline_tests.bench $(BENCH_ARGS)

clean:
	rm -rf data/staging data/remote data/state .dagster_home
