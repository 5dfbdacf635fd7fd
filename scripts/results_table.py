# SPDX-License-Identifier: BSD-3-Clause
"""Print the per-wavelength resolving-power table (markdown) of one or more `evaluate --json` reports.

    python scripts/results_table.py weights/venom_synth_ptsi.evaluate.json
"""

import json
import sys


def table(report: dict) -> str:
    rows = [
        "| λ (nm) | E (eV) | pulses | R model (KDE) | R OF (KDE) | R model (Gauss) | R OF (Gauss) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for m, o in zip(report["model"]["per_line"], report["optimal_filter"]["per_line"], strict=True):
        rows.append(
            f"| {m['wavelength_nm']:.0f} | {m['energy_ev']:.3f} | {m['count']} | {m['R_kde']:.2f} | {o['R_kde']:.2f} "
            f"| {m['R_gauss']:.2f} | {o['R_gauss']:.2f} |"
        )
    m, o = report["model"], report["optimal_filter"]
    rows.append(
        f"| **mean** | | {report['n_scored']} | **{m['mean_R_kde']:.2f}** | **{o['mean_R_kde']:.2f}** "
        f"| {m['mean_R_gauss']:.2f} | {o['mean_R_gauss']:.2f} |"
    )
    return "\n".join(rows)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(f"{path}\n\n{table(json.load(open(path)))}\n")
