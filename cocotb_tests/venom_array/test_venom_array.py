# SPDX-License-Identifier: BSD-3-Clause
"""The array top (generated venom_array) under a token stream: every clock as the case says, records observed.

The case (VENOM_ARRAY_CASE, written by venom_fpga.rtl.array_sim) holds segments: per segment the clock, fields and
input codes of every token, the consumer's TREADY per clock, how many clocks to run and the reset cycles after it.
The testbench drives exactly that and writes what it sees (VENOM_ARRAY_OUT): per segment the clock, mu, log_var,
channel and time of every record that left, then every channel's drop counter, the clocks run and their wall time. The comparison with the array model
is in Python (array_sim.compare), so the same run serves the tests, `make cosim` and `predict --backend rtl`.
Inputs change on the falling edge, outputs are sampled there: clock n is the cycle after rising edge n."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from venom_fpga.rtl.array import StreamLayout, StreamField

RESET_CYCLES = 4


def _layout(spec: dict) -> StreamLayout:
    return StreamLayout(tuple(StreamField(name, lsb, bits) for name, (lsb, bits) in spec.items()))


@cocotb.test()
async def token_stream(dut):
    case = np.load(os.environ["VENOM_ARRAY_CASE"])
    params = json.loads((Path(os.environ["VENOM_ARRAY_DIR"]) / "params.json").read_text())
    tok, rec = _layout(params["token"]), _layout(params["record"])
    cocotb.start_soon(Clock(dut.ap_clk, 2, "ns").start())
    dut.token_TVALID.value = 0
    dut.token_TDATA.value = 0
    dut.record_TREADY.value = 0
    dut.drop_addr.value = 0
    dut.ap_rst_n.value = 0
    for _ in range(RESET_CYCLES):
        await FallingEdge(dut.ap_clk)
    out: dict[str, np.ndarray] = {}
    t0, clocks_run = time.time(), 0
    for s in range(int(case["segments"])):
        g = lambda k: case[f"s{s}_{k}"]  # noqa: E731
        clocks, tready = int(g("clocks")), g("tready")
        tclock = g("clock")
        words = [tok.pack(i=i, q=q, t=t, slot=sl, channel=ch, time=tm) for i, q, t, sl, ch, tm in
                 zip(*(g(k).tolist() for k in ("i", "q", "t", "slot", "channel", "time")))]
        dut.ap_rst_n.value = 1
        seen: list[tuple[int, ...]] = []
        k = 0
        for n in range(clocks):
            await FallingEdge(dut.ap_clk)
            if k < len(tclock) and tclock[k] == n:
                dut.token_TDATA.value = words[k]
                dut.token_TVALID.value = 1
                k += 1
            else:
                dut.token_TVALID.value = 0
            ready = bool(tready[n]) if n < len(tready) else True
            dut.record_TREADY.value = int(ready)
            if ready and int(dut.record_TVALID.value):
                r = rec.unpack(int(dut.record_TDATA.value), signed=("mu", "log_var"))
                seen.append((n, r["mu"], r["log_var"], r["channel"], r["time"]))
        assert k == len(tclock), f"segment {s}: {len(tclock) - k} tokens after its last clock"
        clocks_run += clocks
        a = np.array(seen, dtype=np.int64).reshape(-1, 5)
        for j, name in enumerate(("clock", "mu", "log_var", "channel", "time")):
            out[f"s{s}_{name}"] = a[:, j]
        # a reset between segments: nothing in flight survives it
        await FallingEdge(dut.ap_clk)
        dut.token_TVALID.value = 0
        dut.record_TREADY.value = 0
        dut.ap_rst_n.value = 0
        for _ in range(int(g("reset_after"))):
            await FallingEdge(dut.ap_clk)
    dut.ap_rst_n.value = 1
    drops = []
    for ch in range(int(params["channels"])):
        dut.drop_addr.value = ch
        await FallingEdge(dut.ap_clk)
        await FallingEdge(dut.ap_clk)
        drops.append(int(dut.drop_count.value))
    out["drops"] = np.array(drops, dtype=np.int64)
    out["stream_clocks"] = np.array(clocks_run)
    out["stream_wall_s"] = np.array(time.time() - t0)
    out["drop_total"] = np.array(int(dut.drop_total.value))
    np.savez(os.environ["VENOM_ARRAY_OUT"], **out)
