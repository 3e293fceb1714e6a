# Two commands: `make run` brings Wanghe up; `make test` runs every test (`make unit`: only the
# unit tier, in seconds, with no broker or database server). All install what they need into .venv
# on first use. `make service NAME=<name>` lays down a new service's skeleton.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test unit bench install service clean

# `pip install -e .` is the one way the code goes on the path (pyproject.toml): `heyun`,
# `gateway`, `deploy`, `bench`, `community`, and each service of services/ as `registry`,
# `notify`… The editable install maps each top-level package by name, so a service added since
# (a new services/<name>/__init__.py) reinstalls, as a change to the pins does.
$(STAMP): pyproject.toml requirements.txt requirements-test.txt $(wildcard services/*/__init__.py)
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Heyun needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	# A venv an older Makefile made put the tree on the path with a .pth file of its own.
	rm -f $(VENV)/lib/python*/site-packages/heyun.pth $(VENV)/.installed-*
	touch $@

install: $(STAMP)

# Signals: make forwards SIGTERM to the launcher and waits for it; the launcher stops its
# children on SIGINT, SIGTERM or SIGHUP (tests/test_launcher_signals.py).
run: $(STAMP)
	$(BIN)/python -m deploy.run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The unit tier: every tests/unit/ directory (domain functions, workers on SQLite; no broker, no
# database server needed or looked for). Without the plugins only the OpenAPI fuzzing uses
# (importing hypothesis and schemathesis is a third of the tier's time).
UNIT_DIRS = heyun/tests/unit gateway/tests/unit $(wildcard services/*/tests/unit)
unit: $(STAMP)
	$(BIN)/python -m pytest -p no:schemathesis -p no:hypothesispytest $(UNIT_DIRS) $(PYTEST_ARGS)

# services/<NAME>/ with every file of the skeleton, its gateway routes, and its place in the
# service list, compose and the Kubernetes manifests (deploy/new_service.py; README "Adding a
# service"). Then the package alone is installed again (the pins are as they were), so that
# `import <NAME>` works.
service: $(STAMP)
	@test -n "$(NAME)" || { echo "usage: make service NAME=<name>  (lower case, e.g. canteen)"; exit 1; }
	$(BIN)/python -m deploy.new_service $(NAME)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

# Every benchmark, one after the other (bench/README.md says what each measures).
bench: $(STAMP)
	$(BIN)/python -m bench.bench_import
	$(BIN)/python -m bench.bench_read
	$(BIN)/python -m bench.bench_notify
	$(BIN)/python -m bench.bench_lists

clean:
	rm -rf $(VENV) data *.egg-info
