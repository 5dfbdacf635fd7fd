# SPDX-License-Identifier: BSD-3-Clause
"""Random but valid programs of the micro-coded engine (rtl/venom_engine.v), for its standalone cocotb testbench
(cocotb_tests/venom_engine, wrapped by tests/rtl/test_modules.py).

One random program = three kinds of engine runs (each from an entry to an instruction with LAST, pipeline drained):
  init   writes a known random value into every scratchpad word the program uses (the engine has no preload port):
         MAC a_one x per-word weights (two segments: w_hi << s + w_lo), quantised to FMT_W bits AP_TRN/AP_WRAP
  step   random MAC / LUT instructions: 0..2 segments, K 1..5, A from DMEM or 1, B from DMEM or the weight stream,
         random shifts, a VF segment (extra write-back shift from a small non-negative word), every write-back mode
         (QUANT/ABS with every rounding and overflow mode, FLAG, NORM_M/NORM_N on an accumulator >= 1), N1 x N2
         element spaces, read-after-write chains (stalls) and in-place updates; LUT instructions on the real tables
         of a compiled SMALL model
  out<i> two copies of written words into OUT_ADDR / OUT_ADDR_LV (the engine's only outputs, out_d0 / out_d1)

Several random programs are concatenated into one instruction ROM (one build per LANES): ``combine`` keeps each
run's entry point. Accumulators stay below 2**62 (every word's bit bound is tracked while generating), every operand
fits the multiplier widths ``rtl/isa.py _operand_widths`` derives, destinations obey ``_check_banks`` and the
waits come from ``rtl/isa.py schedule``.
"""

from __future__ import annotations

import copy
import functools
import random
from dataclasses import dataclass, field
from pathlib import Path

from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.qformat import OVERFLOW_MODES, ROUNDING_MODES
from venom_fpga.rtl.export import derive_params, write_memories
from venom_fpga.target import IQ_FIELD_BITS
from venom_fpga.rtl.isa import Instr, IsaSim, Program, Seg, _check_banks, _operand_widths, _written_bits, \
    WRITE_LATENCY, assemble_weights, compile_model, lut_fields, schedule

IN_W = IQ_FIELD_BITS  # input words (in_d0 / in_d1) are sign-extended I/Q fields, as venom_core drives them
DATA_WORDS = 64  # scratchpad words a program works on (after the IN / OUT rows)
VF_WORDS = 16  # the top of the data region: small non-negative words (VF shift amounts), never overwritten
VF_MAX = 24
ACC_BOUND = 62  # |accumulator| < 2**ACC_BOUND (the engine's is 64-bit signed)


@functools.cache
def small_luts(lanes: int):
    """(lut, lut_base) of every LUT instruction of a compiled SMALL model, its LUT ROM and its LUT_R_W."""
    from model_zoo import SMALL, random_tensors

    prog = compile_model(FixedModel((SMALL, random_tensors(SMALL, 1))), lanes)
    uses, seen = [], set()
    for it in prog.instrs:
        if it.op == "lut" and (id(it.lut), it.lut_base) not in seen:
            seen.add((id(it.lut), it.lut_base))
            uses.append((it.lut, it.lut_base))
    return uses, prog.lut_rom, prog.lut_list, prog.lut_r_w


def layout(lanes: int) -> dict[str, int]:
    """IN words in row 0, OUT_ADDR in row 1, OUT_ADDR_LV in row 2 (all bank 0), then the data region."""
    d0 = 3 * lanes
    return {"in": 0, "out": lanes, "out_lv": 2 * lanes, "data": d0, "work_end": d0 + DATA_WORDS - VF_WORDS,
            "vf": d0 + DATA_WORDS - VF_WORDS, "depth": d0 + DATA_WORDS}


def _table(rng: random.Random, n1: int, n2: int, k: int, bits: int, positive: bool = False):
    lo, hi = (1, (1 << (bits - 1)) - 1) if positive else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    t = {(i1, j2, kk): rng.randint(lo, hi) for i1 in range(n1) for j2 in range(n2) for kk in range(k)}
    return lambda i1, j2, kk: t[(i1, j2, kk)]


