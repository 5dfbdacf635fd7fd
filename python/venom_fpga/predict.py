# SPDX-License-Identifier: BSD-3-Clause
"""Backend-agnostic prediction: (N, L, 2) I/Q windows -> (N, 2) energies in eV and log-variances.

Every backend (float, float-recurrent, fixed, csim, rtl) is a function ``(checkpoint, iq, **options) -> (N, 2)``
raw head outputs (mu, log_var); the conversion to eV with the checkpoint's energy calibration happens once, here.
The hardware backends (csim, rtl) must reproduce the fixed-point model's codes: they run it on the same windows and
raise BackendMismatchError rather than return codes that differ. Every result is checked finite: a backend that
returns NaN/Inf (inputs or weights beyond what it computes) is an error, never an energy. What the user must know
about a result (a default precision config or energy calibration, saturations) is a ``VenomWarning``.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
from tqdm import tqdm

from venom_fpga.errors import InputError, VenomWarning
from venom_fpga.fixed.model import BATCH as FIXED_BATCH
from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.qformat import SaturationCounter
from venom_fpga.model.checkpoint import Checkpoint
from venom_fpga.model.float_model import energy_from_output, run_windows

Backend = Callable[..., np.ndarray]
BATCH = 256
OUTPUTS = ("mu", "log_var")


class BackendMismatchError(RuntimeError):
    """A hardware backend whose output codes differ from the fixed-point model's on the same windows."""


def describe_mismatch(got: np.ndarray, want: np.ndarray) -> str | None:
    """None when the (N, 2) output codes are equal, else one line: how many windows differ and the first one
    (index, output, codes in hex)."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"{got.shape} output codes for {want.shape} expected"
    bad = np.flatnonzero((got != want).any(axis=1))
    if bad.size == 0:
        return None
    k = int(bad[0])
    j = int(np.flatnonzero(got[k] != want[k])[0])
    return (f"{bad.size} of {got.shape[0]} windows differ from the fixed-point model (first: window {k}, "
            f"{OUTPUTS[j]} {hex(int(got[k, j]))} vs {hex(int(want[k, j]))})")


def _require_fixed_codes(backend: str, got: np.ndarray, want: np.ndarray) -> None:
    problem = describe_mismatch(got, want)
    if problem:
        raise BackendMismatchError(f"{backend} backend: {problem}")


def _float_backend(recurrent: bool) -> Backend:
    def run(ckpt: Checkpoint, iq: np.ndarray, progress: bool = False) -> np.ndarray:
        return run_windows(ckpt.dims, ckpt.tensors, iq, recurrent=recurrent, progress=progress, batch=BATCH)

    return run


def _golden_model(ckpt: Checkpoint, precision, backend: str, iq: np.ndarray) -> FixedModel:
    """The fixed-point model of a fixed-point backend (its formats, input quantization and output dequantization),
    refusing windows longer than its config's max_window_length; a warning says when the config is the default."""
    model = FixedModel(ckpt, precision)
    model.precision.check_window_length(iq.shape[1], f"{backend} backend")
    if model.precision.source == "default":
        warnings.warn(f"{backend} backend: {model.precision.notes[-1]}", VenomWarning, stacklevel=3)
    return model


def _fixed_backend(ckpt: Checkpoint, iq: np.ndarray, progress: bool = False, precision=None) -> np.ndarray:
    """The bit-accurate fixed-point golden model; ``precision``: a PrecisionConfig or a path (default:
    ``precision_for(ckpt)``; a warning says when that is the default). Returns (mu, log_var) dequantised from the
    output codes; saturations, if any, are reported as a warning."""
    model = _golden_model(ckpt, precision, "fixed", iq)
    out = np.empty((iq.shape[0], ckpt.dims.n_out))
    sat = SaturationCounter()
    batch = FIXED_BATCH
    for start in tqdm(range(0, iq.shape[0], batch), desc="windows", unit="batch", disable=not progress):
        codes, chunk_sat = model.run(iq[start : start + batch])
        sat.merge(chunk_sat)
        out[start : start + batch] = model.output_float(codes)
    if sat.total_saturated:
        warnings.warn(f"fixed backend ({model.precision.source}): saturated values per signal {sat.saturated()}",
                      VenomWarning, stacklevel=2)
    return out


def _csim_backend(ckpt: Checkpoint, iq: np.ndarray, progress: bool = False, precision=None) -> np.ndarray:
    """The generated HLS C++ (``venom-fpga export``), compiled with g++ against the ap_types headers and run
    through its array top (a 16-channel array: ``export.csim_model``; exports and libraries cached under
    build/csim): the windows as the array model's token source interleaves them, every record's clock and tag
    checked against the array model. Inputs are
    quantized and outputs dequantised exactly as by the ``fixed`` backend, whose codes it must reproduce bit for bit
    (checked on every window)."""
    from venom_fpga.hls.array import predict_spec
    from venom_fpga.hls.export import csim_model
    from venom_fpga.rtl import array_sim

    model = _golden_model(ckpt, precision, "csim", iq)
    sat = SaturationCounter()
    codes = model.quantize_input(iq, counter=sat)
    spec = predict_spec(iq.shape[1])
    lib = csim_model(ckpt, model.precision, array=spec)
    got = np.empty((iq.shape[0], ckpt.dims.n_out), dtype=np.int64)
    first_difference = None
    for start in tqdm(range(0, iq.shape[0], BATCH), desc="windows", unit="batch", disable=not progress):
        # the batch as the array model's token source hands it over; every record and clock checked against it
        seg = array_sim.window_segment(model, spec, codes[start : start + BATCH], spec.period)
        obs = lib.run_stream([seg])
        rep = array_sim.compare([seg], obs)
        first_difference = first_difference or rep["first_difference"]
        got[start : start + BATCH] = array_sim.records_by_window(seg, obs)
    want, _ = model.run_codes(codes)
    _require_fixed_codes("csim", got, want)
    if first_difference:
        raise BackendMismatchError(f"csim backend: {first_difference}")
    if sat.total_saturated:
        warnings.warn(f"csim backend: {sat.total_saturated} input values saturated", VenomWarning, stacklevel=2)
    return model.output_float(got)


