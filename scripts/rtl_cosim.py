#!/usr/bin/env python3
"""`make cosim`: stream windows through the generated RTL (cocotb + Verilator or Icarus) for each LANES setting and
compare every (mu, log_var) code with the fixed-point golden model; write build/reports/cosim.json.

    SIM=verilator python scripts/rtl_cosim.py [--weights W] [--precision P] [--lanes 4 8] [--windows 100]
                                              [--length L] [--iq windows.npy] [--out build/reports/cosim.json]

Windows: --iq (float (N, L, 2), e.g. from `venom-fpga windows`), else the precision probe windows of the
checkpoint's window length. Reported per LANES: windows, bit_exact, max |E_rtl - E_float| (meV, E = mu
energy_scale + energy_offset), cycles per sample (measured between back-to-back input handshakes), latency
TLAST -> record, simulated cycles/s. Exit status 1 when any window differs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

from venom_fpga.model.checkpoint import load_checkpoint  # noqa: E402
from venom_fpga.fixed.model import FixedModel  # noqa: E402
from venom_fpga.fixed.precision import probe_windows  # noqa: E402
from venom_fpga.rtl.sim import max_energy_error_mev, run_rtl  # noqa: E402

CLOCK_HZ = 512e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=str(REPO / "weights" / "venom_synth_ptsi.safetensors"))
    ap.add_argument("--precision", default=None)
    ap.add_argument("--lanes", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--windows", type=int, default=100)
    ap.add_argument("--length", type=int, default=None, help="window length (default: the checkpoint's)")
    ap.add_argument("--iq", default=None)
    ap.add_argument("--sim", default=os.environ.get("SIM", "verilator"))
    ap.add_argument("--out", default=str(REPO / "build" / "reports" / "cosim.json"))
    args = ap.parse_args(argv)
    ckpt = load_checkpoint(args.weights)
    fm = FixedModel(ckpt, args.precision)
    length = args.length or ckpt.meta.window_length
    if args.iq:
        iq = np.load(args.iq)[: args.windows]
    else:
        iq = probe_windows(length=length, n=max(args.windows, 1), seed=0)[: args.windows]
    iq = iq[:, :length]
    codes = fm.quantize_input(iq)
    ref, _ = fm.run_codes(codes)
    report = {"weights": args.weights, "sim": args.sim, "windows": int(codes.shape[0]), "window_length": int(length),
              "clock_hz_target": CLOCK_HZ, "settings": []}
    ok = True
    for lanes in args.lanes:
        t0 = time.time()
        res = run_rtl(fm, lanes, codes, sim=args.sim, tag="cosim",
                      scenario={"idle": 1, "backpressure": 1, "reset_mid_window": 1, "seed": lanes, "p": 0.05},
                      expected=ref, check=False)
        wall = time.time() - t0
        out = res["outputs"]
        bit_exact = int(np.all(out == ref, axis=1).sum())
        ok &= bit_exact == codes.shape[0]
        st = res["stats"]
        cps = st["min_cycles_between_samples"]
        entry = {
            "lanes": lanes,
            "windows": int(codes.shape[0]),
            "bit_exact": bit_exact,
            "max_abs_E_rtl_minus_E_float_meV": max_energy_error_mev(ckpt, fm, iq, out[:, 0]),
            "cycles_per_sample": cps,
            "engine_cycles": res["params"]["engine_cycles"],
            "realtime_one_channel_1024": bool(cps is not None and cps <= 1024),
            "latency_tlast_to_record_cycles": [st["latency_tlast_to_record_min"], st["latency_tlast_to_record_max"]],
            "simulated_cycles": st["sim_cycles"],
            "simulated_cycles_per_s": st["sim_cycles"] / st["sim_wall_s"],
            "wall_s_incl_build": wall,
        }
        report["settings"].append(entry)
        print(f"cosim LANES={lanes} ({args.sim}): {bit_exact}/{codes.shape[0]} bit-exact, "
              f"max |E_rtl - E_float| {entry['max_abs_E_rtl_minus_E_float_meV']:.3f} meV, {cps} cycles/sample, "
              f"latency {entry['latency_tlast_to_record_cycles']} cycles, "
              f"{entry['simulated_cycles_per_s']:.0f} simulated cycles/s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    print(f"cosim: {'PASS' if ok else 'FAIL'} -> {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
