# SPDX-License-Identifier: BSD-3-Clause
"""Standalone cocotb testbenches of single RTL modules (cocotb_tests/<module>/), wrapped in pytest: each builds a case
table with the golden Python values and the testbench drives every case and compares bit-exactly."""

from __future__ import annotations

import functools
import hashlib
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import rtl_random_program as rp
from model_zoo import SMALL, random_tensors

from venom_fpga.model.checkpoint import load_checkpoint
from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.lut import normalize, normalize_even
from venom_fpga.fixed.qformat import OVERFLOW_MODES, ROUNDING_MODES
from venom_fpga.rtl.export import CORE_FILES
from venom_fpga.rtl.isa import ACC_W, Program, compile_model, normalize_int

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "cocotb_tests"))
from venom_fpga.rtl.cocotb_runner import SIM_BUILD, run_cocotb, string_param  # noqa: E402

SIMULATORS = ("icarus", "verilator")
DW = Program.dw  # the engine's data-word width, which venom_normalize's outputs take


def _model_norms() -> list[dict]:
    """The distinct NORM_M / NORM_N settings of the compiled models (a SMALL one and both shipped checkpoints)."""
    models = [FixedModel((SMALL, random_tensors(SMALL, 1)))]
    models += [FixedModel(load_checkpoint(str(REPO / "weights" / f"venom_synth_{n}.safetensors")))
               for n in ("ptsi", "inhf")]
    norms = {tuple(sorted(it.norm.items())) for fm in models for it in compile_model(fm, 2).instrs if it.norm}
    return [dict(n) for n in sorted(norms)]


def _norm_values(rng: random.Random) -> list[int]:
    """1, 2, every power of two and its neighbours, the largest positive ACC_W values and random values of every
    bit length 1 .. ACC_W - 1."""
    top = (1 << (ACC_W - 1)) - 1
    vals = {1, 2, 3, top, top - 1, 1 << (ACC_W - 2), (1 << (ACC_W - 2)) + 1, 3 << (ACC_W - 3)}
    for k in range(ACC_W - 1):
        vals |= {(1 << k) - 1, 1 << k, (1 << k) + 1}
    for n in range(1, ACC_W):
        vals |= {rng.randrange(1 << (n - 1), 1 << n) for _ in range(4)}
    vals |= {rng.randrange(1 << (ACC_W - 2), top + 1) for _ in range(8)}
    return sorted(v for v in vals if 1 <= v <= top)


def _expo_setting(rng: random.Random, model: list[dict]) -> tuple[int, int, int, int, int]:
    """(halve, off, lo, hi, add) over the instruction fields' ranges (off/add signed 8-bit, lo/hi unsigned 8-bit):
    a model's own setting, edge values or random ones, including lo > hi."""
    if rng.random() < 0.2:
        n = rng.choice(model)
        return n["halve"], n["off"], n["lo"], n["hi"], n["add"]
    off = rng.choice([0, 1, -1, -15, -17, -62, 127, -128, rng.randrange(-128, 128)])
    lo = rng.choice([0, 1, 8, 20, 31, 62, 127, 255, rng.randrange(256)])
    hi = rng.choice([0, 8, 10, 20, 31, 62, 127, 255, rng.randrange(256)])
    add = rng.choice([0, -1, -8, 127, -128, rng.randrange(-128, 128)])
    return rng.randrange(2), off, lo, hi, add


@functools.cache
def normalize_cases(seed: int = 0) -> dict[str, np.ndarray]:
    """Every value of _norm_values under both `even`, with every mant_frac whose mantissa fits the engine's signed
    DW-bit data word (IsaSim raises beyond: mant_frac <= DW - 2, or DW - 3 when even; the models use 17), each with an
    exponent setting from _expo_setting; golden mant/expo from normalize_int and IsaSim's NORM_N formula."""
    rng = random.Random(seed)
    model = _model_norms()
    rows = []
    for val in _norm_values(rng):
        for even in (0, 1):
            for mf in range(DW - 1 - even):
                halve, off, lo, hi, add = _expo_setting(rng, model)
                mant, e = normalize_int(val, mf, bool(even))
                assert mant < 1 << (DW - 1), (val, mf, even)
                rows.append((val, mf, even, halve, off, lo, hi, add, mant,
                             min(max((e >> halve) + off, lo), hi) + add))
    for n in model:  # the models' exact settings over every value
        for val in _norm_values(random.Random(seed + 1)):
            mant, e = normalize_int(val, n["mant_frac"], bool(n["even"]))
            rows.append((val, n["mant_frac"], n["even"], n["halve"], n["off"], n["lo"], n["hi"], n["add"], mant,
                         min(max((e >> n["halve"]) + n["off"], n["lo"]), n["hi"]) + n["add"]))
    a = np.array(rows, dtype=np.int64)
    keys = ("val", "mant_frac", "even", "halve", "off", "lo", "hi", "add", "mant", "expo")
    return {k: a[:, i] for i, k in enumerate(keys)}


