"""Backend-agnostic prediction: (N, L, 2) I/Q windows -> (N, 2) energies in eV and log-variances.

Every backend (float, float-recurrent, and later fixed, csim, rtl) is a function
``(checkpoint, iq, **options) -> (N, 2)`` raw head outputs (mu, log_var); the conversion to eV with the
checkpoint's energy calibration happens once, here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import Checkpoint
from .float_model import VenomModel, energy_from_output

Backend = Callable[..., np.ndarray]
BATCH = 256


def _float_backend(recurrent: bool) -> Backend:
    def run(ckpt: Checkpoint, iq: np.ndarray, progress: bool = False) -> np.ndarray:
        model = VenomModel.from_tensors(ckpt.dims, ckpt.tensors)
        out = np.empty((iq.shape[0], ckpt.dims.n_out))
        with torch.no_grad():
            for start in tqdm(range(0, iq.shape[0], BATCH), desc="windows", unit="batch", disable=not progress):
                x = torch.as_tensor(iq[start : start + BATCH], dtype=torch.float64)
                y = model.forward_recurrent(x) if recurrent else model(x)
                out[start : start + BATCH] = y.numpy()
        return out

    return run


BACKENDS: dict[str, Backend] = {
    "float": _float_backend(recurrent=False),
    "float-recurrent": _float_backend(recurrent=True),
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
