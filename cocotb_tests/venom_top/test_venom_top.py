"""End-to-end test of the generated venom_top: windows of input codes in, (mu, log_var) codes out, bit-exact against
the fixed-point golden model (vectors prepared by the pytest wrapper, tests/test_rtl_top.py, or scripts/rtl_cosim.py).

Environment: VENOM_VECTORS (an .npz with ``codes`` (N, L, 2) and ``expected`` (N, 2)), VENOM_SCENARIO (idle /
backpressure / reset options, see ``run``), VENOM_STATS (optional JSON output: cycles per sample, latency).
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, Timer
from cocotbext.axi import AxiStreamFrame, AxiStreamSink, AxiStreamSource

from common.axis import VitisAxiStreamBus, random_pause, sext

LANE = 32


def bit(sig) -> int:
    v = sig.value
    return int(v) if v.is_resolvable else 0


class TB:
    def __init__(self, dut):
        self.dut = dut
        try:
            clk = Clock(dut.ap_clk, 2, units="ns")
        except TypeError:  # cocotb 2.x
            clk = Clock(dut.ap_clk, 2, unit="ns")
        cocotb.start_soon(clk.start())
        self.source = None
        self.sink = None
        self.cycle = 0
        self.in_hs: list[tuple[int, int]] = []  # (cycle, tlast)
        self.out_hs: list[int] = []
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        d = self.dut
        while True:
            await RisingEdge(d.ap_clk)
            self.cycle += 1
            if bit(d.ap_rst_n) == 1:
                if bit(d.iq_in_TVALID) and bit(d.iq_in_TREADY):
                    self.in_hs.append((self.cycle, bit(d.iq_in_TLAST)))
                if bit(d.energy_out_TVALID) and bit(d.energy_out_TREADY):
                    self.out_hs.append(self.cycle)

    def start_streams(self):
        """Create the cocotbext-axi source/sink. Only after the last reset: under Verilator 5.006 + cocotb 1.9, once
        they exist, our writes to ap_rst_n are lost (reads back 0, the simulation stalls), so the resets (and the half
        window before the mid-window reset) are driven by hand before."""
        d = self.dut
        self.source = AxiStreamSource(VitisAxiStreamBus.from_prefix(d, "iq_in"), d.ap_clk, byte_size=32)
        self.sink = AxiStreamSink(VitisAxiStreamBus.from_prefix(d, "energy_out"), d.ap_clk, byte_size=LANE)

    async def drive_partial(self, codes: np.ndarray):
        """Drive samples by hand (TLAST low), each until accepted."""
        d = self.dut
        for i, q in codes:
            d.iq_in_TDATA.value = (int(i) & 0xFFFF) | ((int(q) & 0xFFFF) << 16)
            d.iq_in_TLAST.value = 0
            d.iq_in_TVALID.value = 1
            while True:
                await RisingEdge(d.ap_clk)
                if bit(d.iq_in_TREADY):
                    break
        d.iq_in_TVALID.value = 0

    async def reset(self):
        self.dut.ap_rst_n.value = 0
        await ClockCycles(self.dut.ap_clk, 4)
        self.dut.ap_rst_n.value = 1
        await ClockCycles(self.dut.ap_clk, 2)


def frame(codes: np.ndarray) -> AxiStreamFrame:
    words = [(int(i) & 0xFFFF) | ((int(q) & 0xFFFF) << 16) for i, q in codes]
    return AxiStreamFrame(tdata=words)


@cocotb.test()
async def run(dut):
    vec = np.load(os.environ["VENOM_VECTORS"])
    codes, expected = vec["codes"], vec["expected"]
    sc = json.loads(os.environ.get("VENOM_SCENARIO", "{}"))
    tb = TB(dut)
    t_start = time.time()
    dut.ap_rst_n.value = 1
    dut.iq_in_TVALID.value = 0
    dut.iq_in_TLAST.value = 0
    dut.iq_in_TDATA.value = 0
    dut.energy_out_TREADY.value = 0
    await Timer(1, "ns")
    await tb.reset()
    if sc.get("reset_mid_window"):  # half a window, then a reset: nothing may come out of it
        half = max(codes.shape[1] // 2, 1)
        await tb.drive_partial(codes[0][:half])
        await ClockCycles(dut.ap_clk, 10)  # the engine is busy with the last accepted sample
        await tb.reset()
        tb.in_hs.clear()
    tb.start_streams()
    if sc.get("idle"):
        tb.source.set_pause_generator(random_pause(sc.get("seed", 1), sc.get("p", 0.3)))
    if sc.get("backpressure"):
        tb.sink.set_pause_generator(random_pause(sc.get("seed", 1) + 7, sc.get("p", 0.3)))
    for w in range(codes.shape[0]):
        await tb.source.send(frame(codes[w]))
    mismatches = []
    received = np.zeros((codes.shape[0], 2), dtype=np.int64)
    for w in range(codes.shape[0]):
        rx = await tb.sink.recv()
        got = (sext(rx.tdata[0], LANE), sext(rx.tdata[1], LANE))
        received[w] = got
        exp = (int(expected[w, 0]), int(expected[w, 1]))
        if got != exp:
            mismatches.append((w, exp, got))
    await ClockCycles(dut.ap_clk, 20)
    assert tb.sink.empty(), "more records than windows"
    if os.environ.get("VENOM_RESULTS"):
        np.save(os.environ["VENOM_RESULTS"], received)
    stats_path = os.environ.get("VENOM_STATS")
    if stats_path:
        ins = tb.in_hs
        gaps = [b[0] - a[0] for a, b in zip(ins, ins[1:]) if not a[1]]
        lasts = [c for c, t in ins if t]
        lat = [o - t for t, o in zip(lasts, tb.out_hs)]
        with open(stats_path, "w") as f:
            json.dump({"windows": int(codes.shape[0]), "bit_exact": int(codes.shape[0] - len(mismatches)),
                       "min_cycles_between_samples": min(gaps) if gaps else None,
                       "latency_tlast_to_record_min": min(lat) if lat else None,
                       "latency_tlast_to_record_max": max(lat) if lat else None, "sim_cycles": tb.cycle,
                       "sim_wall_s": time.time() - t_start}, f)
    if mismatches and not sc.get("no_check"):
        w, exp, got = mismatches[0]
        raise AssertionError(f"{len(mismatches)}/{codes.shape[0]} windows differ; first: window {w} expected "
                             f"(mu, log_var) = ({exp[0] & 0xFFFFFFFF:#x}, {exp[1] & 0xFFFFFFFF:#x}) got "
                             f"({got[0] & 0xFFFFFFFF:#x}, {got[1] & 0xFFFFFFFF:#x})")
