# SPDX-License-Identifier: BSD-3-Clause
"""Shared cocotb helpers: the runner wrapper (run_cocotb), Vitis-named AXI-Stream buses, clock/reset, sign helpers."""
