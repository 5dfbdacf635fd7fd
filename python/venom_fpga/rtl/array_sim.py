# SPDX-License-Identifier: BSD-3-Clause
"""The array RTL (rtl/array.py's venom_array) under cocotb, compared with the array model exactly.

A *case* is a list of segments, each a token stream of the array model's front end (Poisson photons on N channels,
windows drawn from a pool of real input windows) with a consumer (TREADY per clock), run for a number of clocks and
followed by a reset. For each segment the array model (:func:`array_model.simulate`) says which records leave, in
which clock, and which windows are dropped; the fixed-point model says each record's values on its own window.
:func:`compare` checks the RTL's records (order, clock, mu, log_var, channel, time) and its per-channel drop counters
against that, integer for integer. Slot drops happen where slots are allocated (the front end: here the model); the
RTL counts the drops it makes itself (head queue, record FIFO).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from venom_fpga.fixed.model import FixedModel
from venom_fpga.paths import COCOTB_DIR
from venom_fpga.rtl import array
from venom_fpga.rtl.array_model import (ArrayResult, TokenStream, photon_windows, record_values, schedule, simulate,
                                        token_inputs)

RESET_CYCLES = 6  # between segments


@dataclass
class Segment:
    stream: TokenStream
    inputs: np.ndarray  # (tokens, 2) input codes
    tready: np.ndarray  # the consumer's TREADY per clock (beyond it: always ready)
    clocks: int  # clocks run; tokens at or after it are not sent
    result: ArrayResult  # the array model's, over the clocks run
    values: np.ndarray  # (records, 2) the fixed model's (mu, log_var) codes of each expected record


def consumer(tready: np.ndarray):
    """The array model's consumer of a TREADY pattern: the first clock >= c with TREADY high."""
    ready = np.flatnonzero(np.asarray(tready, dtype=bool))

    def first(c: int) -> int:
        i = int(np.searchsorted(ready, c))
        return int(ready[i]) if i < len(ready) else max(c, len(tready))
    return first


def segment(fm: FixedModel, design: array.ArrayDesign, pool: np.ndarray, rate_cps: float, n_periods: int,
            period: int, period_s: float, seed: int, ready_p: float = 1.0, clocks: int | None = None) -> Segment:
    """Poisson photons at ``rate_cps`` counts/s on every channel for ``n_periods`` model-rate periods of ``period``
    clocks (``period_s`` seconds); window data from ``pool`` (N, L, 2) input codes; TREADY high with probability
    ``ready_p`` per clock; run ``clocks`` clocks (default: until the last record has left)."""
    timing = design.timing(period)
    wins = photon_windows(design.channels, rate_cps, n_periods, period_s, design.length, len(pool), seed=seed)
    stream = schedule(wins, timing, design.channels)
    rng = np.random.default_rng(seed + 1)
    horizon = (n_periods + design.length + 2) * period + design.step_latency + design.head_latency
    tready = rng.random(horizon * 4) < ready_p
    result = simulate(stream, timing, consumer(tready))
    if clocks is None:
        clocks = max([r.leave + 1 for r in result.records] + [int(stream.clock.max()) + 1 if len(stream.clock) else 1])
    # what can be seen within the clocks run: records that left, FIFO drops decided (the clock before `ready`)
    seen = [r for r in result.records if r.leave < clocks]
    events = [ev for ev in result.events if ev[2] != "record_fifo" or ev[0] <= clocks]
    drops = {c: np.zeros(design.channels, dtype=np.int64) for c in result.drops}
    for _, ch, cause in events:
        drops[cause][ch] += 1
    result = ArrayResult(seen, drops, events)
    keep = stream.clock < clocks
    sent = TokenStream(stream.windows, stream.slot_of, stream.clock[keep], stream.slot[keep], stream.t[keep],
                       stream.window[keep], stream.n_channels)
    inputs = token_inputs(sent, pool)
    return Segment(sent, inputs, tready[:clocks], int(clocks), result, record_values(fm, pool, stream, result))


