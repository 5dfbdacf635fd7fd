# SPDX-License-Identifier: BSD-3-Clause
"""VENOM-format data: loading, loop geometry, threshold trigger, windows, decimation, split.

A VENOM-format directory holds one ``.npz`` per calibration line with ``i_trace`` and ``q_trace``
(pulses x samples), ``mask`` (event selection) and ``peak_heights``, and optionally ``metadata.json``
(raw sample rate, tau_qp, line list, dark-loop sweep, ...). The line's wavelength comes from
metadata.json's ``lines`` or else from the file name (``0808nm.npz``, ``PtSi_808nm.npz``).

Windowing, as a real read-out front end would do it (mkid_physics.md section 7):

1. **Loop frame.** The loop centre is fitted (algebraic circle fit) to the dark-loop sweep of
   metadata.json, or, for data without one, to the samples of the pulses themselves (the curve they
   trace, which lies inside the dark loop as it shrinks). The dark point is the median of the first
   ``BASELINE_SAMPLES`` samples of the traces (assumed pulse-free, as in any triggered record).
   Geometric coordinates: centre on the loop, rotate the dark point onto +real; phase = angle,
   dissipation = |z| / |z_dark| - 1. A read-out that mirrors the loop is detected from the pulses and
   the phase negated, so pulses are always negative-going.
2. **Trigger.** The first sample whose phase falls below -n_sigma * sigma, sigma being set from the
   data at hand (per resonator, as a read-out would). Pulses only move the phase negative and the rest
   phase is 0, so sigma is the RMS of the positive phase samples: noise only, whatever fraction of a
   trace the pulse occupies. Pulses that never cross, or whose window does not fit in the trace, are
   dropped (counted in ``Windows.provenance``).
3. **Decimation.** A windowed-sinc FIR (``scipy.signal.firwin``, 8 taps per unit of decimation + 1,
   cutoff at 0.8 of the output Nyquist frequency), centred on tap ``len // 2`` (zero phase; in
   hardware, a causal FIR with the trigger delayed by ``len // 2`` samples), sampled every
   ``decimation`` raw samples from ``trigger - decimation * pre_trigger``. Near the trace ends the FIR
   sees the edge sample repeated. Window length L = round(n_tau tau_qp fs / decimation) + 1 + pre_trigger.
4. **Normalisation.** (x - iq_offset) / iq_scale per quadrature. Computed from the data when not given:
   the offset is the dark point, the scale the median |z - offset| over the window samples, shared by
   I and Q so that the loop stays a circle.

``Windows.preprocessing`` holds exactly the checkpoint Metadata keys; the trigger setting that is not a
Metadata field goes to ``Windows.provenance['trigger_n_sigma']``, which ``make_windows_from_meta``
reads back from ``Metadata.provenance`` (default ``TRIGGER_N_SIGMA``).
"""

from __future__ import annotations

import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.ndimage import correlate1d
from scipy.signal import firwin

from venom_fpga.errors import MAX_COUNT, VenomError, check_int, check_number, check_numbers, check_object, check_str
from venom_fpga.files import read_json
from venom_fpga.metrics.resolving_power import HC_EV_NM
from venom_fpga.model.meta import Metadata

# Keys every line file must hold (peak_heights is part of the format but not needed here).
REQUIRED_KEYS = ("i_trace", "q_trace", "mask")
# metadata.json key of the dark-loop sweep {"i": [...], "q": [...]} in raw I/Q units.
DARK_LOOP_KEY = "dark_loop"
# Leading samples of every trace taken as pulse-free (dark point).
BASELINE_SAMPLES = 16
# Pulses used to fit the loop centre when there is no sweep, and to set the trigger threshold.
GEOMETRY_PULSES = 256
# Default trigger threshold in units of the phase noise sigma: ~1e-9 false-trigger rate per sample.
TRIGGER_N_SIGMA = 6.0
# Decimation FIR: taps per unit of decimation (plus one, odd length) and cutoff / output Nyquist.
FIR_TAPS_PER_FACTOR = 8
FIR_CUTOFF = 0.8
# Pulses processed at once when a full-trace intermediate is needed.
CHUNK = 2048

