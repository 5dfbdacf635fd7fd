# SPDX-License-Identifier: BSD-3-Clause
"""Resolving-power metrics checked against theory (Gaussian and mixture pdfs), not against themselves.

Tolerances come from the statistical scatter of KDE R. Measured once over 200 seeds (E = 1.5 eV,
R = 20): the per-seed relative standard deviation of KDE R is 4.1 % at n = 5,000 and 2.1 % at
n = 20,000 (6.8 % at 2,000); the mean bias is -0.2 % and -0.5 % (kernel smoothing widens the peak).
The tests average k fixed seeds and allow 4 standard errors (using a rounded-up scatter) plus the
smoothing bias, so they are deterministic and far from flaky.
"""

from __future__ import annotations

import json
import math
import time
import warnings

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.stats import norm

from venom_fpga.metrics import resolving_power as rp
from venom_fpga.metrics.resolving_power import (
    FWHM_PER_SIGMA,
    HC_EV_NM,
    adaptive_kde,
    gaussian_resolving_power,
    kde_resolving_power,
    mean_R,
    per_line,
)

E = 1.5  # eV
R_TRUE = 20.0
SIGMA = E / (R_TRUE * FWHM_PER_SIGMA)
# rounded-up per-seed relative scatter of KDE R, and the allowance for the smoothing bias
SCATTER = {5000: 0.045, 20000: 0.025}
BIAS_ALLOWANCE = 0.01


def tolerance(n: int, seeds: int) -> float:
    return 4.0 * SCATTER[n] / math.sqrt(seeds) + BIAS_ALLOWANCE


def mixture_sample(rng: np.random.Generator, n: int, weights, means, sigmas) -> np.ndarray:
    comp = rng.choice(len(weights), size=n, p=weights)
    return rng.normal(np.asarray(means)[comp], np.asarray(sigmas)[comp])


def mixture_fwhm(weights, means, sigmas) -> float:
    """FWHM of the highest peak of a Gaussian-mixture pdf, by root finding on the analytic pdf."""

    def pdf(x):
        return sum(w * norm.pdf(x, m, s) for w, m, s in zip(weights, means, sigmas))

    lo, hi = min(means) - 10 * max(sigmas), max(means) + 10 * max(sigmas)
    xs = np.linspace(lo, hi, 400_001)
    ys = pdf(xs)
    i = int(np.argmax(ys))
    xp, half = xs[i], ys[i] / 2
    left = brentq(lambda x: pdf(x) - half, xp - 10 * min(sigmas), xp)
    right = brentq(lambda x: pdf(x) - half, xp, xp + 10 * min(sigmas))
    return right - left


# ------------------------------------------------------------------------------------------------
# Gaussian theory


def test_fwhm_constant():
    assert FWHM_PER_SIGMA == pytest.approx(2.0 * math.sqrt(2.0 * math.log(2.0)), rel=1e-15)
    assert round(FWHM_PER_SIGMA, 3) == 2.355


@pytest.mark.parametrize(("n", "seeds"), [(5000, 32), (20000, 8)], ids=["n5000x32", "n20000x8"])
def test_kde_R_matches_gaussian_theory(n, seeds):
    samples = (np.random.default_rng(1000 + s).normal(E, SIGMA, n) for s in range(seeds))
    ratios = np.array([kde_resolving_power(x, E) / R_TRUE for x in samples])
    assert np.all(np.isfinite(ratios))
    assert abs(ratios.mean() - 1.0) < tolerance(n, seeds), ratios
    # the observed scatter is of the size the tolerance assumes (not much larger)
    assert ratios.std(ddof=1) < 2.0 * SCATTER[n]


def test_gaussian_R_exact_for_constructed_data():
    d, b = 0.03, 0.01
    signs = np.tile([1.0, -1.0], 10)  # 20 values, mean 0, every |deviation| = d
    values = E + b + d * signs
    expected = E / (FWHM_PER_SIGMA * math.sqrt(b**2 + d**2))
    assert gaussian_resolving_power(values, E) == pytest.approx(expected, rel=1e-12)
    # unbiased: R = E / (2.3548 d)
    unbiased = E / (FWHM_PER_SIGMA * d)
    assert gaussian_resolving_power(E + d * signs, E) == pytest.approx(unbiased, rel=1e-12)
    # per-event true energies (two lines' worth): RMSE about each event's own energy, E = their mean
    e_true = np.repeat([1.0, 2.0], 10)
    vals = e_true + d * signs
    assert gaussian_resolving_power(vals, e_true) == pytest.approx(1.5 / (FWHM_PER_SIGMA * d), rel=1e-12)


