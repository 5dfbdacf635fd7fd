# SPDX-License-Identifier: BSD-3-Clause
"""Export a checkpoint to the generated part of the RTL: the top ``venom_top.v`` (parameters only), the instruction
ROM, the per-lane weight stream and the LUT ROM (``irom.mem``, ``wrom.mem``, ``lut.mem`` for ``$readmemh``), the
source list ``venom_top.f`` and ``params.json``.

The hand-written engine (``rtl/venom_engine.v``) is generic; everything model-specific is data produced here from the
same precision config and the same LUT tables (``lut.py``) as the fixed-point golden model, through the instruction
set of :mod:`venom_fpga.rtl.isa` (whose simulator is proven bit-exact against ``FixedModel``). Instruction words are
packed with :mod:`venom_fpga.rtl.contract`, the definition that ``rtl/venom_contract.vh`` is rendered from.

Entry points: :func:`export_checkpoint` (``venom-fpga rtl``: a checkpoint file) and :func:`export` (a FixedModel).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from venom_fpga import target
from venom_fpga.files import atomic_path, generated_header
from venom_fpga.fixed import lut as lutmod
from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.precision import PrecisionConfig, precision_identity
from venom_fpga.fixed.qformat import OVERFLOW_MODES, ROUNDING_MODES
from venom_fpga.model.checkpoint import Checkpoint, checkpoint_identity, load_checkpoint
from venom_fpga.paths import REPO_ROOT, RTL_DIR
from venom_fpga.rtl import contract
from venom_fpga.rtl.isa import ACC_W, LUT_KINDS, OPS, WB_MODES, WRITE_LATENCY, Instr, IsaSim, Program, compile_model, \
    lut_fields

COMMAND = "venom-fpga rtl"
GENERATED_DIR = RTL_DIR / "generated"

CORE_FILES = ("venom_quant.v", "venom_normalize.v", "venom_rom.v", "venom_lut_unit.v", "venom_engine.v",
              "venom_core.v")


def _bits(n: int) -> int:
    return max(int(n - 1).bit_length(), 1) if n > 1 else 1


@dataclass
class RtlParams:
    LANES: int
    DW: int
    ACC_W: int
    SH_W: int
    DMEM_DEPTH: int
    CNT_W: int
    IROM_DEPTH: int
    WROM_DEPTH: int
    WW: int
    LUT_DEPTH: int
    TW: int
    IN_ADDR: int
    OUT_ADDR: int
    OUT_ADDR_LV: int
    ENTRY_INIT: int
    ENTRY_STEP: int
    ENTRY_FINISH: int
    MUL_A_W: int = 32
    MUL_B_W: int = 32
    LUT_R_W: int = 16
    PIPE_LAT: int = WRITE_LATENCY

    @property
    def ADDR_W(self) -> int:  # noqa: N802
        return _bits(self.DMEM_DEPTH)

    @property
    def WA_W(self) -> int:  # noqa: N802
        return _bits(self.WROM_DEPTH)

    @property
    def TA_W(self) -> int:  # noqa: N802
        return _bits(self.LUT_DEPTH)

    def values(self) -> dict[str, int]:
        """Every parameter, the derived widths included (what the instruction layout is resolved with)."""
        return self.__dict__ | {"ADDR_W": self.ADDR_W, "WA_W": self.WA_W, "TA_W": self.TA_W}


def instr_fields(it: Instr, last: bool, p: RtlParams) -> dict[str, int]:
    lanes = p.LANES
    f: dict[str, int] = {"op": OPS.index(it.op), "wb": WB_MODES.index(it.wb), "last": int(last),
                         "nseg": len(it.segs) if it.op == "mac" else 1, "wait": it.wait, "n1": it.n1, "n2": it.n2,
                         "n2g": -(-it.n2 // lanes), "d_base": it.dest[0], "d_s1": it.dest[1], "d_s2": it.dest[2],
                         "d_s2l": lanes * it.dest[2]}
    for si, sg in enumerate(it.segs):
        q = f"seg{si}_"
        f.update({q + "k": sg.k, q + "a_one": int(sg.a_one), q + "a_base": sg.a[0], q + "a_s1": sg.a[1],
                  q + "a_s2": sg.a[2], q + "a_s2l": lanes * sg.a[2], q + "a_sk": sg.a[3], q + "b_ws": int(sg.b_w),
                  q + "b_base": sg.b[0], q + "b_s1": sg.b[1], q + "b_s2": sg.b[2], q + "b_s2l": lanes * sg.b[2],
                  q + "b_sk": sg.b[3], q + "shift": sg.shift, q + "vf": int(sg.vf)})
    f.update({"width": it.width, "signed": int(it.signed), "rnd": ROUNDING_MODES.index(it.rnd),
              "ovf": OVERFLOW_MODES.index(it.ovf), "rshift": it.rshift, "wbase": it.wbase})
    if it.op == "lut":
        lf = lut_fields(it.lut)
        f.update({"l_kind": lf["kind"], "l_tbase": it.lut_base, "l_lo": lf["lo"], "l_hi": lf["hi"], "l_s": lf["s"],
                  "l_fin": lf["f_in"], "l_nmax": lf["nmax"], "l_shrelu": lf["sh_relu"], "l_shv": lf["sh_v"],
                  "rshift": lf["rshift"]})
        if LUT_KINDS[lf["kind"]] != it.lut.kind:
            raise AssertionError
    if it.norm:
        n = it.norm
        f.update({"n_mf": n["mant_frac"], "n_even": n["even"], "n_halve": n["halve"], "n_off": n["off"],
                  "n_lo": n["lo"], "n_hi": n["hi"], "n_add": n["add"]})
    return f


def derive_params(prog: Program) -> RtlParams:
    lanes = prog.lanes
    ends = [v for k, v in prog.entry.items() if k != "init"]
    cnt = max(max(it.n1, it.n2, -(-it.n2 // lanes), *(s.k for s in it.segs)) for it in prog.instrs)
    tw = max(int(max(abs(c) for c in prog.lut_rom)).bit_length() + 1, 2)
    del ends
    return RtlParams(
        LANES=lanes, DW=prog.dw, ACC_W=ACC_W, SH_W=7, DMEM_DEPTH=prog.dmem_depth, CNT_W=int(cnt).bit_length() + 1,
        IROM_DEPTH=len(prog.instrs), WROM_DEPTH=max(len(prog.wbanks[0]), 1), WW=prog.ww,
        LUT_DEPTH=len(prog.lut_rom), TW=tw, IN_ADDR=prog.in_addr, OUT_ADDR=prog.out_addr[0],
        OUT_ADDR_LV=prog.out_addr[1],
        ENTRY_INIT=prog.entry["init"], ENTRY_STEP=prog.entry["step"], ENTRY_FINISH=prog.entry["finish"],
        MUL_A_W=prog.mul_a_w, MUL_B_W=prog.mul_b_w,
        LUT_R_W=prog.lut_r_w)


def _hex(v: int, w: int) -> str:
    return format(v & ((1 << w) - 1), f"0{(w + 3) // 4}x")


def write_memories(prog: Program, p: RtlParams, out: Path, header: str, lasts: set[int]) -> int:
    """irom.mem (LAST set on the instructions in ``lasts``), wrom.mem and lut.mem of ``prog`` in ``out``, each
    starting with ``header``; returns the instruction width."""
    lanes = p.LANES
    values = p.values()
    iw = contract.word_bits(values)
    lines = ["// " + header, f"// instruction ROM: {len(prog.instrs)} x {iw} bits (layout: rtl/venom_contract.vh)"]
    for i, it in enumerate(prog.instrs):
        lines.append(f"{_hex(contract.pack(instr_fields(it, i in lasts, p), values), iw)} // {i}: {it.name}")
    with atomic_path(out / "irom.mem") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    # weight stream: one word per line = the LANES banks, lane 0 in the low bits
    lines = ["// " + header, f"// weight stream: {p.WROM_DEPTH} x {lanes} lanes x {p.WW} bits (lane 0 lowest)"]
    for j in range(len(prog.wbanks[0])):
        word = 0
        for ln in range(lanes):
            word |= (prog.wbanks[ln][j] & ((1 << p.WW) - 1)) << (ln * p.WW)
        lines.append(_hex(word, lanes * p.WW))
    if not prog.wbanks[0]:
        lines.append(_hex(0, lanes * p.WW))
    with atomic_path(out / "wrom.mem") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    # LUT ROM: the lut.py tables at their base addresses
    lines = ["// " + header, f"// LUT ROM: {p.LUT_DEPTH} x {p.TW} bits (two's complement), tables at @base"]
    for tname, base, lut in prog.lut_list:
        lines.append(f"// {tname} (table sha256 {lutmod.table_hash(lut)}): {lut.index_rule()}")
        lines.append(f"@{base:x}")
        lines += [_hex(int(c), p.TW) for c in lut.codes]
    with atomic_path(out / "lut.mem") as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return iw


def export(fm: FixedModel, lanes: int, out: str | Path, header: str, name: str | None = None) -> dict:
    """Write the generated RTL of ``fm`` at ``lanes`` lanes into ``out``; returns params.json's content."""
    out = Path(out)
    prog = compile_model(fm, lanes)
    p = derive_params(prog)
    if fm.fmt["input"].width > target.IQ_FIELD_BITS:
        raise ValueError(f"input format {fm.fmt['input']} is wider than the {target.IQ_FIELD_BITS}-bit I and Q "
                         "fields of the input word")
    for f_ in prog.out_fmt:
        if f_.width > target.RECORD_FIELD_BITS:
            raise ValueError(f"output format {f_} is wider than the {target.RECORD_FIELD_BITS}-bit fields of the "
                             "output record")
    lasts = {prog.entry["step"] - 1, prog.entry["finish"] - 1, prog.entry["end"] - 1}
    out.mkdir(parents=True, exist_ok=True)
    iw = write_memories(prog, p, out, header, lasts)
    # cycle budget from the instruction-level model
    sim = IsaSim(prog)
    step_cycles = sim.step_cycles()
    c0 = sim.cycles
    sim.run("finish", "end")
    finish_cycles = sim.cycles - c0
    c0 = sim.cycles
    sim.run("init", "step")
    init_cycles = sim.cycles - c0
    mults = _useful_mults(fm)
    params = {
        "name": name or out.name, "header": header, "params": p.__dict__ | {"ADDR_W": p.ADDR_W, "IW": iw},
        "engine_cycles": {"step": step_cycles, "finish": finish_cycles, "init": init_cycles},
        "useful_multiplies_per_sample": mults,
        "dims": fm.dims.to_dict(), "dmem_map": prog.dmem_map,
        "out_formats": [f_.ctype() for f_ in prog.out_fmt], "in_format": fm.fmt["input"].ctype(),
    }
    # generated top
    plist = ",\n".join(f"    .{k}({v})" for k, v in p.__dict__.items())
    ports = _top_ports()
    top = f"""// {header}
// venom_top: VENOM ({', '.join(f'{k}={v}' for k, v in fm.dims.to_dict().items())}), LANES={lanes}
`resetall
`timescale 1ns / 1ps
`default_nettype none

// Generated wrapper: venom_core with this model's parameters and memory files (in MEM_DIR).
module venom_top #(
    // directory of irom.mem, wrom.mem and lut.mem (with the trailing slash)
    parameter MEM_DIR = "{_mem_dir(out)}"
) (
{ports}
);

venom_core #(
{plist},
    .IROM_FILE({{MEM_DIR, "irom.mem"}}),
    .WROM_FILE({{MEM_DIR, "wrom.mem"}}),
    .LUT_FILE({{MEM_DIR, "lut.mem"}})
) core_inst (
    .ap_clk(ap_clk),
    .ap_rst_n(ap_rst_n),
    .iq_in_TDATA(iq_in_TDATA),
    .iq_in_TVALID(iq_in_TVALID),
    .iq_in_TREADY(iq_in_TREADY),
    .iq_in_TLAST(iq_in_TLAST),
    .energy_out_TDATA(energy_out_TDATA),
    .energy_out_TVALID(energy_out_TVALID),
    .energy_out_TREADY(energy_out_TREADY)
);

endmodule

`resetall
"""
    with atomic_path(out / "venom_top.v") as tmp:
        tmp.write_text(top)
    with atomic_path(out / "venom_top.f") as tmp:  # paths relative to this file
        rel = [os.path.relpath(RTL_DIR / f, out.resolve()) for f in CORE_FILES] + ["venom_top.v"]
        tmp.write_text("\n".join(rel) + "\n")
    # last: a directory with params.json holds a complete export (rtl/sim.py reuses it)
    with atomic_path(out / "params.json") as tmp:
        tmp.write_text(json.dumps(params, indent=1) + "\n")
    return params


