# SPDX-License-Identifier: BSD-3-Clause
"""The op plan: the model's integer arithmetic, described once.

:func:`build_plan` derives it from a checkpoint's (dims, tensors) and a precision config. It lists every op of
DESIGN.md §1 in execution order, each with its operands, its output signal(s) and their formats, the fraction bits
and exact width of its accumulator, the alignment shift of every term and the table it uses. Every implementation
follows it and computes none of it again:

- the fixed-point golden model (:mod:`venom_fpga.fixed.model`) executes it in numpy;
- the HLS exporter (:mod:`venom_fpga.hls.export`) renders its accumulator types and table configs;
- the RTL compiler (:mod:`venom_fpga.rtl.isa`) compiles it into instructions.

The rule (DESIGN.md §2): an op forms ``sum_i (a_i * b_i) << shift_i`` exactly, on the common fraction
``frac = max_i frac(a_i) + frac(b_i)`` (``shift_i`` = the difference), then quantizes once into each output
signal's format. Accumulator bounds come from the formats alone (``count * max|a| * max|b|`` per term), so any
weights of the configured formats fit, and every bound is checked to stay below 2**62 (the golden model computes
in int64).

Kinds of op: :class:`Sum` (the rule above), :class:`Table` (an integer table of :mod:`venom_fpga.fixed.lut`), and
ops with a normalisation step of their own: :class:`LayerNormPlan` (LayerNorm without division), or with the
precision config's LayerNorm fold :class:`LayerNormFoldPlan` (layer 0's LayerNorm and in_proj from the input x), and
the head's streaming softmax pooling (:class:`HeadPlan`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from venom_fpga.errors import VenomError
from venom_fpga.fixed import lut as lutmod
from venom_fpga.fixed.precision import DSP_OPERAND_BITS, PrecisionConfig, folded_tensors
from venom_fpga.fixed.qformat import QFormat, SaturationCounter
from venom_fpga.model.dims import ModelDims

I64_LIMIT = 62  # every exact intermediate must stay below 2**62 in magnitude (the golden model runs in int64)
ONE = "1"  # the operand of a term that is a single code (a bias, the residual, a constant)


class PlanError(VenomError):
    """A precision config whose exact arithmetic does not fit, explained in one line."""


def mag(fmt: QFormat) -> int:
    """Largest code magnitude of a format."""
    return max(abs(fmt.min_code), abs(fmt.max_code))


def check_bits(value: int, what: str) -> None:
    if value >= 1 << I64_LIMIT:
        raise PlanError(f"{what} may reach {int(value).bit_length()} bits (> {I64_LIMIT}); narrow the formats involved")


@dataclass(frozen=True)
class Term:
    """``count`` products ``a * b`` (or ``count`` codes ``a`` when ``b`` is ONE) summed, shifted left by ``shift``."""

    a: str  # a signal, a weight tensor or a state (names of the precision config)
    b: str  # the second factor, or ONE
    frac: int  # fraction bits of one product
    shift: int  # left shift onto the accumulator's fraction bits
    bound: int  # max |sum of the term's products|, in units of 2**-frac
    count: int = 1  # products per output (the inner dimension of a matrix-vector product)


@dataclass(frozen=True)
class Sum:
    """``outputs[j] = quantize(sum_i terms[i])``: an exact sum of products, rounded once per output signal."""

    name: str
    outputs: tuple[str, ...]
    terms: tuple[Term, ...]
    frac: int  # fraction bits of the accumulator
    bound: int  # max |accumulator|, in units of 2**-frac
    size: int  # output elements per evaluation (all outputs together)

    @property
    def products(self) -> int:
        """Multiplications per evaluation (terms of a single code add without one)."""
        return self.size * sum(t.count for t in self.terms if t.b != ONE)

    @property
    def acc_bits(self) -> int:
        """Signed width that holds the accumulator exactly."""
        return max(self.bound.bit_length() + 1, 2)

    def describe(self) -> str:
        terms = " + ".join((f"{t.count}x " if t.count > 1 else "") + (t.a if t.b == ONE else f"{t.a}*{t.b}")
                           + (f" <<{t.shift}" if t.shift else "") for t in self.terms)
        return f"{','.join(self.outputs)} = {terms}   [acc {self.acc_bits} b, frac {self.frac}]"


@dataclass(frozen=True)
class Table:
    """``output = lut(input)``: one use of an integer table (the table may be shared by several uses)."""

    name: str  # the use, e.g. layers.0.silu_xc
    input: str
    output: str
    lut: lutmod.Lut
    size: int  # evaluations per step (each one interpolation multiply)

    def describe(self) -> str:
        return f"{self.output} = {self.lut.family}({self.input})   [table {self.lut.kind}, {len(self.lut.codes)} entries]"


def _product(a: str, fa: QFormat, b: str, fb: QFormat, count: int = 1) -> tuple[str, str, int, int, int]:
    return a, b, fa.frac_bits + fb.frac_bits, count * mag(fa) * mag(fb), count


def _code(a: str, fa: QFormat, count: int = 1) -> tuple[str, str, int, int, int]:
    return a, ONE, fa.frac_bits, count * mag(fa), count


def make_sum(name: str, outputs: tuple[str, ...], terms: list[tuple[str, str, int, int, int]], size: int,
             even: bool = False) -> Sum:
    """Align the terms on their largest fraction (``even``: the next even one), bound the sum and check that it fits;
    ``size`` output elements."""
    frac = max(t[2] for t in terms)
    frac += frac & 1 if even else 0
    ts = tuple(Term(a, b, fr, frac - fr, bound, count) for a, b, fr, bound, count in terms)
    total = sum(t.bound << t.shift for t in ts)
    check_bits(total, name)
    return Sum(name, tuple(outputs), ts, frac, total, size)


@dataclass(frozen=True)
class LayerNormPlan:
    """LayerNorm without division (all exact integers until two roundings), on U = the residual's codes:

    c_j = d U_j - sum U;  V = sum c^2 + eps_code;  V = m 2**e (e even, m in [1, 4): ``rsqrt`` of m);
    CN_j = c_j << (shift - e/2) (exact);  ln_xn = CN rsqrt (``xn``);  ln_out = gamma' ln_xn + beta (``affine``)."""

    name: str
    input: str  # the residual signal
    d: int
    eps_code: int  # round(eps d^3 2**(2 F_u)): eps in V's units
    sum_bits: int  # signed width of sum U and d U_j
    c_max: int  # |c| <= c_max
    c_bits: int
    v_max: int
    shift: int  # S = e_max / 2
    cn_bits: int
    mant_frac: int  # fraction bits of the normalised mantissa m
    rsqrt: Table
    xn: Sum  # CN * rsqrt (CN's variable exponent e/2 is a right shift of the rounding)
    affine: Sum

    @property
    def products(self) -> int:
        """Multiplications per step: V = sum c^2, CN rsqrt and the affine (d U is a constant multiple, no product)."""
        return self.d + self.xn.products + self.affine.products

    def describe(self) -> str:
        return (f"{self.xn.outputs[0]} = LayerNorm({self.input}) without division   [c {self.c_bits} b, "
                f"V {self.v_max.bit_length()} b, rsqrt on a {self.mant_frac}-bit mantissa]")


