# The two commands of README.md: `make devnet` and `make test`. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TRON_VENV ?= .venv-tron
TEST_DATABASE_URL ?= postgres://root@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: devnet test lint services system venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# tronpy (tests/test_tron_api.py runs it against a live devnet) cannot share the project's venv: it needs
# eth_abi<6, web3 eth-abi>=6. So it has a venv of its own.
$(TRON_VENV)/.installed: requirements-tron.txt
	test -x $(TRON_VENV)/bin/python || $(PYTHON) -m venv $(TRON_VENV)
	$(TRON_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-tron.txt
	touch $@

# ethers and viem (tests/test_js_clients.py drives them against a live devnet), at the versions the lock pins
JS_PEERS := tests/js/node_modules/.installed
$(JS_PEERS): tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error
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

test: venv $(TRON_VENV)/.installed system $(JS_PEERS) services lint
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest -q

clean:
	rm -rf $(VENV) $(TRON_VENV) tests/js/node_modules .nvm .pytest_cache .mypy_cache .ruff_cache artifacts
