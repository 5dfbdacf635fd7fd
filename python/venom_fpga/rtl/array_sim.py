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
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from venom_fpga.fixed.model import FixedModel
from venom_fpga.rtl import array
from venom_fpga.rtl.array_model import (ArrayResult, TokenStream, Window, photon_windows, record_values, schedule,
                                        simulate, token_inputs)

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
    wins = photon_windows(design.channels, rate_cps, n_periods, period_s, design.length, len(pool), seed=seed)
    return segment_of(fm, design, pool, wins, period, seed, ready_p, clocks)


def segment_of(fm: FixedModel, design: array.ArrayDesign, pool: np.ndarray, wins: list[Window], period: int,
               seed: int = 0, ready_p: float = 1.0, clocks: int | None = None) -> Segment:
    """A segment of the given windows (sorted by start, then channel)."""
    timing = design.timing(period)
    stream = schedule(wins, timing, design.channels)
    rng = np.random.default_rng(seed + 1)
    last = max((w.start for w in wins), default=0) + design.length + 2
    horizon = last * period + design.step_latency + design.head_latency + design.head_interval * len(wins)
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


def latencies(g: Segment, length: int) -> np.ndarray:
    """Clocks from each record's window's last token to the record leaving."""
    last = {int(w): int(c) for w, c, t in zip(g.stream.window, g.stream.clock, g.stream.t) if t == length - 1}
    return np.array([r.leave - last[r.window] for r in g.result.records], dtype=np.int64)


def cosim(ckpt, precision=None, iq: np.ndarray | None = None, channels: int = 2048, rate_cps: float = 1000.0,
          periods: int = 400, sim: str | None = None, log: str | os.PathLike | None = None,
          progress=None) -> dict[str, Any]:
    """The plan's array configuration of ``ckpt`` for ``channels`` channels at ``rate_cps`` counts/s per pixel,
    generated and co-simulated for ``periods`` model-rate periods at that rate and as long again above capacity
    (windows drawn from ``iq``, already checked (predict.check_windows), default the precision's probe windows);
    returns the report (``ok``: every record
    and every drop count equal to the models')."""
    from venom_fpga.fixed.precision import probe_windows
    from venom_fpga.paths import build_dir
    from venom_fpga.rtl import planner
    from venom_fpga.rtl.sim import max_energy_error_mev
    from venom_fpga.target import CLOCK_MHZ

    fm = FixedModel(ckpt, precision)
    length = ckpt.meta.window_length or (iq.shape[1] if iq is not None else None)
    if length is None:
        raise ValueError(f"{ckpt.path}: no window_length in its metadata: give windows")
    iq = np.asarray(iq, dtype=np.float64) if iq is not None else probe_windows(length, 256, seed=0)
    pool = fm.quantize_input(iq)
    clock_hz = CLOCK_MHZ * 1e6
    sample_rate = planner.model_sample_rate(ckpt.meta)
    chosen, _ = planner.choose(fm, channels, rate_cps, clock_hz, sample_rate, length)
    if chosen is None:
        raise ValueError("no array configuration fits the default budget (venom-fpga plan)")
    tm = chosen.timing
    design = array.generate(fm, slots=tm.slots, length=length, channels=channels, fold=tm.fold,
                            head_fold=tm.head_interval, head_queue=tm.head_queue, record_fifo=tm.record_fifo)
    out = array.write(design, build_dir() / "rtl" / f"array-{Path(ckpt.path).stem}")
    above = max(2.0 * chosen.capacity_cps, 5000.0) if np.isfinite(chosen.capacity_cps) else 5000.0
    segments = [segment(fm, design, pool, rate, periods, tm.period, 1.0 / sample_rate, seed=k)
                for k, rate in enumerate((rate_cps, above))]
    t0 = time.time()
    observed = run(out, segments, sim=sim, log=log)
    rep = compare(segments, observed)
    data = [g.stream.windows[r.window].data for g in segments for r in g.result.records]
    mu = [int(v[0]) for g in segments for v in g.values]
    report = {
        "sim": sim or os.environ.get("SIM", "verilator"), "config": {k: v for k, v in design.params().items()
                                                                      if k not in ("token", "record")},
        "period_clocks": tm.period, "capacity_cps": chosen.capacity_cps,
        "segments": [{"rate_cps": r, "windows": len(g.stream.windows), "records": len(g.result.records),
                      **{f"{c}_drops": int(v.sum()) for c, v in g.result.drops.items()},
                      "latency_last_sample_to_record_us": _span(latencies(g, length) / clock_hz * 1e6)}
                     for r, g in zip((rate_cps, above), segments)],
        **rep,
        # at the design rate (the first segment)
        "latency_last_sample_to_record_clocks": _span(latencies(segments[0], length)),
        "latency_last_sample_to_record_us": _span(latencies(segments[0], length) / clock_hz * 1e6),
        "max_abs_E_rtl_minus_E_float_meV": max_energy_error_mev(ckpt, fm, iq[data], np.array(mu)) if mu else None,
        "simulated_clocks": int(observed["stream_clocks"]),
        "simulated_clocks_per_s": float(observed["stream_clocks"]) / float(observed["stream_wall_s"]),
        "wall_s_incl_build": time.time() - t0,
    }
    if progress:
        progress(summary_line(report))
    return report


