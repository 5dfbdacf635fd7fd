# SPDX-License-Identifier: BSD-3-Clause
"""Synthetic MKID generator: presets, VENOM file format, metadata, determinism, physics, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from venom_fpga.data import dataset
from venom_fpga.data import optimal_filter
from venom_fpga.data import synth
from venom_fpga.metrics.resolving_power import HC_EV_NM


@pytest.fixture(scope="module")
def ptsi_dir(tmp_path_factory):
    return synth.write_dataset("ptsi", 40, seed=7, out_dir=tmp_path_factory.mktemp("synth") / "ptsi", progress=False)


@pytest.mark.parametrize(
    ("name", "n_lines", "rate", "tau_qp", "sigma_iq"),
    [("ptsi", 5, 2.0e6, 50e-6, 0.023), ("inhf", 10, 0.8e6, 425e-6, 0.011)],
    ids=["ptsi", "inhf"],
)
def test_presets_match_the_spec(name, n_lines, rate, tau_qp, sigma_iq):
    p = synth.PRESETS[name]
    p.validate()
    assert len(p.wavelengths_nm) == n_lines and p.raw_rate_hz == rate and p.tau_qp_s == tau_qp
    assert 1.2e-6 < p.tau_res_s < 1.9e-6  # rise 1.3-1.8 us
    assert p.sigma_iq == pytest.approx(sigma_iq, rel=0.05)
    assert 10 * math.log10(p.tls_sx_1khz * (4 * p.qr0) ** 2) == pytest.approx(-75.0)
    # the window of 5 tau_qp past the pulse fits in the trace
    assert p.trace_length - p.trigger_index > 5 * tau_qp * rate


def test_file_format_and_metadata(ptsi_dir):
    p = synth.PRESETS["ptsi"]
    files = sorted(f.name for f in ptsi_dir.iterdir())
    assert files == sorted([dataset.line_file_name(wl) for wl in p.wavelengths_nm] + ["metadata.json"])
    assert "0808nm.npz" in files
    with np.load(ptsi_dir / "0808nm.npz") as f:
        assert sorted(f.files) == ["i_trace", "mask", "peak_heights", "q_trace"]
        assert f["i_trace"].dtype == np.float32 and f["q_trace"].dtype == np.float32
        assert f["i_trace"].shape == f["q_trace"].shape == (40, p.trace_length)
        assert f["mask"].dtype == np.bool_ and f["mask"].all()
        assert f["peak_heights"].shape == (40,) and np.all(f["peak_heights"] < 0)
    meta = json.loads((ptsi_dir / "metadata.json").read_text())
    assert meta["preset"] == "ptsi" and meta["seed"] == 7 and meta["n_per_line"] == 40
    assert meta["raw_rate_hz"] == p.raw_rate_hz and meta["tau_qp_s"] == p.tau_qp_s
    assert meta["wavelengths_nm"] == list(p.wavelengths_nm) and meta["trigger_index"] == p.trigger_index
    assert meta["generator_version"] == synth.GENERATOR_VERSION
    assert meta["parameters"]["r_int1"] == p.r_int1 and meta["derived"]["qr0"] == pytest.approx(p.qr0)
    assert len(meta[dataset.DARK_LOOP_KEY]["i"]) == synth.SWEEP_POINTS
    # nothing but the output directory is left beside it
    assert [d.name for d in ptsi_dir.parent.iterdir()] == ["ptsi"]


def test_deterministic_for_a_seed(tmp_path, ptsi_dir):
    again = synth.write_dataset("ptsi", 40, seed=7, out_dir=tmp_path / "a", progress=False)
    other = synth.write_dataset("ptsi", 40, seed=8, out_dir=tmp_path / "b", progress=False)
    for name in ("0808nm.npz", "1310nm.npz"):
        assert (again / name).read_bytes() == (ptsi_dir / name).read_bytes()
        with np.load(again / name) as a, np.load(other / name) as b:
            assert not np.array_equal(a["i_trace"], b["i_trace"])
    assert (again / "metadata.json").read_text() == (ptsi_dir / "metadata.json").read_text()


def test_energy_lines_and_phase_saturation(ptsi_dir):
    raw = dataset.load_raw(ptsi_dir)
    np.testing.assert_allclose(raw.line_energies_ev, HC_EV_NM / np.array(synth.PRESETS["ptsi"].wavelengths_nm))
    peaks = []
    for wl in raw.wavelengths_nm:
        with np.load(ptsi_dir / dataset.line_file_name(wl)) as f:
            peaks.append(-np.median(f["peak_heights"]))
    per_ev = np.array(peaks) / raw.line_energies_ev
    assert np.all(np.diff(peaks) < 0)  # longer wavelength, smaller pulse
    assert np.all(np.diff(per_ev) > 0)  # response per eV falls with energy: the loop saturates
    assert 0.75 < peaks[-1] < 0.95 and 1.1 < peaks[0] < 1.4  # rad (section 4, less the ring-down)


def test_noise_spectra_match_the_preset(ptsi_dir):
    """Off-pulse PSDs: white floor in dissipation; TLS (f^-1/2, rolled off by the resonator) in phase."""
    p = synth.PRESETS["ptsi"]
    raw = dataset.load_raw(ptsi_dir)
    head = np.stack(dataset.loop_frame(raw).coordinates(raw.i[:, :464], raw.q[:, :464]), axis=1)
    freqs, psd = optimal_filter.noise_psd(head, p.raw_rate_hz)
    white = 10 ** (p.white_dbc_hz / 10)
    for f_hz in (2e4, 5e4, 1e5):
        k = np.argmin(np.abs(freqs - f_hz))
        roll_off = 1 + (freqs[k] / (p.fr_hz / (2 * p.qr0))) ** 2
        tls = 10 ** (p.tls_dbc_hz_1khz / 10) * (freqs[k] / 1e3) ** -0.5 / roll_off
        assert 10 * np.log10(psd[k - 2 : k + 3, 0, 0].real.mean() / (tls + white)) == pytest.approx(0, abs=1.0)
        assert 10 * np.log10(psd[k - 2 : k + 3, 1, 1].real.mean() / white) == pytest.approx(0, abs=1.0)


def test_pulse_arrives_at_the_trigger_index(ptsi_dir):
    raw = dataset.load_raw(ptsi_dir)
    trig, _ = dataset.find_triggers(raw, dataset.loop_frame(raw))
    offset = trig - synth.PRESETS["ptsi"].trigger_index
    assert np.all((offset >= 0) & (offset <= 5))


def test_ring_down_block_form_is_exact():
    from scipy.signal import lfilter

    u = np.random.default_rng(0).standard_normal((3, 80)).astype(np.float32)
    a = math.exp(-1 / 28)
    y, _ = lfilter([1 - a], [1, -a], u.astype(np.float64), axis=1, zi=np.full((3, 1), a * 0.3))
    got = synth._ring_down_boxcar(u, a, 8, 0.3)
    np.testing.assert_allclose(got, y.reshape(3, 10, 8).mean(axis=2), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"preset": "nbtin"}, "unknown preset"),
        ({"n_per_line": 0}, "n_per_line"),
        ({"n_per_line": 2.5}, "n_per_line"),
        ({"seed": -1}, "seed"),
    ],
    ids=["preset", "zero", "float", "seed"],
)
def test_bad_input(tmp_path, kwargs, message):
    args = {"preset": "ptsi", "n_per_line": 2, "seed": 0, "out_dir": tmp_path / "out", "progress": False}
    with pytest.raises(ValueError, match=message):
        synth.write_dataset(**{**args, **kwargs})
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_non_empty_out_dir_and_accepts_an_empty_one(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("keep me")
    with pytest.raises(ValueError, match="not empty"):
        synth.write_dataset("ptsi", 1, 0, tmp_path / "full", progress=False)
    assert (tmp_path / "full" / "x").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    out = synth.write_dataset("inhf", 1, 0, tmp_path / "empty", progress=False)
    assert len(list(out.glob("*.npz"))) == 10


def test_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(synth, "simulate", boom)
    with pytest.raises(RuntimeError):
        synth.write_dataset("ptsi", 2, 0, tmp_path / "out", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_continuum_spans_the_preset_range(tmp_path):
    from venom_fpga.data.dataset import load_raw
    from venom_fpga.data.synth import CONTINUUM_MARGIN, continuum_wavelengths

    p = synth.PRESETS["ptsi"]
    wl = continuum_wavelengths(p, 12)
    energies = synth.HC_EV_NM / np.asarray(wl)
    line_e = synth.HC_EV_NM / np.asarray(p.wavelengths_nm)
    assert len(set(wl)) == 12 and np.all(np.diff(energies) < 0)
    assert energies.max() == pytest.approx(line_e.max() * (1 + CONTINUUM_MARGIN), rel=1e-3)
    assert energies.min() == pytest.approx(line_e.min() / (1 + CONTINUUM_MARGIN), rel=1e-3)
    out = synth.write_dataset("ptsi", 3, seed=1, out_dir=tmp_path / "c", progress=False, continuum=12)
    raw = load_raw(out)
    assert len(raw.wavelengths_nm) == 12 and raw.n_pulses == 36
    np.testing.assert_allclose(np.sort(raw.wavelengths_nm), np.sort(wl))
    with pytest.raises(ValueError, match="at least 2"):
        continuum_wavelengths(p, 1)
