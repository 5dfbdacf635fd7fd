"""Shared cocotb helpers: the runner wrapper (run_cocotb), Vitis-named AXI-Stream buses, clock/reset, sign helpers."""
