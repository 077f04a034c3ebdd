# Thin targets: each one calls scripts/setup.sh, ppstudy or pytest.
PY      ?= .venv/bin/python
# empty: render the published runs in results/; e.g. PROFILE=smoke executes every chapter first
PROFILE ?=

.PHONY: setup book test test-fast bench lint clean

setup:
	bash scripts/setup.sh

book: setup
	$(PY) -m ppstudy book $(if $(PROFILE),--profile $(PROFILE),)

test:
	bash scripts/setup.sh --browser
	$(PY) -m pytest -n 2 --durations=15

test-fast: setup
	$(PY) -m pytest -n 2 -m "not slow and not browser"

bench: setup
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

lint: setup
	.venv/bin/ruff check src tests benchmarks scripts
	.venv/bin/ruff format --check src tests benchmarks scripts
	.venv/bin/mypy src
	.venv/bin/actionlint .github/workflows/*.yml

clean:
	rm -rf _build runs