@dataclass(frozen=True)
class LayerNormFoldPlan:
    """LayerNorm + in_proj of layer 0 from the input x (the precision config's fold; all exact until two roundings):

    xx = x_k x_l (k <= l);  V = Qv . xx + q2 . x + c0 (= |c|^2 + d eps, exact, >= v_min >= 1, even fraction F_V);
    V = m 2**e (e even, m in [1, 4): ``rsqrt``);  ln_s = q(G x + g0);
    ln_p = q(ln_s rsqrt 2**-(frac + n)), n = clip(e/2, h_lo, h_lo + n_max) - h_lo (a variable right shift, one
    rounding; h_lo keeps the shift >= 0 and is never below the least e/2 V can have);  [xi, z] = q(ln_p + k0)."""

    name: str
    input: str  # the input signal x
    xx: Sum  # the products x_k x_l, k <= l (exact words)
    v: Sum  # V (exact, never rounded)
    v_min: int  # V >= v_min >= 1 for every input (the least value of the quadratic, checked)
    e_max: int
    mant_frac: int
    rsqrt: Table
    s: Sum  # ln_s = G x + g0
    p: Sum  # ln_s rsqrt (before the variable shift)
    h_lo: int
    n_max: int
    frac: int  # ln_p = ln_s rsqrt 2**-(frac + n)
    # c0 as a q2 x term (the engine has two segments per instruction): c0 << s_c = (c0 << max(c0_shift, 0))
    # (1 << (F_x + min(c0_shift, 0))) << s_x, the second factor a constant word beside x
    c0_shift: int

    @property
    def products(self) -> int:
        return self.xx.products + self.v.products + self.s.products + self.p.products

    def describe(self) -> str:
        return (f"{self.p.outputs[0]} = folded LayerNorm + in_proj of {self.input}   [V {self.v.acc_bits} b, rsqrt "
                f"on a {self.mant_frac}-bit mantissa, shift {self.frac} + [0, {self.n_max}]]")