def test_bias_penalised_by_gaussian_R_not_by_kde_R():
    n, seeds, shift = 5000, 8, 5.0 * SIGMA
    kde_plain, kde_biased, gauss_biased = [], [], []
    for s in range(seeds):
        x = np.random.default_rng(2000 + s).normal(E, SIGMA, n)
        kde_plain.append(kde_resolving_power(x, E))
        kde_biased.append(kde_resolving_power(x + shift, E))
        gauss_biased.append(gaussian_resolving_power(x + shift, E))
    # a pure shift leaves KDE R unchanged (up to re-binning on the shifted grid)
    np.testing.assert_allclose(kde_biased, kde_plain, rtol=0.01)
    assert abs(np.mean(kde_biased) / R_TRUE - 1.0) < tolerance(n, seeds)
    # Gaussian R: RMSE^2 = sigma^2 + bias^2 -> R_true / sqrt(26), sampling error ~1 %
    expected = R_TRUE / math.sqrt(1.0 + 25.0)
    assert np.mean(gauss_biased) == pytest.approx(expected, rel=0.02)


@pytest.mark.parametrize(
    ("weights", "means", "sigmas"),
    [
        ([0.9, 0.1], [E, E], [SIGMA, 8 * SIGMA]),  # 10 % broad tail
        ([0.75, 0.25], [E, E - 6 * SIGMA], [SIGMA, SIGMA]),  # secondary low-energy peak
    ],
    ids=["broad_tail", "bimodal"],
)
def test_kde_R_follows_main_peak(weights, means, sigmas):
    r_mix = E / mixture_fwhm(weights, means, sigmas)
    # theory: the tail/secondary peak hardly changes the main peak's FWHM
    assert r_mix == pytest.approx(R_TRUE, rel=0.015)
    n, seeds = 5000, 16
    kde, gauss = [], []
    for s in range(seeds):
        x = mixture_sample(np.random.default_rng(3000 + s), n, weights, means, sigmas)
        kde.append(kde_resolving_power(x, E))
        gauss.append(gaussian_resolving_power(x, E))
    assert abs(np.mean(kde) / r_mix - 1.0) < tolerance(n, seeds)
    # Gaussian R from the full RMSE about E
    rmse = math.sqrt(sum(w * (s**2 + (m - E) ** 2) for w, m, s in zip(weights, means, sigmas)))
    assert np.mean(gauss) == pytest.approx(E / (FWHM_PER_SIGMA * rmse), rel=0.03)
    assert np.mean(gauss) < 0.5 * np.mean(kde)


def test_far_outliers_do_not_change_kde_R():
    x = np.random.default_rng(4000).normal(E, SIGMA, 5000)
    r0 = kde_resolving_power(x, E)
    y = x.copy()
    y[:15] = 0.0  # e.g. failed fits
    y[15:30] = 100.0
    assert kde_resolving_power(y, E) == pytest.approx(r0, rel=0.03)
    assert gaussian_resolving_power(y, E) < 0.2 * gaussian_resolving_power(x, E)


def test_quantised_values():
    """Values on a lattice (fixed-point outputs) with step sigma/8 are not resolved into spikes."""
    q = SIGMA / 8
    samples = (np.round(np.random.default_rng(5000 + s).normal(E, SIGMA, 20000) / q) * q for s in range(4))
    ratios = [kde_resolving_power(x, E) / R_TRUE for x in samples]
    assert abs(np.mean(ratios) - 1.0) < tolerance(20000, 4) + 0.01


# ------------------------------------------------------------------------------------------------
# edge cases: never raise on data, documented results


def test_nonfinite_values_are_dropped():
    x = np.random.default_rng(6000).normal(E, SIGMA, 3000)
    y = np.concatenate([x[:1000], [np.nan] * 50, x[1000:2000], [np.inf, -np.inf], x[2000:]])
    assert kde_resolving_power(y, E) == kde_resolving_power(x, E)
    assert gaussian_resolving_power(y, E) == gaussian_resolving_power(x, E)


