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
import math
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


# LUTs per LUT-as-memory cell (UltraScale+ CLB: a SLICEM LUT is one 64-bit RAM or one 32-bit shift register)
LUTS_PER_MEMORY_CELL = {"SRL16E": 1, "SRLC32E": 1, "RAM32X1S": 1, "RAM64X1S": 1, "RAM32X1D": 2, "RAM64X1D": 2,
                        "RAM128X1D": 4, "RAM256X1D": 8, "RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8}


def count(cells: dict[str, int]) -> dict[str, int]:
    """Yosys cell counts -> the resources we report (LUT: logic; LUT_as_memory: shift registers and LUT-RAM, in
    LUTs; Vivado's "CLB LUTs" is their sum)."""
    def starting(prefix: str) -> int:
        return sum(v for k, v in cells.items() if k.startswith(prefix))

    return {
        "LUT": starting("LUT"),
        "LUT_as_memory": sum(n * cells.get(k, 0) for k, n in LUTS_PER_MEMORY_CELL.items()),
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
    """Yosys on the generated engine top in ``gen``; returns (cells by type, seconds; NaN when a stat was reused)."""
    files = [str((gen / f).resolve()) for f in (gen / "venom_top.f").read_text().split()]
    return yosys(files, "venom_top", gen, log_dir / f"{gen.name}{'.fast' if fast else ''}", timeout, reuse, fast)


def yosys(files: list[str], top: str, mem_dir: Path, stem: Path, timeout: int, reuse: bool = False,
          fast: bool = False, netlist: bool = False) -> tuple[dict, float]:
    """``synth_xilinx -family xcup`` of ``top`` (its MEM_DIR parameter set to ``mem_dir``); stat and log at
    ``stem``.stat.json / .log, with ``netlist`` the mapped netlist at ``stem``.netlist.json too. Returns (cells by
    type, seconds; NaN when a stat was reused)."""
    stat, log = stem.with_name(stem.name + ".stat.json"), stem.with_name(stem.name + ".log")
    net = stem.with_name(stem.name + ".netlist.json")
    reuse = reuse and (net.exists() or not netlist)
    # reuse: a stat newer than the hand-written RTL (the generated files are rewritten by every export)
    if reuse and stat.exists() and all(stat.stat().st_mtime > Path(f).stat().st_mtime for f in files[1:]):
        return _cells(stat), float("nan")
    if shutil.which("yosys") is None:
        raise ResourcesError("yosys is not on PATH (make setup installs it)")
    sx = f"synth_xilinx -family xcup -flatten -noiopad -top {top}"
    flow = f"{sx} -run :map_luts; {FAST_MAP_LUTS}; {sx} -run finalize:" if fast else sx
    cmd = (f"read_verilog -I{RTL_DIR} -defer {' '.join(files)}; chparam -set MEM_DIR \"{mem_dir.resolve()}/\" {top}; "
           f"{flow}; tee -q -o {stat} stat -json" + (f"; write_json {net}" if netlist else ""))
    t0 = time.time()
    try:  # warnings and errors: in the log
        subprocess.run(["yosys", "-q", "-l", str(log), "-p", cmd], check=True, timeout=timeout,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.CalledProcessError as exc:
        raise ResourcesError(f"yosys failed on {top} in {mem_dir.name} (exit {exc.returncode}); see {log}") from None
    except subprocess.TimeoutExpired:
        raise ResourcesError(f"yosys ran longer than {timeout} s on {top} in {mem_dir.name}; see {log}") from None
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


# ------------------------------------------------------------------------------------------------ the array
ARRAY_FOLDS = (2, 4)  # synthesised beside the plan's choice


def array_resources(ckpt: Checkpoint, precision=None, folds: Iterable[int] = ARRAY_FOLDS, channels: int = 2048,
                    rate_cps: float = 1000.0, timeout: int = 3600, reuse: bool = False, fast: bool = True,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Yosys on the array RTL: the plan's configuration for ``channels`` at ``rate_cps`` and the plan's
    configurations at ``folds``; beside each, the plan's figures (DSP48E2 exact from the generated RTL, BRAM and LUT
    estimates) and their ratio, the DSP efficiency (the op plan's products per DSP48E2 per clock at one token every F
    clocks; above 1 where products are built in fabric) and the deepest register-to-register logic (:mod:`logic_depth`: LUT levels, carry chain; the 512 MHz
    proxy)."""
    from venom_fpga.fixed.model import FixedModel
    from venom_fpga.rtl import array, logic_depth, planner
    from venom_fpga.target import CLOCK_MHZ

    fm = FixedModel(ckpt, precision)
    length = ckpt.meta.window_length
    if length is None:
        raise ValueError(f"{ckpt.path}: no window_length in its metadata")
    chosen, options = planner.choose(fm, channels, rate_cps, CLOCK_MHZ * 1e6, planner.model_sample_rate(ckpt.meta),
                                     length)
    if chosen is None:
        raise ValueError("no array configuration fits the default budget (venom-fpga plan)")
    wanted = [chosen.fold] + [f for f in folds if f != chosen.fold]
    by_fold = {c.fold: c for c in options}
    log_dir = build_dir() / "yosys"
    log_dir.mkdir(parents=True, exist_ok=True)
    useful = fm.plan.step_products()
    report: dict[str, Any] = {"weights": str(ckpt.path), "channels": channels, "rate_cps": rate_cps,
                              "tool": TOOL + (" (abc -fast LUT mapping)" if fast else ""), "caveats": CAVEATS[:3],
                              "useful_products_per_step": useful, "settings": []}
    for fold in wanted:
        c = by_fold[fold]
        tm = c.timing
        design = array.generate(fm, slots=tm.slots, length=length, channels=channels, fold=fold,
                                head_fold=tm.head_interval, head_queue=tm.head_queue, record_fifo=tm.record_fifo)
        out = array.write(design, build_dir() / "rtl" / f"array-{Path(ckpt.path).stem}-f{fold}")
        cells, secs = yosys(array.sources(out), "venom_array", out, log_dir / out.name, timeout, reuse, fast,
                            netlist=True)
        path = logic_depth.depth(log_dir / f"{out.name}.netlist.json")
        res = count(cells)
        bram = res["RAMB36E2"] + res["RAMB18E2"] / 2
        est = c.resources
        entry = {"fold": fold, "chosen": fold == chosen.fold, "slots": tm.slots, "head_interval": tm.head_interval,
                 **res, "BRAM36_eq": bram, "URAM": cells.get("URAM288", 0),
                 "plan": {"DSP48E2": est.dsp, "BRAM36": est.bram36, "LUT": est.lut},
                 "yosys_over_plan": {"DSP48E2": res["DSP48E2"] / est.dsp if est.dsp else None,
                                     "BRAM36": bram / est.bram36 if est.bram36 else None,
                                     "LUT": res["LUT"] / est.lut if est.lut else None},
                 "dsp_efficiency": useful / (res["DSP48E2"] * fold) if res["DSP48E2"] else None,
                 "deepest_path": path.as_dict(), "yosys_s": secs, "cells_by_type": cells}
        report["settings"].append(entry)
        if progress:
            progress(array_line(entry))
    return report


def array_line(e: dict[str, Any]) -> str:
    r = e["yosys_over_plan"]
    ratio = ", ".join(f"{k} {v:.2f}" for k, v in r.items() if v is not None and math.isfinite(v))
    eff = e["dsp_efficiency"]
    return (f"resources array F={e['fold']}{' (plan)' if e['chosen'] else ''}, S={e['slots']}: {e['LUT']:,} LUT "
            f"(+{e['LUT_as_memory']:,} as memory), "
            f"{e['FF']:,} FF, {e['DSP48E2']:,} DSP48E2, {e['BRAM36_eq']:g} BRAM36 eq., {e['URAM']} URAM; "
            f"Yosys/plan {ratio}; DSP efficiency {'n/a' if eff is None else f'{eff:.2f}'}; deepest path "
            f"{e['deepest_path']['lut_levels']} LUT levels, a {e['deepest_path']['carry8_chain']}-cell carry chain")