@dataclass(frozen=True)
class LayerPlan:
    """One pre-norm residual Mamba block, ops in execution order."""

    index: int
    prefix: str  # layers.{i}.
    residual: str  # the input signal u
    norm: LayerNormPlan | LayerNormFoldPlan
    in_proj: Sum  # [xi, z] = W_in ln_out (folded: ln_p + k0)
    conv: Sum  # xc = b_c + sum_k w_c[:, k] xi_{t-(d_conv-1)+k}  (history: the last d_conv - 1 xi codes)
    silu_xc: Table
    x_proj: Sum  # [xr, B, C] = W_x xa
    dt_proj: Sum  # dt_raw = W_dt xr + b_dt
    softplus: Table
    dA: Sum  # dt (x) A2, A2 = exp(A_log) log2(e)
    exp2_decay: Table  # Abar = 2**-dA
    dtx: Sum  # dt xa
    h: Sum  # Abar h + dtx (x) B
    y: Sum  # sum_n C h + D xa
    silu_z: Table
    gate: Sum  # y SiLU(z)
    out: Sum  # u + W_out gate

    def ops(self) -> Iterator[Any]:
        yield from (self.norm, self.in_proj, self.conv, self.silu_xc, self.x_proj, self.dt_proj, self.softplus,
                    self.dA, self.exp2_decay, self.dtx, self.h, self.y, self.silu_z, self.gate, self.out)


@dataclass(frozen=True)
class HeadPlan:
    """Streaming attention pooling (powers of two, O(1) state per window) and the MLP.

    Per sample: score = W_a' f + b_a'; sm_e = 2**-|score - m|; (a, b) = (sm_e, one) if score > m else (one, sm_e);
    sm_l = l a + b; sm_acc = acc a + b f; m = max(m, score). Finish: l = m_l 2**p (m_l in [1, 2): ``recip``);
    pooled = acc recip 2**-(p - F_l) (a variable right shift, one rounding); then the MLP."""

    feature: str  # the backbone feature f (the last layer's out)
    score: Sum
    diff: QFormat  # |score - m|
    exp2_softmax: Table
    one: int  # the code of 1.0 in sm_e's fraction bits
    sm_l: Sum
    sm_acc: Sum
    m_init: int  # initial running max: the score format's minimum code (l = 1, acc = f after the first sample)
    recip: Table
    mant_frac: int
    p_max: int  # p - F_l in [0, p_max]
    pooled_frac: int  # fraction bits of acc * recip (before the variable shift)
    pooled_bound: int
    mlp0: Sum
    gelu0: Table
    mlp2: Sum
    gelu2: Table
    mlp4: Sum  # [mu, log_var]

    def step_ops(self) -> Iterator[Any]:
        yield from (self.score, self.exp2_softmax, self.sm_l, self.sm_acc)

    def finish_ops(self) -> Iterator[Any]:
        yield from (self.recip, self.mlp0, self.gelu0, self.mlp2, self.gelu2, self.mlp4)


