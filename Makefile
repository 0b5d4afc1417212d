# Two entry points on a fresh machine: `make run` (the demo on examples/sample) and `make test`.
# Each creates .venv and installs the package with pinned dependencies on first use.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
SAMPLE := examples/sample
RUN    ?= runs/sample
PYTEST_ARGS ?=

.PHONY: install run test test-fast clean-runs

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: $(PYTHON) not found; install Python 3.11 or pass PYTHON=/path/to/python3.11" >&2; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $@

# The five steps on the sample with their defaults, then predictions for two raw headlines.
run: $(STAMP)
	rm -rf $(RUN)
	$(BIN)/textcnn clean --train $(SAMPLE)/train.tsv --dev $(SAMPLE)/dev.tsv --test $(SAMPLE)/test.tsv --out $(RUN)/data --quiet
	$(BIN)/textcnn vocab --data $(RUN)/data --out $(RUN)/vocab
	$(BIN)/textcnn train --data $(RUN)/data --vocab $(RUN)/vocab --out $(RUN)/model --quiet
	$(BIN)/textcnn evaluate --data $(RUN)/data --vocab $(RUN)/vocab --model $(RUN)/model --out $(RUN)/eval
	$(BIN)/textcnn export --model $(RUN)/model --vocab $(RUN)/vocab --out $(RUN)/export
	printf '国足客场两球击败对手，晋级世界杯预选赛下一轮\n央行下调存款准备金率，股市应声上涨\n' | $(BIN)/textcnn predict --model $(RUN)/export --top-k 2

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Everything but the slow real-data tests.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

clean-runs:
	rm -rf runs