_WAVELENGTH_RE = re.compile(r"(\d+(?:\.\d+)?)\s*nm", re.IGNORECASE)


class DataError(VenomError):
    """A data directory, file or setting that cannot be used, explained in one line naming it."""


def _positive(value: Any, where: str) -> float:
    return check_number(value, where, positive=True, error=DataError)


def _lines(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise DataError(f"{where} must be a list of {{file, wavelength_nm}} objects, found {type(value).__name__}")
    for k, entry in enumerate(value):
        check_object(entry, f"{where}[{k}]", error=DataError)
        check_str(entry.get("file"), f"{where}[{k}].file", error=DataError)
        _positive(entry.get("wavelength_nm"), f"{where}[{k}].wavelength_nm")
    return value


def _dark_loop(value: Any, where: str) -> dict:
    check_object(value, where, error=DataError)
    i = check_numbers(value.get("i"), f"{where}.i", error=DataError)
    check_numbers(value.get("q"), f"{where}.q", length=len(i), error=DataError)
    if len(i) < 3:
        raise DataError(f"{where} needs at least 3 points to fit a circle, found {len(i)}")
    return value


# metadata.json keys this module reads, each with its check (the others are free-form and kept as they are).
DATA_FIELDS = {
    "raw_rate_hz": _positive,
    "tau_qp_s": _positive,
    "lines": _lines,
    DARK_LOOP_KEY: _dark_loop,
}


def line_file_name(wavelength_nm: float) -> str:
    """File name of one line: ``0808nm.npz`` (``0406.6nm.npz`` for a fractional wavelength)."""
    wl = float(wavelength_nm)
    return f"{int(wl):04d}nm.npz" if wl.is_integer() else f"{wl:06.1f}nm.npz"


@dataclass
class RawDataset:
    """Raw traces of all lines, masked and concatenated (lines sorted by wavelength)."""

    i: np.ndarray  # (pulses, samples) float32
    q: np.ndarray  # (pulses, samples) float32
    line_index: np.ndarray  # (pulses,) index into wavelengths_nm
    wavelengths_nm: np.ndarray  # (lines,)
    line_energies_ev: np.ndarray  # (lines,) hc / lambda
    energy_ev: np.ndarray  # (pulses,) true energy of each pulse's line
    raw_rate_hz: float
    meta: dict[str, Any] = field(default_factory=dict)  # metadata.json, or {}

    @property
    def n_pulses(self) -> int:
        return self.i.shape[0]

    @property
    def trace_length(self) -> int:
        return self.i.shape[1]


def _wavelength(path: Path, lines: dict[str, float]) -> float:
    if path.name in lines:
        return float(lines[path.name])
    match = _WAVELENGTH_RE.search(path.stem)
    if match is None:
        raise DataError(f"{path}: cannot infer the wavelength; name the file like 0808nm.npz")
    return _positive(float(match.group(1)), f"{path}: wavelength (from the file name)")


def _read_line(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(i, q) of the masked pulses of one line file, validated."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in REQUIRED_KEYS if k in f.files}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    except MemoryError as exc:
        raise DataError(f"{path}: an array's header asks for more memory than there is ({exc})") from None
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise DataError(f"{path}: missing key(s) {', '.join(missing)}")
    i, q, mask = (arrays[k] for k in REQUIRED_KEYS)
    for key, arr in (("i_trace", i), ("q_trace", q)):
        if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise DataError(f"{path}: {key} has dtype {arr.dtype}, not real numbers")
    if not (np.issubdtype(mask.dtype, np.bool_) or np.issubdtype(mask.dtype, np.integer)):
        raise DataError(f"{path}: mask has dtype {mask.dtype}, not booleans")
    if i.ndim != 2 or i.shape != q.shape or i.shape[1] == 0:
        raise DataError(f"{path}: i_trace {i.shape} and q_trace {q.shape} must be equal (pulses, samples)")
    if mask.shape != (i.shape[0],):
        raise DataError(f"{path}: mask shape {mask.shape} does not match {i.shape[0]} pulses")
    mask = mask.astype(bool)
    i, q = i[mask].astype(np.float32), q[mask].astype(np.float32)
    bad = i.size - np.count_nonzero(np.isfinite(i)) + q.size - np.count_nonzero(np.isfinite(q))
    if bad:
        raise DataError(f"{path}: {bad} NaN/Inf values (or beyond float32) in the selected traces")
    return i, q


def load_raw(data_dir: str | Path, *, raw_rate_hz: float | None = None) -> RawDataset:
    """Read a VENOM-format directory; ``raw_rate_hz`` is required when there is no metadata.json."""
    d = Path(data_dir)
    if not d.is_dir():
        raise DataError(f"data directory {d} does not exist" if not d.exists() else f"{d}: not a directory")
    files = sorted(p for p in d.glob("*.npz") if p.is_file())
    if not files:
        raise DataError(f"{d}: no .npz files")
    meta_path = d / "metadata.json"
    meta = read_json(meta_path, "data set metadata", DataError) if meta_path.exists() else {}
    check_object(meta, str(meta_path), error=DataError)
    for key, check in DATA_FIELDS.items():
        if key in meta:
            check(meta[key], f"{meta_path}: {key}")
    rate = raw_rate_hz if raw_rate_hz is not None else meta.get("raw_rate_hz")
    if rate is None:
        raise DataError(f"{d}: no metadata.json with raw_rate_hz; give the raw sample rate")
    rate = _positive(rate, "raw sample rate (Hz)")
    if "raw_rate_hz" in meta and not math.isclose(rate, float(meta["raw_rate_hz"])):
        raise DataError(f"{d}: raw rate {rate} Hz contradicts metadata.json ({meta['raw_rate_hz']} Hz)")
    lines = {entry["file"]: entry["wavelength_nm"] for entry in meta.get("lines", [])}
    by_wavelength = sorted(files, key=lambda p: _wavelength(p, lines))
    i_parts, q_parts, index = [], [], []
    for k, path in enumerate(by_wavelength):
        i, q = _read_line(path)
        if i_parts and i.shape[1] != i_parts[0].shape[1]:
            raise DataError(f"{path}: {i.shape[1]} samples per trace, other files have {i_parts[0].shape[1]}")
        i_parts.append(i)
        q_parts.append(q)
        index.append(np.full(i.shape[0], k, dtype=np.int64))
    wavelengths = np.array([_wavelength(p, lines) for p in by_wavelength])
    if len(set(wavelengths)) != len(wavelengths):
        raise DataError(f"{d}: two line files have the same wavelength")
    energies = HC_EV_NM / wavelengths
    line_index = np.concatenate(index)
    if line_index.size == 0:
        raise DataError(f"{d}: no pulses (every mask is empty)")
    return RawDataset(
        i=np.concatenate(i_parts),
        q=np.concatenate(q_parts),
        line_index=line_index,
        wavelengths_nm=wavelengths,
        line_energies_ev=energies,
        energy_ev=energies[line_index],
        raw_rate_hz=float(rate),
        meta=meta,
    )


# --- loop geometry ---------------------------------------------------------------------------------


def fit_circle(z: np.ndarray) -> tuple[complex, float]:
    """Algebraic (Kasa) least-squares circle through complex points: (centre, radius)."""
    z = np.asarray(z, dtype=np.complex128).ravel()
    mean = z.mean()
    w = z - mean  # centred for conditioning
    a = np.stack([w.real, w.imag, np.ones_like(w.real)], axis=1)
    (p, _, _, _) = np.linalg.lstsq(a, np.abs(w) ** 2, rcond=None)
    centre = complex(p[0] / 2.0, p[1] / 2.0)
    return centre + mean, math.sqrt(p[2] + abs(centre) ** 2)


@dataclass(frozen=True)
class LoopFrame:
    """Loop centre and dark point in raw I/Q units; maps I/Q to geometric (phase, dissipation).

    ``mirrored``: the read-out swaps the loop's orientation (pulses would turn the phase positive),
    so the phase is negated to keep the convention that pulses are negative.
    """

    centre: complex
    dark: complex
    mirrored: bool = False

    def coordinates(self, i: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = (i + 1j * q - self.centre) / (self.dark - self.centre)  # dark point -> +1
        phase = np.angle(w).astype(np.float32)
        return (-phase if self.mirrored else phase), (np.abs(w) - 1.0).astype(np.float32)


def _selected(raw: RawDataset, pulses: np.ndarray | None) -> np.ndarray:
    """Indices of the selected pulses (all when None)."""
    if pulses is None:
        return np.arange(raw.n_pulses)
    pulses = np.asarray(pulses, dtype=bool)
    if pulses.shape != (raw.n_pulses,):
        raise DataError(f"pulse selection has shape {pulses.shape}, expected ({raw.n_pulses},)")
    if not pulses.any():
        raise DataError("pulse selection is empty")
    return np.flatnonzero(pulses)


def _spread(sel: np.ndarray, n: int) -> np.ndarray:
    """At most n of the indices, evenly spread (deterministic, covers every line)."""
    return sel[np.linspace(0, sel.size - 1, min(n, sel.size)).astype(np.int64)]


def loop_frame(raw: RawDataset, pulses: np.ndarray | None = None) -> LoopFrame:
    """Loop frame from the dark-loop sweep (or the pulse samples) and the selected pulses' baselines."""
    sel = _selected(raw, pulses)
    some = _spread(sel, GEOMETRY_PULSES)
    head = raw.i[sel, :BASELINE_SAMPLES].mean(axis=1) + 1j * raw.q[sel, :BASELINE_SAMPLES].mean(axis=1)
    dark = complex(np.median(head.real), np.median(head.imag))
    if DARK_LOOP_KEY in raw.meta:
        sweep = raw.meta[DARK_LOOP_KEY]
        points = np.asarray(sweep["i"]) + 1j * np.asarray(sweep["q"])
    else:  # the curve the pulses trace (inside the dark loop, which shrinks as Qi drops)
        points = raw.i[some] + 1j * raw.q[some]
    centre, _ = fit_circle(points)
    phase, _ = LoopFrame(centre, dark).coordinates(raw.i[some], raw.q[some])
    mirrored = bool(np.median(phase.max(axis=1)) > -np.median(phase.min(axis=1)))
    return LoopFrame(centre=centre, dark=dark, mirrored=mirrored)


# --- trigger ---------------------------------------------------------------------------------------


def noise_sigma(phase: np.ndarray) -> float:
    """Phase noise sigma from the positive samples (pulses only go negative; rest phase is 0)."""
    pos = phase[phase > 0]
    if pos.size == 0:
        raise DataError("no positive phase samples: cannot estimate the noise (is the dark point right?)")
    return float(np.sqrt(np.mean(np.square(pos, dtype=np.float64))))


def first_crossing(phase: np.ndarray, threshold: float) -> np.ndarray:
    """Index of the first sample below ``threshold`` per row; -1 where there is none."""
    below = phase < threshold
    idx = np.argmax(below, axis=1)
    return np.where(below.any(axis=1), idx, -1)


def find_triggers(
    raw: RawDataset, frame: LoopFrame, *, n_sigma: float = TRIGGER_N_SIGMA, pulses: np.ndarray | None = None
) -> tuple[np.ndarray, float]:
    """Threshold trigger on the geometric phase of every pulse: (index or -1, threshold in rad).

    The threshold is set from the noise of the selected pulses (all when None).
    """
    some = _spread(_selected(raw, pulses), GEOMETRY_PULSES)
    threshold = -n_sigma * noise_sigma(frame.coordinates(raw.i[some], raw.q[some])[0])
    trig = np.empty(raw.n_pulses, dtype=np.int64)
    for start in range(0, raw.n_pulses, CHUNK):
        stop = start + CHUNK
        phase, _ = frame.coordinates(raw.i[start:stop], raw.q[start:stop])
        trig[start:stop] = first_crossing(phase, threshold)
    return trig, threshold


# --- windows ---------------------------------------------------------------------------------------


def fir_taps(decimation: int) -> np.ndarray:
    """Anti-aliasing FIR for decimation by ``decimation`` (a single unit tap when there is none)."""
    decimation = check_int(decimation, "decimation", low=1, error=DataError)
    if decimation == 1:
        return np.ones(1)
    return firwin(FIR_TAPS_PER_FACTOR * decimation + 1, FIR_CUTOFF / decimation)


def window_length(raw_rate_hz: float, decimation: int, n_tau: float, tau_qp_s: float, pre_trigger: int = 0) -> int:
    """Model-rate samples per window: round(n_tau tau_qp fs / decimation) + 1 + pre_trigger."""
    samples = n_tau * tau_qp_s * raw_rate_hz / decimation
    check_number(samples, f"window length ({n_tau:g} tau_qp at {raw_rate_hz:g} Hz / {decimation})", low=0,
                 high=MAX_COUNT, error=DataError)
    return int(round(samples)) + 1 + int(pre_trigger)


def decimate_at(x: np.ndarray, taps: np.ndarray, decimation: int, starts: np.ndarray, length: int) -> np.ndarray:
    """FIR-filter rows of ``x`` (centred on the tap ``len(taps) // 2``) and sample them every
    ``decimation`` samples from ``starts``: (rows, length) float32."""
    out = np.empty((x.shape[0], length), dtype=np.float32)
    offsets = decimation * np.arange(length)
    for start in range(0, x.shape[0], CHUNK):
        stop = start + CHUNK
        y = correlate1d(x[start:stop], np.asarray(taps, dtype=np.float64), axis=1, mode="nearest")
        out[start:stop] = np.take_along_axis(y, starts[start:stop, None] + offsets, axis=1)
    return out


@dataclass
class Windows:
    """Decimated, normalised windows of the pulses whose trigger fired and whose window fits."""

    iq: np.ndarray  # (N, L, 2) float32, [..., 0] = I, [..., 1] = Q, normalised
    energy_ev: np.ndarray  # (N,)
    line_index: np.ndarray  # (N,)
    index: np.ndarray  # (N,) indices of the kept pulses in the RawDataset
    wavelengths_nm: np.ndarray
    line_energies_ev: np.ndarray
    preprocessing: dict[str, Any]  # exactly the Metadata preprocessing keys
    provenance: dict[str, Any]  # trigger setting (for Metadata.provenance) and what was dropped


def _windows(
    raw: RawDataset,
    *,
    decimation: int,
    taps: np.ndarray,
    length: int,
    pre_trigger: int,
    iq_offset: list[float] | None,
    iq_scale: list[float] | None,
    n_sigma: float,
) -> Windows:
    if pre_trigger < 0:
        raise DataError(f"pre_trigger must be >= 0, got {pre_trigger}")
    if len(taps) > raw.trace_length:  # before filtering: such a filter takes hours and leaves no window
        raise DataError(f"a decimation FIR of {len(taps)} taps is longer than the traces ({raw.trace_length} samples)")
    frame = loop_frame(raw)
    trig, threshold = find_triggers(raw, frame, n_sigma=n_sigma)
    starts = trig - decimation * pre_trigger
    fits = (trig >= 0) & (starts >= 0) & (starts + decimation * (length - 1) < raw.trace_length)
    keep = np.flatnonzero(fits)
    if keep.size == 0:
        raise DataError(f"no pulse triggered with a complete window of {length} samples")
    i = decimate_at(raw.i[keep], taps, decimation, starts[keep], length)
    q = decimate_at(raw.q[keep], taps, decimation, starts[keep], length)
    if iq_offset is None:
        iq_offset = [frame.dark.real, frame.dark.imag]
    if iq_scale is None:
        s = float(np.median(np.hypot(i - iq_offset[0], q - iq_offset[1])))
        iq_scale = [s, s]
    offset = np.asarray(iq_offset, dtype=np.float64)
    scale = np.asarray(iq_scale, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # checked just below
        iq = ((np.stack([i, q], axis=-1) - offset) / scale).astype(np.float32)
    if not np.all(np.isfinite(iq)):
        raise DataError(f"normalised windows have {iq.size - np.count_nonzero(np.isfinite(iq))} values beyond "
                        f"float32 (iq_offset {offset.tolist()}, iq_scale {scale.tolist()})")
    preprocessing = {
        "raw_sample_rate_hz": raw.raw_rate_hz,
        "decimation": int(decimation),
        "fir_taps": [float(t) for t in taps],
        "window_length": int(length),
        "pre_trigger": int(pre_trigger),
        "iq_offset": [float(v) for v in offset],
        "iq_scale": [float(v) for v in scale],
    }
    provenance = {
        "trigger_n_sigma": float(n_sigma),
        "trigger_threshold_rad": threshold,
        "n_no_trigger": int(np.count_nonzero(trig < 0)),
        "n_window_outside_trace": int(np.count_nonzero((trig >= 0) & ~fits)),
    }
    return Windows(
        iq=iq,
        energy_ev=raw.energy_ev[keep],
        line_index=raw.line_index[keep],
        index=keep,
        wavelengths_nm=raw.wavelengths_nm,
        line_energies_ev=raw.line_energies_ev,
        preprocessing=preprocessing,
        provenance=provenance,
    )


def make_windows(
    raw: RawDataset,
    *,
    decimation: int = 4,
    n_tau: float = 5.0,
    tau_qp_s: float | None = None,
    pre_trigger: int = 0,
    iq_offset: list[float] | None = None,
    iq_scale: list[float] | None = None,
    trigger_n_sigma: float = TRIGGER_N_SIGMA,
) -> Windows:
    """Trigger, window n_tau * tau_qp past the trigger, FIR-decimate and normalise every pulse.

    ``tau_qp_s`` defaults to metadata.json's ``tau_qp_s``. ``iq_offset``/``iq_scale`` (per quadrature)
    are computed from these data when None (training); evaluation passes the stored ones.
    """
    if tau_qp_s is None:
        if "tau_qp_s" not in raw.meta:
            raise DataError("tau_qp_s is not in metadata.json; give it explicitly")
        tau_qp_s = raw.meta["tau_qp_s"]
    tau_qp_s = _positive(tau_qp_s, "tau_qp_s")
    decimation = check_int(decimation, "decimation", low=1, high=raw.trace_length, error=DataError)
    return _windows(
        raw,
        decimation=decimation,
        taps=fir_taps(decimation),
        length=window_length(raw.raw_rate_hz, decimation, n_tau, tau_qp_s, pre_trigger),
        pre_trigger=int(pre_trigger),
        iq_offset=iq_offset,
        iq_scale=iq_scale,
        n_sigma=trigger_n_sigma,
    )


def make_windows_from_meta(raw: RawDataset, meta: Metadata) -> Windows:
    """The exact windows a checkpoint was trained with: every setting comes from its Metadata."""
    if meta.raw_sample_rate_hz is not None and not math.isclose(meta.raw_sample_rate_hz, raw.raw_rate_hz):
        raise DataError(
            f"data raw rate {raw.raw_rate_hz} Hz differs from the checkpoint's {meta.raw_sample_rate_hz} Hz"
        )
    if meta.window_length is None:
        raise DataError("checkpoint metadata has no window_length: cannot window raw data for it")
    n_sigma = check_number(meta.provenance.get("trigger_n_sigma", TRIGGER_N_SIGMA),
                           "metadata provenance.trigger_n_sigma", positive=True, error=DataError)
    return _windows(
        raw,
        decimation=int(meta.decimation),
        taps=np.asarray(meta.fir_taps or [1.0], dtype=np.float64),
        length=int(meta.window_length),
        pre_trigger=int(meta.pre_trigger),
        iq_offset=list(meta.iq_offset),
        iq_scale=list(meta.iq_scale),
        n_sigma=n_sigma,
    )


# --- split -----------------------------------------------------------------------------------------


def stratified_split(line_index: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask (True = test): round(test_fraction * n) random pulses of every line."""
    if not 0.0 < test_fraction < 1.0:
        raise DataError(f"test_fraction must be in (0, 1), got {test_fraction}")
    line_index = np.asarray(line_index)
    rng = np.random.default_rng(seed)
    test = np.zeros(line_index.shape, dtype=bool)
    for line in np.unique(line_index):
        members = np.flatnonzero(line_index == line)
        test[rng.permutation(members)[: int(round(test_fraction * members.size))]] = True
    return test
