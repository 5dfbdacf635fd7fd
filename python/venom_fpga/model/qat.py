# SPDX-License-Identifier: BSD-3-Clause
"""Quantization-aware fine-tuning: ``venom-fpga train --qat PRECISION.json --init CKPT --data DIR --out OUT``.

From a float checkpoint, a few epochs of the training recipe (:mod:`venom_fpga.model.train`) with fake
quantization under a precision config: in the forward pass every weight the config formats (in its folded form,
``precision.FOLDS``) and every signal the parallel float model forms (under the fixed-point model's names) is rounded
onto its format's grid with the format's rounding mode and clamped to its range; the gradient passes straight
through (STE). Not fake-quantized: the recurrent internals the parallel scan never forms one step at a time (h, dtx,
dA, Abar, the online softmax's state), the LayerNorm's internals (ln_rsqrt, ln_xn) and, in a config with the
LayerNorm fold, the fold's signals and tensors (the float model has no such tensors; the fixed model derives them
from the fine-tuned weights). Wrapping overflow modes are clamped like saturating ones (a wrapped value has no
useful gradient).

The written checkpoint keeps the start's dims, preprocessing and energy calibration; its provenance records the
fine-tuning. :func:`finetune` returns the hold-out comparison of the two fixed-point models under the config (paired
R with one set of kernel bandwidths, bootstrap CI): what QAT bought.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from venom_fpga.data.dataset import load_raw, make_windows_from_meta, stratified_split
from venom_fpga.files import check_output_path
from venom_fpga.fixed.precision import LOG2E, PrecisionConfig
from venom_fpga.fixed.qformat import QFormat
from venom_fpga.model.checkpoint import Checkpoint, save_checkpoint
from venom_fpga.model.float_model import VenomModel, run_windows
from venom_fpga.model.train import TrainError, fit, subsample

# rounding of t = v 2**F onto integers, per ap_fixed mode (ties as each mode breaks them)
_ROUND: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "AP_TRN": torch.floor,
    "AP_TRN_ZERO": torch.trunc,
    "AP_RND": lambda t: torch.floor(t + 0.5),
    "AP_RND_ZERO": lambda t: torch.sign(t) * torch.ceil(t.abs() - 0.5),
    "AP_RND_INF": lambda t: torch.sign(t) * torch.floor(t.abs() + 0.5),
    "AP_RND_MIN_INF": lambda t: torch.ceil(t - 0.5),
    "AP_RND_CONV": torch.round,  # half to even
}


def fake_quant(v: torch.Tensor, fmt: QFormat) -> torch.Tensor:
    """``v`` rounded onto ``fmt``'s grid and clamped to its codes in the forward pass; identity for the gradient."""
    scale = 2.0 ** fmt.frac_bits
    codes = torch.clamp(_ROUND[fmt.rounding](v.detach() * scale), fmt.min_code, fmt.max_code)
    return v + (codes / scale - v).detach()


def signal_quantizer(cfg: PrecisionConfig) -> Callable[[str, torch.Tensor], torch.Tensor]:
    """The ``quant`` hook of the parallel float model: every signal the config formats, fake-quantized."""
    formats = dict(cfg.signals)

    def quant(name: str, v: torch.Tensor) -> torch.Tensor:
        fmt = formats.get(name)
        return v if fmt is None else fake_quant(v, fmt)

    return quant


def _fold(name: str, d_model: int) -> tuple[Callable[[torch.Tensor], torch.Tensor],
                                             Callable[[torch.Tensor], torch.Tensor]]:
    """(to the folded form the config formats, back) of a tensor (the folds of precision.FOLDS)."""
    if name.endswith("norm.weight"):
        r = math.sqrt(d_model)
        return (lambda w: w * r), (lambda w: w / r)
    if name.endswith("mixer.A_log"):  # exp(A_log) log2(e) > 0: its quantized value is kept >= one LSB
        return (lambda w: torch.exp(w) * LOG2E), (lambda w: torch.log(w / LOG2E))
    if name in ("head.attn.weight", "head.attn.bias"):
        return (lambda w: w * LOG2E), (lambda w: w / LOG2E)
    return (lambda w: w), (lambda w: w)