def write_case(segments: list[Segment], path: str | os.PathLike) -> None:
    arrays: dict[str, Any] = {"segments": np.array(len(segments))}
    for s, g in enumerate(segments):
        st = g.stream
        wins = st.windows
        arrays |= {f"s{s}_clock": st.clock, f"s{s}_slot": st.slot, f"s{s}_t": st.t,
                   f"s{s}_i": g.inputs[:, 0] if len(st.clock) else np.zeros(0, np.int64),
                   f"s{s}_q": g.inputs[:, 1] if len(st.clock) else np.zeros(0, np.int64),
                   f"s{s}_channel": np.array([wins[w].channel for w in st.window], dtype=np.int64),
                   f"s{s}_time": np.array([wins[w].start for w in st.window], dtype=np.int64),
                   f"s{s}_tready": g.tready.astype(np.int64), f"s{s}_clocks": np.array(g.clocks),
                   f"s{s}_reset_after": np.array(RESET_CYCLES)}
    np.savez(path, **arrays)


def run(design_dir: str | os.PathLike, segments: list[Segment], sim: str | None = None,
        log: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Build (once per design and simulator) and run the cocotb array testbench; returns what it observed."""
    from venom_fpga.rtl.cocotb_runner import run_cocotb, string_param  # noqa: PLC0415 (needs cocotb)

    sim = sim or os.environ.get("SIM", "verilator")
    design_dir = Path(design_dir).resolve()
    work = design_dir / "runs"
    work.mkdir(exist_ok=True)
    case = work / "case.npz"
    write_case(segments, case)
    run_id = hashlib.sha256(case.read_bytes() + sim.encode()).hexdigest()[:10]
    out = work / f"observed-{run_id}.npz"
    run_cocotb("venom_array", "test_venom_array", array.sources(design_dir), f"array-{design_dir.name}", sim=sim,
               test_dir="venom_array", all_public=False, parameters={"MEM_DIR": string_param(str(design_dir) + "/")},
               extra_env={"VENOM_ARRAY_CASE": str(case), "VENOM_ARRAY_OUT": str(out),
                          "VENOM_ARRAY_DIR": str(design_dir)}, log=log)
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def compare(segments: list[Segment], observed: dict[str, np.ndarray]) -> dict[str, Any]:
    """Every record (order, clock, values, channel, time) and every channel's drop count equal to the models';
    returns counts and the first difference (``ok``)."""
    first = None
    n_rec = n_exact = 0
    for s, g in enumerate(segments):
        exp = [(r.leave, int(v[0]), int(v[1]), r.channel, g.stream.windows[r.window].start)
               for r, v in zip(g.result.records, g.values)]
        got = list(zip(*(observed[f"s{s}_{k}"].tolist() for k in ("clock", "mu", "log_var", "channel", "time"))))
        n_rec += len(exp)
        n_exact += sum(1 for a, b in zip(exp, got) if tuple(a) == tuple(b))
        if first is None and [tuple(e) for e in exp] != [tuple(x) for x in got]:
            i = next((i for i, (a, b) in enumerate(zip(exp, got)) if tuple(a) != tuple(b)), min(len(exp), len(got)))
            first = (f"segment {s}, record {i}: expected (clock, mu, log_var, channel, time) "
                     f"{exp[i] if i < len(exp) else 'none'}, RTL {got[i] if i < len(got) else 'none'} "
                     f"({len(exp)} expected, {len(got)} seen)")
    fifo = sum(g.result.drops["record_fifo"] for g in segments)
    queue = sum(g.result.drops["head_queue"] for g in segments)
    counted = fifo + queue  # the drops the RTL makes (slot drops are the front end's)
    drops_ok = np.array_equal(observed["drops"], counted) and int(observed["drop_total"]) == int(counted.sum())
    if first is None and not drops_ok:
        first = f"head queue + record FIFO drops per channel: expected {counted.tolist()}, RTL {observed['drops'].tolist()}"
    windows = sum(len(g.stream.windows) for g in segments)
    slot = sum(int(g.result.drops["slot"].sum()) for g in segments)
    return {"ok": first is None, "records": n_rec, "bit_exact": n_exact, "first_difference": first,
            "windows": windows, "slot_drops": slot, "fifo_drops": int(fifo.sum()),
            "head_queue_drops": int(queue.sum())}
