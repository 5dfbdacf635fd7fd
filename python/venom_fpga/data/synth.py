# SPDX-License-Identifier: BSD-3-Clause
"""Synthetic MKID I/Q pulses in the VENOM data format (docs/mkid_physics.md sections 1-4).

Per photon, vectorised over a chunk of pulses:

1. E = hc / lambda. Quasiparticle number N = eta E / Delta, Delta = 1.764 k_B T_c, with a Gaussian
   multiplicative pulse-height spread of resolving power R_int(E) = R_int1 sqrt(E / 1 eV) (Fano plus
   hot-phonon loss, (F + J) N) and a constant fractional position/gain spread R_pos.
2. n(t) = N exp(-(t - t0) / tau_qp) for t >= t0, where t0 is the trigger index plus a uniform random
   sub-sample offset (so a threshold trigger fires 1-3 samples after ``trigger_index``).
3. fr(t) = fr0 (1 - k_x n(t) - x_TLS(t)) and 1/Qi(t) = 1/Qi0 + k_d n(t), with k_d = 2 k_x / beta.
   x_TLS is fractional-frequency noise with S_x(f) = S_x(1 kHz) (f / 1 kHz)^-1/2, flat below a knee.
4. S21 = 1 - (Qr/Qc) / (1 + 2i Qr x), x = (f_read - fr) / fr at the fixed tone f_read = fr0: the
   full nonlinear loop (phase saturation and circle shrink), never a linearised phase.
5. Causal single-pole ring-down tau_res = Qr0 / (pi fr0) on S21(t), at 8x the output rate; then
   boxcar (integrate-and-dump) decimation to the raw rate.
6. White amplifier noise, independent and equal in I and Q; then the readout rotation and gain.

The TLS noise is generated at the raw rate and held over the 8 sub-samples (1/8 of the FFT work):
above the raw Nyquist frequency its f^-1/2 spectrum is below the white floor and the resonator
suppresses it further. It is drawn over twice the trace length (first half kept) so that frequencies
below 1/trace are present and the noise is not periodic over the trace. The ring-down and boxcar
are evaluated exactly per raw sample (``_ring_down_boxcar``) rather than by a sub-sample loop.

Each line is written as one ``<wavelength>nm.npz`` (``dataset.line_file_name``) holding ``i_trace``,
``q_trace`` (float32, pulses x samples), ``mask`` (all True) and ``peak_heights`` (the noiseless
peak loop-centred phase of each pulse, rad, negative). ``metadata.json`` records the preset, every
parameter, the seed and the dark loop (a noiseless frequency sweep in raw I/Q units, from which a
reader fits the loop centre as a real pipeline would).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.format import open_memmap
from scipy.signal import lfilter
from tqdm import tqdm

from venom_fpga.data.dataset import DARK_LOOP_KEY, DataError, line_file_name
from venom_fpga.errors import check_int
from venom_fpga.files import check_output_path, interruptible, umask
from venom_fpga.metrics.resolving_power import FWHM_PER_SIGMA, HC_EV_NM

GENERATOR = "venom_fpga.data.synth"  # metadata.json "generator": what --force may replace
GENERATOR_VERSION = "1"
# Boltzmann constant (eV/K); Delta = 1.764 k_B T_c (BCS).
K_B_EV_PER_K = 8.617333e-5
# Pulses simulated at once: bounds memory (~40 MB per chunk for the longest preset trace).
CHUNK = 256
# Timestamp of the members of the .npz files (the zip format's earliest date).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Training continua extend the preset's energy range by this fraction on both sides, so that its outer
# lines are not at the edge of what the model has seen.
CONTINUUM_MARGIN = 0.25
# Points of the dark-loop sweep written to metadata.json, spanning +-SWEEP_LINEWIDTHS linewidths.
SWEEP_POINTS = 201
SWEEP_LINEWIDTHS = 5.0


@dataclass(frozen=True)
class Preset:
    """Every physical parameter of a synthetic detector (mkid_physics.md section 4)."""

    name: str
    # Raw I/Q sample rate (Hz) and trace geometry: samples per trace, arrival sample of the pulse.
    raw_rate_hz: float
    trace_length: int
    trigger_index: int
    # Calibration lines (nm).
    wavelengths_nm: tuple[float, ...]
    # Resonator: resonance frequency (Hz), coupling and dark internal quality factors.
    fr_hz: float
    qc: float
    qi0: float
    # Quasiparticle recombination time (s).
    tau_qp_s: float
    # Linear responsivity: fractional frequency shift per absorbed eV (small-signal phase -4 Qr dx).
    dx_per_ev: float
    # Frequency to dissipation response ratio beta = 2 |dx| / d(1/Qi).
    beta: float
    # Pair-breaking efficiency, critical temperature (K) and Fano factor: set the quasiparticle
    # number and the Fano limit that R_int1 may not exceed.
    eta: float
    tc_k: float
    fano: float
    # Intrinsic resolving power at 1 eV (scales as sqrt(E)) and constant position/gain spread.
    r_int1: float
    r_pos: float
    # White amplifier noise and TLS noise at 1 kHz, both in loop-centred phase units (dBc/Hz);
    # TLS is flat below tls_knee_hz.
    white_dbc_hz: float
    tls_dbc_hz_1khz: float
    tls_knee_hz: float
    # Readout: loop rotation (absorbs the cable delay at the fixed tone) and gain to raw units.
    readout_rotation_rad: float
    readout_gain: float
    # Simulation rate as a multiple of the raw rate.
    oversample: int = 8

    @property
    def qr0(self) -> float:
        return 1.0 / (1.0 / self.qi0 + 1.0 / self.qc)

    @property
    def tau_res_s(self) -> float:
        return self.qr0 / (math.pi * self.fr_hz)

    @property
    def loop_radius(self) -> float:
        return self.qr0 / (2.0 * self.qc)

    @property
    def qp_per_ev(self) -> float:
        return self.eta / (1.764 * K_B_EV_PER_K * self.tc_k)

    @property
    def sigma_iq(self) -> float:
        """Per-quadrature white-noise std per raw sample in S21 units: sqrt(S_IQ fs / 2)."""
        s_iq = 10.0 ** (self.white_dbc_hz / 10.0) * self.loop_radius**2
        return math.sqrt(s_iq * self.raw_rate_hz / 2.0)

    @property
    def tls_sx_1khz(self) -> float:
        """TLS fractional-frequency PSD at 1 kHz (1/Hz): S_theta = (4 Qr)^2 S_x."""
        return 10.0 ** (self.tls_dbc_hz_1khz / 10.0) / (4.0 * self.qr0) ** 2

    def validate(self) -> None:
        fano_limit = math.sqrt(self.qp_per_ev / self.fano) / FWHM_PER_SIGMA
        if self.r_int1 > fano_limit:
            raise ValueError(f"preset {self.name}: r_int1 {self.r_int1} exceeds the Fano limit {fano_limit:.1f}")
        if not 0 < self.trigger_index < self.trace_length - 1:
            raise ValueError(f"preset {self.name}: trigger_index {self.trigger_index} outside the trace")

    def derived(self) -> dict[str, float]:
        """Derived quantities, recorded in metadata.json next to the parameters."""
        return {
            "qr0": self.qr0,
            "tau_res_s": self.tau_res_s,
            "loop_radius": self.loop_radius,
            "qp_per_ev": self.qp_per_ev,
            "sigma_iq": self.sigma_iq,
            "tls_sx_1khz": self.tls_sx_1khz,
            "responsivity_rad_per_ev": 4.0 * self.qr0 * self.dx_per_ev,
        }


PRESETS: dict[str, Preset] = {
    # PtSi (Zobrist 2019): 5 lines, 2 MHz, tau_qp 50 us. The pulse arrives at sample 480, not 500, so
    # that the 5 tau_qp window past the trigger plus the decimation FIR fits in 1000 samples.
    "ptsi": Preset(
        name="ptsi",
        raw_rate_hz=2.0e6,
        trace_length=1000,
        trigger_index=480,
        wavelengths_nm=(808.0, 920.0, 980.0, 1120.0, 1310.0),
        fr_hz=4.9e9,
        qc=3.0e4,
        qi0=3.0e5,
        tau_qp_s=50e-6,
        dx_per_ev=9.2e-6,
        beta=3.0,
        eta=0.57,
        tc_k=0.9,
        fano=0.2,
        r_int1=15.0,
        r_pos=60.0,
        white_dbc_hz=-86.0,
        tls_dbc_hz_1khz=-75.0,
        tls_knee_hz=20.0,
        readout_rotation_rad=1.1,
        readout_gain=1000.0,
    ),
    # InHf bilayer (Zobrist 2022): 10 lines, 0.8 MHz. Assumption: the line list is the common lab
    # sources (Hg 254/365/546 nm and laser diodes); tau_qp 425 us is inferred from the VENOM window.
    # 320 pre-trigger + 1728 post-trigger samples (>= 300 + 1710).
    "inhf": Preset(
        name="inhf",
        raw_rate_hz=0.8e6,
        trace_length=2048,
        trigger_index=320,
        wavelengths_nm=(254.0, 365.0, 405.0, 546.0, 671.0, 808.0, 920.0, 980.0, 1120.0, 1310.0),
        fr_hz=4.5e9,
        qc=2.0e4,
        qi0=2.0e5,
        tau_qp_s=425e-6,
        dx_per_ev=6.2e-6,
        beta=3.0,
        eta=0.58,
        tc_k=0.4,
        fano=0.2,
        r_int1=22.0,  # tuned from the table's 24: OF mean R 25 over this line list (section 5)
        r_pos=100.0,
        white_dbc_hz=-88.0,
        tls_dbc_hz_1khz=-75.0,
        tls_knee_hz=20.0,
        readout_rotation_rad=-0.6,
        readout_gain=1000.0,
    ),
}


def s21(preset: Preset, x: np.ndarray | float, inv_qi: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Full S21 (real, imag) at fractional detuning x = (f_read - fr) / fr and internal loss 1/Qi.

    S21 = 1 - (Qr/Qc) / (1 + 2i Qr x), evaluated in real arithmetic (keeps float32 inputs float32):
    with a = Qr/Qc and y = 2 Qr x, S21 = 1 - a / (1 + y^2) + i a y / (1 + y^2).
    """
    qr = 1.0 / (inv_qi + 1.0 / preset.qc)
    y = 2.0 * qr * x
    d = (qr / preset.qc) / (1.0 + y * y)
    return 1.0 - d, d * y