@dataclass(frozen=True)
class OpPlan:
    """The whole datapath: ``embed``, ``layers``, ``head``; the folded, quantized weights it multiplies by."""

    dims: ModelDims
    precision: PrecisionConfig
    weights: dict[str, np.ndarray]  # canonical name -> int64 codes of the folded tensor (precision.weights[name])
    weight_saturation: SaturationCounter
    luts: dict[str, lutmod.Lut]  # table use -> table
    embed: Sum
    layers: tuple[LayerPlan, ...]
    head: HeadPlan

    def fmt(self, name: str) -> QFormat:
        """The format of a signal or a weight tensor."""
        return self.precision.signals[name] if name in self.precision.signals else self.precision.weights[name]

    def step_ops(self) -> Iterator[Any]:
        """The ops of one sample, in execution order."""
        yield self.embed
        for layer in self.layers:
            yield from layer.ops()
        yield from self.head.step_ops()

    def step_products(self) -> int:
        """Multiplications per sample (every step op; table interpolations not counted)."""
        return sum(op.products for op in self.step_ops() if not isinstance(op, Table))

    def finish_products(self) -> int:
        """Multiplications per window at its end: the pooling product acc * recip and the MLP."""
        return self.dims.d_model + sum(op.products for op in self.head.finish_ops() if isinstance(op, Sum))

    def describe(self) -> str:
        lines = ["per sample:"] + [f"  {op.describe()}" for op in self.step_ops()]
        lines += ["at the end of the window:"] + [f"  {op.describe()}" for op in self.head.finish_ops()]
        return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ derivation
def build_plan(dims: ModelDims, tensors: dict[str, np.ndarray], precision: PrecisionConfig) -> OpPlan:
    """The op plan of a model under a precision config (raises PlanError when an exact sum cannot fit)."""
    if precision.dims != dims:
        where = "" if precision.source in ("memory", "default") else f"{precision.source}: "
        raise PlanError(f"{where}precision config dims {precision.dims.to_dict()} differ from the model's "
                        f"{dims.to_dict()}")
    sig, wf = precision.signals, precision.weights
    luts = lutmod.build_luts(dims.n_layers, sig, precision.luts)
    _check_table_operands(luts, precision)
    saturation = SaturationCounter()
    weights = {name: wf[name].from_float(v, counter=saturation, name=name)
               for name, v in folded_tensors(dims, tensors, precision.fold_layernorm).items()}

    def affine(name, outputs, x, weight, bias=None, count=None, extra=()):
        w = wf[weight]
        n_in = count if count is not None else weights[weight].shape[-1]
        terms = [_product(weight, w, x, sig[x], n_in)]
        if bias is not None:
            terms.append(_code(bias, wf[bias]))
        return make_sum(name, outputs, terms + list(extra), size=weights[weight].shape[0])

    def table(use, x, y, size):
        return Table(use, x, y, luts[use], size)

    embed = affine("embed", ("embed",), "input", "embed.weight", "embed.bias")
    layers = []
    for i in range(dims.n_layers):
        p, m = f"layers.{i}.", f"layers.{i}.mixer."
        u = "embed" if i == 0 else f"layers.{i - 1}.out"
        if precision.folded(i):
            norm = _layernorm_fold_plan(dims, precision, weights, table, affine, p)
            in_proj = make_sum(p + "in_proj", (p + "xi", p + "z"), [_code(p + "ln_p", sig[p + "ln_p"]),
                                                                     _code(p + "fold.k0", wf[p + "fold.k0"])],
                               size=2 * dims.d_inner)
            layers.append(_layer_plan(dims, sig, wf, weights, affine, table, i, u, norm, in_proj))
            continue
        lb = precision.ln_bounds(i)
        f_r = sig[p + "ln_rsqrt"]
        xn = make_sum(p + "ln_xn", (p + "ln_xn",), [(p + "ln_cn", p + "ln_rsqrt", lb["shift"] + f_r.frac_bits,
                                                     (1 << (lb["shift"] + 1)) * mag(f_r), 1)], size=dims.d_model)
        norm = LayerNormPlan(
            p + "norm", u, dims.d_model, precision.ln_eps_code(i), (dims.d_model * mag(sig[u])).bit_length() + 1,
            lb["c_max"], lb["c_bits"], lb["v_max"],
            lb["shift"], lb["cn_bits"], precision.luts["rsqrt"]["mant_frac"], table(p + "rsqrt", p + "ln_v", p + "ln_rsqrt", 1),
            xn,
            make_sum(p + "ln_out", (p + "ln_out",), [_product(p + "norm.weight", wf[p + "norm.weight"], p + "ln_xn",
                                                              sig[p + "ln_xn"]), _code(p + "norm.bias", wf[p + "norm.bias"])], size=dims.d_model),
        )
        check_bits(lb["v_max"], p + "LayerNorm V")
        in_proj = affine(p + "in_proj", (p + "xi", p + "z"), p + "ln_out", m + "in_proj.weight")
        layers.append(_layer_plan(dims, sig, wf, weights, affine, table, i, u, norm, in_proj))
    head = _head_plan(dims, sig, wf, weights, luts, affine, table)
    return OpPlan(dims, precision, weights, saturation, luts, embed, tuple(layers), head)


