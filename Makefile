# Two commands on a fresh machine: `make demo` (the server with demo data) and `make test`.
# `make demo PORT=8001` serves on another port.
PYTHON ?= python3
PORT ?= 8000
# `make bench` measures ledgers of EVENTS events, kept in var/bench/ledgers for the next run (`make bench EVENTS=100000`).
EVENTS ?= 1000000
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/ledger serve --demo --port $(PORT)

test: $(BIN)/.installed
	$(BIN)/pytest -q

lint: $(BIN)/.installed
	$(BIN)/ruff check ledger scripts projections api tests
	$(BIN)/ruff format --check ledger scripts projections api tests
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/ledger bench --events $(EVENTS) --reuse --update-docs

clean:
	rm -rf $(VENV) var .pytest_cache
