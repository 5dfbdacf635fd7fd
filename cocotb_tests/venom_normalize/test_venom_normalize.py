# SPDX-License-Identifier: BSD-3-Clause
"""venom_normalize against the golden normalize_int (rtl/isa.py; = lut.normalize / normalize_even) and IsaSim's NORM_N
exponent clip((p >> halve) + off, lo, hi) + add: every case of VENOM_NORMALIZE_CASES (an .npz written by
tests/rtl/test_modules.py) is driven and both outputs are compared as the module's DW-bit words (mant unsigned,
expo signed).

Only val >= 1 is driven: IsaSim.exec raises ValueError before normalising an accumulator < 1, so the module's
output for val <= 0 (mant 0 for val 0, a meaningless word for a negative val) is never relied upon."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import Timer

from common.axis import sext

FIELDS = ("val", "mant_frac", "even", "halve", "off", "lo", "hi", "add")


@cocotb.test()
async def run(dut):
    cases = np.load(os.environ["VENOM_NORMALIZE_CASES"])
    acc_w = len(dut.val)
    dw = len(dut.mant)
    assert (acc_w, dw, len(dut.expo)) == (int(cases["acc_w"]), int(cases["dw"]), int(cases["dw"])), \
        f"DUT widths ACC_W={acc_w} DW={dw} differ from the case table's"
    n = len(cases["val"])
    bad = []
    for row in zip(*(cases[k] for k in FIELDS + ("mant", "expo"))):
        val, mf, even, halve, off, lo, hi, add, mant, expo = (int(x) for x in row)
        dut.val.value = val
        dut.mant_frac.value = mf
        dut.even.value = even
        dut.halve.value = halve
        dut.off.value = off & 0xFF
        dut.lo.value = lo
        dut.hi.value = hi
        dut.add.value = add & 0xFF
        await Timer(1, "ns")
        got_m = int(dut.mant.value)
        got_e = sext(int(dut.expo.value), dw)
        if (got_m, got_e) != (mant, expo):
            bad.append((val, mf, even, halve, off, lo, hi, add, mant, expo, got_m, got_e))
    dut._log.info("venom_normalize: %d cases, %d mismatches", n, len(bad))
    if bad:
        v = bad[0]
        raise AssertionError(f"{len(bad)}/{n} mismatches; first: val {v[0]:#x} mant_frac={v[1]} even={v[2]} "
                             f"halve={v[3]} off={v[4]} lo={v[5]} hi={v[6]} add={v[7]}: expected mant {v[8]:#x} "
                             f"expo {v[9]}, got mant {v[10]:#x} expo {v[11]}")
