# One command per task. Every target creates .venv if it is missing and
# installs what it needs, so a fresh clone needs nothing else.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.konsort-installed

.PHONY: demo test check bench bench-scale format clean i18n screenshots axe

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q -e '.[dev,postgres]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m node.demo $(DEMO_ARGS)

# Two workers (pytest-xdist): this machine has two cores; PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= 2
test: $(STAMP) axe
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# axe-core for the admin UI's browser tests, when npm is there (the tests skip
# without it on a developer machine and fail without it in CI).
AXE := tests/admin_ui/node_modules/axe-core/axe.min.js
axe:
	@if [ ! -f $(AXE) ] && command -v npm >/dev/null; then \
		npm ci --prefix tests/admin_ui --no-audit --no-fund; fi

# Regenerate docs/img/*.png from the browser tests (needs /usr/bin/chromium).
screenshots: $(STAMP) axe
	KONSORT_SCREENSHOTS=1 $(PY) -m pytest -q -p no:xdist -m browser tests/admin_ui/test_browser*.py

# Extract the admin UI's messages and merge them into the da and nb catalogues.
i18n: $(STAMP)
	$(VENV)/bin/pybabel extract -F admin_ui/babel.cfg -k N_ -k _ --no-location \
		--sort-output --project konsort -o admin_ui/i18n/messages.pot .
	$(VENV)/bin/pybabel update -i admin_ui/i18n/messages.pot -d admin_ui/i18n \
		--no-fuzzy-matching --ignore-obsolete

check: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache

# The node at 10k, 100k and 1M members on PostgreSQL (seeded with `konsort dev seed`):
# per-operation p50/p99, KPI and retention runs with peak memory; a table,
# bench/results/scale.json and docs/img/scale.svg. Long: run it on demand,
# e.g. make bench-scale SCALE_ARGS="--sizes 10k,100k".
bench-scale: $(STAMP)
	$(PY) -m bench.scale $(SCALE_ARGS)
