# cmr: every target installs what it needs; a fresh clone needs only `make`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_CLIENT := clients/node
NODE_STAMP := $(NODE_CLIENT)/node_modules/.stamp
PROTOS := $(shell find protos -name '*.proto')
export PYTHONPATH := $(CURDIR)/gen:$(CURDIR)
export GRPC_VERBOSITY := ERROR

.PHONY: install gen lint test run stop bench load clean

install: $(STAMP) gen/.stamp $(NODE_STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	# Generated code and the repository are import roots for every process of the venv.
	printf '%s\n%s\n' "$(CURDIR)/gen" "$(CURDIR)" > $$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/cmr-paths.pth
	touch $@

gen/.stamp: $(STAMP) $(PROTOS) scripts/gen_protos.py
	$(PY) scripts/gen_protos.py
	touch $@

# The Node.js client's pinned dependencies (its e2e test skips without them). Optional: without
# npm, or with a Node.js older than 18, say so and go on.
$(NODE_STAMP): $(NODE_CLIENT)/package.json $(NODE_CLIENT)/package-lock.json
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "note: npm not found; skipping $(NODE_CLIENT) (its test will skip)"; \
	elif ! node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)'; then \
		echo "note: Node.js $$(node --version) is older than 18; skipping $(NODE_CLIENT) (its test will skip)"; \
	else \
		npm ci --prefix $(NODE_CLIENT) --no-audit --no-fund --loglevel=error && touch $@; \
	fi

gen: install

lint: install
	$(BIN)/buf lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install lint
	$(BIN)/pytest -n auto -p no:cacheprovider

run: install
	@if $(BIN)/cmr switch cmr >/dev/null 2>&1 && $(BIN)/cmr whoami >/dev/null 2>&1; then \
		echo "controller cmr is already running"; \
	else \
		$(BIN)/cmr bootstrap; \
	fi
	@echo "controller running; try: $(BIN)/cmr status   (stop it with: $(BIN)/cmr kill-controller cmr -y)"

stop: install
	$(BIN)/cmr kill-controller cmr -y

bench: install
	$(BIN)/python -m bench.run

# Loopback load against a running controller (`make run`), e.g. `make load CLIENTS=64`; extra
# cmr-load options in LOAD_ARGS (`--mix ping=3,whoami=1 --password-file F`, `cmr-load --help`).
TARGET ?= 127.0.0.1:17070
SERVICE ?= gateway
CLIENTS ?= 16
DURATION ?= 10
LOAD_ARGS ?=

load: install
	$(BIN)/cmr-load --target $(TARGET) --service $(SERVICE) --clients $(CLIENTS) --duration $(DURATION) $(LOAD_ARGS)

clean:
	rm -rf $(VENV) gen .mypy_cache .ruff_cache .pytest_cache
