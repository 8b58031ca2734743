# Two entry points for a fresh machine:
#   make demo   write a DataFrame into an embedded emulator and read it back
#   make test   lint, type-check and run the whole test suite
# Both build a virtualenv in .venv from this repository's own files first, installing
# only what they need (the demo: pandas and pyarrow; the tests: everything they use).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# pip and setuptools chat about editable installs even with --quiet.
PIP := PYTHONWARNINGS=ignore $(BIN)/python -m pip --quiet --disable-pip-version-check

.PHONY: demo test bench clean

demo: $(VENV)/.installed-demo
	$(BIN)/atai-fs demo

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy atai_fs
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed-bench
	$(BIN)/python -m benchmarks

$(VENV)/.venv-created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	touch $@

$(VENV)/.installed-demo: pyproject.toml $(VENV)/.venv-created
	$(PIP) install -e '.[demo]'
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.venv-created
	$(PIP) install -e '.[test]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(PIP) install -e '.[bench]'
	touch $@

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
