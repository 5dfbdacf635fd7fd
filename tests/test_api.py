# SPDX-License-Identifier: BSD-3-Clause
"""The Python API (``import venom_fpga as vf``): the README's example runs, and mistakes read as the CLI's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from model_zoo import SMALL

import venom_fpga as vf
from venom_fpga import cli
from venom_fpga.fixed.precision import probe_windows
from venom_fpga.paths import REPO_ROOT
from venom_fpga.predict import predict

WEIGHTS = REPO_ROOT / "weights" / "venom_synth_ptsi.safetensors"
PRECISION = WEIGHTS.with_name(WEIGHTS.stem + ".precision.json")
MEV_BUDGET = 1.0  # DESIGN.md §5: fixed vs float, worst case


def _python(code: str, tmp_path) -> subprocess.CompletedProcess:
    """``python -c code`` from the repository root (as the README says), writing only under ``tmp_path``."""
    env = dict(os.environ, VENOM_FPGA_BUILD=str(tmp_path / "build"), TMPDIR=str(tmp_path))
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def readme_example() -> str:
    """The first ```python block of the README's "Python API" section."""
    text = (REPO_ROOT / "README.md").read_text()
    assert "\n## Python API\n" in text, "README.md has no '## Python API' section"
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"^```python\n(.*?)^```", section, re.S | re.M)
    assert block, "README.md: no ```python block in the Python API section"
    return block.group(1)


def test_readme_example_runs(tmp_path):
    code = readme_example()
    assert "import venom_fpga as vf" in code
    res = _python(code, tmp_path)
    assert res.returncode == 0, res.stderr[-4000:]
    # what it prints is what it claims: the fixed model within the meV budget, HLS and RTL written
    d_mev = re.search(r"fixed vs float max ([0-9.]+) meV", res.stdout)
    assert d_mev, res.stdout
    assert float(d_mev.group(1)) < MEV_BUDGET
    made = re.search(r"HLS project: (\d+) files; RTL at 4 lanes: (\d+) cycles per sample", res.stdout)
    assert made and int(made.group(1)) > 0 and int(made.group(2)) > 0, res.stdout
    assert not (tmp_path / "build").exists()  # the example writes only into its temporary directory


def test_import_loads_no_heavy_module(tmp_path):
    res = _python("import sys, venom_fpga\n"
                  "print([m for m in ('torch', 'scipy', 'jinja2', 'matplotlib') if m in sys.modules])", tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"


# ------------------------------------------------------------------------------------------------ errors
def cli_error(argv: list[str], capsys) -> str:
    """The CLI's one-line error for ``argv``, without its ``venom-fpga: error: `` prefix."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("venom-fpga: error: ") and err.count("\n") == 1, err
    return err.removeprefix("venom-fpga: error: ").rstrip("\n")


@pytest.mark.parametrize("content", [None, b"not a checkpoint at all"], ids=["missing", "garbage"])
def test_bad_checkpoint_reads_as_the_cli(tmp_path, capsys, content):
    path = tmp_path / "model.safetensors"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(vf.CheckpointError) as exc:
        vf.load(path)
    assert str(exc.value) == cli_error(["inspect", str(path)], capsys)


def _predict_argv(weights, iq: np.ndarray, tmp_path, *extra: str) -> list[str]:
    np.save(tmp_path / "iq.npy", iq)
    return ["predict", "--weights", str(weights), "--iq", str(tmp_path / "iq.npy"), "--out", str(tmp_path / "out.npy"),
            "--quiet", *extra]


def test_missing_precision_fails_at_load_as_in_the_cli(tmp_path, capsys):
    missing = tmp_path / "nope.precision.json"
    with pytest.raises(vf.PrecisionError) as exc:
        vf.load(WEIGHTS, precision=missing)
    iq = probe_windows(vf.load(WEIGHTS).meta.window_length, n=2)
    argv = _predict_argv(WEIGHTS, iq, tmp_path, "--backend", "fixed", "--precision", str(missing))
    assert str(exc.value) == cli_error(argv, capsys)
    assert not (tmp_path / "out.npy").exists()


def test_precision_of_other_dims_fails_at_load_as_in_the_cli(tmp_path, capsys, write_checkpoint):
    small = write_checkpoint(SMALL)  # a bare checkpoint: any window length
    with pytest.raises(ValueError, match="dims") as exc:
        vf.load(small, precision=PRECISION)
    argv = _predict_argv(small, probe_windows(16, n=2), tmp_path, "--backend", "fixed", "--precision", str(PRECISION))
    assert str(exc.value) == cli_error(argv, capsys)


def test_bad_windows_read_as_the_cli(tmp_path, capsys):
    model = vf.load(WEIGHTS)
    bad = np.zeros((3, model.meta.window_length + 1, 2))
    with pytest.raises(ValueError) as exc:
        model.predict(bad)
    assert str(exc.value) == cli_error(_predict_argv(WEIGHTS, bad, tmp_path), capsys)
    with pytest.raises(ValueError, match="unknown backend 'fast'"):
        model.predict(bad, backend="fast")


# ------------------------------------------------------------------------------------------------ precision
def test_profile_saves_a_config_that_predicts_bit_for_bit(tmp_path):
    model = vf.load(WEIGHTS)
    iq = probe_windows(model.meta.window_length, n=24)
    prof = model.profile(iq)
    assert set(prof.saturating) <= set(prof.signals)
    path = prof.save(tmp_path / "profiled.precision.json")
    from_file = vf.load(WEIGHTS, precision=path)
    assert from_file.precision.source == str(path)
    out = from_file.predict(iq, backend="fixed")
    # the API hands the model's config to the backend, and the saved file reproduces the one in memory
    with warnings.catch_warnings():  # the fixed backend notes that an in-memory profiled config was generated
        warnings.simplefilter("ignore")
        in_memory = model.with_precision(prof.precision).predict(iq, backend="fixed")
    np.testing.assert_array_equal(out, predict(model.checkpoint, iq, backend="fixed", precision=path))
    np.testing.assert_array_equal(out, in_memory)
    with warnings.catch_warnings():  # probe windows saturate the shipped config's state
        warnings.simplefilter("ignore")
        assert not np.array_equal(out, model.predict(iq, backend="fixed"))  # not the shipped config's result


# ------------------------------------------------------------------------------------------------ reports
def test_read_report_by_name_and_path(tmp_path, monkeypatch):
    monkeypatch.setenv("VENOM_FPGA_BUILD", str(tmp_path))
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "cosim.json").write_text(json.dumps({"windows": 3}))
    assert vf.read_report("cosim") == {"windows": 3}
    assert vf.read_report(tmp_path / "reports" / "cosim.json") == {"windows": 3}
    with pytest.raises(FileNotFoundError, match=r"csim\.json: no such report \(reports there: cosim\)"):
        vf.read_report("csim")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="list.json: not a JSON report"):
        vf.read_report(tmp_path / "list.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json: not a JSON report"):
        vf.read_report(tmp_path / "bad.json")
