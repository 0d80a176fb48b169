# skysift: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
CORES  ?= 2
CONFIG ?= config/config.yaml
# Stage commands (`skysift ...`) in Snakemake rules resolve to the project venv.
export PATH := $(BIN):$(PATH)
export MPLBACKEND := Agg

.PHONY: install demo paper-smoke test lint typecheck pytest bench schema report clean help

help:
	@echo "make demo    install into $(VENV) and run the workflow on $(CONFIG) with $(CORES) cores"
	@echo "make test    install into $(VENV), run linters, type checks and the test suite"
	@echo "make paper-smoke  the paper config's models at a toy size on the CPU, every rule (~32 min)"
	@echo "make report  build results/report.html (figures and tables of the last run)"
	@echo "make bench   run the benchmarks (slow; results under benchmarks/results/)"
	@echo "make schema  regenerate workflow/schemas/config.schema.yaml from the config models"

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/snakemake --cores $(CORES) --configfile $(CONFIG)
	$(BIN)/skysift summarize-runtimes results/benchmarks --out results -q
	@cat results/runtimes.md
	@echo "Outputs are under results/ (see README: 'Where outputs land')."

# config/paper.yaml's models and settings through every rule at a toy size, on the CPU (~32 min on
# 2 cores): a check that the paper workflow runs before it is sent to a GPU cluster; measures nothing.
paper-smoke: install
	$(BIN)/snakemake --cores $(CORES) --configfile config/paper.yaml config/paper_smoke.yaml

report: install
	$(BIN)/snakemake --configfile $(CONFIG) --report results/report.html
	@echo "Report: results/report.html"

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --configfile $(CONFIG)

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

bench: install
	$(BIN)/python benchmarks/bench_simulate.py
	$(BIN)/python benchmarks/bench_detector.py
	$(BIN)/python benchmarks/bench_sed.py
	$(BIN)/python benchmarks/bench_predict_map.py   # needs results/detector/model.pt (make demo)
	$(BIN)/python benchmarks/bench_ssl.py
	$(BIN)/python benchmarks/bench_diffusion.py    # needs results/cutouts (make demo)
	$(BIN)/python benchmarks/bench_detector_init.py   # needs results/cutouts + the demo SSL backbone

schema: install
	$(BIN)/skysift config-schema --out workflow/schemas/config.schema.yaml

clean:
	rm -rf results .snakemake
