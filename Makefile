# The two commands of the quick start are `make run` and `make test`; both install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
NODE_STAMP := node_modules/.installed
ASSETS_STAMP := node_modules/.precompressed
OWN_ASSETS := $(filter-out %.gz %.br,$(wildcard src/clientcompass/static/*))
CHROMIUM ?= /usr/bin/chromium
NAME ?=

.PHONY: run test test-fast install lint typecheck pytest pytest-fast bench system-deps clean topology

run: install
	$(BIN)/clientcompass serve

test: install system-deps lint typecheck pytest

# The same without the real-browser tests (tests/browser/): the quick loop while working.
test-fast: install system-deps lint typecheck pytest-fast

install: $(PY_STAMP) $(NODE_STAMP) $(ASSETS_STAMP)

# What running and testing need; the benchmarks' extra (WeasyPrint) comes with `make bench`.
$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Static files and the npm libraries served beside them, precompressed (.br, .gz) once here
# rather than on every request.
$(ASSETS_STAMP): $(PY_STAMP) $(NODE_STAMP) $(OWN_ASSETS)
	$(BIN)/python -m clientcompass.web.assets
	touch $@

# Debian packages the tests drive: chromium (browser tests), poppler-utils (pdftotext) and
# LibreOffice's Calc (an export opened in a real spreadsheet).
system-deps:
	@{ test -x $(CHROMIUM) && command -v pdftotext >/dev/null && command -v soffice >/dev/null; } || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils libreoffice-calc-nogui; }

lint: $(PY_STAMP)
	$(BIN)/ruff check src tests bench topology
	$(BIN)/ruff format --check src tests bench topology

typecheck: $(PY_STAMP)
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -n 2 --dist loadgroup

pytest-fast: install
	$(BIN)/pytest -n 2 --dist loadgroup --ignore=tests/browser

# The production topology on this machine: two web replicas and two workers behind nginx
# (Debian's nginx-light, installed when missing), a replica and a worker killed mid-run and
# Redis restarted; prints a TOPOLOGY summary line and fails on any loss. Uses
# TEST_DATABASE_URL's PostgreSQL when set (a fresh database), embedded otherwise, and always a
# private Redis. tests/topology runs the same command.
topology: install
	@{ command -v nginx >/dev/null || test -x /usr/sbin/nginx; } || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light; }
	$(BIN)/python -m topology

# bench/pdf compares against WeasyPrint (the `bench` extra, installed only here), which needs Pango.
$(BENCH_STAMP): $(PY_STAMP)
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

bench: install $(BENCH_STAMP)
	@$(BIN)/python -c "import weasyprint" 2>/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0; }
	$(BIN)/python -m bench $(NAME)

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
	rm -f src/clientcompass/static/*.gz src/clientcompass/static/*.br
