"""run_cocotb(): one wrapper over the cocotb runner (1.9 ``cocotb.runner`` or 2.x ``cocotb_tools.runner``).

Resolves ``.f`` file lists, builds into ``sim_build/<sanitised id>`` (one directory per parameterisation: Verilator
takes parameters at build time), runs the test module and checks ``results.xml`` (outside pytest the runner does not
fail on failing tests)."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from venom_fpga.paths import COCOTB_DIR, REPO_ROOT, SIM_BUILD

try:  # cocotb 2.x
    from cocotb_tools.runner import get_results, get_runner
except ImportError:  # cocotb 1.9
    from cocotb.runner import get_results, get_runner



def read_f(path: str | os.PathLike) -> list[str]:
    """Sources listed in a .f file (one per line, relative to the file; // comments allowed)."""
    path = Path(path)
    out = []
    for line in path.read_text().splitlines():
        line = line.split("//")[0].strip()
        if line:
            p = Path(line)
            out.append(str(p if p.is_absolute() else (path.parent / p).resolve()))
    return out


def sanitise(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120]


def string_param(value: str) -> str:
    """A string parameter value for the runner's -G / -P options (quoted Verilog string literal)."""
    return f'"{value}"'


def _drop_public_flat_rw(runner) -> None:
    """Remove --public-flat-rw from the Verilator runner's verilator command (cocotb 1.9 always passes it). Wraps a
    private method of the runner: where it is missing (another cocotb version), the build keeps the option (slower,
    still correct)."""
    build_command = getattr(runner, "_build_command", None)
    if build_command is None:
        return

    def without():
        return [[a for a in cmd if a != "--public-flat-rw"] for cmd in build_command()]

    runner._build_command = without


def run_cocotb(toplevel: str, test_module: str, sources: list[str], build_id: str, sim: str | None = None,
               parameters: dict | None = None, extra_env: dict | None = None, test_dir: str | None = None,
               timescale=("1ns", "1ps"), waves: bool = False, hdl_delays: bool = False,
               all_public: bool = True) -> Path:
    """Build ``sources`` (Verilog files or .f lists) with ``toplevel`` and run the cocotb ``test_module``.
    ``hdl_delays``: the sources time themselves (``#`` delays, e.g. a clock generated in HDL): Verilator --timing.
    ``all_public=False``: Verilator without the runner's --public-flat-rw, which makes every signal visible to cocotb
    and the model ~40x slower (venom_top: 0.24M instead of 10M cycles/s); only signals marked
    ``/*verilator public_flat_rw*/`` (or ``_rd``) are then visible."""
    sim = sim or os.environ.get("SIM", "icarus")
    srcs: list[str] = []
    for s in sources:
        srcs += read_f(s) if str(s).endswith(".f") else [str(s)]
    build_dir = SIM_BUILD / sanitise(f"{build_id}-{sim}")
    build_dir.mkdir(parents=True, exist_ok=True)
    runner = get_runner(sim)
    if sim == "verilator" and not all_public:
        _drop_public_flat_rw(runner)
    build_args = []
    if sim == "verilator":
        build_args = ["-Wno-fatal"] + (["--timing"] if hdl_delays else [])
    runner.build(verilog_sources=srcs, hdl_toplevel=toplevel, build_dir=build_dir, parameters=parameters or {},
                 build_args=build_args, always=False, timescale=timescale, waves=waves)
    # the simulator's Python: the golden model, the testbenches' shared helpers (common/) and the test module
    mod_dir = str(COCOTB_DIR / (test_dir or toplevel))
    env = {"PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "python"), str(COCOTB_DIR), mod_dir, *sys.path]),
           **(extra_env or {})}
    results = runner.test(hdl_toplevel=toplevel, test_module=test_module, build_dir=build_dir,
                          test_dir=build_dir, extra_env=env, waves=waves)
    n_tests, n_fail = get_results(results)
    if n_tests == 0 or n_fail:
        raise AssertionError(f"cocotb {test_module} on {sim}: {n_fail} of {n_tests} tests failed ({results})")
    return Path(results)
