# SPDX-License-Identifier: BSD-3-Clause
"""run_cocotb(): one wrapper over the cocotb runner (1.9 ``cocotb.runner`` or 2.x ``cocotb_tools.runner``).

Resolves ``.f`` file lists, builds into ``sim_build/<sanitised id>`` (one directory per parameterisation: Verilator
takes parameters at build time), runs the test module and checks ``results.xml`` (outside pytest the runner does not
fail on failing tests). With ``log``, everything the runner, the simulator and the compiler print goes to that file
instead of the terminal."""

from __future__ import annotations

import os
import re
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

from venom_fpga.paths import COCOTB_DIR, REPO_ROOT, RTL_DIR, SIM_BUILD

with warnings.catch_warnings():  # cocotb 1.9 calls its runner experimental on import: noise on every CLI call
    warnings.filterwarnings("ignore", message="Python runners", category=UserWarning)
    try:  # cocotb 2.x
        from cocotb_tools.runner import get_results, get_runner
    except ImportError:  # cocotb 1.9
        from cocotb.runner import get_results, get_runner


class SimulationError(RuntimeError):
    """A simulator build or run that did not complete (the message names the log, if there is one)."""


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


@contextmanager
def output_to(log: str | os.PathLike | None) -> Iterator[None]:
    """Send this process's stdout and stderr, and so those of the tools it starts, to ``log`` (appended); nothing
    changes when ``log`` is None. The simulators and compilers inherit the descriptors 1 and 2, the runner prints
    its commands through sys.stdout (which need not be descriptor 1, e.g. under pytest): both are redirected."""
    if log is None:
        yield
        return
    Path(log).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        with open(log, "ab") as f, open(log, "a", buffering=1) as text:
            os.dup2(f.fileno(), 1)
            os.dup2(f.fileno(), 2)
            with redirect_stdout(text), redirect_stderr(text):
                yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def run_cocotb(toplevel: str, test_module: str, sources: list[str], build_id: str, sim: str | None = None,
               parameters: dict | None = None, extra_env: dict | None = None, test_dir: str | None = None,
               timescale=("1ns", "1ps"), waves: bool = False, hdl_delays: bool = False,
               all_public: bool = True, log: str | os.PathLike | None = None) -> Path:
    """Build ``sources`` (Verilog files or .f lists) with ``toplevel`` and run the cocotb ``test_module``.
    ``hdl_delays``: the sources time themselves (``#`` delays, e.g. a clock generated in HDL): Verilator --timing.
    ``all_public=False``: Verilator without the runner's --public-flat-rw, which makes every signal visible to cocotb
    and the model ~40x slower (venom_top: 0.24M instead of 10M cycles/s); only signals marked
    ``/*verilator public_flat_rw*/`` (or ``_rd``) are then visible. ``log``: a file for all the output (appended);
    a build or run that fails raises SimulationError naming it."""
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
    # the simulator's Python: the golden model, the testbenches' shared helpers (common/) and the test module
    python_path = [str(REPO_ROOT / "python"), str(COCOTB_DIR), str(COCOTB_DIR / (test_dir or toplevel))]
    where = f" (log: {log})" if log is not None else ""
    with output_to(log):
        try:
            # rtl/ on the include path: the generated contract header (venom_contract.vh) lives there
            runner.build(verilog_sources=srcs, includes=[str(RTL_DIR)], hdl_toplevel=toplevel, build_dir=build_dir,
                         parameters=parameters or {}, build_args=build_args, always=False, timescale=timescale,
                         waves=waves)
            with _sys_path(python_path):
                results = runner.test(hdl_toplevel=toplevel, test_module=test_module, build_dir=build_dir,
                                      test_dir=build_dir, extra_env=dict(extra_env or {}), waves=waves)
            n_tests, n_fail = get_results(results)
        except SystemExit as exc:  # the runner's way of saying that a tool failed
            raise SimulationError(f"{sim} on {toplevel}: {exc}{where}") from None
    if n_tests == 0 or n_fail:
        raise AssertionError(f"cocotb {test_module} on {sim}: {n_fail} of {n_tests} tests failed ({results}){where}")
    return Path(results)


@contextmanager
def _sys_path(paths: list[str]) -> Iterator[None]:
    """The runner hands sys.path to the simulator's Python as its PYTHONPATH (replacing any PYTHONPATH given in
    extra_env): put ``paths`` in front of it for one run, then restore it."""
    saved = list(sys.path)
    sys.path[:0] = [p for p in paths if p not in sys.path]
    try:
        yield
    finally:
        sys.path[:] = saved
