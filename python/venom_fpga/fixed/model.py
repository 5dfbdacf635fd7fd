# SPDX-License-Identifier: BSD-3-Clause
"""Bit-accurate fixed-point golden model of VENOM: the DESIGN.md §1 datapath in integers (rules of §2).

Every signal is an ``int64`` array of codes of its format in the precision config (``fixed/precision.py``). Each
operation forms its result **exactly** (integer products and sums, aligned to a common number of fraction bits)
and then quantizes **once** into its output signal's format with that format's rounding and overflow modes
(``QFormat.quantize``; saturations counted per signal name). Nonlinearities are the integer tables of ``fixed/lut.py``.
Nothing here depends on summation order, so HLS C++ and Verilog can match it bit for bit. Every fraction, alignment
shift, bound and table comes from the op plan (``op_plan.py``), which the HLS exporter and the RTL compiler follow too.

Datapath of one sample (one step), for a batch of windows (names are the config's signal names)::

  input   x                       (from_float, saturating)
  embed   u = W_e x + b_e
  per layer i (prefix layers.i.):
    [with the precision config's LayerNorm fold, layer 0 instead forms, from the input x (op_plan.LayerNormFoldPlan):
      xx = x_k x_l (k <= l); V = Qv . xx + q2 . x + c0 (exact); V = m 2**e -> ln_rsqrt; ln_s = G x + g0;
      ln_p = ln_s ln_rsqrt >> (frac + n), n from e/2 (one rounding); xi, z = ln_p + k0 -- and goes on at the conv]
    LayerNorm, without dividing by d (all exact integers until the two roundings):
      c_j = d U_j - sum_k U_k                    (U = codes of u)        [derived operand ln_c]
      V   = sum_j c_j^2 + EPS,  EPS = round(eps d^3 2**(2 F_u))  (= d^3 (var + eps) in u's units squared)
      V = m 2**e, e even, m in [1, 4)  -> ln_rsqrt = rsqrt table(m)   (normalize_even, lut.py)
      CN_j = c_j << (S - e/2), S = e_max/2  (exact)                      [derived operand ln_cn]
      ln_xn  = CN_j * ln_rsqrt           (= c_j / sqrt(V) = xhat_j / sqrt(d))
      ln_out = gamma' ln_xn + beta       (gamma' = gamma sqrt(d), folded into the weight)
    xi, z  = W_in ln_out                 (one exact product, two roundings)
    xc     = b_c + sum_k w_c[:, k] xi_{t-(d_conv-1)+k}   (conv state: the last d_conv-1 xi codes, zero at start)
    xa     = SiLU(xc)                    (table)
    xr, B, C = W_x xa
    dt_raw = W_dt xr + b_dt ;  dt = softplus(dt_raw)   (table)
    dA     = dt (x) A2,  A2 = exp(A_log) log2(e)        (log2 units, >= 0)
    Abar   = 2**-dA                      (exp2 table with shift)
    dtx    = dt xa
    h      = Abar h + dtx (x) B          (one rounding)
    y      = sum_n C h + D xa
    zs     = SiLU(z) ;  gate = y zs ;  out = u + W_out gate   (= the next u)
  head (stream, O(1) state per channel):
    score  = W_a' f + b_a'   (W_a' = W_a log2 e: the softmax runs in powers of two, same weights)
    sm_e   = 2**-|score - m|
    (a, b) = (sm_e, 1) if score > m else (1, sm_e);  sm_l = l a + b ;  sm_acc = acc a + b f ;  m = max(m, score)
  finish:  L = codes of l = m_l 2**p (m_l in [1, 2), normalize) -> sm_recip = 1/m_l table;
           pooled = acc sm_recip 2**-(p - F_l)   (a variable right shift, one rounding: lut.quantize_shifted)
           mlp0 = W1 pooled + b1; gelu0; mlp2 = W2 gelu0 + b2; gelu2; (mu, log_var) = W3 gelu2 + b3

Hardware notes: Abar h may be computed as (h << F_Abar) - (1 - Abar) h (same integer, an 18-bit operand);
V = sum c^2 equals d (d sum U^2 - (sum U)^2) exactly (18-bit squares); the exp2 right shift by n and the
pooled shift by p - F_l are barrel shifts before the one rounding.

Initial state: h = 0, conv history = 0, l = acc = 0, m = the score format's minimum code (at the first sample
both branches give l = 1, acc = f).

Numpy layout: every per-window array keeps the windows on its LAST axis ((d_inner, d_state, n) for h), so the
outer products and reductions run long contiguous inner loops; the public API (step inputs/outputs, finish,
traces, ``FixedState.window``) is window-first. Dot products with a provable bound below 2**53 run as float64
matrix products (BLAS), which are then exact integers; otherwise int64. The op plan checks that every other
intermediate stays below 2**62. Window mode (``run_codes``) loops over t calling ``step``; nothing mixes
windows, so a batch equals its windows run one at a time, bit for bit. ``init_state(n, record=True)`` keeps every
signal's min/max (``run(..., record=True)``, ``profile``), ``trace=True`` every signal's codes at every step
(golden vectors for the HLS/RTL testbenches).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from venom_fpga.fixed import lut as lutmod
from venom_fpga.fixed.op_plan import LayerNormFoldPlan, LayerPlan, OpPlan, Sum, build_plan, mag
from venom_fpga.fixed.precision import PrecisionConfig, default_precision, load_precision, precision_for, signal_names
from venom_fpga.fixed.qformat import QFormat, SaturationCounter
from venom_fpga.model.dims import ModelDims

F64_EXACT = 53
BATCH = 1024  # windows per chunk in run(): long inner loops, (d_inner, d_state, n) arrays still ~1 MB


class _Affine:
    """y = W x (+ b) of one plan Sum, exact, on x of shape (in, n) (windows last): calling it returns the (out, n)
    integer accumulator, in units of 2**-op.frac."""

    def __init__(self, op: Sum, w: np.ndarray, x_fmt: QFormat, b: np.ndarray | None = None):
        self.w = np.ascontiguousarray(w, dtype=np.int64)
        self.frac = op.frac
        self.shift = op.terms[0].shift
        row_l1 = int(np.abs(self.w).sum(axis=1).max()) if self.w.size else 0
        # a speed choice, not a sizing rule: with these weights every partial sum is an integer below 2**53
        self.use_float = mag(x_fmt) * row_l1 < 1 << F64_EXACT
        self.w_f = self.w.astype(np.float64)
        self.b = None if b is None else (np.asarray(b, dtype=np.int64) << op.terms[1].shift)[:, None]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.use_float:  # every partial sum is an integer below 2**53: exact in any order
            acc = (self.w_f @ x.astype(np.float64)).astype(np.int64)
        else:
            acc = self.w @ x
        if self.shift:
            acc <<= self.shift
        if self.b is not None:
            acc += self.b
        return acc


@dataclass
class _FoldArrays:
    """The LayerNorm fold's operands (LayerNormFoldPlan), windows last."""

    pairs: list[tuple[int, int]]  # (k, l) of each product x_k x_l
    qv: np.ndarray  # (pairs, 1), shifted onto V's fraction
    q2: np.ndarray  # (n_in, 1), shifted
    c0: int  # shifted
    s: _Affine  # ln_s = G x + g0
    k0: np.ndarray  # (2 d_inner, 1), aligned onto the in_proj accumulator