def _layer_plan(dims, sig, wf, weights, affine, table, i, u, norm, in_proj) -> LayerPlan:
    """The block's ops after its LayerNorm and in_proj."""
    p, m = f"layers.{i}.", f"layers.{i}.mixer."
    return LayerPlan(
        i, p, u, norm, in_proj,
        conv=affine(p + "conv", (p + "xc",), p + "xi", m + "conv1d.weight", m + "conv1d.bias"),
        silu_xc=table(p + "silu_xc", p + "xc", p + "xa", dims.d_inner),
        x_proj=affine(p + "x_proj", (p + "xr", p + "B", p + "C"), p + "xa", m + "x_proj.weight"),
        dt_proj=affine(p + "dt_proj", (p + "dt_raw",), p + "xr", m + "dt_proj.weight", m + "dt_proj.bias"),
        softplus=table(p + "softplus", p + "dt_raw", p + "dt", dims.d_inner),
        dA=make_sum(p + "dA", (p + "dA",), [_product(m + "A_log", wf[m + "A_log"], p + "dt", sig[p + "dt"])],
                    size=dims.d_inner * dims.d_state),
        exp2_decay=table(p + "exp2_decay", p + "dA", p + "Abar", dims.d_inner * dims.d_state),
        dtx=make_sum(p + "dtx", (p + "dtx",), [_product(p + "dt", sig[p + "dt"], p + "xa", sig[p + "xa"])],
                     size=dims.d_inner),
        h=make_sum(p + "h", (p + "h",), [_product(p + "h", sig[p + "h"], p + "Abar", sig[p + "Abar"]),
                                        _product(p + "dtx", sig[p + "dtx"], p + "B", sig[p + "B"])],
                   size=dims.d_inner * dims.d_state),
        y=make_sum(p + "y", (p + "y",), [_product(p + "h", sig[p + "h"], p + "C", sig[p + "C"], dims.d_state),
                                        _product(m + "D", wf[m + "D"], p + "xa", sig[p + "xa"])], size=dims.d_inner),
        silu_z=table(p + "silu_z", p + "z", p + "zs", dims.d_inner),
        gate=make_sum(p + "gate", (p + "gate",), [_product(p + "y", sig[p + "y"], p + "zs", sig[p + "zs"])],
                      size=dims.d_inner),
        out=affine(p + "out", (p + "out",), p + "gate", m + "out_proj.weight", extra=[_code(u, sig[u])]),
    )


