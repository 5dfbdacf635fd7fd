"""The command line: inspect, predict, and one-line errors with exit status 2."""

import json
import subprocess
import sys

import numpy as np
import pytest
from model_zoo import SMALL

from venom_fpga.cli import main
from venom_fpga.model.meta import Metadata


def test_inspect_text_and_json(write_checkpoint, capsys):
    path = write_checkpoint()
    assert main(["inspect", str(path)]) == 0
    text = capsys.readouterr().out
    assert "parameters: 3,314" in text and "layers.0.mixer.A_log" in text and "(default)" in text
    assert main(["inspect", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_params"] == 3314
    assert report["dims"]["d_state"] == 8
    assert report["tensors"]["layers.0.mixer.conv1d.weight"] == [16, 1, 4]
    assert "energy_scale" in report["defaults_used"]


@pytest.mark.parametrize("backend", ["float", "float-recurrent"])
def test_predict(write_checkpoint, tmp_path, backend):
    path = write_checkpoint(SMALL, meta=Metadata(energy_scale=0.5, energy_offset=1.0))
    iq = np.random.default_rng(0).standard_normal((5, 30, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", iq)
    out_path = tmp_path / "y.npy"
    assert main(["predict", "--weights", str(path), "--iq", str(tmp_path / "x.npy"), "--out", str(out_path),
                 "--backend", backend, "--quiet"]) == 0
    y = np.load(out_path)
    assert y.shape == (5, 2) and y.dtype == np.float64


def test_predict_backends_agree(write_checkpoint, tmp_path):
    path = write_checkpoint()
    np.save(tmp_path / "x.npy", np.random.default_rng(1).standard_normal((4, 50, 2)))
    outs = []
    for backend in ("float", "float-recurrent"):
        main(["predict", "--weights", str(path), "--iq", str(tmp_path / "x.npy"), "--out",
              str(tmp_path / f"{backend}.npy"), "--backend", backend, "--quiet"])
        outs.append(np.load(tmp_path / f"{backend}.npy"))
    np.testing.assert_allclose(outs[0], outs[1], rtol=0, atol=1e-12)


def _fails(capsys, argv, *fragments):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("venom-fpga: error:") and err.count("\n") == 1, err
    for fragment in fragments:
        assert fragment in err, err


def test_predict_bad_inputs(write_checkpoint, tmp_path, capsys):
    path = str(write_checkpoint(meta=Metadata(window_length=40)))
    out = str(tmp_path / "y.npy")
    np.save(tmp_path / "2d.npy", np.zeros((4, 40)))
    np.save(tmp_path / "len.npy", np.zeros((4, 39, 2)))
    np.save(tmp_path / "nan.npy", np.full((2, 40, 2), np.nan))
    (tmp_path / "junk.npy").write_text("junk")
    _fails(capsys, ["predict", "--weights", path, "--iq", str(tmp_path / "2d.npy"), "--out", out], "(N, L, 2)")
    _fails(capsys, ["predict", "--weights", path, "--iq", str(tmp_path / "len.npy"), "--out", out], "window_length 40")
    _fails(capsys, ["predict", "--weights", path, "--iq", str(tmp_path / "nan.npy"), "--out", out], "NaN")
    _fails(capsys, ["predict", "--weights", path, "--iq", str(tmp_path / "junk.npy"), "--out", out], "junk.npy")
    _fails(capsys, ["predict", "--weights", path, "--iq", str(tmp_path / "absent.npy"), "--out", out], "absent.npy")
    assert not (tmp_path / "y.npy").exists()  # nothing written on failure


def test_console_script_exit_status_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    exe = [sys.executable, "-m", "venom_fpga.cli"]
    proc = subprocess.run([*exe, "inspect", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "bad.safetensors" in proc.stderr
