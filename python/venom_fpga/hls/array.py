# SPDX-License-Identifier: BSD-3-Clause
"""The HLS C++ array (``venom_array``, hls/include/venom/array.h) as the array model sees it, and its C simulation
under the array model's token streams.

The C++ array obeys the array contract of DESIGN.md §3.1 with the same token and record words as the Verilog
(:func:`venom_fpga.rtl.array.stream_layouts`) and the same slots, fold, head interval, head queue and record FIFO.
Its clock behaviour in C simulation is that of the array model (:mod:`venom_fpga.rtl.array_model`) with latencies
of one clock: the C simulation (``venom_csim_array`` in the generated venom_csim.cpp) runs every process body in the
clocks the hardware runs it -- per clock the record port (when the consumer is ready), the head (once per head
interval, when a window waits), the step (once per beat of F clocks) and the drop counters -- so a window's head
request is seen one clock after its last token (step latency 1) and a record is in the FIFO one clock after its
head start (head latency 1). Vitis schedules deeper pipelines: the RTL it makes keeps the records, their order and
values, and moves their clocks by its latencies (its csynth report gives them).
"""

from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from venom_fpga.errors import VenomError
from venom_fpga.rtl.array_model import ArrayTiming

STEP_LATENCY = 1  # clocks from a last token to its head request, in the C simulation
HEAD_LATENCY = 1  # clocks from a head start to its record in the FIFO
STATE_STORAGE = ("bram", "uram")
MAX_VALUE = (1 << 31) - 1  # every field is a `static const unsigned` of config_array, and an int in the C simulation


class ArraySpecError(VenomError):
    """An array configuration the C++ array cannot take, explained in one line."""


@dataclass(frozen=True)
class ArraySpec:
    """The configuration of one C++ array (what parameters.h's config_array says)."""

    slots: int
    channels: int
    length: int
    fold: int
    head_interval: int
    head_queue: int
    record_fifo: int
    period: int  # clocks per model-rate sample period (the token source's; sets the slot distance)
    state_storage: str = "bram"

    def __post_init__(self) -> None:
        for name in ("slots", "channels", "length", "fold", "head_interval", "head_queue", "record_fifo", "period"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= MAX_VALUE:
                raise ArraySpecError(f"array: {name} must be an integer in 1..{MAX_VALUE} (a C++ unsigned), "
                                     f"got {v!r}")
        if self.fold & (self.fold - 1) or self.period % self.fold:
            raise ArraySpecError(f"array: the fold ({self.fold}) must be a power of two dividing the period "
                                 f"({self.period} clocks): tokens come on beats of F clocks")
        if self.state_storage not in STATE_STORAGE:
            raise ArraySpecError(f"array: state storage must be one of {STATE_STORAGE}, got {self.state_storage!r}")
        self.timing()  # S fits the period at this fold

    # the interface array_sim's segments read (as of an rtl.array.ArrayDesign)
    step_latency = STEP_LATENCY
    head_latency = HEAD_LATENCY

    def timing(self, period: int | None = None) -> ArrayTiming:
        try:
            return ArrayTiming(self.fold, self.slots, period or self.period, self.length, STEP_LATENCY,
                               self.head_interval, HEAD_LATENCY, self.head_queue, self.record_fifo)
        except ValueError as exc:
            raise ArraySpecError(str(exc)) from None

    @property
    def slot_distance(self) -> int:
        """The least beats between two tokens of one slot (the DEPENDENCE distance of the slot state)."""
        return self.timing().min_spacing // self.fold


def planned_spec(model, meta, length: int, channels: int, rate_cps: float = 1000.0,
                 sample_rate: float | None = None) -> ArraySpec:
    """The array the planner chooses (``venom-fpga plan``) for ``channels`` channels at ``rate_cps`` counts/s
    (``model``: a FixedModel, ``meta``: its checkpoint's metadata)."""
    from venom_fpga.rtl import planner
    from venom_fpga.target import CLOCK_MHZ

    sample_rate = sample_rate or planner.model_sample_rate(meta)
    chosen, _ = planner.choose(model, channels, rate_cps, CLOCK_MHZ * 1e6, sample_rate, length)
    if chosen is None:
        raise ArraySpecError("no array configuration fits the default budget (venom-fpga plan)")
    tm = chosen.timing
    return ArraySpec(tm.slots, channels, length, tm.fold, tm.head_interval, tm.head_queue, tm.record_fifo, tm.period)


def predict_spec(length: int) -> ArraySpec:
    """A small array for running windows (``predict --backend csim``): as many channels and slots as the RTL
    backend's array (16), one token and one head start per clock at most."""
    from venom_fpga.rtl.array_sim import PREDICT_CHANNELS

    c = PREDICT_CHANNELS
    return ArraySpec(c, c, length, 1, 1, 4, 16, period=c)


# ------------------------------------------------------------------------------------------------ C simulation
def run_stream(lib, segments: list) -> dict[str, np.ndarray]:
    """Run array_sim segments through a compiled C simulation (``export.CsimLibrary``); returns what it saw in the
    form :func:`venom_fpga.rtl.array_sim.compare` reads (records per segment, drops per channel)."""
    i64p = ctypes.POINTER(ctypes.c_int64)
    ptr = lambda a: a.ctypes.data_as(i64p)  # noqa: E731
    spec = lib.spec
    out: dict[str, Any] = {}
    drops = np.zeros(spec.channels, dtype=np.int64)
    total = 0
    t0, clocks = time.time(), 0
    for s, g in enumerate(segments):
        st = g.stream
        wins = st.windows
        fields = [st.clock, g.inputs[:, 0] if len(st.clock) else st.clock, g.inputs[:, 1] if len(st.clock) else st.clock,
                  st.t, st.slot, np.array([wins[w].channel for w in st.window], dtype=np.int64),
                  np.array([wins[w].start for w in st.window], dtype=np.int64)]
        fields = [np.ascontiguousarray(f, dtype=np.int64) for f in fields]
        tready = np.ascontiguousarray(g.tready, dtype=np.int64)
        cap = len(wins) + 1
        rec = np.zeros((cap, 5), dtype=np.int64)
        seg_drops = np.zeros(spec.channels, dtype=np.int64)
        seg_total = np.zeros(1, dtype=np.int64)
        n = lib.lib.venom_csim_array(len(st.clock), *[ptr(f) for f in fields], int(g.clocks), ptr(tready),
                                     len(tready), cap, ptr(rec), ptr(seg_drops), ptr(seg_total))
        if n < 0:
            raise RuntimeError(f"venom_csim_array: segment {s}: " + {
                -1: "a token is not on a beat of F clocks, or tokens are out of clock order",
                -2: "more records than windows"}.get(n, f"error {n}"))
        for j, name in enumerate(("clock", "mu", "log_var", "channel", "time")):
            out[f"s{s}_{name}"] = rec[:n, j].copy()
        drops += seg_drops
        total += int(seg_total[0])
        clocks += int(g.clocks)
    out["drops"] = drops
    out["drop_total"] = np.array(total)
    out["stream_clocks"] = np.array(clocks)
    out["stream_wall_s"] = np.array(time.time() - t0)
    return out
