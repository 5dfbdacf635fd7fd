"""Export a checkpoint to the generated part of the RTL: the top ``venom_top.v`` (parameters only), the instruction
ROM, the per-lane weight stream and the LUT ROM (``.mem`` files for ``$readmemh``), plus ``params.json``.

The hand-written engine (``rtl/venom_engine.v``) is generic; everything model-specific is data produced here from the
same precision config and the same LUT tables (``lut.py``) as the fixed-point golden model, through the instruction
set of :mod:`venom_fpga.rtl.isa` (whose simulator is proven bit-exact against ``FixedModel``).

Usage::

    python -m venom_fpga.rtl.export --weights W [--precision P] --lanes N --out rtl/generated/<name>
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path


from venom_fpga.fixed import lut as lutmod
from venom_fpga.files import atomic_path, generated_header
from venom_fpga.fixed.model import FixedModel
from venom_fpga.paths import RTL_DIR
from venom_fpga.fixed.qformat import OVERFLOW_MODES, ROUNDING_MODES
from venom_fpga.rtl.isa import LUT_KINDS, OPS, WB_MODES, WRITE_LATENCY, Instr, IsaSim, Program, compile_model, lut_fields

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
    IN_W: int = 16
    OUT_LANE_W: int = 32
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


def field_layout(p: RtlParams) -> list[tuple[str, int]]:
    """(name, width) LSB first: the instruction word of rtl/venom_engine.v (keep the two in sync)."""
    aw = p.ADDR_W
    seg = [("k", p.CNT_W), ("a_one", 1), ("a_base", aw), ("a_s1", aw), ("a_s2", aw), ("a_s2l", aw), ("a_sk", aw),
           ("b_w", 1), ("b_base", aw), ("b_s1", aw), ("b_s2", aw), ("b_s2l", aw), ("b_sk", aw), ("shift", p.SH_W),
           ("vf", 1)]
    out = [("op", 1), ("wb", 3), ("last", 1), ("nseg", 2), ("wait", 4), ("n1", p.CNT_W), ("n2", p.CNT_W),
           ("n2g", p.CNT_W),
           ("d_base", aw), ("d_s1", aw), ("d_s2", aw), ("d_s2l", aw)]
    out += [(f"s0_{n}", w) for n, w in seg] + [(f"s1_{n}", w) for n, w in seg]
    out += [("width", 7), ("signed", 1), ("rnd", 3), ("ovf", 2), ("rshift", p.SH_W), ("wbase", p.WA_W),
            ("l_kind", 2), ("l_tbase", p.TA_W), ("l_lo", p.DW), ("l_hi", p.DW), ("l_s", 6), ("l_fin", 7),
            ("l_nmax", 7), ("l_shrelu", 7), ("l_shv", 7),
            ("n_mf", 7), ("n_even", 1), ("n_halve", 1), ("n_off", 8), ("n_lo", 8), ("n_hi", 8), ("n_add", 8)]
    return out


def instr_fields(it: Instr, last: bool, p: RtlParams) -> dict[str, int]:
    lanes = p.LANES
    f: dict[str, int] = {"op": OPS.index(it.op), "wb": WB_MODES.index(it.wb), "last": int(last),
                         "nseg": len(it.segs) if it.op == "mac" else 1, "wait": it.wait, "n1": it.n1, "n2": it.n2,
                         "n2g": -(-it.n2 // lanes), "d_base": it.dest[0], "d_s1": it.dest[1], "d_s2": it.dest[2],
                         "d_s2l": lanes * it.dest[2]}
    for si, sg in enumerate(it.segs):
        q = f"s{si}_"
        f.update({q + "k": sg.k, q + "a_one": int(sg.a_one), q + "a_base": sg.a[0], q + "a_s1": sg.a[1],
                  q + "a_s2": sg.a[2], q + "a_s2l": lanes * sg.a[2], q + "a_sk": sg.a[3], q + "b_w": int(sg.b_w),
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


def pack(fields: dict[str, int], p: RtlParams) -> int:
    word, pos = 0, 0
    signed_ok = {"n_off", "n_add", "l_lo", "l_hi"}
    for name, w in field_layout(p):
        v = int(fields.get(name, 0))
        lo = -(1 << (w - 1)) if name in signed_ok else 0
        hi = (1 << w) - 1 if name not in signed_ok else (1 << (w - 1)) - 1
        if not lo <= v <= hi:
            raise ValueError(f"instruction field {name} = {v} does not fit {w} bits")
        word |= (v & ((1 << w) - 1)) << pos
        pos += w
    return word


def derive_params(prog: Program) -> RtlParams:
    lanes = prog.lanes
    ends = [v for k, v in prog.entry.items() if k != "init"]
    cnt = max(max(it.n1, it.n2, -(-it.n2 // lanes), *(s.k for s in it.segs)) for it in prog.instrs)
    tw = max(int(max(abs(c) for c in prog.lut_rom)).bit_length() + 1, 2)
    del ends
    return RtlParams(
        LANES=lanes, DW=prog.dw, ACC_W=64, SH_W=7, DMEM_DEPTH=prog.dmem_depth, CNT_W=int(cnt).bit_length() + 1,
        IROM_DEPTH=len(prog.instrs), WROM_DEPTH=max(len(prog.wbanks[0]), 1), WW=prog.ww,
        LUT_DEPTH=len(prog.lut_rom), TW=tw, IN_ADDR=prog.in_addr, OUT_ADDR=prog.out_addr[0],
        OUT_ADDR_LV=prog.out_addr[1],
        ENTRY_INIT=prog.entry["init"], ENTRY_STEP=prog.entry["step"], ENTRY_FINISH=prog.entry["finish"],
        IN_W=16, OUT_LANE_W=32, MUL_A_W=prog.mul_a_w, MUL_B_W=prog.mul_b_w,
        LUT_R_W=prog.lut_r_w)


def _hex(v: int, w: int) -> str:
    return format(v & ((1 << w) - 1), f"0{(w + 3) // 4}x")


def write_memories(prog: Program, p: RtlParams, out: Path, header: str, lasts: set[int]) -> int:
    """irom.mem (LAST set on the instructions in ``lasts``), wrom.mem and lut.mem of ``prog`` in ``out``, each
    starting with ``header``; returns the instruction width."""
    lanes = p.LANES
    iw = sum(w for _, w in field_layout(p))
    lines = ["// " + header, f"// instruction ROM: {len(prog.instrs)} x {iw} bits (layout: rtl_export.field_layout)"]
    for i, it in enumerate(prog.instrs):
        lines.append(f"{_hex(pack(instr_fields(it, i in lasts, p), p), iw)} // {i}: {it.name}")
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
    out.mkdir(parents=True, exist_ok=True)
    prog = compile_model(fm, lanes)
    p = derive_params(prog)
    if fm.fmt["input"].width > p.IN_W:
        raise ValueError(f"input format {fm.fmt['input']} wider than {p.IN_W} bits")
    for f_ in prog.out_fmt:
        if f_.width > p.OUT_LANE_W:
            raise ValueError(f"output format {f_} wider than {p.OUT_LANE_W} bits")
    lasts = {prog.entry["step"] - 1, prog.entry["finish"] - 1, prog.entry["end"] - 1}
    iw = write_memories(prog, p, out, header, lasts)
    # one file per table (the same words as lut.mem, via lut.write_mem)
    lut_dir = out / "luts"
    lut_dir.mkdir(exist_ok=True)
    for tname, _, lut in prog.lut_list:
        lutmod.write_mem(lut, lut_dir / f"{tname.replace('.', '_')}.mem", header)
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
    with atomic_path(out / "params.json") as tmp:
        tmp.write_text(json.dumps(params, indent=1) + "\n")
    # generated top
    plist = ",\n".join(f"    .{k}({v})" for k, v in p.__dict__.items())
    top = f"""// {header}