def _rtl_backend(ckpt: Checkpoint, iq: np.ndarray, progress: bool = False, precision=None, lanes: int | None = None,
                 sim: str | None = None, log: str | os.PathLike | None = None) -> np.ndarray:
    """The generated Verilog under cocotb (``sim``: verilator or icarus, default $SIM): the array datapath, the
    windows interleaved on up to 16 channels as they would arrive, every record checked against the fixed-point
    model (values) and the array model (clocks); with ``lanes`` (or $VENOM_RTL_LANES), the single-channel
    micro-coded engine at that many lanes instead. The simulator's output goes to ``log`` (default
    build/logs/rtl-backend.log). The first run of a model builds its simulator (minutes at the published dims)."""
    from venom_fpga.paths import build_dir
    from venom_fpga.rtl import sim as rtl_sim

    model = _golden_model(ckpt, precision, "rtl", iq)
    sat = SaturationCounter()
    codes = model.quantize_input(iq, counter=sat)
    want, _ = model.run_codes(codes)
    lanes = lanes or (int(os.environ["VENOM_RTL_LANES"]) if os.environ.get("VENOM_RTL_LANES") else None)
    log = log if log is not None else build_dir() / "logs" / "rtl-backend.log"
    t0 = time.time()
    if lanes is None:
        from venom_fpga.rtl import array_sim

        got, rep = array_sim.predict_codes(model, codes, sim=sim, log=log)
        what = f"array, {rep['records']} records with the array model's clocks" if rep["ok"] else "array"
        _require_fixed_codes("rtl", got, want)
        if not rep["ok"]:
            raise BackendMismatchError(f"rtl backend: {rep['first_difference']}")
    else:
        got = rtl_sim.run_rtl(model, lanes, codes, sim=sim, tag="predict", expected=want, check=False,
                              log=log)["outputs"]
        what = f"engine, LANES={lanes}"
        _require_fixed_codes("rtl", got, want)
    if progress:
        print(f"rtl backend: {codes.shape[0]} windows bit-exact with the fixed-point model ({what}, "
              f"{time.time() - t0:.1f} s; simulator log {log})", file=sys.stderr)
    if sat.total_saturated:
        warnings.warn(f"rtl backend: {sat.total_saturated} input values saturated", VenomWarning, stacklevel=2)
    return model.output_float(got)


BACKENDS: dict[str, Backend] = {
    "float": _float_backend(recurrent=False),
    "float-recurrent": _float_backend(recurrent=True),
    "fixed": _fixed_backend,
    "csim": _csim_backend,
    "rtl": _rtl_backend,
}


def check_windows(iq: np.ndarray, ckpt: Checkpoint, source: str = "input") -> np.ndarray:
    """Validate user windows (the one place, for the API and every command): shape (N, L, 2), real numbers, finite,
    L matching the checkpoint's window length if set. Returns them as float64."""
    iq = np.asarray(iq)
    if iq.ndim != 3 or iq.shape[2] != ckpt.dims.n_in or iq.shape[0] == 0 or iq.shape[1] == 0:
        raise InputError(f"{source}: expected windows of shape (N, L, {ckpt.dims.n_in}), found {iq.shape}")
    if not (np.issubdtype(iq.dtype, np.integer) or np.issubdtype(iq.dtype, np.floating)):
        raise InputError(f"{source}: expected real numbers, found dtype {iq.dtype}")
    iq = iq.astype(np.float64, copy=False)
    if not np.all(np.isfinite(iq)):
        raise InputError(f"{source}: {int(np.size(iq) - np.count_nonzero(np.isfinite(iq)))} NaN/Inf values")
    length = ckpt.meta.window_length
    if length is not None and iq.shape[1] != length:
        raise InputError(f"{source}: window length {iq.shape[1]} differs from the checkpoint's window_length {length}")
    return iq


def calibration_notice(ckpt: Checkpoint) -> str | None:
    """What to tell a user whose checkpoint has no energy calibration (DESIGN.md §1: the tool says so), else None."""
    if ckpt.calibrated:
        return None
    return (f"{ckpt.path.name} has no energy calibration (energy_scale, energy_offset) in its metadata: energies are "
            f"the model's raw output, in eV only if it was trained on eV")


def predict(ckpt: Checkpoint, iq: np.ndarray, backend: str = "float", **options) -> np.ndarray:
    """(N, L, 2) windows -> (N, 2): energy (eV) and log-variance of the energy (eV^2).

    Raises InputError when a window's result is not finite (NaN/Inf): inputs or weights beyond what the backend
    computes. Warns (VenomWarning) when the checkpoint has no energy calibration."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    iq = check_windows(iq, ckpt)
    with np.errstate(over="ignore", invalid="ignore"):  # a non-finite result is reported below, once
        out = energy_from_output(BACKENDS[backend](ckpt, iq, **options), ckpt.meta.energy_scale,
                                 ckpt.meta.energy_offset)
    bad = np.flatnonzero(~np.isfinite(out).all(axis=1))
    if bad.size:
        raise InputError(f"{backend} backend: {bad.size} of {out.shape[0]} windows give a NaN/Inf energy (first: "
                         f"window {bad[0]}): inputs or weights beyond what it computes")
    notice = calibration_notice(ckpt)
    if notice:
        warnings.warn(notice, VenomWarning, stacklevel=2)
    return out
