# Plank: `make run` serves the app, `make test` runs the suite. Each does its own setup.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# The suite on every core (pytest-xdist; each worker its own Redis database and data folder:
# tests/workers.py), a module's tests on one worker so module fixtures are made once.
PYTEST_ARGS ?= -n auto --dist loadscope
SCREENSHOTS ?= data/screenshots

.PHONY: run test setup migrate static lint bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

migrate: setup
	$(BIN)/python manage.py migrate --noinput

static: setup
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

run: migrate static
	$(BIN)/python manage.py serve --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# every page at 1366x900 and 390x844, from a seeded throwaway server (tests/browser/screenshots.py)
screenshots: setup
	$(BIN)/python -m tests.browser.screenshots --out $(SCREENSHOTS)

clean:
	rm -rf $(VENV) build *.egg-info
