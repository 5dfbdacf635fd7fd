# SPDX-License-Identifier: BSD-3-Clause
"""Fixed-point against float: choosing a precision config from data, and measuring what quantization costs.

``profile`` runs the float model on real windows to size every signal (``default_precision`` with data),
then the fixed model with that config to report what still saturates. ``fixed_accuracy`` compares the
fixed and float energies of the same windows: the meV budget, resolving power, saturations, and each
signal's observed range against its format.

Resolving power is paired (resolving_power.paired_per_line): per line, the KDE bandwidths are chosen once on
the float energies and used for both, so the R change is the fixed point's and not the KDE's choosing anew;
bootstrap intervals (seeded) say whether the change is distinguishable from 0.
"""

from __future__ import annotations

import numpy as np

from venom_fpga.model.checkpoint import Checkpoint
from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.lut import lut_report
from venom_fpga.errors import VenomError
from venom_fpga.fixed.precision import PrecisionConfig, PrecisionError, default_precision
from venom_fpga.metrics.resolving_power import gaussian_resolving_power, paired_per_line

N_BOOT = 200  # bootstrap resamples of the paired R: a 95 % interval's ends to a few % of its width
CONFIDENCE = 0.95


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
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> tuple[dict, dict]:
    """The accuracy report (JSON) and the arrays behind it (for plots). R: paired (float the reference), with
    ``n_boot`` bootstrap resamples seeded by ``seed`` (0: no intervals)."""
    model = FixedModel(ckpt, precision)
    model.precision.check_window_length(iq.shape[1], "fixed-point accuracy")
    codes, sat, ranges = model.run(iq, record=True)
    out = model.output_float(codes)
    e_fixed = out[:, 0] * ckpt.meta.energy_scale + ckpt.meta.energy_offset
    d_mev = np.abs(e_fixed - e_float) * 1e3
    paired = paired_per_line(e_float, e_fixed, true_ev, line_index, wavelengths_nm, n_boot=n_boot,
                             confidence=CONFIDENCE, seed=seed)
    gauss = [_gaussian_R(e, true_ev, line_index, len(paired["per_line"])) for e in (e_float, e_fixed)]
    limits = {name: (model.fmt[name].min_value, model.fmt[name].max_value) for name in ranges}
    report = {
        "weights": str(ckpt.path),
        "precision": model.precision.source,
        "windows": int(iq.shape[0]),
        "max_abs_dE_meV": float(d_mev.max()),
        "mean_abs_dE_meV": float(d_mev.mean()),
        "R_method": "paired KDE (bandwidths chosen once per line, on the float energies)",
        "R_bootstrap": {"resamples": n_boot, "confidence": CONFIDENCE, "seed": seed},
        **_renamed(paired["mean"], "_mean"),
        "R_mean_lines": paired["mean"]["lines"],
        "R_gauss_float_mean": _nanmean(gauss[0]),
        "R_gauss_fixed_mean": _nanmean(gauss[1]),
        "saturations": {name: int(n) for name, n in sat.counts.items()},
        "per_line": [
            {"wavelength_nm": p["wavelength_nm"], "energy_ev": p["energy_ev"], **_renamed(p),
             "R_gauss_float": gf, "R_gauss_fixed": gx, "count": p["count"]}
            for p, gf, gx in zip(paired["per_line"], *gauss, strict=True)
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


def _renamed(p: dict, mean: str = "") -> dict:
    """paired_resolving_power's keys as the report's: reference -> float, other -> fixed, delta -> change."""
    return {f"R_float{mean}": p["R_reference"], f"R_fixed{mean}": p["R_other"], "R_change": p["delta"],
            "R_change_pct": p["delta_pct"], f"R_float{mean}_ci": p["R_reference_ci"],
            f"R_fixed{mean}_ci": p["R_other_ci"], "R_change_ci": p["delta_ci"], "R_change_pct_ci": p["delta_pct_ci"],
            "R_change_zero_in_ci": p["zero_in_delta_ci"]}


def _gaussian_R(e: np.ndarray, true_ev: np.ndarray, line_index: np.ndarray, n_lines: int) -> list[float]:
    return [gaussian_resolving_power(e[line_index == i], true_ev[line_index == i]) if np.any(line_index == i)
            else float("nan") for i in range(n_lines)]


def _nanmean(values: list[float]) -> float:
    v = np.asarray(values, dtype=np.float64)
    return float(v[np.isfinite(v)].mean()) if np.isfinite(v).any() else float("nan")


def _num(v, fmt: str) -> str:
    """A number of a report (NaN or JSON null: n/a)."""
    return format(v, fmt) if v is not None and np.isfinite(v) else "n/a"


def _ci(ci, fmt: str) -> str:
    return f"[{_num(ci[0], fmt)}, {_num(ci[1], fmt)}]" if ci else ""


def _zero(z) -> str:
    return "n/a" if z is None else ("yes" if z else "no")


def format_table(report: dict) -> str:
    """The paired R of fixed against float, per line and for the mean (the accuracy report's R)."""
    b = report["R_bootstrap"]
    pct = f"{100 * b['confidence']:g} %"
    boot = f"{pct} bootstrap intervals ({b['resamples']} resamples, seed {b['seed']})" if b["resamples"] \
        else "no bootstrap intervals"
    rows = [f"fixed vs float, R with the same KDE bandwidths (chosen on float); {boot}",
            f"{'line (nm)':>10} {'n':>6} {'R float':>8} {'R fixed':>8} {pct + ' CI':>20} {'change':>8} "
            f"{pct + ' CI':>20} {'change %':>9} {'0 in CI':>8}"]

    def row(name: str, n: int, d: dict, mean: str = "") -> str:
        return (f"{name:>10} {n:>6d} {_num(d[f'R_float{mean}'], '.2f'):>8} {_num(d[f'R_fixed{mean}'], '.2f'):>8} "
                f"{_ci(d[f'R_fixed{mean}_ci'], '.2f'):>20} {_num(d['R_change'], '+.3f'):>8} "
                f"{_ci(d['R_change_ci'], '+.3f'):>20} {_num(d['R_change_pct'], '+.2f'):>9} "
                f"{_zero(d['R_change_zero_in_ci']):>8}")

    rows += [row(f"{p['wavelength_nm']:.1f}", p["count"], p) for p in report["per_line"]]
    rows.append(row("mean", sum(p["count"] for p in report["per_line"]), report, "_mean"))
    return "\n".join(rows)


def summary_line(report: dict) -> str:
    sat = {k: v for k, v in report["saturations"].items() if v}
    change = f"{_num(report['R_change_pct'], '+.2f')} %"
    if report.get("R_bootstrap", {}).get("resamples"):  # reports before the paired R have no intervals
        b = report["R_bootstrap"]
        change += f", {100 * b['confidence']:g} % CI {_ci(report['R_change_pct_ci'], '+.2f')} %, same KDE bandwidths"
    return (
        f"fixed vs float on {report['windows']} windows: max |dE| {report['max_abs_dE_meV']:.3f} meV, "
        f"mean {report['mean_abs_dE_meV']:.4f} meV; R {_num(report['R_float_mean'], '.2f')} -> "
        f"{_num(report['R_fixed_mean'], '.2f')} ({change}); saturations: {sat or 'none'}"
    )
