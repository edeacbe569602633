# The two commands of the quick start are `make run` and `make test`; both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHROMIUM ?= /usr/bin/chromium
NAME ?=

.PHONY: run test test-fast install lint typecheck pytest pytest-fast bench system-deps clean

run: install
	$(BIN)/clientcompass serve

test: install system-deps lint typecheck pytest

# The same without the real-browser tests (tests/browser/): the quick loop while working.
test-fast: install system-deps lint typecheck pytest-fast

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian packages the tests drive: chromium (browser tests) and poppler-utils (pdftotext).
system-deps:
	@{ test -x $(CHROMIUM) && command -v pdftotext >/dev/null; } || \
		{ apt-get update -qq && apt-get install -y -qq chromium poppler-utils; }

lint: $(PY_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(PY_STAMP)
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest

pytest-fast: install
	$(BIN)/pytest --ignore=tests/browser

# bench/pdf compares against WeasyPrint (a benchmark-only dependency), which needs Pango.
bench: install
	@$(BIN)/python -c "import weasyprint" 2>/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0; }
	$(BIN)/python -m bench $(NAME)

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