def test_too_few_values_give_nan_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for values in ([], [np.nan] * 100, np.full(9, np.nan)):
            assert math.isnan(kde_resolving_power(values, E))
            assert math.isnan(gaussian_resolving_power(values, E))
        # KDE R needs at least MIN_COUNT = 10 values; Gaussian R (a plain RMSE) is defined for any n
        nine = np.random.default_rng(0).normal(E, SIGMA, 9)
        assert math.isnan(kde_resolving_power(nine, E))
        assert gaussian_resolving_power(nine, E) > 0
        assert gaussian_resolving_power([1.6], E) == pytest.approx(E / (FWHM_PER_SIGMA * 0.1))
        assert math.isnan(gaussian_resolving_power(nine, E, min_count=10))
        # from 10 values on a number comes back (possibly NaN for KDE R), never an exception
        for n in (10, 11, 15, 30, 100):
            for s in range(5):
                r = kde_resolving_power(np.random.default_rng(s).normal(E, SIGMA, n), E)
                assert math.isnan(r) or r > 0
                assert gaussian_resolving_power(np.random.default_rng(s).normal(E, SIGMA, n), E) > 0


def test_constant_values():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(kde_resolving_power(np.full(100, 1.6), E))  # no width: NaN, not inf
        assert np.all(np.isnan(adaptive_kde(np.full(100, 1.6), np.linspace(1, 2, 11))))
        off = gaussian_resolving_power(np.full(100, 1.6), E)
        assert off == pytest.approx(E / (FWHM_PER_SIGMA * 0.1))
        assert gaussian_resolving_power(np.full(100, E), E) == math.inf


def test_invalid_energy_raises():
    x = np.random.default_rng(0).normal(E, SIGMA, 100)
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError):
            kde_resolving_power(x, bad)
        with pytest.raises(ValueError):
            gaussian_resolving_power(x, bad)


# ------------------------------------------------------------------------------------------------
# the adaptive KDE itself


def test_adaptive_kde_is_a_good_density():
    x = np.random.default_rng(7000).normal(E, SIGMA, 5000)
    grid = np.linspace(E - 6 * SIGMA, E + 6 * SIGMA, 1000)
    dens = adaptive_kde(x, grid)
    assert dens.shape == grid.shape
    assert np.all(dens >= 0)
    assert np.trapezoid(dens, grid) == pytest.approx(1.0, abs=0.01)
    # L1 distance to the true pdf: 0.037 on average over 30 seeds (max 0.057)
    assert np.trapezoid(np.abs(dens - norm.pdf(grid, E, SIGMA)), grid) < 0.08
    # density of all values: a grid over half the data integrates to about one half
    half_grid = np.linspace(E, E + 6 * SIGMA, 500)
    assert np.trapezoid(adaptive_kde(x, half_grid), half_grid) == pytest.approx(0.5, abs=0.03)


def test_adaptive_bandwidth_follows_local_width():
    rng = np.random.default_rng(7100)
    x = np.concatenate([rng.normal(0.0, 1.0, 3000), rng.normal(20.0, 5.0, 3000)])
    res = rp.kde_on_interval(x, x.min(), x.max())
    assert res.method == "adaptive"
    w_narrow, w_broad = np.interp([0.0, 20.0], res.t, res.bandwidth)
    assert w_narrow < 0.5 * w_broad
    # both peaks are reproduced (the narrow one 5x higher than the broad one)
    grid = np.linspace(-5.0, 40.0, 2000)
    d_narrow, d_broad = np.interp([0.0, 20.0], grid, adaptive_kde(x, grid))
    assert d_narrow == pytest.approx(0.5 * norm.pdf(0, 0, 1), rel=0.1)
    assert d_broad == pytest.approx(0.5 * norm.pdf(0, 0, 5), rel=0.1)


def test_fixed_kernel_fallback():
    # only 3 values inside the requested grid: no adaptive estimate, fixed Scott kernel instead
    res = rp.kde_on_interval([1.0, 1.1, 1.3, 5.0, 6.0], 0.5, 2.0)
    assert res.method == "fixed"
    assert np.all(np.isfinite(res.density)) and res.density.max() > 0
    dens = adaptive_kde([1.0, 1.1, 1.3, 5.0, 6.0], np.linspace(0.5, 2.0, 50))
    assert np.all(np.isfinite(dens))
    # grid that does not overlap the data
    assert np.all(adaptive_kde([1.0, 1.1, 1.3], np.linspace(5, 6, 10)) == 0)


