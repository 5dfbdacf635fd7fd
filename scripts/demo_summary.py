"""One screen at the end of `make demo`: what the float, fixed-point, C-simulated and RTL models agree on.

    python scripts/demo_summary.py [build/reports]
"""

import json
import sys
from pathlib import Path


def load(reports: Path, name: str) -> dict | None:
    path = reports / name
    return json.loads(path.read_text()) if path.is_file() else None


RTL = Path(__file__).resolve().parents[1] / "rtl"


def older_than_rtl(path: Path) -> bool:
    """A report written before the last change of the hand-written RTL describes another design."""
    return any(v.stat().st_mtime > path.stat().st_mtime for v in RTL.glob("*.v"))


def main() -> None:
    reports = Path(sys.argv[1] if len(sys.argv) > 1 else "build/reports")
    ev, acc = load(reports, "demo_evaluate.json"), load(reports, "accuracy.json")
    csim, cosim = load(reports, "csim.json"), load(reports, "cosim.json")
    print("=" * 78)
    if ev:
        m, o = ev["model"], ev["optimal_filter"]
        print(f"resolving power ({ev['n_scored']} scored pulses): model R {m['mean_R_kde']:.2f} "
              f"(Gauss {m['mean_R_gauss']:.2f}), optimal filter R {o['mean_R_kde']:.2f} (Gauss {o['mean_R_gauss']:.2f})")
    if acc:
        sat = {k: v for k, v in acc["saturations"].items() if v}
        print(f"fixed vs float ({acc['windows']} windows): max |dE| {acc['max_abs_dE_meV']:.3f} meV, "
              f"mean {acc['mean_abs_dE_meV']:.4f} meV, saturations {sat or 'none'}")
    if csim:
        print(f"HLS C-sim vs fixed: {csim['windows'] - csim['mismatches']}/{csim['windows']} windows bit-exact "
              f"(incl. {csim['extreme_windows']} extremes)")
    if cosim:
        for s in cosim["settings"]:
            print(f"RTL ({cosim['sim']}, LANES={s['lanes']}) vs fixed: {s['bit_exact']}/{s['windows']} windows "
                  f"bit-exact, {s['cycles_per_sample']} cycles/sample, "
                  f"max |E_rtl - E_float| {s['max_abs_E_rtl_minus_E_float_meV']:.3f} meV")
    res = load(reports, "resources.json")
    if res and older_than_rtl(reports / "resources.json"):
        print("resources: resources.json is older than rtl/*.v: run `make resources` (Yosys, a few minutes)")
    elif res:
        for s in res["settings"]:
            bram = s["RAMB36E2"] + s["RAMB18E2"] / 2
            eff = s["dsp_efficiency"]
            print(f"resources (Yosys estimate, LANES={s['lanes']}): {s['LUT']} LUT, {s['FF']} FF, "
                  f"{s['DSP48E2']} DSP48E2, {bram:g} BRAM36 eq." + (f"; DSP efficiency {eff:.3f}" if eff else ""))
    else:
        print("resources: run `make resources` (Yosys, a few minutes) for LUT/FF/DSP/BRAM per LANES")
    print("=" * 78)


if __name__ == "__main__":
    main()
