# ML Workbench: every set-up step lives here, so a fresh machine needs only `make demo` or
# `make test`. Stamps under build/ make repeated runs cheap; nothing outside the repo is cached.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := build/stamps
VSIX := dist/ml-workbench.vsix
# pip constraints for the project's own test/demo environment only (keeps the CPU torch wheel
# that lies on this kind of machine); users' installs are not pinned by it.
CONSTRAINTS := constraints/test.txt
PY_SOURCES := $(shell find python_backend server -name '*.py' -not -path '*/__pycache__/*')
TS_SOURCES := $(shell find extension/src media -path media/dist -prune -o \( -name '*.ts' -o -name '*.css' \) -print)

.PHONY: help demo test check venv node build vsix bundle protocol lint test-apt test-python \
        test-python-fast test-ts test-e2e e2e-deps bench bench-quick bench-explorer clean

help:
	@echo "make demo         install everything and open the demo workspace in VS Code (code-server)"
	@echo "make test         install what tests need and run every suite"
	@echo "make check        the fast loop: lint, type checks, pytest, TypeScript unit tests (no e2e)"
	@echo "make vsix         build dist/ml-workbench.vsix (install it into desktop VS Code)"
	@echo "make bench        print the start-up benchmark figures"
	@echo "make bench-quick  every bench script once on small inputs (goals not checked)"

# --- Python ------------------------------------------------------------------------------
venv: $(STAMP)/venv
$(STAMP)/venv: pyproject.toml $(CONSTRAINTS)
	@mkdir -p $(STAMP)
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -c $(CONSTRAINTS) -e '.[test]'
	touch $@

# --- TypeScript --------------------------------------------------------------------------
node: $(STAMP)/node
$(STAMP)/node: package.json package-lock.json
	@mkdir -p $(STAMP)
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

protocol: $(STAMP)/venv
	$(VPY) scripts/gen_protocol.py

build: dist/extension.js
dist/extension.js: $(STAMP)/node $(TS_SOURCES) esbuild.mjs
	$(VPY) scripts/gen_protocol.py --check
	node esbuild.mjs

# The server's pure-Python dependencies and our own wheel travel inside the .vsix, so the
# server starts with any Python >= 3.10 the user picks, before anything is installed there.
# Byte-code is compiled here and shipped: without it every start recompiles lsprotocol (~0.2 s).
bundle: $(STAMP)/bundle
$(STAMP)/bundle: $(STAMP)/venv pyproject.toml $(PY_SOURCES)
	# setuptools' build/lib keeps modules that were moved or deleted: never ship them.
	rm -rf extension/bundled/libs extension/bundled/wheels build/lib build/bdist.*
	mkdir -p extension/bundled/wheels
	$(VPY) -m pip wheel --quiet --no-deps -w extension/bundled/wheels .
	$(VPY) -m pip install --quiet --target extension/bundled/libs \
	    --only-binary=:all: --python-version 3.10 --implementation py \
	    extension/bundled/wheels/mlworkbench-*.whl
	touch $@

vsix: $(VSIX)
$(VSIX): dist/extension.js $(STAMP)/bundle package.json README.md
	npx vsce package --no-dependencies --allow-missing-repository -o $(VSIX)

# --- Checks ------------------------------------------------------------------------------
lint: $(STAMP)/venv $(STAMP)/node
	$(VENV)/bin/ruff check python_backend server tests bench scripts demo
	$(VENV)/bin/ruff format --check python_backend server tests bench scripts
	$(VENV)/bin/mypy
	$(VPY) scripts/gen_protocol.py --check
	npx tsc -p . --noEmit
	npx tsc -p media --noEmit
	npx tsc -p media/report --noEmit
	npx eslint extension media

# Most of the suite waits on child processes (runs, servers, MLflow), so workers overlap the
# waits; loadfile keeps each module, and its module-scoped store, in one worker.
PYTEST_PARALLEL := -n 3 --dist loadfile

# Every test, one at a time: the suite of record stays serial until the parallel run has a
# clean history (make check uses the workers).
test-python: $(STAMP)/venv
	$(VENV)/bin/pytest -q

# `make check`'s share: the tests marked slow (real training, monitors, big stores) wait for
# `make test`; each feature keeps a test here, so a break still shows.
test-python-fast: $(STAMP)/venv
	$(VENV)/bin/pytest -q $(PYTEST_PARALLEL) -m "not slow"

test-ts: $(STAMP)/node
	rm -rf out
	npx tsc -p tsconfig.test.json
	node --test out/test/*.test.js

# Debian packages, installed only when dpkg says one is missing (and only as root):
# $(call apt-install,WHO,PACKAGES).
define apt-install
	@missing=""; \
	for pkg in $(2); do \
	    dpkg -s "$$pkg" >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" != 0 ]; then \
	        echo "$(1): missing Debian packages:$$missing (run as root, or: sudo apt-get install -y$$missing)" >&2; \
	        exit 1; \
	    fi; \
	    echo "$(1): installing Debian packages:$$missing"; \
	    apt-get update -q; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

# The deploy tests start their own Docker engine on a private socket and build their base image
# with debootstrap (there is no registry to pull from); the shared tracking server's tests and
# bench start a throw-away PostgreSQL cluster from Debian's binaries (no service is enabled).
TEST_APT := docker.io debootstrap iproute2 postgresql
test-apt:
	$(call apt-install,test,$(TEST_APT))

-include tests/e2e/e2e.mk

# The loop to run before each commit, in minutes: `make test` without the benches, the e2e
# suite and the tests marked slow.
check: lint test-python-fast test-ts

test: lint test-apt test-python test-ts bench-quick test-e2e

bench: $(STAMP)/venv
	$(VPY) bench/startup.py

# Each bench once on small inputs, goals not checked: `make test` runs it so a bench cannot rot.
# startup.py times the server as the .vsix starts it, from extension/bundled (hence the bundle);
# report_webview.py loads the built panel (media/dist, made with the .vsix) in Debian's Chromium.
bench-quick: $(STAMP)/venv $(STAMP)/bundle $(VSIX) e2e-deps
	$(VPY) bench/startup.py --quick
	$(VPY) bench/run_overhead.py --quick
	$(VPY) bench/sweep.py --quick
	$(VPY) bench/runs.py --quick
	$(VPY) bench/explorer.py --quick
	$(VPY) bench/report_fairness.py --quick
	$(VPY) bench/report_explain.py --quick
	$(VPY) bench/serving.py --quick
	$(VPY) bench/image.py --quick
	$(VPY) bench/report_webview.py --quick

# 10,000 runs: the store is built once (minutes) and cached under /tmp.
bench-explorer: $(STAMP)/venv
	$(VPY) bench/explorer.py

demo: $(VSIX) e2e-deps
	$(VPY) scripts/demo.py

clean:
	rm -rf build dist out extension/bundled