// venom_top: VENOM ({', '.join(f'{k}={v}' for k, v in fm.dims.to_dict().items())}), LANES={lanes}
`resetall
`timescale 1ns / 1ps
`default_nettype none

// Generated wrapper: venom_core with this model's parameters and memory files (in MEM_DIR).
module venom_top #(
    // directory of irom.mem, wrom.mem and lut.mem (with the trailing slash)
    parameter MEM_DIR = "{out.as_posix().rstrip('/')}/"
) (
    input  wire        ap_clk,
    input  wire        ap_rst_n,
    input  wire [31:0] iq_in_TDATA,
    input  wire        iq_in_TVALID,
    output wire        iq_in_TREADY,
    input  wire        iq_in_TLAST,
    output wire [63:0] energy_out_TDATA,
    output wire        energy_out_TVALID,
    input  wire        energy_out_TREADY
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
    return params


def _useful_mults(fm: FixedModel) -> int:
    """Multiplies per sample of the datapath itself (DESIGN.md §1), for the DSP efficiency figure."""
    d = fm.dims
    dm, di, ns, dc, r = d.d_model, d.d_inner, d.d_state, d.d_conv, d.dt_rank
    per_layer = (dm + dm + dm + 2 * di * dm + dc * di + (r + 2 * ns) * di + r * di + di * ns  # LN, in, conv, x, dt, dA
                 + di + 2 * di * ns + di * ns + di + di + di * dm)  # dtx, h, y (C h, D xa), gate, out
    return d.n_in * dm + d.n_layers * per_layer + dm * dm + 2 * dm


def source_files(out: str | Path) -> list[str]:
    return [str(RTL_DIR / f) for f in CORE_FILES] + [str((Path(out) / "venom_top.v").resolve())]


def main(argv: list[str] | None = None) -> int:
    from venom_fpga.model.checkpoint import load_checkpoint

    ap = argparse.ArgumentParser(prog="python -m venom_fpga.rtl.export", description=__doc__.split("\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--precision", default=None)
    ap.add_argument("--lanes", type=int, default=4)
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    ckpt = load_checkpoint(args.weights)
    fm = FixedModel(ckpt, args.precision)
    inputs = {Path(args.weights).name: args.weights}
    if args.precision:
        inputs[Path(args.precision).name] = args.precision
    cmd = f"python -m venom_fpga.rtl.export --lanes {args.lanes}"
    header = generated_header(cmd, inputs)
    params = export(fm, args.lanes, args.out, header)
    print(f"rtl_export: {args.out}: LANES={args.lanes}, {params['engine_cycles']['step']} engine cycles/sample, "
          f"{params['params']['IROM_DEPTH']} instructions, {params['params']['WROM_DEPTH']} weight words/lane")
    return 0


if __name__ == "__main__":
    sys.exit(main())
