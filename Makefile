# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make run    start the portal with demo data (SQLite, filesystem broker, real worker and beat)
#   make test   lint, type-check and run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Fixed here, not derived from PORT in each process: honcho gives every process type its own
# PORT (web 8000, worker 8100, ...), and the worker writes the links in emails.
PORTAL_BASE_URL ?= http://127.0.0.1:$(PORT)
export PORT PORTAL_BASE_URL

.PHONY: run test lint lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"

# Stamps record which lock is installed; editing a lock reinstalls on the next make.
# honcho runs the Procfile (`make run`); a development tool, it is not in the image's lock but
# installed alone, at the version and hashes the dev lock gives it.
$(VENV)/.runtime: requirements.lock requirements-dev.lock pyproject.toml cli/pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --require-hashes --no-deps -c requirements-dev.lock honcho
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip install --quiet --no-deps -e ./cli  # its one dependency, requests, is in the lock
	touch $@

$(VENV)/.dev: requirements-dev.lock $(VENV)/.runtime
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	touch $@

run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py seed_demo
	@echo "Starting the portal at http://127.0.0.1:$(PORT)/ (Ctrl-C stops it)"
	$(BIN)/honcho --procfile Procfile start --port $(PORT)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# The suite runs in TEST_PROCESSES processes at once (pytest-xdist; each has its own data folder,
# test database and broker database); TEST_PROCESSES=0 runs it in this one process.
TEST_PROCESSES ?= auto
test: lint
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadscope

# Regenerate the hashed locks after changing a pin in pyproject.toml.
lock: $(VENV)/.dev
	$(BIN)/pip-compile --quiet --strip-extras --generate-hashes --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links --output-file requirements.lock pyproject.toml
	$(BIN)/pip-compile --quiet --strip-extras --generate-hashes --allow-unsafe \
	  --no-emit-index-url --no-emit-find-links --extra dev --output-file requirements-dev.lock \
	  pyproject.toml

clean:
	rm -rf $(VENV) var