def _span(v: np.ndarray) -> list | None:
    return [v.min().item(), v.max().item()] if len(v) else None


def summary_line(report: dict[str, Any]) -> str:
    c = report["config"]
    lat = report["latency_last_sample_to_record_us"]
    return (f"array cosim ({report['sim']}): F={c['fold']}, S={c['slots']}, head every {c['head_interval']} clocks, "
            f"{c['channels']} channels: {report['bit_exact']}/{report['records']} records bit-exact with equal "
            f"clocks, {report['windows']} windows, drops slot {report['slot_drops']} / head queue "
            f"{report['head_queue_drops']} / FIFO {report['fifo_drops']} as the model says"
            + (f", record {lat[0]:.2f}-{lat[1]:.2f} us after the last sample at {report['segments'][0]['rate_cps']:g} "
               "counts/s" if lat else "")
            + f", {report['simulated_clocks_per_s']:,.0f} simulated clocks/s")


PREDICT_CHANNELS = 16  # channels (and slots) of the array that `predict --backend rtl` streams windows through


def predict_codes(fm: FixedModel, codes: np.ndarray, sim: str | None = None,
                  log: str | os.PathLike | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Input codes (N, L, 2) through the array RTL, interleaved as they would arrive (:func:`window_segment`, on
    C = min(N, 16) channels, as many slots). Returns the (N, 2) record codes and the comparison with the models
    (records, clocks, drops)."""
    from venom_fpga.paths import build_dir
    from venom_fpga.rtl.sim import model_key

    codes = np.asarray(codes, dtype=np.int64)
    n, length = codes.shape[:2]
    ch = max(1, min(n, PREDICT_CHANNELS))
    design = array.generate(fm, slots=ch, length=length, channels=ch)
    out = array.write(design, build_dir() / "rtl" / f"array-predict-{model_key(fm)}-c{ch}-l{length}")
    period = design.step_latency + (ch - 1) * design.fold + 1
    seg = window_segment(fm, design, codes, period)
    obs = run(out, [seg], sim=sim, log=log)
    return records_by_window(seg, obs), compare([seg], obs)


def window_segment(fm: FixedModel, design, codes: np.ndarray, period: int) -> Segment:
    """Windows of input codes as one token stream: window k on channel k mod C (C = the design's channels), its
    first sample L + 1 periods after the previous window of that channel (its data: window k of ``codes``)."""
    n, length = np.asarray(codes).shape[:2]
    ch = design.channels
    wins = [Window(k % ch, (k // ch) * (length + 1), k) for k in range(n)]
    return segment_of(fm, design, codes, wins, period)


def records_by_window(seg: Segment, observed: dict[str, np.ndarray]) -> np.ndarray:
    """The observed records of a :func:`window_segment`, each put back in its window's place by its tag (channel,
    time): (N, 2) codes; a window without one keeps the marker of no record (the caller compares)."""
    wins = seg.stream.windows
    index = {(w.channel, w.start): w.data for w in wins}
    got = np.full((len(wins), 2), np.iinfo(np.int64).min, dtype=np.int64)
    for mu, lv, c, t in zip(*(observed[f"s0_{k}"].tolist() for k in ("mu", "log_var", "channel", "time"))):
        got[index[(c, t)]] = (mu, lv)
    return got
