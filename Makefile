# sg-lava: `make demo` (install everything, run the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
STAMP  := $(VENV)/.sg-lava-installed
OUT    ?= demo_out

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

# pip's own chatter is filtered, not its errors: the "Location ... is ignored" lines come from
# index folders that this machine's pip config names but that lack a package (harmless).
SHELL       := /bin/bash
.SHELLFLAGS := -o pipefail -c
QUIETPIP    := grep -v -e "^WARNING: Location .* is ignored" -e "^Looking in indexes" \
               -e "^Looking in links" || true

# Re-runs only when the pins or the package metadata change, so a second `make setup`
# takes a moment. torch comes first and alone so that no resolver ever pulls a CUDA build.
# lava-nc and lava-dl come last, with --no-deps (their pins are stale; the working set is
# in constraints.txt): installed before, they would make every later resolver print an
# ERROR line about pins that were never meant to be met.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "make setup: installing torch (CPU), sg-lava and its dependencies, lava-nc, lava-dl into $(VENV) ..."
	@$(PIP) install -c constraints.txt torch==2.13.0 2>&1 | { $(QUIETPIP); }
	@$(PIP) install -c constraints.txt -e '.[data,dev]' 2>&1 | { $(QUIETPIP); }
	@$(PIP) install -c constraints.txt --no-deps --ignore-requires-python lava-nc lava-dl 2>&1 | { $(QUIETPIP); }
	@$(PY) -c "import sg_lava, lava.magma.core.run_configs, lava.lib.dl.netx.blocks.process"
	@touch $(STAMP)
	@$(PY) -c "from importlib.metadata import version as v; print('make setup: installed ' + ', '.join(f'{p} {v(p)}' for p in ('sg-lava', 'torch', 'lava-nc', 'lava-dl', 'numpy', 'tonic')) + ' in $(VENV)')"

demo: setup
	$(VENV)/bin/sg-lava demo --out $(OUT)

# pytest exits 5 when it collected no tests: that is a failure here, not a pass.
test: setup
	$(PY) -m pytest -q; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: setup
	$(PY) bench/train_memory.py
	$(PY) bench/lava_step_cost.py
	$(PY) bench/verify_throughput.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
