# make run    set everything up and start the service on its embedded defaults
# make test   set everything up and run the whole suite (ruff, mypy, import-linter, pytest)
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SOURCES := core parsers validators storage intake web
DATA    ?= var

.PHONY: install run examples test lint typecheck contracts pytest bench lock clean templates

# the reading and checking modules compiled from their sources (only those that changed)
install: $(STAMP)
	@$(BIN)/python scripts/compile.py

$(STAMP): requirements.lock pyproject.toml web/package-lock.json
	@./scripts/system-deps
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $(STAMP)

run: install
	$(BIN)/intake templates build $(DATA)/templates
	@echo "The daemon polls the Maildir inbox $(DATA)/mail and writes replies to $(DATA)/outbox;"
	@echo "the web app is on http://127.0.0.1:8000 (first start: one-time passwords printed below)."
	@echo "In another terminal: make examples   (drops example agency emails into the inbox)"
	$(BIN)/intake run

# Example agency emails (invented people) dropped into the embedded inbox, and the case they name.
examples: install
	$(BIN)/python -m tests.fixtures.examples

test: install lint typecheck contracts pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy $(SOURCES) tests bench scripts

contracts: install
	$(BIN)/lint-imports

pytest: install
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m bench.forms
	$(BIN)/python -m bench.mailbox

templates: install
	$(BIN)/intake templates build $(DATA)/templates

# Regenerate the lock file after changing pyproject.toml's pins.
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache build *.egg-info
