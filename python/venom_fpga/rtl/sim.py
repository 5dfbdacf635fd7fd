# SPDX-License-Identifier: BSD-3-Clause
"""Run the generated RTL under cocotb (Icarus or Verilator): the driver shared by the pytest wrappers
(tests/rtl/test_cocotb.py), ``venom-fpga cosim`` (rtl/cosim.py) and the ``rtl`` predict backend.

Needs the repository checkout (rtl/ and cocotb_tests/) and a simulator; nothing here is imported by the rest of the
package unless the ``rtl`` backend or the co-simulation is used."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from venom_fpga.fixed.model import FixedModel
from venom_fpga.files import generated_header
from venom_fpga.paths import COCOTB_DIR
from venom_fpga.rtl.export import export

DEFAULT_LANES = (4, 8)  # the folding settings that cosim, resources and vivado compare unless told otherwise

def _runner():
    from venom_fpga.rtl.cocotb_runner import SIM_BUILD, run_cocotb, string_param  # noqa: PLC0415 (needs cocotb)

    return SIM_BUILD, run_cocotb, string_param


def model_key(fm: FixedModel) -> str:
    h = hashlib.sha256(json.dumps(fm.precision.to_dict() if hasattr(fm.precision, "to_dict") else str(fm.precision),
                                  sort_keys=True, default=str).encode())
    here = Path(__file__).parent
    # the generator's own version: the compiler, the exporter and the contract, and the fixed-point model (tables)
    generator = [here / "isa.py", here / "export.py", here / "contract.py"]
    for src in generator + sorted((here.parent / "fixed").glob("*.py")):
        h.update(src.read_bytes())
    for name in sorted(fm.quantized_weights):
        h.update(name.encode())
        h.update(np.ascontiguousarray(fm.quantized_weights[name]).tobytes())
    return h.hexdigest()[:12]


def generate(fm: FixedModel, lanes: int, tag: str = "model") -> Path:
    """Export ``fm`` at ``lanes`` lanes into sim_build/gen-<tag>-<hash>-l<lanes> (reused when present)."""
    sim_build, _, _ = _runner()
    out = sim_build / f"gen-{tag}-{model_key(fm)}-l{lanes}"
    if not (out / "params.json").exists():
        export(fm, lanes, out, generated_header(f"venom_fpga.rtl.sim.generate(lanes={lanes})",
                                                {"model": model_key(fm)}), name=f"{tag}-l{lanes}")
    return out


def run_rtl(fm: FixedModel, lanes: int, codes: np.ndarray, sim: str | None = None,
            scenario: dict[str, Any] | None = None, tag: str = "model", expected: np.ndarray | None = None,
            check: bool = True, log: str | os.PathLike | None = None) -> dict[str, Any]:
    """Stream the windows ``codes`` (N, L, 2) through the generated RTL; returns {"outputs": (N, 2) codes,
    "expected": FixedModel codes, "stats": cycles/latency/bit_exact, "wall_s": simulation wall time}.
    With ``check`` the cocotb test fails (AssertionError here) on the first window that differs from FixedModel.
    ``log``: a file that takes the simulator's and compiler's output (appended) instead of the terminal."""
    sim = sim or os.environ.get("SIM", "icarus")
    _, run_cocotb, string_param = _runner()
    codes = np.asarray(codes, dtype=np.int64)
    if expected is None:
        expected, _ = fm.run_codes(codes)
    gen = generate(fm, lanes, tag)
    sc = dict(scenario or {})
    if not check:
        sc["no_check"] = 1
    run_id = hashlib.sha256(codes.tobytes() + json.dumps(sc, sort_keys=True).encode() + sim.encode()).hexdigest()[:10]
    work = gen / f"run-{run_id}"
    work.mkdir(exist_ok=True)
    np.savez(work / "vectors.npz", codes=codes, expected=np.asarray(expected, dtype=np.int64))
    t0 = time.time()
    tb_dir = COCOTB_DIR / "venom_top"
    hdl_clock = int(sc.get("driver", "fast") == "fast")  # cocotbext-axi: a cocotb Clock (see venom_top_tb.v)
    run_cocotb("venom_top_tb", "test_venom_top", [str(tb_dir / "venom_top_tb.v"), str(gen / "venom_top.f")],
               f"tb-{gen.name}" + ("" if hdl_clock else "-pyclk"), sim=sim, test_dir="venom_top", hdl_delays=True,
               all_public=False,
               parameters={"MEM_DIR": string_param(str(gen) + "/"), "HDL_CLOCK": hdl_clock},
               extra_env={"VENOM_VECTORS": str(work / "vectors.npz"), "VENOM_STATS": str(work / "stats.json"),
                          "VENOM_RESULTS": str(work / "outputs.npy"), "VENOM_SCENARIO": json.dumps(sc)}, log=log)
    wall = time.time() - t0
    params = json.loads((gen / "params.json").read_text())
    return {"outputs": np.load(work / "outputs.npy"), "expected": np.asarray(expected),
            "stats": json.loads((work / "stats.json").read_text()), "wall_s": wall, "params": params}


def max_energy_error_mev(ckpt, fm: FixedModel, iq: np.ndarray, mu_codes: np.ndarray) -> float:
    """max |E_rtl - E_float| in meV over the windows ``iq`` (N, L, 2): E = mu energy_scale + energy_offset, with
    ``mu_codes`` (N,) the RTL's mu codes and the float model run on ``iq`` (any window length)."""
    from venom_fpga.model.float_model import run_windows  # torch only when asked

    mu_float = run_windows(ckpt.dims, ckpt.tensors, np.asarray(iq, dtype=np.float64))[:, 0]
    mu_rtl = fm.fmt["mu"].to_float(np.asarray(mu_codes))
    return float(np.max(np.abs(mu_rtl - mu_float)) * abs(float(ckpt.meta.energy_scale)) * 1e3)
