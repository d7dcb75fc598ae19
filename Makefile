# Set-up and the two entry points named in the README.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test coverage system-deps install install-dev clean

demo: install
	$(BIN)/synthcam plan
	$(BIN)/synthcam run
	$(BIN)/synthcam gallery

test: install-dev
	$(BIN)/python -m pytest

# The whole suite under coverage, workers and subprocesses included (slower than `make test`).
coverage: install-dev
	rm -f .coverage .coverage.*
	$(BIN)/python -m coverage run -m pytest -q
	$(BIN)/python -m coverage combine -q
	$(BIN)/python -m coverage report --sort=cover | tail -40

system-deps:
	@bash scripts/system-deps.sh

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: system-deps $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .

install-dev: system-deps $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,test-diffusers,ray]'

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
