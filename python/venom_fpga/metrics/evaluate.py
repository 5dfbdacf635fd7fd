# SPDX-License-Identifier: BSD-3-Clause
"""Resolving power of a checkpoint against the optimal filter on a VENOM-format data directory.

The data set is split per line into two halves (stratified, seeded): the optimal filter builds its
templates, noise model and calibration on one half, and both estimators are scored on the other half,
so neither is scored on pulses it has seen. The model's inputs are made with the checkpoint's own
preprocessing (its metadata), exactly as the hardware front end must make them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from venom_fpga.metrics.accuracy import N_BOOT, fixed_accuracy
from venom_fpga.metrics.accuracy import format_table as format_fixed_table
from venom_fpga.model.checkpoint import Checkpoint
from venom_fpga.data.dataset import DataError, load_raw, make_windows_from_meta, stratified_split
from venom_fpga.data.optimal_filter import estimate_energies
from venom_fpga.fixed.precision import PrecisionConfig
from venom_fpga.predict import predict
from venom_fpga.metrics.resolving_power import mean_R, per_line

CALIB_FRACTION = 0.5


def _summary(pred: np.ndarray, true: np.ndarray, line_index: np.ndarray, wavelengths: np.ndarray) -> dict:
    lines = per_line(pred, true, line_index, wavelengths)
    return {"mean_R_kde": mean_R(lines, "R_kde"), "mean_R_gauss": mean_R(lines, "R_gauss"), "per_line": lines}


def evaluate(ckpt: Checkpoint, data_dir: str | Path, *, seed: int = 0, progress: bool = True,
             precision: PrecisionConfig | str | None = None, fixed: bool = False,
             n_boot: int = N_BOOT) -> tuple[dict, dict]:
    """Returns the JSON report and the arrays behind it (for plots): energies of the scored pulses.

    With ``fixed`` (or a ``precision``), also the fixed-point model on the same windows: its report is
    ``report["fixed_accuracy"]`` (see accuracy.fixed_accuracy) and its energies ``arrays["fixed"]``; its R is
    paired with the float model's, with ``n_boot`` bootstrap resamples seeded by ``seed``.
    """
    raw = load_raw(data_dir)
    windows = make_windows_from_meta(raw, ckpt.meta)
    calib = stratified_split(raw.line_index, CALIB_FRACTION, seed)
    scored = ~calib[windows.index]  # windows of pulses the optimal filter did not calibrate on
    if not scored.any():
        raise DataError(f"{data_dir}: no scored pulses left after the calibration split")
    model_e = predict(ckpt, windows.iq[scored], backend="float", progress=progress)[:, 0]
    try:
        of_e = estimate_energies(raw, calib)[windows.index[scored]]
    except DataError:
        raise
    except ValueError as exc:  # the optimal filter cannot calibrate on these data (too few lines, pulses, samples)
        raise DataError(f"{data_dir}: optimal filter: {exc}") from None
    true, lines, wl = windows.energy_ev[scored], windows.line_index[scored], windows.wavelengths_nm
    report = {
        "weights": str(ckpt.path),
        "data": str(data_dir),
        "n_pulses": int(raw.n_pulses),
        "n_windows": int(windows.iq.shape[0]),
        "n_scored": int(scored.sum()),
        "split_seed": seed,
        "model": _summary(model_e, true, lines, wl),
        "optimal_filter": _summary(of_e, true, lines, wl),
    }
    arrays = {"model": model_e, "optimal filter": of_e, "true": true, "line_index": lines, "wavelengths_nm": wl}
    if fixed or precision is not None:
        acc, acc_arrays = fixed_accuracy(ckpt, precision, windows.iq[scored], model_e, true, lines, wl,
                                         n_boot=n_boot, seed=seed)
        report["fixed_accuracy"] = acc
        arrays.update(fixed=acc_arrays["e_fixed"], ranges=acc_arrays["ranges"], limits=acc_arrays["limits"])
    return report, arrays


def format_table(report: dict) -> str:
    rows = [f"{'line (nm)':>10} {'E (eV)':>8} {'n':>6} {'R model':>9} {'R OF':>7} {'Rg model':>9} {'Rg OF':>7}"]
    for m, o in zip(report["model"]["per_line"], report["optimal_filter"]["per_line"], strict=True):
        rows.append(
            f"{m['wavelength_nm']:>10.1f} {m['energy_ev']:>8.4f} {m['count']:>6d} {m['R_kde']:>9.2f} "
            f"{o['R_kde']:>7.2f} {m['R_gauss']:>9.2f} {o['R_gauss']:>7.2f}"
        )
    rows.append(
        f"{'mean':>10} {'':>8} {report['n_scored']:>6d} {report['model']['mean_R_kde']:>9.2f} "
        f"{report['optimal_filter']['mean_R_kde']:>7.2f} {report['model']['mean_R_gauss']:>9.2f} "
        f"{report['optimal_filter']['mean_R_gauss']:>7.2f}"
    )
    if "fixed_accuracy" in report:
        rows += ["", format_fixed_table(report["fixed_accuracy"])]
    return "\n".join(rows)
