# SPDX-License-Identifier: BSD-3-Clause
"""``venom-fpga cosim``: windows through the generated RTL (cocotb + Verilator or Icarus) for each LANES setting,
every (mu, log_var) code compared with the fixed-point golden model.

Windows: the user's float windows (e.g. from ``venom-fpga windows``), else the precision probe windows of the
checkpoint's window length. The stream runs with random idle and backpressure cycles and a reset in the middle of
a window. Reported per LANES (JSON, build/reports/cosim.json by default): windows, bit_exact, the first mismatch,
max |E_rtl - E_float| (meV; E = mu energy_scale + energy_offset), cycles per sample (between back-to-back input
handshakes) against the real-time budget of one channel at the target clock, latency TLAST -> record, simulated
cycles/s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from venom_fpga.fixed.model import FixedModel
from venom_fpga.model.checkpoint import Checkpoint
from venom_fpga.rtl.sim import DEFAULT_LANES, max_energy_error_mev, run_rtl
from venom_fpga.target import CLOCK_MHZ

DEFAULT_WINDOWS = 100
# random idle/backpressure at this probability, plus a reset in the middle of a window (seed: per LANES setting)
SCENARIO = {"idle": 1, "backpressure": 1, "reset_mid_window": 1, "p": 0.05}


def cycle_budget(ckpt: Checkpoint) -> float | None:
    """Clock cycles per model-rate sample of one channel at the target clock (None: the checkpoint does not say
    its sample rate)."""
    if not ckpt.meta.raw_sample_rate_hz:
        return None
    return CLOCK_MHZ * 1e6 * ckpt.meta.decimation / ckpt.meta.raw_sample_rate_hz


def cosim(ckpt: Checkpoint, precision=None, lanes: Iterable[int] = DEFAULT_LANES, windows: int = DEFAULT_WINDOWS,
          iq: np.ndarray | None = None, sim: str | None = None, log: str | os.PathLike | None = None,
          progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Co-simulate the first ``windows`` windows of ``iq`` (default: probe windows) at each LANES setting; returns
    the report (``ok``: every window of every setting bit-exact). ``sim``: verilator or icarus (default $SIM, else
    verilator); ``log``: the simulator's and compiler's output (truncated first); ``progress`` is called with each
    setting's result line (:func:`setting_line`) as soon as it is done."""
    from venom_fpga.fixed.precision import PROBE_LENGTH, probe_windows
    from venom_fpga.predict import check_windows, describe_mismatch

    lanes = list(lanes)
    if windows < 1:
        raise ValueError(f"windows must be at least 1, found {windows}")
    if not lanes or min(lanes) < 1:
        raise ValueError(f"LANES settings must be positive, found {lanes}")
    sim = sim or os.environ.get("SIM", "verilator")
    if iq is not None:
        iq = check_windows(iq, ckpt, "windows")[:windows]
    else:
        iq = probe_windows(length=ckpt.meta.window_length or PROBE_LENGTH, n=windows, seed=0)
    if log is not None:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        Path(log).write_text("")
    fm = FixedModel(ckpt, precision)
    codes = fm.quantize_input(iq)
    ref, _ = fm.run_codes(codes)
    budget = cycle_budget(ckpt)
    report: dict[str, Any] = {
        "weights": str(ckpt.path), "precision": fm.precision.source, "sim": sim, "windows": int(codes.shape[0]),
        "window_length": int(codes.shape[1]), "clock_mhz_target": CLOCK_MHZ,
        "cycles_per_sample_budget_one_channel": budget, "log": str(log) if log is not None else None, "settings": []}
    for n_lanes in lanes:
        t0 = time.time()
        res = run_rtl(fm, n_lanes, codes, sim=sim, tag="cosim", scenario={**SCENARIO, "seed": n_lanes},
                      expected=ref, check=False, log=log)
        out, st = res["outputs"], res["stats"]
        cps = st["min_cycles_between_samples"]
        entry = {
            "lanes": n_lanes,
            "windows": int(codes.shape[0]),
            "bit_exact": int(np.all(out == ref, axis=1).sum()),
            "mismatch": describe_mismatch(out, ref),
            "max_abs_E_rtl_minus_E_float_meV": max_energy_error_mev(ckpt, fm, iq, out[:, 0]),
            "cycles_per_sample": cps,
            "engine_cycles": res["params"]["engine_cycles"],
            "realtime_one_channel": None if cps is None or budget is None else bool(cps <= budget),
            "latency_tlast_to_record_cycles": [st["latency_tlast_to_record_min"], st["latency_tlast_to_record_max"]],
            "simulated_cycles": st["sim_cycles"],
            "simulated_cycles_per_s": st["sim_cycles"] / st["sim_wall_s"],
            "wall_s_incl_build": time.time() - t0,
        }
        report["settings"].append(entry)
        if progress:
            progress(setting_line(report, entry))
    report["ok"] = all(s["mismatch"] is None for s in report["settings"])
    return report


def setting_line(report: dict[str, Any], entry: dict[str, Any]) -> str:
    """One line per LANES setting."""
    budget = report["cycles_per_sample_budget_one_channel"]
    of = f" (one channel's budget: {budget:g})" if budget else ""
    lat = entry["latency_tlast_to_record_cycles"]
    return (f"cosim LANES={entry['lanes']} ({report['sim']}): {entry['bit_exact']}/{entry['windows']} bit-exact, "
            f"max |E_rtl - E_float| {entry['max_abs_E_rtl_minus_E_float_meV']:.3f} meV, "
            f"{entry['cycles_per_sample']} cycles/sample{of}, latency {lat[0]}-{lat[1]} cycles, "
            f"{entry['simulated_cycles_per_s']:,.0f} simulated cycles/s")


def failure(report: dict[str, Any]) -> str | None:
    """None when every setting is bit-exact, else one line naming the settings that are not and the first
    mismatch."""
    bad = [s for s in report["settings"] if s["mismatch"]]
    if not bad:
        return None
    return "; ".join(f"cosim LANES={s['lanes']}: {s['mismatch']}" for s in bad)
