# SPDX-License-Identifier: BSD-3-Clause
"""End-to-end test of the generated venom_top (inside venom_top_tb, which generates the clock in HDL): windows of
input codes in, (mu, log_var) codes out, bit-exact against the fixed-point golden model (vectors prepared by
python/venom_fpga/rtl/sim.py run_rtl: tests/rtl/test_cocotb.py, the co-simulation, the ``rtl`` backend).

Environment: VENOM_VECTORS (an .npz with ``codes`` (N, L, 2) and ``expected`` (N, 2)), VENOM_SCENARIO (JSON:
``idle`` / ``backpressure`` with probability ``p`` and ``seed``, ``reset_mid_window``, ``driver``, ``no_check``),
VENOM_STATS (optional JSON output: cycles per sample, latency), VENOM_RESULTS (optional .npy of the records).

Drivers: ``fast`` (default), the event-driven common.axis.AxisSource/AxisSink: Python wakes a few times per
sample (~1,000 cycles for the shipped model), not every cycle: under Verilator ~0.4-0.6M cycles/s (LANES 4/8,
built without --public-flat-rw) instead of the ~10k cycles/s of a cocotb Clock + per-cycle Python, so 50 shipped
windows take ~10 s; Icarus stays at its own ~3-6k cycles/s (a plain Verilog testbench is no faster).
``cocotbext``: cocotbext-axi's source/sink with per-cycle random pauses (and a cocotb Clock, see below), an
independent reference for the protocol, only for small models.
"""

from __future__ import annotations

import json
import os
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer
from cocotbext.axi import AxiStreamFrame, AxiStreamSink, AxiStreamSource

from common.axis import (AxisSink, AxisSource, HandshakeMonitor, VitisAxiStreamBus, bit, random_pause, sext,
                         sim_cycle)

from venom_fpga.target import IQ_FIELD_BITS, IQ_WORD_BITS, RECORD_BITS, RECORD_FIELD_BITS

CLK_NS = 2  # venom_top_tb: always #1 ap_clk = ~ap_clk
# A stream that makes no handshake for this many cycles has hung (the engine needs ~1,000 cycles per sample).
STALL_CYCLES = 200_000


def pack_iq(codes: np.ndarray) -> list[int]:
    """(L, 2) input codes -> iq_in_TDATA words (I in the low field, Q in the high one)."""
    mask = (1 << IQ_FIELD_BITS) - 1
    return [(int(i) & mask) | ((int(q) & mask) << IQ_FIELD_BITS) for i, q in codes]


def beats(codes: np.ndarray, last: bool = True) -> list[tuple[int, int]]:
    words = pack_iq(codes)
    return [(w, int(last and k == len(words) - 1)) for k, w in enumerate(words)]


def unpack_record(data: int) -> tuple[int, int]:
    """energy_out_TDATA -> (mu, log_var) codes."""
    return sext(data, RECORD_FIELD_BITS), sext(data >> RECORD_FIELD_BITS, RECORD_FIELD_BITS)


async def reset(dut):
    dut.ap_rst_n.value = 0
    await Timer(4 * CLK_NS, "ns")
    dut.ap_rst_n.value = 1
    await Timer(2 * CLK_NS, "ns")


async def watchdog(progress, what: str):
    """Fail when ``progress()`` (a count of handshakes) stays the same for STALL_CYCLES cycles."""
    last = -1
    while True:
        now = progress()
        assert now != last, f"{what}: no handshake for {STALL_CYCLES} cycles (at cycle {sim_cycle(CLK_NS)})"
        last = now
        await Timer(STALL_CYCLES * CLK_NS, "ns")


async def stream_cocotbext(dut, codes: np.ndarray, sc: dict, logs: list) -> tuple[list, list]:
    """All windows through cocotbext-axi; returns the input handshakes and the records. (With venom_top's ports
    driven directly, Verilator 5.006 + cocotb 1.9 lost writes to ap_rst_n once these existed; with ap_rst_n a reg of
    venom_top_tb they are kept, under either clock.)"""
    clk = dut.ap_clk
    mon_in = HandshakeMonitor(dut, "iq_in", clk, CLK_NS)
    cocotb.start_soon(mon_in.run())
    logs.append(mon_in.log)
    source = AxiStreamSource(VitisAxiStreamBus.from_prefix(dut, "iq_in"), clk, byte_size=IQ_WORD_BITS)
    sink = AxiStreamSink(VitisAxiStreamBus.from_prefix(dut, "energy_out"), clk, byte_size=RECORD_FIELD_BITS)
    if sc.get("idle"):
        source.set_pause_generator(random_pause(sc.get("seed", 1), sc.get("p", 0.3)))
    if sc.get("backpressure"):
        sink.set_pause_generator(random_pause(sc.get("seed", 1) + 7, sc.get("p", 0.3)))
    for w in range(codes.shape[0]):
        await source.send(AxiStreamFrame(tdata=pack_iq(codes[w])))
    received = []
    for _ in range(codes.shape[0]):
        rx = await sink.recv()
        received.append((sext(rx.tdata[0], RECORD_FIELD_BITS), sext(rx.tdata[1], RECORD_FIELD_BITS)))
    await Timer(20 * CLK_NS, "ns")
    assert sink.empty(), "more records than windows"
    return mon_in.log, received