def test_speed():
    rng = np.random.default_rng(7200)
    x2k = rng.normal(E, SIGMA, 2000)
    x20k = np.concatenate([rng.normal(E, SIGMA, 19000), rng.normal(E, 20 * SIGMA, 1000)])  # fine grid
    grid = np.linspace(E - 10 * SIGMA, E + 10 * SIGMA, 2000)
    for x, limit in ((x2k, 0.5), (x20k, 1.0)):
        t0 = time.perf_counter()
        adaptive_kde(x, grid)
        kde_resolving_power(x, E)
        assert time.perf_counter() - t0 < limit  # typically 10-60 ms each


# ------------------------------------------------------------------------------------------------
# per-line reports


def test_per_line_ordering_counts_and_json():
    wavelengths = np.array([808.0, 980.0, 1310.0])
    energies = HC_EV_NM / wavelengths
    r_targets = [10.0, 20.0, 40.0]
    counts = [3000, 2500, 2000]
    rng = np.random.default_rng(8000)
    pred, true, idx = [], [], []
    for i, (e, r, n) in enumerate(zip(energies, r_targets, counts)):
        pred.append(rng.normal(e, e / (r * FWHM_PER_SIGMA), n))
        true.append(np.full(n, e))
        idx.append(np.full(n, i))
    pred, true, idx = map(np.concatenate, (pred, true, idx))
    pred[:7] = np.nan  # 7 failed events in line 0
    out = per_line(pred, true, idx, wavelengths)

    assert [d["count"] for d in out] == [counts[0] - 7, counts[1], counts[2]]
    assert [d["wavelength_nm"] for d in out] == wavelengths.tolist()
    np.testing.assert_allclose([d["energy_ev"] for d in out], energies, rtol=1e-12)
    for d, r, e in zip(out, r_targets, energies):
        assert set(d) == {"wavelength_nm", "energy_ev", "R_kde", "R_gauss", "count", "mean_ev", "std_ev"}
        assert type(d["count"]) is int
        assert all(type(d[k]) is float for k in d if k != "count")
        assert d["R_kde"] == pytest.approx(r, rel=0.15)  # ~7 % scatter per line at these n
        assert d["R_gauss"] == pytest.approx(r, rel=0.05)
        assert d["mean_ev"] == pytest.approx(e, abs=3 * e / (r * FWHM_PER_SIGMA) / math.sqrt(2000))
        assert d["std_ev"] == pytest.approx(e / (r * FWHM_PER_SIGMA), rel=0.05)
    assert out[0]["R_kde"] < out[1]["R_kde"] < out[2]["R_kde"]
    assert out[0]["R_gauss"] < out[1]["R_gauss"] < out[2]["R_gauss"]

    assert json.loads(json.dumps(out)) == out
    assert mean_R(out) == pytest.approx(np.mean([d["R_kde"] for d in out]), rel=1e-12)
    assert mean_R(out, key="R_gauss") == pytest.approx(np.mean([d["R_gauss"] for d in out]), rel=1e-12)


def test_per_line_empty_line_and_mean_R_ignores_nan():
    wavelengths = [808.0, 920.0]
    e = HC_EV_NM / 808.0
    x = np.random.default_rng(8100).normal(e, 0.02, 500)
    idx = np.zeros(500, dtype=int)
    idx[:3] = -1  # unassigned events are ignored
    out = per_line(x, np.full(500, e), idx, wavelengths)
    assert out[0]["count"] == 497
    empty = out[1]
    assert empty["count"] == 0
    assert empty["energy_ev"] == pytest.approx(HC_EV_NM / 920.0)
    assert all(math.isnan(empty[k]) for k in ("R_kde", "R_gauss", "mean_ev", "std_ev"))
    json.dumps(out)  # NaN is written as NaN
    assert mean_R(out) == out[0]["R_kde"]
    assert math.isnan(mean_R([]))
    assert math.isnan(mean_R([empty]))


# --- paired resolving power ------------------------------------------------------------------------------------


