# SPDX-License-Identifier: BSD-3-Clause
"""The precision config: one ``ap_fixed`` format per datapath signal, per weight tensor and per table.

This JSON file is the single source of truth of every format: the op plan (``op_plan.py``) derives from it what
the fixed-point golden model (``model.py``), the tables (``lut.py``), the HLS typedefs and the RTL widths use. Schema (every key required, unknown keys are errors)::

    {
      "schema": "venom-fpga-precision/1",
      "dims": {d_model, d_state, d_conv, d_inner, dt_rank, n_layers, d_head_hidden, n_in, n_out},
      "max_window_length": L_max,          # windows up to this length never overflow the softmax normaliser
      "signals": {name: QFormat, ...},     # exactly signal_names(dims): LAYER_SIGNALS per layer, HEAD_SIGNALS, ...
      "weights": {canonical tensor name: QFormat, ...},   # the format of the *folded* tensor (see FOLDS)
      "luts": {family: {"lo", "hi", "step_log2", "table": QFormat[, "mant_frac"]}, ...},   # see lut.py
      "why": {operand: reason, ...},       # required for every multiplier operand wider than 18 bits
      "notes": [str, ...],
      "fold_layernorm": true               # optional (default false): the LayerNorm fold, below
    }

The LayerNorm fold (a deployment option, exact in real arithmetic): layer 0's LayerNorm input is the embed
u = W_e x + b_e, affine in the 2-D input x, so with c = P x + p (P, p: W_e, b_e minus their means over the d_model
rows) LayerNorm + in_proj become [xi, z] = (G x + g0) / sqrt(V) + k0 with V = |c|^2 + d eps a quadratic in x
(G = sqrt(d) W_in diag(gamma) P, g0 = sqrt(d) W_in diag(gamma) p, k0 = W_in beta): about 2 d_inner (n_in + 1)
products instead of d_model (2 d_inner + 3). Layer 0 then has the signals FOLD_SIGNALS instead of LayerNorm's and
the tensors FOLD_TENSORS instead of norm.weight, norm.bias and in_proj.weight (:func:`fold_layernorm`).

A QFormat is ``{"width", "int_bits", "signed", "rounding", "overflow"}`` (the last three may be left out:
signed, AP_RND_CONV, AP_SAT) or the C++ string, e.g. ``"ap_fixed<18,5,AP_RND,AP_SAT>"`` (whose omitted modes
mean AP_TRN, AP_WRAP, as in C++). ``save_precision`` always writes all five keys.

Multiplier operands (DESIGN.md §2): a DSP48E2 multiplies 27 x 18 bits (signed), so every operand that enters a
multiplier should be at most 18 bits; an unsigned format of W bits counts as W + 1. Wider operands need a reason
in ``why``, keyed by the signal, the weight, or a derived operand ``layers.{i}.ln_c`` / ``layers.{i}.ln_cn`` --
otherwise loading fails -- or by ``luts.{family}`` for a table's interpolation multiply (checked when the tables
are built, by ``FixedModel``).

``default_precision(ckpt)`` makes a working config before profiling (see its docstring and DEFAULT_WIDTHS);
``precision_for(ckpt)`` finds the config of a checkpoint (explicit path, ``<stem>.precision.json``, default).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from venom_fpga.errors import MAX_COUNT, VenomError, check_int, check_number
from venom_fpga.files import atomic_path, read_json
from venom_fpga.model.dims import ModelDims
from venom_fpga.fixed.lut import build_luts, second_derivative_max
from venom_fpga.fixed.qformat import QFormat

if TYPE_CHECKING:  # pragma: no cover
    from venom_fpga.model.checkpoint import Checkpoint

SCHEMA = "venom-fpga-precision/1"
TOP_KEYS = ("schema", "dims", "max_window_length", "signals", "weights", "luts", "why", "notes")
OPTIONAL_KEYS = ("fold_layernorm",)
DSP_OPERAND_BITS = 18
LN_EPS = 1e-5  # float_model.LN_EPS (nn.LayerNorm's eps); repeated here so this module needs no torch
LOG2E = 1.0 / math.log(2.0)
# A format's binary point lies at most this many bits from its word's either way: float32's exponent range, beyond
# which no weight or signal of a float32 model exists (and every lsb, bound and shift stays finite).
MAX_INT_BITS = 128

# Per-layer signals, in datapath order (name -> meaning). Full names are "layers.{i}.<name>".
LAYER_SIGNALS: dict[str, str] = {
    "ln_rsqrt": "LayerNorm: rsqrt table output on the even-normalised mantissa of V = sum c_i^2 + eps d^3, (0.5, 1]",
    "ln_xn": "LayerNorm: xhat / sqrt(d) = c_i rsqrt(V), in (-1, 1)",
    "ln_out": "LayerNorm output n = gamma' xn + beta (gamma' = gamma sqrt(d))",
    "xi": "in_proj output, first d_inner rows (conv input)",
    "z": "in_proj output, last d_inner rows (gate input)",
    "xc": "causal depthwise conv output (+ bias)",
    "xa": "SiLU(xc)",
    "xr": "x_proj rows 0..dt_rank-1 (dt input)",
    "B": "x_proj rows dt_rank..dt_rank+d_state-1",
    "C": "x_proj last d_state rows",
    "dt_raw": "dt_proj output W_dt r + b_dt",
    "dt": "softplus(dt_raw) > 0",
    "dA": "dt * (-A) * log2(e) >= 0, the decay exponent in log2 units",
    "Abar": "exp(dt A) = 2**-dA in (0, 1]",
    "dtx": "dt * xa",
    "h": "SSM state h = Abar h + dtx B",
    "y": "sum_n C h + D xa",
    "zs": "SiLU(z)",
    "gate": "y * SiLU(z)",
    "out": "residual stream after the block u + W_out gate",
}
HEAD_SIGNALS: dict[str, str] = {
    "head.score": "attention score s = (W_a f + b_a) log2(e) (log2 units: softmax by powers of two)",
    "head.sm_e": "online softmax weight 2**-|s - m| in (0, 1] (must hold 1.0)",
    "head.sm_l": "online softmax normaliser l in [1, L]",
    "head.sm_acc": "online softmax accumulator acc (sum of weight * f)",
    "head.sm_recip": "reciprocal table output on the normalised mantissa of l, (0.5, 1]",
    "head.pooled": "pooled features acc / l",
    "head.mlp0": "W1 pooled + b1",
    "head.gelu0": "GELU(mlp0)",
    "head.mlp2": "W2 gelu0 + b2",
    "head.gelu2": "GELU(mlp2)",
}
OUTPUT_SIGNALS: dict[str, str] = {"mu": "head output 0 (energy in calibrated units)", "log_var": "head output 1"}
GLOBAL_SIGNALS: dict[str, str] = {"input": "I/Q sample (16-bit word per DESIGN.md §3)", "embed": "u0 = W_e x + b_e"}

# Signals that feed a multiplier (the 18-bit rule applies). Others only feed tables, adders or comparators.
LAYER_OPERANDS = (
    "ln_rsqrt", "ln_xn", "ln_out", "xi", "xa", "xr", "dt", "Abar", "dtx", "h", "B", "C", "y", "zs", "gate", "out",
)  # fmt: skip
HEAD_OPERANDS = ("head.sm_e", "head.sm_l", "head.sm_acc", "head.sm_recip", "head.pooled", "head.gelu0", "head.gelu2")

# Tensors stored folded (the float values that get quantized); all others are quantized as they are.
FOLDS = {
    "norm.weight": "gamma * sqrt(d_model) (LayerNorm computes xhat / sqrt(d))",
    "mixer.A_log": "exp(A_log) * log2(e) = -A log2(e) (the decay exponent in log2 units)",
    "head.attn.weight": "W_a * log2(e) (softmax in powers of two)",
    "head.attn.bias": "b_a * log2(e)",
}

LUT_FAMILIES = ("silu", "gelu", "softplus", "exp2", "rsqrt", "recip")
LUT_KEYS = ("lo", "hi", "step_log2", "table")
MANT_LUTS = ("rsqrt", "recip")  # these also have "mant_frac"


# The LayerNorm fold (module docstring): layer FOLD_LAYER's LayerNorm signals and tensors are replaced by these.
FOLD_LAYER = 0
LN_SIGNALS = ("ln_rsqrt", "ln_xn", "ln_out")
FOLD_SIGNALS: dict[str, str] = {
    "ln_rsqrt": "folded LayerNorm: rsqrt table output on the even-normalised mantissa of V = |c|^2 + d eps, (0.5, 1]",
    "ln_s": "folded LayerNorm: s = G x + g0 = sqrt(V) (W_in n - k0), the projection before the normalisation",
    "ln_p": "folded LayerNorm: s rsqrt(V) = W_in n - k0 ([xi, z] before the bias k0)",
}
FOLD_OPERANDS = ("ln_rsqrt", "ln_s")
REPLACED_TENSORS = ("norm.weight", "norm.bias", "mixer.in_proj.weight")
FOLD_TENSORS: dict[str, str] = {
    "fold.Qv": "P^T P as the coefficients of the products x_k x_l, k <= l (off-diagonal ones doubled)",
    "fold.q2": "2 P^T p",
    "fold.c0": "|p|^2 + d eps",
    "fold.G": "sqrt(d) W_in diag(gamma) P",
    "fold.g0": "sqrt(d) W_in diag(gamma) p",
    "fold.k0": "W_in beta",
}


def _layer_signals(i: int, fold: bool) -> list[str]:
    if fold and i == FOLD_LAYER:
        return list(FOLD_SIGNALS) + [s for s in LAYER_SIGNALS if s not in LN_SIGNALS]
    return list(LAYER_SIGNALS)


def signal_names(dims: ModelDims, fold: bool = False) -> list[str]:
    """The config's signals in datapath order (``fold``: with the LayerNorm fold)."""
    names = list(GLOBAL_SIGNALS)
    for i in range(dims.n_layers):
        names += [f"layers.{i}.{s}" for s in _layer_signals(i, fold)]
    return names + list(HEAD_SIGNALS) + list(OUTPUT_SIGNALS)


