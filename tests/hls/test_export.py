# SPDX-License-Identifier: BSD-3-Clause
"""venom-fpga export: the generated Vitis-HLS C++ is bit-exact with the fixed-point golden model (g++ C simulation).

Two models are exported and compiled once per session (cached by content in pytest's cache directory, so later
sessions reuse the libraries): a random checkpoint of the published dimensions with its default precision config,
and one of SMALL dimensions (two layers, d_conv 3) with every signal in a different rounding and overflow mode.
The two g++ builds run in parallel; the SMALL library is built with -Wall (its output is checked for warnings
from our files) and the test bench executable is linked against it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from model_zoo import PUBLISHED, SMALL, random_tensors
from safetensors.numpy import save_file

from venom_fpga.hls import cxx
from venom_fpga.hls import export as ex
from venom_fpga.paths import REPO_ROOT
from venom_fpga.model.checkpoint import load_checkpoint
from venom_fpga.fixed.precision import PrecisionConfig, default_precision, probe_windows, save_precision, signal_names
from venom_fpga.fixed.qformat import OVERFLOW_MODES, ROUNDING_MODES, QFormat

WINDOW = 64  # length of the test windows (the golden file of each export has the checkpoint's own length)
PUBLISHED_DIMS_LITERALS = {"16", "32", "8", "4"}  # d_model = d_inner, d_head_hidden, d_state, d_conv



def mixed_modes(cfg: PrecisionConfig) -> PrecisionConfig:
    """The same formats with every signal in another rounding and overflow mode (all modes used), and a 12-bit
    input (codes in the low bits of the 16-bit I and Q fields)."""
    signals = {"input": QFormat(12, 4)}
    for k, name in enumerate(signal_names(cfg.dims)):
        signals[name] = dataclasses.replace(signals.get(name, cfg.signals[name]), rounding=ROUNDING_MODES[k % len(ROUNDING_MODES)],
                                            overflow=OVERFLOW_MODES[(k // 2) % len(OVERFLOW_MODES)])
    return PrecisionConfig(cfg.dims, signals, cfg.weights, cfg.luts, cfg.why, cfg.notes, cfg.max_window_length,
                           source="memory")


class Built:
    def __init__(self, name, ckpt, precision, lib, tb_exe=None, tb_warnings=None):
        self.name, self.ckpt, self.precision, self.lib = name, ckpt, precision, lib
        self.tb_exe, self.tb_warnings = tb_exe, tb_warnings
        self.inp = ex.prepare(ckpt, precision)


def _gxx(out: Path, sources: list[Path], flags: list[str], key_files: list[Path]) -> tuple[str, str]:
    """g++ with -Wall into ``out`` unless a build of the same sources, headers and flags is cached there; returns
    the compiler's output (its warnings), kept beside the build."""
    h = hashlib.sha256(" ".join(flags).encode())
    for f in [*sources, *key_files]:
        h.update(f.name.encode() + f.read_bytes())
    target = out.with_name(f"{out.stem}-{h.hexdigest()[:16]}{out.suffix}")
    log = target.with_name(target.name + ".log")
    if not (target.is_file() and log.is_file()):
        tmp = target.with_name(".tmp-" + target.name)
        proc = subprocess.run(["g++", *flags, *map(str, sources), "-o", str(tmp)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[-3000:]
        log.write_text(proc.stderr)
        tmp.replace(target)
    return str(target), log.read_text()


def _small_builds(export_dir: Path, cache: Path) -> tuple[Path, Path, str]:
    """The SMALL model's C-simulation library and test bench (linked against it), both built with -Wall, so
    their warnings can be checked: (library, test bench, compiler output)."""
    include = [f"-I{export_dir}", f"-I{ex.KERNEL_INCLUDE}", f"-I{cxx.ap_types_include_dir()}", "-DVENOM_CSIM_STANDIN"]
    headers = sorted(export_dir.glob("*.h")) + sorted(ex.KERNEL_INCLUDE.rglob("*.h"))
    so, log_so = _gxx(cache / "small_csim.so", [export_dir / "venom.cpp", export_dir / "venom_csim.cpp"],
                      ["-std=c++14", "-Wall", "-O2", "-shared", "-fPIC", *include], headers)
    tb, log_tb = _gxx(cache / "small_tb", [export_dir / "tb_venom.cpp", Path(so)],
                      ["-std=c++14", "-Wall", "-O1", *include, f"-Wl,-rpath,{Path(so).parent}"], headers)
    return Path(so), Path(tb), log_so + log_tb


@pytest.fixture(scope="session")
def built(request):
    cache = Path(request.config.cache.mkdir("venom_hls"))
    ckpts = {}
    for name, dims, seed in (("published", PUBLISHED, 11), ("small", SMALL, 12)):
        path = cache / f"{name}.safetensors"
        save_file({k: v.astype(np.float32) for k, v in random_tensors(dims, seed).items()}, str(path))
        ckpts[name] = load_checkpoint(path)
    precisions = {"published": None, "small": mixed_modes(default_precision(ckpts["small"]))}
    exports = {n: ex.csim_export(ckpts[n], precisions[n], cache=cache / "csim") for n in ckpts}  # sequential
    with ThreadPoolExecutor(max_workers=2) as pool:  # the two g++ builds in parallel
        published = pool.submit(ex.csim_library, exports["published"], cache / "csim" / "lib")
        small = pool.submit(_small_builds, exports["small"], cache)
        out = {"published": Built("published", ckpts["published"], None, published.result())}
        so, tb, warnings = small.result()
    lib = ex.CsimLibrary(so)
    lib.export_dir = exports["small"]
    out["small"] = Built("small", ckpts["small"], precisions["small"], lib, tb, warnings)
    return out


def make_windows(inp, n_probe: int = 150) -> np.ndarray:
    """>= 200 windows of input codes: pulses on noise (some far beyond the input range) and the extremes."""
    fmt = inp.precision.signals["input"]
    probe = inp.model.quantize_input(probe_windows(WINDOW, n_probe, amplitude=25.0, seed=3))
    return np.concatenate([probe] + [ex.extreme_windows(fmt, WINDOW, seed=s) for s in range(4)])


@pytest.mark.parametrize("name", ["published", "small"])
def test_csim_bit_exact_with_fixed_model(built, name):
    b = built[name]
    x = make_windows(b.inp)
    assert x.shape[0] >= 200
    want, sat = b.inp.model.run_codes(x)
    got = b.lib.run_codes(x)
    bad = np.flatnonzero((got != want).any(axis=1))
    assert bad.size == 0, f"{bad.size} of {len(x)} windows differ; first {bad[0]}: csim {got[bad[0]]} fixed {want[bad[0]]}"
    assert sat.total_saturated > 0  # the extremes do drive signals into their overflow modes
    # venom_step / venom_head directly: the backbone features at every step and the outputs
    feats, out = b.lib.features(x[::7])
    assert np.array_equal(out, want[::7])
    state = b.inp.model.init_state(feats.shape[0])
    for t in range(WINDOW):
        assert np.array_equal(b.inp.model.step(x[::7, t], state), feats[:, t]), f"features differ at t = {t}"


def test_golden_vectors_pass_the_test_bench_and_a_wrong_code_fails(built, tmp_path):
    b = built["small"]
    golden = b.lib.export_dir / ex.GOLDEN
    ok = subprocess.run([str(b.tb_exe), str(golden)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert re.search(r"tb_venom: \d+ windows of \d+ samples, 0 mismatches", ok.stdout)
    lines = golden.read_text().splitlines()
    n, length = map(int, next(line for line in lines if not line.startswith("#")).split())
    assert n >= 20 and length == ex.DEFAULT_WINDOW_LENGTH
    first_expected = sum(line.startswith("#") for line in lines) + 1 + length
    mu, lv = map(int, lines[first_expected].split())
    lines[first_expected] = f"{mu + 1} {lv}"
    bad = tmp_path / "golden_bad.txt"
    bad.write_text("\n".join(lines) + "\n")
    fail = subprocess.run([str(b.tb_exe), str(bad)], capture_output=True, text=True, timeout=120)
    assert fail.returncode == 1
    assert "MISMATCH window 0" in fail.stdout and "1 mismatches" in fail.stdout
    missing = subprocess.run([str(b.tb_exe), str(tmp_path / "none.txt")], capture_output=True, text=True)
    assert missing.returncode == 1


def test_gxx_wall_gives_no_warnings_from_our_files(built):
    warnings = re.findall(r"^(\S+?):\d+:\d+: warning: (.*)$", built["small"].tb_warnings, flags=re.M)
    ours = [(path, msg) for path, msg in warnings if "ap_types" not in path]
    assert not ours, ours[:5]


def test_generated_files_say_so_and_exports_are_deterministic(built, tmp_path):
    b = built["small"]
    ckpt_sha = hashlib.sha256(Path(b.ckpt.path).read_bytes()).hexdigest()[:16]
    first = ex.export(b.ckpt, b.precision, out=tmp_path / "a")
    files = sorted(p for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert {str(p.relative_to(tmp_path / "a")) for p in files} == set(first.files)
    for p in files:
        line = p.read_text().split("\n", 1)[0]
        assert re.fullmatch(r"(//|#) GENERATED by venom-fpga export from small\.safetensors \(sha256 [0-9a-f]{16}\), "
                            r".+ \(sha256 [0-9a-f]{16}\) -- DO NOT EDIT", line), (p.name, line)
        assert ckpt_sha in line
    snapshot = {p.name: p.read_bytes() for p in files}
    again = ex.export(b.ckpt, b.precision, out=tmp_path / "a")  # replaces the previous export
    assert again.out_dir == tmp_path / "a"
    assert {p.name: p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()} == snapshot
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging directory left behind
    # a precision file is named, with its hash
    cfg_path = save_precision(b.precision, tmp_path / "small.precision.json")
    third = ex.export(b.ckpt.path, cfg_path, out=tmp_path / "b", reuse_factor=4)
    assert "small.precision.json (sha256 " + hashlib.sha256(cfg_path.read_bytes()).hexdigest()[:16] in third.header
    assert "II=4" in (tmp_path / "b" / "venom.cpp").read_text()


def test_committed_project_of_the_shipped_weights_is_fresh(tmp_path):
    """hls/generated/ holds the export of the default weights; it must be what the exporter writes now."""
    shipped = REPO_ROOT / "weights" / "venom_synth_ptsi.safetensors"
    ex.export(shipped, out=tmp_path / "ptsi")
    committed = REPO_ROOT / "hls" / "generated" / "venom_synth_ptsi"
    fresh = sorted(p.relative_to(tmp_path / "ptsi") for p in (tmp_path / "ptsi").rglob("*") if p.is_file())
    assert fresh == sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())

    def content(path: Path) -> bytes:
        # the kernel include path is relative to where the project sits: the one location-dependent line
        return re.sub(rb"-I\$prj_dir/\S*include", b"-I<kernels>", path.read_bytes())

    for rel in fresh:
        assert content(tmp_path / "ptsi" / rel) == content(committed / rel), f"stale: {rel} (make export)"
    tcl = (tmp_path / "ptsi" / "build_prj.tcl").read_text()
    assert "set_part xczu48dr-ffvg1517-2-e" in tcl and "create_clock -period 1.953" in tcl
    assert "set_top venom_top" in tcl and "add_files venom.cpp" in tcl and "add_files -tb tb_venom.cpp" in tcl


def _code_only(text: str) -> str:
    """C++/Jinja text without comments and string literals."""
    text = re.sub(r"\{#.*?#\}", " ", text, flags=re.S)
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def test_no_published_dimension_is_a_literal_in_kernels_or_templates():
    """The kernels and templates take every dimension from the config (d_model 16, d_state 8, d_conv 4,
    d_head_hidden 32 never appear as numbers in code; n_layers = dt_rank = 1 cannot be told from other ones)."""
    paths = sorted(ex.KERNEL_INCLUDE.rglob("*.h")) + sorted(ex.TEMPLATE_DIR.glob("*.j2"))
    assert len(paths) >= 15
    found = []
    for p in paths:
        text = p.read_text()
        if p.name.endswith(".tcl.j2"):
            text = re.sub(r"(?m)^\s*#[^\n]*", " ", text)
        code = _code_only(text)
        for m in re.finditer(r"(?<![\w.])(\d+)(?![\w.])", code):
            if m.group(1) in PUBLISHED_DIMS_LITERALS:
                found.append(f"{p.name}: ...{code[max(0, m.start() - 30) : m.end() + 10]!r}")
    assert not found, found


def test_kernels_are_header_only_labelled_and_in_namespace():
    for p in sorted((ex.KERNEL_INCLUDE / "venom").glob("*.h")):
        text = p.read_text()
        guard = "VENOM_" + p.stem.upper() + "_H_"
        assert f"#ifndef {guard}" in text and f"#define {guard}" in text, p.name
        lines = [line.strip() for line in _code_only(text).splitlines() if line.strip()]
        for k, line in enumerate(lines):
            if line.startswith("for ("):
                assert re.fullmatch(r"\w+:", lines[k - 1]), f"{p.name}: unlabelled loop {line!r}"
        if p.name != "csim_axis.h":
            assert "namespace venom {" in text, p.name


def test_csim_backend_matches_fixed_backend(built, monkeypatch):
    from venom_fpga.predict import predict

    b = built["published"]
    monkeypatch.setenv("VENOM_FPGA_BUILD", str(Path(b.lib.path).parents[2]))  # the session's csim cache
    iq = probe_windows(40, 24, amplitude=12.0, seed=5)
    with pytest.warns(UserWarning):  # the default precision config is announced
        fixed = predict(b.ckpt, iq, backend="fixed")
    with pytest.warns(UserWarning):
        csim = predict(b.ckpt, iq, backend="csim")
    assert np.array_equal(fixed, csim)


def test_csim_command_writes_report_and_exit_status(built, tmp_path, monkeypatch):
    from venom_fpga.cli import main

    b = built["published"]
    monkeypatch.setenv("VENOM_FPGA_BUILD", str(Path(b.lib.path).parents[2]))
    report = tmp_path / "reports" / "csim.json"
    rc = main(["csim", "--weights", str(b.ckpt.path), "--probe", "20", "--extremes", "30", "--report", str(report)])
    assert rc == 0
    data = json.loads(report.read_text())
    assert data["windows"] == 50 and data["mismatches"] == 0 and data["max_abs_diff_lsb"] == 0
    assert set(data) >= {"windows", "mismatches", "max_abs_diff_lsb", "weights", "precision", "seconds"}
    assert main(["csim", "--weights", str(tmp_path / "nope.safetensors"), "--report", str(report)]) == 2
    # a wrong code is found, reported in hex, and fails the run
    run_codes = ex.CsimLibrary.run_codes

    def off_by_one(self, codes):
        out = run_codes(self, codes)
        out[3, 0] += 1
        return out

    monkeypatch.setattr(ex.CsimLibrary, "run_codes", off_by_one)
    assert main(["csim", "--weights", str(b.ckpt.path), "--probe", "5", "--extremes", "0", "--report", str(report)]) == 1
    data = json.loads(report.read_text())
    assert data["mismatches"] == 1 and data["max_abs_diff_lsb"] == 1
    assert data["first_mismatches"][0]["window"] == 3 and data["first_mismatches"][0]["mu_csim"].startswith(("0x", "-0x"))


def test_cli_export_and_one_line_errors(built, tmp_path, capsys):
    from venom_fpga.cli import main

    b = built["small"]
    assert main(["export", "--weights", str(b.ckpt.path), "--out", str(tmp_path / "prj")]) == 0
    assert "exported" in capsys.readouterr().out and (tmp_path / "prj" / "venom.cpp").is_file()
    wrong_dims = save_precision(default_precision(built["published"].ckpt), tmp_path / "published.precision.json")
    (tmp_path / "user_dir").mkdir()
    (tmp_path / "user_dir" / "notes.txt").write_text("mine")
    (tmp_path / "a_file").write_text("x")
    cases = [
        ["--precision", str(tmp_path / "missing.json")],
        ["--precision", str(wrong_dims)],
        ["--out", str(tmp_path / "user_dir")],
        ["--out", str(tmp_path / "a_file")],
        ["--reuse-factor", "0"],
    ]
    for extra in cases:
        rc = main(["export", "--weights", str(b.ckpt.path), *extra])
        err = capsys.readouterr().err
        assert rc == 2, extra
        assert err.count("\n") == 1 and err.startswith("venom-fpga: error: "), (extra, err)
    assert (tmp_path / "user_dir" / "notes.txt").read_text() == "mine"  # never replaced
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    rc = main(["export", "--weights", str(b.ckpt.path), "--precision", str(bad)])
    assert rc == 2 and capsys.readouterr().err.count("\n") == 1


def test_pack_and_unpack_helpers():
    codes = np.array([[[-32768, 32767], [-1, 0]]])
    words = ex.pack_iq(codes)
    assert words.tolist() == [[0x7FFF8000, 0x0000FFFF]]
    rec = np.array([(np.uint64(0xFFFFFFFE) << np.uint64(32)) | np.uint64(5)], dtype=np.uint64)
    assert ex.unpack_record(rec).tolist() == [[5, -2]]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
