# The two set-up commands: `make train` and `make test` (each creates .venv when missing).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
WORKDIR ?= runs/quickstart
STAMP := $(VENV)/.installed

.PHONY: train test bench clean

# Exact versions from constraints.txt (the ones CI and the README's figures use); setup.cfg
# declares ranges for those who install the package into their own environment.
$(STAMP): setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e ".[dev]"
	$(PY) -m pip install -q -c constraints.txt --no-deps metaworld
	touch $(STAMP)

train: $(STAMP)
	$(PY) -m experiments.train --preset=quickstart --workdir=$(WORKDIR)

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -q -n 2 --dist loadfile tests

bench: $(STAMP)
	$(PY) -m experiments.benchmark --json=runs/bench.json

clean:
	rm -rf $(VENV) runs .pytest_cache
