# lecture-zoo: one command per thing a student wants to do.
# Every target installs what it needs first (a .venv beside this file).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: help install train evaluate test test-slow bench quality results docs clean list sections section-list
SCALE ?= default

help:  ## this list: every target and what it does
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 22

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the zoo with its test tools

train: $(STAMP)  ## train the default model (deep MLP on digits), offline; ARGS="model=cnn ..." to change
	$(PY) train.py $(ARGS)

list: $(STAMP)  ## every model with its network, learner and the data it learns from
	$(PY) -m zoo list

evaluate: $(STAMP)  ## evaluate a checkpoint: make evaluate CKPT=outputs/.../checkpoints/best.ckpt
	@test -n "$(CKPT)" || { echo "usage: make evaluate CKPT=path/to/best.ckpt"; exit 2; }
	$(PY) evaluate.py ckpt_path=$(CKPT) $(ARGS)

test: $(STAMP)  ## ruff (lint + format check), then the fast test suite (a few minutes on 2 cores)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q $(ARGS)

test-slow: $(STAMP)  ## only the long tests
	$(PY) -m pytest -q -m slow $(ARGS)

bench: $(STAMP)  ## shared trainer vs hand-written loops: MLP, CNN, RealNVP, LSTM LM (ratios + fixed costs), and Lightning's own floor
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/overhead.py model=cnn
	$(PY) benchmarks/overhead.py model=realnvp data=moons
	$(PY) benchmarks/lstm_lm.py
	$(PY) benchmarks/lightning_floor.py

quality: $(STAMP)  ## defaults vs plain scripts on real data: make quality ARGS="--wikitext-dev ../shared/data/wikitext-2"
	$(PY) benchmarks/quality.py $(ARGS)

results: $(STAMP)  ## measure the documented figures again, each to its record: make results [ONLY=name] (--list names them)
	$(PY) benchmarks/results.py $(ONLY)

docs: $(STAMP)  ## render README's tables, docs/ and the model cards from the records
	$(PY) benchmarks/render_docs.py

sections: $(STAMP)  ## every lecture section; writes reports/<section>.md and reports/index.md
	$(PY) -m sections all --scale $(SCALE)

section-list: $(STAMP)  ## the lecture sections, each `make section-<name>` [SCALE=smoke|default|paper]
	@$(PY) -m sections --list

section-%: $(STAMP)
	$(PY) -m sections $* --scale $(SCALE)

clean:  ## remove outputs, multirun, reports, build and the test cache (the .venv stays)
	rm -rf outputs multirun reports lightning_logs .pytest_cache build dist
