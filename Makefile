# Convenience targets; each is one README command.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install demo test bench

$(BIN)/hubkit:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"   # CPU build first; unpinned torch pulls a CUDA build
	$(BIN)/python -m pip install --quiet -e ".[test,offline,space]"

install: $(BIN)/hubkit

# Train on the shipped demo data, render the card, push to a local Hub this starts, smoke-test, tag, publish the demo
# Space; it ends with the command that opens the demo app (hubkit space --serve).
demo: install
	$(BIN)/hubkit demo --out runs/demo

test: install
	$(BIN)/python -m pytest -q -n 2

bench: install
	$(BIN)/python bench/bench_build_card.py
	$(BIN)/python bench/bench_train.py
	$(BIN)/python bench/bench_push.py
