# venom-fpga task runner: thin targets over the `venom-fpga` CLI, pytest and scripts/.
#
#   make demo                 the whole chain on the shipped weights, then a one-screen summary
#   make test                 the whole test suite (CI runs this through .ci/run)
#   make setup                idempotent: system tools (Verilator, Icarus, Yosys) and the pinned .venv
#   make export WEIGHTS=...   Vitis-HLS C++ project for a checkpoint (hls/generated/<stem>/)
#   make csim                 C-simulation of that project (g++), bit-exact check against the fixed model
#   make hls                  Vitis HLS C-synthesis + IP export (needs vitis_hls on PATH)
#   make rtl                  generated Verilog tops for LANES 4 and 8 (rtl/generated/<stem>_l<N>/)
#   make cosim [SIM=icarus]   RTL vs fixed model under cocotb (Verilator default) -> build/reports/cosim.json
#   make resources            Yosys synth_xilinx -family xcup per LANES -> build/reports/resources.json (slow)
#   make vivado               Vivado out-of-context synth+impl per LANES at 512 MHz -> build/reports/vivado.json
#                             (needs vivado on PATH)
#
# Variables: WEIGHTS (checkpoint, default the shipped PtSi-like model), PRESET (synthetic data matching
# WEIGHTS: ptsi or inhf), PYTHON (venv interpreter).

WEIGHTS ?= weights/venom_synth_ptsi.safetensors
PRESET  ?= $(if $(findstring inhf,$(WEIGHTS)),inhf,ptsi)
HLS_PRJ ?= hls/generated/$(basename $(notdir $(WEIGHTS)))
SIM     ?= verilator
LANES   ?= 4 8
COSIM_WINDOWS ?= 100
VENV    ?= .venv
PYTHON  ?= $(VENV)/bin/python
CLI     := $(VENV)/bin/venom-fpga
BUILD   := build

.PHONY: setup test demo export csim hls rtl cosim resources vivado clean

setup:
	@scripts/setup.sh

test: setup
	$(PYTHON) -m pytest

demo: setup export
	@mkdir -p $(BUILD)/demo
	$(CLI) inspect $(WEIGHTS)
	$(CLI) synth --preset $(PRESET) --n-per-line 200 --seed 7 --out $(BUILD)/demo/data --force --quiet
	$(CLI) windows --weights $(WEIGHTS) --data $(BUILD)/demo/data --out $(BUILD)/demo/iq.npy
	$(CLI) predict --weights $(WEIGHTS) --iq $(BUILD)/demo/iq.npy --out $(BUILD)/demo/energies.npy --quiet
	$(CLI) evaluate --weights $(WEIGHTS) --data $(BUILD)/demo/data --fixed --json $(BUILD)/reports/demo_evaluate.json \
	    --plots $(BUILD)/reports --quiet
	$(MAKE) --no-print-directory csim WEIGHTS=$(WEIGHTS)
	$(MAKE) --no-print-directory cosim WEIGHTS=$(WEIGHTS) COSIM_WINDOWS=10
	@$(PYTHON) scripts/demo_summary.py $(BUILD)/reports

export: setup
	$(CLI) export --weights $(WEIGHTS)

csim: setup
	$(CLI) synth --preset $(PRESET) --n-per-line 200 --seed 5 --out $(BUILD)/csim/data --force --quiet
	$(CLI) windows --weights $(WEIGHTS) --data $(BUILD)/csim/data --out $(BUILD)/csim/iq.npy
	$(PYTHON) -m venom_fpga.hls.csim --weights $(WEIGHTS) --iq $(BUILD)/csim/iq.npy --report $(BUILD)/reports/csim.json

hls: export
	PYTHON=$(PYTHON) scripts/run_vitis_hls.sh $(HLS_PRJ)

rtl: setup
	for n in $(LANES); do $(PYTHON) -m venom_fpga.rtl.export --weights $(WEIGHTS) --lanes $$n \
	    --out rtl/generated/$(basename $(notdir $(WEIGHTS)))_l$$n; done

cosim: setup
	SIM=$(SIM) $(PYTHON) scripts/rtl_cosim.py --weights $(WEIGHTS) --lanes $(LANES) \
	    --windows $(COSIM_WINDOWS) --out $(BUILD)/reports/cosim.json

resources: setup
	$(PYTHON) scripts/rtl_resources.py --weights $(WEIGHTS) --lanes $(LANES) --out $(BUILD)/reports/resources.json

vivado: setup
	REPORT=$(BUILD)/reports/vivado.json PYTHON=$(PYTHON) scripts/run_vivado.sh \
	    $(foreach n,$(LANES),rtl/generated/$(basename $(notdir $(WEIGHTS)))_l$(n))

clean:
	rm -rf $(BUILD) sim_build .pytest_cache
