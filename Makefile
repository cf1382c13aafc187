# `make run` serves on 127.0.0.1:8000 with SQLite; `make test` runs the whole suite.
# Both create .venv and install what the project needs from pyproject.toml.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
STORE  ?= sqlite:///data/cpa-bandit.db

.PHONY: run test bench soak install redis-server chromium promtool clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "cpa-bandit needs Python 3.11+; set PYTHON=python3.X")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: install
	$(BIN)/cpa-bandit serve --host $(HOST) --port $(PORT) --store $(STORE)

test: install redis-server chromium promtool
	$(BIN)/python -m pytest

# The Redis store's tests run against real servers that the test session starts on free
# ports; this only makes sure the binaries are there (Debian's package, as root in CI).
redis-server:
	$(call apt-install,redis-server redis-cli,redis-server,the Redis store's tests)

# The dashboard's test drives a real headless Chromium through Playwright: Debian's browser,
# not one that `playwright install` would download.
chromium:
	$(call apt-install,chromium,chromium,the dashboard's browser test)

# deploy/prometheus/alerts.yml is checked and unit-tested with promtool, which Debian ships in
# its prometheus package (tests/e2e/test_deploy.py).
promtool:
	$(call apt-install,promtool,prometheus,the alerting rules' tests)

# $(call apt-install,commands,package,why): install a Debian package (as root in CI, else with
# sudo) unless all of its commands are already there.
define apt-install
	@missing=; for c in $(1); do command -v $$c >/dev/null || missing=1; done; \
	[ -z "$$missing" ] || { \
		echo "installing $(2) (Debian package) for $(3)"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(2) >/dev/null; }
endef

bench: install redis-server
	$(BIN)/python bench/run.py

# A few minutes of mixed load on a loopback server (bench/soak.py --help); writes its
# section of bench/RESULTS.md, which `make bench` keeps.
soak: install redis-server
	$(BIN)/python bench/soak.py --output-md bench/RESULTS.md

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
