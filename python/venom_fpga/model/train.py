# SPDX-License-Identifier: BSD-3-Clause
"""Training a VENOM model on a VENOM-format data directory (torch, CPU).

Recipe (after the upstream model): Gaussian NLL on normalised energies, AdamW (weight decay 1e-4),
linear warm-up then cosine decay, a 15 % hold-out stratified by wavelength, parallel mode. The written
checkpoint carries everything needed to reproduce its inputs and outputs: the preprocessing, the
energy calibration, and provenance (command, data, configuration, achieved hold-out R).
"""

from __future__ import annotations

import dataclasses
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from venom_fpga import __version__
from venom_fpga.data.dataset import RawDataset, Windows, load_raw, make_windows, stratified_split
from venom_fpga.errors import MAX_COUNT, VenomError, check_int, check_number
from venom_fpga.files import check_output_path
from venom_fpga.model.checkpoint import save_checkpoint
from venom_fpga.model.dims import ModelDims
from venom_fpga.model.float_model import VenomModel, energy_from_output
from venom_fpga.model.meta import Metadata
from venom_fpga.metrics.resolving_power import mean_R, per_line


class TrainError(VenomError):
    """A training setting or data set that cannot train a model, or a run that diverged, in one line."""


@dataclass
class TrainConfig:
    d_model: int = 16
    d_state: int = 8
    d_conv: int = 4
    n_layers: int = 1
    d_head_hidden: int = 32
    expand: int = 1
    epochs: int = 20
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_epochs: int = 2
    val_fraction: float = 0.15
    seed: int = 0
    decimation: int = 4
    n_tau: float = 5.0
    max_pulses: int | None = None  # per data set, for quick runs
    threads: int = 1  # small tensors: one thread is faster than two fighting over a busy machine

    def __post_init__(self) -> None:
        """Every setting checked (and normalised) by its type and range, so a bad one fails before any work."""
        for name, spec in self.__dataclass_fields__.items():
            value, where = getattr(self, name), f"train setting {name}"
            if value is None and spec.type == "int | None":
                continue
            if spec.type.startswith("int"):
                low = 0 if name in ("warmup_epochs", "seed") else 1
                high = (1 << 63) - 1 if name == "seed" else MAX_COUNT
                setattr(self, name, check_int(value, where, low=low, high=high, error=TrainError))
            else:
                setattr(self, name, check_number(value, where, positive=name != "weight_decay", low=0.0,
                                                 error=TrainError))
        if not self.val_fraction < 1.0:
            raise TrainError(f"train setting val_fraction must be < 1, found {self.val_fraction:g}")
        n_params = self.dims().n_params()
        if n_params > MAX_COUNT:
            raise TrainError(f"a model of {n_params:,} parameters is beyond CPU training here (at most {MAX_COUNT:,})")

    def dims(self) -> ModelDims:
        return ModelDims.from_hyper(
            self.d_model, self.d_state, self.d_conv, self.n_layers, self.d_head_hidden, expand=self.expand
        )


@dataclass
class TrainResult:
    path: Path
    per_line: list[dict]
    mean_R_kde: float
    mean_R_gauss: float
    seconds: float


def gaussian_nll(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    mu, log_var = out[:, 0], out[:, 1]
    return 0.5 * (log_var + (target - mu) ** 2 * torch.exp(-log_var)).mean()


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1, then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def subsample(raw: RawDataset, max_pulses: int | None, seed: int) -> RawDataset:
    """At most ``max_pulses`` pulses of a data set, drawn with ``seed`` (quick runs)."""
    if max_pulses is None or raw.n_pulses <= max_pulses:
        return raw
    keep = np.sort(np.random.default_rng(seed).choice(raw.n_pulses, max_pulses, replace=False))
    return dataclasses.replace(raw, i=raw.i[keep], q=raw.q[keep], line_index=raw.line_index[keep],
                               energy_ev=raw.energy_ev[keep])


def training_windows(raw: RawDataset, cfg: TrainConfig) -> Windows:
    return make_windows(subsample(raw, cfg.max_pulses, cfg.seed), decimation=cfg.decimation, n_tau=cfg.n_tau)


def fit(model: VenomModel, train_iq: torch.Tensor, target: torch.Tensor, *, epochs: int, lr: float,
        weight_decay: float, warmup_epochs: int, batch_size: int, seed: int, progress: bool, desc: str = "training",
        forward: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
    """The recipe's loop: Gaussian NLL, AdamW, warm-up then cosine decay, gradients clipped at 1; ``forward``
    (default: the model) maps a batch of windows to (mu, log_var)."""
    forward = forward or model
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = train_iq.shape[0]
    steps_per_epoch = math.ceil(n / batch_size)
    total = epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, warmup_epochs * steps_per_epoch, total))
    gen = torch.Generator().manual_seed(seed)
    bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress)
    for epoch in bar:
        model.train()
        order = torch.randperm(n, generator=gen)
        losses = []
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            loss = gaussian_nll(forward(train_iq[idx]), target[idx])
            if not math.isfinite(loss.item()):  # stop at once: every later step is NaN too
                raise TrainError(f"{desc} diverged in epoch {epoch + 1} (loss {loss.item()}); lower the learning "
                                 f"rate (lr {lr:g})")
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
        bar.set_postfix(nll=f"{np.mean(losses):.3f}")
    model.eval()


