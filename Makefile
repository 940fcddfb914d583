# The two commands: `make demo` and `make test`. Both create the virtual environment when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench docs notebooks clean install js

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

# The JavaScript clients of the rxchronos.ui tests and the demo's /chat bundle (without them
# those tests skip).
js:
	npm ci --prefix tests/js --no-audit --no-fund
	node tests/js/build-chat-bundle.mjs rxchronos/demo/static/vendor/ai-chat.mjs

demo: $(STAMP)
	$(BIN)/rxchronos demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict rxchronos

# PYTEST_ARGS narrows the run (e.g. PYTEST_ARGS="tests/test_sse.py -k limit"). Collecting no test
# at all (pytest's exit code 5) is a failure, said in words.
pytest: $(STAMP)
	@$(BIN)/pytest $(PYTEST_ARGS) || { rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make pytest: no test was collected (PYTEST_ARGS='$(PYTEST_ARGS)')" >&2; fi; \
	  exit $$rc; }

test: lint typecheck pytest

# Every benchmark, against its peers in the same run (BENCH_ARGS=--quick for a short smoke run).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python benchmarks/sse_decode.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/token_pipeline.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/graph_overhead.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/sse_fanout.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/ui_protocols.py $(BENCH_ARGS)
	$(BIN)/python benchmarks/distributed_fanout.py $(BENCH_ARGS)

# JupyterLab (the `jupyter` extra) opened on the notebooks folder.
notebooks: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[jupyter]'
	$(BIN)/jupyter lab notebooks

docs: $(STAMP)
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache build dist site
