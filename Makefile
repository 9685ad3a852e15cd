# stormsim: `make demo` and `make test` work on a fresh machine with only Python.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench clean notebooks

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $(STAMP)

$(DEVSTAMP): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(DEVSTAMP)

demo: $(STAMP)
	$(VENV)/bin/stormsim run --out results/demo

notebooks: $(STAMP)
	$(PY) -m pip install --quiet -e '.[notebooks]'
	$(VENV)/bin/jupyter lab notebooks

test: $(DEVSTAMP)
	$(VENV)/bin/ruff check stormsim tests bench
	$(VENV)/bin/ruff format --check stormsim tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest -n 2

bench: $(STAMP)
	$(PY) bench/rollout_bench.py

clean:
	rm -rf $(VENV) results/demo
