# SPDX-License-Identifier: BSD-3-Clause
"""The contract between the exporter and the hand-written Verilog, defined once: the instruction word of
``rtl/venom_engine.v`` (every field, its width as a number or an engine parameter, LSB first), the codes of the
enumerated fields and the AXI4-Stream word widths.

Python packs instructions with it (:func:`pack`, used by :mod:`venom_fpga.rtl.export`); the Verilog reads it from
``rtl/venom_contract.vh``, rendered from it (:func:`render_header`) and committed (tests/rtl/test_contract.py checks
that the file is fresh). Regenerate with ``python -m venom_fpga.rtl.contract``.

The header goes inside a module body (after the port list), so its localparams belong to that module:

* always: the widths of the fixed-width fields (``F_<FIELD>_W``), the enum codes and the stream widths;
* with ``VENOM_CONTRACT_LAYOUT`` defined before the include: the instruction-word layout, whose widths and offsets
  are expressions of the including module's parameters ``ADDR_W, CNT_W, SH_W, WA_W, TA_W, DW`` (venom_engine):
  ``F_<FIELD>`` (offset in the word), ``SEG_<FIELD>`` (offset inside a MAC segment), ``SEG_W``, ``IW``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from venom_fpga import target
from venom_fpga.files import atomic_path, check_generated_header, generated_header
from venom_fpga.fixed.qformat import OVERFLOW_MODES, ROUNDING_MODES
from venom_fpga.paths import RTL_DIR
from venom_fpga.rtl.isa import LUT_KINDS, OPS, WAIT_MAX, WB_MODES

HEADER_PATH = RTL_DIR / "venom_contract.vh"
COMMAND = "python -m venom_fpga.rtl.contract"
LAYOUT_MACRO = "VENOM_CONTRACT_LAYOUT"
# the engine parameters a field width may name (venom_engine.v)
PARAMS = ("ADDR_W", "CNT_W", "SH_W", "WA_W", "TA_W", "DW")
N_SEGMENTS = 2  # MAC segments per instruction


def code_bits(n_codes: int) -> int:
    """Bits of a field that holds the codes 0 .. n_codes - 1."""
    return max((n_codes - 1).bit_length(), 1)


@dataclass(frozen=True)
class Field:
    name: str
    width: int | str | Layout  # bits, an engine parameter (PARAMS) or a nested layout
    signed: bool = False  # two's complement (pack range-checks it as signed)
    doc: str = ""


@dataclass(frozen=True)
class Layout:
    """Fields LSB first; ``prefix`` names them in Verilog (``<prefix>_<FIELD>``)."""

    prefix: str
    fields: tuple[Field, ...]
    doc: str = ""


SEGMENT = Layout("SEG", (
    Field("k", "CNT_W", doc="terms per element"),
    Field("a_one", 1, doc="A is the constant 1"),
    Field("a_base", "ADDR_W", doc="A address: base + i1 s1 + j2 s2 + k sk"),
    Field("a_s1", "ADDR_W"),
    Field("a_s2", "ADDR_W"),
    Field("a_s2l", "ADDR_W", doc="LANES s2 (one group of lanes further)"),
    Field("a_sk", "ADDR_W"),
    Field("b_ws", 1, doc="B is the weight stream"),
    Field("b_base", "ADDR_W", doc="B address, as A's"),
    Field("b_s1", "ADDR_W"),
    Field("b_s2", "ADDR_W"),
    Field("b_s2l", "ADDR_W"),
    Field("b_sk", "ADDR_W"),
    Field("shift", "SH_W", doc="left shift of each product"),
    Field("vf", 1, doc="no product: B is the write-back's extra right shift"),
), doc="one MAC segment (K terms A * B << SHIFT)")

WORD = Layout("F", (
    Field("op", code_bits(len(OPS)), doc="OP_*"),
    Field("wb", code_bits(len(WB_MODES)), doc="write-back mode WB_*"),
    Field("last", 1, doc="the program's last instruction"),
    Field("nseg", code_bits(N_SEGMENTS + 1), doc="MAC segments used"),
    Field("wait", WAIT_MAX.bit_length(), doc="stall cycles after the fetch"),
    Field("n1", "CNT_W", doc="element rows"),
    Field("n2", "CNT_W", doc="elements per row"),
    Field("n2g", "CNT_W", doc="groups of LANES per row, ceil(n2 / LANES)"),
    Field("d_base", "ADDR_W", doc="destination address: base + i1 s1 + j2 s2"),
    Field("d_s1", "ADDR_W"),
    Field("d_s2", "ADDR_W"),
    Field("d_s2l", "ADDR_W"),
    *(Field(f"seg{i}", SEGMENT) for i in range(N_SEGMENTS)),
    Field("width", 7, doc="output format width, 1 .. DW"),
    Field("signed", 1, doc="output format signed"),
    Field("rnd", code_bits(len(ROUNDING_MODES)), doc="rounding mode AP_*"),
    Field("ovf", code_bits(len(OVERFLOW_MODES)), doc="overflow mode AP_*"),
    Field("rshift", "SH_W", doc="right shift into the output format"),
    Field("wbase", "WA_W", doc="first weight-stream word"),
    Field("l_kind", code_bits(len(LUT_KINDS)), doc="LUT table kind LUT_*"),
    Field("l_tbase", "TA_W", doc="table base address in the LUT ROM"),
    Field("l_lo", "DW", signed=True, doc="table input range, lo .. hi"),
    Field("l_hi", "DW", signed=True),
    Field("l_s", 6, doc="table index shift"),
    Field("l_fin", 7, doc="input fraction bits (exp2neg)"),
    Field("l_nmax", 7, doc="largest power-of-two shift (exp2neg)"),
    Field("l_shrelu", 7, doc="relu term left shift"),
    Field("l_shv", 7, doc="table term left shift"),
    Field("n_mf", 7, doc="normalisation: mantissa fraction bits"),
    Field("n_even", 1, doc="exponent rounded down to even"),
    Field("n_halve", 1, doc="exponent halved"),
    Field("n_off", 8, signed=True, doc="exponent offset"),
    Field("n_lo", 8, doc="exponent clip, lo .. hi"),
    Field("n_hi", 8),
    Field("n_add", 8, signed=True, doc="added after the clip"),
), doc="one instruction")

# Codes of the enumerated fields: (field, Verilog name prefix, values in code order).
ENUMS = (
    ("op", "OP_", OPS),
    ("wb", "WB_", WB_MODES),
    ("l_kind", "LUT_", LUT_KINDS),
    ("rnd", "", ROUNDING_MODES),
    ("ovf", "", OVERFLOW_MODES),
)

# AXI4-Stream words of the tops (venom_fpga.target): Verilog name, bits, what.
STREAM_WIDTHS = (
    ("IQ_WORD_W", target.IQ_WORD_BITS, "iq_in TDATA: one sample"),
    ("IQ_FIELD_W", target.IQ_FIELD_BITS, "I in [IQ_FIELD_W-1:0], Q in [IQ_WORD_W-1:IQ_FIELD_W]"),
    ("RECORD_W", target.RECORD_BITS, "energy_out TDATA: one record"),
    ("RECORD_FIELD_W", target.RECORD_FIELD_BITS, "mu in [RECORD_FIELD_W-1:0], log_var above (sign-extended)"),
)


# ------------------------------------------------------------------------------------------------ Python side
@dataclass(frozen=True)
class Slot:
    """A resolved field: flat name (``seg0_k``), LSB position, width, signedness."""

    name: str
    lsb: int
    width: int
    signed: bool


def slots(params: Mapping[str, int]) -> list[Slot]:
    """The fields of an instruction word for these engine parameters, LSB first (nested layouts flattened)."""
    missing = [p for p in PARAMS if p not in params]
    if missing:
        raise ValueError(f"engine parameters missing for the instruction layout: {', '.join(missing)}")
    out: list[Slot] = []
    pos = 0

    def walk(lay: Layout, prefix: str) -> None:
        nonlocal pos
        for f in lay.fields:
            if isinstance(f.width, Layout):
                walk(f.width, f"{prefix}{f.name}_")
                continue
            w = int(params[f.width]) if isinstance(f.width, str) else f.width
            if w < 1:
                raise ValueError(f"instruction field {prefix}{f.name}: width {w}")
            out.append(Slot(prefix + f.name, pos, w, f.signed))
            pos += w

    walk(WORD, "")
    return out


def word_bits(params: Mapping[str, int]) -> int:
    """IW: bits of one instruction word."""
    last = slots(params)[-1]
    return last.lsb + last.width


def pack(fields: Mapping[str, int], params: Mapping[str, int]) -> int:
    """One instruction word from field values (absent fields are 0); a value that does not fit, or an unknown field
    name, is a ValueError."""
    layout = slots(params)
    unknown = set(fields) - {s.name for s in layout}
    if unknown:
        raise ValueError(f"unknown instruction fields: {', '.join(sorted(unknown))}")
    word = 0
    for s in layout:
        v = int(fields.get(s.name, 0))
        lo, hi = (-(1 << (s.width - 1)), (1 << (s.width - 1)) - 1) if s.signed else (0, (1 << s.width) - 1)
        if not lo <= v <= hi:
            raise ValueError(f"instruction field {s.name} = {v} does not fit {s.width} "
                             f"{'signed ' if s.signed else ''}bits")
        word |= (v & ((1 << s.width) - 1)) << s.lsb
    return word


def unpack(word: int, params: Mapping[str, int]) -> dict[str, int]:
    """Field values of an instruction word (signed fields sign-extended): the inverse of :func:`pack`."""
    out = {}
    for s in slots(params):
        v = (word >> s.lsb) & ((1 << s.width) - 1)
        out[s.name] = v - (1 << s.width) if s.signed and v >> (s.width - 1) else v
    return out


def enum_codes() -> list[tuple[str, str, int]]:
    """(field, Verilog name, code) of every enumerated value."""
    return [(fld, prefix + v.upper(), code) for fld, prefix, values in ENUMS for code, v in enumerate(values)]


# ------------------------------------------------------------------------------------------------ Verilog side
def _vname(layout: Layout, f: Field) -> str:
    return f"{layout.prefix}_{f.name.upper()}"


def _fixed_width_fields(layout: Layout, seen: set[str] | None = None) -> list[tuple[Layout, Field]]:
    """(layout, field) of every fixed-width field, each nested layout once (both segments share SEG_*)."""
    seen = set() if seen is None else seen
    seen.add(layout.prefix)
    out = []
    for f in layout.fields:
        if isinstance(f.width, Layout):
            if f.width.prefix not in seen:
                out += _fixed_width_fields(f.width, seen)
        elif isinstance(f.width, int):
            out.append((layout, f))
    return out


def _layout_lines(layout: Layout) -> list[str]:
    """Widths of the parameter-dependent fields, then every offset (each after the one below it), then the total."""
    pre = layout.prefix
    lines = [f"// {layout.doc}: {pre}_<FIELD> is a field's offset (LSB first), {pre}_<FIELD>_W its width"]
    for f in layout.fields:
        if isinstance(f.width, str):
            lines.append(f"localparam {_vname(layout, f)}_W = {f.width};")
        elif isinstance(f.width, Layout):
            lines.append(f"localparam {_vname(layout, f)}_W = {f.width.prefix}_W;")
    prev = None
    for f in layout.fields:
        name = _vname(layout, f)
        expr = "0" if prev is None else f"{prev} + {prev}_W"
        doc = f"  // {f.doc}" if f.doc else ""
        lines.append(f"localparam {name} = {expr};{doc}")
        prev = name
    total = "IW" if layout is WORD else f"{layout.prefix}_W"
    lines.append(f"localparam {total} = {prev} + {prev}_W;")
    return lines


def render_body() -> str:
    """The header without its GENERATED line."""
    lines = [
        "// venom_contract.vh: the Python <-> Verilog contract of the VENOM engine, rendered from",
        "// python/venom_fpga/rtl/contract.py: instruction fields, enum codes, stream widths. Include it inside a",
        f"// module body (after the port list). With `define {LAYOUT_MACRO} before the include it also holds the",
        "// instruction-word layout, whose widths and offsets are expressions of the module's parameters",
        f"// {', '.join(PARAMS)} (venom_engine).",
        "// verilator lint_off UNUSEDPARAM",
        "",
        "// widths of the fixed-width instruction fields",
    ]
    for layout, f in _fixed_width_fields(WORD):
        lines.append(f"localparam {_vname(layout, f)}_W = {f.width};")
    lines += ["", "// codes of the enumerated fields"]
    widths = {f.name: f.width for f in WORD.fields}
    for fld, name, code in enum_codes():
        lines.append(f"localparam [F_{fld.upper()}_W-1:0] {name} = {widths[fld]}'d{code};")
    lines += ["", "// AXI4-Stream words (python/venom_fpga/target.py)"]
    for name, bits, doc in STREAM_WIDTHS:
        lines.append(f"localparam {name} = {bits};  // {doc}")
    lines += ["", f"`ifdef {LAYOUT_MACRO}"]
    lines += _layout_lines(SEGMENT) + [""] + _layout_lines(WORD)
    lines += ["`endif", "", "// verilator lint_on UNUSEDPARAM"]
    return "\n".join(lines) + "\n"


def render_header() -> str:
    """rtl/venom_contract.vh: the GENERATED line (identifying the contract by its own hash), then the body."""
    body = render_body()
    header = check_generated_header(generated_header(COMMAND, {"venom_fpga.rtl.contract": body.encode()}))
    return f"// {header}\n{body}"


def write_header(path: str | Path = HEADER_PATH) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(render_header())
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=COMMAND, description="Write rtl/venom_contract.vh from the Python contract.")
    ap.add_argument("--out", default=str(HEADER_PATH), help="header to write (default: %(default)s)")
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if the header is not fresh")
    args = ap.parse_args(argv)
    if args.check:
        path = Path(args.out)
        if not path.is_file() or path.read_text() != render_header():
            print(f"{COMMAND}: {path} is stale: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    print(f"{COMMAND}: wrote {write_header(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
