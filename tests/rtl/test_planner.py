# SPDX-License-Identifier: BSD-3-Clause
"""The capacity planner: its slot-overflow bound against the array model's simulation, its configurations against
the array contract, its DSP mapping and the fabric products that take no DSP48E2."""

from __future__ import annotations

import random

import pytest
from model_zoo import PUBLISHED, SMALL, random_tensors

from venom_fpga.fixed.model import FixedModel
from venom_fpga.rtl.array_model import ArrayTiming, photon_windows, schedule, simulate
from venom_fpga import target
from venom_fpga.rtl import array
from venom_fpga.rtl.planner import (RECORD_LATENCY_US, Budget, capacity, choose, dsp_per_product,
                                    overflow_probability, resources, table_ramb18, unit_luts)


@pytest.mark.parametrize("slots, rate", [(8, 2000.0), (12, 3000.0)])
def test_overflow_bound_holds_in_simulation(slots, rate):
    n, length, period, period_s = 64, 20, 256, 2e-6
    tm = ArrayTiming(fold=1, slots=slots, period=period, length=length, step_latency=30, head_interval=1,
                     head_latency=5, head_queue=64, record_fifo=64)
    windows = photon_windows(n, rate, 100_000, period_s, length, 1, seed=3)
    res = simulate(schedule(windows, tm, n), tm)
    simulated = res.drops["slot"].sum() / len(windows)
    bound = overflow_probability(rate, n, slots, length, period_s)
    assert 0 < simulated <= bound <= 4 * simulated  # an upper bound, and not a loose one


def test_capacity_is_the_rate_at_the_overflow_target():
    cap = capacity(2048, 600, 126, 2e-6)
    assert overflow_probability(cap, 2048, 600, 126, 2e-6) <= 1e-9 < overflow_probability(cap * 1.01, 2048, 600,
                                                                                           126, 2e-6)
    assert capacity(100, 100, 126, 2e-6) == float("inf")  # a slot for every channel


def test_dsp_mapping():
    assert dsp_per_product(27, 18) == dsp_per_product(18, 27) == dsp_per_product(8, 8) == 1
    assert dsp_per_product(28, 18) == 2 and dsp_per_product(30, 23) == 4


def test_table_rom_tiling():
    # true-dual-port RAMB18: 1K x 18, 2K x 9, 4K x 4 ... (the cheapest tiling of one shape)
    assert table_ramb18(18, 1024) == 1 and table_ramb18(22, 258) == 2 and table_ramb18(31, 1538) == 4
    assert table_ramb18(18, 2050) == 3 and table_ramb18(4, 4096) == 1


def test_every_multiplier_and_unit_is_counted():
    model = FixedModel((SMALL, random_tensors(SMALL, 2)))
    d = array.generate(model, slots=2, length=16, channels=8)
    tables = sum(k for u, k in d.units.items() if u[0] == "table")
    assert tables == d.tables > 0
    # the step and head products of the op plan (each once at F = 1) plus one slope product per table unit, each a
    # DSP48E2 multiplier or a constant's (a table slope's) sum in fabric; the variable fabric products are the flag
    # selects, which the op plan does not count
    fab = d.fabric_factors
    assert fab["constant"] > 0 and fab["variable"] > 0
    assert len(d.products) + fab["constant"] + fab["table"] == (model.plan.step_products()
                                                                + model.plan.finish_products() + tables)
    kinds = {u[0] for u in d.units}
    assert kinds == {"quant", "table", "normalize", "fabric"}
    assert all(unit_luts(u) > 0 for u in d.units)
    with pytest.raises(ValueError):
        unit_luts(("adder", 8))


def test_csd_digits():
    """Canonical signed digits: they sum to c, no two are adjacent (the non-adjacent form), and no signed-digit form
    of c has fewer (checked against the least count, by recursion, for small c)."""
    least = {0: 0, 1: 1, -1: 1}

    def fewest(c: int) -> int:  # the fewest nonzero digits in {-1, 0, 1} of any signed-digit form of c
        if c not in least:
            least[c] = fewest(c // 2) if c % 2 == 0 else 1 + min(fewest((c - 1) // 2), fewest((c + 1) // 2))
        return least[c]

    rng = random.Random(0)
    cases = list(range(-1100, 1100)) + [rng.randrange(-(1 << 40), 1 << 40) for _ in range(2000)]
    for c in cases:
        digits = array.csd(c)
        assert sum(sign << k for k, sign in digits) == c
        assert all(sign in (-1, 1) for _, sign in digits)
        shifts = [k for k, _ in digits]
        assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:]))
        if abs(c) < 1100:
            assert len(digits) == fewest(c)
        assert len(digits) <= (abs(c).bit_length() + 2) // 2
    assert array.csd(0) == [] and array.csd(7) == [(0, -1), (3, 1)] and array.csd(-5) == [(0, -1), (2, -1)]