def quantized_parameters(model: VenomModel, cfg: PrecisionConfig) -> dict[str, torch.Tensor]:
    """The model's parameters with each tensor the config formats fake-quantized in its folded form."""
    out = {}
    for name, p in model.named_parameters():
        fmt = cfg.weights.get(name)
        if fmt is None:
            out[name] = p
            continue
        to, back = _fold(name, model.dims.d_model)
        q = fake_quant(to(p), fmt)
        out[name] = back(torch.clamp(q, min=fmt.lsb) if name.endswith("mixer.A_log") else q)
    return out


@dataclass
class QatResult:
    path: Path
    comparison: dict  # paired R of the fixed-point models (start vs fine-tuned) on the hold-out split
    max_abs_dE_start_meV: float  # max |E_fixed - E_float| of the start on the hold-out split (its own float model)
    max_abs_dE_qat_meV: float  # the same of the fine-tuned model
    seconds: float


def finetune(ckpt: Checkpoint, cfg: PrecisionConfig, data_dir: str | Path, out: str | Path, *, epochs: int = 3,
             lr: float = 3e-4, batch_size: int = 32, seed: int = 0, val_fraction: float = 0.15,
             max_pulses: int | None = None, n_boot: int = 200, progress: bool = True,
             command: str | None = None) -> QatResult:
    """Fine-tune ``ckpt`` with fake quantization under ``cfg`` on ``data_dir`` and write it to ``out``."""
    from venom_fpga.fixed.model import FixedModel
    from venom_fpga.metrics.resolving_power import paired_per_line

    start = time.time()
    check_output_path(out)
    if cfg.dims != ckpt.dims:
        raise TrainError(f"{cfg.source}: precision config dims {cfg.dims.to_dict()} differ from the checkpoint's")
    meta = ckpt.meta
    if not ckpt.calibrated:
        raise TrainError(f"{ckpt.path.name}: fine-tuning needs the checkpoint's energy calibration (metadata of "
                         "venom-fpga train)")
    windows = make_windows_from_meta(subsample(load_raw(data_dir), max_pulses, seed), meta)
    val = stratified_split(windows.line_index, val_fraction, seed)
    energy = windows.energy_ev
    target = torch.as_tensor(((energy[~val] - meta.energy_offset) / meta.energy_scale).astype(np.float32))
    model = VenomModel.from_tensors(ckpt.dims, ckpt.tensors, dtype=torch.float32).train()
    quant = signal_quantizer(cfg)
    fit(model, torch.as_tensor(windows.iq[~val]), target, epochs=epochs, lr=lr, weight_decay=0.0,
        warmup_epochs=0, batch_size=batch_size, seed=seed, progress=progress, desc="QAT",
        forward=lambda x: torch.func.functional_call(model, quantized_parameters(model, cfg), (x, quant)))
    tensors = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    # the fixed-point models of the start and of the fine-tuned weights, on the hold-out pulses
    tuned = dataclasses.replace(ckpt, tensors={k: v.astype(np.float64) for k, v in tensors.items()})
    iq_val = windows.iq[val]
    e, gap = {}, {}
    for key, c in (("start", ckpt), ("qat", tuned)):
        fm = FixedModel(c, cfg)
        codes, _ = fm.run(iq_val)
        e[key] = fm.output_float(codes)[:, 0] * meta.energy_scale + meta.energy_offset
        e_float = run_windows(c.dims, c.tensors, iq_val)[:, 0] * meta.energy_scale + meta.energy_offset
        gap[key] = float(np.abs(e[key] - e_float).max() * 1e3)
    comparison = paired_per_line(e["start"], e["qat"], energy[val], windows.line_index[val], windows.wavelengths_nm,
                                 n_boot=n_boot, seed=seed)
    prov = {**meta.provenance, "qat": {"from": ckpt.path.name, "precision": Path(cfg.source).name,
                                       "epochs": epochs, "lr": lr, "data_dir": str(data_dir),
                                       "command": command, "holdout_paired_R": comparison["mean"]}}
    path = save_checkpoint(out, tensors, dataclasses.replace(meta, provenance=prov))
    return QatResult(path, comparison, gap["start"], gap["qat"], time.time() - start)
