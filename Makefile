# Two commands: `make run` brings Wanghe up; `make test` runs every test (`make unit`: only the
# unit tier, in seconds, with no broker or database server). All install what they need into .venv
# on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

.PHONY: run test unit bench install clean

$(STAMP): requirements.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Heyun needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	# The repository root and services/ go on the venv's path: `heyun`, `gateway`, `registry`…
	$(BIN)/python -c 'import site, pathlib; pathlib.Path(site.getsitepackages()[0], "heyun.pth").write_text("$(CURDIR)\n$(CURDIR)/services\n")'
	rm -f $(VENV)/.installed-*
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

# Every benchmark, one after the other (bench/README.md says what each measures).
bench: $(STAMP)
	$(BIN)/python -m bench.bench_import
	$(BIN)/python -m bench.bench_read
	$(BIN)/python -m bench.bench_notify

clean:
	rm -rf $(VENV) data
