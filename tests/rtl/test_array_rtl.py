# SPDX-License-Identifier: BSD-3-Clause
"""The array RTL (generated venom_array, DESIGN.md §3.1) against the array model and the fixed-point model: Poisson
photons on several channels below and above capacity, a slow consumer, a reset in mid-stream; every record's values,
tag and clock, and every channel's drop count, equal. A non-published-dims model (TINY) keeps the build short."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from model_zoo import TINY, random_tensors

from venom_fpga.fixed.model import FixedModel
from venom_fpga.paths import RTL_DIR
from venom_fpga.rtl import array, array_sim
from venom_fpga.rtl.cocotb_runner import SIM_BUILD

LENGTH, SLOTS, CHANNELS, FIFO = 8, 4, 6, 2
PERIOD_S = 1e-6  # 1 MHz model rate


@pytest.fixture(scope="module")
def setup():
    fm = FixedModel((TINY, random_tensors(TINY, 5)))
    design = array.generate(fm, slots=SLOTS, length=LENGTH, channels=CHANNELS, record_fifo=FIFO)
    out = array.write(design, SIM_BUILD / "array-tiny")
    rng = np.random.default_rng(0)
    iq = rng.standard_normal((50, LENGTH, 2)) * 3.0
    iq[0, 3] = 1e6  # a saturating sample
    pool = fm.quantize_input(iq)
    period = design.step_latency + (SLOTS - 1) + 3  # the least period these slots allow, plus a little
    return fm, design, out, pool, period


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
    segments = [below, above, cut, after]
    # the scenarios are what they claim (the model's view)
    assert len(below.result.records) >= 5 and below.result.dropped() == 0
    assert above.result.drops["slot"].sum() > 0 and above.result.drops["record_fifo"].sum() > 0
    in_flight = [r for r in whole.result.records if r.leave >= cut.clocks]
    assert in_flight and len(cut.stream.clock) < len(whole.stream.clock)
    obs = array_sim.run(out, segments, sim="verilator")
    rep = array_sim.compare(segments, obs)
    assert rep["ok"], rep["first_difference"]
    assert rep["bit_exact"] == rep["records"] > 20
    for g in (below, above, after):  # windows in = records out + counted drops
        assert len(g.stream.windows) == len(g.result.records) + g.result.dropped()


def test_array_icarus(setup):
    fm, design, out, pool, period = setup
    segments = [array_sim.segment(fm, design, pool, rate_cps=40_000, n_periods=30, period=period,
                                  period_s=PERIOD_S, seed=7)]
    assert len(segments[0].result.records) >= 2
    rep = array_sim.compare(segments, array_sim.run(out, segments, sim="icarus"))
    assert rep["ok"], rep["first_difference"]
