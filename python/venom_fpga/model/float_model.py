# SPDX-License-Identifier: BSD-3-Clause
"""Float golden model of VENOM (torch), exactly the equations of DESIGN.md §1.

Two execution modes that must agree:
- parallel (``forward``): the selective scan h_t = a_t h_{t-1} + b_t is an associative scan over time
  (Hillis-Steele doubling: log2(L) vectorised steps, no Python loop over t), accumulated in float64;
  used for training and batch evaluation.
- recurrent (``step``): one sample at a time with explicit ``(h, conv_state)`` per layer and an online
  softmax for the attention pooling, O(1) state per window; this is what the hardware computes.

The parallel mode takes an optional ``quant(name, value) -> value`` applied to every signal it forms, under the
fixed-point model's names (identity by default; quantization-aware fine-tuning, :mod:`venom_fpga.model.qat`, passes
fake quantizers). The recurrent mode's ``probe(name, value)`` only looks (profiling ranges).

Module names follow the canonical checkpoint layout, so ``load_state_dict`` takes a loaded checkpoint
directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from venom_fpga.model.dims import ModelDims

LN_EPS = 1e-5
LOG2E = 1.0 / math.log(2.0)

Probe = Callable[[str, torch.Tensor], None]
Quant = Callable[[str, torch.Tensor], torch.Tensor]


def _no_probe(name: str, value: torch.Tensor) -> None:
    pass


def _no_quant(name: str, value: torch.Tensor) -> torch.Tensor:
    return value


class Mixer(nn.Module):
    """The selective-SSM part of one Mamba block."""

    def __init__(self, dims: ModelDims):
        super().__init__()
        di, n = dims.d_inner, dims.d_state
        self.dims = dims
        self.in_proj = nn.Linear(dims.d_model, 2 * di, bias=False)
        self.conv1d = nn.Conv1d(di, di, dims.d_conv, groups=di, padding=dims.d_conv - 1)
        self.x_proj = nn.Linear(di, dims.dt_rank + 2 * n, bias=False)
        self.dt_proj = nn.Linear(dims.dt_rank, di)
        # Mamba's initialisation: softplus(bias) log-uniform in [1e-3, 1e-1], so the state starts slow.
        dt = torch.exp(torch.empty(di).uniform_(math.log(1e-3), math.log(1e-1)))
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        # S4D-real initialisation: A[d, n] = -(n + 1).
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(di, 1))
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, dims.d_model, bias=False)

    def _selective(self, xa: torch.Tensor, q: Callable[[str, torch.Tensor], torch.Tensor]
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """xa (..., d_inner) -> dt (..., d_inner), B and C (..., d_state)."""
        r, n = self.dims.dt_rank, self.dims.d_state
        rbc = self.x_proj(xa)
        dt = q("dt", F.softplus(q("dt_raw", self.dt_proj(q("xr", rbc[..., :r])))))
        return dt, q("B", rbc[..., r : r + n]), q("C", rbc[..., r + n :])

    def forward(self, n: torch.Tensor, quant: Quant = _no_quant, prefix: str = "") -> torch.Tensor:
        """Parallel mode: n (B, L, d_model) -> block output (B, L, d_model)."""
        di, length = self.dims.d_inner, n.shape[1]
        q = lambda name, v: quant(prefix + name, v)  # noqa: E731
        xz = self.in_proj(n)
        xi, z = q("xi", xz[..., :di]), q("z", xz[..., di:])
        xa = q("xa", F.silu(q("xc", self.conv1d(xi.transpose(1, 2))[..., :length].transpose(1, 2))))
        dt, b, c = self._selective(xa, q)
        A = -torch.exp(self.A_log.to(torch.float64))
        dt64 = dt.to(torch.float64)
        decay = torch.exp(dt64[..., None] * A)  # (B, L, d_inner, d_state)
        drive = (dt64 * xa.to(torch.float64))[..., None] * b.to(torch.float64)[..., None, :]
        h = associative_scan(decay, drive)
        y = q("y", torch.einsum("bldn,bln->bld", h, c.to(torch.float64)).to(xa.dtype) + self.D * xa)
        return self.out_proj(q("gate", y * q("zs", F.silu(z))))

    def step(self, n: torch.Tensor, h: torch.Tensor, conv_state: torch.Tensor, probe: Probe = _no_probe,
             prefix: str = ""):
        """Recurrent mode: n (B, d_model), h (B, d_inner, d_state), conv_state (B, d_inner, d_conv-1). ``probe``
        sees every intermediate under its fixed-point signal name (``prefix`` + name, see Block.step)."""
        di, r, ns = self.dims.d_inner, self.dims.dt_rank, self.dims.d_state
        xz = self.in_proj(n)
        xi, z = xz[..., :di], xz[..., di:]
        window = torch.cat([conv_state, xi[..., None]], dim=-1)  # oldest first, as in the equation
        xc = (window * self.conv1d.weight[:, 0, :]).sum(-1) + self.conv1d.bias
        xa = F.silu(xc)
        rbc = self.x_proj(xa)
        xr, b, c = rbc[..., :r], rbc[..., r : r + ns], rbc[..., r + ns :]
        dt_raw = self.dt_proj(xr)
        dt = F.softplus(dt_raw)
        A = -torch.exp(self.A_log)
        dtA = dt[..., None] * A
        h = torch.exp(dtA) * h + (dt * xa)[..., None] * b[:, None, :]
        y = (h * c[:, None, :]).sum(-1) + self.D * xa
        zs = F.silu(z)
        for name, v in (("xi", xi), ("z", z), ("xc", xc), ("xa", xa), ("xr", xr), ("B", b), ("C", c),
                        ("dt_raw", dt_raw), ("dt", dt), ("dA", -dtA * LOG2E), ("Abar", torch.exp(dtA)),
                        ("dtx", dt * xa), ("h", h), ("y", y), ("zs", zs), ("gate", y * zs)):
            probe(prefix + name, v)
        return self.out_proj(y * zs), h, window[..., 1:]


class Block(nn.Module):
    """Pre-norm residual Mamba block."""

    def __init__(self, dims: ModelDims):
        super().__init__()
        self.norm = nn.LayerNorm(dims.d_model, eps=LN_EPS)
        self.mixer = Mixer(dims)

    def forward(self, u: torch.Tensor, quant: Quant = _no_quant, prefix: str = "") -> torch.Tensor:
        return quant(prefix + "out", u + self.mixer(quant(prefix + "ln_out", self.norm(u)), quant, prefix))

    def step(self, u: torch.Tensor, h: torch.Tensor, conv_state: torch.Tensor, probe: Probe = _no_probe,
             prefix: str = ""):
        n = self.norm(u)
        if probe is not _no_probe:  # the fixed datapath's decomposition: xhat / sqrt(d), then gamma sqrt(d)
            c = u - u.mean(-1, keepdim=True)
            xn = c / torch.sqrt((c * c).mean(-1, keepdim=True) + LN_EPS) / math.sqrt(u.shape[-1])
            probe(prefix + "ln_xn", xn)
            probe(prefix + "ln_out", n)
            # the LayerNorm fold's signals: ln_p = W_in n - W_in beta, ln_s = ln_p sqrt(V), V = d (var + eps)
            w_in = self.mixer.in_proj.weight
            ln_p = n @ w_in.T - self.norm.bias @ w_in.T
            probe(prefix + "ln_p", ln_p)
            probe(prefix + "ln_s", ln_p * torch.sqrt(((c * c).sum(-1, keepdim=True) + u.shape[-1] * LN_EPS)))
        out, h, conv_state = self.mixer.step(n, h, conv_state, probe, prefix)
        probe(prefix + "out", u + out)
        return u + out, h, conv_state


class Head(nn.Module):
    """Per-channel softmax attention pooling over time, then a GELU MLP to (mu, log_var)."""

    def __init__(self, dims: ModelDims):
        super().__init__()
        h = dims.d_head_hidden
        self.attn = nn.Linear(dims.d_model, dims.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(dims.d_model, h), nn.GELU(), nn.Linear(h, h), nn.GELU(), nn.Linear(h, dims.n_out)
        )

    def forward(self, f: torch.Tensor, quant: Quant = _no_quant) -> torch.Tensor:
        score = self.attn(f)
        if quant is not _no_quant:  # the fixed datapath's scores are in log2 units
            score = quant("head.score", score * LOG2E) / LOG2E
        v = quant("head.pooled", (torch.softmax(score, dim=1) * f).sum(dim=1))  # over time, per channel
        for name, layer in zip(("head.mlp0", "head.gelu0", "head.mlp2", "head.gelu2"), self.mlp):
            v = quant(name, layer(v))
        out = self.mlp[-1](v)
        return torch.stack([quant("mu", out[..., 0]), quant("log_var", out[..., 1])], dim=-1)


@dataclass
class PoolState:
    """Online softmax: running max, normaliser and weighted sum per channel (O(1) per window)."""

    peak: torch.Tensor
    norm: torch.Tensor
    acc: torch.Tensor

    def update(self, s: torch.Tensor, f: torch.Tensor, probe: Probe = _no_probe) -> None:
        peak = torch.maximum(self.peak, s)
        rescale = torch.exp(self.peak - peak)
        w = torch.exp(s - peak)
        self.norm = self.norm * rescale + w
        self.acc = self.acc * rescale + w * f
        self.peak = peak
        probe("head.score", s * LOG2E)  # the fixed datapath's softmax runs in powers of two
        probe("head.sm_e", torch.where(rescale < 1.0, rescale, w))  # the factor below 1 of the update
        probe("head.sm_l", self.norm)
        probe("head.sm_acc", self.acc)

    def pooled(self) -> torch.Tensor:
        return self.acc / self.norm


@dataclass
class StepState:
    h: list[torch.Tensor]
    conv: list[torch.Tensor]
    pool: PoolState


class VenomModel(nn.Module):
    def __init__(self, dims: ModelDims):
        super().__init__()
        self.dims = dims
        self.embed = nn.Linear(dims.n_in, dims.d_model)
        self.layers = nn.ModuleList(Block(dims) for _ in range(dims.n_layers))
        self.head = Head(dims)

    @classmethod
    def from_tensors(cls, dims: ModelDims, tensors: dict[str, np.ndarray], dtype=torch.float64) -> VenomModel:
        model = cls(dims).to(dtype)
        model.load_state_dict({k: torch.as_tensor(v, dtype=dtype) for k, v in tensors.items()}, strict=True)
        return model.eval()

    def features(self, x: torch.Tensor, quant: Quant = _no_quant) -> torch.Tensor:
        u = quant("embed", self.embed(quant("input", x)))
        for i, layer in enumerate(self.layers):
            u = layer(u, quant, f"layers.{i}.")
        return u

    def forward(self, x: torch.Tensor, quant: Quant = _no_quant) -> torch.Tensor:
        """Parallel mode: x (B, L, 2) -> (B, 2) = (mu, log_var); ``quant`` sees (and may replace) every signal."""
        return self.head(self.features(x, quant), quant)

    # --- recurrent mode ---

    def init_state(self, batch: int) -> StepState:
        d = self.dims
        kw = {"dtype": self.embed.weight.dtype}
        return StepState(
            h=[torch.zeros(batch, d.d_inner, d.d_state, **kw) for _ in self.layers],
            conv=[torch.zeros(batch, d.d_inner, d.d_conv - 1, **kw) for _ in self.layers],
            pool=PoolState(
                peak=torch.full((batch, d.d_model), -torch.inf, **kw),
                norm=torch.zeros(batch, d.d_model, **kw),
                acc=torch.zeros(batch, d.d_model, **kw),
            ),
        )

    def step(self, x_t: torch.Tensor, state: StepState, probe: Probe = _no_probe) -> torch.Tensor:
        """Consume one sample x_t (B, 2); returns the backbone feature f_t and updates ``state``. ``probe(name,
        value)`` sees every intermediate under the fixed-point model's signal names (profiling ranges)."""
        probe("input", x_t)
        u = self.embed(x_t)
        probe("embed", u)
        for i, layer in enumerate(self.layers):
            u, state.h[i], state.conv[i] = layer.step(u, state.h[i], state.conv[i], probe, f"layers.{i}.")
        state.pool.update(self.head.attn(u), u, probe)
        return u

    def finish(self, state: StepState, probe: Probe = _no_probe) -> torch.Tensor:
        """End of window: the head's MLP on the pooled features -> (B, 2)."""
        v = state.pool.pooled()
        probe("head.pooled", v)
        for name, layer in zip(("head.mlp0", "head.gelu0", "head.mlp2", "head.gelu2"), self.head.mlp):
            v = layer(v)
            probe(name, v)
        out = self.head.mlp[-1](v)
        probe("mu", out[..., 0])
        probe("log_var", out[..., 1])
        return out

    def forward_recurrent(self, x: torch.Tensor, probe: Probe = _no_probe) -> torch.Tensor:
        state = self.init_state(x.shape[0])
        for t in range(x.shape[1]):
            self.step(x[:, t], state, probe)
        return self.finish(state, probe)


