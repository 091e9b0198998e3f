# The two commands of a fresh machine: `make demo` and `make test`.
# Each creates .venv with the interpreter's own venv + pip when it is missing; no conda needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Test workers: one and a half per core. A third of the suite's time is spent waiting (kernels,
# Chromium, JupyterLab, moto servers), and a worker more fills it: on 2 cores 3 workers.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(max(2, (os.cpu_count() or 1) * 3 // 2))")

.PHONY: demo test docs params lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	touch $@

$(VENV)/.test-installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[demo,test,dask,docs]"
	touch $@

demo: $(VENV)/.demo-installed
	@# exit 3 means "scan completed, non-compliant buckets found": the demo fleet has some by design.
	$(BIN)/s3compliance demo || [ $$? -eq 3 ]

test: $(VENV)/.test-installed
	$(BIN)/ruff check s3compliance tests bench
	@# independent test files run in parallel, one file per worker (module fixtures stay shared)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=25 --cov=s3compliance --cov-report=term-missing

# The documentation site into site/ (tests/test_docs.py builds it the same way in `make test`).
docs: $(VENV)/.test-installed
	$(BIN)/mkdocs build --strict --site-dir site

# params/default.yaml is made from the parameter schema (its descriptions and defaults).
params: $(VENV)/.test-installed
	$(BIN)/python -c "from s3compliance.params import default_yaml; \
	open('params/default.yaml', 'w').write(default_yaml())"

bench: $(VENV)/.test-installed
	$(BIN)/python bench/scan_bench.py --buckets 1000 --latency-ms 30
	$(BIN)/python bench/org_bench.py --accounts 20 --buckets 100 --latency-ms 30
	$(BIN)/python bench/history_bench.py --days 365 --accounts 20 --buckets 500
	$(BIN)/python bench/delta_bench.py --days 30 --accounts 20 --buckets 500 --deltas-per-day 100
	$(BIN)/python bench/watch_bench.py --events 1000 --buckets 200 --rate 5 --debounce 1
	$(BIN)/python bench/watch_bench.py --events 1000 --buckets 200 --rate 10 --debounce 1
	$(BIN)/python bench/findings_bench.py --buckets 20000 --exceptions 200
	$(BIN)/python bench/evidence_bench.py --mib 256 --runs 5
	$(BIN)/python bench/scale_bench.py --sizes 1000 10000
	$(BIN)/python bench/explore_bench.py --sizes 1000 1000000

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .coverage site