def test_fabric_products_take_no_dsp(monkeypatch):
    """Every fabric product would otherwise be a DSP48E2 multiplier (no fabric: as many more multipliers); their LUTs
    are in the estimate."""
    model = FixedModel((SMALL, random_tensors(SMALL, 2)))
    d = array.generate(model, slots=2, length=16, channels=8)
    assert d.fabric_products > 0
    assert d.fabric_products == sum(k for u, k in d.units.items() if u[0] == "fabric")
    assert unit_luts(("fabric", 73)) == 73
    rest = d.adder_bits + d.mux_bits + sum(k * unit_luts(u) for u, k in d.units.items() if u[0] != "fabric")
    assert resources(d, 2).lut == rest + sum(k * unit_luts(u) for u, k in d.units.items() if u[0] == "fabric")
    assert {"constant", "variable"} <= set(d.fabric_factors)
    monkeypatch.setattr(array, "FABRIC_TERMS", 0)  # nothing in fabric but the flags (a factor of <= 2 bits: a select)
    all_dsp = array.generate(model, slots=2, length=16, channels=8)
    assert set(all_dsp.fabric_factors) == {"variable"} and 0 < all_dsp.fabric_products < d.fabric_products
    assert len(all_dsp.products) + all_dsp.fabric_products == len(d.products) + d.fabric_products
    assert all_dsp.step_products + all_dsp.step_fabric_products == d.step_products + d.step_fabric_products
    assert resources(all_dsp, 2).dsp > resources(d, 2).dsp


def test_a_product_is_built_in_fabric_only_where_its_luts_cost_less_than_a_dsp():
    """The exchange rate of the budget: 178 k LUT / 3,600 DSP48E2; per add a carry chain of the factor's width plus
    the shift span (a 4-digit constant times 18 bits, shifts 0 2 5 9: 73 LUT, Yosys 74); a variable's bit selects
    cost a LUT per bit of each copy more; beyond FABRIC_TERMS terms never."""
    assert target.LUTS_PER_DSP == target.Budget().lut // target.Budget().dsp == 49
    assert array.fabric_luts(18, [0, 2, 5, 9], False) == 21 + 24 + 28
    assert array.fabric_luts(10, [3, 4], False) == 12 and array.fabric_luts(20, [4], False) == 20
    assert array.fabric_luts(10, [0, 1], True) == 12 + 20
    assert array.in_fabric(8, [0, 3, 6], False) and not array.in_fabric(18, [0, 2, 5, 9], False)
    assert not array.in_fabric(2, list(range(array.FABRIC_TERMS + 1)), False)


@pytest.mark.parametrize("dims", [PUBLISHED, SMALL], ids=["published", "small"])
def test_configurations_obey_the_contract(dims):
    model = FixedModel((dims, random_tensors(dims, 2)))
    chosen, options = choose(model, channels=512, rate_cps=500.0, clock_hz=512e6, sample_rate_hz=500e3, length=64)
    assert chosen is not None and chosen.fits and chosen.capacity_cps >= 500.0
    assert chosen.fold == min(c.fold for c in options if c.fits and c.capacity_cps >= 500.0)
    for c in options:
        tm = c.timing
        assert tm.min_spacing >= tm.step_latency and c.slots * c.fold <= tm.period
        assert c.record_latency_us <= RECORD_LATENCY_US
        # the timing is the generated RTL's
        d = array.generate(model, slots=c.slots, length=64, channels=512, fold=c.fold, head_fold=tm.head_interval)
        assert (d.step_latency, d.head_latency) == (tm.step_latency, tm.head_latency)
        assert c.resources.dsp == array.dsp48e2(d.products)
    caps = [c.capacity_cps for c in options]
    assert caps == sorted(caps, reverse=True)  # folding more serves fewer windows
    # a budget without the DSPs of F = 1 chooses a larger fold
    f1 = options[0].resources
    small = Budget(dsp=f1.dsp - 1, bram36=1e9, uram=100, lut=10**9)
    chosen2, _ = choose(model, 512, 500.0, 512e6, 500e3, 64, budget=small)
    assert chosen2.fold > 1 and chosen2.resources.dsp <= small.dsp
    d = array.generate(model, slots=2, length=64, channels=512)
    assert resources(d, 1024).bram36 > resources(d, 512).bram36  # deeper slot memory