def associative_scan(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """h_t = a_t * h_{t-1} + b_t with h_{-1} = 0, over dim 1, by Hillis-Steele doubling.

    Composing (a1, b1) then (a2, b2) gives (a2 a1, a2 b1 + b2); after the step with offset k every
    position holds the composition of the last 2k inputs, so log2(L) steps cover the whole sequence.
    """
    length = a.shape[1]
    k = 1
    while k < length:
        a_prev = F.pad(a[:, :-k], (0,) * (2 * (a.dim() - 2)) + (k, 0), value=1.0)
        b_prev = F.pad(b[:, :-k], (0,) * (2 * (b.dim() - 2)) + (k, 0), value=0.0)
        b = a * b_prev + b
        a = a * a_prev
        k *= 2
    return b


def run_windows(dims: ModelDims, tensors: dict[str, np.ndarray], iq: np.ndarray, recurrent: bool = False,
                progress: bool = False, batch: int = 256) -> np.ndarray:
    """Float windows (N, L, 2) -> (N, 2) head outputs (mu, log_var), float64, parallel or recurrent mode."""
    from tqdm import tqdm

    model = VenomModel.from_tensors(dims, tensors)
    out = np.empty((iq.shape[0], dims.n_out))
    with torch.no_grad():
        for start in tqdm(range(0, iq.shape[0], batch), desc="windows", unit="batch", disable=not progress):
            x = torch.as_tensor(iq[start : start + batch], dtype=torch.float64)
            y = model.forward_recurrent(x) if recurrent else model(x)
            out[start : start + batch] = y.numpy()
    return out


def energy_from_output(out: np.ndarray, energy_scale: float, energy_offset: float) -> np.ndarray:
    """(mu, log_var) -> (E in eV, log-variance of E in eV^2)."""
    out = np.asarray(out, dtype=np.float64)
    energy = out[:, 0] * energy_scale + energy_offset
    log_var = out[:, 1] + 2.0 * np.log(abs(energy_scale))
    return np.stack([energy, log_var], axis=1)
