# The two commands a reviewer needs are `make run` and `make test`; `make help` lists the rest.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help setup run test lint bench reference clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install the package with its test tools

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
	Rscript tests/r/forest_reference.R
	Rscript tests/r/make_reference_example.R

clean: ## remove the virtual environment and the output folder
	rm -rf $(VENV) output
