# SPDX-License-Identifier: BSD-3-Clause
"""Capacity planner of the time-multiplexed array (DESIGN.md §3.1): fold factor F and slot count S for a checkpoint,
its precision, a channel count, a photon rate, a clock and a device budget.

Counts come from the op plan (every multiplication of a step and of a window's finish, with its operand widths)
and the precision config (the slot state's bits); timing from the array contract (:mod:`array_model`). Resources
are ESTIMATES from explicit formulas (:func:`resources`), to be calibrated against Yosys on the array RTL:

- DSP48E2: one per product whose operands fit 27 x 18 bits (signed; an unsigned format counts one bit more), else
  ``ceil(a / 27) * ceil(b / 18)``; a multiplier serves F products of its op (table interpolations included);
- BRAM36: the slot state is read and written once per token: ``ceil(state bits / F / 72)`` 72-bit columns of
  512 words (``ceil(S / 512)`` deep), or UltraRAM (72 x 4096) when BRAM runs out; each table needs a read port per
  evaluation per F clocks (two ports per BRAM36);
- LUT: one LUT per accumulator bit per added term (adder trees on carry chains), divided by F, plus the F:1
  operand multiplexers of folded multipliers.

Slot overflow: a channel holds a slot for its window's L periods plus the release (under one period) and accepts no
new window meanwhile, so a channel is busy with probability p = r / (1 + r), r = rate (L + 1) T; a window finds all
S slots taken with probability at most P(Binomial(N - 1, p) >= S) (channels independent; an upper bound, since a
busy channel whose window was dropped holds no slot: the array model's simulation stays below it). Capacity: the
largest rate at which that bound is <= 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from venom_fpga.fixed.op_plan import ONE, LayerNormPlan, OpPlan, Sum, Table
from venom_fpga.rtl.array_model import ArrayTiming

DEFAULT_CHANNELS = 2048  # MKIDGen3's resonator channels
OVERFLOW_PROBABILITY = 1e-9


@dataclass(frozen=True)
class Budget:
    """What MKIDGen3 leaves free on the xczu48dr (DESIGN.md §3.1; docs/mkidgen3.md §12)."""

    dsp: int = 3600
    bram36: float = 540
    uram: int = 20
    lut: int = 178_000


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


def _width(plan: OpPlan, name: str) -> int:
    """Bits of an operand on a signed multiplier port (derived operands from the plan)."""
    if name in plan.precision.signals or name in plan.precision.weights:
        fmt = plan.fmt(name)
        return fmt.width + (0 if fmt.signed else 1)
    for L in plan.layers:
        if name == L.prefix + "ln_cn":
            return L.norm.cn_bits
    if name in ("head.sm_a", "head.sm_b"):
        fe = plan.precision.signals["head.sm_e"]
        return max(plan.head.one.bit_length(), fe.width) + 1
    raise KeyError(f"no width for operand {name}")


def dsp_per_product(a: int, b: int) -> int:
    a, b = max(a, b), min(a, b)
    return 1 if a <= 27 and b <= 18 else math.ceil(a / 27) * math.ceil(b / 18)


def product_groups(plan: OpPlan, ops) -> list[tuple[str, int, int, int]]:
    """(op, products, DSPs per product, accumulator bits) of every multiplying term and table of ``ops``."""
    out = []
    for op in ops:
        sums = [op.xn, op.affine] if isinstance(op, LayerNormPlan) else [op] if isinstance(op, Sum) else []
        if isinstance(op, LayerNormPlan):  # V = sum c^2
            cb = op.c_bits
            out.append((op.name + ".V", op.d, dsp_per_product(cb, cb), op.v_max.bit_length() + 1))
            out.append((op.rsqrt.name, op.rsqrt.size, dsp_per_product(op.rsqrt.lut.delta_bits(),
                                                                       op.rsqrt.lut.shift + 1), 0))
        for s in sums:
            for t in s.terms:
                if t.b != ONE:
                    out.append((s.name, s.size * t.count, dsp_per_product(_width(plan, t.a), _width(plan, t.b)),
                                s.acc_bits))
        if isinstance(op, Table):  # the interpolation multiply (T[i+1] - T[i]) r
            out.append((op.name, op.size, dsp_per_product(op.lut.delta_bits(), op.lut.shift + 1), 0))
    return out


def state_bits(plan: OpPlan) -> int:
    """One slot's recurrent state: h, the conv history, the online softmax (m, l, acc) and the sample counter."""
    d, f = plan.dims, plan.precision.signals
    bits = 0
    for L in plan.layers:
        bits += d.d_inner * d.d_state * f[L.prefix + "h"].width + (d.d_conv - 1) * d.d_inner * f[L.prefix + "xi"].width
    bits += d.d_model * (f["head.score"].width + f["head.sm_l"].width + f["head.sm_acc"].width)
    return bits + plan.precision.max_window_length.bit_length()


