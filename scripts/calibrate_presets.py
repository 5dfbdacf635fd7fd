# SPDX-License-Identifier: BSD-3-Clause
"""Optimal-filter resolving power per line for the synthetic presets (used to tune them).

Generates a fresh data set per preset, calibrates the OF on half of each line (stratified split) and
reports KDE and Gaussian R on the other half, per line and as the mean.

    python scripts/calibrate_presets.py --n-per-line 1500 --seed 1
    python scripts/calibrate_presets.py --preset ptsi --set r_int1=1e9 --set r_pos=1e9   # noise only
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from venom_fpga.data import dataset
from venom_fpga.data import optimal_filter
from venom_fpga.data import synth
from venom_fpga.metrics.resolving_power import mean_R, per_line


def _override(preset: synth.Preset, assignments: list[str]) -> synth.Preset:
    changes = {}
    for item in assignments:
        key, _, value = item.partition("=")
        if key not in {f.name for f in dataclasses.fields(preset)}:
            raise SystemExit(f"unknown preset parameter {key!r}")
        changes[key] = type(getattr(preset, key))(value)
    return dataclasses.replace(preset, **changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=list(synth.PRESETS), action="append", help="default: all")
    parser.add_argument("--n-per-line", type=int, default=1500, help="pulses per line (half calibrate the OF)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--shared-template-nm", type=float, help="default: the preset's published choice")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    args = parser.parse_args()

    for name in args.preset or list(synth.PRESETS):
        original = synth.PRESETS[name]
        synth.PRESETS[name] = _override(original, args.set)
        try:
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                out = synth.write_dataset(name, args.n_per_line, args.seed, Path(tmp) / name, progress=False)
                t_gen = time.perf_counter() - t0
                raw = dataset.load_raw(out)
                test = dataset.stratified_split(raw.line_index, 0.5, args.seed)
                energies = optimal_filter.estimate_energies(raw, ~test, shared_template_nm=args.shared_template_nm)
        finally:
            synth.PRESETS[name] = original
        rows = per_line(energies[test], raw.energy_ev[test], raw.line_index[test], raw.wavelengths_nm)
        print(f"{name}: {args.n_per_line} pulses/line, seed {args.seed}, generated in {t_gen:.1f} s {args.set or ''}")
        print(f"  {'nm':>6} {'E (eV)':>7} {'R_kde':>6} {'R_gauss':>7} {'bias (meV)':>10}")
        for r in rows:
            bias = 1e3 * (r["mean_ev"] - r["energy_ev"])
            print(f"  {r['wavelength_nm']:6.0f} {r['energy_ev']:7.3f} {r['R_kde']:6.2f} {r['R_gauss']:7.2f} {bias:10.2f}")
        print(f"  mean R_kde {mean_R(rows):.2f}   mean R_gauss {mean_R(rows, 'R_gauss'):.2f}")


if __name__ == "__main__":
    main()
