# Jinqiao: `make up` runs the whole platform, `make test` runs every test. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEPS_STAMP := $(VENV)/.deps-installed
GEN_STAMP := gen/.generated
PROTOS := $(shell find proto -name '*.proto')

.PHONY: up test chaos bench bench-province lint gen status down clean browser console console-types deploy-check

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Dependencies come from pyproject.toml alone; the package is installed after its code is generated.
$(DEPS_STAMP): pyproject.toml scripts/deps.py | $(BIN)/python
	$(BIN)/python scripts/deps.py > $(VENV)/requirements.txt
	$(BIN)/python -m pip install -q -r $(VENV)/requirements.txt
	touch $@

# The editable install is redone when the package layout changes (setup.py reads the service catalogue).
$(GEN_STAMP): $(PROTOS) scripts/gen_protos.py setup.py services/catalog.toml $(DEPS_STAMP)
	$(BIN)/python scripts/gen_protos.py
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

gen: $(GEN_STAMP)

# The console (gateway/web): Vue 3 + Element Plus + ECharts from the committed lockfile, built by Vite into dist/.
WEB := gateway/web
NODE_STAMP := $(WEB)/node_modules/.installed
CONSOLE_SRC := $(shell find $(WEB)/src -type f) $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json

$(NODE_STAMP): $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB)/dist/index.html: $(NODE_STAMP) $(CONSOLE_SRC)
	cd $(WEB) && npm run --silent build

console: $(WEB)/dist/index.html

# The console's API types come from the committed OpenAPI document (regenerate after `openapi_gate.py --write`).
console-types: $(NODE_STAMP)
	cd $(WEB) && npm run --silent types

# Protos (Buf lint + breaking), ruff, import contracts (.importlinter), mypy, the image (hadolint), the generated
# deploy files, the chart rendered and validated against the Kubernetes schemas, and the HTTP API's own breaking gate.
lint: $(GEN_STAMP) $(NODE_STAMP)
	cd proto && ../$(BIN)/buf lint
	@if git rev-parse --verify -q HEAD:proto >/dev/null; then \
		cd proto && ../$(BIN)/buf breaking --against '../.git#ref=HEAD,subdir=proto'; fi
	$(BIN)/ruff check services gateway demo tests scripts examples setup.py
	$(BIN)/python scripts/package_tree.py imports
	$(BIN)/python scripts/package_tree.py mypy
	$(BIN)/hadolint deploy/image/Dockerfile
	$(BIN)/python scripts/deploy_gen.py --check
	$(BIN)/python scripts/chart_values.py --check
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/deploy/test_chart.py
	$(BIN)/python scripts/openapi_gate.py --check
	cd $(WEB) && npx openapi-typescript ../../docs/openapi.json -o node_modules/.schema.d.ts --silent \
		&& cmp -s node_modules/.schema.d.ts src/api/schema.d.ts \
		|| (echo "gateway/web/src/api/schema.d.ts is stale: run make console-types" && exit 1)
	cd $(WEB) && npm run --silent typecheck

up: $(GEN_STAMP) console
	$(BIN)/jinqiao up

status: $(GEN_STAMP)
	$(BIN)/jinqiao status

down: $(GEN_STAMP)
	$(BIN)/jinqiao down

# The console's browser tests drive Debian's chromium (Playwright cannot download browsers here).
browser:
	bash scripts/install_browser.sh

test: lint browser console
	$(BIN)/python -m pytest -q -ra

# Beyond one machine (issue 17), offline: the image linted, the compose file and the rendered chart validated, and the
# schema checked ready for Citus. `make test` runs these tests too (they live under tests/).
deploy-check: $(GEN_STAMP)
	$(BIN)/python -m pytest -q -ra -p no:cacheprovider tests/deploy tests/integration/deploy

# The whole chaos suite (issue 11) with its real outages; `make test` runs only its bounded subset.
chaos: $(GEN_STAMP)
	JINQIAO_CHAOS=full $(BIN)/python -m pytest -q -ra -p no:cacheprovider tests/chaos

bench: $(GEN_STAMP)
	$(BIN)/python -m tests.bench.run

# A synthetic province the size of Henan (issue 16), built through the platform's own paths, and its scale table.
bench-province: $(GEN_STAMP) console
	$(BIN)/python -m tests.bench.province

clean:
	rm -rf gen build *.egg-info .pytest_cache