def weight_shapes(dims: ModelDims, fold: bool = False) -> dict[str, tuple[int, ...]]:
    """The config's weight tensors (canonical names, folded as FOLDS says) and shapes (``fold``: with the
    LayerNorm fold's tensors instead of layer 0's LayerNorm and in_proj)."""
    shapes = dims.expected_shapes()
    if not fold:
        return shapes
    p = f"layers.{FOLD_LAYER}."
    n, di2 = dims.n_in, 2 * dims.d_inner
    out: dict[str, tuple[int, ...]] = {}
    for name, shape in shapes.items():
        if name == p + REPLACED_TENSORS[0]:
            out.update({p + "fold.Qv": (n * (n + 1) // 2,), p + "fold.q2": (n,), p + "fold.c0": (1,),
                        p + "fold.G": (di2, n), p + "fold.g0": (di2,), p + "fold.k0": (di2,)})
        elif name not in [p + t for t in REPLACED_TENSORS]:
            out[name] = shape
    return out


def signal_doc(name: str) -> str:
    base = name.split(".", 2)[-1] if name.startswith("layers.") else name
    if base in ("ln_s", "ln_p"):
        return FOLD_SIGNALS[base]
    return {**GLOBAL_SIGNALS, **LAYER_SIGNALS, **HEAD_SIGNALS, **OUTPUT_SIGNALS}.get(base, "")


def operand_signals(dims: ModelDims, fold: bool = False) -> list[str]:
    names = ["input"]
    for i in range(dims.n_layers):
        ops = FOLD_OPERANDS + tuple(s for s in LAYER_OPERANDS if s not in LN_SIGNALS) if fold and i == FOLD_LAYER \
            else LAYER_OPERANDS
        names += [f"layers.{i}.{s}" for s in ops]
    return names + list(HEAD_OPERANDS)


FOLD_BIASES = ("fold.c0", "fold.g0", "fold.k0")


def is_bias(tensor: str) -> bool:
    """Biases (LayerNorm's beta and the fold's constant terms too) only feed adders."""
    return tensor.endswith(".bias") or tensor.endswith(FOLD_BIASES)


def operand_width(fmt: QFormat) -> int:
    """Bits on a signed multiplier port: an unsigned W-bit format needs W + 1."""
    return fmt.width + (0 if fmt.signed else 1)


class PrecisionError(VenomError):
    """A precision config that cannot be used, explained in one line (naming the key)."""


# ------------------------------------------------------------------------------------------------ the config
@dataclass
class PrecisionConfig:
    dims: ModelDims
    signals: dict[str, QFormat]
    weights: dict[str, QFormat]
    luts: dict[str, dict[str, Any]]  # family -> {"lo", "hi", "step_log2", "table": QFormat[, "mant_frac"]}
    why: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    max_window_length: int = 1023
    fold_layernorm: bool = False  # the LayerNorm fold of layer 0 (module docstring)
    source: str = "memory"  # where it came from (path, or "default"); not saved

    def signal_names(self) -> list[str]:
        return signal_names(self.dims, self.fold_layernorm)

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        return weight_shapes(self.dims, self.fold_layernorm)

    def folded(self, layer: int) -> bool:
        """Whether this layer's LayerNorm is folded into its in_proj."""
        return self.fold_layernorm and layer == FOLD_LAYER

    def __post_init__(self) -> None:
        self.validate()

    # -------------------------------------------------------------- derived operands
    def ln_bounds(self, layer: int) -> dict[str, int]:
        """Exact integer bounds of the LayerNorm intermediates of one layer (input = the residual stream).

        c_i = d U_i - sum U (|c| <= (d-1)(U_max - U_min)); V = sum c^2 + EPS; e_max = even exponent of V's top;
        CN = c << (S - e/2) with S = e_max / 2 (|CN| < 2**(S+1))."""
        fu = self.residual_in(layer)
        d = self.dims.d_model
        span = fu.max_code - fu.min_code
        c_max = (d - 1) * span
        v_max = d * c_max * c_max + self.ln_eps_code(layer)
        p = v_max.bit_length() - 1
        e_max = p - (p & 1)
        return {
            "c_max": c_max,
            "c_bits": c_max.bit_length() + 1,
            "v_max": v_max,
            "e_max": e_max,
            "shift": e_max // 2,
            "cn_bits": e_max // 2 + 2,
        }

    def residual_in(self, layer: int) -> QFormat:
        return self.signals["embed"] if layer == 0 else self.signals[f"layers.{layer - 1}.out"]

    def ln_eps_code(self, layer: int) -> int:
        """round_half_even(eps d^3 2**(2 F_u)): eps in V's units (the double 1e-5, exactly), at least 1."""
        fu = self.residual_in(layer).frac_bits
        q = Fraction(LN_EPS) * self.dims.d_model**3 * Fraction(2) ** (2 * fu)
        fl = math.floor(q)
        rem = q - fl
        code = fl + (1 if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2) else 0)
        return max(int(code), 1)

    def operand_widths(self) -> dict[str, int]:
        """Every multiplier operand this config defines (signals, weights, derived LayerNorm operands)."""
        out = {name: operand_width(self.signals[name]) for name in operand_signals(self.dims, self.fold_layernorm)}
        for name, fmt in self.weights.items():
            if not is_bias(name):
                out[name] = operand_width(fmt)
        for i in range(self.dims.n_layers):
            if self.folded(i):  # the products x_k x_l, exact
                out[f"layers.{i}.ln_xx"] = 2 * operand_width(self.signals["input"])
                continue
            b = self.ln_bounds(i)
            out[f"layers.{i}.ln_c"] = b["c_bits"]
            out[f"layers.{i}.ln_cn"] = b["cn_bits"]
        return out

    def wide_operands(self) -> dict[str, int]:
        return {k: w for k, w in self.operand_widths().items() if w > DSP_OPERAND_BITS}

    def check_window_length(self, length: int, source: str = "windows") -> None:
        """Windows longer than ``max_window_length`` would saturate the softmax normaliser (head.sm_l) and give a
        wrong energy: refused."""
        if length > self.max_window_length:
            raise PrecisionError(f"{source}: windows of {length} samples are longer than max_window_length "
                                 f"{self.max_window_length} of the precision config ({self.source}); profile a "
                                 "config for them (venom-fpga profile)")

    # -------------------------------------------------------------- validation
    def validate(self) -> None:
        dims = self.dims
        if not isinstance(self.fold_layernorm, bool):
            raise PrecisionError(f"fold_layernorm must be true or false, found {self.fold_layernorm!r}")
        want = self.signal_names()
        _exact_keys("signals", self.signals, want)
        _exact_keys("weights", self.weights, list(self.weight_shapes()))
        _exact_keys("luts", self.luts, list(LUT_FAMILIES))
        for section in ("signals", "weights"):
            for name, fmt in getattr(self, section).items():
                _check_format(f"{section}.{name}", fmt)
        for fam, params in self.luts.items():
            _exact_keys(f"luts.{fam}", params, list(LUT_KEYS) + (["mant_frac"] if fam in MANT_LUTS else []))
            _check_format(f"luts.{fam}.table", params["table"])
            params["step_log2"] = check_int(params["step_log2"], f"luts.{fam}.step_log2", low=0, high=24,
                                            error=PrecisionError)
            if fam in MANT_LUTS:
                params["mant_frac"] = check_int(params["mant_frac"], f"luts.{fam}.mant_frac", low=1, high=40,
                                                error=PrecisionError)
            for key in ("lo", "hi"):  # exact binary values: the table grid is computed from them
                check_number(params[key], f"luts.{fam}.{key}", low=-(1 << 16), high=1 << 16, error=PrecisionError)
            n = (params["hi"] - params["lo"]) * 2 ** params["step_log2"]
            if not (params["hi"] > params["lo"] and n == int(n) and n <= 1 << 16):
                raise PrecisionError(
                    f"luts.{fam}: [lo, hi) = [{params['lo']}, {params['hi']}) must be a positive whole number "
                    f"(<= 65536) of steps 2**-{params['step_log2']}"
                )
        fixed_ranges = {"exp2": (0, 1), "rsqrt": (1, 4), "recip": (1, 2)}
        for fam, (lo, hi) in fixed_ranges.items():
            if (self.luts[fam]["lo"], self.luts[fam]["hi"]) != (lo, hi):
                raise PrecisionError(f"luts.{fam}: the range must be [{lo}, {hi}), got "
                                     f"[{self.luts[fam]['lo']}, {self.luts[fam]['hi']})")
        for fam in ("silu", "gelu", "softplus"):
            if self.luts[fam]["lo"] != 0:
                raise PrecisionError(f"luts.{fam}.lo must be 0 (the table is indexed by |x|)")
        self.max_window_length = check_int(self.max_window_length, "max_window_length", low=1, high=MAX_COUNT,
                                           error=PrecisionError)
        sig = self.signals
        inp = sig["input"]
        if not inp.signed or inp.width > 16:
            raise PrecisionError(f"signals.input must be a signed format of at most 16 bits (DESIGN.md §3), got {inp}")
        for name in ("head.sm_e",) + tuple(f"layers.{i}.Abar" for i in range(dims.n_layers)):
            if sig[name].max_value < 1.0:
                raise PrecisionError(f"signals.{name} must represent 1.0 exactly, got {sig[name]} "
                                     f"(max {sig[name].max_value})")
        for name in ("head.sm_recip",) + tuple(f"layers.{i}.ln_rsqrt" for i in range(dims.n_layers)):
            if sig[name].max_value < 1.0:
                raise PrecisionError(f"signals.{name} must represent 1.0 (table outputs lie in (0.5, 1])")
        if sig["head.sm_l"].max_value < self.max_window_length:
            raise PrecisionError(f"signals.head.sm_l ({sig['head.sm_l']}, max {sig['head.sm_l'].max_value}) cannot "
                                 f"hold max_window_length = {self.max_window_length}")
        for name in ("head.sm_e", "head.sm_l", "head.sm_recip") + tuple(
            f"layers.{i}.{s}" for i in range(dims.n_layers) for s in ("dt", "dA", "Abar", "ln_rsqrt")
        ):
            if sig[name].signed:
                raise PrecisionError(f"signals.{name} must be unsigned (ap_ufixed): its values are >= 0")
        # why: keys must name a known operand; wide operands need one
        widths = self.operand_widths()
        known = set(widths) | {f"luts.{f}" for f in LUT_FAMILIES}
        if not isinstance(self.why, dict):
            raise PrecisionError(f"why must be an object of operand -> reason, found {type(self.why).__name__}")
        for key, reason in self.why.items():
            if key not in known:
                raise PrecisionError(f"why: unknown operand {key!r} (not a multiplier operand of this config)")
            if not isinstance(reason, str) or not reason.strip():
                raise PrecisionError(f"why.{key} must be a non-empty string")
        for name, w in widths.items():
            if w > DSP_OPERAND_BITS and name not in self.why:
                raise PrecisionError(
                    f"multiplier operand {name} is {w} bits (> {DSP_OPERAND_BITS}): add why[{name!r}] saying why"
                )

    # -------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        out = {
            "schema": SCHEMA,
            "dims": self.dims.to_dict(),
            "max_window_length": self.max_window_length,
            "signals": {k: self.signals[k].to_dict() for k in self.signal_names()},
            "weights": {k: self.weights[k].to_dict() for k in self.weight_shapes()},
            "luts": {
                fam: {k: (v.to_dict() if isinstance(v, QFormat) else v) for k, v in self.luts[fam].items()}
                for fam in LUT_FAMILIES
            },
            "why": dict(self.why),
            "notes": list(self.notes),
        }
        if self.fold_layernorm:  # written only when set: unfolded configs keep their form
            out["fold_layernorm"] = True
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str = "memory") -> PrecisionConfig:
        """From the JSON form; every error is one line naming ``source`` (the file) and the key."""
        try:
            return cls._from_dict(data, source)
        except PrecisionError as exc:
            text = str(exc)
            raise PrecisionError(text if text.startswith(f"{source}: ") else f"{source}: {text}") from None

    @classmethod
    def _from_dict(cls, data: Any, source: str) -> PrecisionConfig:
        if not isinstance(data, dict):
            raise PrecisionError(f"{source}: a precision config is a JSON object")
        _exact_keys("top level", {k: v for k, v in data.items() if k not in OPTIONAL_KEYS}, list(TOP_KEYS))
        if data["schema"] != SCHEMA:
            raise PrecisionError(f"{source}: schema {data['schema']!r} is not {SCHEMA!r}")
        if not isinstance(data["dims"], dict):
            raise PrecisionError(f"{source}: 'dims' must be an object")
        try:
            # a boolean is an int to ModelDims: refuse it here (dims are counts)
            dims = ModelDims(**{k: check_int(v, f"dims.{k}", low=1, error=PrecisionError)
                                for k, v in data["dims"].items()})
        except PrecisionError:
            raise
        except (TypeError, ValueError) as exc:
            raise PrecisionError(f"{source}: dims: {exc}") from None
        if not isinstance(data["why"], dict) or not isinstance(data["notes"], list):
            raise PrecisionError(f"{source}: 'why' must be an object and 'notes' a list")
        if not all(isinstance(n, str) for n in data["notes"]):
            raise PrecisionError(f"{source}: 'notes' must be a list of strings")
        for section in ("signals", "weights", "luts"):
            if not isinstance(data[section], dict):
                raise PrecisionError(f"{source}: '{section}' must be an object")
        luts = {}
        for fam, params in data["luts"].items():
            if not isinstance(params, dict):
                raise PrecisionError(f"{source}: luts.{fam} must be an object")
            p = dict(params)
            if "table" in p:
                p["table"] = _qformat(f"luts.{fam}.table", p["table"], source)
            luts[fam] = p
        return cls(
            dims=dims,
            signals={k: _qformat(f"signals.{k}", v, source) for k, v in data["signals"].items()},
            weights={k: _qformat(f"weights.{k}", v, source) for k, v in data["weights"].items()},
            luts=luts,
            why=dict(data["why"]),
            notes=list(data["notes"]),
            max_window_length=data["max_window_length"],
            fold_layernorm=data.get("fold_layernorm", False),
            source=source,
        )

    def summary(self) -> str:
        """A human-readable table of every format, for reports."""
        lines = [f"precision config ({self.source}), dims {self.dims.to_dict()}"]
        for name in self.signal_names():
            lines.append(f"  {name:22s} {self.signals[name].ctype():42s} {signal_doc(name)}")
        for name, fmt in self.weights.items():
            lines.append(f"  {name:32s} {fmt.ctype()}")
        return "\n".join(lines)