@dataclass
class _LayerArrays:
    """One layer's weights as numpy operands (windows last), beside its plan."""

    plan: LayerPlan
    gamma: np.ndarray | None  # (d_model, 1); None when folded
    beta: np.ndarray | None  # (d_model, 1), aligned onto the affine's accumulator
    in_proj: _Affine | None
    fold: _FoldArrays | None
    conv_w: list[np.ndarray]  # (d_inner, 1) per tap
    conv_b: np.ndarray  # (d_inner, 1), aligned
    x_proj: _Affine
    dt_proj: _Affine
    A2: np.ndarray  # (d_inner, d_state, 1)
    D: np.ndarray  # (d_inner, 1)
    out_proj: _Affine


@dataclass
class FixedState:
    """Everything a window carries from one sample to the next (O(1) per window), as integer codes.

    Arrays hold the windows on their LAST axis (long contiguous inner loops for numpy); ``window(k)`` gives one
    window's state window-first."""

    h: list[np.ndarray]  # per layer (d_inner, d_state, n), format layers.i.h
    conv: list[list[np.ndarray]]  # per layer the last d_conv - 1 xi codes, oldest first, each (d_inner, n)
    m: np.ndarray  # (d_model, n) running max of the scores (head.score codes)
    l: np.ndarray  # (d_model, n) normaliser (head.sm_l codes)  # noqa: E741
    acc: np.ndarray  # (d_model, n) accumulator (head.sm_acc codes)
    t: int = 0
    sat: SaturationCounter = field(default_factory=SaturationCounter)
    record: dict[str, list[int]] | None = None  # signal -> [min code, max code] when recording
    # signal -> its codes at every step, windows FIRST: trace[name][t][window, ...] (golden vectors, tests)
    trace: dict[str, list[np.ndarray]] | None = None

    @property
    def n(self) -> int:
        return self.m.shape[-1]

    def window(self, k: int) -> dict[str, Any]:
        """The state of window k: h per layer (d_inner, d_state), conv per layer (d_conv - 1, d_inner), m, l, acc."""
        conv = [np.stack([c[:, k] for c in cl]) if cl else np.zeros((0, self.h[0].shape[0]), np.int64)
                for cl in self.conv]
        return {"h": [h[..., k] for h in self.h], "conv": conv, "m": self.m[:, k], "l": self.l[:, k],
                "acc": self.acc[:, k], "t": self.t}