def resources(plan: OpPlan, fold: int, slots: int, head_interval: int) -> Resources:
    """Estimated resources of one array configuration (module docstring)."""
    step = product_groups(plan, plan.step_ops())
    head = product_groups(plan, plan.head.finish_ops())
    head.append(("head.pooled", plan.dims.d_model, dsp_per_product(_width(plan, "head.sm_acc"),
                                                                   _width(plan, "head.sm_recip")), 0))
    dsp_step = sum(math.ceil(n * k / fold) for _, n, k, _ in step)
    dsp_head = sum(math.ceil(n * k / head_interval) for _, n, k, _ in head)
    sb = state_bits(plan)
    columns = math.ceil(sb / fold / 72)
    bram = columns * math.ceil(slots / 512)
    tables = [op for op in plan.step_ops() if isinstance(op, Table)]
    tables += [op.norm.rsqrt for op in plan.layers]
    for t in tables:
        ports = math.ceil(t.size / fold)
        words = len(t.lut.codes) * t.lut.table_fmt.width
        bram += math.ceil(ports / 2) * math.ceil(words / 36_864)
    lut = sum(n * acc // fold for _, n, _, acc in step if acc)
    if fold > 1:  # F:1 multiplexers on both operands of every folded multiplier (a LUT6 muxes 4:1)
        lut += sum(math.ceil(n / fold) * 2 * 27 * math.ceil((fold - 1) / 3) for _, n, _, _ in step)
    return Resources(dsp_step + dsp_head, float(bram), 0, int(lut), dsp_step, dsp_head, sb)


def step_latency(plan: OpPlan) -> int:
    """Estimated token-to-state-written distance D: state read (2), each op's product (4 registers), adder tree
    (log2 of its terms), rounding and saturation (2); each table 6; the write (1)."""
    lat = 3
    for op in plan.step_ops():
        sums = [op.xn, op.affine] if isinstance(op, LayerNormPlan) else [op] if isinstance(op, Sum) else []
        if isinstance(op, LayerNormPlan):
            lat += 4 + math.ceil(math.log2(op.d + 1)) + 3 + 6  # V, normalisation, rsqrt
        for s in sums:
            lat += 4 + math.ceil(math.log2(sum(t.count for t in s.terms) + 1)) + 2
        if isinstance(op, Table):
            lat += 6
    return lat


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


def choose(plan: OpPlan, channels: int, rate_cps: float, clock_hz: float, sample_rate_hz: float, length: int,
           budget: Budget = Budget(), folds: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)) -> tuple[Choice | None,
                                                                                                list[Choice]]:
    """Every fold factor's configuration (S as large as the contract and the budget allow) and the chosen one: the
    least fold whose capacity covers ``rate_cps`` within the budget (else the best capacity within it)."""
    period = int(clock_hz // sample_rate_hz)
    if period < 1:
        raise ValueError(f"the clock ({clock_hz / 1e6:g} MHz) is slower than the model's sample rate")
    d = step_latency(plan)
    window_rate = channels * max(rate_cps, 1.0)
    options = []
    for fold in folds:
        s_max = min((period - d) // fold + 1, channels)
        if s_max < 1:
            continue
        # the head keeps up with twice the design's window rate
        head_interval = max(1, int(clock_hz / (2.0 * window_rate)))
        slots = s_max
        res = resources(plan, fold, slots, head_interval)
        while slots > 1 and not res.fits(budget) and res.bram36 > budget.bram36:
            slots = max(1, slots // 2)
            res = resources(plan, fold, slots, head_interval)
        head_latency = head_interval + 4 * len(list(plan.head.finish_ops())) + 16
        timing = ArrayTiming(fold, slots, period, length, d, head_interval, head_latency, head_queue=slots,
                             record_fifo=64)
        cap = capacity(channels, slots, length, period / clock_hz)
        latency_us = (d + head_interval + head_latency) / clock_hz * 1e6
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


def plan_report(plan: OpPlan, channels: int, rate_cps: float, clock_hz: float, sample_rate_hz: float, length: int,
                budget: Budget = Budget()) -> dict:
    """Everything ``venom-fpga plan`` reports (JSON-ready): the inputs, every configuration, the chosen one."""
    for name, v in (("channels", channels), ("window length", length)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    for name, v in (("rate", rate_cps), ("clock", clock_hz), ("sample rate", sample_rate_hz)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    chosen, options = choose(plan, int(channels), rate_cps, clock_hz, sample_rate_hz, int(length), budget)
    return {
        "channels": int(channels), "rate_cps": rate_cps, "clock_mhz": clock_hz / 1e6,
        "sample_rate_hz": sample_rate_hz, "window_length": int(length), "budget": asdict(budget),
        "overflow_target": OVERFLOW_PROBABILITY, "estimates": "resources are estimates (planner.resources)",
        "step_products": plan.step_products(), "finish_products": plan.finish_products(),
        "options": [choice_dict(c) for c in options],
        "chosen": choice_dict(chosen) if chosen is not None else None,
    }


def format_table(report: dict) -> str:
    head = (f"{'F':>3} {'S':>5} {'capacity':>10} {'DSP48E2':>8} {'BRAM36':>7} {'URAM':>5} {'LUT':>8} "
            f"{'latency':>8}  fits")
    lines = [head, "-" * len(head)]
    chosen = report["chosen"]
    for o in report["options"]:
        cap = "inf" if math.isinf(o["capacity_cps"]) else f"{o['capacity_cps']:,.0f}"
        mark = "  <- chosen" if chosen is not None and o["fold"] == chosen["fold"] else ""
        lines.append(f"{o['fold']:>3} {o['slots']:>5} {cap:>10} {o['dsp']:>8,} {o['bram36']:>7,.0f} {o['uram']:>5} "
                     f"{o['lut']:>8,} {o['record_latency_us']:>6.2f}us  {'yes' if o['fits_budget'] else 'no'}{mark}")
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
