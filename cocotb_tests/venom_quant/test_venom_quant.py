# SPDX-License-Identifier: BSD-3-Clause
"""venom_quant against the golden QFormat.quantize: random and edge values, every rounding/overflow mode used by
ap_fixed, widths and shifts from VENOM_QUANT_CASES (an .npz written by tests/rtl/test_cocotb.py)."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.triggers import Timer

from common.axis import sext


@cocotb.test()
async def run(dut):
    cases = np.load(os.environ["VENOM_QUANT_CASES"])
    acc_w = len(dut.val)
    dw = len(dut.code)
    bad = []
    for val, rs, w, sg, rnd, ovf, exp in zip(*(cases[k] for k in ("val", "rshift", "width", "signed", "rnd", "ovf",
                                                                     "expected"))):
        dut.val.value = int(val) & ((1 << acc_w) - 1)
        dut.rshift.value = int(rs)
        dut.width.value = int(w)
        dut.is_signed.value = int(sg)
        dut.rnd.value = int(rnd)
        dut.ovf.value = int(ovf)
        await Timer(1, "ns")
        got = sext(int(dut.code.value), dw)
        if got != int(exp):
            bad.append((int(val), int(rs), int(w), int(sg), int(rnd), int(ovf), int(exp), got))
    if bad:
        v = bad[0]
        raise AssertionError(f"{len(bad)}/{len(cases['val'])} mismatches; first: val {v[0]:#x} >> {v[1]} into "
                             f"W={v[2]} signed={v[3]} rnd={v[4]} ovf={v[5]}: expected {v[6] & 0xFFFFFFFF:#x} "
                             f"got {v[7] & 0xFFFFFFFF:#x}")
