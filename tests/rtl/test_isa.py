# SPDX-License-Identifier: BSD-3-Clause
"""The instruction-level model of the RTL engine (rtl_isa) against the fixed-point golden model, bit for bit."""

from __future__ import annotations

import re

import numpy as np
import pytest
from model_zoo import PUBLISHED, SMALL, random_tensors

from venom_fpga.model.checkpoint import load_checkpoint
from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.precision import default_precision, fold_layernorm
from venom_fpga.fixed.qformat import OVERFLOW_MODES, ROUNDING_MODES, QFormat
from venom_fpga.rtl.isa import WRITE_LATENCY, IsaSim, compile_model, quant, schedule

SHIPPED = "weights/venom_synth_ptsi.safetensors"


def _windows(fm: FixedModel, n: int, length: int, amp: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    iq = rng.standard_normal((n, length, 2)) * amp
    iq[0] = 1e6  # saturating input
    if n > 1:
        iq[1] = -1e6
    return fm.quantize_input(iq)


@pytest.mark.parametrize("dims,seed,lanes", [(SMALL, 1, 2), (SMALL, 2, 4), (SMALL, 3, 8), (PUBLISHED, 4, 4),
                                             (PUBLISHED, 5, 16)], ids=["small-l2", "small-l4", "small-l8",
                                                                       "published-l4", "published-l16"])
def test_isa_matches_fixed_model_random(dims, seed, lanes):
    fm = FixedModel((dims, random_tensors(dims, seed)))
    codes = _windows(fm, 6, 10, 3.0, seed)
    ref, _ = fm.run_codes(codes)
    sim = IsaSim(compile_model(fm, lanes))
    for w in range(codes.shape[0]):
        assert sim.window(codes[w]) == (ref[w, 0], ref[w, 1]), f"window {w}"


@pytest.mark.parametrize("dims,seed,lanes", [(SMALL, 6, 2), (PUBLISHED, 7, 8)], ids=["small-l2", "published-l8"])
def test_isa_matches_fixed_model_with_the_layernorm_fold(dims, seed, lanes):
    pair = (dims, random_tensors(dims, seed))
    fm = FixedModel(pair, fold_layernorm(default_precision(pair), pair))
    codes = _windows(fm, 6, 10, 3.0, seed)
    ref, _ = fm.run_codes(codes)
    prog = compile_model(fm, lanes)
    assert any(it.name == "layers.0.ln_p" for it in prog.instrs)
    sim = IsaSim(prog)
    for w in range(codes.shape[0]):
        assert sim.window(codes[w]) == (ref[w, 0], ref[w, 1]), f"window {w}"


@pytest.mark.parametrize("lanes", [4, 8])
def test_isa_matches_fixed_model_shipped(lanes):
    fm = FixedModel(load_checkpoint(SHIPPED))
    codes = _windows(fm, 4, 40, 4.0, lanes)
    ref, _ = fm.run_codes(codes)
    prog = compile_model(fm, lanes)
    sim = IsaSim(prog)
    for w in range(codes.shape[0]):
        assert sim.window(codes[w]) == (ref[w, 0], ref[w, 1]), f"window {w}"
    # folding: LANES=4 sustains one MKIDGen3 channel (<= 1,024 cycles per sample incl. the AXI shell's 3 cycles)
    cycles = IsaSim(prog).step_cycles() + 3
    assert cycles <= {4: 1024, 8: 600}[lanes]


@pytest.mark.parametrize("lanes", [0, 1, 3, 6])
def test_lanes_must_be_a_power_of_two(lanes):
    fm = FixedModel((SMALL, random_tensors(SMALL, 1)))
    with pytest.raises(ValueError, match="power of two"):
        compile_model(fm, lanes)


@pytest.mark.parametrize("lanes", [2, 4, 8])
def test_schedule_waits_are_needed_and_enough(lanes):
    """The compiler's stall cycles are the least that avoid every read-after-write hazard of the pipelined
    write-back: the scheduled program passes the check, and one cycle less on any stalled instruction fails it."""
    fm = FixedModel(load_checkpoint(SHIPPED))
    prog = compile_model(fm, lanes)
    schedule(prog.instrs, prog.entry, lanes, assign=False)
    stalled = [it for it in prog.instrs if it.wait]
    assert stalled, "a pipelined engine with no hazard at all is implausible"
    for it in stalled:
        it.wait -= 1
        with pytest.raises(ValueError, match="before it is written"):
            schedule(prog.instrs, prog.entry, lanes, assign=False)
        it.wait += 1


def test_schedule_rejects_a_hazard_inside_one_instruction():
    """An instruction reading, in a later group, what its own earlier group writes cannot be stalled: error."""
    from venom_fpga.rtl.isa import Instr, Seg

    # dest[j] = src[j] with dest = src + 4: at lanes=4, group 1 reads words 4..7 one cycle after group 0 wrote them
    assert WRITE_LATENCY > 1
    ins = [Instr("chain", "mac", 1, 8, (4, 0, 1), [Seg(k=1, a=(0, 0, 1, 0), b_w=True, w=lambda *a: 1)])]
    entry = {"init": 0, "step": 1, "finish": 1, "end": 1}
    with pytest.raises(ValueError, match="own write-back"):
        schedule(ins, entry, 4)
    ins[0].dest = (8, 0, 1)  # disjoint: no hazard
    schedule(ins, entry, 4)


def test_destinations_must_be_consecutive_and_in_their_lanes_bank():
    """Lane l writes bank l at its group's row: a destination with stride LANES + 1 (elements still in bank
    j2 mod LANES) or a misaligned base is rejected, not silently written elsewhere."""
    from venom_fpga.rtl.isa import Instr, Seg, _check_banks

    seg = [Seg(k=1, a_one=True, b_w=True, w=lambda *a: 1)]
    _check_banks([Instr("ok", "mac", 2, 6, (8, 8, 1), seg)], 4)
    for dest in ((8, 0, 5), (9, 0, 1), (8, 6, 1)):
        with pytest.raises(ValueError):
            _check_banks([Instr("bad", "mac", 2, 6, dest, seg)], 4)


def test_quant_matches_qformat():
    rng = np.random.default_rng(0)
    for rnd in ROUNDING_MODES:
        for ovf in OVERFLOW_MODES:
            for signed in (True, False):
                w = int(rng.integers(2, 30))
                fmt = QFormat(w, w - 5, signed, rnd, ovf)
                v = rng.integers(-(1 << 40), 1 << 40, 300)
                v[:4] = [0, -1, (1 << 13) + (1 << 12), -((1 << 13) + (1 << 12))]  # exact halves at shift 13
                for s in (0, 1, 13, 30):
                    ref = fmt.quantize(v, fmt.frac_bits + s)
                    got = [quant(int(x), s, w, signed, rnd, ovf) for x in v]
                    assert list(ref) == got, (rnd, ovf, signed, s)


def test_rtl_export_writes_a_complete_top(tmp_path):
    """export_checkpoint (``venom-fpga rtl``) writes the top and its memories, each starting with the GENERATED line,
    and nothing else (lut.mem holds every table)."""
    import json

    from venom_fpga.rtl.export import export_checkpoint

    out = tmp_path / "gen"
    params = export_checkpoint(SHIPPED, lanes=4, out=out)
    assert sorted(p.name for p in out.iterdir()) == sorted(["venom_top.v", "venom_top.f", "irom.mem", "wrom.mem",
                                                            "lut.mem", "params.json"])
    for name in ("venom_top.v", "irom.mem", "wrom.mem", "lut.mem"):
        first = (out / name).read_text().splitlines()[0]
        assert first.startswith("// GENERATED by ") and "sha256" in first and "DO NOT EDIT" in first, name
    assert json.loads((out / "params.json").read_text())["engine_cycles"] == params["engine_cycles"]


@pytest.mark.parametrize("lanes", [4, 8])
def test_committed_rtl_of_the_shipped_weights_is_fresh(tmp_path, lanes):
    """rtl/generated/ holds the export of the default weights; it must be what the exporter writes now."""
    from pathlib import Path

    from venom_fpga.rtl.export import export_checkpoint

    repo = Path(__file__).resolve().parents[2]
    committed = repo / "rtl" / "generated" / f"venom_synth_ptsi_l{lanes}"
    weights = repo / "weights" / "venom_synth_ptsi.safetensors"
    out = tmp_path / committed.name  # the directory name is the design's name
    export_checkpoint(weights, lanes=lanes, out=out)
    fresh = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert fresh == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())

    def content(path: Path) -> bytes | list[Path]:
        if path.suffix == ".f":  # file lists are relative to where the design sits: compare what they name
            named = [(path.parent / line).resolve() for line in path.read_text().split()]
            return [f.relative_to(path.parent.resolve()) if f.is_relative_to(path.parent.resolve()) else f for f in named]
        # $readmemh needs the design's own path: the one location-dependent line of the top
        return re.sub(rb'MEM_DIR = "[^"]*"', b'MEM_DIR = "<design>"', path.read_bytes())

    for rel in fresh:
        assert content(out / rel) == content(committed / rel), f"stale: {rel} (make rtl)"
