"""``make csim``: the generated HLS C++ (g++ C simulation) against the fixed-point golden model, code for code.

    python -m venom_fpga.hls.csim --weights W [--precision P] [--iq X.npy] [--report build/reports/csim.json]

Windows: the float windows of ``--iq`` (quantized into the input format exactly as the ``fixed`` backend does)
plus ``--extremes`` windows of input codes at the edges of the format (full scale +/-, zeros, alternating
+/- full scale, long constant runs, steps, impulses, random full-range codes; ``export.extreme_windows``), of the
same length. Without ``--iq``, synthetic probe windows (``precision.probe_windows``) stand in.

Both run every window: the golden model (``FixedModel.run_codes``) and the C simulation (``export.csim_model``:
the exported project compiled into a cached ``.so``, windows streamed through ``venom_top``). The integer output
codes (mu, log_var) must be equal. Writes a JSON report (windows, mismatches, max |difference| in LSB per output,
the first mismatches in hex, timings, inputs), prints one summary line, and exits 1 on any mismatch (2 on a usage
error).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from venom_fpga.files import write_json

DEFAULT_REPORT = "build/reports/csim.json"
DEFAULT_EXTREMES = 64
SHOW_MISMATCHES = 10


def compare(ckpt, precision=None, iq: np.ndarray | None = None, n_extremes: int = DEFAULT_EXTREMES,
            n_probe: int = 1000, reuse_factor: int | None = None, seed: int = 0) -> dict:
    """Run both models on the windows and compare their output codes; returns the report."""
    from venom_fpga.hls.export import DEFAULT_REUSE_FACTOR, csim_model, extreme_windows, prepare
    from venom_fpga.fixed.precision import PROBE_LENGTH, probe_windows

    t0 = time.perf_counter()
    inp = prepare(ckpt, precision)
    model, cfg = inp.model, inp.precision
    if iq is not None:
        iq = np.asarray(iq, dtype=np.float64)
        if iq.ndim != 3 or iq.shape[2] != inp.ckpt.dims.n_in or iq.shape[1] == 0:
            raise ValueError(f"expected windows of shape (N, L, {inp.ckpt.dims.n_in}), found {iq.shape}")
        if not np.all(np.isfinite(iq)):
            raise ValueError("windows contain NaN/Inf")
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
    names = ("mu", "log_var")
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
    status = "OK" if report["mismatches"] == 0 else "FAIL"
    return (f"csim {status}: {report['mismatches']} mismatches in {report['windows']} windows "
            f"({report['data_windows']} data + {report['extreme_windows']} extremes, L={report['window_length']}), "
            f"max |diff| {report['max_abs_diff_lsb']} LSB; {Path(report['weights']).name} / "
            f"{Path(report['precision']).name}; {report['seconds']:.1f} s "
            f"(build {report['seconds_build']:.1f}, csim {report['seconds_csim']:.1f}, fixed {report['seconds_fixed']:.1f})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m venom_fpga.hls.csim", description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True, help="checkpoint (.safetensors)")
    parser.add_argument("--precision", help="precision config (default <weights stem>.precision.json, else default)")
    parser.add_argument("--iq", help=".npy of (N, L, 2) float windows (default: synthetic probe windows)")
    parser.add_argument("--extremes", type=int, default=DEFAULT_EXTREMES, help="extreme windows to add")
    parser.add_argument("--probe", type=int, default=1000, help="probe windows when no --iq is given")
    parser.add_argument("--reuse-factor", type=int, help="folding of the exported core (does not change results)")
    parser.add_argument("--report", default=DEFAULT_REPORT, help="JSON report to write")
    args = parser.parse_args(argv)
    from venom_fpga.model.checkpoint import CheckpointError

    try:
        iq = None
        if args.iq is not None:
            try:
                iq = np.load(args.iq, allow_pickle=False)
            except (OSError, ValueError) as exc:
                raise ValueError(f"{args.iq}: not a readable .npy file ({exc})") from None
        report = compare(args.weights, args.precision, iq, n_extremes=args.extremes, n_probe=args.probe,
                         reuse_factor=args.reuse_factor)
    except (CheckpointError, ValueError, FileNotFoundError) as exc:
        print(f"venom-fpga csim: error: {exc}", file=sys.stderr)
        return 2
    write_json(args.report, report)
    print(summary(report) + f" -> {args.report}")
    return 0 if report["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
