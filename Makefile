# The two commands of README.md: `make devnet` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TEST_DATABASE_URL ?= postgres://root@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: devnet test lint services system venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

devnet: venv
	$(PY) manage.py nvm devnet

services:
	@bash scripts/services.sh

system:
	@bash scripts/system-deps.sh

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check chain engines rpc nvmsite bench tests explorer faucet
	$(VENV)/bin/mypy chain engines

test: venv system services lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) .nvm .pytest_cache .mypy_cache .ruff_cache artifacts
