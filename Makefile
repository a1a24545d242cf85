# The local mirror of CI. `make run` and `make test` set up everything they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8787
DATA   ?= data

.PHONY: install run test bench lint format openapi clean

# Re-install when the dependency list or the pins change.
$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/logsvc migrate --data-dir $(DATA)
	$(BIN)/logsvc serve --host 127.0.0.1 --port $(PORT) --data-dir $(DATA) --no-migrate

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/logsvc openapi --check
	$(BIN)/pytest

# Figures for docs/PERFORMANCE.md and docs/COST.md (1,000,000 logs; a few minutes).
bench: install
	$(BIN)/python -m bench.run

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

openapi: install
	$(BIN)/logsvc openapi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
