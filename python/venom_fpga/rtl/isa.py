# SPDX-License-Identifier: BSD-3-Clause
"""Micro-coded VENOM datapath for the hand-written RTL engine (``rtl/venom_engine.v``): instruction set, compiler
from a :class:`~venom_fpga.fixed.model.FixedModel` to three programs (INIT, STEP, FINISH), and an instruction-level
simulator that runs them exactly as the RTL does (same iteration order, same lanes, same per-lane weight banks).

Bit-exactness chain: ``IsaSim`` == ``FixedModel`` on every window (tests/rtl/test_isa.py), and the RTL implements
each instruction's integer semantics (cocotb tests), so RTL == FixedModel.

Machine model
    DMEM      one scratchpad of signed DW-bit words (every signal code, the LayerNorm/softmax intermediates, the
              recurrent state h / conv history / m / l / acc). Addresses are allocated here.
    WROM      LANES banks of signed WW-bit words: the weight *stream*; every MAC term whose B operand is a weight
              reads bank ``lane`` at the running pointer ``wptr`` (reset to the instruction's ``wbase``, +1 per such
              term cycle), so weights of any access pattern need no address arithmetic in hardware.
    LUT ROM   every table of ``fixed/lut.py`` at its base address (one dual-read ROM per lane).
    LANES     identical lanes; an instruction's element space is (i1 < N1) x (j2 < N2), lanes split j2:
              j2 = i2 * LANES + lane, lane active iff j2 < N2. An operand address is
              base + i1*s1 + j2*s2 + k*sk.

Instruction (one per row of the instruction ROM)
    MAC  acc = sum_seg sum_{k<K_seg} (A * B) << SHIFT_seg       (A: DMEM or the constant 1; B: DMEM or the weight stream)
    LUT  (val, rshift) = table evaluation of DMEM[A] (lut.py's index/interpolation rule, kind-specific combination)
    then one write-back per element:
      QUANT   dest = round(acc >> rshift) with the format's rounding, then its overflow mode, rshift = RSHIFT
              (+ DMEM[VF] when VF_EN: the LayerNorm e/2 and the pooling shift p - F_l)
      ABS     the same on |acc|
      FLAG    dest = (acc > 0)
      NORM_M  dest = mantissa of acc (normalize / normalize_even of lut.py, MANT_FRAC bits)
      NORM_N  dest = clip((exponent >> HALVE) + OFF, LO, HI) + ADD
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.op_plan import LayerNormFoldPlan, Sum, Table
from venom_fpga.fixed.lut import KINDS, Lut
from venom_fpga.fixed.qformat import QFormat

OPS = ("mac", "lut")
WB_MODES = ("quant", "abs", "flag", "norm_m", "norm_n")
LUT_KINDS = KINDS  # the table kinds of lut.py, in the order of their codes
ACC_W = 64  # exact accumulator width (the golden model bounds every intermediate below 2**62)


@dataclass
class Seg:
    """One group of K MAC terms: A[a + i1*s1 + j2*s2 + k*sk] * B[...] << shift."""

    k: int = 1
    a_one: bool = False
    a: tuple[int, int, int, int] = (0, 0, 0, 0)  # base, s1, s2, sk
    b_w: bool = False
    b: tuple[int, int, int, int] = (0, 0, 0, 0)
    w: Callable[[int, int, int], int] | None = None  # weight(i1, j2, k) when b_w
    shift: int = 0
    vf: bool = False  # K=1, no product: B is the variable extra right shift of the write-back (last segment)


@dataclass
class Instr:
    name: str
    op: str
    n1: int
    n2: int
    dest: tuple[int, int, int]  # base, s1, s2
    segs: list[Seg]
    wb: str = "quant"
    width: int = 32
    signed: bool = True
    rnd: str = "AP_TRN"
    ovf: str = "AP_SAT"
    rshift: int = 0
    lut: Lut | None = None
    lut_base: int = 0  # table base address in the LUT ROM
    norm: dict = field(default_factory=dict)  # mant_frac, even, halve, off, lo, hi, add
    wbase: int = 0  # set by the assembler
    wait: int = 0  # stall cycles before the first term (set by schedule(): read-after-write hazards)

    def set_fmt(self, fmt: QFormat, frac: int) -> Instr:
        self.width, self.signed, self.rnd, self.ovf = fmt.width, fmt.signed, fmt.rounding, fmt.overflow
        self.rshift = frac - fmt.frac_bits
        return self


# ------------------------------------------------------------------------------------------------ integer semantics
def round_shift(v: int, s: int, rnd: str) -> int:
    """round(v / 2**s) with an ap_fixed rounding mode (exact Python ints), s >= 0."""
    if s <= 0:
        return v << (-s)
    fl = v >> s
    half = (v >> (s - 1)) & 1
    sticky = (v & ((1 << (s - 1)) - 1)) != 0
    neg = v < 0
    inc = {
        "AP_TRN": 0,
        "AP_TRN_ZERO": neg and (half or sticky),
        "AP_RND": half,
        "AP_RND_ZERO": half and (sticky or neg),
        "AP_RND_INF": half and (sticky or not neg),
        "AP_RND_MIN_INF": half and sticky,
        "AP_RND_CONV": half and (sticky or (fl & 1)),
    }[rnd]
    return fl + int(bool(inc))


def saturate(v: int, width: int, signed: bool, ovf: str) -> int:
    mx = (1 << (width - 1)) - 1 if signed else (1 << width) - 1
    mn = -(1 << (width - 1)) if signed else 0
    if ovf == "AP_SAT_SYM" and signed and width > 1:
        mn = -mx
    if mn <= v <= mx:
        return v
    if ovf == "AP_WRAP":
        v &= (1 << width) - 1
        return v - (1 << width) if signed and v >> (width - 1) else v
    if ovf == "AP_SAT_ZERO":
        return 0
    return mx if v > mx else mn


def quant(v: int, rshift: int, width: int, signed: bool, rnd: str, ovf: str) -> int:
    return saturate(round_shift(v, rshift, rnd), width, signed, ovf)


def lut_exact(lut: Lut, x: int) -> tuple[int, int]:
    """(value, right shift into the output format) of a table evaluation, as the RTL LUT unit forms it."""
    f_out = lut.out_fmt.frac_bits
    s = lut.shift
    if lut.kind == "exp2neg":
        x = max(x, 0)
        f_in = lut.in_fmt.frac_bits
        n = min(x >> f_in, lut.nmax)
        a = x & ((1 << f_in) - 1)
    elif lut.kind == "uniform":
        a = x
    else:
        a = abs(x)
    a = min(max(a, lut.lo_code), lut.hi_code - 1) - lut.lo_code
    i, r = a >> s, a & ((1 << s) - 1)
    t0, t1 = int(lut.codes[i]), int(lut.codes[min(i + 1, len(lut.codes) - 1)])
    v = (t0 << s) + (t1 - t0) * r
    fv = lut.value_frac
    if lut.kind == "uniform":
        return v, fv - f_out
    if lut.kind == "exp2neg":
        return v, fv + n - f_out
    f_in = lut.in_fmt.frac_bits
    frac = max(f_in, fv)
    relu = max(x, 0) << (frac - f_in)
    v <<= frac - fv
    return (relu - v if lut.kind == "relu_minus" else relu + v), frac - f_out


def lut_fields(lut: Lut) -> dict[str, int]:
    """The LUT-unit instruction fields of one table use."""
    f_in = lut.in_fmt.frac_bits
    fv = lut.value_frac
    f_out = lut.out_fmt.frac_bits
    frac = max(f_in, fv)
    if lut.kind == "uniform":
        rs, sh_relu, sh_v = fv - f_out, 0, 0
    elif lut.kind == "exp2neg":
        rs, sh_relu, sh_v = fv - f_out, 0, 0
    else:
        rs, sh_relu, sh_v = frac - f_out, frac - f_in, frac - fv
    return {"kind": LUT_KINDS.index(lut.kind), "lo": lut.lo_code, "hi": lut.hi_code - 1, "s": lut.shift,
            "f_in": f_in, "nmax": lut.nmax, "sh_relu": sh_relu, "sh_v": sh_v, "rshift": rs}


def normalize_int(v: int, mant_frac: int, even: bool) -> tuple[int, int]:
    p = max(v.bit_length() - 1, 0)
    if even:
        p -= p & 1
    sh = p - mant_frac
    return (v >> sh if sh >= 0 else v << -sh), p


# ------------------------------------------------------------------------------------------------ compiler
class Alloc:
    """Scratchpad allocation, every array starting in bank 0 (base a multiple of LANES): lane l writes only bank l,
    so element j of a written vector must sit in bank j mod LANES."""

    def __init__(self, lanes: int) -> None:
        self.lanes = lanes
        self.top = 0
        self.map: dict[str, tuple[int, int]] = {}

    def __call__(self, name: str, n: int) -> int:
        base = self.top
        self.map[name] = (base, n)
        self.top += self.pad(n)
        return base

    def pad(self, n: int) -> int:
        """n rounded up to whole rows of the banks."""
        return -(-n // self.lanes) * self.lanes


@dataclass
class Program:
    """The compiled model: instructions (INIT, STEP, FINISH concatenated), entry points, memories, sizes."""

    instrs: list[Instr]
    entry: dict[str, int]
    lanes: int
    dmem_depth: int
    dmem_map: dict[str, tuple[int, int]]
    in_addr: int
    out_addr: tuple[int, int]
    out_fmt: tuple[QFormat, QFormat]
    in_fmt: QFormat
    wbanks: list[list[int]]
    lut_rom: list[int]
    lut_list: list[tuple[str, int, Lut]]  # (family table name, base, lut)
    dw: int = 32
    mul_a_w: int = 32  # signed multiplier operand widths (static bounds, see _operand_widths)
    mul_b_w: int = 32
    lut_r_w: int = 16

    @property
    def ww(self) -> int:
        m = max((abs(v) for b in self.wbanks for v in b), default=1)
        return max(m.bit_length() + 1, 2)


class _Compiler:
    """Emits the instructions of the op plan (``fm.plan``), op by op in FixedModel's order, and allocates the
    scratchpad: every signal and state array gets its words (``Alloc``) as it is first needed."""

    def __init__(self, fm: FixedModel, lanes: int):
        self.plan = plan = fm.plan
        self.f = plan.precision.signals
        self.qw = plan.weights
        d = self.d = plan.dims
        self.lanes = lanes
        self.A = A = Alloc(lanes)
        self.ins: list[Instr] = []
        self.lut_rom: list[int] = []
        self.lut_list: list[tuple[str, int, Lut]] = []
        self._bases: dict[int, int] = {}
        dm, di, ns, dc = d.d_model, d.d_inner, d.d_state, d.d_conv
        # scratchpad: the state arrays per layer; every other array is shared by the layers (same order as ever)
        self.x_in = A("input", 2)
        self.u = A("u", dm)
        self.c_ln, self.ln_m, self.ln_e, self.ln_rs = A("ln_c", dm), A("ln_m", 1), A("ln_e", 1), A("ln_rsqrt", 1)
        self.xn, self.ln_out = A("ln_xn", dm), A("ln_out", dm)
        if any(isinstance(L.norm, LayerNormFoldPlan) for L in plan.layers):  # the LayerNorm fold's words
            n = d.n_in
            self.ln_xx = A("ln_xx", n * A.pad(n))  # x_k x_l, row k at k pad(n) (every row starts in bank 0)
            self.ln_x1 = A("ln_x1", n + 1)  # x and the code of 1.0: the linear and constant terms of V in one segment
            self.ln_s, self.ln_p = A("ln_s", 2 * d.d_inner), A("ln_p", 2 * d.d_inner)
        self.di_p = A.pad(di)  # conv history row stride
        # state-update arrays over (d, n): lanes over the longer axis, which is contiguous (writes land in bank
        # j2 mod LANES); tr: i1 = n, j2 = d
        self.tr = not (ns >= di or ns % lanes == 0 and di % lanes != 0)
        self.sd, self.sn = (1, self.di_p) if self.tr else (A.pad(ns), 1)  # address strides along d and along n
        self.dn_size = ns * self.di_p if self.tr else di * A.pad(ns)
        self.conv, self.h = [], []
        for i in range(d.n_layers):
            self.conv.append(A(f"L{i}.conv", dc * self.di_p))
            self.h.append(A(f"L{i}.h", self.dn_size))
        r = d.dt_rank
        self.z, self.xc, self.xa, self.xr = A("z", di), A("xc", di), A("xa", di), A("xr", r)
        self.bm, self.cm, self.dt = A("B", ns), A("C", ns), A("dt", di)
        self.da, self.abar = A("dA", self.dn_size), A("Abar", self.dn_size)
        self.dtx, self.y, self.zs, self.gate = A("dtx", di), A("y", di), A("zs", di), A("gate", di)
        self.score, self.diff, self.gt, self.ngt = A("score", dm), A("diff", dm), A("gt", dm), A("ngt", dm)
        self.sme, self.sa, self.sb = A("sm_e", dm), A("sm_a", dm), A("sm_b", dm)
        self.sm_l, self.sm_acc, self.sm_m = A("sm_l", dm), A("sm_acc", dm), A("sm_m", dm)
        self.rm, self.rn, self.rcp, self.pooled = A("rc_m", dm), A("rc_n", dm), A("rc", dm), A("pooled", dm)
        hh = d.d_head_hidden
        self.m0, self.g0, self.m2, self.g2 = A("mlp0", hh), A("gelu0", hh), A("mlp2", hh), A("gelu2", hh)
        self.out, self.out_lv = A("out", 1), A("out_log_var", 1)

    # ---- emitters
    def table_base(self, lut: Lut) -> int:
        """One LUT ROM; a table shared by several uses (same family, codes and format) is stored once."""
        key = hash((lut.family, lut.codes.tobytes(), lut.table_fmt))
        if key not in self._bases:
            self._bases[key] = len(self.lut_rom)
            self.lut_list.append((lut.name, len(self.lut_rom), lut))
            self.lut_rom.extend(int(c) for c in lut.codes)
        return self._bases[key]

    def matvec(self, op: Sum, out: str, x_addr: int, dest: int, rows: tuple[int, int] | None = None) -> None:
        """dest[j] = q(sum_k W[row0 + j, k] x[k] << shift (+ b[row0 + j] << shift)) of a plan op with a weight
        matrix first and an optional bias term, into the output signal ``out``."""
        w = self.qw[op.terms[0].a]
        row0, nrows = rows if rows else (0, w.shape[0])
        segs = [Seg(k=w.shape[1], a=(x_addr, 0, 0, 1), b_w=True, w=lambda i1, j2, k: int(w[row0 + j2, k]),
                    shift=op.terms[0].shift)]
        for t in op.terms[1:]:  # the bias
            b = self.qw[t.a]
            segs.append(Seg(k=1, a_one=True, b_w=True, w=lambda i1, j2, k, b=b: int(b[row0 + j2]), shift=t.shift))
        self.ins.append(Instr(out, "mac", 1, nrows, (dest, 0, 1), segs).set_fmt(self.f[out], op.frac))

    def mac(self, op: Sum, n1: int, n2: int, dest: tuple[int, int, int], segs: list[Seg]) -> None:
        """One instruction of a plan op with one output: the segments in the op's term order."""
        self.ins.append(Instr(op.outputs[0], "mac", n1, n2, dest, segs).set_fmt(self.f[op.outputs[0]], op.frac))

    def lut_op(self, tab: Table, src, dest, n1, n2, s1=0, s2=1, d1=0, d2=1) -> None:
        lut = tab.lut
        i = Instr(tab.output, "lut", n1, n2, (dest, d1, d2), [Seg(k=1, a=(src, s1, s2, 0))], lut=lut,
                  lut_base=self.table_base(lut))
        i.set_fmt(lut.out_fmt, lut.out_fmt.frac_bits)
        i.rshift = lut_fields(lut)["rshift"]
        self.ins.append(i)

    def wide(self, name, n1, n2, dest, segs, width, wb="quant", norm=None) -> None:
        """An exact integer word (no rounding) of the given signed width, or a normalisation (``wb``, ``norm``)."""
        self.ins.append(Instr(name, "mac", n1, n2, dest, segs, wb=wb, width=width, signed=True, rnd="AP_TRN",
                              ovf="AP_SAT", norm=norm or {}))

    # ---- programs
    def init(self) -> None:
        """Zero state, m = the plan's initial running max."""
        d, f = self.d, self.f
        for i in range(d.n_layers):
            self.wide(f"init.L{i}.conv", 1, d.d_conv * self.di_p, (self.conv[i], 0, 1), [], f[f"layers.{i}.xi"].width)
            self.wide(f"init.L{i}.h", 1, self.dn_size, (self.h[i], 0, 1), [], f[f"layers.{i}.h"].width)
        dm = d.d_model
        self.wide("init.sm_l", 1, dm, (self.sm_l, 0, 1), [], f["head.sm_l"].width + 1)
        self.wide("init.sm_acc", 1, dm, (self.sm_acc, 0, 1), [], f["head.sm_acc"].width)
        self.wide("init.sm_m", 1, dm, (self.sm_m, 0, 1), [Seg(k=1, a_one=True, b_w=True, w=_const(self.plan.head.m_init))],
                  f["head.score"].width)
        if any(isinstance(L.norm, LayerNormFoldPlan) for L in self.plan.layers):
            # the fold reads the input's and the products' padding words with a zero weight: defined as 0 (a 4-state
            # simulator's X times 0 is X); each sample then writes the input words over them
            self.wide("init.input", 1, self.A.pad(d.n_in), (self.x_in, 0, 1), [], f["input"].width)
            self.wide("init.ln_xx", 1, d.n_in * self.A.pad(d.n_in), (self.ln_xx, 0, 1), [], 2 * f["input"].width)

    def layernorm(self, L) -> int:
        """c = d u - sum u ; V = sum c^2 + EPS ; (M, e) ; rsqrt ; xn = q(c rs >> (xn_frac - S + e/2)) ; ln_out.
        Returns the address of ln_out."""
        f, dm, p, ln = self.f, self.d.d_model, L.prefix, L.norm
        c_ln, ln_m, ln_e, ln_rs, xn, ln_out, u = self.c_ln, self.ln_m, self.ln_e, self.ln_rs, self.xn, self.ln_out, self.u
        self.wide(p + "ln_c", 1, dm, (c_ln, 0, 1), [Seg(k=1, a=(u, 0, 1, 0), b_w=True, w=_const(dm)),
                                                    Seg(k=dm, a=(u, 0, 0, 1), b_w=True, w=_const(-1))], ln.c_bits)
        v_segs = [Seg(k=dm, a=(c_ln, 0, 0, 1), b=(c_ln, 0, 0, 1)),
                  Seg(k=1, a_one=True, b_w=True, w=_const(ln.eps_code))]
        base = ln.xn.frac - ln.shift - f[p + "ln_xn"].frac_bits
        self.wide(p + "ln_m", 1, 1, (ln_m, 0, 0), v_segs, 32, wb="norm_m",
                  norm={"mant_frac": ln.mant_frac, "even": 1, "halve": 0, "off": 0, "lo": 0, "hi": 127, "add": 0})
        self.wide(p + "ln_e", 1, 1, (ln_e, 0, 0), v_segs, 32, wb="norm_n",
                  norm={"mant_frac": ln.mant_frac, "even": 1, "halve": 1, "off": 0, "lo": 0, "hi": 127,
                        "add": min(base, 0)})
        self.lut_op(ln.rsqrt, ln_m, ln_rs, 1, 1, s2=0, d2=0)
        self.mac(ln.xn, 1, dm, (xn, 0, 1), [Seg(k=1, a=(c_ln, 0, 1, 0), b=(ln_rs, 0, 0, 0)),
                                             Seg(vf=True, b=(ln_e, 0, 0, 0))])
        self.ins[-1].set_fmt(f[p + "ln_xn"], 0).rshift = max(base, 0)  # + e/2 from the vf segment
        g_t, b_t = ln.affine.terms
        self.mac(ln.affine, 1, dm, (ln_out, 0, 1), [
            Seg(k=1, a=(xn, 0, 1, 0), b_w=True, w=_elem(self.qw[g_t.a]), shift=g_t.shift),
            Seg(k=1, a_one=True, b_w=True, w=_elem(self.qw[b_t.a]), shift=b_t.shift)])
        return ln_out

    def layernorm_fold(self, L) -> int:
        """The folded LayerNorm (op_plan.LayerNormFoldPlan): xx = x_k x_l (all k, l: one instruction) ; x1 = [x, 1.0] ;
        V = Qv . xx + [q2, c0'] . x1 (two segments: the engine's; c0' = c0 in q2 x's units, exact) ; (M, n) ; rsqrt ;
        ln_s = G x + g0 ; ln_p = q(ln_s rs >> (frac + n)). Returns the address of ln_p."""
        f, p, ln, qw, x = self.f, L.prefix, L.norm, self.qw, self.x_in
        n, row, fx = self.d.n_in, self.A.pad(self.d.n_in), f["input"]
        self.wide(p + "ln_xx", n, n, (self.ln_xx, row, 1), [Seg(k=1, a=(x, 1, 0, 0), b=(x, 0, 1, 0))],
                  2 * fx.width)  # (-2**(w-1))**2 needs 2w signed bits
        one = 1 << (fx.frac_bits + min(ln.c0_shift, 0))  # c0's factor (1.0 when c0 is as coarse as q2)
        self.wide(p + "ln_x1", 1, n + 1, (self.ln_x1, 0, 1), [
            Seg(k=1, a=(x, 0, 1, 0), b_w=True, w=lambda i1, j2, k: int(j2 < n)),
            Seg(k=1, a_one=True, b_w=True, w=lambda i1, j2, k: one * int(j2 == n))], max(fx.width, one.bit_length() + 1))
        s_xx, s_x, s_c = (t.shift for t in ln.v.terms)
        up = {(k, m): j for j, (k, m) in enumerate((k, m) for k in range(n) for m in range(k, n))}
        qv, q2, c0 = qw[p + "fold.Qv"], qw[p + "fold.q2"], int(qw[p + "fold.c0"][0]) << max(ln.c0_shift, 0)
        v_segs = [Seg(k=(n - 1) * row + n, a=(self.ln_xx, 0, 0, 1), b_w=True, shift=s_xx,  # x_k x_l, k <= l once
                      w=lambda i1, j2, kk: int(qv[up[kk // row, kk % row]]) if (kk // row, kk % row) in up else 0),
                  Seg(k=n + 1, a=(self.ln_x1, 0, 0, 1), b_w=True, shift=s_x,
                      w=lambda i1, j2, kk: int(q2[kk]) if kk < n else c0)]
        self.wide(p + "ln_m", 1, 1, (self.ln_m, 0, 0), v_segs, 32, wb="norm_m",
                  norm={"mant_frac": ln.mant_frac, "even": 1, "halve": 0, "off": 0, "lo": 0, "hi": 127, "add": 0})
        self.wide(p + "ln_e", 1, 1, (self.ln_e, 0, 0), v_segs, 32, wb="norm_n",
                  norm={"mant_frac": ln.mant_frac, "even": 1, "halve": 1, "off": -ln.h_lo, "lo": 0,
                        "hi": ln.n_max, "add": 0})
        self.lut_op(ln.rsqrt, self.ln_m, self.ln_rs, 1, 1, s2=0, d2=0)
        self.matvec(ln.s, p + "ln_s", x, self.ln_s)
        fp = f[p + "ln_p"]
        self.ins.append(Instr(p + "ln_p", "mac", 1, 2 * self.d.d_inner, (self.ln_p, 0, 1), [
            Seg(k=1, a=(self.ln_s, 0, 1, 0), b=(self.ln_rs, 0, 0, 0)),
            Seg(vf=True, b=(self.ln_e, 0, 0, 0))]).set_fmt(fp, 0))
        self.ins[-1].rshift = ln.frac - fp.frac_bits  # + n from the vf segment
        return self.ln_p

    def in_proj(self, L, src: int) -> None:
        """in_proj -> xi (into the newest conv slot) and z: W_in ln_out, or folded ln_p + k0."""
        p, d, di = L.prefix, self.d, self.d.d_inner
        dests = ((p + "xi", self.conv[L.index] + (d.d_conv - 1) * self.di_p, 0), (p + "z", self.z, di))
        if not isinstance(L.norm, LayerNormFoldPlan):
            for name, dest, row0 in dests:
                self.matvec(L.in_proj, name, src, dest, rows=(row0, di))
            return
        p_t, k_t = L.in_proj.terms
        k0 = self.qw[k_t.a]
        for name, dest, row0 in dests:
            self.ins.append(Instr(name, "mac", 1, di, (dest, 0, 1), [
                Seg(k=1, a=(src + row0, 0, 1, 0), b_w=True, w=_const(1), shift=p_t.shift),
                Seg(k=1, a_one=True, b_w=True, w=lambda i1, j2, k, r=row0: int(k0[r + j2]), shift=k_t.shift)])
                .set_fmt(self.f[name], L.in_proj.frac))

    def mixer(self, L, src: int) -> None:
        """in_proj (from ln_out, or the fold's ln_p), conv, SiLU, selective parameters, state update, gate,
        out_proj + residual (into u)."""
        f, qw, d, p, i = self.f, self.qw, self.d, L.prefix, L.index
        dm, di, ns, dc, r = d.d_model, d.d_inner, d.d_state, d.d_conv, d.dt_rank
        z, xc, xa, xr, bm, cm, dt = self.z, self.xc, self.xa, self.xr, self.bm, self.cm, self.dt
        da, abar, dtx, y, zs, gate = self.da, self.abar, self.dtx, self.y, self.zs, self.gate
        conv, h, di_p = self.conv[i], self.h[i], self.di_p
        self.in_proj(L, src)
        w_t, b_t = L.conv.terms
        wc = qw[w_t.a]
        self.mac(L.conv, 1, di, (xc, 0, 1), [
            Seg(k=dc, a=(conv, 0, 1, di_p), b_w=True, w=lambda i1, j2, k: int(wc[j2, k]), shift=w_t.shift),
            Seg(k=1, a_one=True, b_w=True, w=_elem(qw[b_t.a]), shift=b_t.shift)])
        if dc > 1:  # shift the history: rows 1.. -> 0.. (each row is read before it is overwritten)
            self.wide(p + "conv_shift", dc - 1, di, (conv, di_p, 1),
                      [Seg(k=1, a=(conv + di_p, di_p, 1, 0), b_w=True, w=_const(1))], f[p + "xi"].width)
        self.lut_op(L.silu_xc, xc, xa, 1, di)
        self.matvec(L.x_proj, p + "xr", xa, xr, rows=(0, r))
        self.matvec(L.x_proj, p + "B", xa, bm, rows=(r, ns))
        self.matvec(L.x_proj, p + "C", xa, cm, rows=(r + ns, ns))
        self.matvec(L.dt_proj, p + "dt_raw", xr, dt)
        self.lut_op(L.softplus, dt, dt, 1, di)
        # state update over (d, n): lanes over the longer axis
        tr, sd, sn = self.tr, self.sd, self.sn
        n1, n2 = (ns, di) if tr else (di, ns)

        def dn(s_d, s_n):  # strides (s1, s2) for an operand with address stride s_d along d, s_n along n
            return (s_n, s_d) if tr else (s_d, s_n)

        a2 = qw[L.dA.terms[0].a]
        wdn = (lambda i1, j2, k: int(a2[j2, i1])) if tr else (lambda i1, j2, k: int(a2[i1, j2]))
        self.mac(L.dA, n1, n2, (da, *dn(sd, sn)), [Seg(k=1, a=(dt, *dn(1, 0), 0), b_w=True, w=wdn)])
        self.lut_op(L.exp2_decay, da, abar, n1, n2, *dn(sd, sn), *dn(sd, sn))
        self.mac(L.dtx, 1, di, (dtx, 0, 1), [Seg(k=1, a=(dt, 0, 1, 0), b=(xa, 0, 1, 0))])
        h_t, b_t = L.h.terms
        self.mac(L.h, n1, n2, (h, *dn(sd, sn)), [
            Seg(k=1, a=(h, *dn(sd, sn), 0), b=(abar, *dn(sd, sn), 0), shift=h_t.shift),
            Seg(k=1, a=(dtx, *dn(1, 0), 0), b=(bm, *dn(0, 1), 0), shift=b_t.shift)])
        c_t, d_t = L.y.terms
        self.mac(L.y, 1, di, (y, 0, 1), [Seg(k=ns, a=(h, 0, sd, sn), b=(cm, 0, 0, 1), shift=c_t.shift),
                                          Seg(k=1, a=(xa, 0, 1, 0), b_w=True, w=_elem(qw[d_t.a]), shift=d_t.shift)])
        self.lut_op(L.silu_z, z, zs, 1, di)
        self.mac(L.gate, 1, di, (gate, 0, 1), [Seg(k=1, a=(y, 0, 1, 0), b=(zs, 0, 1, 0))])
        w_t, u_t = L.out.terms
        wo = qw[w_t.a]
        self.mac(L.out, 1, dm, (self.u, 0, 1), [
            Seg(k=di, a=(gate, 0, 0, 1), b_w=True, w=lambda i1, j2, k: int(wo[j2, k]), shift=w_t.shift),
            Seg(k=1, a=(self.u, 0, 1, 0), b_w=True, w=_const(1), shift=u_t.shift)])

    def softmax_step(self) -> None:
        """score; gt = score > m; sm_e = 2**-|score - m|; (a, b); l = l a + b; acc = acc a + b f; m = max."""
        f, dm, hp = self.f, self.d.d_model, self.plan.head
        score, diff, gt, ngt, sme, sa, sb = self.score, self.diff, self.gt, self.ngt, self.sme, self.sa, self.sb
        u, sm_l, sm_acc, sm_m = self.u, self.sm_l, self.sm_acc, self.sm_m
        self.matvec(hp.score, "head.score", u, score)
        dsegs = [Seg(k=1, a=(score, 0, 1, 0), b_w=True, w=_const(1)),
                 Seg(k=1, a=(sm_m, 0, 1, 0), b_w=True, w=_const(-1))]
        self.wide("head.gt", 1, dm, (gt, 0, 1), dsegs, 32, wb="flag")
        self.wide("head.diff", 1, dm, (diff, 0, 1), dsegs, 32, wb="abs")
        self.lut_op(hp.exp2_softmax, diff, sme, 1, dm)
        ab_width = max(hp.one.bit_length(), f["head.sm_e"].width) + 1  # a, b: an sm_e code or 1.0
        self.wide("head.ngt", 1, dm, (ngt, 0, 1), [Seg(k=1, a_one=True, b_w=True, w=_const(1)),
                                                   Seg(k=1, a=(gt, 0, 1, 0), b_w=True, w=_const(-1))], 2)
        self.wide("head.a", 1, dm, (sa, 0, 1), [Seg(k=1, a=(gt, 0, 1, 0), b=(sme, 0, 1, 0)),
                                                Seg(k=1, a=(ngt, 0, 1, 0), b_w=True, w=_const(hp.one))], ab_width)
        self.wide("head.b", 1, dm, (sb, 0, 1), [Seg(k=1, a=(gt, 0, 1, 0), b_w=True, w=_const(hp.one)),
                                                Seg(k=1, a=(ngt, 0, 1, 0), b=(sme, 0, 1, 0))], ab_width)
        l_t, b_t = hp.sm_l.terms
        self.mac(hp.sm_l, 1, dm, (sm_l, 0, 1), [Seg(k=1, a=(sm_l, 0, 1, 0), b=(sa, 0, 1, 0), shift=l_t.shift),
                                                Seg(k=1, a=(sb, 0, 1, 0), b_w=True, w=_const(1), shift=b_t.shift)])
        a_t, f_t = hp.sm_acc.terms
        self.mac(hp.sm_acc, 1, dm, (sm_acc, 0, 1), [Seg(k=1, a=(sm_acc, 0, 1, 0), b=(sa, 0, 1, 0), shift=a_t.shift),
                                                    Seg(k=1, a=(u, 0, 1, 0), b=(sb, 0, 1, 0), shift=f_t.shift)])
        self.wide("head.sm_m", 1, dm, (sm_m, 0, 1), [Seg(k=1, a=(gt, 0, 1, 0), b=(score, 0, 1, 0)),
                                                     Seg(k=1, a=(ngt, 0, 1, 0), b=(sm_m, 0, 1, 0))],
                  f["head.score"].width)

    def finish(self) -> None:
        """pooled = acc recip(m_l) >> (p - F_l) (a variable shift); the MLP; mu and log_var."""
        f, dm, hh, hp = self.f, self.d.d_model, self.d.d_head_hidden, self.plan.head
        rm, rn, rcp, pooled, m0, g0, m2, g2 = self.rm, self.rn, self.rcp, self.pooled, self.m0, self.g0, self.m2, self.g2
        fl = f["head.sm_l"].frac_bits
        lsegs = [Seg(k=1, a=(self.sm_l, 0, 1, 0), b_w=True, w=_const(1))]
        self.wide("head.rc_m", 1, dm, (rm, 0, 1), lsegs, 32, wb="norm_m",
                  norm={"mant_frac": hp.mant_frac, "even": 0, "halve": 0, "off": 0, "lo": 0, "hi": 127, "add": 0})
        base = hp.pooled_frac - f["head.pooled"].frac_bits
        self.wide("head.rc_n", 1, dm, (rn, 0, 1), lsegs, 32, wb="norm_n",
                  norm={"mant_frac": hp.mant_frac, "even": 0, "halve": 0, "off": -fl, "lo": 0, "hi": hp.p_max,
                        "add": min(base, 0)})
        self.lut_op(hp.recip, rm, rcp, 1, dm)
        self.ins.append(Instr("head.pooled", "mac", 1, dm, (pooled, 0, 1), [
            Seg(k=1, a=(self.sm_acc, 0, 1, 0), b=(rcp, 0, 1, 0)), Seg(vf=True, b=(rn, 0, 1, 0))]).set_fmt(
                f["head.pooled"], 0))
        self.ins[-1].rshift = max(base, 0)
        self.matvec(hp.mlp0, "head.mlp0", pooled, m0)
        self.lut_op(hp.gelu0, m0, g0, 1, hh)
        self.matvec(hp.mlp2, "head.mlp2", g0, m2)
        self.lut_op(hp.gelu2, m2, g2, 1, hh)
        self.matvec(hp.mlp4, "mu", g2, self.out, rows=(0, 1))
        self.matvec(hp.mlp4, "log_var", g2, self.out_lv, rows=(1, 1))


def _elem(arr):
    """A per-element weight over j2."""
    return lambda i1, j2, k: int(arr[j2])


def _const(c):
    return lambda i1, j2, k: int(c)


def compile_model(fm: FixedModel, lanes: int) -> Program:
    """FixedModel -> Program for ``lanes`` lanes: its op plan (``fm.plan``) as three programs, INIT, STEP (one
    sample) and FINISH (the head's end of window), then weights, operand widths, bank and hazard checks."""
    if lanes < 2 or lanes & (lanes - 1):
        raise ValueError(f"lanes must be a power of two >= 2 (got {lanes}): the scratchpad has one bank per lane")
    c = _Compiler(fm, lanes)
    entry = {"init": 0}
    c.init()
    entry["step"] = len(c.ins)
    c.matvec(c.plan.embed, "embed", c.x_in, c.u)
    for L in c.plan.layers:
        c.mixer(L, c.layernorm_fold(L) if isinstance(L.norm, LayerNormFoldPlan) else c.layernorm(L))
    c.softmax_step()
    entry["finish"] = len(c.ins)
    c.finish()
    entry["end"] = len(c.ins)
    ins, f = c.ins, c.f
    banks = assemble_weights(ins, lanes)
    mul_a_w, mul_b_w = _operand_widths(ins, c.x_in, f["input"].width, lanes, banks)
    for it in ins:
        if it.width + (0 if it.signed else 1) > 32:
            raise ValueError(f"{it.name}: format of {it.width} bits does not fit a signed 32-bit scratchpad word")
        if it.rshift < 0:
            raise ValueError(f"{it.name}: negative right shift {it.rshift}")
    _check_banks(ins, lanes)
    schedule(ins, entry, lanes)
    prog = Program(ins, entry, lanes, max(c.A.top, 1), c.A.map, c.x_in, (c.out, c.out_lv), (f["mu"], f["log_var"]),
                   f["input"], banks, c.lut_rom, c.lut_list)
    prog.mul_a_w, prog.mul_b_w = mul_a_w, mul_b_w
    prog.lut_r_w = max([lut.shift for _, _, lut in c.lut_list] + [1])  # venom_lut_unit R_W
    return prog


def assemble_weights(ins: list[Instr], lanes: int) -> list[list[int]]:
    """The weight stream: per lane the B weights of every term in the engine's issue order; sets each instruction's
    ``wbase`` (its first word; 0 for an instruction without weights, whose pointer is never used)."""
    banks: list[list[int]] = [[] for _ in range(lanes)]
    for it in ins:
        wsegs = [sg for sg in it.segs if sg.b_w] if it.op == "mac" else []
        it.wbase = len(banks[0]) if wsegs else 0
        if any(sg.w is None for sg in wsegs):
            raise ValueError(f"{it.name}: weight operand without values")
        for i1 in range(it.n1):
            for i2 in range(-(-it.n2 // lanes)):
                for sg in wsegs:
                    for k in range(sg.k):
                        for lane in range(lanes):
                            j2 = i2 * lanes + lane
                            banks[lane].append(sg.w(i1, j2, k) if j2 < it.n2 else 0)
    return banks


def _written_bits(it: Instr) -> int:
    """Signed width that bounds every word an instruction writes."""
    if it.wb == "flag":
        return 2
    if it.wb == "norm_m":
        return it.norm["mant_frac"] + 3
    if it.wb == "norm_n":
        return 10
    return it.width + (0 if it.signed else 1)


def _addresses(it: Instr, op: tuple[int, int, int, int], k: int) -> list[int]:
    return [op[0] + i1 * op[1] + j2 * op[2] + kk * op[3] for i1 in range(it.n1) for j2 in range(it.n2)
            for kk in range(k)]


def _operand_widths(ins: list[Instr], in_addr: int, in_w: int, lanes: int, banks) -> tuple[int, int]:
    """Static signed widths of every multiplier operand: a scratchpad word is bounded by the widest format written
    to it (writers' formats saturate, exact intermediates are sized from their proven bounds). Puts the narrower
    scratchpad operand of each product on B and returns (MUL_A_W, MUL_B_W)."""
    bits: dict[int, int] = {in_addr: in_w, in_addr + 1: in_w}
    for it in ins:
        b = _written_bits(it)
        for a in _addresses(it, (it.dest[0], it.dest[1], it.dest[2], 0), 1):
            bits[a] = max(bits.get(a, 1), b)
    ww = max((abs(v) for bk in banks for v in bk), default=1).bit_length() + 1
    wa, wb = 2, 2
    for it in ins:
        if it.op != "mac":
            continue
        for sg in it.segs:
            if sg.vf:
                continue
            ba = 2 if sg.a_one else max(bits.get(a, 32) for a in _addresses(it, sg.a, sg.k))
            bb = ww if sg.b_w else max(bits.get(a, 32) for a in _addresses(it, sg.b, sg.k))
            if not sg.a_one and not sg.b_w and bb > ba:
                sg.a, sg.b = sg.b, sg.a
                ba, bb = bb, ba
            wa, wb = max(wa, ba), max(wb, bb)
    return wa, wb


# ------------------------------------------------------------------------------------------------ simulator
# ------------------------------------------------------------------------------------------------ pipeline timing
WRITE_LATENCY = 10  # rtl/venom_engine.v PIPE_LAT: a group whose last term issues at cycle t writes the scratchpad
#                     at the end of cycle t + 10; a term issued at t' reads it (in cycle t' + 1) iff t' >= t + 10
WAIT_MAX = 15  # the instruction's wait field (4 bits)
PROGRAMS = (("init", "step"), ("step", "finish"), ("finish", "end"))


def _addr(op: tuple[int, int, int, int], i1: int, j2: int, k: int) -> int:
    return op[0] + i1 * op[1] + j2 * op[2] + k * op[3]


def group_terms(it: Instr) -> list[tuple[Seg | None, int]]:
    """(segment, k) of the terms of one group in issue order (one cycle each); None: the no-operand term of an
    instruction without segments (it writes q(0))."""
    if it.op == "lut":
        return [(it.segs[0], 0)]
    return [(sg, k) for sg in it.segs for k in range(sg.k)] or [(None, 0)]


def term_reads(it: Instr, sg: Seg | None, i1: int, j2: int, k: int) -> list[int]:
    """Scratchpad addresses one lane reads for one term."""
    if sg is None:
        return []
    if it.op == "lut":
        return [_addr(sg.a, i1, j2, 0)]
    return ([] if sg.a_one or sg.vf else [_addr(sg.a, i1, j2, k)]) + ([] if sg.b_w else [_addr(sg.b, i1, j2, k)])


def groups(it: Instr, lanes: int):
    """(i1, i2, active j2 list) of every group of LANES elements, in issue order."""
    for i1 in range(it.n1):
        for i2 in range(-(-it.n2 // lanes)):
            yield i1, i2, [j2 for j2 in range(i2 * lanes, min(i2 * lanes + lanes, it.n2))]


def _check_banks(ins: list[Instr], lanes: int) -> None:
    """Lane l writes only bank l, at the row of its group's first element: element j2 of every destination must sit
    at an address = j2 (mod LANES), with consecutive elements at consecutive addresses."""
    for it in ins:
        if it.n2 > 1 and it.dest[2] != 1:
            raise ValueError(f"{it.name}: destination element stride {it.dest[2]} (the engine writes stride 1)")
        for i1, _, js in groups(it, lanes):
            for j2 in js:
                a = _addr((*it.dest, 0), i1, j2, 0)
                if a % lanes != j2 % lanes:
                    raise ValueError(f"{it.name}: element {j2} at address {a} is not in bank {j2 % lanes}")


def schedule(ins: list[Instr], entry: dict[str, int], lanes: int, assign: bool = True) -> None:
    """Set each instruction's ``wait`` (stall cycles after its fetch), the least that keeps every term from reading a
    scratchpad word before the pipelined write-back of an earlier instruction has written it (each program starts
    with the pipeline drained). With ``assign`` False, check the waits already set instead (ValueError on a hazard).
    A read-after-write hazard inside one instruction cannot be waited away and is an error."""
    for start, stop in PROGRAMS:
        ready: dict[int, int] = {}  # address -> first issue cycle that reads the new value
        t = 0
        for it in ins[entry[start]:entry[stop]]:
            timeline = []  # (offset, reads) per term, writes per group
            off = 0
            for i1, _, js in groups(it, lanes):
                terms = group_terms(it)
                for sg, k in terms:
                    timeline.append((off, [a for j2 in js for a in term_reads(it, sg, i1, j2, k)], None))
                    off += 1
                timeline.append((off - 1, [], [_addr((*it.dest, 0), i1, j2, 0) for j2 in js]))
            first = t + 1
            wait = max([0] + [ready[a] - (first + o) for o, reads, _ in timeline for a in reads if a in ready])
            if wait > WAIT_MAX:
                raise ValueError(f"{it.name}: needs {wait} wait cycles (> {WAIT_MAX})")
            if assign:
                it.wait = wait
            elif it.wait < wait:
                raise ValueError(f"{it.name}: reads a word {wait - it.wait} cycle(s) before it is written")
            wait = it.wait
            own: dict[int, int] = {}
            for o, reads, writes in timeline:
                now = first + wait + o
                for a in reads:
                    if own.get(a, -1) > now:
                        raise ValueError(f"{it.name}: reads address {a} before its own write-back wrote it")
                for a in writes or []:
                    own[a] = now + WRITE_LATENCY
            ready.update(own)
            t = first + wait + off


class IsaSim:
    """Runs a Program on one window at a time, lane by lane, as the RTL engine does (incl. DW-bit DMEM words), and
    counts its cycles: per instruction 1 fetch + wait + one cycle per term; per program the pipeline drain."""

    def __init__(self, prog: Program):
        self.p = prog
        self.dmem = [0] * prog.dmem_depth
        self.cycles = 0

    def _wr(self, addr: int, v: int) -> None:
        dw = self.p.dw
        if not -(1 << (dw - 1)) <= v < (1 << (dw - 1)):
            raise OverflowError(f"DMEM word overflow at {addr}: {v}")
        self.dmem[addr] = v

    def run(self, start: str, stop: str) -> None:
        p = self.p
        for it in p.instrs[p.entry[start]:p.entry[stop]]:
            self.exec(it)
        self.cycles += WRITE_LATENCY  # drain: busy until the last write-back

    def _operand(self, it: Instr, sg: Seg, which: str, lane: int, wptr: int, i1: int, j2: int, k: int) -> int:
        p = self.p
        if which == "a":
            return 0 if sg.vf else 1 if sg.a_one else self.dmem[_addr(sg.a, i1, j2, k)]
        return p.wbanks[lane][wptr] if sg.b_w else self.dmem[_addr(sg.b, i1, j2, k)]

    def exec(self, it: Instr) -> None:
        """One instruction. Writes are applied at the end of each group: schedule() guarantees that no later read
        comes before the hardware's write-back, so this equals the pipelined engine."""
        p, lanes = self.p, self.p.lanes
        wptr = it.wbase
        terms = group_terms(it)
        self.cycles += 1 + it.wait
        for i1, _, js in groups(it, lanes):
            self.cycles += len(terms)
            accs = [0] * lanes
            vf = [0] * lanes
            if it.op == "mac":
                for sg, k in terms:
                    for lane, j2 in enumerate(js) if sg is not None else []:
                        a = self._operand(it, sg, "a", lane, wptr, i1, j2, k)
                        b = self._operand(it, sg, "b", lane, wptr, i1, j2, k)
                        if sg.vf:
                            vf[lane] = b
                            continue
                        if not (-(1 << (p.mul_a_w - 1)) <= a < (1 << (p.mul_a_w - 1))
                                and -(1 << (p.mul_b_w - 1)) <= b < (1 << (p.mul_b_w - 1))):
                            raise OverflowError(f"{it.name}: operand exceeds the multiplier ({a}, {b})")
                        accs[lane] += (a * b) << sg.shift
                    if sg is not None and sg.b_w:
                        wptr += 1
            outs = []
            for lane, j2 in enumerate(js):
                rs = it.rshift + vf[lane]
                acc = accs[lane]
                if it.op == "lut":
                    acc, rs = lut_exact(it.lut, self.dmem[_addr(it.segs[0].a, i1, j2, 0)])
                if it.wb in ("quant", "abs"):
                    if rs < 0:
                        raise ValueError(f"{it.name}: negative shift")
                    v = quant(abs(acc) if it.wb == "abs" else acc, rs, it.width, it.signed, it.rnd, it.ovf)
                elif it.wb == "flag":
                    v = int(acc > 0)
                else:
                    nm = it.norm
                    if acc < 1:
                        raise ValueError(f"{it.name}: normalize of {acc}")
                    mant, e = normalize_int(acc, nm["mant_frac"], bool(nm["even"]))
                    if it.wb == "norm_m":
                        v = mant
                    else:
                        v = min(max((e >> nm["halve"]) + nm["off"], nm["lo"]), nm["hi"]) + nm["add"]
                outs.append((_addr((*it.dest, 0), i1, j2, 0), v))
            for addr, v in outs:
                self._wr(addr, v)

    def window(self, codes: np.ndarray) -> tuple[int, int]:
        """One window of input codes (L, 2) -> (mu, log_var) codes; runs INIT, STEP per sample, FINISH."""
        p = self.p
        self.run("init", "step")
        for t in range(codes.shape[0]):
            self.dmem[p.in_addr] = int(codes[t, 0])
            self.dmem[p.in_addr + 1] = int(codes[t, 1])
            self.run("step", "finish")
        self.run("finish", "end")
        return self.dmem[p.out_addr[0]], self.dmem[p.out_addr[1]]

    def step_cycles(self) -> int:
        c0 = self.cycles
        self.run("step", "finish")
        return self.cycles - c0
