# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := static/vendor
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/test
BENCH_SIZE ?= medium
# The suite runs on every core, up to four (pytest-xdist; each worker has its own database and
# Redis). TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: install run test test-pg bench lint clean

$(STAMP): requirements.txt requirements-dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Front-end libraries come pinned from the npm registry and are copied into static/vendor.
$(VENDOR)/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/htmx.min.js
	cp node_modules/sortablejs/Sortable.min.js $(VENDOR)/Sortable.min.js
	cp node_modules/quill/dist/quill.js $(VENDOR)/quill.js
	cp node_modules/quill/dist/quill.snow.css $(VENDOR)/quill.snow.css
	touch $(VENDOR)/.installed

install: $(STAMP) $(VENDOR)/.installed

run: install
	$(BIN)/python -m webapp.devrun

test: install
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-pg: install
	TEST_DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench --size $(BENCH_SIZE)

# ruff, then the architecture contract in pyproject.toml (layers, no cycles, the facade unused inside).
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) node_modules $(VENDOR) .pytest_cache .ruff_cache
