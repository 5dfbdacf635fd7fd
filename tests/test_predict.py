# SPDX-License-Identifier: BSD-3-Clause
"""predict(): the hardware backends (csim, rtl) return only what the fixed-point model computes; a window that
differs ends the prediction with one line naming it. The C simulation and the simulator are stood in for here (their
own bit-exactness tests live in tests/hls and tests/rtl): what is tested is that the check is made."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from model_zoo import SMALL

from venom_fpga.cli import main
from venom_fpga.fixed.model import FixedModel
from venom_fpga.hls import export as hls_export
from venom_fpga.model.checkpoint import load_checkpoint
from venom_fpga.model.meta import Metadata
from venom_fpga.predict import BackendMismatchError, describe_mismatch, predict
from venom_fpga.rtl import sim as rtl_sim

N, L = 5, 20


@pytest.fixture
def small(write_checkpoint):
    return load_checkpoint(write_checkpoint(SMALL, meta=Metadata(energy_scale=0.5, energy_offset=1.0)))


@pytest.fixture
def iq():
    return np.random.default_rng(3).standard_normal((N, L, 2)) * 2.0


def _fixed(ckpt, iq) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the default precision config is announced
        return predict(ckpt, iq, backend="fixed")


def _off(codes: np.ndarray, window: int | None) -> np.ndarray:
    """``codes`` with log_var one LSB off in ``window`` (None: unchanged)."""
    codes = np.array(codes)
    if window is not None:
        codes[window, 1] += 1
    return codes


class _FakeCsim:
    """Stands in for the compiled C simulation: what the models say the array puts out (records in their clocks,
    with their tags), one window's log_var off if asked."""

    def __init__(self, model: FixedModel, window: int | None):
        self.model, self.window = model, window

    def run_stream(self, segments: list) -> dict[str, np.ndarray]:
        (g,) = segments
        wins = g.stream.windows
        rows = [(r.leave, *v, r.channel, wins[r.window].start) for r, v in zip(g.result.records, g.values)]
        out = {f"s0_{k}": np.array([row[j] for row in rows], dtype=np.int64)
               for j, k in enumerate(("clock", "mu", "log_var", "channel", "time"))}
        if self.window is not None:
            k = next(i for i, r in enumerate(g.result.records) if wins[r.window].data == self.window)
            out["s0_log_var"][k] += 1
        out["drops"] = np.zeros(g.stream.n_channels, dtype=np.int64)
        out["drop_total"] = np.array(0)
        return out


def _fake_csim(monkeypatch, window: int | None) -> None:
    monkeypatch.setattr(hls_export, "csim_model", lambda ckpt, precision, **_: _FakeCsim(FixedModel(ckpt, precision),
                                                                                       window))


def _fake_rtl(monkeypatch, window: int | None, seen: dict) -> None:
    def run_rtl(fm, lanes, codes, sim=None, tag="model", expected=None, check=True, log=None, **_):
        seen.update(lanes=lanes, sim=sim, check=check)
        return {"outputs": _off(fm.run_codes(codes)[0], window), "wall_s": 0.0}

    monkeypatch.setattr(rtl_sim, "run_rtl", run_rtl)


def test_describe_mismatch():
    want = np.arange(12).reshape(6, 2)
    assert describe_mismatch(want.copy(), want) is None
    got = want.copy()
    got[4, 0] = -3
    got[5, 1] = 99
    assert describe_mismatch(got, want) == ("2 of 6 windows differ from the fixed-point model "
                                            "(first: window 4, mu -0x3 vs 0x8)")
    assert "expected" in describe_mismatch(got[:3], want)


@pytest.mark.filterwarnings("ignore:csim backend")
def test_csim_backend_returns_the_fixed_models_values(small, iq, monkeypatch):
    _fake_csim(monkeypatch, None)
    np.testing.assert_array_equal(predict(small, iq, backend="csim"), _fixed(small, iq))


@pytest.mark.filterwarnings("ignore:csim backend")
def test_csim_backend_that_differs_fails(small, iq, monkeypatch):
    _fake_csim(monkeypatch, 3)
    with pytest.raises(BackendMismatchError, match=r"^csim backend: 1 of 5 windows differ from the fixed-point model "
                                                   r"\(first: window 3, log_var "):
        predict(small, iq, backend="csim")


@pytest.mark.filterwarnings("ignore:rtl backend")
def test_rtl_backend_returns_the_fixed_models_values(small, iq, monkeypatch, tmp_path):
    seen = {}
    _fake_rtl(monkeypatch, None, seen)
    got = predict(small, iq, backend="rtl", lanes=2, sim="icarus", log=tmp_path / "sim.log")
    np.testing.assert_array_equal(got, _fixed(small, iq))
    assert seen == {"lanes": 2, "sim": "icarus", "check": False}  # the backend checks, not the testbench


@pytest.mark.filterwarnings("ignore:rtl backend")
def test_rtl_backend_that_differs_fails(small, iq, monkeypatch, tmp_path):
    _fake_rtl(monkeypatch, 0, {})
    with pytest.raises(BackendMismatchError, match=r"^rtl backend: 1 of 5 windows differ .*first: window 0, log_var"):
        predict(small, iq, backend="rtl", lanes=2, log=tmp_path / "sim.log")


@pytest.mark.filterwarnings("ignore:csim backend")
def test_cli_predict_mismatch_is_one_line_and_exit_1(small, iq, monkeypatch, tmp_path, capsys):
    _fake_csim(monkeypatch, 4)
    np.save(tmp_path / "x.npy", iq)
    out = tmp_path / "y.npy"
    assert main(["predict", "--weights", str(small.path), "--iq", str(tmp_path / "x.npy"), "--out", str(out),
                 "--backend", "csim", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("venom-fpga: error: csim backend: 1 of 5 windows differ") and err.count("\n") == 1, err
    assert not out.exists()  # nothing written for codes that are wrong
