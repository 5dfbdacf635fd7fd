# SPDX-License-Identifier: BSD-3-Clause
"""AXI4-Stream helpers for the Vitis-HLS port naming (``<arg>_TDATA``, ``_TVALID``, ``_TREADY``, ``_TLAST``).

Two kinds of stream drivers:

- ``AxisSource`` / ``AxisSink``: event-driven, for a DUT clocked in HDL (a simulation wrapper with ``always #``).
  Python wakes a few times per transfer: on TREADY/TVALID edges, the handshake clock edge and the falling edge that
  follows, never once per idle cycle. Values are written and handshake conditions sampled at falling edges, where
  the (posedge) design is stable, so neither simulator's ordering of same-time events matters. Cycle numbers come
  from the simulation time, not from counting edges.
- cocotbext-axi (``VitisAxiStreamBus`` + ``AxiStreamSource``/``AxiStreamSink`` with ``random_pause``), an
  independent reference implementation that resumes Python every clock cycle, with ``HandshakeMonitor`` (also per
  cycle) for the handshake cycle numbers.
"""

from __future__ import annotations

import itertools
import random

from cocotb.triggers import Event, FallingEdge, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time
from cocotbext.axi import AxiStreamBus


class VitisAxiStreamBus(AxiStreamBus):
    """cocotbext-axi bus bound to upper-case Vitis names."""

    _signals = {"tdata": "TDATA"}
    _optional_signals = {"tvalid": "TVALID", "tready": "TREADY", "tlast": "TLAST"}


def sext(v: int, w: int) -> int:
    v &= (1 << w) - 1
    return v - (1 << w) if v >> (w - 1) else v


def random_pause(seed: int, p: float = 0.3):
    """Pause generator for set_pause_generator(): pause with probability p, reproducible."""
    rng = random.Random(seed)
    return (rng.random() < p for _ in itertools.count())


def bit(sig) -> int:
    """A 1-bit signal's value, 0 while X/Z."""
    v = sig.value
    return int(v) if v.is_resolvable else 0


def sim_cycle(period_ns: float) -> int:
    """Index of the clock period the simulation time is in."""
    return int(get_sim_time("ns") // period_ns)


class _Port:
    """The four Vitis-named signals of one AXI4-Stream port of ``dut``."""

    def __init__(self, dut, prefix: str, clk, period_ns: float):
        self.clk, self.period_ns = clk, period_ns
        self.tdata = getattr(dut, f"{prefix}_TDATA")
        self.tvalid = getattr(dut, f"{prefix}_TVALID")
        self.tready = getattr(dut, f"{prefix}_TREADY")
        self.tlast = getattr(dut, f"{prefix}_TLAST", None)

    async def cycles(self, n: int):
        """Wait ``n`` clock periods (keeps the phase: from a falling edge to a falling edge)."""
        if n > 0:
            await Timer(n * self.period_ns, "ns")


class AxisSource(_Port):
    """Event-driven AXI4-Stream master. Before each transfer TVALID drops for 1..max_idle cycles with probability
    ``idle_p`` (reproducible ``seed``). TDATA/TLAST are written together with TVALID at a falling edge and held until
    the handshake. ``log``: (cycle, tlast) of every handshake."""

    def __init__(self, dut, prefix: str, clk, period_ns: float, seed: int = 0, idle_p: float = 0.0,
                 max_idle: int = 4):
        super().__init__(dut, prefix, clk, period_ns)
        self.rng, self.idle_p, self.max_idle = random.Random(seed), idle_p, max_idle
        self.log: list[tuple[int, int]] = []
        self.tvalid.value = 0
        if self.tlast is not None:
            self.tlast.value = 0

    async def send(self, beats):
        """Transfer ``beats`` ((tdata, tlast) pairs) back to back, apart from the random idle cycles."""
        await FallingEdge(self.clk)
        for data, last in beats:
            if self.idle_p and self.rng.random() < self.idle_p:
                self.tvalid.value = 0
                await self.cycles(self.rng.randint(1, self.max_idle))
            self.tdata.value = data
            if self.tlast is not None:
                self.tlast.value = int(last)
            self.tvalid.value = 1
            await ReadOnly()
            while not bit(self.tready):  # sleep until the slave is ready; check again where values are stable
                await RisingEdge(self.tready)
                await FallingEdge(self.clk)
                await ReadOnly()
            await RisingEdge(self.clk)  # TVALID and TREADY high: the transfer happens at this edge
            self.log.append((sim_cycle(self.period_ns), int(last)))
            await FallingEdge(self.clk)
        self.tvalid.value = 0


class AxisSink(_Port):
    """Event-driven AXI4-Stream slave (call ``start()`` once). With ``bp_p`` > 0, TREADY is low between transfers
    and, once TVALID is seen, stays low for 1..max_delay more cycles with probability ``bp_p``; else TREADY stays
    high. Checks that the master holds TVALID and TDATA until the handshake. ``records``: (cycle, tdata)."""

    def __init__(self, dut, prefix: str, clk, period_ns: float, seed: int = 0, bp_p: float = 0.0,
                 max_delay: int = 4):
        super().__init__(dut, prefix, clk, period_ns)
        self.rng, self.bp_p, self.max_delay = random.Random(seed), bp_p, max_delay
        self.records: list[tuple[int, int]] = []
        self._arrived = Event()
        self.tready.value = int(not bp_p)

    async def run(self):
        await FallingEdge(self.clk)
        while True:
            if not bit(self.tvalid):
                await RisingEdge(self.tvalid)  # the DUT drives TVALID after a rising edge: the next falling
                await FallingEdge(self.clk)  # edge comes before the handshake edge
                continue
            assert self.tdata.value.is_resolvable, f"{self.tdata._name} = {self.tdata.value} (X/Z) with TVALID high"
            data = int(self.tdata.value)
            if self.bp_p and self.rng.random() < self.bp_p:
                await self.cycles(self.rng.randint(1, self.max_delay))
                assert bit(self.tvalid), f"{self.tvalid._name} dropped without a handshake"
                assert int(self.tdata.value) == data, f"{self.tdata._name} changed without a handshake"
            self.tready.value = 1
            await RisingEdge(self.clk)
            self.records.append((sim_cycle(self.period_ns), data))
            self._arrived.set()
            await FallingEdge(self.clk)
            if self.bp_p:
                self.tready.value = 0

    async def wait_records(self, n: int):
        while len(self.records) < n:
            self._arrived.clear()
            await self._arrived.wait()


class HandshakeMonitor(_Port):
    """Passive per-cycle monitor (for the cocotbext-axi drivers): (cycle, tlast) of every handshake, sampled at the
    falling edge before the transfer edge, only while ``active`` (e.g. out of reset)."""

    def __init__(self, dut, prefix: str, clk, period_ns: float, active=lambda: True):
        super().__init__(dut, prefix, clk, period_ns)
        self.active = active
        self.log: list[tuple[int, int]] = []

    async def run(self):
        while True:
            await FallingEdge(self.clk)
            if self.active() and bit(self.tvalid) and bit(self.tready):
                self.log.append((sim_cycle(self.period_ns), bit(self.tlast) if self.tlast is not None else 0))
