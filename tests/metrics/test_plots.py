# SPDX-License-Identifier: BSD-3-Clause
"""Per-line energy histogram plot: a readable, atomically written PNG with one panel per line."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from venom_fpga.metrics import plots
from venom_fpga.metrics.resolving_power import FWHM_PER_SIGMA, HC_EV_NM

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def synthetic(wavelengths, n_per_line=600, seed=0):
    rng = np.random.default_rng(seed)
    energies = HC_EV_NM / np.asarray(wavelengths, dtype=float)
    idx = np.repeat(np.arange(len(energies)), n_per_line)
    true = energies[idx]
    model = rng.normal(true, true / (20 * FWHM_PER_SIGMA))
    of = rng.normal(true, true / (12 * FWHM_PER_SIGMA))
    of[:5] = np.nan
    model[5:8] = 0.0  # far outliers
    return {"model": model, "optimal filter": of}, true, idx


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    return width, height


def pyplot_figures():
    if "matplotlib.pyplot" not in sys.modules:
        return []
    return sys.modules["matplotlib.pyplot"].get_fignums()


def test_plot_writes_png(tmp_path):
    wavelengths = [808.0, 920.0, 980.0, 1120.0, 1310.0]
    results, true, idx = synthetic(wavelengths)
    before = pyplot_figures()
    target = tmp_path / "sub" / "hist.png"
    path = plots.plot_energy_histograms(results, true, idx, wavelengths, target, title="t")
    assert path == target
    assert path.stat().st_size > 10_000
    width, height = png_size(path)
    assert width > height > 300  # 3 x 2 grid
    assert sorted(p.name for p in path.parent.iterdir()) == ["hist.png"]  # no temporary left over
    assert pyplot_figures() == before  # nothing registered with pyplot


@pytest.mark.parametrize("n_lines", [1, 3, 5, 10])
def test_one_panel_per_line(n_lines):
    wavelengths = list(np.linspace(254.0, 1310.0, n_lines))
    results, true, idx = synthetic(wavelengths, n_per_line=200)
    fig = plots.energy_histogram_figure(results, true, idx, wavelengths)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_lines
    for ax, wl, e in zip(fig.axes, wavelengths, HC_EV_NM / np.asarray(wavelengths)):
        assert "eV" in ax.get_xlabel()
        assert ax.get_ylabel()
        assert f"{wl:g} nm" in ax.get_title()
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert any(lab.startswith("model: R = ") for lab in labels)
        assert any(lab.startswith("optimal filter: R = ") for lab in labels)
        assert "true energy" in labels
        lo, hi = ax.get_xlim()
        assert lo < e < hi
        # shared bins: both estimators' step outlines use the same edges
        steps = [p for p in ax.patches if not p.get_fill()]
        assert len(steps) == 2
        xs = [np.unique(np.round(p.get_xy()[:, 0], 12)) for p in steps]
        np.testing.assert_array_equal(xs[0], xs[1])


def test_empty_line_and_off_scale_count():
    wavelengths = [808.0, 1400.0]  # no events at 1400 nm
    results, true, idx = synthetic([808.0])
    fig = plots.energy_histogram_figure(results, true, idx, wavelengths)
    assert len(fig.axes) == 2
    labels0 = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("(3 off-scale)" in lab for lab in labels0)  # the three 0 eV outliers
    labels1 = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert "model: no events" in labels1


def test_write_is_atomic(tmp_path, monkeypatch):
    wavelengths = [808.0]
    results, true, idx = synthetic(wavelengths, n_per_line=200)
    path = tmp_path / "hist.png"
    path.write_bytes(b"old")

    def boom(self, *args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", boom)
    with pytest.raises(RuntimeError):
        plots.plot_energy_histograms(results, true, idx, wavelengths, path)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hist.png"]


def test_mismatched_lengths_raise(tmp_path):
    results, true, idx = synthetic([808.0], n_per_line=100)
    results["model"] = results["model"][:-1]
    with pytest.raises(ValueError):
        plots.plot_energy_histograms(results, true, idx, [808.0], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