def _top_ports() -> str:
    """venom_top's port declarations: Vitis-HLS names, MKIDGen3 stream widths (venom_fpga.target)."""
    iq, rec = f"[{target.IQ_WORD_BITS - 1}:0]", f"[{target.RECORD_BITS - 1}:0]"
    ports = [("input", "", "ap_clk"), ("input", "", "ap_rst_n"), ("input", iq, "iq_in_TDATA"),
             ("input", "", "iq_in_TVALID"), ("output", "", "iq_in_TREADY"), ("input", "", "iq_in_TLAST"),
             ("output", rec, "energy_out_TDATA"), ("output", "", "energy_out_TVALID"),
             ("input", "", "energy_out_TREADY")]
    w = max(len(r) for _, r, _ in ports)
    return ",\n".join(f"    {d:<6} wire {r:<{w}} {n}" for d, r, n in ports)


def _mem_dir(out: Path) -> str:
    """MEM_DIR's default: ``out`` relative to the repository root when inside it (the committed tops name no machine's
    paths; every flow sets MEM_DIR itself), else absolute; with the trailing slash."""
    full = out.resolve()
    rel = full.relative_to(REPO_ROOT) if full.is_relative_to(REPO_ROOT) else full
    return rel.as_posix().rstrip("/") + "/"