def _sext(v: int, w: int) -> int:
    v &= (1 << w) - 1
    return v - (1 << w) if v >> (w - 1) else v


def _addrs(n1: int, n2: int, op, k: int) -> list[int]:
    return [op[0] + i1 * op[1] + j2 * op[2] + kk * op[3] for i1 in range(n1) for j2 in range(n2) for kk in range(k)]


@dataclass
class Gen:
    """Generator state of one random program: the bit bound of every scratchpad word so far."""

    rng: random.Random
    lanes: int
    fmt_w: int  # widest format written (bounds the multiplier operands)
    lay: dict[str, int]
    bits: dict[int, int] = field(default_factory=dict)
    name: str = "p"

    # ------------------------------------------------------------------ init
    def init_instrs(self) -> list[Instr]:
        """Every data word (and the VF words) gets a random value: a_one * w_hi << s + a_one * w_lo, one instruction
        per chunk of words (its own s), quantised to fmt_w bits AP_TRN / AP_WRAP (s = 16 wraps)."""
        rng, lay, out = self.rng, self.lay, []
        self.bits[lay["in"]] = self.bits[lay["in"] + 1] = IN_W
        lo, n = lay["data"], lay["vf"] - lay["data"]
        for c0 in range(0, n, 16):
            cn = min(16, n - c0)
            s = rng.choice([0, 4, 8, 16]) if c0 else 16  # the first chunk: words of fmt_w bits (wrapped)
            hb, lb = rng.randint(2, 16) if c0 else 16, rng.randint(2, 16)
            whi, wlo = _table(rng, 1, cn, 1, hb), _table(rng, 1, cn, 1, lb)
            it = Instr(f"{self.name}.init{c0}", "mac", 1, cn, (lo + c0, 0, 1), [
                Seg(k=1, a_one=True, b_w=True, w=whi, shift=s), Seg(k=1, a_one=True, b_w=True, w=wlo)],
                width=self.fmt_w, signed=True, rnd="AP_TRN", ovf="AP_WRAP")
            for j in range(cn):
                v = _sext((whi(0, j, 0) << s) + wlo(0, j, 0), self.fmt_w)
                self.bits[lo + c0 + j] = v.bit_length() + 1
            out.append(it)
        wv = {j: rng.choice([0, rng.randint(1, 8), rng.randint(0, VF_MAX)]) for j in range(VF_WORDS)}
        out.append(Instr(f"{self.name}.init_vf", "mac", 1, VF_WORDS, (lay["vf"], 0, 1), [
            Seg(k=1, a_one=True, b_w=True, w=lambda i1, j2, k: wv[j2])], width=8, signed=True, ovf="AP_WRAP"))
        for j in range(VF_WORDS):
            self.bits[lay["vf"] + j] = wv[j].bit_length() + 1
        return out

    # ------------------------------------------------------------------ step
    def _space(self):
        rng, lanes = self.rng, self.lanes
        n1 = rng.choice([1, 1, 1, 2, 3])
        n2 = rng.choice([1, rng.randint(1, 2 * lanes + lanes // 2), lanes, rng.randint(lanes + 1, 2 * lanes)])
        return n1, n2

    def _dest(self, n1: int, n2: int):
        """An aligned destination in the work region: element j2 in bank j2 mod LANES."""
        rng, lanes, lay = self.rng, self.lanes, self.lay
        for _ in range(100):
            s2 = 0 if n2 == 1 else 1  # the engine writes consecutive elements (rtl/isa.py _check_banks)
            s1 = rng.choice([0, lanes, lanes, 2 * lanes, 3 * lanes]) if n1 > 1 else 0
            span = (n1 - 1) * s1 + (n2 - 1) * s2
            top = lay["work_end"] - 1 - span
            if top < lay["data"]:
                continue
            base = rng.randrange(lay["data"], top + 1)
            base -= base % lanes
            if base < lay["data"]:
                base += lanes
            if base + span < lay["work_end"]:
                return base, s1, s2
        return None

    def _src(self, n1: int, n2: int, k: int, prev: Instr | None, lo: int | None = None, hi: int | None = None):
        """A source operand (base, s1, s2, sk) inside [lo, hi): often the previous instruction's destination."""
        rng, lay = self.rng, self.lay
        lo = lay["in"] if lo is None else lo
        hi = lay["depth"] if hi is None else hi
        if prev is not None and lo == lay["in"] and rng.random() < 0.5:
            op = (prev.dest[0], prev.dest[1] if n1 > 1 else 0, prev.dest[2] if n2 > 1 else 0, rng.choice([0, 1]))
            if all(lo <= a < hi for a in _addrs(n1, n2, op, k)):
                return op
        if rng.random() < 0.2:  # the widest word so far (operands reaching the multiplier's top bits)
            cand = [a for a in range(max(lo, lay["data"]), hi) if a in self.bits]
            top = max(self.bits[a] for a in cand)
            return (rng.choice([a for a in cand if self.bits[a] == top]), 0, 0, 0)
        for _ in range(100):
            op = (0, rng.choice([0, 1, 2, self.lanes]) if n1 > 1 else 0, rng.choice([0, 1, 1, 2, 3]) if n2 > 1 else 0,
                  rng.choice([0, 1, 1, 2]) if k > 1 else 0)
            span = (n1 - 1) * op[1] + (n2 - 1) * op[2] + (k - 1) * op[3]
            if hi - 1 - span < lo:
                continue
            base = rng.randrange(lo, hi - span)
            if lo == lay["in"] and base < lay["data"]:  # the IN words (never the unwritten words of rows 0..2)
                if span or base > 1:
                    base = rng.randrange(lay["data"], hi - span)
            return (base, *op[1:])
        raise AssertionError("no source operand fits")

    def _bits_of(self, op, n1, n2, k) -> int:
        return max(self.bits[a] for a in _addrs(n1, n2, op, k))

    def _mac_segs(self, n1, n2, prev, positive: bool) -> list[Seg]:
        """0..2 segments (the last one possibly VF) whose accumulator stays below 2**ACC_BOUND; positive: the
        accumulator is >= 1 (a_one x positive weights, plus a non-negative DMEM word x positive weights)."""
        rng, lay = self.rng, self.lay
        if positive:
            k = rng.randint(1, 5)
            segs = [Seg(k=k, a_one=True, b_w=True, w=_table(rng, n1, n2, k, rng.randint(2, 12), True),
                        shift=rng.randint(0, 40))]
            if rng.random() < 0.5:
                k = rng.randint(1, 3)
                segs.append(Seg(k=k, a=self._src(n1, n2, k, None, lay["vf"], lay["depth"]), b_w=True,
                                w=_table(rng, n1, n2, k, rng.randint(2, 12), True), shift=rng.randint(0, 12)))
            return segs
        nseg = rng.choice([0, 1, 1, 2, 2, 2])
        vf = nseg == 2 and rng.random() < 0.5 or nseg == 1 and rng.random() < 0.05  # (VF alone: acc = 0)
        segs = []
        for si in range(nseg - vf):
            k = rng.randint(1, 5)
            a_one = rng.random() < 0.25
            b_w = rng.random() < 0.5
            sg = Seg(k=k, a_one=a_one, a=(0, 0, 0, 0) if a_one else self._src(n1, n2, k, prev if si == 0 else None),
                     b_w=b_w, b=(0, 0, 0, 0) if b_w else self._src(n1, n2, k, prev))
            if b_w:
                sg.w = _table(rng, n1, n2, k, rng.randint(2, 14))
            segs.append(sg)
        # shifts within the accumulator bound
        for _ in range(3):
            exps = []
            for sg in segs:
                ba = 2 if sg.a_one else self._bits_of(sg.a, n1, n2, sg.k)
                bb = max(abs(sg.w(i1, j2, kk)) for i1 in range(n1) for j2 in range(n2)
                         for kk in range(sg.k)).bit_length() + 1 if sg.b_w else self._bits_of(sg.b, n1, n2, sg.k)
                exps.append((ba - 1) + (bb - 1) + (sg.k - 1).bit_length())
            room = ACC_BOUND - 1 - max(exps, default=0)
            if room >= 0:
                break
            worst = segs[exps.index(max(exps))]  # too wide: the weight stream (small weights) for B, then 1 for A
            if not worst.b_w:
                worst.b_w, worst.b, worst.w = True, (0, 0, 0, 0), _table(rng, n1, n2, worst.k, rng.randint(2, 8))
            else:
                worst.a_one, worst.a = True, (0, 0, 0, 0)
        else:
            raise AssertionError("accumulator bound")
        for sg, e in zip(segs, exps):
            sg.shift = rng.randint(0, min(room, 24)) if rng.random() < 0.6 else 0
        if vf:
            segs.append(Seg(vf=True, b=self._src(n1, n2, 1, None, lay["vf"], lay["depth"])))
        return segs

    def _instr(self, idx: int, prev: Instr | None) -> Instr:
        rng, lay = self.rng, self.lay
        n1, n2 = self._space()
        dest = self._dest(n1, n2)
        if dest is None:
            n1, n2 = 1, 1
            dest = self._dest(1, 1)
        name = f"{self.name}.s{idx}"
        if rng.random() < 0.25:
            uses = small_luts(self.lanes)[0]
            kind = rng.choice(sorted({lut.kind for lut, _ in uses}))
            lut, base = rng.choice([u for u in uses if u[0].kind == kind])
            src = self._src(n1, n2, 1, prev)
            if rng.random() < 0.2:  # in place: the LUT reads the word it rewrites
                src = (*dest, 0)
            it = Instr(name, "lut", n1, n2, dest, [Seg(k=1, a=src)], lut=lut, lut_base=base)
            it.set_fmt(lut.out_fmt, lut.out_fmt.frac_bits)
            it.rshift = lut_fields(lut)["rshift"]
            if rng.random() < 0.3:
                it.rnd, it.ovf = rng.choice(ROUNDING_MODES), rng.choice(OVERFLOW_MODES)
            return it
        wb = rng.choices(["quant", "abs", "flag", "norm_m", "norm_n"], [40, 15, 10, 10, 10])[0]
        segs = self._mac_segs(n1, n2, prev, positive=wb in ("norm_m", "norm_n"))
        if wb not in ("norm_m", "norm_n") and segs and not segs[0].a_one and not segs[0].vf and rng.random() < 0.25:
            segs[0].a = (*dest, 0)  # in place: dest == A source, same element
            segs[0].k, segs[0].w = 1, _table(rng, n1, n2, 1, 8) if segs[0].b_w else None
            if not segs[0].b_w:
                segs[0].b = (segs[0].b[0], segs[0].b[1], segs[0].b[2], 0)
            if max(self.bits[a] for a in _addrs(n1, n2, segs[0].a, 1)) + 32 > ACC_BOUND - 2:
                segs[0].b_w, segs[0].b, segs[0].w = True, (0, 0, 0, 0), _table(rng, n1, n2, 1, 8)
            segs[0].shift = 0
        signed = rng.random() < 0.6
        width = rng.randint(2, self.fmt_w if signed else self.fmt_w - 1)
        it = Instr(name, "mac", n1, n2, dest, segs, wb=wb, width=width, signed=signed,
                   rnd=rng.choice(ROUNDING_MODES), ovf=rng.choice(OVERFLOW_MODES),
                   rshift=rng.randint(0, 48) if rng.random() < 0.3 else rng.randint(0, 12))
        if wb in ("norm_m", "norm_n"):
            mf = rng.randint(0, self.fmt_w - 3)
            it.norm = {"mant_frac": mf, "even": rng.randint(0, 1), "halve": rng.randint(0, 1),
                       "off": rng.randint(-128, 127), "lo": rng.randint(0, 255), "hi": rng.randint(0, 255),
                       "add": rng.randint(-128, 127)}
        return it

    def step_instrs(self, n: int) -> list[Instr]:
        """n random instructions, each accepted once schedule() finds its waits (no hazard inside one instruction,
        at most WAIT_MAX stalls)."""
        out: list[Instr] = []
        tries = 0
        while len(out) < n:
            tries += 1
            assert tries < 50 * n, "generator cannot place instructions"
            bits0 = dict(self.bits)
            it = self._instr(len(out), out[-1] if out else None)
            try:
                schedule(out + [it], {"init": 0, "step": 0, "finish": len(out) + 1, "end": len(out) + 1},
                         self.lanes)
            except ValueError:
                self.bits = bits0
                continue
            for a in _addrs(it.n1, it.n2, (*it.dest, 0), 1):
                self.bits[a] = max(self.bits[a], _written_bits(it))
            out.append(it)
        return out

    # ------------------------------------------------------------------ out
    def out_instrs(self, words: list[int]) -> list[Instr]:
        """Copies word -> OUT_ADDR, next word -> OUT_ADDR_LV (two per run)."""
        lay, out = self.lay, []
        for i, w in enumerate(words):
            out.append(Instr(f"{self.name}.out{i}", "mac", 1, 1, (lay["out"] if i % 2 == 0 else lay["out_lv"], 0, 0),
                             [Seg(k=1, a=(w, 0, 0, 0), b_w=True, w=lambda i1, j2, k: 1)], width=32, signed=True,
                             rnd="AP_TRN", ovf="AP_WRAP"))
        return out


@dataclass
class RandomProgram:
    """One random program: its runs [(run name, instructions)] in order (init, step, out0, out1, ...)."""

    seed: int
    runs: list[tuple[str, list[Instr]]]


def random_program(seed: int, lanes: int, fmt_w: int = 32, n_step: int = 14, n_out: int = 12) -> RandomProgram:
    rng = random.Random(seed)
    g = Gen(rng, lanes, fmt_w, layout(lanes), name=f"p{seed}")
    init = g.init_instrs()
    step = g.step_instrs(n_step)
    written = sorted({a for it in step for a in _addrs(it.n1, it.n2, (*it.dest, 0), 1)})
    words = rng.sample(written, min(n_out, len(written)))
    if len(words) % 2:
        words.append(words[0])
    outs = g.out_instrs(words)
    runs = [(f"p{seed}.init", init), (f"p{seed}.step", step)]
    runs += [(f"p{seed}.out{i // 2}", outs[i:i + 2]) for i in range(0, len(outs), 2)]
    return RandomProgram(seed, runs)


def combine(progs: list[RandomProgram], lanes: int) -> tuple[Program, list[str]]:
    """One Program (one instruction ROM) holding every run of ``progs``: entry[run] = its first instruction, the runs'
    waits scheduled (each run starts with the pipeline drained), the weight stream assembled, the multiplier widths
    derived statically. Returns it and the run names in order."""
    lay = layout(lanes)
    _, lut_rom, lut_list, lut_r_w = small_luts(lanes)
    ins: list[Instr] = []
    entry: dict[str, int] = {}
    names = []
    for p in progs:
        for name, run in p.runs:
            run = [copy.copy(it) for it in run]
            for it in run:
                it.segs = [copy.copy(sg) for sg in it.segs]
            schedule(run, {"init": 0, "step": len(run), "finish": len(run), "end": len(run)}, lanes)
            entry[name] = len(ins)
            names.append(name)
            ins += run
    entry = {**entry, "init": 0, "step": 0, "finish": 0, "end": len(ins)}
    banks = assemble_weights(ins, lanes)
    mul_a_w, mul_b_w = _operand_widths(ins, lay["in"], IN_W, lanes, banks)
    _check_banks(ins, lanes)
    for it in ins:
        assert it.width + (0 if it.signed else 1) <= 32 and it.rshift >= 0, it.name
    prog = Program(ins, entry, lanes, lay["depth"], {}, lay["in"], (lay["out"], lay["out_lv"]), None, None, banks,
                   lut_rom, lut_list, mul_a_w=mul_a_w, mul_b_w=mul_b_w, lut_r_w=lut_r_w)
    return prog, names


def run_bounds(prog: Program, names: list[str]) -> list[tuple[int, int]]:
    """(first, last + 1) instruction of every run."""
    starts = [prog.entry[n] for n in names]
    return list(zip(starts, starts[1:] + [len(prog.instrs)]))


def expected(prog: Program, names: list[str], inputs: list[tuple[int, int] | None]) -> list[dict]:
    """Runs IsaSim over the runs in order (writing the input words before a run where given): per run its entry pc,
    input words, busy cycles and the scratchpad afterwards."""
    sim = IsaSim(prog)
    out = []
    bounds = run_bounds(prog, names)
    for name, (s, e), inp in zip(names, bounds, inputs):
        if inp is not None:
            sim.dmem[prog.in_addr], sim.dmem[prog.in_addr + 1] = inp
        c0 = sim.cycles
        for it in prog.instrs[s:e]:
            sim.exec(it)
        sim.cycles += WRITE_LATENCY  # the drain (IsaSim.run)
        out.append({"name": name, "pc": s, "inputs": inp, "cycles": sim.cycles - c0, "dmem": list(sim.dmem)})
    return out


def write_mems(prog: Program, names: list[str], out: Path) -> dict:
    """irom.mem (LAST on every run's last instruction), wrom.mem, lut.mem via rtl/export.py write_memories; returns
    the engine parameters (rtl/export.py derive_params) that venom_engine takes besides the file names."""
    out.mkdir(parents=True, exist_ok=True)
    p = derive_params(prog)
    write_memories(prog, p, out, "GENERATED by tests/rtl_random_program.py (random engine program)",
                   {e - 1 for _, e in run_bounds(prog, names)})
    keys = ("LANES", "DW", "ACC_W", "MUL_A_W", "MUL_B_W", "LUT_R_W", "SH_W", "DMEM_DEPTH", "CNT_W", "IROM_DEPTH",
            "WROM_DEPTH", "WW", "LUT_DEPTH", "TW", "IN_ADDR", "OUT_ADDR", "OUT_ADDR_LV", "PIPE_LAT")
    return {k: getattr(p, k) for k in keys}


def operand_bits(prog: Program, names: list[str]) -> dict[str, int]:
    """Signed widths the multiplier operands A and B reach when IsaSim runs every run (coverage of MUL_A_W/MUL_B_W)."""
    top = {"a": 0, "b": 0}

    class Probe(IsaSim):
        def _operand(self, it, sg, which, lane, wptr, i1, j2, k):
            v = super()._operand(it, sg, which, lane, wptr, i1, j2, k)
            if not sg.vf and not (which == "a" and sg.a_one):
                top[which] = max(top[which], v.bit_length() + 1)
            return v

    sim = Probe(prog)
    for s, e in run_bounds(prog, names):
        for it in prog.instrs[s:e]:
            sim.exec(it)
    return top


def vf_matters(prog: Program, names: list[str], runs: list[dict]) -> bool:
    """Whether ignoring the VF shift (IsaSim reading VF words as 0) changes the scratchpad after some run started
    from the reference state."""

    class NoVf(IsaSim):
        def _operand(self, it, sg, which, lane, wptr, i1, j2, k):
            return 0 if sg.vf and which == "b" else super()._operand(it, sg, which, lane, wptr, i1, j2, k)

    sim = NoVf(prog)
    for (s, e), r in zip(run_bounds(prog, names), runs):
        if r["inputs"] is not None:
            sim.dmem[prog.in_addr], sim.dmem[prog.in_addr + 1] = r["inputs"]
        for it in prog.instrs[s:e]:
            sim.exec(it)
        if sim.dmem != r["dmem"]:
            return True
        sim.dmem = list(r["dmem"])
    return False