def evaluate_float(model: VenomModel, iq: np.ndarray, energy_scale: float, energy_offset: float) -> np.ndarray:
    """Energies (eV) of windows with the float64 parallel model."""
    model64 = VenomModel.from_tensors(model.dims, {k: v.detach().numpy() for k, v in model.state_dict().items()})
    with torch.no_grad():
        out = np.concatenate([model64(torch.as_tensor(iq[s : s + 256], dtype=torch.float64)).numpy()
                              for s in range(0, len(iq), 256)])
    return energy_from_output(out, energy_scale, energy_offset)[:, 0]


def train(data_dir: str | Path, out: str | Path, cfg: TrainConfig, progress: bool = True,
          command: str | None = None) -> TrainResult:
    """Train on a VENOM-format directory and write the checkpoint to ``out`` (checked before any work)."""
    start = time.time()
    check_output_path(out)
    raw = load_raw(data_dir)
    windows = training_windows(raw, cfg)
    val = stratified_split(windows.line_index, cfg.val_fraction, cfg.seed)
    if np.unique(windows.line_index[~val]).size < 2:
        raise TrainError(f"{data_dir}: training needs pulses of at least 2 lines (energies) to calibrate on, "
                         f"found {np.unique(windows.line_index[~val]).size}")
    if not val.any():
        raise TrainError(f"{data_dir}: too few pulses for a hold-out of {cfg.val_fraction:g} per line")
    if cfg.d_conv > windows.iq.shape[1]:  # taps beyond the window only see zeros, and cost as much as the rest
        raise TrainError(f"train setting d_conv {cfg.d_conv} exceeds the window length {windows.iq.shape[1]}")
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    train_iq = torch.as_tensor(windows.iq[~val])
    energy = windows.energy_ev
    energy_offset = float(energy[~val].mean())
    energy_scale = float(energy[~val].std())
    target = torch.as_tensor(((energy[~val] - energy_offset) / energy_scale).astype(np.float32))

    model = VenomModel(cfg.dims())
    n = train_iq.shape[0]
    fit(model, train_iq, target, epochs=cfg.epochs, lr=cfg.lr, weight_decay=cfg.weight_decay,
        warmup_epochs=cfg.warmup_epochs, batch_size=cfg.batch_size, seed=cfg.seed, progress=progress)
    pred = evaluate_float(model, windows.iq[val], energy_scale, energy_offset)
    lines = per_line(pred, energy[val], windows.line_index[val], windows.wavelengths_nm)
    result_R = {"mean_R_kde": mean_R(lines, "R_kde"), "mean_R_gauss": mean_R(lines, "R_gauss")}
    meta = Metadata(
        **windows.preprocessing,
        energy_scale=energy_scale,
        energy_offset=energy_offset,
        provenance={
            **windows.provenance,
            "n_tau": cfg.n_tau,
            "command": command or " ".join(sys.argv),
            "data_dir": str(data_dir),
            "data": data_summary(raw.meta),
            "train_config": dataclasses.asdict(cfg),
            "n_train": int(n),
            "n_val": int(val.sum()),
            "holdout": {**result_R, "per_line": lines},
            "venom_fpga": __version__,
            "torch": torch.__version__,
            "python": platform.python_version(),
            "seconds": round(time.time() - start, 1),
        },
    )
    tensors = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    path = save_checkpoint(out, tensors, meta)
    return TrainResult(path, lines, result_R["mean_R_kde"], result_R["mean_R_gauss"], time.time() - start)


def data_summary(meta: dict) -> dict:
    """The data set's own metadata.json, minus bulky entries, for provenance."""
    keep = ("preset", "seed", "n_per_line", "wavelengths_nm", "generator_version")
    return {k: v for k, v in meta.items() if k in keep}
