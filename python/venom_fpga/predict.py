"""Backend-agnostic prediction: (N, L, 2) I/Q windows -> (N, 2) energies in eV and log-variances.

Every backend (float, float-recurrent, fixed, csim, and later rtl) is a function
``(checkpoint, iq, **options) -> (N, 2)`` raw head outputs (mu, log_var); the conversion to eV with the
checkpoint's energy calibration happens once, here.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from tqdm import tqdm

from venom_fpga.model.checkpoint import Checkpoint
from venom_fpga.fixed.model import BATCH as FIXED_BATCH
from venom_fpga.fixed.model import FixedModel
from venom_fpga.model.float_model import energy_from_output, run_windows
from venom_fpga.fixed.qformat import SaturationCounter

Backend = Callable[..., np.ndarray]
BATCH = 256


def _float_backend(recurrent: bool) -> Backend:
    def run(ckpt: Checkpoint, iq: np.ndarray, progress: bool = False) -> np.ndarray:
        return run_windows(ckpt.dims, ckpt.tensors, iq, recurrent=recurrent, progress=progress, batch=BATCH)

    return run


def _golden_model(ckpt: Checkpoint, precision, backend: str) -> FixedModel:
    """The fixed-point model of a fixed-point backend (its formats, input quantization and output dequantization);
    a warning says when its precision config is the default."""
    model = FixedModel(ckpt, precision)
    if model.precision.source == "default":
        warnings.warn(f"{backend} backend: {model.precision.notes[-1]}", stacklevel=3)
    return model


def _fixed_backend(ckpt: Checkpoint, iq: np.ndarray, progress: bool = False, precision=None) -> np.ndarray:
    """The bit-accurate fixed-point golden model; ``precision``: a PrecisionConfig or a path (default:
    ``precision_for(ckpt)``; a warning says when that is the default). Returns (mu, log_var) dequantised from the
    output codes; saturations, if any, are reported as a warning."""
    model = _golden_model(ckpt, precision, "fixed")
    out = np.empty((iq.shape[0], ckpt.dims.n_out))
    sat = SaturationCounter()
    batch = FIXED_BATCH
    for start in tqdm(range(0, iq.shape[0], batch), desc="windows", unit="batch", disable=not progress):
        codes, chunk_sat = model.run(iq[start : start + batch])
        sat.merge(chunk_sat)
        out[start : start + batch] = model.output_float(codes)
    if sat.total_saturated:
        warnings.warn(f"fixed backend ({model.precision.source}): saturated values per signal {sat.saturated()}",
                      stacklevel=2)
    return out


def _csim_backend(ckpt: Checkpoint, iq: np.ndarray, progress: bool = False, precision=None) -> np.ndarray:
    """The generated HLS C++ (``venom-fpga export``), compiled with g++ against the ap_types headers and run
    through its AXI4-Stream top (``export.csim_model``; exports and libraries cached under build/csim). Inputs are
    quantized and outputs dequantised exactly as by the ``fixed`` backend, whose codes it reproduces bit for bit."""
    from venom_fpga.hls.export import csim_model

    model = _golden_model(ckpt, precision, "csim")
    sat = SaturationCounter()
    codes = model.quantize_input(iq, counter=sat)
    lib = csim_model(ckpt, model.precision)
    out = np.empty((iq.shape[0], ckpt.dims.n_out))
    for start in tqdm(range(0, iq.shape[0], BATCH), desc="windows", unit="batch", disable=not progress):
        out[start : start + BATCH] = model.output_float(lib.run_codes(codes[start : start + BATCH]))
    if sat.total_saturated:
        warnings.warn(f"csim backend: {sat.total_saturated} input values saturated", stacklevel=2)
    return out


def _rtl_backend(ckpt: Checkpoint, iq: np.ndarray, progress: bool = False, precision=None) -> np.ndarray:
    """The generated Verilog under cocotb (Icarus or Verilator: SIM; lanes: VENOM_RTL_LANES). Verilator runs ~0.5M
    cycles/s (~0.2 s a window), Icarus ~5k (~25 s a window)."""
    from venom_fpga.rtl.sim import rtl_backend

    return rtl_backend(ckpt, iq, progress=progress, precision=precision)


BACKENDS: dict[str, Backend] = {
    "float": _float_backend(recurrent=False),
    "float-recurrent": _float_backend(recurrent=True),
    "fixed": _fixed_backend,
    "csim": _csim_backend,
    "rtl": _rtl_backend,
}


def check_windows(iq: np.ndarray, ckpt: Checkpoint, source: str = "input") -> np.ndarray:
    """Validate user windows: shape (N, L, 2), finite, L matching the checkpoint's window length if set."""
    iq = np.asarray(iq)
    if iq.ndim != 3 or iq.shape[2] != ckpt.dims.n_in or iq.shape[0] == 0 or iq.shape[1] == 0:
        raise ValueError(f"{source}: expected windows of shape (N, L, {ckpt.dims.n_in}), found {iq.shape}")
    if not np.issubdtype(iq.dtype, np.number) or np.iscomplexobj(iq):
        raise ValueError(f"{source}: expected real numbers, found dtype {iq.dtype}")
    if not np.all(np.isfinite(iq)):
        raise ValueError(f"{source}: {int(np.size(iq) - np.count_nonzero(np.isfinite(iq)))} NaN/Inf values")
    length = ckpt.meta.window_length
    if length is not None and iq.shape[1] != length:
        raise ValueError(f"{source}: window length {iq.shape[1]} differs from the checkpoint's window_length {length}")
    return iq.astype(np.float64, copy=False)


def predict(ckpt: Checkpoint, iq: np.ndarray, backend: str = "float", **options) -> np.ndarray:
    """(N, L, 2) windows -> (N, 2): energy (eV) and log-variance of the energy (eV^2)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}")
    raw = BACKENDS[backend](ckpt, check_windows(iq, ckpt), **options)
    return energy_from_output(raw, ckpt.meta.energy_scale, ckpt.meta.energy_offset)
