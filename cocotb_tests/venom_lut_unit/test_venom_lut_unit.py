"""venom_lut_unit against lut.Lut.evaluate: every table of a generated model, random and edge input codes; the
unit's exact value and right shift are rounded here with the table's output format (venom_quant is tested alone).
VENOM_LUT_CASES: an .npz written by tests/test_rtl_cocotb.py (fields per case + expected output code)."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import RisingEdge, Timer

from common.axis import sext

from venom_fpga.rtl_isa import quant

FIELDS = ("kind", "tbase", "lo", "hi", "s", "f_in", "nmax", "sh_relu", "sh_v", "rshift")


@cocotb.test()
async def run(dut):
    c = np.load(os.environ["VENOM_LUT_CASES"], allow_pickle=True)
    try:
        clk = Clock(dut.clk, 2, units="ns")
    except TypeError:
        clk = Clock(dut.clk, 2, unit="ns")
    cocotb.start_soon(clk.start())
    dw, acc_w = len(dut.x), len(dut.val)
    bad = []
    for n in range(len(c["x"])):
        dut.x.value = int(c["x"][n]) & ((1 << dw) - 1)
        for f in FIELDS:
            v = int(c[f][n])
            getattr(dut, f).value = v & ((1 << len(getattr(dut, f))) - 1)
        dut.rd_en.value = 1
        await Timer(1, "ns")
        await RisingEdge(dut.clk)
        dut.rd_en.value = 0
        await Timer(1, "ns")
        val = sext(int(dut.val.value), acc_w)
        rs = int(dut.rshift_out.value)
        got = quant(val, rs, int(c["width"][n]), bool(c["signed"][n]), str(c["rnd"][n]), str(c["ovf"][n]))
        if got != int(c["expected"][n]):
            bad.append((n, str(c["name"][n]), int(c["x"][n]), int(c["expected"][n]), got))
    if bad:
        n, name, x, e, g = bad[0]
        raise AssertionError(f"{len(bad)}/{len(c['x'])} mismatches; first: case {n} table {name} x={x:#x}: "
                             f"expected {e & 0xFFFFFFFF:#x} got {g & 0xFFFFFFFF:#x}")
