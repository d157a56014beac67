# The two commands a reviewer needs are `make run` and `make test`; `make help` lists the rest.
# The environment is installed exactly from requirements.lock (every distribution pinned, with
# hashes) by pip alone; uv is used only to write the lock (`make lock`) and to try the bounds
# of pyproject.toml (`make check-bounds`).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock
# uv, pinned, in its own virtual environment (pip-installed from PyPI)
UV_VERSION := 0.13.9
UV_VENV    := .venv-uv
UV         := $(UV_VENV)/bin/uv
# the Python the lock is resolved for and the bounds are tried with (X.Y)
LOCK_PYTHON := 3.11
BOUNDS_DIR  := $(or $(TMPDIR),/tmp)/review-check-bounds

.DEFAULT_GOAL := help
.PHONY: help setup run test lint bench reference lock check-bounds clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# A changed lock (or pyproject.toml) rebuilds the environment from scratch, so it holds
# exactly the locked distributions and nothing left over from before.
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --quiet --require-hashes --only-binary :all: -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

setup: $(STAMP) ## create .venv with exactly the versions of requirements.lock, and the package

run: $(STAMP) ## execute every notebook on the bundled data, offline; figures go to output/
	$(PY) -m review run

test: $(STAMP) ## run the whole test suite, notebooks included
	$(PY) -m pytest

lint: $(STAMP) ## ruff on the library, tests and notebooks; notebooks must be committed without outputs
	$(PY) -m ruff check .
	$(PY) -m nbstripout --verify notebooks/*.ipynb

bench: $(STAMP) ## speed goals of the issues, printed as ratios measured in one run
	$(PY) benchmarks/run_all.py

reference: ## regenerate the golden metafor values (needs R with metafor, lme4, metadat, jsonlite)
	Rscript tests/r/make_reference.R
	Rscript tests/r/make_reference_glmm.R
	Rscript tests/r/make_reference_yivi.R
	Rscript tests/r/make_reference_mv.R
	Rscript tests/r/forest_reference.R
	Rscript tests/r/make_reference_review2.R
	Rscript tests/r/make_reference_bias.R
	@if [ -n "$(META_LIBS)" ]; then for lib in $(META_LIBS); do \
	  R_LIBS="$$lib" Rscript tests/r/make_reference_meta.R || exit 1; done; \
	else echo "R meta golden values not regenerated: set META_LIBS to R libraries that each hold one R meta version (see tests/r/README.md)"; fi
	Rscript tests/r/make_reference_example.R

$(UV):
	$(PYTHON) -m venv --clear $(UV_VENV)
	$(UV_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)

lock: $(UV) ## refresh requirements.lock to the newest versions pyproject.toml allows, and environment.yml's pins
	$(PYTHON) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], "pip", sep="\n")' \
	| $(UV) pip compile --quiet pyproject.toml - --extra test --universal \
	    --python-version $(LOCK_PYTHON) --generate-hashes --upgrade \
	    --custom-compile-command 'make lock' -o $(LOCK)
	$(MAKE) setup
	$(PY) -m review._environment --lock $(LOCK) --conda environment.yml --python $(LOCK_PYTHON)

# The suite in throw-away environments resolved to the lowest versions pyproject.toml allows
# (its direct dependencies at their lower bounds) and to the newest available today.
# BOUNDS_PYTEST: extra pytest arguments (e.g. -m 'not browser').
check-bounds: $(UV) ## run the suite with the lowest and with the newest versions pyproject.toml allows
	@status=0; for res in lowest-direct highest; do \
	  rm -rf $(BOUNDS_DIR)/$$res && mkdir -p $(BOUNDS_DIR) && \
	  $(UV) venv --quiet --python $(PYTHON) $(BOUNDS_DIR)/$$res && \
	  VIRTUAL_ENV=$(BOUNDS_DIR)/$$res $(UV) pip install --quiet --resolution $$res -e '.[test]' && \
	  VIRTUAL_ENV=$(BOUNDS_DIR)/$$res $(UV) pip freeze > $(BOUNDS_DIR)/$$res.txt && \
	  $(BOUNDS_DIR)/$$res/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null \
	  || exit 1; \
	  echo "== $$res: $$(wc -l < $(BOUNDS_DIR)/$$res.txt) distributions, in $(BOUNDS_DIR)/$$res.txt"; \
	  $(BOUNDS_DIR)/$$res/bin/python -m pytest -p no:cacheprovider -q $(BOUNDS_PYTEST) \
	  || { echo "== $$res: the suite FAILED"; status=1; }; \
	done; exit $$status

clean: ## remove the virtual environments and the output folder
	rm -rf $(VENV) $(UV_VENV) output
