# Jinqiao: `make up` runs the whole platform, `make test` runs every test. Both set everything up first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEPS_STAMP := $(VENV)/.deps-installed
GEN_STAMP := gen/.generated
PROTOS := $(shell find proto -name '*.proto')

.PHONY: up test chaos bench lint gen status down clean browser

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

# Protos (Buf lint + breaking), ruff, import contracts (.importlinter), mypy, and the HTTP API's own breaking gate.
lint: $(GEN_STAMP)
	cd proto && ../$(BIN)/buf lint
	@if git rev-parse --verify -q HEAD:proto >/dev/null; then \
		cd proto && ../$(BIN)/buf breaking --against '../.git#ref=HEAD,subdir=proto'; fi
	$(BIN)/ruff check services gateway demo tests scripts examples setup.py
	$(BIN)/python scripts/package_tree.py imports
	$(BIN)/python scripts/package_tree.py mypy
	$(BIN)/python scripts/openapi_gate.py --check

up: $(GEN_STAMP)
	$(BIN)/jinqiao up

status: $(GEN_STAMP)
	$(BIN)/jinqiao status

down: $(GEN_STAMP)
	$(BIN)/jinqiao down

# The console's browser tests drive Debian's chromium (Playwright cannot download browsers here).
browser:
	bash scripts/install_browser.sh

test: lint browser
	$(BIN)/python -m pytest -q -ra

# The whole chaos suite (issue 11) with its real outages; `make test` runs only its bounded subset.
chaos: $(GEN_STAMP)
	JINQIAO_CHAOS=full $(BIN)/python -m pytest -q -ra -p no:cacheprovider tests/chaos

bench: $(GEN_STAMP)
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf gen build *.egg-info .pytest_cache
