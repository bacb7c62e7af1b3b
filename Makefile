# The two commands a new user needs: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed-base: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[test]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(PY)
	$(PIP) install -q -e '.[test,bench]'
	touch $@

demo: $(VENV)/.installed-base
	$(VENV)/bin/aman demo

# Two phases: the suite on TEST_WORKERS processes, then, alone, the tests that restart
# PostgreSQL or kill servers under load (marked `serial`).  Neither may select nothing.
TEST_WORKERS ?= 2

test: $(VENV)/.installed-test
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not serial" $(PYTEST_ARGS)
	$(PY) -m pytest -m serial $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy
	$(VENV)/bin/bandit -q -c pyproject.toml -r src
	$(PY) scripts/pip_audit.py

bench: $(VENV)/.installed-bench
	$(PY) -m bench.run $(BENCH_ARGS)

clean:
	rm -rf .aman .pytest_cache .mypy_cache .ruff_cache
