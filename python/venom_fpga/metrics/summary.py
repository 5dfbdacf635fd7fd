# SPDX-License-Identifier: BSD-3-Clause
"""``venom-fpga summary``: one screen over the reports in build/reports/ (what ``make demo`` ends with): what the
float, fixed-point, C-simulated and RTL models agree on, and what the hardware costs where it was measured.

A report written before the last change of the sources it describes (rtl/*.v for resources and Vivado, the HLS
kernels for Vitis HLS) describes another design: it is named stale instead of shown.
"""

from __future__ import annotations

import json
from pathlib import Path

from venom_fpga.paths import HLS_DIR, RTL_DIR

RULE = "=" * 78


def _load(reports: Path, name: str) -> dict | None:
    path = reports / name
    return json.loads(path.read_text()) if path.is_file() else None


def _older_than(report: Path, sources: list[Path]) -> bool:
    return any(s.stat().st_mtime > report.stat().st_mtime for s in sources)


def summary_lines(reports: str | Path) -> list[str]:
    from venom_fpga.hls.report import summary_line as hls_line
    from venom_fpga.metrics.accuracy import summary_line as accuracy_line
    from venom_fpga.rtl.vivado_report import summary_line as vivado_line

    reports = Path(reports)
    lines = [RULE]
    ev, acc = _load(reports, "demo_evaluate.json"), _load(reports, "accuracy.json")
    if ev:
        m, o = ev["model"], ev["optimal_filter"]
        lines.append(f"resolving power ({ev['n_scored']} scored pulses): model R {m['mean_R_kde']:.2f} "
                     f"(Gauss {m['mean_R_gauss']:.2f}), optimal filter R {o['mean_R_kde']:.2f} "
                     f"(Gauss {o['mean_R_gauss']:.2f})")
    if acc:
        lines.append(accuracy_line(acc))
    csim = _load(reports, "csim.json")
    if csim:
        lines.append(f"HLS C-sim vs fixed: {csim['windows'] - csim['mismatches']}/{csim['windows']} windows bit-exact "
                     f"(incl. {csim['extreme_windows']} extremes)")
        st, a = csim.get("stream"), csim.get("array")
        if st and a:
            lines.append(f"HLS array C-sim (S={a['slots']}, F={a['fold']}, {a['channels']} channels) vs array model: "
                         f"{st['bit_exact']}/{st['records']} records equal, {st['windows']} windows, drops slot "
                         f"{st['slot_drops']} / head queue {st['head_queue_drops']} / FIFO {st['fifo_drops']}"
                         + ("" if st["ok"] else " -- MISMATCH"))
    cosim = _load(reports, "cosim.json")
    if cosim and cosim.get("array"):
        from venom_fpga.rtl.array_sim import summary_line

        lines.append(summary_line(cosim["array"]))
    if cosim:
        for s in cosim["settings"]:
            lines.append(f"RTL ({cosim['sim']}, LANES={s['lanes']}) vs fixed: {s['bit_exact']}/{s['windows']} windows "
                         f"bit-exact, {s['cycles_per_sample']} cycles/sample, "
                         f"max |E_rtl - E_float| {s['max_abs_E_rtl_minus_E_float_meV']:.3f} meV")
    plan = _load(reports, "plan.json")
    if plan and plan["chosen"]:
        c = plan["chosen"]
        cap = "every channel has a slot" if c["capacity_cps"] is None else f"capacity {c['capacity_cps']:,.0f} counts/s"
        lines.append(f"array plan for {plan['channels']} channels at {plan['rate_cps']:g} counts/s per "
                     f"pixel: F={c['fold']}, S={c['slots']}, {cap}, {c['dsp']:,} DSP48E2, {c['bram36']:g} BRAM36, "
                     f"record {c['record_latency_us']:.2f} us after the last sample")
    rtl_sources = sorted(RTL_DIR.glob("*.v"))
    res = _load(reports, "resources.json")
    if res and _older_than(reports / "resources.json", rtl_sources):
        lines.append("resources: resources.json is older than rtl/*.v: run `make resources` (Yosys, a few minutes)")
    elif res:
        if res.get("array"):
            from venom_fpga.rtl.resources import array_line

            lines += [array_line(e) for e in res["array"]["settings"]]
        for s in res["settings"]:
            bram = s["RAMB36E2"] + s["RAMB18E2"] / 2
            eff = s["dsp_efficiency"]
            lines.append(f"resources (Yosys estimate, LANES={s['lanes']}): {s['LUT']} LUT, {s['FF']} FF, "
                         f"{s['DSP48E2']} DSP48E2, {bram:g} BRAM36 eq."
                         + (f"; DSP efficiency {eff:.3f}" if eff else ""))
    else:
        lines.append("resources: run `make resources` (Yosys, a few minutes) for LUT/FF/DSP/BRAM per LANES")
    hls = _load(reports, "hls.json")
    if hls and _older_than(reports / "hls.json", sorted((HLS_DIR / "include").rglob("*.h"))):
        lines.append("hls: hls.json is older than the HLS kernels: run `make hls` (needs vitis_hls)")
    elif hls:
        lines.append(hls_line(hls))
    vivado = _load(reports, "vivado.json")
    if vivado and _older_than(reports / "vivado.json", rtl_sources):
        lines.append("vivado: vivado.json is older than rtl/*.v: run `make vivado` (needs vivado)")
    elif vivado:
        lines += [vivado_line(s) for s in vivado["settings"]]
    lines.append(RULE)
    return lines
