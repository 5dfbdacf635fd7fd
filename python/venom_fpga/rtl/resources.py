# SPDX-License-Identifier: BSD-3-Clause
"""``venom-fpga resources``: Yosys 0.23 ``synth_xilinx -family xcup`` of the generated RTL top for each LANES setting
(LUT, FF, DSP48E2, BRAM, LUTRAM, CARRY8; DSP efficiency), build/reports/resources.json by default.

Caveats (docs/toolchain.md §6): on xcup Yosys infers DSP48E2 for multipliers but keeps pipeline registers, adders
and accumulators in fabric, so LUT/FF are an upper bound (an xc7 run is closer for LUT/FF); Yosys is not Vivado
(no timing-driven optimisation, no retiming); the numbers are estimates for comparing LANES settings, not sign-off.
DSP efficiency = useful multiplies per sample / (DSP48E2 x engine cycles per sample).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from venom_fpga.model.checkpoint import Checkpoint
from venom_fpga.paths import RTL_DIR, build_dir
from venom_fpga.rtl.sim import DEFAULT_LANES

TOOL = "yosys 0.23 synth_xilinx -family xcup -flatten -noiopad"
CAVEATS = [
    "Yosys 0.23 synth_xilinx -family xcup: estimates, not Vivado results",
    "xcup: pipeline registers/adders/accumulators stay in fabric (not packed into DSP48E2): LUT/FF are upper bounds",
    "no timing analysis: the engine is pipelined for the target clock (registered memories, DSP A/B/M/P "
    "registers) but only `venom-fpga vivado` can confirm it",
    "scratchpad banks: Yosys maps each bank's 2 x LANES read ports to replicated block RAMs (Vivado may choose "
    "LUTRAM); each lane has its own copy of the LUT ROM",
]
# synth_xilinx's map_luts step with `abc -fast` (minutes instead of tens of minutes on the flattened scratchpad mux)
FAST_MAP_LUTS = ("opt_expr -mux_undef -noclkinv; abc -fast -luts 2:2,3,6:5,10,20; clean; "
                 "techmap -map +/xilinx/ff_map.v; xilinx_srl -fixed -minlen 3; "
                 "techmap -map +/xilinx/lut_map.v -map +/xilinx/cells_map.v -D LUT_WIDTH=6; xilinx_dffopt; "
                 "opt_lut_ins -tech xilinx")


class ResourcesError(RuntimeError):
    """Yosys is missing, failed or ran out of time (the message names its log)."""


def count(cells: dict[str, int]) -> dict[str, int]:
    """Yosys cell counts -> the resources we report."""
    def starting(prefix: str) -> int:
        return sum(v for k, v in cells.items() if k.startswith(prefix))

    return {
        "LUT": starting("LUT"),
        "FF": sum(cells.get(k, 0) for k in ("FDRE", "FDSE", "FDCE", "FDPE")),
        "DSP48E2": cells.get("DSP48E2", 0),
        "RAMB36E2": cells.get("RAMB36E2", 0),
        "RAMB18E2": cells.get("RAMB18E2", 0),
        "LUTRAM": sum(v for k, v in cells.items() if k.startswith("RAM") and not k.startswith("RAMB")),
        "CARRY8": cells.get("CARRY8", 0),
        "MUXF": starting("MUXF"),
    }


def _cells(stat: Path) -> dict[str, int]:
    data = json.loads(stat.read_text())
    design = data.get("design") or next(iter(data["modules"].values()))
    return design["num_cells_by_type"]


def synth(gen: Path, log_dir: Path, timeout: int, reuse: bool = False, fast: bool = False) -> tuple[dict, float]:
    """Yosys on the generated top in ``gen``; returns (cells by type, seconds; NaN when a stat was reused)."""
    files = [str((gen / f).resolve()) for f in (gen / "venom_top.f").read_text().split()]
    stat = log_dir / f"{gen.name}{'.fast' if fast else ''}.stat.json"
    log = stat.with_suffix("").with_suffix(".log")
    # reuse: a stat newer than the hand-written RTL (the generated files are rewritten by every export)
    if reuse and stat.exists() and all(stat.stat().st_mtime > Path(f).stat().st_mtime for f in files[:-1]):
        return _cells(stat), float("nan")
    if shutil.which("yosys") is None:
        raise ResourcesError("yosys is not on PATH (make setup installs it)")
    sx = "synth_xilinx -family xcup -flatten -noiopad -top venom_top"
    flow = f"{sx} -run :map_luts; {FAST_MAP_LUTS}; {sx} -run finalize:" if fast else sx
    cmd = (f"read_verilog -I{RTL_DIR} -defer {' '.join(files)}; chparam -set MEM_DIR \"{gen.resolve()}/\" venom_top; "
           f"{flow}; tee -q -o {stat} stat -json")
    t0 = time.time()
    try:  # warnings and errors: in the log
        subprocess.run(["yosys", "-q", "-l", str(log), "-p", cmd], check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.CalledProcessError as exc:
        raise ResourcesError(f"yosys failed on {gen.name} (exit {exc.returncode}); see {log}") from None
    except subprocess.TimeoutExpired:
        raise ResourcesError(f"yosys ran longer than {timeout} s on {gen.name}; see {log}") from None
    return _cells(stat), time.time() - t0


def export_for_synthesis(ckpt: Checkpoint, precision=None, lanes: int = 4) -> dict[str, Any]:
    """The RTL top of ``ckpt`` at ``lanes`` lanes, freshly generated into build/rtl/<stem>_l<lanes>/ (so that what is
    synthesised is what the exporter makes now, never a stale committed top); returns its parameters (``out``: the
    directory)."""
    from venom_fpga.rtl.export import export_checkpoint

    return export_checkpoint(ckpt, precision=precision, lanes=lanes,
                             out=build_dir() / "rtl" / f"{Path(ckpt.path).stem}_l{lanes}")


def resources(ckpt: Checkpoint, precision=None, lanes: Iterable[int] = DEFAULT_LANES, timeout: int = 3600,
              reuse: bool = False, fast: bool = False,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Synthesise the RTL top of each LANES setting (:func:`export_for_synthesis`) with Yosys (logs and stats in
    build/yosys/) and return the report; ``progress`` is called with each setting's result line when it is done."""
    lanes = list(lanes)
    if not lanes or min(lanes) < 1:
        raise ValueError(f"LANES settings must be positive, found {lanes}")
    log_dir = build_dir() / "yosys"
    log_dir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"weights": str(ckpt.path), "tool": TOOL, "caveats": CAVEATS, "settings": []}
    for n_lanes in lanes:
        params = export_for_synthesis(ckpt, precision, n_lanes)
        cells, secs = synth(params["out"], log_dir, timeout, reuse, fast)
        res = count(cells)
        cps = params["engine_cycles"]["step"] + 3  # between input handshakes, as cosim measures them
        mults = params["useful_multiplies_per_sample"]
        entry = {"lanes": n_lanes, "flow": "abc -fast LUT mapping" if fast else "synth_xilinx", **res,
                 "cycles_per_sample": cps, "useful_multiplies_per_sample": mults,
                 "dsp_efficiency": mults / (res["DSP48E2"] * cps) if res["DSP48E2"] else None,
                 "yosys_s": secs, "cells_by_type": cells}
        report["settings"].append(entry)
        if progress:
            progress(setting_line(entry))
    return report


def setting_line(entry: dict[str, Any]) -> str:
    eff = entry["dsp_efficiency"]
    return (f"resources LANES={entry['lanes']}: {entry['LUT']} LUT, {entry['FF']} FF, {entry['DSP48E2']} DSP48E2, "
            f"{entry['RAMB36E2']}+{entry['RAMB18E2']} BRAM36/18, {entry['LUTRAM']} LUTRAM; "
            f"{entry['cycles_per_sample']} cycles/sample; DSP efficiency {'n/a' if eff is None else f'{eff:.3f}'}")
