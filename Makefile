# Two commands set everything up on a fresh machine:
#   make run    virtual environment, install, the main job on the embedded data
#   make test   the development requirements and the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
ARGS ?=

.PHONY: run test gradcheck bench notebooks clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(RUN_STAMP): requirements.txt pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(DEV_STAMP): requirements-dev.txt $(RUN_STAMP)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(RUN_STAMP)
	$(PY) -m numpy_dec run $(ARGS)

test: $(DEV_STAMP)
	$(PY) -m pytest -q tests

gradcheck: $(RUN_STAMP)
	$(PY) -m numpy_dec gradcheck

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
