# SPDX-License-Identifier: BSD-3-Clause
"""venom_engine on random programs (tests/rtl_random_program.py) against the instruction-level golden model IsaSim:
VENOM_ENGINE_CASES (a JSON written by tests/rtl/test_modules.py) lists the runs in order, each with its entry pc,
the input words written before it (in_we), the busy cycles IsaSim counts and the scratchpad words known afterwards.

Per run: write the input words while idle, pulse start with the entry pc, count the busy cycles (from the
simulation time of busy's falling edge: Python does not wake every cycle) and compare them with IsaSim's; then
  * out_d0 / out_d1 (the engine's only outputs, registered one cycle after the scratchpad write) against IsaSim's
    words OUT_ADDR / OUT_ADDR_LV, once a run has written them: every program ends with runs copying its written words
    there, so this check sees the random instructions' results on every simulator;
  * with VENOM_ENGINE_DMEM=1 (Icarus: the scratchpad arrays through the hierarchy), every known word of the
    scratchpad (bank g mod LANES, row g / LANES) in lane 0's copy of port A after every run and in every copy
    (lanes x ports A, B) after each program's last run.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from common.axis import sext

CLK_NS = 10


def _word(dut, lanes: int, addr: int, lane: int = 0, port: str = "a") -> int:
    arr = getattr(dut.g_bank[addr % lanes].g_port[lane], f"copy_{port}")
    return sext(int(arr[addr // lanes].value), len(dut.out_d0))


def _dmem_mismatch(dut, lanes: int, known: dict, copies) -> str | None:
    for lane, port in copies:
        for addr, exp in known.items():
            got = _word(dut, lanes, addr, lane, port)
            if got != exp:
                return f"scratchpad word {addr} (lane {lane} copy {port}): expected {exp:#x}, got {got:#x}"
    return None


@cocotb.test()
async def run(dut):
    cases = json.loads(Path(os.environ["VENOM_ENGINE_CASES"]).read_text())
    check_dmem = os.environ.get("VENOM_ENGINE_DMEM") == "1"
    lanes, dw = cases["params"]["LANES"], cases["params"]["DW"]
    assert (int(dut.LANES.value), len(dut.out_d0)) == (lanes, dw), "DUT parameters differ from the case file's"
    try:
        clock = Clock(dut.clk, CLK_NS, units="ns")
    except TypeError:  # cocotb 2.x
        clock = Clock(dut.clk, CLK_NS, unit="ns")
    cocotb.start_soon(clock.start())
    dut.rst.value = 1
    dut.start.value = 0
    dut.entry.value = 0
    dut.in_we.value = 0
    dut.in_d0.value = 0
    dut.in_d1.value = 0
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    assert int(dut.busy.value) == 0
    fails, n_words, n_out = [], 0, 0
    mask = (1 << dw) - 1
    for r in cases["runs"]:
        await FallingEdge(dut.clk)
        if r["inputs"] is not None:
            dut.in_we.value = 1
            dut.in_d0.value = r["inputs"][0] & mask
            dut.in_d1.value = r["inputs"][1] & mask
            await FallingEdge(dut.clk)
            dut.in_we.value = 0
        dut.start.value = 1
        dut.entry.value = r["pc"]
        await RisingEdge(dut.clk)  # start accepted: busy from this edge on
        t0 = get_sim_time("ns")
        await FallingEdge(dut.clk)
        dut.start.value = 0
        if int(dut.busy.value):
            await FallingEdge(dut.busy)
        cycles = round((get_sim_time("ns") - t0) / CLK_NS)
        if cycles != r["cycles"]:
            fails.append(f"{r['name']}: {cycles} busy cycles, IsaSim counts {r['cycles']}")
        await RisingEdge(dut.clk)  # out_d0 / out_d1: one register after the scratchpad write
        await FallingEdge(dut.clk)
        known = {int(a): v for a, v in r["known"].items()}
        if r["check_out"]:
            n_out += 1
            got = (sext(int(dut.out_d0.value), dw), sext(int(dut.out_d1.value), dw))
            exp = (known[cases["params"]["OUT_ADDR"]], known[cases["params"]["OUT_ADDR_LV"]])
            if got != exp:
                fails.append(f"{r['name']}: out_d0, out_d1 = {got[0]:#x}, {got[1]:#x}, expected "
                             f"{exp[0]:#x}, {exp[1]:#x}")
        if check_dmem:
            copies = [(ln, p) for ln in range(lanes) for p in "ab"] if r["program_end"] else [(0, "a")]
            n_words += len(known) * len(copies)
            msg = _dmem_mismatch(dut, lanes, known, copies)
            if msg:
                fails.append(f"{r['name']}: {msg}")
        if len(fails) >= 5:
            break
    dut._log.info("venom_engine: %d runs, %d output checks, %d scratchpad words compared, %d failures",
                  len(cases["runs"]), n_out, n_words, len(fails))
    assert not fails, f"{len(fails)} failures; " + "; ".join(fails)
    assert n_out > 0 and (n_words > 0 or not check_dmem)
