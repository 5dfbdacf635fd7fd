# SPDX-License-Identifier: BSD-3-Clause
"""venom_lut_unit against lut.Lut.evaluate: every table of a generated model, random and edge input codes; the
unit's exact value and right shift are rounded here with the table's output format (venom_quant is tested alone).
The cases stream back to back, one per clock with changing tables, and each result must appear exactly LATENCY
cycles later (the engine relies on it). VENOM_LUT_CASES: an .npz written by the pytest wrapper (fields per case +
expected output code)."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from common.axis import sext

from venom_fpga.rtl.isa import quant

FIELDS = ("kind", "tbase", "lo", "hi", "s", "f_in", "nmax", "sh_relu", "sh_v", "rshift")
LATENCY = 4  # cycles from x to val (rtl/venom_lut_unit.v, stage 2 -> 6 of rtl/venom_engine.v)


@cocotb.test()
async def run(dut):
    c = np.load(os.environ["VENOM_LUT_CASES"], allow_pickle=True)
    try:
        clk = Clock(dut.clk, 2, units="ns")
    except TypeError:
        clk = Clock(dut.clk, 2, unit="ns")
    cocotb.start_soon(clk.start())
    dw, acc_w = len(dut.x), len(dut.val)
    n_cases = len(c["x"])
    bad = []
    # inputs change and outputs are read at falling edges (stable values): case n enters before rising edge n
    for n in range(n_cases + LATENCY):
        await FallingEdge(dut.clk)
        m = n - LATENCY
        if m >= 0:
            val = sext(int(dut.val.value), acc_w)
            rs = int(dut.rshift_out.value)
            got = quant(val, rs, int(c["width"][m]), bool(c["signed"][m]), str(c["rnd"][m]), str(c["ovf"][m]))
            if got != int(c["expected"][m]):
                bad.append((m, str(c["name"][m]), int(c["x"][m]), int(c["expected"][m]), got))
        k = min(n, n_cases - 1)
        dut.en.value = 1
        dut.x.value = int(c["x"][k]) & ((1 << dw) - 1)
        for f in FIELDS:
            getattr(dut, f).value = int(c[f][k]) & ((1 << len(getattr(dut, f))) - 1)
    if bad:
        n, name, x, e, g = bad[0]
        raise AssertionError(f"{len(bad)}/{len(c['x'])} mismatches; first: case {n} table {name} x={x:#x}: "
                             f"expected {e & 0xFFFFFFFF:#x} got {g & 0xFFFFFFFF:#x}")
