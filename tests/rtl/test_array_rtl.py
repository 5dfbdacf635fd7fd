# SPDX-License-Identifier: BSD-3-Clause
"""The array RTL (generated venom_array, DESIGN.md §3.1) against the array model and the fixed-point model: Poisson
photons on several channels below and above capacity, a slow consumer, a busy head, a reset in mid-stream; every
record's values, tag and clock, and every channel's drop count, equal. Fold 1 with a head per clock, and fold 2 with
a folded head behind a one-window queue. A non-published-dims model (TINY) keeps the builds short. Products of every
kind are in both: DSP48E2 multipliers, and in fabric constant weights (CSD digits), variable factors (flags; at fold 2
weights narrowed to 3 and 4 bits, phase-selected) and table slopes."""

from __future__ import annotations

import dataclasses
import functools
import re
import subprocess

import numpy as np
import pytest
from model_zoo import TINY, random_tensors

from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.precision import default_precision, fold_layernorm
from venom_fpga.rtl.isa import compile_model
from venom_fpga.paths import RTL_DIR
from venom_fpga.rtl import array, array_sim
from venom_fpga.rtl.array_model import Window
from venom_fpga.rtl.cocotb_runner import SIM_BUILD

LENGTH, SLOTS, CHANNELS, FIFO = 8, 4, 6, 2
PERIOD_S = 1e-6  # 1 MHz model rate


CONFIGS = {"f1": {"fold": 1}, "f2-head8": {"fold": 2, "head_fold": 8, "head_queue": 1, "slots": 6}}
# weights narrowed to a few bits (tensor -> width): at fold 1 a weight of few CSD digits is a sum of shifts in fabric;
# at fold 2 a weight is a phase-selected variable, and one of a few bits makes its products partial-product sums in
# fabric (the step's in_proj, the folded head's)
NARROW_WEIGHTS = {"f1": {"layers.0.mixer.x_proj.weight": 5, "layers.0.mixer.out_proj.weight": 6},
                  "f2-head8": {"layers.0.mixer.in_proj.weight": 2, "head.mlp.2.weight": 2}}
# SiLU's input with one fraction bit below the table's step: its slope product (a 1-bit fraction, a select) in fabric
COARSE_TABLE_INPUT = "layers.0.xc"
FOLDED = {"f1"}  # with the LayerNorm fold (its folded LayerNorm + in_proj in the pipeline); f2 keeps LayerNorm


def _model(name: str) -> FixedModel:
    source = (TINY, random_tensors(TINY, 5))
    cfg = default_precision(source)
    if name in FOLDED:
        cfg = fold_layernorm(cfg, source)
    weights = {k: dataclasses.replace(f, width=NARROW_WEIGHTS.get(name, {}).get(k, f.width))
               for k, f in cfg.weights.items()}
    xc = cfg.signals[COARSE_TABLE_INPUT]
    signals = {**cfg.signals, COARSE_TABLE_INPUT: dataclasses.replace(
        xc, width=xc.int_bits + cfg.luts["silu"]["step_log2"] + 1)}
    return FixedModel(source, dataclasses.replace(cfg, weights=weights, signals=signals, source="memory"))


@functools.cache
def _design(name: str):
    fm = _model(name)
    design = array.generate(fm, **{"slots": SLOTS, **CONFIGS[name]}, length=LENGTH, channels=CHANNELS,
                            record_fifo=FIFO)
    out = array.write(design, SIM_BUILD / f"array-tiny-{name}")
    rng = np.random.default_rng(0)
    iq = rng.standard_normal((50, LENGTH, 2)) * 3.0
    iq[0, 3] = 1e6  # a saturating sample
    pool = fm.quantize_input(iq)
    period = design.step_latency + (design.slots - 1) * design.fold + 3  # the least the slots allow, plus a little
    return fm, design, out, pool, period


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def setup(request):
    return _design(request.param)


def _first(make, edges, tries: int = 200):
    """The first of ``make(0)``, ``make(1)``, ... whose array-model run has an edge case (``edges`` > 0)."""
    for k in range(tries):
        g = make(k)
        if edges(g):
            return g
    raise AssertionError(f"no stream in {tries} with the edge case")


def _fifo_edges(g, depth: int) -> int:
    """Records accepted into a full FIFO because a record leaves in the clock before their ``ready``."""
    recs, n = g.result.records, 0
    for i, r in enumerate(recs):
        busy = [q.leave for q in recs[:i] if q.leave >= r.ready - 1]
        n += len(busy) == depth and min(busy) == r.ready - 1
    return n


def _queue_edges(g, design) -> int:
    """Head requests dropped at a full queue although a queued window starts in the request's clock (a FIFO's full
    flag still counts it)."""
    starts = {r.ready - design.head_latency for r in g.result.records}
    return sum(1 for clock, _, cause in g.result.events if cause == "head_queue" and clock in starts)


