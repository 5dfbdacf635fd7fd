# SPDX-License-Identifier: BSD-3-Clause
"""Plotting functions for reports (PNG files next to the JSON reports).

Conventions for every function here: figures are built with the object-oriented API
(``matplotlib.figure.Figure`` with an Agg canvas), never through ``pyplot``, so no global figure
state is created or leaked and the module works headless without selecting a backend. Files are
written atomically with :func:`save_figure` (temporary file in the target directory, then rename),
so a report directory never holds a half-written PNG.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from venom_fpga.files import atomic_path
from venom_fpga.metrics.resolving_power import HC_EV_NM, kde_resolving_power

__all__ = ["new_figure", "save_figure", "energy_histogram_figure", "plot_energy_histograms", "plot_array_capacity"]


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A Figure with an Agg canvas attached, independent of pyplot."""
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return Path(path)


def _grid_shape(n: int) -> tuple[int, int]:
    ncols = n if n <= 3 else (3 if n <= 6 else 4)
    return math.ceil(n / ncols), ncols


def _shared_edges(pooled: np.ndarray, energy: float) -> np.ndarray:
    """Bin edges shared by all estimators of one panel.

    Range: the pooled values within median +- 8 sigma_MAD (so a few far outliers cannot squash the
    peak; those are counted as off-scale), extended to include the true energy, padded by 5 %.
    Freedman-Diaconis bin width, 20-100 bins.
    """
    if pooled.size == 0:
        return np.linspace(energy * 0.9, energy * 1.1, 41)
    med = float(np.median(pooled))
    sigma = 1.4826 * float(np.median(np.abs(pooled - med)))
    core = pooled[np.abs(pooled - med) <= 8.0 * sigma] if sigma > 0 else pooled
    lo, hi = min(float(core.min()), energy), max(float(core.max()), energy)
    if not hi > lo:
        half = max(abs(energy) * 1e-3, 1e-6)
        lo, hi = lo - half, hi + half
    pad = 0.05 * (hi - lo)
    lo, hi = lo - pad, hi + pad
    inside = pooled[(pooled >= lo) & (pooled <= hi)]
    q75, q25 = np.quantile(inside, [0.75, 0.25]) if inside.size > 1 else (hi, lo)
    fd_width = 2.0 * (q75 - q25) * max(inside.size, 1) ** (-1.0 / 3.0)
    n_bins = int(np.clip(round((hi - lo) / fd_width) if fd_width > 0 else 40, 20, 100))
    return np.linspace(lo, hi, n_bins + 1)


def energy_histogram_figure(
    results: Mapping[str, ArrayLike],
    true_ev: ArrayLike,
    line_index: ArrayLike,
    wavelengths_nm: ArrayLike,
    title: str | None = None,
) -> Figure:
    """Build the per-line energy-histogram figure (see :func:`plot_energy_histograms`).

    One axes per line (``len(wavelengths_nm)`` axes in ``fig.axes``, unused grid cells removed).
    """
    true = np.asarray(true_ev, dtype=np.float64).ravel()
    idx = np.asarray(line_index).ravel()
    wls = np.asarray(wavelengths_nm, dtype=np.float64).ravel()
    preds = {name: np.asarray(v, dtype=np.float64).ravel() for name, v in results.items()}
    for name, v in preds.items():
        if v.size != idx.size:
            raise ValueError(f"results[{name!r}] has {v.size} values for {idx.size} events")
    if true.size != idx.size:
        raise ValueError(f"true_ev has {true.size} values for {idx.size} events")
    if wls.size == 0:
        raise ValueError("no wavelengths to plot")

    nrows, ncols = _grid_shape(wls.size)
    fig = new_figure((4.3 * ncols, 3.3 * nrows))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes[wls.size :]:
        fig.delaxes(ax)
    palette = [f"C{k % 10}" for k in range(len(preds))]

    for i, (ax, wl) in enumerate(zip(axes, wls)):
        sel = idx == i
        tr = true[sel]
        tr = tr[np.isfinite(tr)]
        energy = float(np.median(tr)) if tr.size else HC_EV_NM / float(wl)
        vals = {name: v[sel][np.isfinite(v[sel])] for name, v in preds.items()}
        pooled = np.concatenate(list(vals.values())) if vals else np.empty(0)
        edges = _shared_edges(pooled, energy)
        for color, (name, v) in zip(palette, vals.items()):
            r = kde_resolving_power(v, energy)
            label = f"{name}: R = {r:.1f}" if math.isfinite(r) else f"{name}: R = n/a"
            outside = int(np.count_nonzero((v < edges[0]) | (v > edges[-1])))
            if outside:
                label += f" ({outside} off-scale)"
            if v.size:
                ax.hist(v, bins=edges, histtype="stepfilled", color=color, alpha=0.25)
                ax.hist(v, bins=edges, histtype="step", color=color, linewidth=1.4, label=label)
            else:
                ax.plot([], [], color=color, label=f"{name}: no events")
        ax.axvline(energy, color="k", linestyle="--", linewidth=1.0, label="true energy")
        ax.set_xlim(edges[0], edges[-1])
        ax.set_ylim(0.0, 1.45 * max(ax.get_ylim()[1], 1.0))  # headroom for the legend
        ax.set_title(f"{wl:g} nm ({energy:.3f} eV), n = {int(np.count_nonzero(sel))}")
        ax.set_xlabel("energy [eV]")
        ax.set_ylabel("events per bin")
        ax.legend(fontsize="small", loc="upper left", frameon=False)
    if title:
        fig.suptitle(title)
    return fig


