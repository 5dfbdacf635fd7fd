# SPDX-License-Identifier: BSD-3-Clause
"""``venom-fpga precision-search``: narrower formats under an energy budget, priced in DSP48E2 of the array.

Cost: the DSP48E2 of one step at F = 1 in the generated array RTL (``rtl.array``: one slice per product up to
27 x 18 signed, cascades beyond, the tables' slope multipliers included; products the generator builds in fabric --
constants of few canonical signed digits, narrow factors, coarse table fractions, where their LUTs cost less than a
DSP48E2 is worth -- take none) and its slot-state bits. It is the array we build, not a model of one: narrower
weights and signals move products into fabric, and the search sees it. Two 8-bit weight products sharing one slice
are not generated, so they are not counted.

Search: coordinate descent on fraction bits. Every signal and weight format except the input and the outputs (mu,
log_var) is narrowed in turn -- its integer bits kept, so its range and saturation are unchanged -- to the fewest
fraction bits (binary search) that keep max |E_fixed - E_float| on the windows given, the others as accepted so
far, under a cap that rises linearly from the start's error to ``headroom`` x the budget over the names (so the
first names do not spend the whole budget), and that the array generator can build (its integer program compiles);
the whole result is checked against the budget at the end.
Every evaluated candidate is kept (``history``); the accepted steps, priced, form the path of the plot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from venom_fpga.errors import VenomError
from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.precision import PrecisionConfig, with_needed_reasons
from venom_fpga.fixed.qformat import QFormat

FIXED_SIGNALS = ("input", "mu", "log_var")  # the interface formats stay
DEFAULT_BUDGET_MEV = 0.5
DEFAULT_HEADROOM = 0.4  # the share of the budget the search spends on its windows (fresh windows go further)


class SearchError(VenomError):
    """A search that cannot start, explained in one line."""


@dataclass
class Cost:
    dsp48e2: int
    products: int
    state_bits: int


@dataclass
class SearchResult:
    config: PrecisionConfig
    error_mev: float  # max |E_fixed - E_float| of the result
    cost: Cost
    start_error_mev: float
    start_cost: Cost
    start_config: PrecisionConfig
    path: list[dict] = field(default_factory=list)  # accepted steps: name, format, error, cost
    history: list[dict] = field(default_factory=list)  # every candidate: name, width, error (None: invalid)


def array_cost(model: FixedModel, length: int) -> Cost:
    """DSP48E2 of the step (F = 1; the head, folded over its interval, is not counted) and slot-state bits of the
    array generated for ``model``."""
    from venom_fpga.rtl import array

    design = array.generate(model, slots=2, length=length, channels=2)
    step = design.products[:design.step_products]
    return Cost(array.dsp48e2(step), len(step), design.state_bits)


def narrowed(fmt: QFormat, frac: int) -> QFormat:
    """The same format with ``frac`` fraction bits (integer bits, signedness, rounding and overflow kept)."""
    return dataclasses.replace(fmt, width=fmt.int_bits + frac)


def _with(cfg: PrecisionConfig, kind: str, name: str, fmt: QFormat) -> PrecisionConfig:
    return dataclasses.replace(cfg, **{kind: {**getattr(cfg, kind), name: fmt}}, source="memory")


def search(ckpt, cfg: PrecisionConfig, iq: np.ndarray, budget_mev: float = DEFAULT_BUDGET_MEV,
           headroom: float = DEFAULT_HEADROOM, min_frac: int = 0,
           progress: Callable[[str], None] | None = None) -> SearchResult:
    """Narrow ``cfg`` on the windows ``iq`` (N, L, 2) under ``budget_mev``; see the module docstring."""
    from venom_fpga.model.float_model import run_windows
    from venom_fpga.rtl.array import COMPILE_LANES
    from venom_fpga.rtl.isa import compile_model

    if not budget_mev > 0 or not 0 < headroom <= 1:
        raise SearchError(f"budget must be > 0 meV and headroom in (0, 1], got {budget_mev}, {headroom}")
    scale_mev = abs(float(ckpt.meta.energy_scale)) * 1e3
    iq = np.asarray(iq, dtype=np.float64)
    length = iq.shape[1]
    mu_float = run_windows(ckpt.dims, ckpt.tensors, iq)[:, 0]

    def error(c: PrecisionConfig) -> float | None:
        try:
            m = FixedModel(ckpt, c)
            compile_model(m, COMPILE_LANES)  # the hardware's integer program exists for it
        except (VenomError, ValueError):  # a config the op plan or the compiler refuses (e.g. a negative shift)
            return None
        out, _ = m.run_codes(m.quantize_input(iq))
        return float(np.max(np.abs(m.fmt["mu"].to_float(out[:, 0]) - mu_float)) * scale_mev)


    start_err = error(cfg)
    if start_err is None or start_err > budget_mev:
        raise SearchError(f"the starting config is already beyond the budget: max |dE| {start_err} meV > "
                          f"{budget_mev} meV")
    start_cost = array_cost(FixedModel(ckpt, cfg), length)
    names = [("signals", n) for n in cfg.signal_names() if n not in FIXED_SIGNALS] + \
            [("weights", n) for n in cfg.weights]
    result = SearchResult(cfg, start_err, start_cost, start_err, start_cost, cfg)
    for k, (kind, name) in enumerate(names):
        limit = start_err + (headroom * budget_mev - start_err) * (k + 1) / len(names)
        fmt = getattr(result.config, kind)[name]
        lo, hi = max(min_frac, 1 - fmt.int_bits), fmt.frac_bits  # at least one bit of width
        best, best_err = hi, result.error_mev
        while lo < best:  # the fewest fraction bits that keep the error within the limit
            mid = (lo + best) // 2
            err = error(_with(result.config, kind, name, narrowed(fmt, mid)))
            result.history.append({"name": name, "width": fmt.int_bits + mid, "error_mev": err})
            if err is not None and err <= limit:
                best, best_err = mid, err
            else:
                lo = mid + 1
        if best < hi:
            result.config = _with(result.config, kind, name, narrowed(fmt, best))
            result.error_mev = best_err
            result.cost = array_cost(FixedModel(ckpt, result.config), length)
            result.path.append({"name": name, "format": narrowed(fmt, best).ctype(), "error_mev": best_err,
                                "dsp48e2": result.cost.dsp48e2, "state_bits": result.cost.state_bits})
        if progress:
            progress(f"{k + 1}/{len(names)} {name}: {fmt.ctype()} -> {getattr(result.config, kind)[name].ctype()}, "
                     f"max |dE| {result.error_mev:.3f} meV, {result.cost.dsp48e2} DSP48E2")
    final = error(result.config)
    if final is None or final > budget_mev:  # cannot happen: every step was checked on the whole config
        raise AssertionError(f"searched config beyond the budget: {final} meV")
    result.error_mev = final
    result.config = dataclasses.replace(with_needed_reasons(result.config), notes=[*result.config.notes, (
        f"narrowed by venom-fpga precision-search: max |E_fixed - E_float| {final:.3f} meV <= {budget_mev} meV on "
        f"{iq.shape[0]} windows; {start_cost.dsp48e2} -> {result.cost.dsp48e2} DSP48E2 per step at F = 1")])
    return result


def max_error_mev(ckpt, cfg: PrecisionConfig, iq: np.ndarray) -> float:
    """max |E_fixed - E_float| in meV of ``cfg`` on the windows ``iq``."""
    from venom_fpga.rtl.sim import max_energy_error_mev

    m = FixedModel(ckpt, cfg)
    out, _ = m.run_codes(m.quantize_input(np.asarray(iq, dtype=np.float64)))
    return max_energy_error_mev(ckpt, m, iq, out[:, 0])


def report(ckpt, result: SearchResult, iq: np.ndarray, holdout: np.ndarray | None = None) -> dict:
    """JSON-ready: start and result (error, DSP48E2, products, state bits), the held-out error, every step."""
    cost = lambda c: dataclasses.asdict(c)  # noqa: E731
    return {
        "windows": int(np.asarray(iq).shape[0]),
        "start": {"max_abs_dE_meV": result.start_error_mev, **cost(result.start_cost)},
        "result": {"max_abs_dE_meV": result.error_mev, **cost(result.cost)},
        "holdout": None if holdout is None else {
            "windows": int(np.asarray(holdout).shape[0]),
            "start_max_abs_dE_meV": max_error_mev(ckpt, result.start_config, holdout),
            "max_abs_dE_meV": max_error_mev(ckpt, result.config, holdout)},
        "steps": result.path,
        "candidates": result.history,
        "formats": {**{n: f.ctype() for n, f in result.config.signals.items()},
                    **{n: f.ctype() for n, f in result.config.weights.items()}},
    }


def summary_line(rep: dict) -> str:
    s, r, h = rep["start"], rep["result"], rep["holdout"]
    return (f"precision search on {rep['windows']} windows: max |dE| {s['max_abs_dE_meV']:.3f} -> "
            f"{r['max_abs_dE_meV']:.3f} meV" + (f" ({h['max_abs_dE_meV']:.3f} meV on {h['windows']} held-out)"
                                                 if h else "")
            + f", step DSP48E2 {s['dsp48e2']:,} -> {r['dsp48e2']:,} (F = 1), products {s['products']:,} -> "
              f"{r['products']:,}, slot state {s['state_bits']:,} -> {r['state_bits']:,} bits")


def plot(result: SearchResult, path) -> None:
    """DSP48E2 per step against max |dE|: the start, every accepted step, the result."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from venom_fpga.files import atomic_path

    errs = [result.start_error_mev] + [p["error_mev"] for p in result.path]
    dsps = [result.start_cost.dsp48e2] + [p["dsp48e2"] for p in result.path]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(errs, dsps, "o-", ms=3, label="accepted steps")
    ax.plot(errs[:1], dsps[:1], "s", label="start")
    ax.plot([result.error_mev], [result.cost.dsp48e2], "*", ms=12, label="result")
    ax.set_xlabel("max |E_fixed - E_float| (meV)")
    ax.set_ylabel("DSP48E2 per step (F = 1)")
    ax.set_title("precision search")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