def test_products_of_every_kind(setup):
    """The bit-exact runs below cover every way a product is built: DSP48E2 multipliers and fabric sums of constant
    weights (fold 1), of variable factors (a 2-bit weight at fold 2: its top bit's term subtracted) and of table
    slopes."""
    _, design, _, _, _ = setup
    kinds = design.fabric_factors
    assert design.step_products > 0 and len(design.products) > design.step_products  # DSP48E2: step and head
    assert (kinds["constant"] > 0) == (design.fold == 1) and kinds["variable"] > 0 and kinds["table"] > 0
    assert design.fabric_products == kinds.total() == sum(k for u, k in design.units.items() if u[0] == "fabric")
    assert design.params()["fabric_products"] == design.fabric_products >= design.step_fabric_products > 0
    fm = setup[0]
    assert any(it.name == "layers.0.ln_p" for it in compile_model(fm, array.COMPILE_LANES).instrs) == (
        design.fold == 1)  # f1: the LayerNorm fold
    if design.fold > 1:  # a phase-selected 2-bit weight: f[1] selects the subtracted term
        assert re.search(r"\(m_\d+\[1\] \? ", design.verilog)


def test_array_top_lint_clean(setup):
    _, _, out, _, _ = setup
    r = subprocess.run(["verilator", "--lint-only", "-Wall", f"-I{RTL_DIR}", "--top-module", "venom_array",
                        *array.sources(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]


def test_array_against_models(setup):
    fm, design, out, pool, period = setup
    seg = lambda **kw: array_sim.segment(fm, design, pool, n_periods=120, period=period,  # noqa: E731
                                         period_s=PERIOD_S, **kw)
    below = seg(rate_cps=20_000, seed=1)
    above = seg(rate_cps=150_000, seed=2, ready_p=0.004)
    whole = seg(rate_cps=60_000, seed=3)
    cut = seg(rate_cps=60_000, seed=3, clocks=whole.clocks // 2)  # reset in mid-stream, then a fresh stream
    after = seg(rate_cps=60_000, seed=4)
    burst = seg(rate_cps=300_000, seed=5)  # many windows ending together: the head queue may overflow
    # the edges of "full": a record that enters the full FIFO as one leaves (accepted), a request that finds the
    # head queue full as a queued window starts (dropped)
    if design.head_interval == 1:
        fifo_edge = _first(lambda k: seg(rate_cps=300_000, seed=100 + k, ready_p=0.15), lambda g: _fifo_edges(g, FIFO))
        segments = [below, above, cut, after, burst, fifo_edge]
    else:  # bursts: every channel starts a window in the same period, requests F clocks apart
        wins = [Window(ch, 10 * b, (b * CHANNELS + ch) % len(pool)) for b in range(12) for ch in range(CHANNELS)]
        bursts = lambda k, p: array_sim.segment_of(fm, design, pool, wins, period, seed=k, ready_p=p)  # noqa: E731
        queue_edge = bursts(0, 1.0)
        assert _queue_edges(queue_edge, design)
        fifo_edge = _first(lambda k: bursts(300 + k, 0.1), lambda g: _fifo_edges(g, FIFO))
        segments = [below, above, cut, after, burst, queue_edge, fifo_edge]
    # the scenarios are what they claim (the model's view)
    assert len(below.result.records) >= 5 and below.result.dropped() == 0
    assert above.result.drops["record_fifo"].sum() > 0
    assert above.result.drops["slot"].sum() > 0 or design.slots >= CHANNELS  # (a slot per channel: none)
    in_flight = [r for r in whole.result.records if r.leave >= cut.clocks]
    assert in_flight and len(cut.stream.clock) < len(whole.stream.clock)
    obs = array_sim.run(out, segments, sim="verilator")
    rep = array_sim.compare(segments, obs)
    assert rep["ok"], rep["first_difference"]
    assert rep["bit_exact"] == rep["records"] > 20
    if design.head_interval > 1:
        assert rep["head_queue_drops"] > 0
    for g in (below, above, after, burst):  # windows in = records out + counted drops
        assert len(g.stream.windows) == len(g.result.records) + g.result.dropped()


def test_array_icarus():
    """A short stream of the fold-1 design under Icarus too (it simulates it at a few k clocks/s)."""
    fm, design, out, pool, period = _design("f1")
    segments = [array_sim.segment(fm, design, pool, rate_cps=40_000, n_periods=30, period=period,
                                  period_s=PERIOD_S, seed=7)]
    assert len(segments[0].result.records) >= 2
    rep = array_sim.compare(segments, array_sim.run(out, segments, sim="icarus"))
    assert rep["ok"], rep["first_difference"]


def test_predict_through_the_array():
    """`predict --backend rtl`: windows interleaved on the array's channels come back in their places, equal to the
    fixed-point model, with the array model's clocks."""
    fm, _, _, pool, _ = _design("f1")
    got, rep = array_sim.predict_codes(fm, pool[:5], sim="verilator")
    want, _ = fm.run_codes(pool[:5])
    assert rep["ok"], rep["first_difference"]
    np.testing.assert_array_equal(got, want)
