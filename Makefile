# Set-up and everyday commands; every target creates the virtual environment first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test check bench samples firmware-samples clean

$(STAMP): pyproject.toml setup.py ttdbg/backend/_blockcount.c ttdbg/backend/_threadswitch.c
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ttdbg tui sample_traces/walk.ttrec

# One worker per core; a file's tests stay on one worker, so its module fixtures (recordings,
# builds) are made once.
test: $(STAMP)
	$(BIN)/pytest -q -n auto --dist loadfile tests

check: $(STAMP)
	$(BIN)/ruff format --check ttdbg tests bench
	$(BIN)/ruff check ttdbg tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench

samples: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" sh sample_traces/build.sh

# The firmware samples' recordings, from the prebuilt ELFs (after a format change).
firmware-samples: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" sh sample_traces/firmware/record.sh

clean:
	rm -rf $(VENV) build *.egg-info
