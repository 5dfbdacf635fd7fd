# SPDX-License-Identifier: BSD-3-Clause
"""Fixed-point against float: choosing a precision config from data, and measuring what quantization costs.

``profile`` runs the float model on real windows to size every signal (``default_precision`` with data),
then the fixed model with that config to report what still saturates. ``fixed_accuracy`` compares the
fixed and float energies of the same windows: the meV budget, resolving power, saturations, and each
signal's observed range against its format.
"""

from __future__ import annotations

import numpy as np

from venom_fpga.model.checkpoint import Checkpoint
from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.lut import lut_report
from venom_fpga.errors import VenomError
from venom_fpga.fixed.precision import PrecisionConfig, PrecisionError, default_precision
from venom_fpga.metrics.resolving_power import mean_R, per_line


def profile(ckpt: Checkpoint, iq: np.ndarray, margin: float = 2.0) -> tuple[PrecisionConfig, dict]:
    """A precision config sized on ``iq`` (and for windows at least as long as these) and, per signal, its observed
    range and saturations under it."""
    try:
        cfg = default_precision(ckpt, iq=iq, margin=margin)
        if iq.shape[1] > cfg.max_window_length:  # longer windows than the checkpoint's: the softmax must hold them
            cfg = default_precision(ckpt, iq=iq, margin=margin,
                                    max_window_length=(1 << iq.shape[1].bit_length()) - 1)
    except VenomError:
        raise
    except ValueError as exc:  # a range no format can hold (QFormat says which width): name the cause, the windows
        raise PrecisionError(f"cannot size a precision config on windows with values up to {np.abs(iq).max():.3g} "
                             f"({exc})") from None
    return cfg, FixedModel(ckpt, cfg).profile(iq)


def saturating_signals(signal_profile: dict) -> dict[str, int]:
    return {name: int(p["saturated"]) for name, p in signal_profile.items() if p.get("saturated", 0)}


def fixed_accuracy(
    ckpt: Checkpoint,
    precision: PrecisionConfig | str | None,
    iq: np.ndarray,
    e_float: np.ndarray,
    true_ev: np.ndarray,
    line_index: np.ndarray,
    wavelengths_nm: np.ndarray,
) -> tuple[dict, dict]:
    """The accuracy report (JSON) and the arrays behind it (for plots)."""
    model = FixedModel(ckpt, precision)
    model.precision.check_window_length(iq.shape[1], "fixed-point accuracy")
    codes, sat, ranges = model.run(iq, record=True)
    out = model.output_float(codes)
    e_fixed = out[:, 0] * ckpt.meta.energy_scale + ckpt.meta.energy_offset
    d_mev = np.abs(e_fixed - e_float) * 1e3
    lines_float = per_line(e_float, true_ev, line_index, wavelengths_nm)
    lines_fixed = per_line(e_fixed, true_ev, line_index, wavelengths_nm)
    r_float, r_fixed = mean_R(lines_float), mean_R(lines_fixed)
    limits = {name: (model.fmt[name].min_value, model.fmt[name].max_value) for name in ranges}
    report = {
        "weights": str(ckpt.path),
        "precision": model.precision.source,
        "windows": int(iq.shape[0]),
        "max_abs_dE_meV": float(d_mev.max()),
        "mean_abs_dE_meV": float(d_mev.mean()),
        "R_float_mean": r_float,
        "R_fixed_mean": r_fixed,
        "R_change_pct": 100.0 * (r_fixed - r_float) / r_float,
        "R_gauss_float_mean": mean_R(lines_float, "R_gauss"),
        "R_gauss_fixed_mean": mean_R(lines_fixed, "R_gauss"),
        "saturations": {name: int(n) for name, n in sat.counts.items()},
        "per_line": [
            {"wavelength_nm": a["wavelength_nm"], "R_float": a["R_kde"], "R_fixed": b["R_kde"],
             "R_gauss_float": a["R_gauss"], "R_gauss_fixed": b["R_gauss"], "count": a["count"]}
            for a, b in zip(lines_float, lines_fixed, strict=True)
        ],
        "luts": {
            name: {k: t[k] for k in ("function", "range", "step", "entries", "table_format", "max_abs_error",
                                     "max_abs_error_lsb", "max_rel_error", "bound")}
            for name, t in lut_report(model.luts).items()
        },
        "signals": {
            name: {"format": model.fmt[name].ctype(), "observed": list(ranges[name]), "limits": list(limits[name])}
            for name in ranges
        },
    }
    return report, {"e_fixed": e_fixed, "ranges": ranges, "limits": limits}


def summary_line(report: dict) -> str:
    sat = {k: v for k, v in report["saturations"].items() if v}
    return (
        f"fixed vs float on {report['windows']} windows: max |dE| {report['max_abs_dE_meV']:.3f} meV, "
        f"mean {report['mean_abs_dE_meV']:.4f} meV; R {report['R_float_mean']:.2f} -> {report['R_fixed_mean']:.2f} "
        f"({report['R_change_pct']:+.2f} %); saturations: {sat or 'none'}"
    )
