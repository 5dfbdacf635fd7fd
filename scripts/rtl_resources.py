#!/usr/bin/env python3
"""`make resources`: Yosys 0.23 `synth_xilinx -family xcup` of the generated RTL top for each LANES setting ->
build/reports/resources.json (LUT, FF, DSP48E2, BRAM, LUTRAM, CARRY8; DSP efficiency).

    python scripts/rtl_resources.py [--weights W] [--precision P] [--lanes 4 8] [--out build/reports/resources.json]

Caveats (docs/toolchain.md §6): on xcup Yosys infers DSP48E2 for multipliers but keeps pipeline registers, adders
and accumulators in fabric, so LUT/FF are an upper bound (an xc7 run is closer for LUT/FF); Yosys is not Vivado
(no timing-driven optimisation, no retiming); the numbers are estimates for comparing LANES settings, not sign-off.
DSP efficiency = useful multiplies per sample / (DSP48E2 x engine cycles per sample).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

from venom_fpga.model.checkpoint import load_checkpoint  # noqa: E402
from venom_fpga.files import write_json  # noqa: E402
from venom_fpga.fixed.model import FixedModel  # noqa: E402
from venom_fpga.files import generated_header  # noqa: E402
from venom_fpga.rtl.export import export  # noqa: E402

CAVEATS = [
    "Yosys 0.23 synth_xilinx -family xcup: estimates, not Vivado results",
    "xcup: pipeline registers/adders/accumulators stay in fabric (not packed into DSP48E2): LUT/FF are upper bounds",
    "no timing analysis: the engine is pipelined for 512 MHz (10 stages, registered memories, DSP A/B/M/P "
    "registers) but only `make vivado` can confirm the clock",
    "scratchpad banks: Yosys maps each bank's 2 x LANES read ports to replicated block RAMs (Vivado may choose "
    "LUTRAM); each lane has its own copy of the LUT ROM",
]


def count(cells: dict[str, int]) -> dict[str, int]:
    g = lambda pre: sum(v for k, v in cells.items() if k.startswith(pre))  # noqa: E731
    return {
        "LUT": g("LUT"),
        "FF": sum(cells.get(k, 0) for k in ("FDRE", "FDSE", "FDCE", "FDPE")),
        "DSP48E2": cells.get("DSP48E2", 0),
        "RAMB36E2": cells.get("RAMB36E2", 0),
        "RAMB18E2": cells.get("RAMB18E2", 0),
        "LUTRAM": sum(v for k, v in cells.items() if k.startswith("RAM") and not k.startswith("RAMB")),
        "CARRY8": cells.get("CARRY8", 0),
        "MUXF": g("MUXF"),
    }


# synth_xilinx's map_luts step with `abc -fast` (minutes instead of tens of minutes on the flattened scratchpad mux)
FAST_MAP_LUTS = ("opt_expr -mux_undef -noclkinv; abc -fast -luts 2:2,3,6:5,10,20; clean; "
                 "techmap -map +/xilinx/ff_map.v; xilinx_srl -fixed -minlen 3; "
                 "techmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v -D LUT_WIDTH=6; xilinx_dffopt; "
                 "opt_lut_ins -tech xilinx")


def synth(gen: Path, log_dir: Path, timeout: int, reuse: bool = False, fast: bool = False) -> tuple[dict, float]:
    files = [str((gen / f).resolve()) for f in (gen / "venom_top.f").read_text().split()]
    stat = log_dir / f"{gen.name}{'.fast' if fast else ''}.stat.json"
    # --reuse: a stat newer than the hand-written RTL (the generated files are rewritten by every export)
    if reuse and stat.exists() and all(stat.stat().st_mtime > Path(f).stat().st_mtime for f in files[:-1]):
        data = json.loads(stat.read_text())
        design = data.get("design") or next(iter(data["modules"].values()))
        return design["num_cells_by_type"], float("nan")
    sx = "synth_xilinx -family xcup -flatten -noiopad -top venom_top"
    flow = f"{sx} -run :map_luts; {FAST_MAP_LUTS}; {sx} -run finalize:" if fast else sx
    cmd = (f"read_verilog -defer {' '.join(files)}; chparam -set MEM_DIR \"{gen.resolve()}/\" venom_top; "
           f"{flow}; tee -q -o {stat} stat -json")
    t0 = time.time()
    subprocess.run(["yosys", "-q", "-l", str(stat.with_suffix("").with_suffix(".log")), "-p", cmd], check=True,
                   timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # warnings: in the log
    data = json.loads(stat.read_text())
    design = data.get("design") or next(iter(data["modules"].values()))
    return design["num_cells_by_type"], time.time() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights", default=str(REPO / "weights" / "venom_synth_ptsi.safetensors"))
    ap.add_argument("--precision", default=None)
    ap.add_argument("--lanes", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--timeout", type=int, default=3600)
    ap.add_argument("--out", default=str(REPO / "build" / "reports" / "resources.json"))
    ap.add_argument("--reuse", action="store_true", help="reuse a Yosys stat newer than the hand-written RTL")
    ap.add_argument("--fast", action="store_true", help="abc -fast for the LUT mapping (LUT count: upper bound)")
    args = ap.parse_args(argv)
    ckpt = load_checkpoint(args.weights)
    fm = FixedModel(ckpt, args.precision)
    log_dir = REPO / "build" / "yosys"
    log_dir.mkdir(parents=True, exist_ok=True)
    report = {"weights": args.weights, "tool": "yosys 0.23 synth_xilinx -family xcup -flatten -noiopad",
              "caveats": CAVEATS, "settings": []}
    for lanes in args.lanes:
        gen = REPO / "build" / "rtl" / f"{Path(args.weights).stem}_l{lanes}"
        params = export(fm, lanes, gen, generated_header(f"scripts/rtl_resources.py --lanes {lanes}",
                                                         {Path(args.weights).name: args.weights}))
        cells, secs = synth(gen, log_dir, args.timeout, args.reuse, args.fast)
        res = count(cells)
        cps = params["engine_cycles"]["step"] + 3
        mults = params["useful_multiplies_per_sample"]
        entry = {"lanes": lanes, "flow": "abc -fast LUT mapping" if args.fast else "synth_xilinx", **res,
                 "cycles_per_sample": cps, "useful_multiplies_per_sample": mults,
                 "dsp_efficiency": mults / (res["DSP48E2"] * cps) if res["DSP48E2"] else None,
                 "yosys_s": secs, "cells_by_type": cells}
        report["settings"].append(entry)
        print(f"resources LANES={lanes}: {res['LUT']} LUT, {res['FF']} FF, {res['DSP48E2']} DSP48E2, "
              f"{res['RAMB36E2']}+{res['RAMB18E2']} BRAM36/18, {res['LUTRAM']} LUTRAM; {cps} cycles/sample; "
              f"DSP efficiency {entry['dsp_efficiency']:.3f}")
    write_json(args.out, report)
    print(f"resources -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
