# venom-fpga task runner: every target calls the `venom-fpga` CLI (plus pytest for `test`, scripts/setup.sh for
# `setup`); `venom-fpga COMMAND --help` documents each step.
#
#   make demo                 the whole chain on the shipped weights: one line per step (tool output in build/logs/),
#                             then the summary of every report
#   make test                 the whole test suite (CI runs this through .ci/run)
#   make setup                idempotent: system tools (Verilator, Icarus, Yosys) and the pinned .venv
#   make export               Vitis-HLS C++ array for WEIGHTS, the plan's for 2,048 channels (hls/generated/<stem>/)
#   make csim                 C-simulation of that array (g++) on synthetic pulses of PRESET and extreme inputs,
#                             bit-exact against the fixed model, then Poisson token streams through it against the
#                             array model (records, clocks, drops) -> build/reports/csim.json
#   make hls                  Vitis HLS C-synthesis + IP export (needs vitis_hls on PATH) -> build/reports/hls.json
#   make rtl                  generated Verilog tops per LANES (rtl/generated/<stem>_l<N>/)
#   make cosim [SIM=icarus]   the array (full size) and the engine vs the fixed and array models under cocotb
#                             (Verilator default) -> build/reports/cosim.json
#   make resources            Yosys synth_xilinx -family xcup of the array (plan, F=2, 4) and the engine per LANES
#                             -> build/reports/resources.json (slow)
#   make vivado               Vivado out-of-context synth+impl per LANES -> build/reports/vivado.json (needs vivado)
#   make plan                 the time-multiplexed array for 2,048 channels (fold, slots, capacity, estimated
#                             resources) -> build/reports/plan.json and plan.png
#   make summary              one screen of every report in build/reports/
#
# Variables: WEIGHTS (checkpoint, default the shipped PtSi-like model), PRESET (synthetic data matching WEIGHTS:
# ptsi or inhf), LANES (folding settings), SIM (verilator or icarus), COSIM_WINDOWS (engine),
# COSIM_PERIODS (array: model-rate periods per photon rate), VENV.

WEIGHTS ?= weights/venom_synth_ptsi.safetensors
PRESET  ?= $(if $(findstring inhf,$(WEIGHTS)),inhf,ptsi)
SIM     ?= verilator
LANES   ?= 4 8
COSIM_WINDOWS ?= 100
COSIM_PERIODS ?= 400
VENV    ?= .venv
PYTHON  ?= $(VENV)/bin/python
CLI     := $(VENV)/bin/venom-fpga
BUILD   := build
DEMO    := $(BUILD)/demo
W       := --weights $(WEIGHTS)
LANES_ARGS := $(foreach n,$(LANES),--lanes $(n))
STEP    := scripts/step.sh $(BUILD)/logs

.PHONY: setup test demo export csim hls rtl cosim resources vivado plan summary clean

setup:
	@scripts/setup.sh

test: setup
	$(PYTHON) -m pytest

demo: setup
	@echo "make demo: $(WEIGHTS), $(PRESET) data; every step's output in $(BUILD)/logs/<step>.log"
	@$(STEP) inspect  $(CLI) inspect $(WEIGHTS) --brief
	@$(STEP) synth    $(CLI) synth --preset $(PRESET) --n-per-line 200 --seed 7 --out $(DEMO)/data --force
	@$(STEP) windows  $(CLI) windows $(W) --data $(DEMO)/data --out $(DEMO)/iq.npy
	@$(STEP) predict  $(CLI) predict $(W) --iq $(DEMO)/iq.npy --out $(DEMO)/energies.npy
	@$(STEP) evaluate $(CLI) evaluate $(W) --data $(DEMO)/data --fixed --json $(BUILD)/reports/demo_evaluate.json \
	    --plots $(BUILD)/reports
	@$(STEP) export   $(CLI) export $(W)
	@$(STEP) csim     $(CLI) csim $(W) --iq $(DEMO)/iq.npy
	@$(STEP) plan     $(CLI) plan $(W)
	@$(STEP) cosim    $(CLI) cosim $(W) --array --periods 100 $(LANES_ARGS) --iq $(DEMO)/iq.npy --windows 10 \
	    --sim $(SIM)
	@$(CLI) summary

export: setup
	$(CLI) export $(W)

csim: setup
	$(CLI) synth --preset $(PRESET) --n-per-line 200 --seed 5 --out $(BUILD)/csim/data --force --quiet
	$(CLI) windows $(W) --data $(BUILD)/csim/data --out $(BUILD)/csim/iq.npy
	$(CLI) csim $(W) --iq $(BUILD)/csim/iq.npy

hls: export
	$(CLI) hls $(W)

rtl: setup
	$(CLI) rtl $(W) $(LANES_ARGS)

cosim: setup
	$(CLI) synth --preset $(PRESET) --n-per-line 200 --seed 9 --out $(BUILD)/cosim/data --force --quiet
	$(CLI) windows $(W) --data $(BUILD)/cosim/data --out $(BUILD)/cosim/iq.npy
	$(CLI) cosim $(W) --iq $(BUILD)/cosim/iq.npy --array --periods $(COSIM_PERIODS) $(LANES_ARGS) \
	    --windows $(COSIM_WINDOWS) --sim $(SIM)

resources: setup
	$(CLI) resources $(W) --array $(LANES_ARGS)

vivado: setup
	$(CLI) vivado $(W) $(LANES_ARGS)

plan: setup
	$(CLI) plan $(W)

summary: setup
	@$(CLI) summary

clean:
	rm -rf $(BUILD) sim_build .pytest_cache
