# SPDX-License-Identifier: BSD-3-Clause
"""``venom-fpga export``: the Vitis-HLS C++ project of a checkpoint, and its bit-exact g++ C simulation.

The hand-written, header-only kernels live in ``hls/include/venom/`` (templated, driven by config structs, in
the style of hls4ml's nnet_utils). This module renders only what C++ cannot express -- formats, weights, tables,
config structs, top functions, test bench -- from the checkpoint and its precision config (the single source of
truth of every format, through the op plan shared with the fixed-point model), through the Jinja2 templates in ``hls/templates/``:

==================== =================================================================================================
file                 contents
==================== =================================================================================================
defines.h            model dimensions, interface constants, one typedef per signal and per (folded) weight tensor
weights.h            every weight as an exactly representable literal of its format (exact ap_fixed initialisation)
luts.h               the integer tables and their index constants (``lut.write_cpp_header``)
parameters.h         the config structs: sizes, folding, exact accumulator types (widths computed here), table rules
venom.h, venom.cpp   ``venom_reset``, ``venom_step``, ``venom_head`` and the free-running AXI4-Stream top ``venom_top``
venom_csim.cpp       ``extern "C"`` batch entry points for the g++ C simulation (never part of the HLS project)
tb_venom.cpp         C++ test bench: golden vectors through ``venom_top``; exit status 1 on any mismatch
tb_data/golden.txt   the golden vectors (input codes and output codes of the fixed-point model on a few windows)
build_prj.tcl        Vitis HLS project (csim, csynth, cosim, IP export) for xczu48dr-ffvg1517-2-e at 512 MHz
==================== =================================================================================================

Every file's first line says it is generated, from which checkpoint and precision config (with their sha256).
Exports are deterministic (two exports of the same inputs are byte-identical) and atomic (rendered into a
temporary directory beside the target, which then replaces it).

Exactness. Every datapath operation accumulates in an ``ap_fixed<W, I>`` typedef wide enough to hold its exact
value (bounds from the formats alone, so any weights of those formats fit; fraction bits = the golden model's),
then assigns once to the signal's type: by the ap_fixed semantics that ``qformat.py`` reproduces, that is
``QFormat.quantize`` of the same exact value. Every accumulator keeps enough integer bits that the headers'
conversion never reads a bit beyond its MSB (``I >= 1 - F_out``, see ``QFormat.quantize``).

Interface of ``venom_top`` (DESIGN.md §3): ``iq_in`` AXI4-Stream of 32-bit words, I code in [15:0], Q code in
[31:16] (two's complement, the input format's code in the low bits of each half), TLAST on a window's last
sample; ``energy_out`` one 64-bit word per window: the mu code in [31:0] and the log_var code in [63:32], each
sign-extended to 32 bits (formats ``mu`` and ``log_var`` of the precision config). The state is reset at every
window start. ``venom_top`` takes one beat per call (``ap_ctrl_none``, pipelined at II = the reuse factor).

C simulation: ``build_csim`` compiles venom.cpp and venom_csim.cpp with ``cxx.compile_shared`` (cached by
content) against the ap_types headers, with the stand-in stream classes of ``venom/csim_axis.h``;
:class:`CsimLibrary` runs windows of input codes through ``venom_top`` via ctypes. :func:`csim_model` builds
(or reuses) the library for a checkpoint and precision config (the ``csim`` predict backend).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from venom_fpga.errors import VenomError
from venom_fpga.fixed import lut as lutmod
from venom_fpga.files import generated_header, umask
from venom_fpga.model.checkpoint import Checkpoint, checkpoint_identity, load_checkpoint
from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.op_plan import LayerNormFoldPlan, LayerPlan, Sum
from venom_fpga.fixed.precision import (
    FOLD_TENSORS,
    FOLDS,
    PROBE_LENGTH,
    PrecisionConfig,
    precision_for,
    precision_identity,
    probe_windows,
    signal_doc,
)
from venom_fpga.fixed.qformat import QFormat
from venom_fpga.hls.array import ArraySpec
from venom_fpga.paths import HLS_DIR, build_dir
from venom_fpga.target import IQ_FIELD_BITS, IQ_WORD_BITS, PART, RECORD_FIELD_BITS, clock_period_ns

KERNEL_INCLUDE = HLS_DIR / "include"
TEMPLATE_DIR = HLS_DIR / "templates"
GENERATED_DIR = HLS_DIR / "generated"

COMMAND = "venom-fpga export"
VENDOR, LIBRARY, IP_VERSION = "venom-fpga", "venom", "0.1"
N_GOLDEN_PROBE = 8  # golden windows from precision.probe_windows, besides the extremes
DEFAULT_WINDOW_LENGTH = PROBE_LENGTH  # golden window length when the checkpoint has none in its metadata

TEMPLATES = {  # output file -> template
    "defines.h": "defines.h.j2",
    "weights.h": "weights.h.j2",
    "parameters.h": "parameters.h.j2",
    "venom.h": "venom.h.j2",
    "venom.cpp": "venom.cpp.j2",
    "venom_csim.cpp": "venom_csim.cpp.j2",
    "tb_venom.cpp": "tb_venom.cpp.j2",
    "build_prj.tcl": "build_prj.tcl.j2",
}
LUT_HEADER = "luts.h"
GOLDEN = "tb_data/golden.txt"
HLS_SOURCES = ["venom.cpp"]
CSIM_SOURCES = ["venom.cpp", "venom_csim.cpp"]


class ExportError(VenomError):
    """An export that cannot be made, explained in one line."""


# ------------------------------------------------------------------------------------------------ inputs
@dataclass
class ExportInputs:
    ckpt: Checkpoint
    precision: PrecisionConfig
    model: FixedModel
    header: str  # the GENERATED first line (without comment markers)
    ckpt_name: str
    precision_name: str


def prepare(weights: Checkpoint | str | os.PathLike, precision: PrecisionConfig | str | os.PathLike | None = None,
            name_map: str | os.PathLike | None = None) -> ExportInputs:
    """Load the checkpoint and its precision config (explicit, ``<stem>.precision.json``, or the default)."""
    ckpt = weights if isinstance(weights, Checkpoint) else load_checkpoint(weights, name_map=name_map)
    if isinstance(precision, PrecisionConfig):
        cfg = precision  # its dims are checked by the op plan (FixedModel below)
    else:
        cfg = precision_for(ckpt, precision) if precision is not None else precision_for(ckpt)
    model = FixedModel(ckpt, cfg)
    _check_interface(cfg)
    ckpt_name, ckpt_source = checkpoint_identity(ckpt)
    p_name, p_source = precision_identity(cfg)
    header = generated_header(COMMAND, {ckpt_name: ckpt_source, p_name: p_source})
    return ExportInputs(ckpt, cfg, model, header, ckpt_name, p_name)


def _check_interface(cfg: PrecisionConfig) -> None:
    inp = cfg.signals["input"]
    if inp.width > IQ_FIELD_BITS:
        raise ExportError(f"signals.input is {inp.width} bits; the AXI4-Stream word has {IQ_FIELD_BITS}-bit I and Q")
    for name in ("mu", "log_var"):
        if cfg.signals[name].width > RECORD_FIELD_BITS:
            raise ExportError(f"signals.{name} is {cfg.signals[name].width} bits; the output record has "
                              f"{RECORD_FIELD_BITS}-bit fields")


# ------------------------------------------------------------------------------------------------ names, bounds
def ident(name: str) -> str:
    """C++ identifier of a signal, tensor or table use: ``layers.0.xi`` -> ``layers_0_xi``."""
    return lutmod.cpp_identifier(name)


def type_name(name: str) -> str:
    return ident(name) + "_t"


def accum_ctype(bound: int, frac: int, out_fracs: list[int]) -> str:
    """The signed ``ap_fixed<W, I>`` that holds every integer of magnitude <= ``bound`` (in units of 2**-frac)
    exactly, with at least ``1 - F`` integer bits for every output F it is assigned to (the ap_fixed conversion
    reads the bit below the target's LSB, which must exist in the source)."""
    w = max(int(bound).bit_length() + 1, 2)
    i_min = max([1 - f for f in out_fracs] + [w - frac])
    w = i_min + frac
    return f"ap_fixed<{w},{i_min}>"


def _table_ctype(table_fmt: QFormat) -> str:
    return "int32_t" if table_fmt.width <= 31 else "int64_t"  # as lut.write_cpp_header writes them


def _value_bits(lut: lutmod.Lut) -> int:
    """Bits of the interpolated value V (>= 0) and enough integer bits for the assignment to the output."""
    vmax = int(np.abs(lut.codes).max()) << lut.shift
    return max(vmax.bit_length(), lut.value_frac - lut.out_fmt.frac_bits + 1, 1)


# ------------------------------------------------------------------------------------------------ config structs
SIZE_CONSTS = {"n", "n_in", "n_out", "n_chan", "n_hidden", "d_model", "d_inner", "d_state", "d_conv", "dt_rank",
               "hist_len", "reuse_factor", "row_partition"}


class _Struct:
    """One generated config struct: ``struct name : base { static const ...; typedef ...; };``."""

    def __init__(self, name: str, base: str, doc: str):
        self.name, self.base, self.doc = name, base, doc
        self.consts: list[dict[str, str]] = []
        self.types: list[dict[str, str]] = []

    def const(self, name: str, value: int, doc: str = "", ctype: str | None = None) -> _Struct:
        if ctype is None:
            ctype = "unsigned" if name in SIZE_CONSTS else ("long long" if name.endswith("_code") else "int")
        suffix = "LL" if ctype == "long long" else ""
        self.consts.append({"ctype": ctype, "name": name, "value": f"{int(value)}{suffix}", "doc": doc})
        return self

    def ref(self, name: str, value: str, ctype: str, doc: str = "") -> _Struct:
        self.consts.append({"ctype": ctype, "name": name, "value": value, "doc": doc})
        return self

    def type(self, name: str, value: str, doc: str = "") -> _Struct:
        if value.isidentifier() and value not in ("int32_t", "int64_t"):
            value = "::" + value  # a generated global type: never the base config's member of the same name
        self.types.append({"name": name, "value": value, "doc": doc})
        return self


class _Planner:
    """The config structs of the kernels, rendered from the op plan (``inp.model.plan``): sizes from the weights,
    exact accumulator types from each op's bound and fraction bits."""

    def __init__(self, inp: ExportInputs, spec: ArraySpec):
        self.inp = inp
        self.cfg = inp.precision
        self.plan = inp.model.plan
        self.dims = inp.ckpt.dims
        self.f = self.cfg.signals
        self.spec = spec
        self.reuse = spec.fold  # the step's products share a multiplier over F clocks; the head's over its interval
        self.structs: list[_Struct] = []

    # ---- helpers
    def lut_struct(self, use: str) -> str:
        lut = self.plan.luts[use]
        ns = f"venom_lut::{ident(use)}::"
        s = _Struct(f"lut_{ident(use)}", "venom::lut_config",
                    f"{use}: {lut.family} table ({lut.kind}), in {lut.in_fmt.ctype()} -> out {lut.out_fmt.ctype()}")
        s.ref("shift", ns + "SHIFT", "int")
        s.ref("lo_code", ns + "LO_CODE", "long long")
        s.ref("hi_code", ns + "HI_CODE", "long long")
        s.ref("value_frac", ns + "VALUE_FRAC", "int")
        s.const("value_bits", _value_bits(lut), "bits of the interpolated value V (computed by the exporter)",
                ctype="int")
        s.ref("nmax", ns + "NMAX", "int")
        s.ref("n_entries", ns + "N_ENTRIES", "unsigned")
        s.type("table_t", _table_ctype(lut.table_fmt), f"entries of {lut.table_fmt.ctype()}")
        self.structs.append(s)
        return s.name

    def accum(self, op: Sum) -> str:
        """The exact accumulator type of a plan op, with integer bits for each of its outputs."""
        return accum_ctype(op.bound, op.frac, [self.f[o].frac_bits for o in op.outputs])

    def dense_struct(self, name: str, op: Sum, doc: str) -> str:
        """A dense_config of a matrix-vector op (first term W x, optional bias term, optional extra addends)."""
        weight = op.terms[0].a
        n_out, n_in = self.plan.weights[weight].shape
        bias = next((t.a for t in op.terms[1:] if t.a in self.cfg.weights), None)
        s = _Struct(name, "venom::dense_config", doc)
        s.const("n_in", n_in).const("n_out", n_out).const("reuse_factor", self.reuse)
        s.const("row_partition", max(1, math.ceil(n_out / self.reuse)))
        s.type("weight_t", type_name(weight))
        s.type("bias_t", type_name(bias) if bias is not None else type_name(weight),
               "" if bias is not None else "(no bias)")
        s.type("accum_t", self.accum(op), "exact")
        self.structs.append(s)
        return s.name

    # ---- the model
    def plan_model(self) -> dict[str, Any]:
        embed = self.dense_struct("config_embed", self.plan.embed, "embed: u = W_e x + b_e")
        layers = [self.plan_layer(L) for L in self.plan.layers]
        head = self.plan_head()
        return {"embed": embed, "layers": layers, "head": head}

    def plan_layer(self, L: LayerPlan) -> dict[str, Any]:
        P = f"config_{ident(L.prefix[:-1])}"
        if isinstance(L.norm, LayerNormFoldPlan):
            return self._plan_mixer(L, P, self.fold_struct(P + "_norm", L), None)
        return self._plan_mixer(L, P, *self.norm_struct(P + "_norm", L))

    def norm_struct(self, name: str, L: LayerPlan) -> tuple[str, str]:
        """The layernorm_config and the in_proj dense_config of a layer."""
        d, p, ln = self.dims, L.prefix, L.norm
        norm = _Struct(name, "venom::layernorm_config", f"{p[:-1]}: LayerNorm (exact integer recipe)")
        norm.const("n", d.d_model).const("reuse_factor", self.reuse)
        norm.const("eps_code", ln.eps_code, "round(eps d^3 2**(2 F_u)), in V's units")
        norm.const("shift", ln.shift, "S = e_max / 2").const("mant_frac", ln.mant_frac)
        norm.const("sum_bits", ln.sum_bits, "sum U and d U_j")
        norm.const("c_bits", ln.c_bits, "c_j = d U_j - sum U").const("v_bits", ln.v_max.bit_length(),
                                                                      "V = sum c^2 + EPS")
        norm.const("cn_bits", ln.cn_bits, "CN_j = c_j << (S - e/2)")
        norm.type("rsqrt_t", type_name(p + "ln_rsqrt")).type("xn_t", type_name(p + "ln_xn"))
        norm.type("gamma_t", type_name(p + "norm.weight"), FOLDS["norm.weight"])
        norm.type("beta_t", type_name(p + "norm.bias"))
        norm.type("accum_t", self.accum(ln.affine), "gamma' xn + beta, exact")
        norm.type("rsqrt_config", self.lut_struct(ln.rsqrt.name))
        self.structs.append(norm)
        in_proj = self.dense_struct(name[:-len("_norm")] + "_in_proj", L.in_proj, f"{p}in_proj: [xi, z] = W_in n "
                                    "(no bias)")
        return norm.name, in_proj

    def fold_struct(self, name: str, L: LayerPlan) -> str:
        """The layernorm_fold_config of a folded layer (op_plan.LayerNormFoldPlan)."""
        d, p, ln = self.dims, L.prefix, L.norm
        s = _Struct(name, "venom::layernorm_fold_config", f"{p[:-1]}: LayerNorm + in_proj folded, from the input x")
        s.const("n_in", d.n_in).const("d_inner", d.d_inner).const("reuse_factor", self.reuse)
        s.const("xx_bits", ln.xx.acc_bits + 1, "x_k x_l")
        s.const("v_bits", ln.v.acc_bits, "V and its partial sums")
        for key, t in zip(("s_xx", "s_x", "s_c"), ln.v.terms):
            s.const(key, t.shift)
        s.const("mant_frac", ln.mant_frac).const("h_lo", ln.h_lo).const("n_max", ln.n_max, "p's shift: frac + n")
        for key in ("Qv", "q2", "c0", "k0"):
            s.type(f"{key}_t", type_name(f"{p}fold.{key}"), FOLD_TENSORS[f"fold.{key}"])
        s.type("rsqrt_t", type_name(p + "ln_rsqrt")).type("s_t", type_name(p + "ln_s"))
        s.type("p_t", type_name(p + "ln_p"))
        s.type("p_accum_t", accum_ctype(ln.p.bound << ln.n_max, ln.frac + ln.n_max, [self.f[p + "ln_p"].frac_bits]),
               "s rs with n_max spare fraction bits, exact")
        s.type("in_accum_t", self.accum(L.in_proj), "p + k0, exact")
        s.type("s_config", self.dense_struct(name + "_s", ln.s, f"{p}ln_s = G x + g0"))
        s.type("rsqrt_config", self.lut_struct(ln.rsqrt.name))
        self.structs.append(s)
        return s.name

    def _plan_mixer(self, L: LayerPlan, P: str, norm: str, in_proj: str | None) -> dict[str, Any]:
        d, i, p, m = self.dims, L.index, L.prefix, f"{L.prefix}mixer."
        conv = _Struct(P + "_conv", "venom::conv1d_config", f"{p[:-1]}: causal depthwise conv")
        conv.const("n_chan", d.d_inner).const("d_conv", d.d_conv).const("hist_len", max(d.d_conv - 1, 1))
        conv.const("reuse_factor", self.reuse)
        conv.type("weight_t", type_name(m + "conv1d.weight")).type("bias_t", type_name(m + "conv1d.bias"))
        conv.type("accum_t", self.accum(L.conv), "exact")
        self.structs.append(conv)
        x_proj = self.dense_struct(P + "_x_proj", L.x_proj, f"{p}x_proj: [xr, B, C] = W_x xa (no bias)")
        dt_proj = self.dense_struct(P + "_dt_proj", L.dt_proj, f"{p}dt_proj: dt_raw = W_dt xr + b_dt")
        # scan
        scan = _Struct(P + "_scan", "venom::ssm_config", f"{p[:-1]}: selective scan")
        scan.const("d_inner", d.d_inner).const("d_state", d.d_state).const("reuse_factor", self.reuse)
        for sig in ("xa", "dt", "B", "C", "dA", "Abar", "dtx", "h", "y"):
            scan.type(f"{sig}_t", type_name(p + sig))
        scan.type("A_t", type_name(m + "A_log"), FOLDS["mixer.A_log"]).type("D_t", type_name(m + "D"))
        scan.type("dA_accum_t", self.accum(L.dA), "dt A2, exact")
        scan.type("dtx_accum_t", self.accum(L.dtx), "dt xa, exact")
        scan.type("h_accum_t", self.accum(L.h), "Abar h + dtx B, exact")
        scan.type("y_accum_t", self.accum(L.y), "sum C h + D xa, exact")
        scan.type("exp2_config", self.lut_struct(L.exp2_decay.name))
        self.structs.append(scan)
        out_proj = self.dense_struct(P + "_out_proj", L.out, f"{p}out_proj and residual: out = u + W_out gate")
        mixer = _Struct(P, "venom::mixer_config", f"{p}: pre-norm residual Mamba block")
        mixer.const("d_model", d.d_model).const("d_inner", d.d_inner).const("d_state", d.d_state)
        mixer.const("dt_rank", d.dt_rank).const("reuse_factor", self.reuse)
        for sig in (() if in_proj is None else ("ln_out",)) + ("xi", "z", "xc", "xr", "dt_raw", "zs", "gate"):
            mixer.type(f"{sig}_t", type_name(p + sig))
        mixer.type("gate_accum_t", self.accum(L.gate), "y SiLU(z), exact")
        mixer.type("norm_config", norm)
        if in_proj is not None:
            mixer.type("in_proj_config", in_proj)
        mixer.type("conv_config", conv.name)
        mixer.type("x_proj_config", x_proj).type("dt_proj_config", dt_proj).type("scan_config", scan.name)
        mixer.type("out_proj_config", out_proj)
        mixer.type("silu_xc_config", self.lut_struct(L.silu_xc.name))
        mixer.type("softplus_config", self.lut_struct(L.softplus.name))
        mixer.type("silu_z_config", self.lut_struct(L.silu_z.name))
        self.structs.append(mixer)
        u_type = "embed_t" if i == 0 else type_name(L.residual)
        return {"i": i, "config": P, "member": ident(p[:-1]), "prefix": ident(p), "in_type": u_type,
                "out_type": type_name(p + "out"), "in_var": f"u{i}", "out_var": f"u{i + 1}",
                "folded": in_proj is None}

    def plan_head(self) -> dict[str, Any]:
        d, f, hp = self.dims, self.f, self.plan.head
        score = self.dense_struct("config_pool_score", hp.score, "head.attn: s = W_a' f + b_a' (log2 units)")
        fl = f["head.sm_l"]
        pool = _Struct("config_pool", "venom::attention_pool_config", "streaming attention pooling")
        pool.const("n_chan", d.d_model).const("reuse_factor", self.reuse)
        pool.const("score_min_code", hp.m_init, "initial m")
        pool.const("l_frac", fl.frac_bits).const("p_max", hp.p_max)
        pool.const("mant_frac", hp.mant_frac)
        for sig in ("score", "sm_e", "sm_l", "sm_acc", "sm_recip"):
            pool.type(f"{sig}_t", type_name("head." + sig))
        pool.type("diff_t", hp.diff.ctype(), "|s - m|")
        pool.type("l_accum_t", self.accum(hp.sm_l), "l a + b, exact")
        pool.type("acc_accum_t", self.accum(hp.sm_acc), "acc a + b f, exact")
        pool.type("pooled_accum_t", accum_ctype(hp.pooled_bound << hp.p_max, hp.pooled_frac + hp.p_max,
                                                [f["head.pooled"].frac_bits]),
                  "acc r with p_max spare fraction bits, exact")
        pool.type("score_config", score)
        pool.type("exp2_config", self.lut_struct(hp.exp2_softmax.name))
        pool.type("recip_config", self.lut_struct(hp.recip.name))
        self.structs.append(pool)
        self.reuse = self.spec.head_interval
        mlp0 = self.dense_struct("config_head_mlp0", hp.mlp0, "head.mlp.0")
        mlp2 = self.dense_struct("config_head_mlp2", hp.mlp2, "head.mlp.2")
        mlp4 = self.dense_struct("config_head_mlp4", hp.mlp4, "head.mlp.4: [mu, log_var]")
        head = _Struct("config_head", "venom::mlp_head_config", "MLP head")
        head.const("n_in", d.d_model).const("n_hidden", d.d_head_hidden).const("reuse_factor", self.reuse)
        for sig in ("head.mlp0", "head.gelu0", "head.mlp2", "head.gelu2", "mu", "log_var"):
            head.type(sig.split(".")[-1] + "_t", type_name(sig))
        head.type("mlp0_config", mlp0).type("mlp2_config", mlp2).type("mlp4_config", mlp4)
        head.type("gelu0_config", self.lut_struct(hp.gelu0.name))
        head.type("gelu2_config", self.lut_struct(hp.gelu2.name))
        self.structs.append(head)
        return {"feature_type": type_name(hp.feature)}


def _array_struct(spec: ArraySpec) -> tuple[_Struct, dict[str, Any]]:
    """config_array (venom/array.h) and the port descriptions of venom.h: the Verilog array's token and record
    words (rtl.array.stream_layouts)."""
    from venom_fpga.rtl.array import COUNT_W, stream_layouts

    token, record = stream_layouts(spec.length, spec.slots, spec.channels)
    if token["q"].lsb != token["i"].lsb + IQ_FIELD_BITS:
        raise ExportError("the token word's I and Q fields must be adjacent")
    s = _Struct("config_array", "venom::array_config",
                f"the array: {spec.slots} slot(s), {spec.channels} channel(s), fold {spec.fold}, head every "
                f"{spec.head_interval} clock(s)")
    for name, doc in (("slots", "S: windows in flight"), ("channels", "channel ids in the tag"),
                      ("length", "L: samples per window"), ("fold", "F: clocks per beat (step II)"),
                      ("head_interval", "clocks between head starts (head II)"),
                      ("head_queue", "windows waiting for the head"), ("record_fifo", "records waiting to leave"),
                      ("period", "clocks per model-rate sample period (the token source's)"),
                      ("slot_distance", f"least beats between two tokens of one slot (period {spec.period} clocks)")):
        s.const(name, getattr(spec, name), doc, ctype="unsigned")
    s.const("count_bits", COUNT_W, "drop counters", ctype="int")
    s.const("token_bits", token.bits, "token TDATA (whole bytes)", ctype="int")
    s.const("record_bits", record.bits, "record TDATA (whole bytes)", ctype="int")
    s.const("tok_iq_lsb", token["i"].lsb, ctype="int").const("tok_iq_bits", 2 * IQ_FIELD_BITS, ctype="int")
    for name in ("t", "slot", "channel", "time"):
        s.const(f"tok_{name}_lsb", token[name].lsb, ctype="int").const(f"tok_{name}_bits", token[name].bits, ctype="int")
    for name in ("mu", "log_var", "channel", "time"):
        s.const(f"rec_{name}_lsb", record[name].lsb, ctype="int").const(f"rec_{name}_bits", record[name].bits,
                                                                         ctype="int")
    describe = lambda lay: ", ".join(f"{f.name} [{f.lsb + f.bits - 1}:{f.lsb}]" for f in lay.fields)  # noqa: E731
    ports = {"slots": spec.slots, "channels": spec.channels, "fold": spec.fold, "head_interval": spec.head_interval,
             "token_bits": token.bits, "record_bits": record.bits, "token_doc": describe(token),
             "record_doc": describe(record), "state_storage": spec.state_storage}
    return s, ports


# ------------------------------------------------------------------------------------------------ weights
def _literal(code: int, frac: int) -> str:
    """The exact decimal value of code * 2**-frac (shortest repr of an exactly representable double)."""
    return repr(math.ldexp(float(code), -frac))


def _array_rows(codes: np.ndarray, frac: int, per_line: int = 8) -> tuple[str, list[str]]:
    """(C++ array dimensions, initialiser lines) of an integer code array."""
    dims = "".join(f"[{n}]" for n in codes.shape)

    def flat(v: np.ndarray) -> list[str]:
        items = [_literal(int(c), frac) for c in v]
        return [", ".join(items[j : j + per_line]) + "," for j in range(0, len(items), per_line)]

    if codes.ndim == 1:
        return dims, flat(codes)
    lines = []
    for row in codes.reshape(codes.shape[0], -1) if codes.ndim > 2 else codes:
        body = flat(row)
        if len(body) == 1:
            lines.append("{" + body[0][:-1] + "},")
        else:
            lines += ["{"] + ["    " + b for b in body] + ["},"]
    return dims, lines


def _weights(inp: ExportInputs) -> list[dict[str, Any]]:
    out = []
    for name in inp.precision.weight_shapes():
        fmt = inp.precision.weights[name]
        codes = inp.model.quantized_weights[name]
        dims, rows = _array_rows(codes, fmt.frac_bits)
        fold = next((doc for key, doc in {**FOLDS, **FOLD_TENSORS}.items() if name.endswith(key)), "")
        if name.endswith("conv1d.weight"):
            fold = "(d_inner, d_conv): the middle axis of (d_inner, 1, d_conv) dropped"
        out.append({"name": name, "ident": ident(name), "type": type_name(name), "ctype": fmt.ctype(),
                    "dims": dims, "shape": "x".join(str(n) for n in codes.shape), "rows": rows, "fold": fold,
                    "min": int(codes.min()), "max": int(codes.max())})
    return out


# ------------------------------------------------------------------------------------------------ test windows
def extreme_windows(fmt: QFormat, length: int, seed: int = 0) -> np.ndarray:
    """Input-code windows (N, length, 2) at the edges of the input format: full scale +/-, zeros, alternating
    +/- full scale, long constant runs, a full-scale step, an impulse, and random full-range codes."""
    lo, hi = fmt.min_code, fmt.max_code
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    alt = np.where(t % 2 == 0, hi, lo)
    w = [
        np.full((length, 2), hi), np.full((length, 2), lo), np.zeros((length, 2)),
        np.stack([np.full(length, hi), np.full(length, lo)], 1),
        np.stack([alt, alt], 1), np.stack([alt, alt[::-1]], 1),
        np.stack([np.where(t < length // 2, lo, hi)] * 2, 1),
        np.stack([np.where(t == length // 3, hi, 0), np.where(t == length // 3, lo, 0)], 1),
    ]
    for k in range(4):  # long constant runs at random levels (incl. the extremes)
        n_runs = k + 2
        edges = np.sort(rng.choice(np.arange(1, length), n_runs - 1, replace=False)) if length > n_runs else []
        levels = rng.choice(np.array([lo, hi, 0, rng.integers(lo, hi + 1), rng.integers(lo, hi + 1)]), (n_runs, 2))
        seg = np.searchsorted(edges, t, side="right")
        w.append(levels[seg])
    for _ in range(6):  # random full-range codes
        w.append(rng.integers(lo, hi + 1, (length, 2)))
    return np.stack(w).astype(np.int64)


def golden_windows(inp: ExportInputs, length: int | None = None, n_probe: int = N_GOLDEN_PROBE) -> np.ndarray:
    """Input codes of the golden vectors: probe windows (pulses on noise, quantized) and the extremes."""
    length = length or inp.ckpt.meta.window_length or DEFAULT_WINDOW_LENGTH
    fmt = inp.precision.signals["input"]
    probe = inp.model.quantize_input(probe_windows(length, n_probe, seed=1))
    return np.concatenate([probe, extreme_windows(fmt, length)])


def _golden_text(inp: ExportInputs, codes: np.ndarray) -> str:
    out, _ = inp.model.run_codes(codes)
    n, length, _ = codes.shape
    f = inp.precision.signals
    lines = [
        f"# {inp.header}",
        "# venom-fpga golden vectors (fixed-point model): first line 'n_windows length'; then per window",
        f"# 'length' lines 'I Q' (input codes, {f['input'].ctype()}) and one line 'mu log_var' (output codes,",
        f"# {f['mu'].ctype()} and {f['log_var'].ctype()}).",
        f"{n} {length}",
    ]
    for k in range(n):
        lines += [f"{int(a)} {int(b)}" for a, b in codes[k]]
        lines.append(f"{int(out[k, 0])} {int(out[k, 1])}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ rendering
def _environment():
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def context(inp: ExportInputs, spec: ArraySpec, out_dir: Path | None = None) -> dict[str, Any]:
    """Everything the templates read; numbers and type strings are formatted here. ``out_dir``: where the project
    will live (the tcl script finds the kernels relative to it; default hls/generated/<name>)."""
    d = inp.ckpt.dims
    out_dir = Path(out_dir) if out_dir is not None else GENERATED_DIR / "project"
    include_rel = Path(os.path.relpath(KERNEL_INCLUDE, out_dir.resolve())).as_posix()
    planner = _Planner(inp, spec)
    plan = planner.plan_model()
    array_struct, array_ports = _array_struct(spec)
    planner.structs.append(array_struct)
    sig = inp.precision.signals
    dims = [
        ("D_MODEL", d.d_model, "d_model"), ("D_INNER", d.d_inner, "d_inner = expand d_model"),
        ("D_STATE", d.d_state, "d_state"), ("D_CONV", d.d_conv, "causal conv taps"),
        ("DT_RANK", d.dt_rank, "dt_rank"), ("N_LAYERS", d.n_layers, "Mamba blocks"),
        ("D_HEAD_HIDDEN", d.d_head_hidden, "head MLP width"), ("N_IN", d.n_in, "I and Q"),
        ("N_OUT", d.n_out, "mu and log_var"),
        ("MAX_WINDOW_LENGTH", inp.precision.max_window_length, "longest window the softmax normaliser holds"),
    ]
    iface = [
        ("IQ_WORD_BITS", IQ_WORD_BITS, "a token's I/Q field"),
        ("IQ_FIELD_BITS", IQ_FIELD_BITS, "I in [IQ_FIELD_BITS-1:0], Q in [2 IQ_FIELD_BITS-1:IQ_FIELD_BITS]"),
        ("RECORD_FIELD_BITS", RECORD_FIELD_BITS, "a record's mu and log_var fields (codes sign-extended)"),
    ]
    signals = [{"name": n, "type": type_name(n), "ctype": sig[n].ctype(), "doc": signal_doc(n)}
               for n in inp.precision.signal_names()]
    ckpt_meta = inp.ckpt.meta
    return {
        "header": inp.header,
        "checkpoint": inp.ckpt_name,
        "precision": inp.precision_name,
        "dims": [{"name": a, "value": b, "doc": c} for a, b, c in dims],
        "iface": [{"name": a, "value": b, "doc": c} for a, b, c in iface],
        "array": array_ports,
        "signals": signals,
        "weights": _weights(inp),
        "structs": planner.structs,
        "layers": plan["layers"],
        "embed_config": plan["embed"],
        "feature_type": plan["head"]["feature_type"],
        "n_layers": d.n_layers,
        "window_length": ckpt_meta.window_length or DEFAULT_WINDOW_LENGTH,
        "mu_frac": sig["mu"].frac_bits,
        "log_var_frac": sig["log_var"].frac_bits,
        # build_prj.tcl.j2
        "project": "venom_prj",
        "top": "venom_array",
        "part": PART,
        "clock_period_ns": f"{clock_period_ns():.3f}",
        "sources": HLS_SOURCES,
        "tb_sources": ["tb_venom.cpp"],
        "tb_argv": GOLDEN,
        "cflags": f"-std=c++14 -I$prj_dir/{include_rel}",
        "vendor": VENDOR,
        "library": LIBRARY,
        "ip_version": IP_VERSION,
    }


def resolve_spec(inp: ExportInputs, array: ArraySpec | None = None, channels: int | None = None,
                 sample_rate: float | None = None) -> ArraySpec:
    """The array to export: ``array`` (its window length must be the checkpoint's, if it names one), else the
    planner's choice for
    ``channels`` channels (default DEFAULT_CHANNELS; ``venom-fpga plan``) at the model rate ``sample_rate`` (default
    the checkpoint's)."""
    length = inp.ckpt.meta.window_length or DEFAULT_WINDOW_LENGTH
    if array is not None:
        if inp.ckpt.meta.window_length and array.length != length:
            raise ExportError(f"the array's windows are {array.length} samples, the checkpoint's {length}")
        return array
    from venom_fpga.hls.array import planned_spec
    from venom_fpga.rtl.planner import DEFAULT_CHANNELS

    return planned_spec(inp.model, inp.ckpt.meta, length, channels or DEFAULT_CHANNELS, sample_rate=sample_rate)


def render_into(inp: ExportInputs, out_dir: Path, spec: ArraySpec, golden_length: int | None = None,
                final_dir: Path | None = None) -> list[str]:
    """Write every generated file into ``out_dir`` (which must exist), for a project that will live in
    ``final_dir`` (default ``out_dir``); returns the relative paths."""
    ctx = context(inp, spec, final_dir if final_dir is not None else out_dir)
    env = _environment()
    written = []
    for out_name, template in TEMPLATES.items():
        text = env.get_template(template).render(**ctx)
        first = text.split("\n", 1)[0]
        if inp.header not in first:  # every template starts with the header comment
            raise ExportError(f"template {template}: the first line must carry the GENERATED header")
        (out_dir / out_name).write_text(text)
        written.append(out_name)
    lutmod.write_cpp_header(inp.model.luts, out_dir / LUT_HEADER, inp.header)
    written.append(LUT_HEADER)
    golden = out_dir / GOLDEN
    golden.parent.mkdir(parents=True, exist_ok=True)
    golden.write_text(_golden_text(inp, golden_windows(inp, golden_length or spec.length)))
    written.append(GOLDEN)
    return sorted(written)


def _replace_dir(staging: Path, target: Path) -> None:
    """Move ``staging`` onto ``target`` (replacing it): two renames on one file system."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / target.name)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _check_replaceable(target: Path) -> None:
    """Only an empty directory or a previous export may be replaced."""
    if not target.exists():
        return
    if not target.is_dir():
        raise ExportError(f"{target}: exists and is not a directory")
    if any(target.iterdir()):
        marker = target / "venom.h"
        first = marker.read_text(errors="replace").split("\n", 1)[0] if marker.is_file() else ""
        if not first.startswith(f"// GENERATED by {COMMAND}"):
            raise ExportError(f"{target}: not empty and not a previous export (no generated venom.h); "
                              "choose another --out")


def default_out_dir(weights: str | os.PathLike) -> Path:
    """``hls/generated/<checkpoint stem>/`` of this repository."""
    return GENERATED_DIR / Path(weights).stem


@dataclass
class ExportResult:
    out_dir: Path
    files: list[str]
    seconds: float
    header: str


def export(weights: Checkpoint | str | os.PathLike, precision: PrecisionConfig | str | os.PathLike | None = None,
           out: str | os.PathLike | None = None, array: ArraySpec | None = None, channels: int | None = None,
           sample_rate: float | None = None, name_map: str | os.PathLike | None = None) -> ExportResult:
    """Render the HLS project of a checkpoint into ``out`` (default ``hls/generated/<stem>/``), atomically: the
    array ``array``, else the planner's for ``channels`` channels (:func:`resolve_spec`)."""
    t0 = time.perf_counter()
    inp = prepare(weights, precision, name_map=name_map)
    spec = resolve_spec(inp, array, channels, sample_rate)
    target = Path(out) if out is not None else default_out_dir(inp.ckpt.path)
    _check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.export-", dir=target.parent))
    try:
        files = render_into(inp, staging, spec, final_dir=target)
        os.chmod(staging, 0o777 & ~umask())
        _replace_dir(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(target, files, time.perf_counter() - t0, inp.header)


# ------------------------------------------------------------------------------------------------ C simulation
def csim_cache_dir() -> Path:
    """Where the csim backend keeps its exports and libraries: ``$VENOM_FPGA_BUILD/csim`` (default build/csim
    of this repository)."""
    return build_dir() / "csim"


def build_csim(export_dir: str | os.PathLike, build_dir: str | os.PathLike | None = None, opt: str = "-O2") -> Path:
    """Compile an exported project's C simulation (venom.cpp + venom_csim.cpp) into a cached ``.so`` in
    ``build_dir`` (default: ``lib`` of :func:`csim_cache_dir`)."""
    from venom_fpga.hls import cxx

    export_dir = Path(export_dir)
    build_dir = Path(build_dir) if build_dir is not None else csim_cache_dir() / "lib"
    return cxx.compile_shared([export_dir / s for s in CSIM_SOURCES], build_dir,
                              include_dirs=[export_dir, KERNEL_INCLUDE], defines={"VENOM_CSIM_STANDIN": None},
                              # the kernels' static state (template statics) stays in each library: two arrays
                              # loaded in one process must not share one slot_state (g++ makes such statics
                              # process-wide "unique" symbols by default)
                              extra_flags=["-fno-gnu-unique"], opt=opt, name="venom_csim")


INFO_FIELDS = ("d_model", "n_in", "n_out", "n_layers", "input_width", "mu_width", "log_var_width", "slots", "channels",
               "length", "fold", "head_interval", "head_queue", "record_fifo", "period")


class CsimLibrary:
    """A compiled C simulation (``build_csim``) of the array top ``venom_array``: token streams clock by clock
    (:meth:`run_stream`, through :func:`venom_fpga.hls.array.run_stream`) or windows of input codes
    (:meth:`run_codes`)."""

    def __init__(self, so_path: str | os.PathLike):
        from venom_fpga.hls import cxx

        self.path = Path(so_path)
        self.export_dir: Path | None = None  # the exported project it was built from (csim_model)
        self.lib = cxx.load_library(self.path)
        i64p = ctypes.POINTER(ctypes.c_int64)
        u32p = ctypes.POINTER(ctypes.c_uint32)
        i64 = ctypes.c_int64
        self.lib.venom_csim_info.argtypes = [i64p, ctypes.c_int]
        self.lib.venom_csim_info.restype = ctypes.c_int
        self.lib.venom_csim_batch.argtypes = [u32p, ctypes.c_int, ctypes.c_int, i64p]
        self.lib.venom_csim_batch.restype = ctypes.c_int
        self.lib.venom_csim_features.argtypes = [u32p, ctypes.c_int, ctypes.c_int, i64p, i64p]
        self.lib.venom_csim_features.restype = ctypes.c_int
        self.lib.venom_csim_array.argtypes = [i64, *[i64p] * 7, i64, i64p, i64, i64, i64p, i64p, i64p]
        self.lib.venom_csim_array.restype = i64
        info = np.zeros(len(INFO_FIELDS), dtype=np.int64)
        self.lib.venom_csim_info(info.ctypes.data_as(i64p), len(INFO_FIELDS))
        self.info = dict(zip(INFO_FIELDS, (int(v) for v in info)))

    @property
    def spec(self) -> ArraySpec:
        """The array this library simulates."""
        i = self.info
        return ArraySpec(i["slots"], i["channels"], i["length"], i["fold"], i["head_interval"], i["head_queue"],
                         i["record_fifo"], i["period"])

    def run_stream(self, segments: list) -> dict[str, np.ndarray]:
        """array_sim segments (token streams) through the array, clock by clock; what it saw (array_sim.compare)."""
        from venom_fpga.hls.array import run_stream
        return run_stream(self, segments)

    def _words(self, iq_codes: np.ndarray) -> np.ndarray:
        x = np.asarray(iq_codes, dtype=np.int64)
        if x.ndim != 3 or x.shape[2] != self.info["n_in"] or x.shape[1] == 0:
            raise ValueError(f"expected input codes of shape (N, L, {self.info['n_in']}), found {x.shape}")
        w = self.info["input_width"]
        if x.size and (x.min() < -(1 << (w - 1)) or x.max() >= 1 << (w - 1)):
            raise ValueError(f"input codes outside the {w}-bit input format")
        return np.ascontiguousarray(pack_iq(x))

    def run_codes(self, iq_codes: np.ndarray) -> np.ndarray:
        """Input codes (N, L, 2) -> output codes (N, 2) (mu, log_var): windows through the array (a few in flight,
        none dropped; ``venom_csim_batch``)."""
        words = self._words(iq_codes)
        n, length = words.shape
        if length != self.info["length"]:
            raise ValueError(f"windows of {length} samples; this array takes {self.info['length']}")
        out = np.zeros((n, self.info["n_out"]), dtype=np.int64)
        rc = self.lib.venom_csim_batch(words.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)), n, length,
                                       out.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)))
        if rc != 0:
            raise RuntimeError(f"venom_csim_batch failed ({rc})")
        return out

    def features(self, iq_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Through venom_step/venom_head: (feature codes (N, L, d_model), output codes (N, 2))."""
        words = self._words(iq_codes)
        n, length = words.shape
        feats = np.zeros((n, length, self.info["d_model"]), dtype=np.int64)
        out = np.zeros((n, self.info["n_out"]), dtype=np.int64)
        rc = self.lib.venom_csim_features(words.ctypes.data_as(ctypes.POINTER(ctypes.c_uint32)), n, length,
                                          feats.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
                                          out.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)))
        if rc != 0:
            raise RuntimeError(f"venom_csim_features failed ({rc})")
        return feats, out


def pack_iq(codes: np.ndarray) -> np.ndarray:
    """(N, L, 2) input codes -> (N, L) uint32 words: I in [15:0], Q in [31:16] (two's complement)."""
    c = np.asarray(codes, dtype=np.int64)
    mask = (1 << IQ_FIELD_BITS) - 1
    return ((c[..., 0] & mask) | ((c[..., 1] & mask) << IQ_FIELD_BITS)).astype(np.uint32)


_LIBRARIES: dict[str, CsimLibrary] = {}


def csim_export(weights: Checkpoint | str | os.PathLike, precision: PrecisionConfig | str | os.PathLike | None = None,
                array: ArraySpec | None = None, cache: str | os.PathLike | None = None) -> Path:
    """Export a checkpoint under ``cache`` (default :func:`csim_cache_dir`) into a directory named by the hash of
    the generated files (reused when it exists), for the C simulation; returns that directory. ``array``: default
    the planner's (:func:`resolve_spec`)."""
    inp = prepare(weights, precision)
    spec = resolve_spec(inp, array)
    root = Path(cache) if cache is not None else csim_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=root))
    try:
        files = render_into(inp, staging, spec, final_dir=root / "export")  # fixed: same text, same key
        h = hashlib.sha256()
        for name in files:
            h.update(name.encode() + b"\0" + (staging / name).read_bytes())
        target = root / f"{Path(inp.ckpt_name).stem}-{h.hexdigest()[:16]}"
        if not (target / "venom.cpp").is_file():
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def csim_library(export_dir: str | os.PathLike, build_dir: str | os.PathLike | None = None) -> CsimLibrary:
    """Build (or reuse) and load the C simulation of an exported project (each library once per process)."""
    so = build_csim(export_dir, build_dir)
    lib = _LIBRARIES.get(str(so))
    if lib is None:
        lib = _LIBRARIES[str(so)] = CsimLibrary(so)
    lib.export_dir = Path(export_dir)
    return lib


def csim_model(weights: Checkpoint | str | os.PathLike, precision: PrecisionConfig | str | os.PathLike | None = None,
               array: ArraySpec | None = None, cache: str | os.PathLike | None = None) -> CsimLibrary:
    """The C simulation of a checkpoint: :func:`csim_export`, compiled into ``<cache>/lib`` (cached), loaded."""
    target = csim_export(weights, precision, array, cache)
    return csim_library(target, target.parent / "lib")
