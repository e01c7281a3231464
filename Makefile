# Huoban: two commands set everything up on a fresh machine.
#   make demo  -> virtualenv, install, migrate ./var/huoban.db, load demo data, serve on :8000
#   make test  -> virtualenv, install with dev extras, run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: demo test lint install install-dev serve worker clean catalogs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/huoban init
	$(BIN)/huoban demo
	@echo "Huoban is at http://$(HOST):$(PORT)  (API docs: http://$(HOST):$(PORT)/docs)"
	$(BIN)/huoban serve --host $(HOST) --port $(PORT)

serve: install
	$(BIN)/huoban serve --host $(HOST) --port $(PORT)

worker: install
	$(BIN)/huoban worker

test: install-dev
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src

catalogs: install-dev
	$(BIN)/pybabel extract -F babel.cfg -o src/huoban/web/translations/messages.pot --no-location --sort-output \
		-k N_ -k translate_error:2 -k Invalid -k NotFound -k Forbidden -k Conflict -k Unauthorized -k Locked src/huoban
	$(BIN)/pybabel update -i src/huoban/web/translations/messages.pot -d src/huoban/web/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) build dist src/*.egg-info