def test_paired_r_of_identical_estimators_changes_by_exactly_zero():
    from venom_fpga.metrics.resolving_power import paired_resolving_power

    a = 1.0 + 0.03 * np.random.default_rng(1).standard_normal(1500)
    res = paired_resolving_power(a, a, 1.0)
    assert res["delta"] == 0.0 and res["delta_ci"] == [0.0, 0.0]
    assert res["R_reference_ci"][0] < res["R_reference"] < res["R_reference_ci"][1]


def test_paired_r_sees_a_tiny_perturbation_as_tiny_and_added_noise_as_a_loss():
    from venom_fpga.metrics.resolving_power import paired_resolving_power

    rng = np.random.default_rng(2)
    a = 1.0 + 0.03 * rng.standard_normal(1500)
    tiny = paired_resolving_power(a, a + 1e-5 * rng.standard_normal(a.size), 1.0)
    assert abs(tiny["delta"]) < 0.005 * tiny["R_reference"]
    assert tiny["delta_ci"][0] <= 0.0 <= tiny["delta_ci"][1]
    # sigma 0.03 -> 0.03 sqrt(2): R falls to 1/sqrt(2) (the ratio of two KDE widths scatters by ~4 % at 5,000
    # values, over seeds)
    b = 1.0 + 0.03 * rng.standard_normal(5000)
    worse = paired_resolving_power(b, b + 0.03 * rng.standard_normal(b.size), 1.0)
    assert worse["delta_ci"][1] < 0.0
    assert worse["R_other"] / worse["R_reference"] == pytest.approx(1 / np.sqrt(2), rel=0.12)


def test_paired_r_input_rules():
    from venom_fpga.metrics.resolving_power import paired_resolving_power

    with pytest.raises(ValueError, match="same pulses"):
        paired_resolving_power(np.ones(5), np.ones(6), 1.0)
    a = 1.0 + 0.03 * np.random.default_rng(3).standard_normal(300)
    b = a.copy()
    b[:10] = np.nan  # pairs with a non-finite member are dropped from both
    assert paired_resolving_power(a, b, 1.0)["count"] == 290
    assert np.isnan(paired_resolving_power(a[:3], a[:3], 1.0)["R_reference"])  # too few values


def test_paired_per_line_is_paired_r_per_line_and_its_mean_interval_holds_the_mean():
    from venom_fpga.metrics.resolving_power import paired_per_line, paired_resolving_power

    rng = np.random.default_rng(4)
    wavelengths = [808.0, 1310.0, 1550.0]  # the last line has no pulses
    idx = np.repeat([0, 1], 600)
    true = HC_EV_NM / np.asarray(wavelengths)[idx]
    a = true + 0.03 * rng.standard_normal(idx.size)
    b = a + 0.01 * rng.standard_normal(idx.size)
    out = paired_per_line(a, b, true, idx, wavelengths, n_boot=40, seed=5)
    for i, line in enumerate(out["per_line"][:2]):
        direct = paired_resolving_power(a[idx == i], b[idx == i], HC_EV_NM / wavelengths[i], n_boot=40, seed=(5, i))
        for key in ("R_reference", "R_other", "delta", "R_other_ci", "delta_ci", "zero_in_delta_ci", "count"):
            assert line[key] == pytest.approx(direct[key], rel=1e-12), key
    assert out["per_line"][2]["count"] == 0 and math.isnan(out["per_line"][2]["R_reference"])
    mean = out["mean"]
    assert mean["lines"] == 2
    assert mean["delta"] == pytest.approx(np.mean([d["delta"] for d in out["per_line"][:2]]), rel=1e-12)
    lo, hi = mean["delta_ci"]
    assert lo <= mean["delta"] <= hi and hi < 0.0  # added noise: a loss the interval resolves
    assert mean["zero_in_delta_ci"] is False
    assert mean["delta_pct"] == pytest.approx(100 * mean["delta"] / mean["R_reference"])
    # identical estimators: no change, and an interval of exactly 0
    same = paired_per_line(a, a, true, idx, wavelengths, n_boot=10)["mean"]
    assert same["delta"] == 0.0 and same["delta_ci"] == [0.0, 0.0] and same["zero_in_delta_ci"] is True
    # no resamples: point estimates, no intervals
    none = paired_per_line(a, b, true, idx, wavelengths, n_boot=0)["mean"]
    assert none["delta"] == mean["delta"] and math.isnan(none["delta_ci"][0]) and none["zero_in_delta_ci"] is None
    json.dumps(out)