def _exact_keys(where: str, got: dict, want: list[str]) -> None:
    unknown = [k for k in got if k not in want]
    if unknown:
        raise PrecisionError(f"{where}: unknown key {unknown[0]!r}" + (f" (and {len(unknown) - 1} more)"
                                                                        if len(unknown) > 1 else ""))
    missing = [k for k in want if k not in got]
    if missing:
        raise PrecisionError(f"{where}: missing key {missing[0]!r}" + (f" (and {len(missing) - 1} more)"
                                                                        if len(missing) > 1 else ""))


def _qformat(where: str, value: Any, source: str) -> QFormat:
    try:
        return QFormat.from_dict(value)
    except (TypeError, ValueError) as exc:
        raise PrecisionError(f"{source}: {where}: {exc}") from None


def _check_format(where: str, fmt: Any) -> None:
    if not isinstance(fmt, QFormat):
        raise PrecisionError(f"{where} must be a QFormat, found {type(fmt).__name__}")
    if abs(fmt.int_bits) > MAX_INT_BITS:
        raise PrecisionError(f"{where}: int_bits {fmt.int_bits} is outside -{MAX_INT_BITS}..{MAX_INT_BITS}")


# ------------------------------------------------------------------------------------------------ files
def precision_identity(cfg: PrecisionConfig) -> tuple[str, Path | bytes]:
    """(name, source) of a precision config for a provenance line: its file, else its canonical JSON."""
    src = Path(cfg.source) if cfg.source not in ("memory", "default") else None
    if src is not None and src.is_file():
        return src.name, src
    name = "default precision" if cfg.source == "default" else "precision config (in memory)"
    return name, json.dumps(cfg.to_dict(), sort_keys=True).encode()