def _tls_noise(preset: Preset, rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, trace_length) fractional-frequency TLS noise at the raw rate (see the module docstring)."""
    m = 2 * preset.trace_length
    f = np.fft.rfftfreq(m, 1.0 / preset.raw_rate_hz)
    psd = preset.tls_sx_1khz * (np.maximum(f, preset.tls_knee_hz) / 1e3) ** -0.5
    # irfft of bins with E|X_k|^2 = S_k fs m / 2 gives a one-sided PSD S_k; the DC bin is dropped.
    amp = np.sqrt(psd * preset.raw_rate_hz * m / 4.0)
    amp[0] = 0.0
    spec = amp * (rng.standard_normal((n, f.size)) + 1j * rng.standard_normal((n, f.size)))
    return np.fft.irfft(spec, m, axis=1)[:, : preset.trace_length]


def _ring_down_boxcar(u: np.ndarray, a: float, over: int, start: float) -> np.ndarray:
    """y[k] = a y[k-1] + (1 - a) u[k] from y[-1] = start, then the mean of each block of ``over``.

    Computed exactly per block: with s_m = y[over m - 1], the block mean is c s_m + w . u_block and
    s_(m+1) = a^over s_m + g . u_block, so only the raw-rate recursion runs sample by sample.
    """
    n, length = u.shape[0], u.shape[1] // over
    j = np.arange(over)
    c = np.sum(a ** (j + 1)) / over
    w = (1.0 - a ** (over - j)) / over
    g = (1.0 - a) * a ** (over - 1 - j)
    blocks = u.reshape(n, length, over)
    # einsum, not BLAS: a threaded matmul this narrow is slower on a busy machine
    p = np.einsum("nmj,j->nm", blocks, w.astype(np.float32)).astype(np.float64)
    v = np.einsum("nmj,j->nm", blocks, g.astype(np.float32)).astype(np.float64)
    s_next, _ = lfilter([1.0], [1.0, -(a**over)], v, axis=1, zi=np.full((n, 1), a**over * start))
    s = np.concatenate([np.full((n, 1), start), s_next[:, :-1]], axis=1)
    return c * s + p


def simulate(preset: Preset, energy_ev: float, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n pulses of one line: (raw complex I + iQ traces (n, trace_length), true peak phase (n,)).

    The 8x-rate arrays are float32: this function dominates the generator's time.
    """
    over = preset.oversample
    tau = preset.tau_qp_s * preset.raw_rate_hz * over  # in simulation samples
    # 1-2: quasiparticle number with intrinsic and position spreads; arrival within one raw sample
    sigma_int = 1.0 / (FWHM_PER_SIGMA * preset.r_int1 * math.sqrt(energy_ev))
    sigma_pos = 1.0 / (FWHM_PER_SIGMA * preset.r_pos)
    n_qp = preset.qp_per_ev * energy_ev * (1.0 + sigma_int * rng.standard_normal(n))
    n_qp *= 1.0 + sigma_pos * rng.standard_normal(n)
    k0 = preset.trigger_index * over
    t0 = k0 + over * rng.random(n)  # in simulation samples
    k = np.arange(preset.trace_length * over)
    # exp(-(k - t0)/tau) = exp((t0 - k0)/tau) exp(-(k - k0)/tau): one shared decay vector
    decay = np.exp(-np.maximum(k - k0, 0) / tau).astype(np.float32)
    n_t = (n_qp * np.exp((t0 - k0) / tau)).astype(np.float32)[:, None] * decay
    n_t *= k >= t0[:, None]
    # 3: resonator parameters; TLS fractional-frequency noise held over the sub-samples
    k_x = preset.dx_per_ev / preset.qp_per_ev
    y = np.repeat(_tls_noise(preset, rng, n).astype(np.float32), over, axis=1) + np.float32(k_x) * n_t
    x = y / (1.0 - y)  # (fr0 - fr) / fr with fr = fr0 (1 - y)
    inv_qi = np.float32(1.0 / preset.qi0) + np.float32(2.0 * k_x / preset.beta) * n_t
    # 4-5: full S21, causal single-pole ring-down started from the dark state, boxcar decimation
    re, im = s21(preset, x, inv_qi)
    a = math.exp(-1.0 / (preset.tau_res_s * preset.raw_rate_hz * over))
    dark_re, dark_im = s21(preset, 0.0, 1.0 / preset.qi0)
    z = _ring_down_boxcar(re, a, over, dark_re) + 1j * _ring_down_boxcar(im, a, over, dark_im)
    # noiseless peak of the loop-centred phase (dark point rotated onto +real)
    peak = np.angle((1.0 - preset.loop_radius) - z).min(axis=1)
    # 6: white amplifier noise, then the readout
    z += preset.sigma_iq * (rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape))
    return readout(preset, z), peak


