# SPDX-License-Identifier: BSD-3-Clause
"""The array datapath of DESIGN.md §3.1 in Verilog: one spatial pipeline that serves every channel, generated from
the same compiled program the micro-coded engine runs.

Source of truth: :func:`venom_fpga.rtl.isa.compile_model` turns the op plan into instructions whose integer
semantics ``IsaSim`` proves equal to the fixed-point model. Here every STEP instruction is unrolled in space: all its
elements at once, as one stage group of the pipeline (products with registered operands and outputs, an adder tree
of ``ADD_FANIN`` operands per clock, one rounding by ``venom_quant``; a table use is one ``venom_lut_unit`` per
element; normalisations are ``venom_normalize``). A product is a shift (a constant power of two), a sum in fabric of
at most ``FABRIC_TERMS`` shifted terms in its one clock (a constant's canonical signed digits, a variable factor of
that many bits, a table unit's fraction bits: ``("fabric", LUTs)`` units, LUT adders) where its adders cost at
most the LUTs a DSP48E2 is worth in the budget (``target.LUTS_PER_DSP``; a factor of <= 2 bits always), or else a
``*`` that maps onto DSP48E2 slices (``ArrayDesign.products``). Each scratchpad word becomes a net valid at one pipeline stage; a
value needed later travels through a delay line. The words the STEP program reads before it writes them are the
recurrent state: they live in per-slot block RAM (one RAM per first reader, read the clock before it needs them,
written back once the step has computed them), and a window's first token reads the INIT program's values instead.
The FINISH program (the head) continues the same pipeline after the step; it only produces a record for a window's
last token (one head per clock: ``head_interval`` 1, no queue). Records leave through a FIFO with counted drops.

Clock conventions (the array model's, :mod:`venom_fpga.rtl.array_model`): a token presented on ``token_T*`` in
clock c is at stage s in clock c + s. Its slot state is written at the end of clock c + D - 1 at the latest, so the
step latency D is the least distance between two tokens of one slot; the head starts in clock c + D; the record is
in the FIFO from clock c + D + head_latency (``ready``) and leaves in the first clock >= max(ready, the previous
record's + 1) with ``record_TREADY`` high. A record that finds the FIFO full (counting records still there at
``ready``) is dropped and counted for its channel (``drop_addr`` -> ``drop_count`` one clock later, ``drop_total``).

Token word (``token_TDATA``, LSB first): I and Q input codes in the MKIDGen3 16-bit fields, t (sample index), slot,
tag (channel id in its low bits, then the window's timestamp). Record word (``record_TDATA``): mu and log_var codes
sign-extended to 32 bits, then the tag. Both padded with zeros to whole bytes (:func:`stream_layouts`, shared with
the HLS C++ array, whose AXI4-Stream TDATA Vitis rounds up to bytes).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from venom_fpga import target
from venom_fpga.errors import VenomError
from venom_fpga.files import atomic_path, generated_header
from venom_fpga.fixed.lut import Lut
from venom_fpga.fixed.model import FixedModel
from venom_fpga.rtl import contract
from venom_fpga.rtl.isa import (LUT_KINDS, Instr, IsaSim, Program, _addr, _written_bits, compile_model, groups,
                                lut_fields, term_reads)

ADD_FANIN = 4  # operands summed per clock in an adder tree
# a product of at most this many shifted partial terms (a constant's nonzero CSD digits, a narrow variable factor's
# bits, a table unit's fraction bits) is built in fabric: the terms are summed in the one clock a product has, the
# same fan-in as one adder-tree level; anything wider is a DSP48E2 multiplier
FABRIC_TERMS = ADD_FANIN


def fabric_luts(x_bits: int, shifts: list[int], selected: bool) -> int:
    """LUTs of a fabric product: the sum of copies of an ``x_bits``-bit factor shifted by ``shifts`` (an ESTIMATE):
    each add after the first term one LUT per bit of its carry chain, the factor's width plus the shift span it adds
    (a 4-digit constant times 18 bits: 73; Yosys 0.23 on one: 74); where a variable bit selects each copy
    (``selected``), one LUT per bit of each copy more (Yosys does not fold the select into the adder's LUT); a single
    term (a negation or a select) one LUT per bit."""
    lo = min(shifts)
    adds = sum(x_bits + (k - lo) + 1 for k in sorted(shifts)[1:]) if len(shifts) > 1 else x_bits
    return adds + (x_bits * len(shifts) if selected else 0)


def in_fabric(x_bits: int, shifts: list[int], selected: bool) -> bool:
    """Whether such a product is built in fabric: its terms fit its one clock and its LUTs cost at most what a
    DSP48E2 is worth in the budget."""
    return len(shifts) <= FABRIC_TERMS and fabric_luts(x_bits, shifts, selected) <= target.LUTS_PER_DSP
SH_W = 7  # right-shift port width of venom_quant / venom_lut_unit
LUT_DW = 32  # venom_lut_unit input word
LUT_ACC_W = 64  # venom_lut_unit exact value width
COUNT_W = 32  # drop counters
TIME_BITS = 36  # the MKIDGen3 record's time field (µs), carried in the tag above the channel id
COMPILE_LANES = 2  # the program's lanes: only its scratchpad layout depends on them, not its arithmetic

_FIELD_W = {f"{contract._vname(lay, f)}_W": f.width for lay, f in contract._fixed_width_fields(contract.WORD)}


class ArrayError(VenomError):
    """An array configuration that cannot be generated, explained in one line."""


@dataclass(frozen=True)
class Net:
    """A value of the pipeline: a signed ``bits``-wide register or wire, valid in clock (token clock + ``stage``)."""

    name: str
    bits: int
    stage: int


@dataclass(frozen=True)
class StreamField:
    name: str
    lsb: int
    bits: int


@dataclass(frozen=True)
class StreamLayout:
    """A TDATA word, fields LSB first (the testbench packs and unpacks with it), padded with zeros to whole bytes
    (the width Vitis HLS gives an AXI4-Stream TDATA, so the C++ array's ports are the Verilog's)."""

    fields: tuple[StreamField, ...]

    @property
    def used(self) -> int:
        return self.fields[-1].lsb + self.fields[-1].bits

    @property
    def bits(self) -> int:
        return -(-self.used // 8) * 8

    def __getitem__(self, name: str) -> StreamField:
        return next(f for f in self.fields if f.name == name)

    def pack(self, **values: int) -> int:
        word = 0
        for f in self.fields:
            v = int(values.get(f.name, 0))
            word |= (v & ((1 << f.bits) - 1)) << f.lsb
        return word

    def unpack(self, word: int, signed: Iterable[str] = ()) -> dict[str, int]:
        out = {}
        for f in self.fields:
            v = (int(word) >> f.lsb) & ((1 << f.bits) - 1)
            if f.name in signed and v >> (f.bits - 1):
                v -= 1 << f.bits
            out[f.name] = v
        return out


def _layout(*fields: tuple[str, int]) -> StreamLayout:
    out, lsb = [], 0
    for name, bits in fields:
        out.append(StreamField(name, lsb, bits))
        lsb += bits
    return StreamLayout(tuple(out))


def stream_layouts(length: int, slots: int, channels: int) -> tuple[StreamLayout, StreamLayout]:
    """The array top's token and record words (Verilog and HLS C++ alike): token = I, Q (the MKIDGen3 16-bit
    fields), t, slot, channel, time; record = mu, log_var (sign-extended), channel, time."""
    token = _layout(("i", target.IQ_FIELD_BITS), ("q", target.IQ_FIELD_BITS), ("t", _ubits(length)),
                    ("slot", _ubits(slots)), ("channel", _ubits(channels)), ("time", TIME_BITS))
    record = _layout(("mu", target.RECORD_FIELD_BITS), ("log_var", target.RECORD_FIELD_BITS),
                     ("channel", _ubits(channels)), ("time", TIME_BITS))
    return token, record


def _ubits(n: int) -> int:
    """Bits of an unsigned field holding 0 .. n - 1."""
    return max((n - 1).bit_length(), 1)


def _sbits(v: int) -> int:
    """Signed width that holds v."""
    return max((v if v >= 0 else -v - 1).bit_length() + 1, 2)


def csd(c: int) -> list[tuple[int, int]]:
    """The canonical signed digits of c (its non-adjacent form): (shift, sign) pairs, LSB first, with
    c = sum(sign << shift), signs in {-1, 1}, no two shifts adjacent (the fewest nonzero signed digits)."""
    digits, k = [], 0
    while c:
        if c & 1:
            d = 2 - (c & 3)  # c = 1 (mod 4): digit 1; c = 3 (mod 4): digit -1 (the carry clears the next bit)
            c -= d
            digits.append((k, d))
        c >>= 1
        k += 1
    return digits


def _lit(v: int, bits: int) -> str:
    """A sized signed literal of v in ``bits`` bits (two's complement hex: no unary minus)."""
    return f"{bits}'sh{v & ((1 << bits) - 1):x}"


def _ulit(v: int, bits: int) -> str:
    return f"{bits}'d{v}"


@dataclass
class ArrayDesign:
    """A generated array: the Verilog, its table files and the clock parameters the array model needs."""

    verilog: str
    mems: dict[str, list[str]]  # file name -> hex words
    token: StreamLayout
    record: StreamLayout
    slots: int
    length: int
    channels: int
    record_fifo: int
    fold: int  # F: clocks per token (each multiplier of the step serves F products)
    head_interval: int  # the head's fold: clocks between two head starts
    head_queue: int  # windows waiting for the head
    step_latency: int  # D
    head_latency: int
    n_stages: int  # step stages (to D) plus head stages
    products: list[tuple[int, int]] = field(default_factory=list)  # (A bits, B bits) of every DSP48E2 multiplier
    product_ops: list[str] = field(default_factory=list)  # the instruction of each multiplier
    step_products: int = 0  # DSP48E2 multipliers of the step (the rest are the head's)
    fabric_products: int = 0  # products built of LUT adders instead (a ("fabric", ...) unit each)
    step_fabric_products: int = 0  # of which the step's
    fabric_factors: Counter = field(default_factory=Counter)  # fabric products by factor: constant, variable, table
    tables: int = 0  # table evaluations in flight (one venom_lut_unit each)
    state_bits: int = 0  # slot state per slot
    state_words: list[int] = field(default_factory=list)  # width of each slot-state RAM
    adder_bits: int = 0  # sum over adders of (operands - 1) x width: the adder trees' LUT count, roughly
    mux_bits: int = 0  # the phase multiplexers' LUTs, roughly (a LUT6 selects one of 4 nets or 64 constants)
    # the instances, for the planner's estimates: ("quant", value bits, code bits, least shift, variable shift
    # bits (0: a constant), rounds),
    # ("table", kind, value bits, word bits, words), ("normalize", value bits), ("fabric", its LUTs by
    # fabric_luts) -> how many
    units: Counter = field(default_factory=Counter)

    def wide_products(self) -> dict[str, dict]:
        """The multipliers whose operands do not fit one DSP48E2 (27 x 18 signed), per instruction: how many, their
        operand widths and the DSP48E2 each takes."""
        out: dict[str, dict] = {}
        for (a, b), op in zip(self.products, self.product_ops):
            k = dsp48e2([(a, b)])
            if k > 1:
                e = out.setdefault(op, {"multipliers": 0, "operand_bits": [a, b], "dsp48e2_each": k})
                e["multipliers"] += 1
        return out

    def timing(self, period: int):
        """The array model's ArrayTiming of this design for a model-rate period of ``period`` clocks."""
        from venom_fpga.rtl.array_model import ArrayTiming
        return ArrayTiming(fold=self.fold, slots=self.slots, period=period, length=self.length,
                           step_latency=self.step_latency, head_interval=self.head_interval,
                           head_latency=self.head_latency, head_queue=self.head_queue, record_fifo=self.record_fifo)

    def params(self) -> dict:
        return {"top": "venom_array", "fold": self.fold, "slots": self.slots, "length": self.length,
                "channels": self.channels, "record_fifo": self.record_fifo, "step_latency": self.step_latency,
                "head_interval": self.head_interval, "head_latency": self.head_latency,
                "head_queue": self.head_queue, "stages": self.n_stages, "multipliers": len(self.products),
                "step_multipliers": self.step_products, "dsp48e2": dsp48e2(self.products),
                "fabric_products": self.fabric_products, "step_fabric_products": self.step_fabric_products,
                "fabric_products_by_factor": dict(sorted(self.fabric_factors.items())),
                "wider_than_27x18": self.wide_products(),
                "tables": self.tables, "state_bits_per_slot": self.state_bits,
                "token": {f.name: [f.lsb, f.bits] for f in self.token.fields},
                "record": {f.name: [f.lsb, f.bits] for f in self.record.fields}}


class _Emitter:
    """Verilog text of one pipeline: declarations, clocked assignments, instances; delay lines made on demand."""

    def __init__(self) -> None:
        self.decl: list[str] = []
        self.seq: list[str] = []  # inside always @(posedge ap_clk)
        self.body: list[str] = []  # assigns and instances
        self._n = 0
        self._delays: dict[tuple[str, int], Net] = {}
        self.max_stage = 0

    def name(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{self._n}"

    def reg(self, prefix: str, bits: int, expr: str, stage: int) -> Net:
        nm = self.name(prefix)
        self.decl.append(f"reg signed [{bits - 1}:0] {nm};")
        self.seq.append(f"{nm} <= {expr};")
        self.max_stage = max(self.max_stage, stage)
        return Net(nm, bits, stage)

    def wire(self, prefix: str, bits: int, expr: str | None, stage: int, unused_ok: bool = False) -> Net:
        """``unused_ok``: an instance output of which only some bits (or none) are used."""
        nm = self.name(prefix)
        d = f"wire signed [{bits - 1}:0] {nm}" + (f" = {expr};" if expr is not None else ";")
        self.decl.append(f"/* verilator lint_off UNUSEDSIGNAL */ {d} /* verilator lint_on UNUSEDSIGNAL */"
                         if unused_ok else d)
        return Net(nm, bits, stage)

    def at(self, net: Net, stage: int) -> Net:
        """``net`` delayed to ``stage`` (a shared delay line)."""
        if stage < net.stage:
            raise AssertionError(f"{net.name} is valid at stage {net.stage}, wanted at {stage}")
        cur = net
        for s in range(net.stage + 1, stage + 1):
            key = (net.name, s)
            if key not in self._delays:
                nm = f"{net.name}_s{s}"
                self.decl.append(f"reg signed [{net.bits - 1}:0] {nm};")
                self.seq.append(f"{nm} <= {cur.name};")
                self._delays[key] = Net(nm, net.bits, s)
                self.max_stage = max(self.max_stage, s)
            cur = self._delays[key]
        return cur


def sx(net: Net, bits: int) -> str:
    """``net`` sign-extended to ``bits`` (a signed expression)."""
    if bits < net.bits:
        raise AssertionError(f"{net.name}: {net.bits} bits do not fit {bits}")
    if bits == net.bits:
        return net.name
    return f"$signed({{{{{bits - net.bits}{{{net.name}[{net.bits - 1}]}}}}, {net.name}}})"


class _Generator:
    """Unrolls the program's STEP and FINISH instructions into the array's pipelines (module docstring)."""

    def __init__(self, fm: FixedModel, slots: int, length: int, channels: int, record_fifo: int, fold: int,
                 head_fold: int, head_queue: int, mem_dir: str) -> None:
        self.fm = fm
        self.prog: Program = compile_model(fm, COMPILE_LANES)
        self.S, self.L, self.n_ch, self.rf = slots, length, channels, record_fifo
        self.step_fold, self.head_fold, self.hq = fold, head_fold, head_queue
        self.mem_dir = mem_dir
        self.e = _Emitter()
        self.cur: dict[int, Net | int] = {}  # scratchpad address -> its current value (a net or a constant)
        self.products: list[tuple[int, int]] = []  # the DSP48E2 multipliers
        self.product_ops: list[str] = []
        self.fabric_factors: Counter = Counter()  # fabric products by factor (constant, variable, table)
        self.op = ""  # the instruction being generated
        self._sums: dict[tuple, Net] = {}  # exact sums already formed (by stage and terms)
        self.tables = 0
        self.mems: dict[str, list[str]] = {}
        self._mem_of: dict[int, tuple[str, int, int]] = {}
        self.ctl_max: dict[str, int] = {}
        self.ctl_src: dict[str, tuple[int, str]] = {}  # control signal -> (width, its stage-0 expression)
        self.state_groups: list[dict] = []
        self.state_bits = 0
        self.adder_bits = self.mux_bits = 0
        self.units: Counter = Counter()
        self._muxes: set[tuple] = set()  # (phase, width, values) of the multiplexers counted in mux_bits
        in_fmt = self.prog.in_fmt
        if in_fmt.width + (0 if in_fmt.signed else 1) > target.IQ_FIELD_BITS:
            raise ArrayError(f"input format of {in_fmt.width} bits does not fit the {target.IQ_FIELD_BITS}-bit I/Q "
                             "fields of the token word")
        self.ch_bits = _ubits(channels)
        self.token, self.record = stream_layouts(length, slots, channels)
        # the section being generated: the step (tokens, control v_*) or the head (head starts, control hv_*)
        self.fold, self.valid = fold, "v"

    # ---------------------------------------------------------------- control signals (per stage)
    def ctl(self, sig: str, stage: int) -> str:
        self.ctl_max[sig] = max(self.ctl_max.get(sig, 0), stage)
        return f"{sig}_s{stage}"

    # ---------------------------------------------------------------- program analysis
    def _program(self, start: str, stop: str) -> list[Instr]:
        p = self.prog
        return p.instrs[p.entry[start]:p.entry[stop]]

    @staticmethod
    def _elem_reads(it: Instr, i1: int, j2: int) -> list[int]:
        if it.op == "lut":
            return [_addr(it.segs[0].a, i1, j2, 0)]
        return [a for sg in it.segs for k in range(sg.k) for a in term_reads(it, sg, i1, j2, k)]

    def _reads(self, it: Instr) -> list[int]:
        return [a for i1, _, js in groups(it, COMPILE_LANES) for j2 in js for a in self._elem_reads(it, i1, j2)]

    @staticmethod
    def _writes(it: Instr) -> list[int]:
        return [_addr((*it.dest, 0), i1, j2, 0) for i1, _, js in groups(it, COMPILE_LANES) for j2 in js]

    @staticmethod
    def _used_reads(it: Instr, i1: int, j2: int) -> list[int]:
        """The words an element uses: its reads but those of terms with a zero weight."""
        if it.op == "lut":
            return [_addr(it.segs[0].a, i1, j2, 0)]
        return [a for sg in it.segs for k in range(sg.k) if not (sg.b_w and not sg.vf and sg.w(i1, j2, k) == 0)
                for a in term_reads(it, sg, i1, j2, k)]

    def _needed_elements(self, program: list[Instr], roots: set[int]) -> set[tuple[int, int, int]]:
        """(id(instruction), i1, j2) of the elements something uses: backward liveness from ``roots`` (the slot
        state and the outputs) through the used reads."""
        live, need = set(roots), set()
        for it in reversed(program):
            elems = [(i1, j2) for i1, _, js in groups(it, COMPILE_LANES) for j2 in js]
            dest = {e: _addr((*it.dest, 0), *e, 0) for e in elems}
            used = [e for e in elems if dest[e] in live]
            live -= set(dest.values())
            for i1, j2 in used:
                need.add((id(it), i1, j2))
                live.update(self._used_reads(it, i1, j2))
        return need

    def _check_no_forwarding(self, it: Instr) -> None:
        """The engine applies an instruction's writes group by group; unrolled, every element reads the values from
        before the instruction. They agree unless an element reads a word an earlier group of the same instruction
        wrote: refuse that."""
        written: set[int] = set()
        for i1, _, js in groups(it, COMPILE_LANES):
            if {a for j2 in js for a in self._elem_reads(it, i1, j2)} & written:
                raise ArrayError(f"{it.name}: an element reads a word written by the same instruction")
            written.update(_addr((*it.dest, 0), i1, j2, 0) for j2 in js)

    # ---------------------------------------------------------------- values
    def value(self, addr: int, stage: int) -> Net | int:
        v = self.cur[addr]
        return v if isinstance(v, int) else self.e.at(v, stage)

    def _resolve(self, addrs: set[int], floor: int, group: str) -> int:
        """The stage at which an instruction reading ``addrs`` starts; state words not yet read come from the slot
        RAM at that stage (one RAM per first reader)."""
        missing = [a for a in sorted(addrs) if a not in self.cur]
        stage = max([floor] + [v.stage for a in addrs if a in self.cur for v in [self.cur[a]] if isinstance(v, Net)])
        if missing:
            stage = max(stage, 1)  # the slot RAM is read the clock before
            bad = [a for a in missing if a not in self.state]
            if bad:
                raise ArrayError(f"{group}: reads scratchpad words {bad} that nothing writes")
            self._state_read(missing, stage, group)
        return stage

    def _state_read(self, addrs: list[int], stage: int, group: str) -> None:
        e, g = self.e, len(self.state_groups)
        words = [(a, self.state[a]) for a in addrs]
        width = sum(b for _, b in words)
        mem, q = f"st{g}_mem", f"st{g}_q"
        e.decl.append(f"reg [{width - 1}:0] {mem} [0:{self.S - 1}];  // {group}: slot state")
        e.decl.append(f"reg [{width - 1}:0] {q};")
        e.seq.append(f"{q} <= {mem}[{self.ctl('slot', stage - 1)}];")
        off = 0
        for a, bits in words:
            nm = f"st{g}_w{a}"
            e.decl.append(f"wire signed [{bits - 1}:0] {nm} = {self.ctl('first', stage)} ? {_lit(self.init[a], bits)} "
                          f": $signed({q}[{off + bits - 1}:{off}]);")
            self.cur[a] = Net(nm, bits, stage)
            off += bits
        self.state_groups.append({"mem": mem, "addrs": addrs, "bits": width, "read": stage})
        self.state_bits += width

    # ---------------------------------------------------------------- arithmetic
    def product(self, a: Net | int, b: Net | int, stage: int) -> Net | int:
        """a * b registered at ``stage`` + 1 (an int when both are constants): a shift for a constant power of two,
        a sum of shifted terms in fabric where :func:`in_fabric` says so (a constant's CSD digits, a narrow variable
        factor's bits), else a DSP48E2 multiplier."""
        if isinstance(a, int) and isinstance(b, int):
            return a * b
        if isinstance(a, int):
            a, b = b, a
        e = self.e
        if isinstance(b, int):
            c = b
            if c == 0:
                return 0
            digits = csd(c)
            if len(digits) == 1:  # a power of two: a shift (and a negation), no multiplier
                (k, sign), = digits
                return self._shifted_sum(a, [(k, sign, None)], a.bits + k + (1 if c < 0 else 0), stage)
            bits = a.bits + _sbits(c)
            if in_fabric(a.bits, [k for k, _ in digits], False):  # c = sum(sign 2**k): a x c = sum(sign (a << k))
                return self._fabric("constant", a, [(k, sign, None) for k, sign in digits], bits, stage)
            self._dsp(a.bits, _sbits(c))
            return e.reg("p", bits, f"{sx(a, bits)} * {_lit(c, bits)}", stage + 1)
        bits = a.bits + b.bits
        f, x = (a, b) if a.bits <= b.bits else (b, a)
        # f two's complement: f x = sum_{i < n-1} f[i] (x << i) - f[n-1] (x << (n-1)); a flag (<= 2 bits) always
        if f.bits <= 2 or in_fabric(x.bits, list(range(f.bits)), True):
            n = f.bits
            terms = [(i, -1 if i == n - 1 else 1, f"{f.name}[{i}]") for i in range(n)]
            return self._fabric("variable", x, terms, bits, stage)
        self._dsp(max(a.bits, b.bits), min(a.bits, b.bits))
        return e.reg("p", bits, f"{sx(a, bits)} * {sx(b, bits)}", stage + 1)

    def _dsp(self, a_bits: int, b_bits: int) -> None:
        """A DSP48E2 multiplier (operand widths: A, the 27-bit port, then B) of the instruction being generated."""
        self.products.append((a_bits, b_bits))
        self.product_ops.append(self.op)

    def _fabric_unit(self, factor: str, luts: int) -> None:
        """A product built of LUT adders, ``luts`` by :func:`fabric_luts` (the planner counts them); ``factor``: what
        selects the terms (a constant, a variable, a table unit's fraction)."""
        self.units[("fabric", luts)] += 1
        self.fabric_factors[factor] += 1

    def _fabric(self, factor: str, x: Net, terms: list[tuple[int, int, str | None]], bits: int, stage: int) -> Net:
        self._fabric_unit(factor, fabric_luts(x.bits, [k for k, _, _ in terms], terms[0][2] is not None))
        return self._shifted_sum(x, terms, bits, stage)

    def _shifted_sum(self, x: Net, terms: list[tuple[int, int, str | None]], bits: int, stage: int) -> Net:
        """sum(sign (x <<< shift)) over the terms whose select bit is 1 (or None), in ``bits`` bits, registered at
        ``stage`` + 1. A partial sum may wrap; the whole is exact mod 2**bits and the product fits ``bits``."""
        expr = ""
        for k, sign, bit in terms:
            t = f"({sx(x, bits)} <<< {k})" if k else sx(x, bits)
            if bit is not None:
                t = f"({bit} ? {t} : {_lit(0, bits)})"
            expr += ((" - " if expr else "-") if sign < 0 else (" + " if expr else "")) + t
        return self.e.reg("p", bits, expr, stage + 1)

    def adder(self, terms: list[tuple[Net, int]], const: int, stage: int) -> Net:
        """sum(net << shift) + const, terms valid at ``stage``: an adder tree, ADD_FANIN operands per clock."""
        e = self.e
        bound = sum((1 << (n.bits - 1)) << sh for n, sh in terms) + abs(const)
        bits = _sbits(bound)
        if not terms:
            return e.wire("k", bits, _lit(const, bits), stage)
        if len(terms) == 1 and terms[0][1] == 0 and const == 0:
            return terms[0][0]
        ops = [(f"({sx(n, bits)} <<< {sh})" if sh else sx(n, bits)) for n, sh in terms]
        if const:
            ops.append(_lit(const, bits))
        while True:
            chunks = [ops[i:i + ADD_FANIN] for i in range(0, len(ops), ADD_FANIN)]
            self.adder_bits += sum(bits * (len(ch) - 1) for ch in chunks)
            stage += 1
            nets = [e.reg("s", bits, " + ".join(ch), stage) for ch in chunks]
            if len(nets) == 1:
                return nets[0]
            ops = [n.name for n in nets]

    def quantize(self, acc: Net, it: Instr, rshift: str, shifts: tuple[int, int] | None, out_bits: int,
                 stage: int) -> Net:
        """One venom_quant on ``acc`` valid at ``stage``, its register between the rounding and the overflow
        handling (each is a carry chain plus a few LUT levels); the code registered at ``stage`` + 2. ``rshift``: a
        constant, or a net whose values lie in ``shifts`` (least, most; the unit's shifter spans only that)."""
        e = self.e
        acc_w = max(acc.bits, out_bits)
        lo, hi = shifts or (0, 0)
        hi = min(hi, acc_w + 1)  # (venom_quant's own clamp)
        lo = min(lo, hi)
        span = (hi - lo).bit_length() if shifts else 0
        self.units[("quant", acc_w, out_bits, lo, span, it.rnd != "AP_TRN")] += 1
        code = e.wire("q", out_bits, None, stage + 1)
        sh = f", .SH_MIN({lo}), .SH_MAX({hi})" if shifts else ""
        e.body.append(
            f"venom_quant #(.ACC_W({acc_w}), .DW({out_bits}), .SH_W({SH_W}), .REG(1){sh}) u_{code.name} (\n"
            f"    .clk(ap_clk), .en(1'b1), .val({sx(acc, acc_w)}), .rshift({rshift}),\n"
            f"    .width({_ulit(it.width, _FIELD_W['F_WIDTH_W'])}), .is_signed(1'b{int(it.signed)}), "
            f".rnd({it.rnd}), .ovf({it.ovf}), .code({code.name}));")
        return e.reg("v", out_bits, code.name, stage + 2)

    def writeback(self, it: Instr, acc: Net, vf: Net | None, out_bits: int, stage: int) -> Net:
        e = self.e
        if it.wb in ("quant", "abs"):
            if it.wb == "abs":
                bits = acc.bits + 1
                acc = e.wire("abs", bits, f"({acc.name} < 0) ? -{sx(acc, bits)} : {sx(acc, bits)}", stage)
            if vf is None:
                rshift = _ulit(it.rshift, SH_W)
            else:  # the variable extra shift (>= -rshift, so the SH_W-bit sum is the shift)
                vf = e.at(vf, stage)
                if vf.bits < SH_W:
                    raise ArrayError(f"{it.name}: variable shift narrower than {SH_W} bits")
                low = e.name("vf")  # only the low SH_W bits matter: the sum is the shift, in [0, 2**SH_W)
                e.decl.append(f"/* verilator lint_off UNUSEDSIGNAL */ wire [{vf.bits - 1}:0] {low} = {vf.name}; "
                              "/* verilator lint_on UNUSEDSIGNAL */")
                rshift = f"{_ulit(it.rshift, SH_W)} + {low}[{SH_W - 1}:0]"
            return self.quantize(acc, it, rshift, None if vf is None else (0, (1 << SH_W) - 1), out_bits, stage)
        if it.wb == "flag":
            return e.reg("f", 2, f"({acc.name} > {_lit(0, acc.bits)}) ? 2'sd1 : 2'sd0", stage + 1)
        nm = it.norm  # norm_m / norm_n: venom_normalize (its register after the leading-one search), then a register
        acc_w = max(acc.bits, 33)  # venom_normalize takes DW < ACC_W
        self.units[("normalize", acc_w)] += 1
        mant = e.wire("nm", 32, None, stage + 1, unused_ok=True)
        expo = e.wire("ne", 32, None, stage + 1, unused_ok=True)
        fw = _FIELD_W
        e.body.append(
            f"venom_normalize #(.ACC_W({acc_w}), .DW(32), .REG(1)) u_{mant.name} (\n"
            f"    .clk(ap_clk), .val({sx(acc, acc_w)}), .mant_frac({_ulit(nm['mant_frac'], fw['F_N_MF_W'])}), "
            f".even(1'b{int(nm['even'])}), .halve(1'b{int(nm['halve'])}),\n"
            f"    .off({_lit(nm['off'], fw['F_N_OFF_W'])}), .lo({_ulit(nm['lo'], fw['F_N_LO_W'])}), "
            f".hi({_ulit(nm['hi'], fw['F_N_HI_W'])}), .add({_lit(nm['add'], fw['F_N_ADD_W'])}),\n"
            f"    .mant({mant.name}), .expo({expo.name}));")
        src = mant if it.wb == "norm_m" else expo
        return e.reg("n", out_bits, f"{src.name}[{out_bits - 1}:0]", stage + 2)

    def table_eval(self, it: Instr, x: Net, out_bits: int, stage: int) -> Net:
        """One venom_lut_unit on ``x`` valid at ``stage``, then its rounding: the code at ``stage`` + 6. The unit's
        exact value is only as wide as its bound (:meth:`_table_value_bits`) and its right shift is a constant but
        for exp2neg (rshift + n): the rounding's shifter is the array's widest logic otherwise."""
        e, lut = self.e, it.lut
        if x.bits > LUT_DW:
            raise ArrayError(f"{it.name}: table input of {x.bits} bits (> {LUT_DW})")
        mem, tw, depth = self._table_mem(lut)
        f, fw = lut_fields(lut), _FIELD_W
        r_w = max(lut.shift, 1)
        # the unit's own width rules: relu is zero-extended from LUT_DW bits, the slope product sign-extended
        acc_w = max(self._table_value_bits(lut, f, x), tw + r_w + 3, LUT_DW + 1)
        val = e.wire("lv", acc_w, None, stage + 4)
        rs = e.name("lr")
        variable = LUT_KINDS[f["kind"]] == "exp2neg"
        lint = "" if variable else "/* verilator lint_off UNUSEDSIGNAL */ "
        e.decl.append(f"{lint}wire [{SH_W - 1}:0] {rs};{' /* verilator lint_on UNUSEDSIGNAL */' if lint else ''}")
        self.tables += 1
        self.units[("table", LUT_KINDS[f["kind"]], acc_w, tw, depth)] += 1
        # the unit's slope x fraction product ((TW + 1) x (R_W + 1) signed, the fraction unsigned): R_W shifted
        # copies of the slope in fabric, or a DSP48E2 multiplier
        fabric = in_fabric(tw + 1, list(range(r_w)), True)
        if fabric:
            self._fabric_unit("table", fabric_luts(tw + 1, list(range(r_w)), True))
        else:
            self._dsp(max(tw, r_w) + 1, min(tw, r_w) + 1)
        e.body.append(
            f"venom_lut_unit #(.DW({LUT_DW}), .ACC_W({acc_w}), .SH_W({SH_W}), .TW({tw}), .DEPTH({depth}), "
            f".R_W({r_w}), .FABRIC({int(fabric)}),\n    .INIT_FILE({{MEM_DIR, \"{mem}\"}})) u_{val.name} (\n"
            f"    .clk(ap_clk), .en(1'b1), .x({sx(x, LUT_DW)}), .kind(LUT_{LUT_KINDS[f['kind']].upper()}), "
            f".tbase({_ulit(0, _ubits(depth))}),\n"
            f"    .lo({_lit(f['lo'], LUT_DW)}), .hi({_lit(f['hi'], LUT_DW)}), .s({_ulit(f['s'], fw['F_L_S_W'])}), "
            f".f_in({_ulit(f['f_in'], fw['F_L_FIN_W'])}), .nmax({_ulit(f['nmax'], fw['F_L_NMAX_W'])}),\n"
            f"    .sh_relu({_ulit(f['sh_relu'], fw['F_L_SHRELU_W'])}), .sh_v({_ulit(f['sh_v'], fw['F_L_SHV_W'])}), "
            f".rshift({_ulit(f['rshift'], SH_W)}), .val({val.name}), .rshift_out({rs}));")
        if variable:  # exp2neg: rshift + n, n <= nmax
            return self.quantize(val, it, rs, (f["rshift"], f["rshift"] + f["nmax"]), out_bits, stage + 4)
        return self.quantize(val, it, _ulit(f["rshift"], SH_W), None, out_bits, stage + 4)

    @staticmethod
    def _table_value_bits(lut: Lut, f: dict[str, int], x: Net) -> int:
        """Signed bits of the unit's exact value (venom_lut_unit's header): |V| <= max|T| 2**s + max|dT| (2**s - 1)
        and, for the relu kinds, |relu(x)| < 2**(x.bits - 1)."""
        codes = [int(c) for c in lut.codes] + [int(lut.codes[-1])]
        steps = [abs(b - a) for a, b in zip(codes, codes[1:])]
        v = max(abs(c) for c in codes) * (1 << f["s"]) + max(steps) * ((1 << f["s"]) - 1)
        if LUT_KINDS[f["kind"]] in ("relu_minus", "relu_plus"):
            v = (((1 << (x.bits - 1)) - 1) << f["sh_relu"]) + (v << f["sh_v"])
        return _sbits(v)

    def _table_mem(self, lut: Lut) -> tuple[str, int, int]:
        """One $readmemh file per distinct table, one word longer than the table (the interpolation reads i + 1
        where the engine's clamp reads the last word again)."""
        key = hash((lut.family, lut.codes.tobytes(), lut.table_fmt))
        if key not in self._mem_of:
            codes = [int(c) for c in lut.codes] + [int(lut.codes[-1])]
            tw = max(_sbits(c) for c in codes)
            name = f"lut{len(self._mem_of)}_{lut.family}.mem"
            self.mems[name] = [f"{c & ((1 << tw) - 1):0{-(-tw // 4)}x}" for c in codes]
            self._mem_of[key] = (name, tw, len(codes))
        return self._mem_of[key]

    # ---------------------------------------------------------------- one instruction = one stage group
    def _operands(self, it: Instr, i1: int, j2: int, stage: int) -> tuple[list[tuple], Net | None]:
        """An element's terms (a, b, shift), each factor a net valid at ``stage`` or a constant, and its variable
        shift (a net, or None). A table use is one term (x, None, 0)."""
        if it.op == "lut":
            return [(self.value(_addr(it.segs[0].a, i1, j2, 0), stage), None, 0)], None
        terms, vf = [], None
        for sg in it.segs:
            for k in range(sg.k):
                if sg.vf:
                    vf = self.value(_addr(sg.b, i1, j2, k), stage)
                    continue
                if sg.b_w and sg.w(i1, j2, k) == 0:  # a zero weight: no term, and no delay line for its factor
                    terms.append((0, 0, sg.shift))
                    continue
                a = 1 if sg.a_one else self.value(_addr(sg.a, i1, j2, k), stage)
                b = sg.w(i1, j2, k) if sg.b_w else self.value(_addr(sg.b, i1, j2, k), stage)
                terms.append((a, b, sg.shift))
        return terms, vf

    def _element(self, it: Instr, terms: list[tuple], vf: Net | None, stage: int) -> tuple[Net, Net | None]:
        """The exact sum of one element (products registered at ``stage`` + 1, then the adder tree), or a table
        use's input; with its variable shift."""
        if it.op == "lut":
            return terms[0][0], None
        # the same exact sum formed twice (e.g. LayerNorm's V for its mantissa and its exponent): once
        key = (stage, tuple(tuple(x.name if isinstance(x, Net) else x for x in (a, b, sh)) for a, b, sh in terms))
        if key in self._sums:
            return self._sums[key], vf
        prods, const = [], 0
        for a, b, sh in terms:
            p = self.product(a, b, stage)
            if isinstance(p, int):
                const += p << sh
            else:
                prods.append((p, sh))
        pstage = stage + 1 if prods else stage
        self._sums[key] = acc = self.adder([(self.e.at(n, pstage), sh) for n, sh in prods], const, pstage)
        return acc, vf

    def _finish(self, it: Instr, acc: Net, vf: Net | None, out_bits: int, stage: int) -> Net:
        if it.op == "lut":
            return self.table_eval(it, acc, out_bits, stage)
        return self.writeback(it, acc, vf, out_bits, stage)

    def group(self, it: Instr, floor: int) -> None:
        """Every element of ``it``: all at once (fold 1), or ``fold`` elements per lane one clock after another."""
        elems = [(i1, j2) for i1, _, js in groups(it, COMPILE_LANES) for j2 in js]
        self.op = it.name
        F = min(self.fold, len(elems))
        if F == 1:  # an element nothing uses is not built (its word a constant 0 to the zero-weight terms reading it)
            for i1, j2 in elems:
                if (id(it), i1, j2) not in self._needed:
                    self.cur[_addr((*it.dest, 0), i1, j2, 0)] = 0
            elems = [(i1, j2) for i1, j2 in elems if (id(it), i1, j2) in self._needed]
            if not elems:
                return
        stage = self._resolve(set(a for i1, j2 in elems for a in self._elem_reads(it, i1, j2)), floor, it.name)
        out_bits = _written_bits(it)
        if F == 1:
            done = [self._element(it, *self._operands(it, i1, j2, stage), stage) for i1, j2 in elems]
            astage = max(acc.stage for acc, _ in done)
            outs = [self._finish(it, self.e.at(acc, astage), vf, out_bits, astage) for acc, vf in done]
        else:
            outs = self._folded(it, elems, stage, F, out_bits)
        for (i1, j2), out in zip(elems, outs):
            self.cur[_addr((*it.dest, 0), i1, j2, 0)] = out

    def _folded(self, it: Instr, elems: list[tuple[int, int]], stage: int, F: int, out_bits: int) -> list[Net]:
        """Lane l computes elements l F + p in phase p = 0 .. F - 1 (one per clock). The group's inputs are held
        from its start (a token at ``stage``); each lane's factors are selected by phase into registers (the
        multipliers' input registers); each result is stored into its element's register; all outputs are valid
        F clocks after the first phase's."""
        e = self.e
        start = self.ctl(self.valid, stage)
        pw = _sbits(F)
        ph = e.name("ph")  # the phase, p in clock stage + 1 + p; F when idle
        e.decl.append(f"reg signed [{pw - 1}:0] {ph};")
        e.seq.append(f"if (!ap_rst_n) {ph} <= {_lit(F, pw)}; else {ph} <= {start} ? {_lit(0, pw)} : "
                     f"({ph} == {_lit(F, pw)}) ? {ph} : {ph} + {_lit(1, pw)};")
        phase = Net(ph, pw, stage + 1)
        holds: dict[str, Net] = {}

        def hold(n: Net) -> Net:  # the value at the group's start, held while its phases run
            if n.name not in holds:
                holds[n.name] = h = Net(e.name("h"), n.bits, stage + 1)
                e.decl.append(f"reg signed [{n.bits - 1}:0] {h.name};")
                e.seq.append(f"if ({start}) {h.name} <= {n.name};")
            return holds[n.name]

        def select(values: list[Net | int]) -> Net | int:  # by phase, registered: phase p in clock stage + 2 + p
            if all(isinstance(v, int) for v in values) and len(set(values)) == 1:
                return values[0]
            bits = max(v.bits if isinstance(v, Net) else _sbits(v) for v in values)
            m = e.name("m")
            e.decl.append(f"reg signed [{bits - 1}:0] {m};")
            cases = " ".join(f"{p}: {m} <= {_lit(v, bits) if isinstance(v, int) else sx(hold(v), bits)};"
                             for p, v in enumerate(values))
            e.seq.append(f"case ({ph}) {cases} default: {m} <= {_lit(0, bits)}; endcase")
            # LUTs per bit: a LUT6 selects one of 4 nets (MUXF7/8 join them); the constants are one function of the
            # phase bits (a LUT6 per 64 phases). A multiplexer of the same values by the same phase is the same logic
            # (Yosys merges it: the lanes of a matrix-vector product share the vector's), counted once.
            key = (ph, bits, tuple(v if isinstance(v, int) else hold(v).name for v in values))
            if key not in self._muxes:
                self._muxes.add(key)
                nets = sum(isinstance(v, Net) for v in values)
                rom = -(-(1 << pw) // 64) if nets < len(values) else 0
                self.mux_bits += bits * (-(-nets // 4) + rom)
            return Net(m, bits, stage + 2)

        lanes = -(-len(elems) // F)
        ops = [self._operands(it, i1, j2, stage) for i1, j2 in elems]
        pad = ([(0 if isinstance(a, Net) else a, 0 if isinstance(b, Net) else b, sh) for a, b, sh in ops[0][0]],
               None if ops[0][1] is None else 0)
        outs: list[Net | None] = [None] * len(elems)
        results = []
        for lane in range(lanes):
            mine = [ops[lane * F + p] if lane * F + p < len(elems) else pad for p in range(F)]
            terms = []
            for t in range(len(mine[0][0])):
                a_vals, b_vals = [m[0][t][0] for m in mine], [m[0][t][1] for m in mine]
                if it.op != "lut" and any(all(isinstance(v, int) and v == 0 for v in vals) for vals in (a_vals, b_vals)):
                    terms.append((0, 0, 0))  # a factor that is 0 in every phase: no multiplexer for the other
                    continue
                terms.append((select(a_vals), None if it.op == "lut" else select(b_vals), mine[0][0][t][2]))
            vf = None if mine[0][1] is None else select([m[1] for m in mine])
            if isinstance(vf, int):
                vf = e.wire("k", SH_W + 1, _lit(vf, SH_W + 1), stage + 2)
            acc, vf = self._element(it, terms, vf, stage + 2)
            results.append((lane, acc, vf))
        astage = max(acc.stage for _, acc, _ in results)
        for lane, acc, vf in results:
            res = self._finish(it, e.at(acc, astage), vf, out_bits, astage)
            when = e.at(phase, res.stage)  # the phase of the result in this clock
            for p in range(F):
                k = lane * F + p
                if k < len(elems):
                    o = e.name("o")
                    e.decl.append(f"reg signed [{out_bits - 1}:0] {o};")
                    e.seq.append(f"if ({when.name} == {_lit(p, pw)}) {o} <= {res.name};")
                    outs[k] = Net(o, out_bits, res.stage + F)
        return outs

    # ---------------------------------------------------------------- the whole array
    def build(self) -> ArrayDesign:
        prog, e = self.prog, self.e
        step, finish = self._program("step", "finish"), self._program("finish", "end")
        for it in step + finish:
            self._check_no_forwarding(it)
        # the recurrent state: words STEP reads before writing them; their values at a window's start are INIT's
        sim = IsaSim(prog)
        sim.run("init", "step")
        written_init = {a for it in self._program("init", "step") for a in self._writes(it)}
        written: set[int] = set()
        live: set[int] = set()
        for it in step:
            live.update(a for a in self._reads(it) if a not in written and a not in (prog.in_addr, prog.in_addr + 1))
            written.update(self._writes(it))
        bits: dict[int, int] = {}
        for it in self._program("init", "step") + step:
            for a in self._writes(it):
                bits[a] = max(bits.get(a, 2), _written_bits(it))
        self.init = {a: sim.dmem[a] for a in live}
        self.state = {a: bits[a] for a in live if a in written}
        for a in live - written:  # read, never written by a step: a constant (its INIT value, else 0)
            self.cur[a] = sim.dmem[a] if a in written_init else 0
        self._needed = self._needed_elements(step + finish, set(self.state) | set(prog.out_addr))
        # ---- the step: tokens in at stage 0
        tok = self.token
        t = tok["t"]
        tfield = f"token_TDATA[{t.lsb + t.bits - 1}:{t.lsb}]"
        self.ctl_src = {"v": (1, "token_TVALID"), "first": (1, f"({tfield} == {_ulit(0, t.bits)})"),
                        "last": (1, f"({tfield} == {_ulit(self.L - 1, t.bits)})")}
        for name in ("slot", "channel", "time"):
            f = tok[name]
            self.ctl_src[name] = (f.bits, f"token_TDATA[{f.lsb + f.bits - 1}:{f.lsb}]")
        in_bits = prog.in_fmt.width + (0 if prog.in_fmt.signed else 1)
        for k, fld in enumerate(("i", "q")):
            f = tok[fld]
            self.cur[prog.in_addr + k] = e.wire("x", in_bits, f"token_TDATA[{f.lsb + in_bits - 1}:{f.lsb}]", 0)
        for it in step:
            self.group(it, 0)
        n_step_products, n_step_fabric = len(self.products), self.fabric_factors.total()
        # D: every state word written back, every head input available
        for g in self.state_groups:
            g["write"] = max(v.stage for a in g["addrs"] for v in [self.cur[a]] if isinstance(v, Net))
        head_reads: list[int] = []  # the head's inputs: words FINISH reads before it writes them
        head_writes: set[int] = set()
        for it in finish:
            head_reads += [a for a in self._reads(it) if a not in head_writes and a not in head_reads]
            head_writes.update(self._writes(it))
        head_in = {a: self.cur[a] for a in head_reads}
        D = max([g["write"] for g in self.state_groups] + [v.stage for v in head_in.values() if isinstance(v, Net)]) + 1
        for g in self.state_groups:
            finals = [e.at(self.cur[a], g["write"]) for a in g["addrs"]]
            e.seq.append(f"if ({self.ctl('v', g['write'])}) {g['mem']}[{self.ctl('slot', g['write'])}] <= "
                         f"{{{', '.join(v.name for v in reversed(finals))}}};")
        # ---- the head: its own pipeline from each head start (stage 0), fed by the head queue
        queue = self._head_queue(head_in, D)
        self.cur = dict(queue)
        self.fold, self.valid = self.head_fold, "hv"
        for it in finish:
            self.group(it, 0)
        mu, lv = (self.cur[a] for a in prog.out_addr)
        R = max(v.stage for v in (mu, lv) if isinstance(v, Net))
        mu, lv = (e.at(v, R) for v in (mu, lv))
        verilog = self._render(mu, lv, R)
        return ArrayDesign(verilog=verilog, mems=self.mems, token=self.token, record=self.record, slots=self.S,
                           length=self.L, channels=self.n_ch, record_fifo=self.rf, fold=self.step_fold,
                           head_interval=self.head_fold, head_queue=self.hq, step_latency=D, head_latency=R + 1,
                           n_stages=D + R + 1, products=self.products, product_ops=self.product_ops,
                           step_products=n_step_products, fabric_products=self.fabric_factors.total(),
                           step_fabric_products=n_step_fabric, fabric_factors=self.fabric_factors,
                           tables=self.tables, state_bits=self.state_bits,
                           state_words=[g["bits"] for g in self.state_groups], adder_bits=self.adder_bits,
                           mux_bits=self.mux_bits, units=self.units)

    def _head_queue(self, head_in: dict[int, Net | int], D: int) -> dict[int, Net | int]:
        """A window's last token asks for the head at stage D (its pooling state and tag); the head starts one
        window every ``head_fold`` clocks, the request itself when the head is free and nothing waits, else the
        oldest waiting one; a request that finds ``head_queue`` windows waiting (one starting in this clock included,
        as a FIFO's full flag counts it) is dropped and counted. Returns the head's inputs as nets of head stage 0."""
        e, hq, hf = self.e, self.hq, self.head_fold
        nets = [(a, e.at(v, D)) for a, v in head_in.items() if isinstance(v, Net)]
        fields = [("time", self.ctl("time", D), TIME_BITS), ("channel", self.ctl("channel", D), self.ch_bits)]
        qw = sum(v.bits for _, v in nets) + TIME_BITS + self.ch_bits
        qa, bw = _ubits(hq), _ubits(hf)
        word = ", ".join([f for _, f, _ in fields] + [v.name for _, v in reversed(nets)])
        e.decl += [
            f"wire hreq = {self.ctl('v', D)} & {self.ctl('last', D)} & ap_rst_n;",
            f"wire [{qw - 1}:0] hreq_word = {{{word}}};",
            f"reg [{qw - 1}:0] hq_mem [0:{hq - 1}];",
            f"reg [{qa}:0] hq_count;",
            f"reg [{qa - 1}:0] hq_rd, hq_wr;",
            f"reg [{bw - 1}:0] hbusy;  // clocks until the head can start again",
            "wire hfree = (hbusy == 0);",
            "wire hq_any = (hq_count != 0);",
            "assign hstart = hfree & (hq_any | hreq);",
            "wire hq_pop = hfree & hq_any;",
            f"assign hstart_word = hq_any ? hq_mem[hq_rd] : hreq_word;",
            "wire hq_want = hreq & ~(hfree & ~hq_any);  // not started at once: it waits",
            f"wire hq_full = (hq_count == {_ulit(hq, qa + 1)});  // a FIFO's full flag: a pop in this clock frees no room yet",
            "wire hq_push = hq_want & ~hq_full;",
            "wire hq_drop = hq_want & hq_full;",
        ]
        e.seq.append("if (hq_push) hq_mem[hq_wr] <= hreq_word;")
        self.head_regs = [
            (f"hq_count", f"{_ulit(0, qa + 1)}", f"hq_count + {{{qa}'d0, hq_push}} - {{{qa}'d0, hq_pop}}"),
            ("hq_rd", _ulit(0, qa), f"hq_pop ? ((hq_rd == {_ulit(hq - 1, qa)}) ? {_ulit(0, qa)} : hq_rd + {_ulit(1, qa)}) : hq_rd"),
            ("hq_wr", _ulit(0, qa), f"hq_push ? ((hq_wr == {_ulit(hq - 1, qa)}) ? {_ulit(0, qa)} : hq_wr + {_ulit(1, qa)}) : hq_wr"),
            ("hbusy", _ulit(0, bw), f"hstart ? {_ulit(hf - 1, bw)} : hfree ? hbusy : hbusy - {_ulit(1, bw)}"),
        ]
        off = 0
        self.hq_word_bits = qw
        self.ctl_src["hv"] = (1, "hstart")
        out: dict[int, Net | int] = {a: v for a, v in head_in.items() if isinstance(v, int)}
        for a, v in nets:
            nm = e.name("hin")
            e.decl.append(f"wire signed [{v.bits - 1}:0] {nm} = hstart_word[{off + v.bits - 1}:{off}];")
            out[a] = Net(nm, v.bits, 0)
            off += v.bits
        self.ctl_src["hchannel"] = (self.ch_bits, f"hstart_word[{off + self.ch_bits - 1}:{off}]")
        off += self.ch_bits
        self.ctl_src["htime"] = (TIME_BITS, f"hstart_word[{off + TIME_BITS - 1}:{off}]")
        return out

    def _render(self, mu: Net, lv: Net, R: int) -> str:
        e, tok, rec = self.e, self.token, self.record
        fw = target.RECORD_FIELD_BITS
        for sig in ("hv", "hchannel", "htime"):
            self.ctl(sig, R)
        # control chains: stage 0 from the token word (step) or the head start (head), one register per stage
        ctl_lines, ctl_seq, resets = [], [], []
        for sig, top in sorted(self.ctl_max.items()):
            w, src = self.ctl_src[sig]
            rng = f"[{w - 1}:0] " if w > 1 else ""
            ctl_lines.append(f"wire {rng}{sig}_s0 = {src};")
            for s in range(1, top + 1):
                ctl_lines.append(f"reg {rng}{sig}_s{s};")
                if sig in ("v", "hv"):  # valid bits: cleared by reset
                    resets.append((f"{sig}_s{s}", "1'b0", f"{sig}_s{s - 1}"))
                else:
                    ctl_seq.append(f"{sig}_s{s} <= {sig}_s{s - 1};")
        ch_w, rec_w, a_w = self.ch_bits, rec.bits, _ubits(self.rf)
        pad = f"{rec.bits - rec.used}'d0, " if rec.bits > rec.used else ""
        reset_regs = resets + self.head_regs + [
            ("count", _ulit(0, a_w + 1), f"count + {{{a_w}'d0, push}} - {{{a_w}'d0, pop}}"),
            ("rd_ptr", _ulit(0, a_w), f"pop ? ((rd_ptr == {_ulit(self.rf - 1, a_w)}) ? {_ulit(0, a_w)} : "
                                      f"rd_ptr + {_ulit(1, a_w)}) : rd_ptr"),
            ("wr_ptr", _ulit(0, a_w), f"push ? ((wr_ptr == {_ulit(self.rf - 1, a_w)}) ? {_ulit(0, a_w)} : "
                                      f"wr_ptr + {_ulit(1, a_w)}) : wr_ptr")]
        # every register (and memory) is assigned in one always block only: two would be two drivers in synthesis
        blocks = Counter(t for st in ctl_seq + e.seq for t in set(re.findall(r"(\w+)(?:\[[^\]]*\])?\s*<=", st)))
        blocks.update(r for r, _, _ in reset_regs)
        twice = sorted(t for t, n in blocks.items() if n > 1)
        if twice:
            raise AssertionError(f"registers assigned in two always blocks: {twice[:5]}")
        header = generated_header("venom-fpga array", {"program": repr(self.prog.entry).encode()})
        d = self.ctl_max.get("v", 0)
        lines = [
            "// SPDX-License-Identifier: BSD-3-Clause",
            f"// {header}",
            "`resetall", "`timescale 1ns / 1ps", "`default_nettype none", "",
            f"// venom_array: {self.S} slots, windows of {self.L} samples, {self.n_ch} channels, fold {self.step_fold}, "
            f"head every {self.head_fold} clocks (python/venom_fpga/rtl/array.py)",
            "module venom_array #(",
            f"    parameter MEM_DIR = \"{self.mem_dir}\"",
            ") (",
            *_ports(tok.bits, rec_w, ch_w),
            ");", "",
            '`include "venom_contract.vh"', "",
            "assign token_TREADY = 1'b1;  // never stalls", "",
            "// ---- control: valid, first/last sample, slot and tag at each stage of the step (*_s<k>, to stage "
            f"{d}) and of the head (h*_s<k>)",
            "wire hstart;",
            f"wire [{self.hq_word_bits - 1}:0] hstart_word;",
            *ctl_lines, "",
            "// ---- datapath",
            *e.decl, "",
            *e.body, "",
            # one always block per register: synthesis elaborates many small processes much faster than one large
            *(f"always @(posedge ap_clk) {s}" for s in ctl_seq + e.seq), "",
            "always @(posedge ap_clk) begin",
            "    if (!ap_rst_n) begin",
            *(f"        {r} <= {v};" for r, v, _ in reset_regs),
            "    end else begin",
            *(f"        {r} <= {n};" for r, _, n in reset_regs if n is not None),
            "    end",
            "end", "",
            "// ---- record FIFO: a record that finds it full is dropped and counted for its channel",
            f"wire push_req = hv_s{R} & ap_rst_n;",
            f"wire [{rec_w - 1}:0] rec_word = {{{pad}htime_s{R}, hchannel_s{R}, {sx(lv, fw)}, {sx(mu, fw)}}};",
            f"reg [{rec_w - 1}:0] fifo [0:{self.rf - 1}];",
            f"reg [{a_w}:0] count;",
            f"reg [{a_w - 1}:0] rd_ptr, wr_ptr;",
            "wire pop = record_TVALID & record_TREADY;",
            f"wire full = (count == {_ulit(self.rf, a_w + 1)}) & ~pop;",
            "wire push = push_req & ~full;",
            "wire fifo_drop = push_req & full;",
            "assign record_TVALID = (count != 0);",
            "assign record_TDATA = fifo[rd_ptr];",
            "always @(posedge ap_clk) if (push) fifo[wr_ptr] <= rec_word;", "",
            "// ---- drop counters per channel: head queue and record FIFO (both may drop in one clock)",
            f"reg [{COUNT_W - 1}:0] drops_hq [0:{self.n_ch - 1}];",
            f"reg [{COUNT_W - 1}:0] drops_fifo [0:{self.n_ch - 1}];",
            "integer i;",
            "initial begin",
            f"    for (i = 0; i < {self.n_ch}; i = i + 1) begin",
            f"        drops_hq[i] = {COUNT_W}'d0;",
            f"        drops_fifo[i] = {COUNT_W}'d0;",
            "    end",
            f"    drop_total = {COUNT_W}'d0;",
            "end",
            "always @(posedge ap_clk) begin",
            f"    if (hq_drop) drops_hq[channel_s{d}] <= drops_hq[channel_s{d}] + {COUNT_W}'d1;",
            f"    if (fifo_drop) drops_fifo[hchannel_s{R}] <= drops_fifo[hchannel_s{R}] + {COUNT_W}'d1;",
            f"    if (hq_drop | fifo_drop) drop_total <= drop_total + {{{COUNT_W - 1}'d0, hq_drop}} + "
            f"{{{COUNT_W - 1}'d0, fifo_drop}};",
            "    drop_count <= drops_hq[drop_addr] + drops_fifo[drop_addr];",
            "end", "",
            "endmodule", "", "`resetall", ""]
        return "\n".join(lines)


def _ports(tok_w: int, rec_w: int, ch_w: int) -> list[str]:
    """The top's ports, visible to cocotb in a Verilator build without --public-flat-rw (the testbench touches only
    these)."""
    ports = [("input ", "wire", 1, "ap_clk"), ("input ", "wire", 1, "ap_rst_n"),
             ("input ", "wire", tok_w, "token_TDATA"), ("input ", "wire", 1, "token_TVALID"),
             ("output", "wire", 1, "token_TREADY"), ("output", "wire", rec_w, "record_TDATA"),
             ("output", "wire", 1, "record_TVALID"), ("input ", "wire", 1, "record_TREADY"),
             ("input ", "wire", ch_w, "drop_addr"), ("output", "reg ", COUNT_W, "drop_count"),
             ("output", "reg ", COUNT_W, "drop_total")]
    return [f"    {d} {k} {f'[{w - 1}:0] ' if w > 1 else ''}{n} /*verilator public_flat_rw*/"
            + ("," if i < len(ports) - 1 else "") for i, (d, k, w, n) in enumerate(ports)]


def generate(fm: FixedModel, slots: int, length: int, channels: int, record_fifo: int = 16, fold: int = 1,
             head_fold: int = 1, head_queue: int = 4, mem_dir: str = "") -> ArrayDesign:
    """The array datapath of ``fm`` for ``slots`` windows in flight of ``length`` samples, ``channels`` channels
    (the tag's channel id), one token every ``fold`` clocks at most, one head start every ``head_fold`` clocks, a
    head queue of ``head_queue`` windows and a record FIFO of ``record_fifo`` records."""
    for name, v in (("slots", slots), ("length", length), ("channels", channels), ("record_fifo", record_fifo),
                    ("fold", fold), ("head_fold", head_fold), ("head_queue", head_queue)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ArrayError(f"array: {name} must be a positive integer, got {v!r}")
    if fold & (fold - 1):
        raise ArrayError(f"array: fold must be a power of two, got {fold}")
    return _Generator(fm, int(slots), int(length), int(channels), int(record_fifo), int(fold), int(head_fold),
                      int(head_queue), mem_dir).build()


def write(design: ArrayDesign, out: str | os.PathLike) -> Path:
    """venom_array.v, the table files and params.json in ``out``; returns ``out``."""
    import json
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {"venom_array.v": design.verilog, "params.json": json.dumps(design.params(), indent=2) + "\n"}
    files |= {name: "\n".join(words) + "\n" for name, words in design.mems.items()}
    for name, text in files.items():
        with atomic_path(out / name) as tmp:
            Path(tmp).write_text(text)
    return out


def sources(out: str | os.PathLike) -> list[str]:
    """The Verilog files of a generated array (its top and the hand-written modules it instantiates)."""
    from venom_fpga.paths import RTL_DIR
    return [str(Path(out) / "venom_array.v")] + [str(RTL_DIR / f) for f in
                                                 ("venom_quant.v", "venom_normalize.v", "venom_lut_unit.v",
                                                  "venom_rom.v")]


def dsp48e2(products: list[tuple[int, int]]) -> int:
    """DSP48E2 slices for the multipliers (27 x 18 signed per slice; wider operands cascade)."""
    return sum(math.ceil((a - 1) / 26) * math.ceil((b - 1) / 17) for a, b in products)