def _layernorm_fold_plan(dims, precision, weights, table, affine, p) -> LayerNormFoldPlan:
    """The folded LayerNorm + in_proj of one layer (LayerNormFoldPlan), with its exact bounds checked."""
    sig, wf = precision.signals, precision.weights
    fx = sig["input"]
    n = dims.n_in
    pairs = [(k, m) for k in range(n) for m in range(k, n)]
    # x_k x_l: an exact word with twice x's fraction bits
    fxx = QFormat(2 * fx.width - 1, 2 * fx.int_bits - 1)
    xx = make_sum(p + "ln_xx", (p + "ln_xx",), [("input", "input", 2 * fx.frac_bits, mag(fx) ** 2, 1)],
                  size=len(pairs))
    v = make_sum(p + "ln_v", (p + "ln_v",), [_product(p + "ln_xx", fxx, p + "fold.Qv", wf[p + "fold.Qv"], len(pairs)),
                                             _product(p + "fold.q2", wf[p + "fold.q2"], "input", fx, n),
                                             _code(p + "fold.c0", wf[p + "fold.c0"])], size=1, even=True)
    c0_shift = v.terms[2].shift - v.terms[1].shift - fx.frac_bits
    if fx.frac_bits + min(c0_shift, 0) < 0:
        raise PlanError(f"{p}LayerNorm fold: weights {p}fold.c0 may have at most as many fraction bits as "
                        f"{p}fold.q2 x (its term joins q2 x)")
    v_min = _quadratic_min(weights[p + "fold.Qv"], weights[p + "fold.q2"], int(weights[p + "fold.c0"][0]), pairs,
                           [t.shift for t in v.terms])
    if not v_min > 0:
        raise PlanError(f"{p}LayerNorm fold: V = |c|^2 + d eps can reach {float(v_min):.3g} <= 0 with these formats; "
                        f"widen weights {p}fold.Qv / fold.q2 / fold.c0")
    v_lo = math.ceil(v_min)
    e_min, e_max = (b - 1 - ((b - 1) & 1) for b in (v_lo.bit_length(), v.bound.bit_length()))
    s = affine(p + "ln_s", (p + "ln_s",), "input", p + "fold.G", p + "fold.g0")
    fs, fr, fp = sig[p + "ln_s"], sig[p + "ln_rsqrt"], sig[p + "ln_p"]
    prod = make_sum(p + "ln_p", (p + "ln_p",), [_product(p + "ln_s", fs, p + "ln_rsqrt", fr)], size=2 * dims.d_inner)
    base = prod.frac - v.frac // 2 - fp.frac_bits  # the rounding shift is base + e/2
    h_lo = max(e_min // 2, -base)
    n_max = max(e_max // 2 - h_lo, 0)
    j = lutmod.shifted_sticky_bits(fp, prod.frac - v.frac // 2 + h_lo)
    check_bits((prod.bound >> j) + 1 << n_max, p + "ln_p")
    return LayerNormFoldPlan(p + "norm", "input", xx, v, v_lo, e_max, precision.luts["rsqrt"]["mant_frac"],
                             table(p + "rsqrt", p + "ln_v", p + "ln_rsqrt", 1), s, prod, h_lo, n_max,
                             prod.frac - v.frac // 2 + h_lo, c0_shift)


def _quadratic_min(qv: np.ndarray, q2: np.ndarray, c0: int, pairs: list[tuple[int, int]], shifts: list[int]):
    """The least value over real x of V(x) = sum qv_kl x_k x_l << s0 + sum q2_k x_k << s1 + c0 << s2 (exact, as a
    Fraction), or 0 when V is not positive definite in x (it then has no positive lower bound)."""
    n = len(q2)
    a = [[Fraction(0)] * n for _ in range(n)]
    for (k, m), c in zip(pairs, qv):
        w = Fraction(int(c) << shifts[0])
        if k == m:
            a[k][k] += w
        else:
            a[k][m] += w / 2
            a[m][k] += w / 2
    b = [Fraction(int(c) << shifts[1]) for c in q2]
    # min = c - b^T A^-1 b / 4 when A is positive definite: Gaussian elimination, every pivot > 0
    aug = [row[:] + [b[k]] for k, row in enumerate(a)]
    for k in range(n):
        if aug[k][k] <= 0:
            return Fraction(0)
        for r in range(k + 1, n):
            f = aug[r][k] / aug[k][k]
            aug[r] = [x - f * y for x, y in zip(aug[r], aug[k])]
    sol = [Fraction(0)] * n  # A y = b
    for k in reversed(range(n)):
        sol[k] = (aug[k][n] - sum(aug[k][r] * sol[r] for r in range(k + 1, n))) / aug[k][k]
    return Fraction(c0 << shifts[2]) - sum(bk * yk for bk, yk in zip(b, sol)) / 4


def _head_plan(dims, sig, wf, weights, luts, affine, table) -> HeadPlan:
    f = f"layers.{dims.n_layers - 1}.out"
    fe, fl, fa, fr = sig["head.sm_e"], sig["head.sm_l"], sig["head.sm_acc"], sig["head.sm_recip"]
    one = 1 << fe.frac_bits
    if one > fe.max_code:
        raise PlanError(f"signals.head.sm_e ({fe.ctype()}) cannot hold 1.0")
    # a and b are sm_e codes or 1.0 (one <= the format's max code): both terms are bounded by sm_e's format
    sm_l = make_sum("head.sm_l", ("head.sm_l",), [_product("head.sm_l", fl, "head.sm_a", fe), _code("head.sm_b", fe)],
                    size=dims.d_model)
    sm_acc = make_sum("head.sm_acc", ("head.sm_acc",), [_product("head.sm_acc", fa, "head.sm_a", fe),
                                                        _product(f, sig[f], "head.sm_b", fe)], size=dims.d_model)
    p_max = fl.width - 1 - fl.frac_bits  # l >= 1 after any sample: p - F_l in [0, p_max]
    pooled_frac = fa.frac_bits + fr.frac_bits
    pooled_bound = mag(fa) * mag(fr)
    check_bits(pooled_bound, "head.sm_acc * sm_recip")
    j = lutmod.shifted_sticky_bits(sig["head.pooled"], pooled_frac)
    check_bits((pooled_bound >> j) + 1 << p_max, "head.pooled")
    return HeadPlan(
        feature=f,
        score=affine("head.score", ("head.score",), f, "head.attn.weight", "head.attn.bias"),
        diff=lutmod.softmax_diff_format(sig["head.score"]),
        exp2_softmax=table("head.exp2_softmax", "head.diff", "head.sm_e", dims.d_model),
        one=one, sm_l=sm_l, sm_acc=sm_acc, m_init=sig["head.score"].min_code,
        recip=table("head.recip", "head.sm_l", "head.sm_recip", dims.d_model),
        mant_frac=luts["head.recip"].in_fmt.frac_bits,
        p_max=p_max, pooled_frac=pooled_frac, pooled_bound=pooled_bound,
        mlp0=affine("head.mlp0", ("head.mlp0",), "head.pooled", "head.mlp.0.weight", "head.mlp.0.bias"),
        gelu0=table("head.gelu0", "head.mlp0", "head.gelu0", dims.d_head_hidden),
        mlp2=affine("head.mlp2", ("head.mlp2",), "head.gelu0", "head.mlp.2.weight", "head.mlp.2.bias"),
        gelu2=table("head.gelu2", "head.mlp2", "head.gelu2", dims.d_head_hidden),
        mlp4=affine("head.mlp4", ("mu", "log_var"), "head.gelu2", "head.mlp.4.weight", "head.mlp.4.bias"),
    )


def _check_table_operands(luts: dict[str, lutmod.Lut], precision: PrecisionConfig) -> None:
    """The interpolation multiply (T[i+1] - T[i]) * r: both operands at most 18 bits unless a reason is given."""
    for lut in luts.values():
        widths = (lut.delta_bits(), lut.shift + 1)
        if max(widths) > DSP_OPERAND_BITS and f"luts.{lut.family}" not in precision.why:
            raise PlanError(f"LUT {lut.name}: interpolation operands are {widths[0]} x {widths[1]} bits "
                            f"(> {DSP_OPERAND_BITS}); add why['luts.{lut.family}']")
