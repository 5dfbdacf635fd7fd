# SPDX-License-Identifier: BSD-3-Clause
"""Capacity planner of the time-multiplexed array (DESIGN.md §3.1): fold factor F, slot count S and head interval for
a checkpoint, its precision, a channel count, a photon rate, a clock and a device budget.

Timing and multipliers are exact: the planner generates the array RTL (:mod:`venom_fpga.rtl.array`, a fraction of a
second) for each fold and head interval and reads its step latency D, head latency, every multiplier's operand
widths, its fabric products, its table units and its slot-state words. Memory and logic are ESTIMATES from explicit
formulas (:func:`resources`), compared with Yosys on the array RTL by ``make resources``:

- DSP48E2: one per multiplier whose operands fit 27 x 18 bits (signed), else ``ceil((a-1)/26) * ceil((b-1)/17)``;
  products of at most ``array.FABRIC_TERMS`` partial terms are built in fabric and take none;
- BRAM36: each slot-state RAM (one per first reader, read and written once per token) takes ``ceil(bits / 72)``
  72-bit columns of 512 words (``ceil(S / 512)`` deep); each table unit its ROM in true-dual-port RAMB18s (two
  reads per evaluation: 1K x 18, 2K x 9, 4K x 4 ... per RAMB18, the cheapest shape);
- LUT (logic, not LUT-as-memory): one LUT per accumulator bit per added term (adder trees on carry chains), the F:1
  operand multiplexers of folded multipliers, and per instance of the rounding, table and normalisation units a
  formula in their widths (:func:`unit_luts`), fitted to Yosys on each unit of the shipped PtSi array alone (the
  fabric products' formula is not fitted yet). Not
  scaled for the whole array (where Yosys packs some additions into DSP48E2 post-adders): a factor fitted to the
  small test array did not carry over to the shipped one (rtl/README has both ratios).

Head: the least interval that keeps the record latency within ``RECORD_LATENCY_US`` is not what matters; the
largest that keeps it within and keeps the head at most half busy at the design rate (a queue of ``HEAD_QUEUE``
absorbs the bursts) saves the most multipliers.

Slot overflow: a channel holds a slot for its window's L periods plus the release (under one period) and accepts no
new window meanwhile, so a channel is busy with probability p = r / (1 + r), r = rate (L + 1) T; a window finds all
S slots taken with probability at most P(Binomial(N - 1, p) >= S) (channels independent; an upper bound, since a
busy channel whose window was dropped holds no slot: the array model's simulation stays below it). Capacity: the
largest rate at which that bound is <= 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from venom_fpga.rtl import array
from venom_fpga.target import Budget
from venom_fpga.rtl.array_model import ArrayTiming

DEFAULT_CHANNELS = 2048  # MKIDGen3's resonator channels
OVERFLOW_PROBABILITY = 1e-9
RECORD_LATENCY_US = 3.0  # a record at most this long after its window's last sample
HEAD_QUEUE = 32
RECORD_FIFO = 64
FOLDS = (1, 2, 4, 8, 16, 32, 64)
HEAD_FOLDS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass
class Resources:
    dsp: int
    bram36: float
    uram: int
    lut: int
    dsp_step: int  # of which the step datapath
    dsp_head: int
    state_bits: int  # per slot

    def fits(self, b: Budget) -> bool:
        return self.dsp <= b.dsp and self.bram36 <= b.bram36 and self.uram <= b.uram and self.lut <= b.lut


def dsp_per_product(a: int, b: int) -> int:
    return array.dsp48e2([(max(a, b), min(a, b))])


# true-dual-port RAMB18 shapes (bits per port, words)
RAMB18_SHAPES = ((18, 1024), (9, 2048), (4, 4096), (2, 8192), (1, 16384))


def table_ramb18(word_bits: int, words: int) -> int:
    """RAMB18s of one table ROM read on two ports (the cheapest tiling of one shape)."""
    return min(math.ceil(word_bits / w) * math.ceil(words / d) for w, d in RAMB18_SHAPES)


def unit_luts(unit: tuple) -> int:
    """Logic LUTs of one generated unit (:attr:`ArrayDesign.units`). Fitted to Yosys 0.23 ``synth_xilinx`` on each
    distinct unit of the shipped PtSi array, synthesised alone between registers (within ~15 % each):
    a rounding with a constant shift is its code's width plus, when it rounds, the carry into half the value; one
    with a variable shift is a barrel shifter and a sticky mask over the value above the shift's constant part
    (quadratic in that width: the shift range grows with it); a table unit is its clamp, index
    and interpolation adders (twice that with a relu term), plus the read multiplexers of a ROM deeper than 2K;
    a normalisation is its leading-one search and two shifters.

    A fabric product carries its estimate (``array.fabric_luts``: per add its carry chain's width)."""
    kind = unit[0]
    if kind == "fabric":
        return unit[1]  # array.fabric_luts
    if kind == "quant":
        _, value, code, least, span, rounds = unit
        if span:
            shifted = value - least + 3  # venom_quant's extended value above the constant part of the shift
            return shifted * shifted // 4 + 10
        return code + (value // 2 + 4 if rounds else 6)
    if kind == "table":
        _, table_kind, value, word_bits, words = unit
        muxes = 2 * word_bits * (math.ceil(words / 2048) - 1)
        return (3 * value + 45 if table_kind.startswith("relu") else 2 * value) + muxes
    if kind == "normalize":
        return 300 + unit[1]
    raise ValueError(f"unknown unit {unit!r}")


def resources(design: array.ArrayDesign, slots: int) -> Resources:
    """Resources of a generated array configuration at ``slots`` slots (module docstring: DSPs exact, the rest
    estimated)."""
    n = design.step_products
    dsp_step, dsp_head = array.dsp48e2(design.products[:n]), array.dsp48e2(design.products[n:])
    tables = sum(k * table_ramb18(u[3], u[4]) for u, k in design.units.items() if u[0] == "table")
    bram = sum(math.ceil(bits / 72) for bits in design.state_words) * math.ceil(slots / 512) + tables / 2
    lut = design.adder_bits + design.mux_bits + sum(k * unit_luts(u) for u, k in design.units.items())
    return Resources(dsp_step + dsp_head, float(bram), 0, int(lut), dsp_step, dsp_head, design.state_bits)


def busy_probability(rate_cps: float, length: int, period_s: float) -> float:
    r = rate_cps * (length + 1) * period_s
    return r / (1.0 + r)


def overflow_probability(rate_cps: float, channels: int, slots: int, length: int, period_s: float) -> float:
    """An upper bound of P(a window finds all slots taken) (module docstring)."""
    from scipy.stats import binom

    return float(binom.sf(slots - 1, channels - 1, busy_probability(rate_cps, length, period_s)))


def capacity(channels: int, slots: int, length: int, period_s: float, p_max: float = OVERFLOW_PROBABILITY) -> float:
    """The largest counts/s per pixel at which a window finds no free slot with probability <= p_max."""
    if slots >= channels:
        return math.inf  # every channel can hold a slot
    lo, hi = 0.0, 1.0
    while overflow_probability(hi, channels, slots, length, period_s) <= p_max:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if overflow_probability(mid, channels, slots, length, period_s) <= p_max else (lo, mid)
    return lo


@dataclass
class Choice:
    fold: int
    slots: int
    capacity_cps: float
    timing: ArrayTiming
    resources: Resources
    record_latency_us: float
    fits: bool


def _generate(model, length: int, channels: int, fold: int, head_fold: int) -> array.ArrayDesign:
    return array.generate(model, slots=2, length=length, channels=channels, fold=fold, head_fold=head_fold,
                          head_queue=HEAD_QUEUE, record_fifo=RECORD_FIFO)


def choose(model, channels: int, rate_cps: float, clock_hz: float, sample_rate_hz: float, length: int,
           budget: Budget = Budget(), folds: tuple[int, ...] = FOLDS) -> tuple[Choice | None, list[Choice]]:
    """Every fold factor's configuration (S as large as the contract and the budget allow, the head interval of the
    module docstring) and the chosen one: the least fold whose capacity covers ``rate_cps`` within the budget (else
    the best capacity within it). ``model``: a FixedModel."""
    period = int(clock_hz // sample_rate_hz)
    if period < 1:
        raise ValueError(f"the clock ({clock_hz / 1e6:g} MHz) is slower than the model's sample rate")
    window_rate = channels * max(rate_cps, 1.0)
    latency_clocks = RECORD_LATENCY_US * 1e-6 * clock_hz
    # the head's latency at each interval (the head does not depend on the fold)
    head_latency = {hf: _generate(model, length, channels, 1, hf).head_latency for hf in HEAD_FOLDS
                    if hf <= max(1.0, clock_hz / (2.0 * window_rate))}
    options = []
    for fold in folds:
        d = _generate(model, length, channels, fold, 1).step_latency
        s_max = min((period - d) // fold + 1, channels)
        if s_max < 1:
            continue
        # the largest interval that keeps the head half idle and the record in time
        head_fold = max([hf for hf, lat in head_latency.items() if d + hf + lat <= latency_clocks], default=1)
        design = _generate(model, length, channels, fold, head_fold)
        slots = s_max
        res = resources(design, slots)
        while slots > 1 and not res.fits(budget) and res.bram36 > budget.bram36:
            slots = max(1, slots // 2)
            res = resources(design, slots)
        timing = ArrayTiming(fold, slots, period, length, d, head_fold, design.head_latency, HEAD_QUEUE, RECORD_FIFO)
        cap = capacity(channels, slots, length, period / clock_hz)
        latency_us = (d + head_fold + design.head_latency) / clock_hz * 1e6
        options.append(Choice(fold, slots, cap, timing, res, latency_us, res.fits(budget)))
    fitting = [c for c in options if c.fits]
    good = [c for c in fitting if c.capacity_cps >= rate_cps]
    chosen = good[0] if good else max(fitting, key=lambda c: c.capacity_cps, default=None)
    return chosen, options


def choice_dict(c: Choice) -> dict:
    out = {"fold": c.fold, "slots": c.slots, "capacity_cps": c.capacity_cps, "fits_budget": c.fits,
           "record_latency_us": c.record_latency_us, **{f"timing_{k}": v for k, v in asdict(c.timing).items()}}
    out.update({k: v for k, v in asdict(c.resources).items()})
    return out


def model_sample_rate(meta) -> float:
    """The model-rate sample rate of a checkpoint (raw rate / decimation), or an error saying what is missing."""
    if meta.raw_sample_rate_hz is None:
        raise ValueError("the checkpoint's metadata has no raw_sample_rate_hz: give the model's sample rate "
                         "(--sample-rate)")
    return float(meta.raw_sample_rate_hz) / int(meta.decimation)


def plan_report(model, channels: int, rate_cps: float, clock_hz: float, sample_rate_hz: float, length: int,
                budget: Budget = Budget()) -> dict:
    """Everything ``venom-fpga plan`` reports (JSON-ready): the inputs, every configuration, the chosen one."""
    for name, v in (("channels", channels), ("window length", length)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    for name, v in (("rate", rate_cps), ("clock", clock_hz), ("sample rate", sample_rate_hz)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    chosen, options = choose(model, int(channels), rate_cps, clock_hz, sample_rate_hz, int(length), budget)
    return {
        "channels": int(channels), "rate_cps": rate_cps, "clock_mhz": clock_hz / 1e6,
        "sample_rate_hz": sample_rate_hz, "window_length": int(length), "budget": asdict(budget),
        "overflow_target": OVERFLOW_PROBABILITY, "record_latency_target_us": RECORD_LATENCY_US,
        "estimates": "timing and DSP48E2 from the generated RTL; BRAM and LUT are estimates (planner.resources)",
        "step_products": model.plan.step_products(), "finish_products": model.plan.finish_products(),
        "options": [choice_dict(c) for c in options],
        "chosen": choice_dict(chosen) if chosen is not None else None,
    }


def format_table(report: dict) -> str:
    head = (f"{'F':>3} {'S':>5} {'head':>5} {'capacity':>10} {'DSP48E2':>8} {'(step)':>7} {'BRAM36':>7} {'URAM':>5} "
            f"{'LUT':>8} {'latency':>8}  fits")
    lines = [head, "-" * len(head)]
    chosen = report["chosen"]
    for o in report["options"]:
        cap = "inf" if math.isinf(o["capacity_cps"]) else f"{o['capacity_cps']:,.0f}"
        mark = "  <- chosen" if chosen is not None and o["fold"] == chosen["fold"] else ""
        lines.append(f"{o['fold']:>3} {o['slots']:>5} {o['timing_head_interval']:>5} {cap:>10} {o['dsp']:>8,} "
                     f"{o['dsp_step']:>7,} {o['bram36']:>7,.0f} {o['uram']:>5} {o['lut']:>8,} "
                     f"{o['record_latency_us']:>6.2f}us  {'yes' if o['fits_budget'] else 'no'}{mark}")
    return "\n".join(lines)


def overflow_curves(report: dict, n_points: int = 60) -> dict[str, tuple[list[float], list[float]]]:
    """P(no free slot) vs counts/s per pixel for each configuration of a report (for the plot)."""
    import numpy as np

    rates = np.logspace(1, 5, n_points)
    period_s = 1.0 / report["sample_rate_hz"]
    out = {}
    for o in report["options"]:
        prob = [overflow_probability(r, report["channels"], o["slots"], report["window_length"], period_s)
                for r in rates]
        out[f"F={o['fold']}, S={o['slots']}"] = (rates.tolist(), prob)
    return out
