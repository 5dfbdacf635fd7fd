# SPDX-License-Identifier: BSD-3-Clause
"""Optimal-filter baseline: analytic noise variance, energy recovery, calibration-only fitting."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from venom_fpga.data import dataset
from venom_fpga.data import optimal_filter
from venom_fpga.data import synth
from venom_fpga.metrics.resolving_power import gaussian_resolving_power


@pytest.fixture(scope="module")
def ptsi(tmp_path_factory):
    out = synth.write_dataset("ptsi", 160, seed=11, out_dir=tmp_path_factory.mktemp("of") / "ptsi", progress=False)
    raw = dataset.load_raw(out)
    return raw, ~dataset.stratified_split(raw.line_index, 0.5, seed=0)


def test_noise_only_variance_matches_sigma_a():
    """White noise, known template: the filtered amplitude's spread is the analytic sigma_A."""
    fs, n, sigma = 1.0e6, 256, 0.3
    rng = np.random.default_rng(1)
    t = np.arange(n)
    template = -np.where(t >= 20, np.exp(-(t - 20) / 40.0), 0.0)
    freqs, psd = optimal_filter.noise_psd(sigma * rng.standard_normal((400, 1, 512)), fs)
    psd = optimal_filter.interpolate_psd(freqs, psd, np.fft.rfftfreq(n, 1 / fs))
    assert np.median(psd[1:, 0, 0].real) == pytest.approx(2 * sigma**2 / fs, rel=0.05)  # one-sided
    of = optimal_filter.OptimalFilter.build(template, psd, fs)
    # sigma_A^2 = fs N / (4 sum |S_k|^2 / J_k) is sigma^2 / sum(s^2) for white noise
    assert of.variance == pytest.approx(sigma**2 / np.sum((template - template.mean()) ** 2), rel=0.05)
    amplitude = of.amplitudes(sigma * rng.standard_normal((4000, 1, n)))
    assert np.var(amplitude) == pytest.approx(of.variance, rel=0.2)
    # and a noiseless pulse of amplitude 2.5, delayed by 2 samples, is found at its lag
    assert of.amplitudes(2.5 * np.roll(template, 2)[None, None], max_lag=3)[0] == pytest.approx(2.5, rel=1e-3)


def test_two_channel_filter_uses_the_cross_psd():
    """Noise common to both channels cancels when the template differs between them."""
    fs, n = 1.0e6, 128
    rng = np.random.default_rng(2)
    t = np.arange(n)
    pulse = -np.where(t >= 10, np.exp(-(t - 10) / 20.0), 0.0)
    template = np.stack([pulse, 0.3 * pulse])

    def noise(m):
        common = rng.standard_normal((m, 1, n))
        return common + 0.05 * rng.standard_normal((m, 2, n))

    psd = optimal_filter.noise_psd(noise(600), fs)[1]
    of = optimal_filter.OptimalFilter.build(template, psd, fs)
    phase_only = optimal_filter.OptimalFilter.build(template[:1], psd[:, :1, :1], fs)
    assert of.variance < 0.05 * phase_only.variance
    assert np.var(of.amplitudes(noise(2000))) == pytest.approx(of.variance, rel=0.25)


def test_recovers_energies_on_held_out_pulses(ptsi):
    raw, calib = ptsi
    energy = optimal_filter.estimate_energies(raw, calib)  # the PtSi default: shared 920 nm template
    np.testing.assert_array_equal(energy, optimal_filter.estimate_energies(raw, calib, shared_template_nm=920))
    for k, e_true in enumerate(raw.line_energies_ev):
        held_out = energy[~calib & (raw.line_index == k)]
        assert np.median(held_out) == pytest.approx(e_true, rel=0.02)
        assert 7 < gaussian_resolving_power(held_out, e_true) < 25  # section 5: ~12-14 at 1500/line


def test_per_line_templates_on_inhf(tmp_path):
    raw = dataset.load_raw(synth.write_dataset("inhf", 60, seed=12, out_dir=tmp_path / "inhf", progress=False))
    calib = ~dataset.stratified_split(raw.line_index, 0.5, seed=0)
    energy = optimal_filter.estimate_energies(raw, calib)  # per-line templates (InHf default)
    r = []
    for k, e_true in enumerate(raw.line_energies_ev):
        held_out = energy[~calib & (raw.line_index == k)]
        assert np.median(held_out) == pytest.approx(e_true, rel=0.04)  # 30 calibration pulses per line
        r.append(gaussian_resolving_power(held_out, e_true))
    assert 8 < r[-1] < 25 and 25 < r[0] < 70  # section 5: 17 at 1310 nm to 46 at 254 nm


def test_only_calibration_pulses_shape_the_filter(ptsi):
    raw, calib = ptsi
    energy = optimal_filter.estimate_energies(raw, calib, shared_template_nm=1310)
    spoilt = dataclasses.replace(raw, i=raw.i.copy())
    spoilt.i[~calib] += np.random.default_rng(3).normal(0, 200, spoilt.i[~calib].shape).astype(np.float32)
    again = optimal_filter.estimate_energies(spoilt, calib, shared_template_nm=1310)
    np.testing.assert_array_equal(again[calib], energy[calib])
    assert not np.allclose(again[~calib], energy[~calib])


def test_bad_input(ptsi):
    raw, calib = ptsi
    with pytest.raises(ValueError, match="no line at 1000"):
        optimal_filter.estimate_energies(raw, calib, shared_template_nm=1000)
    with pytest.raises(ValueError, match="calib has shape"):
        optimal_filter.estimate_energies(raw, calib[:-1])
    with pytest.raises(ValueError, match="no calibration pulses for 808 nm"):
        optimal_filter.estimate_energies(raw, calib & (raw.line_index != 0))