@cocotb.test()
async def run(dut):
    vec = np.load(os.environ["VENOM_VECTORS"])
    codes, expected = vec["codes"], vec["expected"]
    n = codes.shape[0]
    sc = json.loads(os.environ.get("VENOM_SCENARIO", "{}"))
    seed, p = sc.get("seed", 1), sc.get("p", 0.3)
    fast = sc.get("driver", "fast") == "fast"
    assert (len(dut.iq_in_TDATA), len(dut.energy_out_TDATA)) == (IQ_WORD_BITS, RECORD_BITS), \
        "stream widths differ from venom_fpga.target's"
    clk = dut.ap_clk
    if not fast:  # cocotbext-axi reads TREADY/TVALID in RisingEdge(clk): with an HDL clock Verilator shows it the
        # values after the edge (the callback runs after eval), so it would miss or invent handshakes
        try:
            clock = Clock(clk, CLK_NS, units="ns")
        except TypeError:  # cocotb 2.x
            clock = Clock(clk, CLK_NS, unit="ns")
        cocotb.start_soon(clock.start())
    t_start = time.time()
    await FallingEdge(clk)
    # the output side is watched from the start: a record of the half window before the reset below fails the checks
    source = AxisSource(dut, "iq_in", clk, CLK_NS, seed, p if sc.get("idle") else 0.0)
    if fast:
        sink = AxisSink(dut, "energy_out", clk, CLK_NS, seed + 7, p if sc.get("backpressure") else 0.0)
        cocotb.start_soon(sink.run())
        out_log = sink.records
    else:
        mon_out = HandshakeMonitor(dut, "energy_out", clk, CLK_NS, active=lambda: bit(dut.ap_rst_n))
        cocotb.start_soon(mon_out.run())
        out_log = mon_out.log
    logs = [source.log, out_log]
    cocotb.start_soon(watchdog(lambda: sum(map(len, logs)), "stream"))
    await reset(dut)
    if sc.get("reset_mid_window"):  # half a window, then a reset: nothing may come out of it
        await source.send(beats(codes[0][: max(codes.shape[1] // 2, 1)], last=False))
        await Timer(10 * CLK_NS, "ns")  # the engine is busy with the last accepted sample
        await reset(dut)
        source.log.clear()
    if fast:
        await source.send([b for w in range(n) for b in beats(codes[w])])
        await sink.wait_records(n)
        in_log = source.log
        received = [unpack_record(d) for _, d in sink.records]
        lasts = [c for c, t in in_log if t]
        # long enough for a spurious extra record: as long as the slowest record took after its TLAST
        await Timer((max(c - t for (c, _), t in zip(out_log, lasts)) + 100) * CLK_NS, "ns")
    else:
        in_log, received = await stream_cocotbext(dut, codes, sc, logs)
    lasts = [c for c, t in in_log if t]
    out_cycles = [c for c, _ in out_log]
    assert len(in_log) == codes.shape[0] * codes.shape[1], f"{len(in_log)} input handshakes for {codes.shape[:2]}"
    assert [k for k, (_, t) in enumerate(in_log) if t] == list(range(codes.shape[1] - 1, len(in_log), codes.shape[1])),\
        "TLAST not on the last sample of each window"
    assert len(out_cycles) == n, f"{len(out_cycles)} records for {n} windows (exactly one per window expected)"
    early = [w for w in range(n) if out_cycles[w] <= lasts[w]]
    assert not early, f"records before their window's TLAST: windows {early[:8]}"
    received = np.asarray(received, dtype=np.int64).reshape(n, 2)
    mismatches = [w for w in range(n) if tuple(received[w]) != tuple(expected[w])]
    if os.environ.get("VENOM_RESULTS"):
        np.save(os.environ["VENOM_RESULTS"], received)
    if os.environ.get("VENOM_STATS"):
        gaps = [b[0] - a[0] for a, b in zip(in_log, in_log[1:]) if not a[1]]
        lat = [o - t for t, o in zip(lasts, out_cycles)]
        with open(os.environ["VENOM_STATS"], "w") as f:
            json.dump({"windows": n, "bit_exact": n - len(mismatches),
                       "min_cycles_between_samples": min(gaps) if gaps else None,
                       "latency_tlast_to_record_min": min(lat), "latency_tlast_to_record_max": max(lat),
                       "sim_cycles": sim_cycle(CLK_NS), "sim_wall_s": time.time() - t_start}, f)
    if mismatches and not sc.get("no_check"):
        w = mismatches[0]
        exp, got = expected[w], received[w]
        raise AssertionError(f"{len(mismatches)}/{n} windows differ; first: window {w} expected "
                             f"(mu, log_var) = ({int(exp[0]) & 0xFFFFFFFF:#x}, {int(exp[1]) & 0xFFFFFFFF:#x}) got "
                             f"({int(got[0]) & 0xFFFFFFFF:#x}, {int(got[1]) & 0xFFFFFFFF:#x})")
