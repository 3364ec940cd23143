# Two commands set everything up on a fresh machine:
#   make run    virtual environment, install, the main job on the embedded data
#   make test   the development requirements and the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
BENCH_STAMP := $(VENV)/.installed-bench
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

# The tests use small matrices, for which one BLAS thread is much faster than
# several competing for two cores (a small fit: 0.6 s against 11 s under load).
test: $(DEV_STAMP)
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -q tests

gradcheck: $(RUN_STAMP)
	$(PY) -m numpy_dec gradcheck

# Re-execute the teaching notebooks in place, one after the other, at the
# settings of their "parameters" cells (dec_on_mnist takes a few minutes).
notebooks: $(DEV_STAMP)
	$(VENV)/bin/jupyter-execute --inplace --timeout=1800 \
		notebooks/formulas_by_hand.ipynb notebooks/dec_on_mnist.ipynb

# Optional requirements: without them the benchmark still runs and says what is
# missing. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the benchmark
# command alone, so BLAS runs the kernel it detects (printed in the header).
$(BENCH_STAMP): requirements-bench.txt $(RUN_STAMP)
	$(PY) -m pip install --quiet -r requirements-bench.txt \
		|| echo "optional benchmark requirements not installed; continuing"
	touch $@

bench: $(BENCH_STAMP)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(PY) benchmarks/bench.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
