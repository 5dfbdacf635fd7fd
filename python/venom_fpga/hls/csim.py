# SPDX-License-Identifier: BSD-3-Clause
"""``venom-fpga csim``: the generated HLS C++ (g++ C simulation) against the fixed-point golden model, code for code.

Windows: the user's float windows (quantized into the input format exactly as the ``fixed`` backend does) plus
``n_extremes`` windows of input codes at the edges of the format (full scale +/-, zeros, alternating +/- full
scale, long constant runs, steps, impulses, random full-range codes; ``export.extreme_windows``), of the same
length. Without windows, synthetic probe windows (``precision.probe_windows``) stand in.

Both run every window: the golden model (``FixedModel.run_codes``) and the C simulation (``export.csim_model``:
the exported project compiled into a cached ``.so``, windows streamed through ``venom_top``). The integer output
codes (mu, log_var) must be equal. The report (JSON, build/reports/csim.json by default) holds the windows,
mismatches, max |difference| in LSB per output, the first mismatches in hex, timings and inputs.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

DEFAULT_EXTREMES = 64
SHOW_MISMATCHES = 10


def compare(ckpt, precision=None, iq: np.ndarray | None = None, n_extremes: int = DEFAULT_EXTREMES,
            n_probe: int = 1000, reuse_factor: int | None = None, seed: int = 0) -> dict:
    """Run both models on the windows and compare their output codes; returns the report."""
    from venom_fpga.fixed.precision import PROBE_LENGTH, probe_windows
    from venom_fpga.hls.export import DEFAULT_REUSE_FACTOR, csim_model, extreme_windows, prepare
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
    lib = csim_model(inp.ckpt, cfg, reuse_factor=reuse_factor or DEFAULT_REUSE_FACTOR)
    t2 = time.perf_counter()
    got = lib.run_codes(codes)
    t3 = time.perf_counter()
    want, sat = model.run_codes(codes)
    t4 = time.perf_counter()
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
        "reuse_factor": lib.info["reuse_factor"],
        "library": str(lib.path),
        "seconds": round(t4 - t0, 3),
        "seconds_build": round(t2 - t1, 3),
        "seconds_csim": round(t3 - t2, 3),
        "seconds_fixed": round(t4 - t3, 3),
    }


def summary(report: dict) -> str:
    """One line: OK (every window bit-exact) or FAIL with the first mismatch; the windows and inputs (the timings of
    build, C simulation and fixed model are in the report)."""
    result = (f"csim OK: {report['windows']} windows bit-exact with the fixed-point model" if not report["mismatches"]
              else f"csim FAIL: {report['mismatch']}, max |diff| {report['max_abs_diff_lsb']} LSB")
    return (f"{result} ({report['data_windows']} data + {report['extreme_windows']} extremes, "
            f"L={report['window_length']}, precision {Path(report['precision']).name}), {report['seconds']:.1f} s")