def _useful_mults(fm: FixedModel) -> int:
    """Multiplies per sample of the datapath itself (DESIGN.md §1), for the DSP efficiency figure."""
    d = fm.dims
    dm, di, ns, dc, r = d.d_model, d.d_inner, d.d_state, d.d_conv, d.dt_rank
    per_layer = (dm + dm + dm + 2 * di * dm + dc * di + (r + 2 * ns) * di + r * di + di * ns  # LN, in, conv, x, dt, dA
                 + di + 2 * di * ns + di * ns + di + di + di * dm)  # dtx, h, y (C h, D xa), gate, out
    return d.n_in * dm + d.n_layers * per_layer + dm * dm + 2 * dm


def export_checkpoint(weights: Checkpoint | str | os.PathLike,
                      precision: PrecisionConfig | str | os.PathLike | None = None, lanes: int = 4,
                      out: str | os.PathLike | None = None, name_map: str | os.PathLike | None = None) -> dict:
    """``venom-fpga rtl``: the generated RTL of a checkpoint (a path, or one already loaded) at ``lanes`` lanes in
    ``out`` (default ``rtl/generated/<checkpoint stem>_l<lanes>/``), each file written atomically. ``precision``: a
    config or its path (default: ``<stem>.precision.json`` beside the checkpoint, else the default config). Returns
    params.json's content, with ``out`` (the directory written) added."""
    ckpt = weights if isinstance(weights, Checkpoint) else load_checkpoint(weights, name_map=name_map)
    fm = FixedModel(ckpt, precision)  # (the op plan checks the config's dims)
    out = Path(out) if out is not None else GENERATED_DIR / f"{Path(ckpt.path).stem}_l{lanes}"
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: exists and is not a directory")
    inputs = dict([checkpoint_identity(ckpt), precision_identity(fm.precision)])
    if name_map is not None:
        inputs[Path(name_map).name] = Path(name_map)
    header = generated_header(f"{COMMAND} --lanes {lanes}", inputs)
    return export(fm, lanes, out, header) | {"out": out}
