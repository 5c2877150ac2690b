# PMO Flow: two commands on a fresh machine.
#   make start   install everything, create the database with demo data, run the server
#   make test    ruff + the test suite on SQLite and on PostgreSQL (what CI runs)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: start install init serve test lint migration

start: install init serve

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	npm install --no-audit --no-fund
	npm run build

# pmo init prints the URL that `make serve` will really serve (HOST and PORT as given to make).
init: $(BIN)/python
	SERVER_NAME_HINT=http://$(HOST):$(PORT) $(BIN)/pmo init --demo

serve: $(BIN)/python
	$(BIN)/pmo serve --host $(HOST) --port $(PORT)

test:
	PYTHON=$(PYTHON) VENV=$(VENV) scripts/test.sh

lint: $(BIN)/python
	$(BIN)/ruff check .

# Write the next database migration from the models: make migration m="add timers table"
migration: $(BIN)/python
	$(BIN)/python scripts/new_migration.py "$(m)"
