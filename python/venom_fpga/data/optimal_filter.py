# SPDX-License-Identifier: BSD-3-Clause
"""Optimal-filter (OF) energy baseline on raw VENOM-format traces (mkid_physics.md sections 2 and 5).

Everything the filter learns (loop frame, trigger threshold, templates, noise, energy calibration) comes
from the calibration pulses only (``calib=True``); energies are then estimated for every pulse, so the
caller evaluates R on the others.

1. **Coordinates.** Geometric (phase, dissipation) traces in the loop frame of ``dataset.loop_frame``
   (loop centre from the dark-loop sweep or a circle fit, dark point rotated onto +real).
2. **Alignment.** The threshold trigger of ``dataset.find_triggers`` (threshold from the calibration
   pulses' noise). Each pulse is filtered over a record of N samples starting ``PRE_SAMPLES`` before
   its trigger and running to ``END_MARGIN`` samples before the end of a nominally triggered trace;
   a pulse that did not trigger is placed at the median calibration trigger.
3. **Template** per line: the average calibration record (pulses that triggered), minus its
   pre-trigger baseline, scaled so that its phase peak is -1 (both channels by the same factor).
4. **Noise.** The 2x2 one-sided cross-PSD matrix S(f) of (phase, dissipation), a Hann-windowed
   periodogram averaged over the pulse-free start of the calibration traces (everything up to
   2 ``PRE_SAMPLES`` before the median trigger), linearly interpolated onto the record's frequency
   grid (constant below its lowest non-zero frequency).
5. **Filter.** Per bin k (DC and Nyquist excluded) the weight T_k^H S_k^-1, normalised so that a
   template of amplitude A returns A. The response is the largest filtered amplitude over lags within
   +-``MAX_LAG`` samples (a circular cross-correlation via FFT). Noise-only variance:
   sigma_A^2 = fs N / (4 sum_k T_k^H S_k^-1 T_k).
6. **Templates used.** One shared template (the line nearest ``shared_template_nm``) for every pulse,
   or the line's own template for each pulse (the pulse's line is known for calibration data). The
   default is the shared 920 nm template for the PtSi preset and per-line templates otherwise, as in
   the published baselines.
7. **Energy calibration.** Responses saturate (phase compression, Qi drop), so the response -> energy
   map is the quadratic interpolating spline through (0, 0) and (median calibration response, E) of
   each line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import make_interp_spline

from venom_fpga.data.dataset import CHUNK, LoopFrame, RawDataset, find_triggers, loop_frame

# Record samples before the trigger (the rise starts 1-3 samples before it fires).
PRE_SAMPLES = 8
# Samples kept free at the end of a nominally triggered trace, so later triggers still fit.
END_MARGIN = 8
# Lag search for the response (samples each side).
MAX_LAG = 4
# Presets whose published baseline uses one shared template, and its wavelength (nm).
SHARED_TEMPLATE_NM = {"ptsi": 920.0}


def noise_psd(segments: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """One-sided cross-PSD matrix of (records, channels, samples) noise: (freqs, S (F, C, C)).

    S[k, a, b] = E[X_a X_b^*] * 2 / (fs sum w^2) with X the Hann-windowed, mean-removed FFT (the DC
    and Nyquist bins are not doubled). Units: signal^2 / Hz.
    """
    n = segments.shape[-1]
    window = np.hanning(n + 2)[1:-1]  # strictly positive Hann
    x = np.fft.rfft((segments - segments.mean(axis=-1, keepdims=True)) * window, axis=-1)
    s = np.einsum("rak,rbk->kab", x, x.conj()) / segments.shape[0]
    s *= 2.0 / (fs * np.sum(window**2))
    s[0] /= 2.0
    if n % 2 == 0:
        s[-1] /= 2.0
    return np.fft.rfftfreq(n, 1.0 / fs), s


def interpolate_psd(freqs: np.ndarray, psd: np.ndarray, new_freqs: np.ndarray) -> np.ndarray:
    """PSD matrix on another frequency grid: linear, constant beyond the ends (DC bin not used)."""
    f, p = freqs[1:], psd[1:]
    flat = p.reshape(p.shape[0], -1)
    out = np.empty((new_freqs.size, flat.shape[1]), dtype=np.complex128)
    for col in range(flat.shape[1]):
        out[:, col] = np.interp(new_freqs, f, flat[:, col].real) + 1j * np.interp(new_freqs, f, flat[:, col].imag)
    return out.reshape((new_freqs.size,) + psd.shape[1:])


@dataclass(frozen=True)
class OptimalFilter:
    """Multi-channel optimal filter for records of ``length`` samples: d = A T(t - lag) + noise."""

    weights: np.ndarray  # (C, F) complex, T^H S^-1 / norm per bin; zero at DC and Nyquist
    variance: float  # sigma_A^2 for noise alone
    length: int

    @classmethod
    def build(cls, template: np.ndarray, psd: np.ndarray, fs: float) -> OptimalFilter:
        """``template`` (C, N); ``psd`` (N // 2 + 1, C, C) one-sided on the rfft grid of N samples."""
        template = np.atleast_2d(template)
        n = template.shape[-1]
        t = np.fft.rfft(template, axis=-1).T  # (F, C)
        used = np.zeros(t.shape[0], dtype=bool)
        used[1 : (n + 1) // 2] = True  # DC and Nyquist excluded
        w = np.zeros_like(t)
        w[used] = np.linalg.solve(psd[used], t[used][..., None])[..., 0].conj()  # (S^-1 T)^H = T^H S^-1
        norm = float(np.sum(w[used] * t[used]).real)
        return cls(weights=(w / norm).T, variance=fs * n / (4.0 * norm), length=n)

    def amplitudes(self, records: np.ndarray, max_lag: int = 0) -> np.ndarray:
        """Best amplitude over lags in [-max_lag, max_lag] for (records, C, N) data: (records,)."""
        records = records.reshape(records.shape[0], self.weights.shape[0], self.length)
        x = np.einsum("cf,rcf->rf", self.weights, np.fft.rfft(records, axis=-1))
        # irfft * N / 2 turns sum_k Re(X_k e^{i w_k lag}) into a correlation over all lags at once
        corr = np.fft.irfft(x, self.length, axis=-1) * (self.length / 2.0)
        lags = np.r_[0 : max_lag + 1, self.length - max_lag : self.length] if max_lag else [0]
        return corr[:, lags].max(axis=1)


def _chunks(idx: np.ndarray):
    """``idx`` in pieces of at most CHUNK (bounded memory for full-length records)."""
    return (idx[k : k + CHUNK] for k in range(0, idx.size, CHUNK))


def _records(raw: RawDataset, frame: LoopFrame, idx: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """(pulses, 2, length) phase and dissipation records of pulses ``idx`` from ``starts``."""
    offsets = starts[:, None] + np.arange(length)
    i = np.take_along_axis(raw.i[idx], offsets, axis=1)
    q = np.take_along_axis(raw.q[idx], offsets, axis=1)
    return np.stack(frame.coordinates(i, q), axis=1)


@dataclass(frozen=True)
class _Placement:
    """Where each pulse's record starts, its length, and the pulse-free head of a nominal trace."""

    starts: np.ndarray
    length: int
    noise_length: int


def _place_records(raw: RawDataset, frame: LoopFrame, calib: np.ndarray) -> _Placement:
    trig, _ = find_triggers(raw, frame, pulses=calib)
    nominal = int(np.median(trig[calib & (trig >= 0)]))
    trig = np.where(trig >= 0, trig, nominal)
    length = raw.trace_length - END_MARGIN - (nominal - PRE_SAMPLES)
    noise_length = nominal - 2 * PRE_SAMPLES
    if length < 4 * PRE_SAMPLES or noise_length < 4 * PRE_SAMPLES:
        raise ValueError(f"traces of {raw.trace_length} samples triggered at {nominal} leave no room for the OF")
    return _Placement(np.clip(trig - PRE_SAMPLES, 0, raw.trace_length - length), length, noise_length)


def _templates_and_noise(
    raw: RawDataset, frame: LoopFrame, calib: np.ndarray, place: _Placement
) -> tuple[np.ndarray, np.ndarray]:
    """Per-line templates (lines, 2, N), phase peak -1, and the noise PSD matrix on the N-sample grid."""
    n_lines = raw.wavelengths_nm.size
    sums = np.zeros((n_lines, 2, place.length))
    counts = np.zeros(n_lines)
    psd_sum, n_noise = 0.0, 0
    for chunk in _chunks(np.flatnonzero(calib)):
        np.add.at(sums, raw.line_index[chunk], _records(raw, frame, chunk, place.starts[chunk], place.length))
        counts += np.bincount(raw.line_index[chunk], minlength=n_lines)
        quiet = chunk[place.starts[chunk] >= place.noise_length]  # pulse-free up to noise_length
        if quiet.size:
            head = _records(raw, frame, quiet, np.zeros(quiet.size, dtype=np.int64), place.noise_length)
            freqs, psd = noise_psd(head, raw.raw_rate_hz)
            psd_sum, n_noise = psd_sum + psd * quiet.size, n_noise + quiet.size
    if n_noise == 0:
        raise ValueError("no calibration trace has a pulse-free start to measure the noise on")
    templates = sums / counts[:, None, None]
    templates -= templates[:, :, : PRE_SAMPLES - 2].mean(axis=-1, keepdims=True)
    templates /= -templates[:, :1].min(axis=-1, keepdims=True)
    grid = np.fft.rfftfreq(place.length, 1.0 / raw.raw_rate_hz)
    return templates, interpolate_psd(freqs, psd_sum / n_noise, grid)


def estimate_energies(raw: RawDataset, calib: np.ndarray, *, shared_template_nm: float | None = None) -> np.ndarray:
    """OF energies (eV) of every pulse, calibrated on the pulses with ``calib`` True only.

    ``shared_template_nm``: filter every pulse with that line's template; None: the preset default
    (the shared 920 nm template for PtSi, per-line templates otherwise).
    """
    calib = np.asarray(calib, dtype=bool)
    if calib.shape != (raw.n_pulses,):
        raise ValueError(f"calib has shape {calib.shape}, expected ({raw.n_pulses},)")
    lines = np.arange(raw.wavelengths_nm.size)
    missing = [f"{raw.wavelengths_nm[k]:g} nm" for k in lines if not np.any(calib & (raw.line_index == k))]
    if missing:
        raise ValueError(f"no calibration pulses for {', '.join(missing)}")
    if shared_template_nm is None:
        shared_template_nm = SHARED_TEMPLATE_NM.get(raw.meta.get("preset"))
    if shared_template_nm is not None:
        shared = int(np.argmin(np.abs(raw.wavelengths_nm - shared_template_nm)))
        if abs(raw.wavelengths_nm[shared] - shared_template_nm) > 1.0:
            raise ValueError(f"no line at {shared_template_nm} nm for the shared template")

    # 1-4: frame, record placement, templates and noise, all from the calibration pulses
    frame = loop_frame(raw, pulses=calib)
    place = _place_records(raw, frame, calib)
    templates, psd = _templates_and_noise(raw, frame, calib, place)

    # 5-6: filter every pulse with its line's template, or all with the shared one
    filters = [OptimalFilter.build(t, psd, raw.raw_rate_hz) for t in templates]
    template_of_line = lines if shared_template_nm is None else np.full(lines.size, shared)
    response = np.empty(raw.n_pulses)
    for chunk in _chunks(np.arange(raw.n_pulses)):
        rec = _records(raw, frame, chunk, place.starts[chunk], place.length)
        which = template_of_line[raw.line_index[chunk]]
        for k in np.unique(which):
            response[chunk[which == k]] = filters[k].amplitudes(rec[which == k], MAX_LAG)

    # 7: response -> energy through (0, 0) and each line's median calibration response
    medians = np.array([np.median(response[calib & (raw.line_index == k)]) for k in lines])
    order = np.argsort(medians)
    knots = np.r_[0.0, medians[order]]
    if np.any(np.diff(knots) <= 0):
        raise ValueError(f"line responses {medians} are not distinct and positive: cannot calibrate")
    return make_interp_spline(knots, np.r_[0.0, raw.line_energies_ev[order]], k=2)(response)