class FixedModel:
    """The fixed-point golden model.

    ``FixedModel(ckpt, precision)`` with a ``Checkpoint`` (or a ``(dims, tensors)`` pair) and a
    ``PrecisionConfig`` (or a path to one; None: ``precision_for(ckpt)``, or the default for a pair).

    It executes the op plan (``plan``, :mod:`venom_fpga.fixed.op_plan`): every fraction, shift and table comes
    from there. Attributes: ``plan``; ``precision``; ``fmt`` (signal -> QFormat); ``luts`` (use -> Lut);
    ``quantized_weights``
    (canonical name -> int64 codes of the *folded* tensor in ``precision.weights[name]``: gamma sqrt(d) for
    norm.weight, exp(A_log) log2(e) for A_log, W_a log2(e) and b_a log2(e) for head.attn, conv1d.weight as
    (d_inner, d_conv)); ``weight_saturation`` (a SaturationCounter; empty with the default config).
    """

    def __init__(self, source: Any, precision: PrecisionConfig | str | None = None):
        if isinstance(source, tuple):
            dims, tensors = source
            if precision is None:
                precision = default_precision((dims, tensors))
        else:
            dims, tensors = source.dims, source.tensors
            if precision is None:
                precision = precision_for(source)
        if not isinstance(precision, PrecisionConfig):
            precision = load_precision(precision)
        self.plan: OpPlan = build_plan(dims, tensors, precision)
        self.dims: ModelDims = dims
        self.precision = precision
        self.fmt: dict[str, QFormat] = dict(precision.signals)
        self.luts = self.plan.luts
        self.quantized_weights = self.plan.weights
        self.weight_saturation = self.plan.weight_saturation
        self._build()

    def _build(self) -> None:
        """numpy operands of the plan's ops: weights as (out, in) matrices or broadcastable columns."""
        plan, f, qw = self.plan, self.fmt, self.plan.weights
        self.embed = _Affine(plan.embed, qw["embed.weight"], f["input"], qw["embed.bias"])
        self.layers = []
        for L in plan.layers:
            m = f"{L.prefix}mixer."
            wc = qw[m + "conv1d.weight"]
            folded = isinstance(L.norm, LayerNormFoldPlan)
            self.layers.append(_LayerArrays(
                plan=L,
                gamma=None if folded else qw[L.prefix + "norm.weight"][:, None],
                beta=None if folded else (qw[L.prefix + "norm.bias"] << L.norm.affine.terms[1].shift)[:, None],
                in_proj=None if folded else _Affine(L.in_proj, qw[m + "in_proj.weight"], f[L.prefix + "ln_out"]),
                fold=self._fold_arrays(L) if folded else None,
                conv_w=[wc[:, k : k + 1] for k in range(self.dims.d_conv)],
                conv_b=(qw[m + "conv1d.bias"] << L.conv.terms[1].shift)[:, None],
                x_proj=_Affine(L.x_proj, qw[m + "x_proj.weight"], f[L.prefix + "xa"]),
                dt_proj=_Affine(L.dt_proj, qw[m + "dt_proj.weight"], f[L.prefix + "xr"], qw[m + "dt_proj.bias"]),
                A2=qw[m + "A_log"][:, :, None],
                D=qw[m + "D"][:, None],
                out_proj=_Affine(L.out, qw[m + "out_proj.weight"], f[L.prefix + "gate"]),
            ))
        hp = plan.head
        self.attn = _Affine(hp.score, qw["head.attn.weight"], f[hp.feature], qw["head.attn.bias"])
        self.mlp0 = _Affine(hp.mlp0, qw["head.mlp.0.weight"], f["head.pooled"], qw["head.mlp.0.bias"])
        self.mlp2 = _Affine(hp.mlp2, qw["head.mlp.2.weight"], f["head.gelu0"], qw["head.mlp.2.bias"])
        self.mlp4 = _Affine(hp.mlp4, qw["head.mlp.4.weight"], f["head.gelu2"], qw["head.mlp.4.bias"])

    def _fold_arrays(self, L: LayerPlan) -> _FoldArrays:
        ln, qw, p, n = L.norm, self.plan.weights, L.prefix, self.dims.n_in
        s_xx, s_x, s_c = (t.shift for t in ln.v.terms)
        return _FoldArrays(
            pairs=[(k, m) for k in range(n) for m in range(k, n)],
            qv=(qw[p + "fold.Qv"] << s_xx)[:, None], q2=(qw[p + "fold.q2"] << s_x)[:, None],
            c0=int(qw[p + "fold.c0"][0]) << s_c,
            s=_Affine(ln.s, qw[p + "fold.G"], self.fmt["input"], qw[p + "fold.g0"]),
            k0=(qw[p + "fold.k0"] << L.in_proj.terms[1].shift)[:, None])

    def _layernorm_fold(self, state: FixedState, La: _LayerArrays, x: np.ndarray) -> np.ndarray:
        """[xi; z] accumulator (2 d_inner, n) of a folded layer from the input codes x (n_in, n)."""
        ln, fa, p = La.plan.norm, La.fold, La.plan.prefix
        xx = np.stack([x[k] * x[m] for k, m in fa.pairs])
        v = (fa.qv * xx).sum(axis=0) + (fa.q2 * x).sum(axis=0) + fa.c0  # >= ln.v_min >= 1 (the plan's check)
        mant, e = lutmod.normalize_even(v, ln.mant_frac)
        rs = self._lut(state, ln.rsqrt.lut, p + "ln_rsqrt", mant)
        s = self._q(state, p + "ln_s", fa.s(x), ln.s.frac)
        n = np.clip(e >> 1, ln.h_lo, ln.h_lo + ln.n_max) - ln.h_lo
        lp = lutmod.quantize_shifted(self.fmt[p + "ln_p"], s * rs, ln.frac, n, ln.n_max, counter=state.sat,
                                     name=p + "ln_p")
        if state.record is not None or state.trace is not None:
            self._rec(state, p + "ln_p", lp)
        sh = La.plan.in_proj.terms[0].shift
        return (lp << sh if sh else lp) + fa.k0

    def _layernorm_in_proj(self, state: FixedState, La: _LayerArrays, u: np.ndarray) -> np.ndarray:
        """[xi; z] accumulator (2 d_inner, n): LayerNorm of u, then in_proj."""
        q, d = self._q, self.dims
        L = La.plan
        p, ln = L.prefix, L.norm
        # c = d u - sum u, V = sum c^2 + EPS, even normalisation, rsqrt table
        c = u * d.d_model
        c -= u.sum(axis=0)
        v = np.einsum("dn,dn->n", c, c)
        v += ln.eps_code
        mant, e = lutmod.normalize_even(v, ln.mant_frac)
        rs = self._lut(state, ln.rsqrt.lut, p + "ln_rsqrt", mant)
        c <<= ln.shift - (e >> 1)  # CN, exact
        c *= rs
        xn = q(state, p + "ln_xn", c, ln.xn.frac)
        nrm = xn * La.gamma
        if ln.affine.terms[0].shift:
            nrm <<= ln.affine.terms[0].shift
        nrm += La.beta
        nrm = q(state, p + "ln_out", nrm, ln.affine.frac)
        return La.in_proj(nrm)

    # ------------------------------------------------------------------ helpers
    def _q(self, state: FixedState, name: str, acc: np.ndarray, frac: int) -> np.ndarray:
        out = self.fmt[name].quantize(acc, frac, counter=state.sat, name=name)
        if state.record is not None or state.trace is not None:
            self._rec(state, name, out)
        return out

    def _lut(self, state: FixedState, lut: lutmod.Lut, name: str, x: np.ndarray) -> np.ndarray:
        out = lut.evaluate(x, counter=state.sat, name=name)
        if state.record is not None or state.trace is not None:
            self._rec(state, name, out)
        return out

    @staticmethod
    def _rec(state: FixedState, name: str, codes: np.ndarray) -> None:
        if state.trace is not None:  # window-first copies (the datapath keeps windows last)
            state.trace.setdefault(name, []).append(np.moveaxis(codes, -1, 0).copy())
        if state.record is None or codes.size == 0:
            return
        lo, hi = int(codes.min()), int(codes.max())
        r = state.record.get(name)
        if r is None:
            state.record[name] = [lo, hi]
        else:
            r[0], r[1] = min(r[0], lo), max(r[1], hi)

    # ------------------------------------------------------------------ step mode
    def init_state(self, n: int, record: bool = False, trace: bool = False) -> FixedState:
        """Zero state for ``n`` windows. ``record``: keep every signal's min/max code; ``trace``: keep every
        signal's codes at every step (``state.trace[name]`` = list over steps; finish() adds the head's)."""
        d = self.dims
        zeros = lambda *s: np.zeros(s, dtype=np.int64)  # noqa: E731
        return FixedState(
            h=[zeros(d.d_inner, d.d_state, n) for _ in range(d.n_layers)],
            conv=[[zeros(d.d_inner, n) for _ in range(d.d_conv - 1)] for _ in range(d.n_layers)],
            m=np.full((d.d_model, n), self.plan.head.m_init, dtype=np.int64),
            l=zeros(d.d_model, n),
            acc=zeros(d.d_model, n),
            record={} if record else None,
            trace={} if trace else None,
        )

    def step(self, x: np.ndarray, state: FixedState) -> np.ndarray:
        """One sample for every window: ``x`` (n, 2) input codes; updates ``state``; returns the feature codes f_t
        (n, d_model) (a view). Internally every array is (channels..., n): windows last."""
        x = np.asarray(x, dtype=np.int64)
        if x.shape != (state.n, self.dims.n_in):
            raise ValueError(f"step: expected input codes of shape ({state.n}, {self.dims.n_in}), found {x.shape}")
        if state.record is not None or state.trace is not None:
            self._rec(state, "input", x.T)
        q = self._q
        d = self.dims
        di, ns, r = d.d_inner, d.d_state, d.dt_rank
        u = q(state, "embed", self.embed(x.T), self.embed.frac)  # (d_model, n)
        for i, La in enumerate(self.layers):
            L = La.plan
            p = L.prefix
            if La.fold is not None:  # LayerNorm and in_proj folded: from the input x
                xz = self._layernorm_fold(state, La, x.T)
            else:
                xz = self._layernorm_in_proj(state, La, u)
            xi = q(state, p + "xi", xz[:di], L.in_proj.frac)
            z = q(state, p + "z", xz[di:], L.in_proj.frac)
            # ---- causal depthwise conv (history: the last d_conv - 1 xi codes), SiLU
            taps = state.conv[i] + [xi]  # oldest first: xi_{t-(d_conv-1)} .. xi_t
            acc = taps[0] * La.conv_w[0]
            for k in range(1, d.d_conv):
                acc += taps[k] * La.conv_w[k]
            if L.conv.terms[0].shift:
                acc <<= L.conv.terms[0].shift
            acc += La.conv_b
            xc = q(state, p + "xc", acc, L.conv.frac)
            state.conv[i] = taps[1:]
            xa = self._lut(state, L.silu_xc.lut, p + "xa", xc)
            # ---- selective parameters
            rbc = La.x_proj(xa)
            fx = L.x_proj.frac
            xr = q(state, p + "xr", rbc[:r], fx)
            bmat = q(state, p + "B", rbc[r : r + ns], fx)
            cmat = q(state, p + "C", rbc[r + ns :], fx)
            dt_raw = q(state, p + "dt_raw", La.dt_proj(xr), L.dt_proj.frac)
            dt = self._lut(state, L.softplus.lut, p + "dt", dt_raw)
            # ---- state update (d_inner, d_state, n)
            da = q(state, p + "dA", dt[:, None, :] * La.A2, L.dA.frac)
            abar = self._lut(state, L.exp2_decay.lut, p + "Abar", da)
            dtx = q(state, p + "dtx", dt * xa, L.dtx.frac)
            sh_h, sh_b = L.h.terms[0].shift, L.h.terms[1].shift
            hacc = abar * state.h[i]
            if sh_h:
                hacc <<= sh_h
            if sh_b:  # alignment shifts on the small operand where possible
                dtx = dtx << sh_b
            hacc += dtx[:, None, :] * bmat
            h = q(state, p + "h", hacc, L.h.frac)
            state.h[i] = h
            yacc = np.einsum("dsn,sn->dn", h, cmat)
            if L.y.terms[0].shift:
                yacc <<= L.y.terms[0].shift
            yd = La.D * xa
            if L.y.terms[1].shift:
                yd <<= L.y.terms[1].shift
            yacc += yd
            y = q(state, p + "y", yacc, L.y.frac)
            # ---- gate, out_proj, residual
            zs = self._lut(state, L.silu_z.lut, p + "zs", z)
            gate = q(state, p + "gate", y * zs, L.gate.frac)
            o = La.out_proj(gate)
            su = L.out.terms[1].shift
            o += u << su if su else u
            u = q(state, p + "out", o, L.out.frac)
        # ---- head: online softmax pooling (powers of two), per channel
        hp = self.plan.head
        s = q(state, "head.score", self.attn(u), self.attn.frac)
        e = self._lut(state, hp.exp2_softmax.lut, "head.sm_e", np.abs(s - state.m))
        gt = s > state.m
        a = np.where(gt, e, hp.one)
        b = np.where(gt, hp.one, e)
        lacc = state.l * a
        lacc += b << hp.sm_l.terms[1].shift
        state.l = q(state, "head.sm_l", lacc, hp.sm_l.frac)
        acc = state.acc * a
        if hp.sm_acc.terms[0].shift:
            acc <<= hp.sm_acc.terms[0].shift
        bf = b * u
        if hp.sm_acc.terms[1].shift:
            bf <<= hp.sm_acc.terms[1].shift
        acc += bf
        state.acc = q(state, "head.sm_acc", acc, hp.sm_acc.frac)
        state.m = np.where(gt, s, state.m)
        state.t += 1
        return u.T

    def finish(self, state: FixedState) -> np.ndarray:
        """End of the window: pooled = acc / l, then the MLP -> (n, 2) codes (mu in ``mu``, log_var in ``log_var``)."""
        q = self._q
        hp = self.plan.head
        mant, p = lutmod.normalize(state.l, hp.mant_frac)
        rcp = self._lut(state, hp.recip.lut, "head.sm_recip", mant)
        fl = self.fmt["head.sm_l"].frac_bits
        # l >= 1 after any sample, so p - F_l in [0, p_max]; a window of no samples has l = acc = 0 (pooled 0)
        n = np.clip(p - fl, 0, hp.p_max)
        pooled = lutmod.quantize_shifted(self.fmt["head.pooled"], state.acc * rcp, hp.pooled_frac, n, hp.p_max,
                                         counter=state.sat, name="head.pooled")
        if state.record is not None or state.trace is not None:
            self._rec(state, "head.pooled", pooled)
        h1 = q(state, "head.mlp0", self.mlp0(pooled), self.mlp0.frac)
        h1 = self._lut(state, hp.gelu0.lut, "head.gelu0", h1)
        h2 = q(state, "head.mlp2", self.mlp2(h1), self.mlp2.frac)
        h2 = self._lut(state, hp.gelu2.lut, "head.gelu2", h2)
        o = self.mlp4(h2)
        mu = q(state, "mu", o[0], self.mlp4.frac)
        lv = q(state, "log_var", o[1], self.mlp4.frac)
        return np.stack([mu, lv], axis=1)

    # ------------------------------------------------------------------ window mode
    def quantize_input(self, iq: np.ndarray, counter: SaturationCounter | None = None) -> np.ndarray:
        """Float windows (N, L, 2) -> input codes, saturating (counted under ``input``)."""
        return self.fmt["input"].from_float(np.asarray(iq, dtype=np.float64), counter=counter, name="input")

    def run_codes(self, iq_codes: np.ndarray, record: bool = False, batch: int = BATCH,
                  counter: SaturationCounter | None = None):
        """Input codes (N, L, 2) -> (output codes (N, 2), SaturationCounter) [, ranges when ``record``]."""
        x = np.asarray(iq_codes, dtype=np.int64)
        if x.ndim != 3 or x.shape[2] != self.dims.n_in:
            raise ValueError(f"expected input codes of shape (N, L, {self.dims.n_in}), found {x.shape}")
        sat = counter if counter is not None else SaturationCounter()
        records: dict[str, list[int]] = {}
        out = np.empty((x.shape[0], self.dims.n_out), dtype=np.int64)
        for start in range(0, x.shape[0], batch):
            chunk = x[start : start + batch]
            state = self.init_state(chunk.shape[0], record=record)
            for t in range(chunk.shape[1]):
                self.step(chunk[:, t], state)
            out[start : start + batch] = self.finish(state)
            sat.merge(state.sat)
            if record:
                for name, (lo, hi) in state.record.items():
                    r = records.setdefault(name, [lo, hi])
                    r[0], r[1] = min(r[0], lo), max(r[1], hi)
        if record:
            return out, sat, self.ranges_from_codes(records)
        return out, sat

    def run(self, iq: np.ndarray, record: bool = False, batch: int = BATCH):
        """Float windows (N, L, 2) -> (output codes (N, 2), SaturationCounter) [, ranges when ``record``].

        The counter includes the input quantization (``input``) and every datapath signal."""
        sat = SaturationCounter()
        codes = self.quantize_input(iq, counter=sat)
        return self.run_codes(codes, record=record, batch=batch, counter=sat)

    def ranges_from_codes(self, records: dict[str, list[int]]) -> dict[str, tuple[float, float]]:
        """signal -> (min, max) dequantised, in signal order."""
        out = {}
        for name in self.precision.signal_names():
            if name in records:
                lo, hi = records[name]
                fmt = self.fmt[name]
                out[name] = (float(fmt.to_float(lo)), float(fmt.to_float(hi)))
        return out

    def profile(self, iq: np.ndarray) -> dict[str, Any]:
        """Per signal: dequantised min/max and saturation counts on these windows (for tightening a config)."""
        _, sat, ranges = self.run(iq, record=True)
        counts = sat.as_dict()
        return {
            name: {"min": lo, "max": hi, "format": self.fmt[name].ctype(), **counts.get(name, {})}
            for name, (lo, hi) in ranges.items()
        }

    def output_float(self, codes: np.ndarray) -> np.ndarray:
        """(N, 2) output codes -> (N, 2) float (mu, log_var)."""
        codes = np.asarray(codes)
        return np.stack([self.fmt["mu"].to_float(codes[:, 0]), self.fmt["log_var"].to_float(codes[:, 1])], axis=1)

    def predict_raw(self, iq: np.ndarray) -> np.ndarray:
        """Float windows -> (N, 2) float (mu, log_var) dequantised from the output codes."""
        codes, _ = self.run(iq)
        return self.output_float(codes)
