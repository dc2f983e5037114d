# The two set-up commands: `make train` and `make test` (each creates .venv when missing).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WORKDIR ?= runs/quickstart
STAMP := $(VENV)/.installed

.PHONY: train test bench clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

train: $(STAMP)
	$(PY) -m experiments.train --preset=quickstart --workdir=$(WORKDIR)

test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) -m experiments.benchmark --json=runs/bench.json

clean:
	rm -rf $(VENV) runs .pytest_cache