def plot_energy_histograms(
    results: Mapping[str, ArrayLike],
    true_ev: ArrayLike,
    line_index: ArrayLike,
    wavelengths_nm: ArrayLike,
    path: str | os.PathLike[str],
    title: str | None = None,
) -> Path:
    """One PNG with a panel per line: overlaid energy histograms of each estimator in ``results``.

    ``results`` maps an estimator name (e.g. "model", "optimal filter") to its predicted energies (eV),
    aligned with ``true_ev`` and ``line_index`` (event i belongs to line ``line_index[i]``, an index
    into ``wavelengths_nm``). Each panel shares its bins between estimators (the pooled values within
    median +- 8 sigma_MAD plus the true energy; Freedman-Diaconis width, 20-100 bins), marks the true
    energy (median of the line's ``true_ev``; hc/lambda if the line has no events) and gives each
    estimator's KDE R in the legend, with the number of its values outside the plotted range.
    Written atomically; returns the path.
    """
    fig = energy_histogram_figure(results, true_ev, line_index, wavelengths_nm, title=title)
    return save_figure(fig, path)


def plot_fixed_vs_float(e_float: ArrayLike, e_fixed: ArrayLike, path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Two panels: histogram of E_fixed - E_float (meV), and E_fixed against E_float."""
    e_float, e_fixed = np.asarray(e_float, float), np.asarray(e_fixed, float)
    d_mev = (e_fixed - e_float) * 1e3
    fig = new_figure((10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    ax1.hist(d_mev, bins=60, histtype="stepfilled", alpha=0.7)
    ax1.set_xlabel("E_fixed - E_float [meV]")
    ax1.set_ylabel("windows per bin")
    ax1.set_title(f"max |dE| {np.max(np.abs(d_mev)):.3f} meV, mean {np.mean(np.abs(d_mev)):.3f} meV")
    ax2.plot(e_float, e_fixed, ".", ms=2, alpha=0.5)
    lo, hi = float(min(e_float.min(), e_fixed.min())), float(max(e_float.max(), e_fixed.max()))
    ax2.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="E_fixed = E_float")
    ax2.set_xlabel("E_float [eV]")
    ax2.set_ylabel("E_fixed [eV]")
    ax2.legend(loc="upper left")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_signal_ranges(ranges: Mapping[str, tuple[float, float]], limits: Mapping[str, tuple[float, float]],
                       path: str | os.PathLike[str], title: str | None = None) -> Path:
    """Per signal, the observed max |value| against the largest magnitude its format can hold (log scale):
    the gap is the headroom; a bar reaching the limit marker saturates."""
    names = list(ranges)
    observed = np.array([max(abs(ranges[n][0]), abs(ranges[n][1])) for n in names])
    capacity = np.array([max(abs(limits[n][0]), abs(limits[n][1])) for n in names])
    y = np.arange(len(names))
    fig = new_figure((8, 0.22 * len(names) + 1.2))
    ax = fig.subplots()
    ax.barh(y, capacity, color="0.85", label="format range")
    ax.barh(y, np.maximum(observed, 1e-12), color="tab:blue", height=0.5, label="observed")
    ax.set_xscale("log")
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("max |value|")
    ax.legend(loc="lower right", fontsize=8)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_array_capacity(curves: Mapping[str, tuple[ArrayLike, ArrayLike]], rate_cps: float, target: float,
                        path: str | os.PathLike[str]) -> Path:
    """Slot-overflow probability vs counts/s per pixel, one curve per array configuration (``venom-fpga plan``):
    ``curves[label] = (rates, probabilities)``; the design rate and the probability target as guide lines."""
    fig = new_figure((7.0, 4.5))
    ax = fig.add_subplot()
    for label, (rates, prob) in curves.items():
        ax.loglog(rates, np.maximum(prob, 1e-30), label=label)
    ax.axhline(target, color="0.4", ls="--", lw=1, label=f"target {target:g}")
    ax.axvline(rate_cps, color="0.4", ls=":", lw=1, label=f"design rate {rate_cps:g} counts/s")
    ax.set_ylim(1e-15, 1.5)
    ax.set_xlabel("photon rate per pixel (counts/s)")
    ax.set_ylabel("P(window finds no free slot)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    return save_figure(fig, path)
