# sg-lava: `make demo` (install everything, run the main job) and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
STAMP  := $(VENV)/.sg-lava-installed
OUT    ?= demo_out

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

# Re-runs only when the pins or the package metadata change, so a second `make setup`
# takes a moment. torch comes first and alone so that no resolver ever pulls a CUDA build.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -c constraints.txt torch==2.13.0
	$(PIP) install -c constraints.txt --no-deps --ignore-requires-python lava-nc lava-dl
	$(PIP) install -c constraints.txt -e '.[data,dev]'
	$(PY) -c "import sg_lava, lava.magma.core.run_configs, lava.lib.dl.netx.blocks.process"
	touch $(STAMP)

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
