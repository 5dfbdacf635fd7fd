# SPDX-License-Identifier: BSD-3-Clause
"""``venom-fpga csim``: the generated HLS C++ (g++ C simulation) against the fixed-point golden model, code for code.

Windows: the user's float windows (quantized into the input format exactly as the ``fixed`` backend does) plus
``n_extremes`` windows of input codes at the edges of the format (full scale +/-, zeros, alternating +/- full
scale, long constant runs, steps, impulses, random full-range codes; ``export.extreme_windows``), of the same
length. Without windows, synthetic probe windows (``precision.probe_windows``) stand in.

Both run every window: the golden model (``FixedModel.run_codes``) and the C simulation (``export.csim_model``:
the exported array -- the planner's for ``channels`` channels -- compiled into a cached ``.so``, windows run through
it a few at a time). The integer output codes (mu, log_var) must be equal. Then the array under the array model's
token source: Poisson photons on every channel for ``periods`` model-rate periods at 1,000 counts/s and as long
again above capacity (window data drawn from the same windows), clock by clock through the C++ array; every record
(values, tag, order, clock) and every channel's drop count must equal the array model's and the fixed model's
(``rtl.array_sim.compare``). The report (JSON, build/reports/csim.json by default) holds the windows,
mismatches, max |difference| in LSB per output, the first mismatches in hex, timings and inputs.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

DEFAULT_EXTREMES = 64
SHOW_MISMATCHES = 10


def compare(ckpt, precision=None, iq: np.ndarray | None = None, n_extremes: int = DEFAULT_EXTREMES,
            n_probe: int = 1000, channels: int = 2048, periods: int = 600, sample_rate: float | None = None,
            seed: int = 0) -> dict:
    """Run both models on the windows and compare their output codes, then the token streams; returns the report."""
    from venom_fpga.fixed.precision import PROBE_LENGTH, probe_windows
    from venom_fpga.hls.export import csim_model, extreme_windows, prepare, resolve_spec
    from venom_fpga.predict import OUTPUTS, check_windows, describe_mismatch

    t0 = time.perf_counter()
    inp = prepare(ckpt, precision)
    model, cfg = inp.model, inp.precision
    if iq is not None:
        iq = check_windows(iq, inp.ckpt, "windows")
        source = "windows"
    else:
        length = inp.ckpt.meta.window_length or PROBE_LENGTH
        iq = probe_windows(length, n_probe, seed=seed + 1)
        source = "precision.probe_windows"
    length = iq.shape[1]
    codes = model.quantize_input(iq)
    n_data = codes.shape[0]
    if n_extremes:
        ext = extreme_windows(cfg.signals["input"], length, seed=seed)
        reps = -(-n_extremes // ext.shape[0])
        ext = np.concatenate([ext] + [extreme_windows(cfg.signals["input"], length, seed=seed + 1 + k)
                                      for k in range(reps - 1)])[:n_extremes]
        codes = np.concatenate([codes, ext])
    t1 = time.perf_counter()
    spec = resolve_spec(inp, None, channels, sample_rate)
    lib = csim_model(inp.ckpt, cfg, array=spec)
    t2 = time.perf_counter()
    got = lib.run_codes(codes)
    t3 = time.perf_counter()
    want, sat = model.run_codes(codes)
    t4 = time.perf_counter()
    stream = stream_check(model, lib, codes, periods, seed)
    t5 = time.perf_counter()
    diff = np.abs(got - want)
    bad = np.flatnonzero((got != want).any(axis=1))
    names = OUTPUTS
    first = []
    for k in bad[:SHOW_MISMATCHES]:
        first.append({"window": int(k), "source": "windows" if k < n_data else "extremes",
                      **{f"{n}_csim": hex(int(got[k, j])) for j, n in enumerate(names)},
                      **{f"{n}_fixed": hex(int(want[k, j])) for j, n in enumerate(names)}})
    return {
        "windows": int(codes.shape[0]),
        "window_length": int(length),
        "data_windows": int(n_data),
        "data_source": source,
        "extreme_windows": int(codes.shape[0] - n_data),
        "mismatches": int(bad.size),
        "max_abs_diff_lsb": int(diff.max()) if diff.size else 0,
        "per_output": {n: {"format": cfg.signals[n].ctype(), "mismatches": int(np.count_nonzero(diff[:, j])),
                           "max_abs_diff_lsb": int(diff[:, j].max()) if diff.size else 0}
                       for j, n in enumerate(names)},
        "first_mismatches": first,
        "mismatch": describe_mismatch(got, want),
        "golden_saturations": sat.saturated(),
        "weights": str(inp.ckpt.path),
        "precision": cfg.source,
        "header": inp.header,
        "array": {k: v for k, v in lib.info.items() if k in ("slots", "channels", "fold", "head_interval",
                                                               "head_queue", "record_fifo", "period")},
        "stream": stream,
        "library": str(lib.path),
        "seconds": round(t5 - t0, 3),
        "seconds_stream": round(t5 - t4, 3),
        "seconds_build": round(t2 - t1, 3),
        "seconds_csim": round(t3 - t2, 3),
        "seconds_fixed": round(t4 - t3, 3),
    }


def stream_check(model, lib, pool, periods: int, seed: int = 0) -> dict:
    """Token streams of the array model's front end through the C++ array (``lib``): Poisson photons at 1,000
    counts/s and above capacity, window data from ``pool`` (input codes); the comparison with the models
    (``model``: the FixedModel; the model rate is one sample per ``lib.spec.period`` clocks)."""
    from venom_fpga.hls.array import run_stream
    from venom_fpga.rtl import array_sim, planner
    from venom_fpga.target import CLOCK_MHZ

    spec = lib.spec
    period_s = spec.period / (CLOCK_MHZ * 1e6)
    capacity = planner.capacity(spec.channels, spec.slots, spec.length, period_s)
    rates = (1000.0, max(2.0 * capacity, 5000.0) if np.isfinite(capacity) else 5000.0)
    segments = [array_sim.segment(model, spec, pool, rate, periods, spec.period, period_s, seed=seed + k,
                                  ready_p=1.0 if k == 0 else 0.5)
                for k, rate in enumerate(rates)]
    rep = array_sim.compare(segments, run_stream(lib, segments))
    rep["segments"] = [{"rate_cps": r, "windows": len(g.stream.windows), "records": len(g.result.records),
                        **{f"{c}_drops": int(v.sum()) for c, v in g.result.drops.items()}}
                       for r, g in zip(rates, segments)]
    rep["capacity_cps"] = capacity
    return rep


def summary(report: dict) -> str:
    """One line: OK (every window bit-exact) or FAIL with the first mismatch; the windows and inputs (the timings of
    build, C simulation and fixed model are in the report)."""
    st, a = report["stream"], report["array"]
    result = (f"csim OK: {report['windows']} windows bit-exact with the fixed-point model" if not report["mismatches"]
              else f"csim FAIL: {report['mismatch']}, max |diff| {report['max_abs_diff_lsb']} LSB")
    result += (f"; array (S={a['slots']}, F={a['fold']}, head every {a['head_interval']}, {a['channels']} channels) "
               f"under token streams: {st['bit_exact']}/{st['records']} records equal (values, tags, clocks), "
               f"{st['windows']} windows, drops slot {st['slot_drops']} / head queue {st['head_queue_drops']} / "
               f"FIFO {st['fifo_drops']}" + (" as the model says" if st["ok"] else f" -- FAIL: {st['first_difference']}"))
    return (f"{result} ({report['data_windows']} data + {report['extreme_windows']} extremes, "
            f"L={report['window_length']}, precision {Path(report['precision']).name}), {report['seconds']:.1f} s")
