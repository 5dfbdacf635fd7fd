# venom-fpga task runner: thin targets over the `venom-fpga` CLI, pytest and scripts/.
#
#   make demo                 everything on the shipped weights (sets up on first use)
#   make test                 the whole test suite (CI runs this through .ci/run)
#   make setup                idempotent: system tools (Verilator, Icarus, Yosys) and the pinned .venv
#
# Variables: WEIGHTS (checkpoint, default the shipped PtSi-like model), PYTHON (venv interpreter).

WEIGHTS ?= weights/venom_synth_ptsi.safetensors
VENV    ?= .venv
PYTHON  ?= $(VENV)/bin/python
CLI     := $(VENV)/bin/venom-fpga
BUILD   := build

.PHONY: setup test demo clean

setup:
	@scripts/setup.sh

test: setup
	$(PYTHON) -m pytest

demo: setup
	@mkdir -p $(BUILD)/demo
	$(CLI) inspect $(WEIGHTS)
	$(CLI) synth --preset ptsi --n-per-line 200 --seed 7 --out $(BUILD)/demo/data --force --quiet
	$(CLI) windows --weights $(WEIGHTS) --data $(BUILD)/demo/data --out $(BUILD)/demo/iq.npy
	$(CLI) predict --weights $(WEIGHTS) --iq $(BUILD)/demo/iq.npy --out $(BUILD)/demo/energies.npy --quiet
	$(CLI) evaluate --weights $(WEIGHTS) --data $(BUILD)/demo/data --json $(BUILD)/reports/demo_evaluate.json \
	    --plots $(BUILD)/reports --quiet

clean:
	rm -rf $(BUILD) sim_build .pytest_cache