def test_normalize_golden_models_agree():
    """normalize_int (what IsaSim runs) against lut.normalize / normalize_even (what FixedModel runs) on the cases."""
    c = normalize_cases()
    for even, fn in ((0, normalize), (1, normalize_even)):
        for mf in np.unique(c["mant_frac"]):
            sel = (c["even"] == even) & (c["mant_frac"] == mf)
            m, _ = fn(c["val"][sel], int(mf))
            np.testing.assert_array_equal(m, c["mant"][sel], err_msg=f"even={even} mant_frac={mf}")


def test_normalize_cases_cover_the_edges():
    """The case table reaches both shift directions, both clip ends, lo > hi and negative exponents."""
    c = normalize_cases()
    p = np.array([v.bit_length() - 1 for v in c["val"].tolist()])
    p -= p & c["even"]
    e = (p >> c["halve"]) + c["off"]
    assert (p >= c["mant_frac"]).sum() > 1000 and (p < c["mant_frac"]).sum() > 1000
    assert (e < c["lo"]).sum() > 1000 and (np.maximum(e, c["lo"]) > c["hi"]).sum() > 1000
    assert (c["lo"] > c["hi"]).sum() > 100 and (c["expo"] < 0).sum() > 1000
    assert c["val"].max() == (1 << (ACC_W - 1)) - 1 and c["val"].min() == 1


@pytest.mark.parametrize("sim", SIMULATORS)
def test_venom_normalize_module(sim):
    cases = normalize_cases()
    path = SIM_BUILD / f"venom_normalize_cases-{sim}.npz"
    path.parent.mkdir(exist_ok=True)
    np.savez(path, acc_w=ACC_W, dw=DW, **cases)
    run_cocotb("venom_normalize", "test_venom_normalize", [str(REPO / "rtl" / "venom_normalize.v")],
               "venom_normalize", sim=sim, parameters={"ACC_W": ACC_W, "DW": DW},
               extra_env={"VENOM_NORMALIZE_CASES": str(path)})


# ------------------------------------------------------------------ venom_engine on random programs
# per LANES: the widest format written (bounds the multiplier operands: 32 -> MUL 32 x 32, narrower ones exercise
# narrower multipliers) and the seeds of the random programs concatenated into one instruction ROM
ENGINE_SETS = {2: (32, range(0, 12)), 4: (20, range(100, 112)), 8: (26, range(200, 212))}
# Verilator builds take ~30 s each on 2 cores (cached in sim_build/ afterwards): one LANES set there, all under Icarus
ENGINE_VERILATOR_LANES = (8,)


@functools.cache
def engine_cases(lanes: int):
    """(Program holding every run, run names, random programs, IsaSim's expectation per run) of one LANES set."""
    fmt_w, seeds = ENGINE_SETS[lanes]
    progs = [rp.random_program(s, lanes, fmt_w) for s in seeds]
    prog, names = rp.combine(progs, lanes)
    rng = random.Random(lanes)
    inputs = [(rng.randrange(-(1 << 15), 1 << 15), rng.randrange(-(1 << 15), 1 << 15))
              if n.endswith(".step") else None for n in names]
    runs = rp.expected(prog, names, inputs)
    return prog, names, progs, runs


