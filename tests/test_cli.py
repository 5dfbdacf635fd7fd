# SPDX-License-Identifier: BSD-3-Clause
"""The command line: inspect, predict, the hardware steps (csim, rtl, cosim, resources, hls, vivado, summary),
one-line errors (exit status 2 for a mistake, 1 for a failed check), and the Makefile that only calls it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

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


# --- the hardware steps ------------------------------------------------------------------------------------------

HARDWARE_COMMANDS = ("export", "csim", "rtl", "cosim", "resources", "hls", "vivado", "summary", "profile")


def test_help_lists_every_step(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    commands = capsys.readouterr().out.split("COMMAND\n", 2)[-1]
    listed = {line.split()[0] for line in commands.splitlines() if re.match(r" {4}\w", line)}
    assert set(HARDWARE_COMMANDS) <= listed, listed


def test_hardware_steps_bad_inputs(write_checkpoint, tmp_path, capsys):
    path = str(write_checkpoint(SMALL, meta=Metadata(window_length=12)))
    np.save(tmp_path / "len.npy", np.zeros((3, 11, 2)))
    np.save(tmp_path / "2d.npy", np.zeros((3, 12)))
    _fails(capsys, ["csim", "--weights", path, "--iq", str(tmp_path / "absent.npy")], "absent.npy")
    _fails(capsys, ["csim", "--weights", path, "--iq", str(tmp_path / "len.npy")], "window_length 12")
    _fails(capsys, ["cosim", "--weights", path, "--iq", str(tmp_path / "2d.npy")], "(N, L, 2)")
    _fails(capsys, ["cosim", "--weights", str(tmp_path / "nope.safetensors")], "nope.safetensors")
    _fails(capsys, ["rtl", "--weights", path, "--lanes", "2", "--lanes", "4", "--out", str(tmp_path / "o")],
           "one --lanes")
    _fails(capsys, ["summary", "--reports", str(tmp_path / "no_reports")], "no_reports")
    _fails(capsys, ["profile", "--weights", path, "--iq", str(tmp_path / "len.npy"), "--out", str(tmp_path / "p.json")],
           "window_length 12")
    for argv in (["cosim", "--weights", path, "--windows", "0"], ["rtl", "--weights", path, "--lanes", "x"],
                 ["csim", "--weights", path, "--probe", "0"], ["csim", "--weights", path, "--probe", str(10**6)],
                 ["profile", "--weights", path, "--out", str(tmp_path / "p.json")]):  # neither --data nor --iq
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err  # argparse's usage errors are one line too, with where to find help
        assert re.fullmatch(rf"venom-fpga: error: {argv[0]}: .+ \(see venom-fpga {argv[0]} --help\)\n", err), err
    assert not any(tmp_path.glob("*.json"))


def test_profile_on_windows_without_preprocessing_metadata(write_checkpoint, tmp_path, capsys):
    from venom_fpga.fixed.precision import load_precision

    path = write_checkpoint(SMALL)  # bare tensors, as an upstream training script writes them
    np.save(tmp_path / "x.npy", np.random.default_rng(2).standard_normal((6, 25, 2)) * 3.0)
    out = tmp_path / "p.json"
    assert main(["profile", "--weights", str(path), "--iq", str(tmp_path / "x.npy"), "--out", str(out)]) == 0
    assert "profiled 6 windows" in capsys.readouterr().out
    assert load_precision(out).dims == SMALL


def test_csim_tiny_case_report_and_exit_status(write_checkpoint, tmp_path, capsys, monkeypatch):
    from venom_fpga.hls import export as ex

    monkeypatch.setenv("VENOM_FPGA_BUILD", str(tmp_path / "build"))  # the export and its g++ build (~10 s)
    path = str(write_checkpoint(SMALL, meta=Metadata(window_length=16)))
    report = tmp_path / "reports" / "csim.json"
    argv = ["csim", "--weights", path, "--probe", "3", "--extremes", "2", "--report", str(report), "--channels", "8",
            "--periods", "200", "--sample-rate", "1e6"]  # the metadata names no sample rate
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("csim OK: 5 windows bit-exact") and out.count("\n") == 1, out
    data = json.loads(report.read_text())
    assert (data["windows"], data["window_length"], data["mismatches"], data["mismatch"]) == (5, 16, 0, None)

    run_codes = ex.CsimLibrary.run_codes

    def off_by_one(self, codes):
        out = run_codes(self, codes)
        out[4, 0] += 1  # an extreme window
        return out

    monkeypatch.setattr(ex.CsimLibrary, "run_codes", off_by_one)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("venom-fpga: error: csim FAIL: 1 of 5 windows differ from the fixed-point model "
                          "(first: window 4, mu ") and err.count("\n") == 1, err
    assert json.loads(report.read_text())["first_mismatches"][0]["source"] == "extremes"


def _path_without(tool: str) -> str:
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / tool).exists())


@pytest.mark.parametrize("command, tool", [("hls", "vitis_hls"), ("vivado", "vivado")])
def test_vendor_steps_without_the_tool_say_so_and_exit_2(command, tool, write_checkpoint, tmp_path, monkeypatch,
                                                          capfd):
    monkeypatch.setenv("PATH", _path_without(tool))
    monkeypatch.setenv("VENOM_FPGA_BUILD", str(tmp_path / "build"))  # vivado: the tops it would synthesise
    report = tmp_path / f"{command}.json"
    weights = write_checkpoint(SMALL, meta=Metadata(window_length=12))
    lanes = ["--lanes", "2"] if command == "vivado" else []
    assert main([command, "--weights", str(weights), *lanes, "--report", str(report)]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert 2 <= len(err) <= 3 and f"{tool} is not on PATH" in err[0], err
    assert not report.exists()


def test_summary_of_reports(tmp_path, capsys):
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "csim.json").write_text(json.dumps({"windows": 70, "mismatches": 0, "extreme_windows": 64}))
    (reports / "cosim.json").write_text(json.dumps({"sim": "icarus", "settings": [
        {"lanes": 4, "bit_exact": 9, "windows": 10, "cycles_per_sample": 865,
         "max_abs_E_rtl_minus_E_float_meV": 0.0123}]}))
    assert main(["summary", "--reports", str(reports)]) == 0
    out = capsys.readouterr().out
    assert "HLS C-sim vs fixed: 70/70 windows bit-exact (incl. 64 extremes)" in out
    assert "RTL (icarus, LANES=4) vs fixed: 9/10 windows bit-exact, 865 cycles/sample" in out
    assert "run `make resources`" in out and len(out.splitlines()) == 5


def test_step_wrapper_logs_everything_and_shows_one_line(tmp_path):
    """scripts/step.sh (make demo): one line per step, the tool output in the log, the log's tail on failure."""
    step = Path(__file__).resolve().parents[1] / "scripts" / "step.sh"
    ok = subprocess.run([str(step), str(tmp_path), "first", "sh", "-c", "echo noise; echo warn >&2; echo result 42"],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stderr == ""
    assert re.fullmatch(r"first +\d+s  result 42\n", ok.stdout), ok.stdout
    assert (tmp_path / "first.log").read_text() == "noise\nwarn\nresult 42\n"
    bad = subprocess.run([str(step), str(tmp_path), "second", "sh", "-c", "seq 100; echo broken >&2; exit 3"],
                         capture_output=True, text=True)
    assert bad.returncode == 3 and bad.stdout == ""
    lines = bad.stderr.splitlines()
    assert lines[0].startswith("second    FAILED (exit 3)") and str(tmp_path / "second.log") in lines[0]
    assert [s.strip() for s in lines[1:]] == [*map(str, range(82, 101)), "broken"]


MAKE_TARGETS = ("demo", "export", "csim", "hls", "rtl", "cosim", "resources", "vivado", "summary", "test")


def test_make_targets_only_call_the_cli():
    """`make -n`: every command of every target is the CLI (directly or through scripts/step.sh), pytest for
    `test`, scripts/setup.sh, or an echo."""
    repo = Path(__file__).resolve().parents[1]
    allowed = re.compile(r"(\.venv/bin/venom-fpga |scripts/step\.sh build/logs \w+ +\.venv/bin/venom-fpga |"
                         r"\.venv/bin/python -m pytest|scripts/setup\.sh$|echo )")
    for target in MAKE_TARGETS:
        proc = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=repo, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        commands = [c for c in proc.stdout.replace("\\\n", " ").splitlines() if c.strip()]
        assert commands, target
        for command in commands:
            assert allowed.match(command), f"make {target}: {command}"


def test_rtl_step(write_checkpoint, tmp_path, capsys):
    path = str(write_checkpoint(SMALL, meta=Metadata(window_length=12)))
    out = tmp_path / "top"
    assert main(["rtl", "--weights", path, "--lanes", "2", "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert line.startswith(f"rtl LANES=2 -> {out}: ") and line.count("\n") == 1, line
    assert json.loads((out / "params.json").read_text())["params"]["IROM_DEPTH"] > 0
    assert (out / "venom_top.v").read_text().startswith("// GENERATED by venom-fpga rtl")


def test_cosim_step_icarus(write_checkpoint, tmp_path, capfd, monkeypatch):
    """Two short windows through the RTL under Icarus: the simulator's output goes to the log, the terminal gets one
    line per LANES setting and one result line; a window that differs is one error line and exit status 1."""
    from venom_fpga.rtl import cosim

    path = str(write_checkpoint(SMALL, meta=Metadata(window_length=6)))
    report, log = tmp_path / "cosim.json", tmp_path / "logs" / "sim.log"
    argv = ["cosim", "--weights", path, "--lanes", "2", "--windows", "2", "--sim", "icarus", "--report", str(report),
            "--log", str(log)]
    assert main(argv) == 0
    out, err = capfd.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("cosim LANES=2 (icarus): 2/2 bit-exact"), out
    assert lines[1] == f"cosim OK: 2 windows bit-exact at LANES 2 (icarus) -> {report}"
    assert "iverilog" in log.read_text()  # the build commands went to the log, not the terminal
    data = json.loads(report.read_text())
    assert data["ok"] and data["settings"][0]["bit_exact"] == 2 and data["window_length"] == 6

    run_rtl = cosim.run_rtl

    def one_off(*args, **kwargs):
        res = run_rtl(*args, **kwargs)
        res["outputs"][1, 0] += 1
        return res

    monkeypatch.setattr(cosim, "run_rtl", one_off)
    assert main(argv) == 1
    out, err = capfd.readouterr()
    assert err.startswith("venom-fpga: error: cosim LANES=2: 1 of 2 windows differ from the fixed-point model "
                          "(first: window 1, mu ") and err.count("\n") == 1, err
    assert not json.loads(report.read_text())["ok"]


def test_plan_writes_report_plot_and_table(tmp_path, capsys):
    from venom_fpga.cli import main

    ckpt = Path(__file__).resolve().parents[1] / "weights" / "venom_synth_ptsi.safetensors"
    out = tmp_path / "plan.json"
    assert main(["plan", "--weights", str(ckpt), "--channels", "1024", "--rate", "2000", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["chosen"]["capacity_cps"] >= 2000 and report["chosen"]["fits_budget"]
    assert out.with_suffix(".png").stat().st_size > 1000
    assert "<- chosen" in capsys.readouterr().out
    assert main(["plan", "--weights", str(ckpt), "--budget", "dsp=-1"]) == 2
    assert capsys.readouterr().err.startswith("venom-fpga: error: --budget dsp=-1")
    assert main(["plan", "--weights", str(ckpt), "--budget", "dsp=10", "--json", str(out)]) == 1  # nothing fits
