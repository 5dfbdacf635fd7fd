# SPDX-License-Identifier: BSD-3-Clause
"""cocotb testbenches of the RTL (cocotb_tests/), wrapped in pytest: per-module and end-to-end, bit-exact against
the fixed-point golden model. SIM selects the simulator (default icarus; verilator too), except for the end-to-end
tests on the shipped weights, which run under both."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from model_zoo import SMALL, random_tensors

from venom_fpga.data import dataset
from venom_fpga.data import synth
from venom_fpga.model.checkpoint import load_checkpoint
from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.qformat import OVERFLOW_MODES, ROUNDING_MODES
from venom_fpga.rtl.isa import quant

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "cocotb_tests"))
from venom_fpga.rtl.cocotb_runner import SIM_BUILD, run_cocotb  # noqa: E402

from venom_fpga.rtl import sim as rtl_sim  # noqa: E402

SIM = os.environ.get("SIM", "icarus")


def _small_model(seed: int = 1) -> FixedModel:
    return FixedModel((SMALL, random_tensors(SMALL, seed)))


def _codes(fm: FixedModel, n: int, length: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    iq = rng.standard_normal((n, length, 2)) * 3.0
    iq[0, 0] = 1e6  # a saturating input sample
    return fm.quantize_input(iq)


def test_verilator_lint_clean():
    gen = rtl_sim.generate(_small_model(), 2, "lint")
    files = [str((gen / f).resolve()) for f in (gen / "venom_top.f").read_text().split()]
    r = subprocess.run(["verilator", "--lint-only", "-Wall", "-I" + str(REPO / "rtl"), "--top-module", "venom_top",
                        *files],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("sh_min,sh_max", [(0, 127), (20, 40), (3, 100)])
def test_venom_quant_module(sh_min, sh_max):
    """Every mode against the golden quant; with a shift range (SH_MIN, SH_MAX) the shifts stay inside it, both ends
    included (the generated array gives a table's variable shift its range)."""
    rng = np.random.default_rng(sh_min)
    shifts = [s for s in (0, 1, 2, 7, 20, 40, 63, 66, 100) if sh_min <= s <= sh_max] + [sh_min, sh_max]
    rows = []
    for rnd in ROUNDING_MODES:
        for ovf in OVERFLOW_MODES:
            for signed in (0, 1):
                for _ in range(12):
                    w = int(rng.integers(2, 33 if signed else 32))  # codes live in signed 32-bit words
                    s = int(rng.choice(shifts))
                    v = int(rng.integers(-(1 << 62), 1 << 62)) >> int(rng.integers(0, 60))
                    if rng.random() < 0.3 and s > 0:  # exact half
                        v = ((v >> s) << s) | (1 << (s - 1)) if s < 62 else v
                    rows.append((v, s, w, signed, ROUNDING_MODES.index(rnd), OVERFLOW_MODES.index(ovf),
                                 quant(v, s, w, bool(signed), rnd, ovf)))
    a = np.array(rows, dtype=object)
    path = SIM_BUILD / f"venom_quant_cases_{sh_min}_{sh_max}.npz"
    path.parent.mkdir(exist_ok=True)
    np.savez(path, val=a[:, 0].astype(np.int64), rshift=a[:, 1].astype(np.int64), width=a[:, 2].astype(np.int64),
             signed=a[:, 3].astype(np.int64), rnd=a[:, 4].astype(np.int64), ovf=a[:, 5].astype(np.int64),
             expected=a[:, 6].astype(np.int64))
    run_cocotb("venom_quant", "test_venom_quant", [str(REPO / "rtl" / "venom_quant.v")],
               f"venom_quant_{sh_min}_{sh_max}", sim=SIM, parameters={"SH_MIN": sh_min, "SH_MAX": sh_max},
               test_dir="venom_quant", extra_env={"VENOM_QUANT_CASES": str(path)})


@pytest.mark.parametrize("driver", ["fast", "cocotbext"])
@pytest.mark.parametrize("idle,backpressure", [(0, 0), (1, 0), (0, 1), (1, 1)],
                         ids=["plain", "idle", "backpressure", "idle-backpressure"])
def test_top_small_stream_modes(idle, backpressure, driver):
    """Every idle x back-pressure combination, with our event-driven drivers and with cocotbext-axi's (per-cycle
    random pauses) as an independent reference of the protocol."""
    fm = _small_model(1)
    codes = _codes(fm, 3, 4, 10 + 2 * idle + backpressure)
    res = rtl_sim.run_rtl(fm, 2, codes, sim=SIM, tag="small",
                          scenario={"idle": idle, "backpressure": backpressure, "seed": 5, "driver": driver})
    assert res["stats"]["bit_exact"] == 3
    np.testing.assert_array_equal(res["outputs"], res["expected"])


@pytest.mark.parametrize("lanes", [2, 8])
def test_top_small_folding_many_windows(lanes):
    """>= 50 back-to-back windows per folding setting, random idles and back-pressure, a reset mid-window."""
    fm = _small_model(2)
    codes = _codes(fm, 50, 3, lanes)
    res = rtl_sim.run_rtl(fm, lanes, codes, sim=SIM, tag="small2",
                          scenario={"idle": 1, "backpressure": 1, "reset_mid_window": 1, "seed": lanes, "p": 0.2})
    assert res["stats"]["bit_exact"] == 50
    np.testing.assert_array_equal(res["outputs"], res["expected"])
    step = res["params"]["engine_cycles"]["step"]
    assert res["stats"]["min_cycles_between_samples"] == step + 3


SHIPPED = REPO / "weights" / "venom_synth_ptsi.safetensors"
# Icarus runs the shipped model at ~2-6k cycles/s (25-35 s a window; 50 would take ~20 min per LANES), Verilator at
# ~0.4-1M (~0.2 s a window): the full set under Verilator, two windows (a full-scale one, a synthetic one) under Icarus.
SHIPPED_SIMS = {"verilator": slice(None), "icarus": slice(2, 4)}


@pytest.fixture(scope="module")
def shipped_windows(tmp_path_factory):
    """(checkpoint, float windows, mask of the real ones): 3 full-scale windows (every sample at the input limits: the
    datapath saturates), then 50 real L=126 windows of a small fixed-seed synthetic PtSi data set (10 per line)."""
    ckpt = load_checkpoint(str(SHIPPED))
    data = synth.write_dataset("ptsi", 10, seed=2026, out_dir=tmp_path_factory.mktemp("rtl") / "ptsi", progress=False)
    iq = dataset.make_windows_from_meta(dataset.load_raw(data), ckpt.meta).iq
    fmt = FixedModel(ckpt).fmt["input"]
    hi, lo = (float(fmt.to_float(np.array([c]))[0]) for c in (fmt.max_code, fmt.min_code))
    shape = iq.shape[1:]
    full_scale = [np.full(shape, hi), np.full(shape, lo),
                  np.where(np.random.default_rng(0).random(shape) < 0.5, hi, lo)]
    return ckpt, np.concatenate([np.stack(full_scale), iq]), np.arange(len(iq) + 3) >= 3


@pytest.mark.parametrize("lanes", [4, 8])
@pytest.mark.parametrize("sim", sorted(SHIPPED_SIMS))
def test_top_shipped_windows(shipped_windows, sim, lanes):
    """The shipped checkpoint, back-to-back windows with random TVALID gaps, TREADY back-pressure and a reset in the
    middle of a window: every window bit-exact against FixedModel.run_codes, the real (synthetic) ones within 1 meV
    of the float model; LANES=4 meets the real-time budget of one MKIDGen3 channel (<= 1,024 cycles per sample)."""
    ckpt, iq, real = shipped_windows
    iq, real = iq[SHIPPED_SIMS[sim]], real[SHIPPED_SIMS[sim]]
    fm = FixedModel(ckpt)
    codes = fm.quantize_input(iq)
    res = rtl_sim.run_rtl(fm, lanes, codes, sim=sim, tag="ptsi",
                          scenario={"idle": 1, "backpressure": 1, "reset_mid_window": 1, "seed": lanes, "p": 0.2})
    np.testing.assert_array_equal(res["outputs"], res["expected"])
    assert res["stats"]["bit_exact"] == len(iq)
    assert rtl_sim.max_energy_error_mev(ckpt, fm, iq[real], res["outputs"][real, 0]) <= 1.0
    if lanes == 4:
        assert res["stats"]["min_cycles_between_samples"] <= 1024


def test_venom_lut_unit_module():
    """Every table use of a SMALL model through venom_lut_unit, against Lut.evaluate."""
    from venom_fpga.rtl.isa import compile_model, lut_fields

    fm = _small_model(3)
    prog = compile_model(fm, 2)
    gen = rtl_sim.generate(fm, 2, "lutunit")
    rng = np.random.default_rng(1)
    rows: dict[str, list] = {k: [] for k in ("name", "x", "kind", "tbase", "lo", "hi", "s", "f_in", "nmax",
                                             "sh_relu", "sh_v", "rshift", "width", "signed", "rnd", "ovf",
                                             "expected")}
    bases = {}
    for it in prog.instrs:
        if it.op == "lut":
            bases[it.name] = (it.lut, it.lut_base)
    for name, (lut, base) in bases.items():
        fmt = lut.in_fmt
        xs = np.concatenate([rng.integers(fmt.min_code, fmt.max_code + 1, 40),
                             [fmt.min_code, fmt.max_code, 0, 1, -1, lut.lo_code, lut.hi_code - 1, lut.hi_code]])
        xs = np.clip(xs, fmt.min_code, fmt.max_code)
        if lut.kind == "uniform":
            xs = np.clip(xs, lut.lo_code, lut.hi_code - 1)
        exp = lut.evaluate(xs)
        lf = lut_fields(lut)
        for x, e in zip(xs, exp):
            rows["name"].append(name)
            rows["x"].append(int(x))
            rows["tbase"].append(base)
            for k in ("kind", "lo", "hi", "s", "f_in", "nmax", "sh_relu", "sh_v", "rshift"):
                rows[k].append(lf[k])
            o = lut.out_fmt
            rows["width"].append(o.width)
            rows["signed"].append(int(o.signed))
            rows["rnd"].append(o.rounding)
            rows["ovf"].append(o.overflow)
            rows["expected"].append(int(e))
    path = gen / "lut_cases.npz"
    np.savez(path, **{k: np.array(v) for k, v in rows.items()})
    p = json.loads((gen / "params.json").read_text())["params"]
    run_cocotb("venom_lut_unit", "test_venom_lut_unit",
               [str(REPO / "rtl" / "venom_rom.v"), str(REPO / "rtl" / "venom_lut_unit.v")], f"lut_unit-{gen.name}",
               sim=SIM, test_dir="venom_lut_unit",
               parameters={"DW": p["DW"], "ACC_W": p["ACC_W"], "SH_W": p["SH_W"], "TW": p["TW"],
                           "DEPTH": p["LUT_DEPTH"], "R_W": p["LUT_R_W"], "INIT_FILE": f'"{gen / "lut.mem"}"'},
               extra_env={"VENOM_LUT_CASES": str(path)})


def test_rtl_backend_matches_fixed():
    from venom_fpga.predict import BACKENDS

    """The predict-style `rtl` backend returns the dequantised (mu, log_var) of the fixed backend, bit for bit."""
    ckpt = load_checkpoint(str(REPO / "weights" / "venom_synth_ptsi.safetensors"))
    fm = FixedModel(ckpt)
    iq = np.random.default_rng(9).standard_normal((2, 3, 2))
    got = BACKENDS["rtl"](ckpt, iq, lanes=8, sim=SIM)
    np.testing.assert_array_equal(got, fm.predict_raw(iq))