@pytest.mark.parametrize("lanes", sorted(ENGINE_SETS))
def test_random_programs_cover(lanes):
    """The random programs reach what the engine test is for: stalls, in-place updates, every write-back mode,
    rounding and overflow mode, VF, both operand sources, 0/1/2 segments, LUT kinds, partial groups, N1 > 1."""
    prog, names, _, runs = engine_cases(lanes)
    steps = [it for n, (s, e) in zip(names, rp.run_bounds(prog, names)) if n.endswith(".step")
             for it in prog.instrs[s:e]]
    macs = [it for it in steps if it.op == "mac"]
    assert sum(it.wait > 0 for it in steps) >= 5
    assert {it.wb for it in macs} == {"quant", "abs", "flag", "norm_m", "norm_n"}
    q = [it for it in steps if it.wb in ("quant", "abs")]
    assert {it.rnd for it in q} == set(ROUNDING_MODES) and {it.ovf for it in q} == set(OVERFLOW_MODES)
    assert {it.signed for it in q} == {False, True}
    assert {len(it.segs) for it in macs} == {0, 1, 2}
    segs = [sg for it in macs for sg in it.segs]
    assert any(sg.vf for sg in segs) and any(sg.a_one for sg in segs) and any(sg.b_w for sg in segs)
    assert any(not (sg.a_one or sg.vf) for sg in segs) and any(not (sg.b_w or sg.vf) for sg in segs)
    assert {sg.k for sg in segs if not sg.vf} == {1, 2, 3, 4, 5}
    assert any(sg.shift > 0 for sg in segs)
    in_place = [it for it in steps if any(sg.a[:3] == it.dest and not sg.a_one and not sg.vf for sg in it.segs)]
    assert len(in_place) >= 2
    assert {it.lut.kind for it in steps if it.op == "lut"} == {"uniform", "relu_minus", "relu_plus", "exp2neg"}
    assert any(it.n2 % lanes for it in steps) and any(it.n2 > lanes for it in steps)
    assert any(it.n1 > 1 and it.dest[1] for it in steps) and any(it.rshift > 0 for it in steps)
    assert len(runs) == len(names) and all(r["cycles"] > 10 for r in runs)
    # some operands use the multipliers' full widths (rtl_isa._operand_widths): a truncated operand shows
    assert rp.operand_bits(prog, names) == {"a": prog.mul_a_w, "b": prog.mul_b_w}
    # the VF shift changes results: IsaSim with VF ignored ends some run with another scratchpad
    assert rp.vf_matters(prog, names, runs)


@pytest.mark.parametrize(("sim", "lanes"), [(s, n) for s in SIMULATORS for n in sorted(ENGINE_SETS)
                                            if s == "icarus" or n in ENGINE_VERILATOR_LANES])
def test_venom_engine_module(sim, lanes):
    """venom_engine (parameters from export.derive_params) runs the random programs of one LANES set as IsaSim
    does: busy cycles, out_d0/out_d1 after every run, and under Icarus the whole scratchpad through the hierarchy."""
    prog, names, progs, runs = engine_cases(lanes)
    mem_dir = SIM_BUILD / f"venom_engine_mem-L{lanes}-{sim}"
    params = rp.write_mems(prog, names, mem_dir)
    ends = {p.runs[-1][0] for p in progs}
    written: set[int] = set()
    cases = []
    for r, (s, e) in zip(runs, rp.run_bounds(prog, names)):
        if r["inputs"] is not None:
            written |= {prog.in_addr, prog.in_addr + 1}
        for it in prog.instrs[s:e]:
            written |= {it.dest[0] + i1 * it.dest[1] + j2 * it.dest[2] for i1 in range(it.n1) for j2 in range(it.n2)}
        cases.append({"name": r["name"], "pc": r["pc"], "inputs": r["inputs"], "cycles": r["cycles"],
                      "known": {a: r["dmem"][a] for a in sorted(written)}, "program_end": r["name"] in ends,
                      "check_out": {prog.out_addr[0], prog.out_addr[1]} <= written})
    path = mem_dir / "cases.json"
    path.write_text(json.dumps({"params": params, "runs": cases}))
    build_id = "venom_engine-" + hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:12]
    files = {k: string_param(str(mem_dir / f)) for k, f in
             (("IROM_FILE", "irom.mem"), ("WROM_FILE", "wrom.mem"), ("LUT_FILE", "lut.mem"))}
    run_cocotb("venom_engine", "test_venom_engine", [str(REPO / "rtl" / f) for f in CORE_FILES if f != "venom_core.v"],
               build_id, sim=sim, parameters=params | files,
               extra_env={"VENOM_ENGINE_CASES": str(path), "VENOM_ENGINE_DMEM": str(int(sim == "icarus"))})
