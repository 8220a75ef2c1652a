# Each target sets itself up on a fresh machine (creates .venv, installs) and is fast
# when everything is already installed.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.modelver-installed

# make bench BENCH_ARGS=--quick: fewer repeats in every benchmark (BENCH_ARGS goes to each bench_*.py)
.PHONY: setup demo test bench docs manifest generate lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml setup.py requirements/constraints.txt requirements/weights.txt scripts/setup.sh
	VENV=$(VENV) bash scripts/setup.sh

demo: $(STAMP)
	$(VENV)/bin/modelver demo
	$(PY) examples/export_and_run.py

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	cd benchmarks && for b in bench_*.py; do echo "== $$b"; ../$(PY) $$b $(BENCH_ARGS) || exit 1; done
	$(PY) benchmarks/report.py

manifest: $(STAMP)
	$(PY) -m modelver._manifest_build --write

# every generated file: the manifest, docs/models.md, the README's export table, initial fingerprints
generate: $(STAMP)
	$(PY) scripts/generate.py

clean:
	rm -rf $(VENV) .pytest_cache output

docs: $(STAMP)
	$(VENV)/bin/modelver docs