def readout(preset: Preset, z: np.ndarray) -> np.ndarray:
    """S21 -> raw I + iQ: loop rotation and gain."""
    return preset.readout_gain * np.exp(1j * preset.readout_rotation_rad) * z


def dark_loop(preset: Preset) -> dict[str, list[float]]:
    """Noiseless sweep of the dark resonator around fr0, in raw I/Q units."""
    linewidth = preset.fr_hz / preset.qr0
    df = np.linspace(-SWEEP_LINEWIDTHS, SWEEP_LINEWIDTHS, SWEEP_POINTS) * linewidth
    re, im = s21(preset, df / preset.fr_hz, 1.0 / preset.qi0)
    z = readout(preset, re + 1j * im)
    return {"frequency_offset_hz": df.tolist(), "i": z.real.tolist(), "q": z.imag.tolist()}


def _is_dataset(path: Path) -> bool:
    """Whether a directory is a previous output of this generator (which ``force`` may replace)."""
    try:
        return json.loads((path / "metadata.json").read_text()).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        return False


def _check_args(preset: str, n_per_line: int, seed: int, out_dir: Path, continuum: int | None,
                force: bool) -> Preset:
    """Every argument, the output directory and the free disk space, before anything is written."""
    if preset not in PRESETS:
        raise DataError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    if isinstance(n_per_line, bool) or not isinstance(n_per_line, (int, np.integer)) or n_per_line < 1:
        raise DataError(f"n_per_line must be an integer >= 1, got {n_per_line!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"seed must be an integer >= 0, got {seed!r}")
    if out_dir.exists() and any(out_dir.iterdir()) and not (force and _is_dataset(out_dir)):
        raise DataError(f"output directory {out_dir} exists and is not empty" +
                        (" (and is not a synthetic data set that --force may replace)" if force else ""))
    p = PRESETS[preset]
    p.validate()
    if continuum is not None:
        p = dataclasses.replace(p, wavelengths_nm=continuum_wavelengths(p, continuum))
    # the lines, plus the scratch copy of the line being written
    line_bytes = int(n_per_line) * (p.trace_length * 2 * np.dtype(np.float32).itemsize + 9)
    need = line_bytes * (len(p.wavelengths_nm) + 1)
    parent = out_dir.parent
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if need > free:
        raise DataError(f"{n_per_line} pulses per line need {need / 1e9:.3g} GB; {parent} has {free / 1e9:.3g} GB free")
    return p


def _write_line(
    path: Path, scratch: Path, p: Preset, energy_ev: float, n: int, rng: np.random.Generator, bar: tqdm
) -> None:
    """Simulate one line chunk by chunk into .npy memmaps, then store them uncompressed as an .npz."""
    shape = (n, p.trace_length)
    arrays = {
        "i_trace": open_memmap(scratch / "i_trace.npy", "w+", np.float32, shape),
        "q_trace": open_memmap(scratch / "q_trace.npy", "w+", np.float32, shape),
        "peak_heights": open_memmap(scratch / "peak_heights.npy", "w+", np.float64, (n,)),
        "mask": open_memmap(scratch / "mask.npy", "w+", np.bool_, (n,)),
    }
    arrays["mask"][:] = True
    for start in range(0, n, CHUNK):
        stop = min(start + CHUNK, n)
        z, peak = simulate(p, energy_ev, stop - start, rng)
        arrays["i_trace"][start:stop] = z.real
        arrays["q_trace"][start:stop] = z.imag
        arrays["peak_heights"][start:stop] = peak
        bar.update(stop - start)
    with zipfile.ZipFile(path, "w") as zf:
        for key, arr in arrays.items():
            arr.flush()
            # a fixed timestamp keeps the file byte-identical for a seed
            info = zipfile.ZipInfo(f"{key}.npy", date_time=ZIP_DATE)
            with open(scratch / f"{key}.npy", "rb") as src, zf.open(info, "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    del arrays
    for f in scratch.iterdir():
        f.unlink()


def continuum_wavelengths(p: Preset, n_lines: int) -> tuple[float, ...]:
    """``n_lines`` wavelengths evenly spaced in energy over the preset's lines widened by CONTINUUM_MARGIN.

    A model trained on the few calibration lines learns to snap its output onto them (its best guess
    between two known lines is one of them), which fakes a narrow peak; trained on a continuum of
    energies it must measure instead. Wavelengths are rounded to 0.1 nm (the file-name resolution).
    """
    n_lines = check_int(n_lines, "continuum lines", error=DataError)
    if n_lines < 2:
        raise DataError(f"a continuum needs at least 2 lines, got {n_lines}")
    energies = HC_EV_NM / np.asarray(p.wavelengths_nm)
    lo, hi = energies.min() / (1 + CONTINUUM_MARGIN), energies.max() * (1 + CONTINUUM_MARGIN)
    if n_lines > round((HC_EV_NM / lo - HC_EV_NM / hi) * 10) + 1:  # before allocating them
        raise DataError(f"{n_lines} continuum lines are closer than 0.1 nm; use fewer")
    wavelengths = np.round(HC_EV_NM / np.linspace(hi, lo, n_lines), 1)
    if len(set(wavelengths)) != n_lines:
        raise DataError(f"{n_lines} continuum lines are closer than 0.1 nm; use fewer")
    return tuple(float(w) for w in wavelengths)


def write_dataset(preset: str, n_per_line: int, seed: int, out_dir: str | Path, progress: bool = True,
                  continuum: int | None = None, force: bool = False) -> Path:
    """Generate ``n_per_line`` pulses per line of ``preset`` into ``out_dir`` (VENOM format); returns it.

    ``continuum``: instead of the preset's lines, that many lines spread over its energy range (for
    training; see :func:`continuum_wavelengths`). Deterministic for a seed: each line draws from its own
    stream spawned from ``seed``. ``out_dir`` must not exist or be empty; with ``force`` it may also be a
    previous synthetic data set, replaced only once the new one is complete. Every argument (and the free disk
    space) is checked first; the data are written to a temporary directory beside ``out_dir``, renamed onto it only
    when complete, and removed on any failure, Ctrl-C or SIGTERM.
    """
    out_dir = check_output_path(out_dir, directory=True)
    p = _check_args(preset, n_per_line, seed, out_dir, continuum, force)
    n_per_line = int(n_per_line)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with interruptible():
        _write_dataset(p, n_per_line, seed, out_dir, progress, continuum)
    return out_dir


def _write_dataset(p: Preset, n_per_line: int, seed: int, out_dir: Path, progress: bool,
                   continuum: int | None) -> None:
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.", suffix=".tmp"))
    old = None
    try:
        scratch = tmp / ".scratch"
        scratch.mkdir()
        streams = np.random.SeedSequence(seed).spawn(len(p.wavelengths_nm))
        files = []
        with tqdm(total=n_per_line * len(p.wavelengths_nm), desc=f"synth {p.name}", unit="pulse",
                  disable=not progress) as bar:
            for wl, stream in zip(p.wavelengths_nm, streams):
                name = line_file_name(wl)
                _write_line(tmp / name, scratch, p, HC_EV_NM / wl, n_per_line, np.random.default_rng(stream), bar)
                files.append({"file": name, "wavelength_nm": wl})
        scratch.rmdir()
        meta: dict[str, Any] = {
            "generator": GENERATOR,
            "generator_version": GENERATOR_VERSION,
            "preset": p.name,
            "continuum": continuum,
            "seed": int(seed),
            "n_per_line": n_per_line,
            "raw_rate_hz": p.raw_rate_hz,
            "wavelengths_nm": list(p.wavelengths_nm),
            "lines": files,
            "tau_qp_s": p.tau_qp_s,
            "trigger_index": p.trigger_index,
            "trace_length": p.trace_length,
            "parameters": dataclasses.asdict(p),
            "derived": p.derived(),
            DARK_LOOP_KEY: dark_loop(p),
        }
        (tmp / "metadata.json").write_text(json.dumps(meta, indent=1) + "\n")
        os.chmod(tmp, 0o777 & ~umask())  # mkdtemp makes 0700; outputs get the permissions of a plain mkdir()
        if out_dir.exists():  # checked empty or a previous data set: moved aside, removed once replaced
            old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
            os.replace(out_dir, old / out_dir.name)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not out_dir.exists():  # put the previous data set back
            os.replace(old / out_dir.name, out_dir)
        raise
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