def default_precision_path(checkpoint_path: str | os.PathLike) -> Path:
    """``<stem>.precision.json`` beside the checkpoint."""
    p = Path(checkpoint_path)
    return p.with_name(p.stem + ".precision.json")


def load_precision(path: str | os.PathLike) -> PrecisionConfig:
    path = Path(path)
    data = read_json(path, "precision config", PrecisionError)
    return PrecisionConfig.from_dict(data, source=str(path))


def save_precision(cfg: PrecisionConfig, path: str | os.PathLike) -> Path:
    """Write the config as JSON (atomically), one line per signal, weight, table and reason."""
    cfg.validate()
    with atomic_path(path) as tmp:
        tmp.write_text(_to_json(cfg.to_dict()))
    return Path(path)


def _to_json(data: dict[str, Any]) -> str:
    lines = ["{"]
    for n, (key, value) in enumerate(data.items()):
        end = "," if n < len(data) - 1 else ""
        if isinstance(value, dict) and key != "dims":
            lines.append(f" {json.dumps(key)}: {{")
            lines += [f"  {json.dumps(k)}: {json.dumps(v)}" + ("," if m < len(value) - 1 else "")
                      for m, (k, v) in enumerate(value.items())]
            lines.append(" }" + end)
        elif isinstance(value, list):
            lines.append(f" {json.dumps(key)}: [")
            lines += [f"  {json.dumps(v)}" + ("," if m < len(value) - 1 else "") for m, v in enumerate(value)]
            lines.append(" ]" + end)
        else:
            lines.append(f" {json.dumps(key)}: {json.dumps(value)}{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def precision_for(ckpt: Checkpoint, path: str | os.PathLike | None = None) -> PrecisionConfig:
    """An explicit path; else ``<stem>.precision.json`` beside the checkpoint if present; else the default
    (with a note saying so). The config's dims must match the checkpoint's."""
    if path is None:
        beside = default_precision_path(ckpt.path)
        if beside.is_file():
            path = beside
    if path is not None:
        cfg = load_precision(path)
    else:
        cfg = default_precision(ckpt)
        cfg.notes.append(f"default precision used: no {default_precision_path(ckpt.path).name} beside {ckpt.path}")
    if cfg.dims != ckpt.dims:
        raise PrecisionError(f"{cfg.source}: dims {cfg.dims.to_dict()} do not match the checkpoint's "
                             f"{ckpt.dims.to_dict()}")
    return cfg


# ------------------------------------------------------------------------------------------------ folding
def folded_tensors(dims: ModelDims, tensors: dict[str, np.ndarray], fold: bool = False) -> dict[str, np.ndarray]:
    """The float values the fixed-point datapath quantizes, per canonical name (see FOLDS; ``fold``: with the
    LayerNorm fold's tensors, FOLD_TENSORS)."""
    out = _layernorm_fold_tensors(dims, tensors) if fold else {}
    for name in weight_shapes(dims, fold):
        if name in out:
            continue
        t = np.asarray(tensors[name], dtype=np.float64)
        if name.endswith("norm.weight"):
            t = t * math.sqrt(dims.d_model)
        elif name.endswith("mixer.A_log"):
            t = np.exp(t) * LOG2E
        elif name in ("head.attn.weight", "head.attn.bias"):
            t = t * LOG2E
        elif name.endswith("conv1d.weight"):
            t = t[:, 0, :]
        out[name] = t
    return out


def _layernorm_fold_tensors(dims: ModelDims, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """FOLD_TENSORS from the embed, layer 0's LayerNorm and its in_proj (module docstring)."""
    f64 = lambda name: np.asarray(tensors[name], dtype=np.float64)  # noqa: E731
    p, d, n = f"layers.{FOLD_LAYER}.", dims.d_model, dims.n_in
    w_e, b_e = f64("embed.weight"), f64("embed.bias")
    big_p = w_e - w_e.mean(axis=0, keepdims=True)  # c = P x + p: the embed minus its mean over the rows
    small_p = b_e - b_e.mean()
    q = big_p.T @ big_p
    w_in = f64(p + "mixer.in_proj.weight")
    wg = w_in * (f64(p + "norm.weight") * math.sqrt(d))[None, :]
    return {
        p + "fold.Qv": np.array([q[k, m] * (1 if k == m else 2) for k in range(n) for m in range(k, n)]),
        p + "fold.q2": 2 * big_p.T @ small_p,
        p + "fold.c0": np.array([small_p @ small_p + d * LN_EPS]),
        p + "fold.G": wg @ big_p,
        p + "fold.g0": wg @ small_p,
        p + "fold.k0": w_in @ f64(p + "norm.bias"),
    }


FOLD_WHY = {"ln_xx": "the products x_k x_l of the 16-bit input, exact (2 DSP48E2 each against the 18-bit Qv; "
            "n_in (n_in + 1) / 2 of them per sample)"}


def fold_layernorm(cfg: PrecisionConfig, ckpt: Checkpoint | tuple[ModelDims, dict[str, np.ndarray]],
                   iq: np.ndarray | None = None, margin: float = 2.0) -> PrecisionConfig:
    """``cfg`` with the LayerNorm fold: layer 0's LayerNorm signals and tensors replaced by FOLD_SIGNALS and
    FOLD_TENSORS. ln_s and ln_p get 18 bits, their integer bits from the float model's ranges on ``iq`` (else the
    probe windows) times ``margin``; the fold's tensors 18 bits (c0 27: V's constant sets its floor), integer bits
    from their values."""
    if cfg.fold_layernorm:
        return cfg
    dims, tensors = ckpt if isinstance(ckpt, tuple) else (ckpt.dims, ckpt.tensors)
    length = None if isinstance(ckpt, tuple) else ckpt.meta.window_length
    ranges = float_signal_ranges(dims, tensors, iq if iq is not None else probe_windows(length or PROBE_LENGTH))
    p = f"layers.{FOLD_LAYER}."
    signals = {}
    for name in signal_names(dims, fold=True):
        if name in (p + "ln_s", p + "ln_p"):
            signals[name] = QFormat(DEFAULT_WIDTH, int_bits_for(ranges[name], margin=margin),
                                    rounding=DEFAULT_SIGNAL_ROUNDING)
        else:
            signals[name] = cfg.signals[name]
    values = _layernorm_fold_tensors(dims, tensors)
    weights = {name: cfg.weights[name] if name in cfg.weights else
               weight_format(values[name], 27 if name == p + "fold.c0" else DEFAULT_WIDTH)
               for name in weight_shapes(dims, fold=True)}
    why = {k: v for k, v in cfg.why.items() if k not in (p + "ln_c", p + "ln_cn")}
    why[p + "ln_xx"] = FOLD_WHY["ln_xx"]
    notes = list(cfg.notes) + [f"LayerNorm of layer {FOLD_LAYER} folded into its in_proj (fold_layernorm)"]
    return PrecisionConfig(dims, signals, weights, cfg.luts, why=why, notes=notes,
                           max_window_length=cfg.max_window_length, fold_layernorm=True, source="memory")


# ------------------------------------------------------------------------------------------------ defaults
# Widths of the default config. 18 bits wherever a DSP48E2 operand allows it; wider where accuracy needs it,
# each with its reason (DEFAULT_WHY). Integer bits come from ranges (see default_precision).
DEFAULT_WIDTH = 18
DEFAULT_WIDTHS = {
    "input": 16,
    "dt": 24,
    "dA": 24,
    "Abar": 18,
    "dtx": 24,
    "h": 24,
    "ln_rsqrt": 17,
    "head.sm_e": 17,
    "head.sm_recip": 17,
    "head.sm_l": 26,
    "head.sm_acc": 30,
    "head.pooled": 22,
    "head.mlp0": 22,
    "head.gelu0": 22,
    "head.mlp2": 22,
    "head.gelu2": 22,
}
# Rounding: AP_RND (round half up: add half an LSB, truncate -- the cheapest rounding in hardware) for every
# signal. Each quantization of the default datapath drops >= 9 bits (most >= 14), so ties are rare and the
# half-up bias is negligible (measured: same max error as AP_RND_CONV, ~10 % faster here). dA only indexes a
# table: AP_TRN (truncating its low bits costs nothing and biases Abar by < 2**-22 relative).
DEFAULT_SIGNAL_ROUNDING = "AP_RND"
DEFAULT_ROUNDING = {"dA": "AP_TRN"}
DEFAULT_WHY = {
    "dt": "dt ~ 1e-3..1e-1 scales every state increment and needs ~1e-5 relative precision; 24 (+1 sign) bits "
    "sit on the 27-bit DSP48E2 port against the 18-bit A2 and xa",
    "Abar": "Abar in (0, 1] with 17 fraction bits; the multiplier sees 1 - Abar in [0, 1), 18 signed bits: "
    "Abar h = (h << 17) - (1 - Abar) h, one DSP48E2 with h on the 27-bit port",
    "dtx": "dt * xa spans ~1e-5..0.1 and drives h every step: the fraction bits of h plus one (up to 24 bits), "
    "on the 27-bit port against the 18-bit B",
    "h": "the SSM state integrates dt B xa over the window and needs ~22 fraction bits (mkid_physics.md §10); "
    "24 bits on the 27-bit port against the 18-bit (1 - Abar) and C",
    "head.sm_l": "softmax normaliser in [1, L_max]: log2(L_max) integer + 16 fraction bits, on the 27-bit port "
    "against sm_e (17 bits)",
    "head.sm_acc": "softmax accumulator |acc| <= L_max max|f|: the integer bits of f + log2(L_max), and 3 more "
    "fraction bits than f (the rounding of every step accumulates; 27 bits cost 1e-4 in mu); 2 DSPs per "
    "channel for acc x sm_e (d_model channels, once per sample), acc x sm_recip once per window",
    "head.pooled": "the head MLP of a trained model has gains ~10-15 per layer: 18-bit activations there cost "
    "~0.2 meV; 22 bits on the 27-bit DSP port against the 18-bit weights cost no extra DSP",
    "head.gelu0": "as head.pooled: 22 bits on the 27-bit port against the 18-bit W2",
    "head.gelu2": "as head.pooled: 22 bits on the 27-bit port against the 18-bit W3",
    "ln_c": "c_i = d u_i - sum u is exact (log2(d) + 1 bits above u); sum c^2 takes ~2 DSPs per channel, or compute "
    "the identical V = d (d sum u^2 - (sum u)^2): 18x18 squares plus one wide square per sample",
    "luts.softplus": "dt needs ~24 fraction bits, so the table does too: (T[i+1]-T[i]) up to ~22 bits times the "
    "<= 18-bit interpolation weight r fits one 27x18 DSP",
    "luts.exp2": "the slope (T[i+1]-T[i]) times the interpolation weight r fits one 27x18 DSP",
    "ln_cn": "c normalised by the even leading-one shift of V, exact (27-bit port against the 17-bit rsqrt)",
}
# Table grids. The default sizes each table for its finest output (default_luts): entries with 3 more fraction
# bits than that output, and a step whose interpolation error is at most a quarter of its LSB (at most 4096
# intervals; never finer than the input LSB). softplus is the exception: its output dt has many fraction bits
# for relative precision at small dt, where the table's error is relative too (step**2 / 8 ~ 3e-5 at 2**-6).
LUT_RANGES = {"silu": (0.0, 16.0), "gelu": (0.0, 8.0), "softplus": (0.0, 24.0), "exp2": (0.0, 1.0),
              "rsqrt": (1.0, 4.0), "recip": (1.0, 2.0)}
LUT_TABLE_INT_BITS = {"silu": -1, "gelu": -2, "softplus": 0, "exp2": 1, "rsqrt": 1, "recip": 1}  # max|g| .28 .17 .69 1
LUT_USES = {  # family -> (input signals, output signals), per-layer names without the "layers.{i}." prefix
    "silu": (("xc", "z"), ("xa", "zs")),
    "gelu": (("head.mlp0", "head.mlp2"), ("head.gelu0", "head.gelu2")),
    "softplus": (("dt_raw",), ("dt",)),
    "exp2": (("dA", "head.score"), ("Abar", "head.sm_e")),
    "rsqrt": ((), ("ln_rsqrt",)),
    "recip": ((), ("head.sm_recip",)),
}
SOFTPLUS_STEP_LOG2 = 6
MAX_LUT_INTERVALS = 4096


def default_luts(dims: ModelDims, signals: dict[str, QFormat]) -> dict[str, dict[str, Any]]:
    """Table parameters sized for the signals that use them (see LUT_RANGES above)."""
    def fmts(names):
        out = []
        for n in names:
            if n.startswith("head."):
                out.append(signals[n])
            else:
                out += [signals[f"layers.{i}.{n}"] for i in range(dims.n_layers)]
        return out

    luts: dict[str, dict[str, Any]] = {}
    for fam, (ins, outs) in LUT_USES.items():
        lo, hi = LUT_RANGES[fam]
        f_out = max(f.frac_bits for f in fmts(outs))
        f_tab = f_out + 3
        params: dict[str, Any] = {"lo": lo, "hi": hi}
        k_max = min([f.frac_bits for f in fmts(ins)], default=f_out + 1)
        if fam in ("rsqrt", "recip"):
            params["mant_frac"] = f_out + 1
            k_max = params["mant_frac"]
        k_max = min(k_max, int(math.log2(MAX_LUT_INTERVALS / (hi - lo))))
        if fam == "softplus":
            k = min(SOFTPLUS_STEP_LOG2, k_max)
        else:
            g2 = second_derivative_max(fam, lo, hi)
            k = 0
            while k < k_max and 2.0 ** (-2 * k) / 8 * g2 > 2.0 ** -(f_out + 2):
                k += 1
        params["step_log2"] = k
        params["table"] = QFormat(f_tab + LUT_TABLE_INT_BITS[fam], LUT_TABLE_INT_BITS[fam], signed=False)
        luts[fam] = params
    return luts


def int_bits_for(max_abs: float, signed: bool = True, margin: float = 2.0) -> int:
    """Smallest I such that ``margin * max_abs`` fits: 2**(I-1) > m (signed) or 2**I > m (unsigned)."""
    m = max(float(max_abs) * margin, 2.0**-40)
    i = math.floor(math.log2(m)) + 1
    return i + 1 if signed else i


def weight_format(values: np.ndarray, width: int = DEFAULT_WIDTH) -> QFormat:
    """The 18-bit format with the most fraction bits that holds every value without saturating."""
    m = float(np.max(np.abs(values))) if np.size(values) else 0.0
    ib = int_bits_for(m, signed=True, margin=1.0)
    fmt = QFormat(width, ib)
    # rounding up to the next code may still overflow at exactly max_code + 1/2: widen once if so
    if m > 0 and (fmt.from_float(np.array([m, -m])) != np.array([round(m / fmt.lsb), -round(m / fmt.lsb)])).any():
        fmt = QFormat(width, ib + 1)
    return fmt


# Probe-window length when a checkpoint does not say its window length (any length works: the model is recurrent).
PROBE_LENGTH = 128


def probe_windows(length: int = PROBE_LENGTH, n: int = 192, amplitude: float = 10.0, seed: int = 0) -> np.ndarray:
    """Deterministic synthetic windows for default ranges: decaying complex pulses of random amplitude (up to
    ``amplitude``), phase, position and time constant, on noise of random level and offset, and pure noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)[None, :]
    amp = rng.uniform(0.0, amplitude, (n, 1))
    phase = rng.uniform(0, 2 * np.pi, (n, 1))
    tau = np.exp(rng.uniform(np.log(2.0), np.log(80.0), (n, 1)))
    t0 = rng.integers(0, max(length // 3, 1), (n, 1))
    env = np.where(t >= t0, np.exp(-(t - t0) / tau), 0.0) * amp
    noise = rng.uniform(0.02, 0.5, (n, 1, 1)) * rng.standard_normal((n, length, 2))
    offset = rng.uniform(-1.0, 1.0, (n, 1, 2))
    x = np.stack([env * np.cos(phase), env * np.sin(phase)], axis=-1) + noise + offset
    x[: n // 8] = rng.standard_normal((n // 8, length, 2))  # some pure unit noise
    return x


def float_signal_ranges(dims: ModelDims, tensors: dict[str, np.ndarray], iq: np.ndarray) -> dict[str, float]:
    """max |value| of every datapath signal on windows ``iq``, from the float model's recurrent mode (float64), which
    reports each intermediate under its fixed-point signal name. The normalised-mantissa table outputs (ln_rsqrt,
    sm_recip) have no float counterpart and are left out."""
    import torch

    from venom_fpga.model.float_model import VenomModel

    rng: dict[str, float] = {}

    def probe(name: str, v: torch.Tensor) -> None:
        rng[name] = max(rng.get(name, 0.0), float(v.abs().max()) if v.numel() else 0.0)

    model = VenomModel.from_tensors(dims, tensors)
    with torch.no_grad():
        model.forward_recurrent(torch.as_tensor(np.asarray(iq, dtype=np.float64)), probe)
    return rng


def default_precision(
    ckpt: Checkpoint | tuple[ModelDims, dict[str, np.ndarray]],
    iq: np.ndarray | None = None,
    margin: float = 2.0,
    max_window_length: int | None = None,
) -> PrecisionConfig:
    """A working config before profiling.

    Weights: 18 bits, integer bits from each (folded) tensor's max |value| (no saturation, nothing wasted).
    Signals: the widths of DEFAULT_WIDTHS (18 elsewhere), rounding AP_RND (dA: AP_TRN), overflow AP_SAT; integer
    bits from the float model's max |value| on ``iq`` (or, without data, on :func:`probe_windows`, |x| up to ~10)
    times ``margin``. Exceptions: the input is ap_fixed<16,5> ([-16, 16)) unless ``iq`` is given; xn and the
    (0, 1] signals (table outputs, Abar, sm_e) get their exact ranges; dtx gets one fraction bit more than h;
    sm_l holds ``max_window_length`` (default: >= 511 and >= 4x the checkpoint's window length, as 2**k - 1),
    sm_acc the features' integer bits plus as many. Tables: :func:`default_luts`. Reasons (``why``) for the wide
    operands: DEFAULT_WHY.
    """
    # headroom beyond 2**16 x the observed range is no sizing: it only pushes formats off the value grid
    margin = check_number(margin, "margin", low=1.0, high=1 << 16, error=PrecisionError)
    if isinstance(ckpt, tuple):
        dims, tensors = ckpt
        length = None
    else:
        dims, tensors, length = ckpt.dims, ckpt.tensors, ckpt.meta.window_length
    if max_window_length is None:  # at least 511, and 4x the checkpoint's window length, as 2**k - 1
        max_window_length = max(511, (1 << (4 * (length or 0)).bit_length()) - 1)
    folded = folded_tensors(dims, tensors)
    weights = {name: weight_format(v) for name, v in folded.items()}
    probe = iq if iq is not None else probe_windows(length or PROBE_LENGTH)
    ranges = float_signal_ranges(dims, tensors, probe)
    signals: dict[str, QFormat] = {}
    for name in signal_names(dims):
        base = name.split(".", 2)[-1] if name.startswith("layers.") else name
        width = DEFAULT_WIDTHS.get(base, DEFAULT_WIDTH)
        if base == "input":
            ib = 5 if iq is None else max(int_bits_for(ranges["input"], margin=1.25), 2)
            signals[name] = QFormat(width, ib)
        elif base in ("ln_rsqrt", "Abar", "head.sm_e", "head.sm_recip"):
            signals[name] = QFormat(width, 1, signed=False)  # (0, 1]
        elif base == "ln_xn":
            signals[name] = QFormat(width, 1)  # (-1, 1)
        elif base in ("dt", "dA"):
            ib = int_bits_for(ranges[name], signed=False, margin=margin)
            signals[name] = QFormat(width, ib, signed=False)
        elif base == "head.sm_l":
            signals[name] = QFormat(width, max(max_window_length, 1).bit_length(), signed=False)
        elif base == "head.sm_acc":
            f_out = signals[f"layers.{dims.n_layers - 1}.out"]
            ib = f_out.int_bits + max(max_window_length, 1).bit_length()
            signals[name] = QFormat(width, ib)
        elif base == "dtx":
            continue  # after h, below
        else:
            signals[name] = QFormat(width, int_bits_for(ranges[name], margin=margin))
    for i in range(dims.n_layers):
        # dtx only feeds h = Abar h + dtx B: one guard bit below h's LSB is all it needs (|B| ~ 1); this also
        # puts both products on one fraction, so the exact sum needs no shift of the big Abar h array
        name = f"layers.{i}.dtx"
        ib = int_bits_for(ranges[name], margin=margin)
        signals[name] = QFormat(min(DEFAULT_WIDTHS["dtx"], ib + signals[f"layers.{i}.h"].frac_bits + 1), ib)
    signals = {
        name: dataclasses.replace(fmt, rounding=DEFAULT_ROUNDING.get(name.split(".", 2)[-1], DEFAULT_SIGNAL_ROUNDING))
        for name, fmt in ((n, signals[n]) for n in signal_names(dims))
    }
    why = {k: v for k, v in DEFAULT_WHY.items() if k not in ("ln_c", "ln_cn")}
    cfg_luts = default_luts(dims, signals)
    # the derived LayerNorm operands' widths depend on the residual formats: give them their reason
    for i in range(dims.n_layers):
        why[f"layers.{i}.ln_c"] = DEFAULT_WHY["ln_c"]
        why[f"layers.{i}.ln_cn"] = DEFAULT_WHY["ln_cn"]
    expanded_why = {}
    for key, reason in why.items():
        if key in ("dt", "Abar", "dtx", "h"):
            for i in range(dims.n_layers):
                expanded_why[f"layers.{i}.{key}"] = reason
        else:
            expanded_why[key] = reason
    notes = [
        "generated by precision.default_precision: integer bits from "
        + ("the given windows" if iq is not None else "synthetic probe windows (|x| <= ~10)")
        + f" with margin x{margin}; re-derive from profiled data (FixedModel(record=True)) for a tight config",
    ]
    # every candidate reason names a known operand, so this validates; then keep only the wide operands' reasons
    cfg = PrecisionConfig(dims, signals, weights, cfg_luts, why=expanded_why, notes=notes,
                          max_window_length=max_window_length, source="default" if iq is None else "memory")
    return with_needed_reasons(cfg)


def with_needed_reasons(cfg: PrecisionConfig) -> PrecisionConfig:
    """``cfg`` with only the reasons (``why``) its wide multiplier operands need: a reason for an operand that no
    longer is wider than DSP_OPERAND_BITS would explain a width the config does not have."""
    widths = cfg.operand_widths()
    # the interpolation multiply of each table: (T[i+1] - T[i]) x r
    for lut in build_luts(cfg.dims.n_layers, cfg.signals, cfg.luts).values():
        widths[f"luts.{lut.family}"] = max(widths.get(f"luts.{lut.family}", 0), lut.delta_bits(), lut.shift + 1)
    return dataclasses.replace(cfg, why={k: v for k, v in cfg.why.items() if widths.get(k, 0) > DSP_OPERAND_BITS})
