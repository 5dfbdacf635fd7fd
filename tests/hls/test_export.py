# SPDX-License-Identifier: BSD-3-Clause
"""venom-fpga export: the generated Vitis-HLS C++ is bit-exact with the fixed-point golden model (g++ C simulation).

Two models are exported and compiled once per session (cached by content in pytest's cache directory, so later
sessions reuse the libraries): a random checkpoint of the published dimensions with its default precision config,
and one of SMALL dimensions (two layers, d_conv 3) with the LayerNorm fold (layer 0 folded, layer 1 not) and every
signal in a different rounding and overflow mode.
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
from venom_fpga.hls.array import ArraySpec
from venom_fpga.paths import REPO_ROOT
from venom_fpga.model.checkpoint import load_checkpoint
from venom_fpga.fixed.precision import (PrecisionConfig, default_precision, fold_layernorm, probe_windows,
                                        save_precision)
from venom_fpga.fixed.qformat import OVERFLOW_MODES, ROUNDING_MODES, QFormat

WINDOW = 64  # length of the test windows (the golden file of each export has the checkpoint's own length)
# the test arrays: 6 slots on 8 channels, a token every 2 clocks, a head start every 8, queue 2, FIFO 3, 16-clock
# periods, windows of WINDOW samples (the random checkpoints name no window length)
SPEC = ArraySpec(slots=6, channels=8, length=WINDOW, fold=2, head_interval=8, head_queue=2,
                 record_fifo=3, period=16)
PUBLISHED_DIMS_LITERALS = {"16", "32", "8", "4"}  # d_model = d_inner, d_head_hidden, d_state, d_conv



def mixed_modes(cfg: PrecisionConfig) -> PrecisionConfig:
    """The same formats with every signal in another rounding and overflow mode (all modes used), and a 12-bit
    input (codes in the low bits of the 16-bit I and Q fields)."""
    signals = {"input": QFormat(12, 4)}
    for k, name in enumerate(cfg.signal_names()):
        signals[name] = dataclasses.replace(signals.get(name, cfg.signals[name]), rounding=ROUNDING_MODES[k % len(ROUNDING_MODES)],
                                            overflow=OVERFLOW_MODES[(k // 2) % len(OVERFLOW_MODES)])
    return PrecisionConfig(cfg.dims, signals, cfg.weights, cfg.luts, cfg.why, cfg.notes, cfg.max_window_length,
                           fold_layernorm=cfg.fold_layernorm, source="memory")


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
                      ["-std=c++14", "-Wall", "-Wextra", "-O2", "-shared", "-fPIC", "-fno-gnu-unique", *include], headers)
    tb, log_tb = _gxx(cache / "small_tb", [export_dir / "tb_venom.cpp", export_dir / "venom.cpp"],
                      ["-std=c++14", "-Wall", "-Wextra", "-O1", *include], headers)
    return Path(so), Path(tb), log_so + log_tb


@pytest.fixture(scope="session")
def built(request):
    cache = Path(request.config.cache.mkdir("venom_hls"))
    ckpts = {}
    for name, dims, seed in (("published", PUBLISHED, 11), ("small", SMALL, 12)):
        path = cache / f"{name}.safetensors"
        # a 1 MHz model rate (the planner's period of 512 clocks); no window length: the array sets it
        save_file({k: v.astype(np.float32) for k, v in random_tensors(dims, seed).items()}, str(path),
                  metadata={"raw_sample_rate_hz": "2000000.0", "decimation": "2"})
        ckpts[name] = load_checkpoint(path)
    precisions = {"published": None,
                  "small": mixed_modes(fold_layernorm(default_precision(ckpts["small"]), ckpts["small"]))}
    exports = {n: ex.csim_export(ckpts[n], precisions[n], array=SPEC, cache=cache / "csim") for n in ckpts}
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
    assert n >= 20 and length == SPEC.length  # the array's window length
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
    first = ex.export(b.ckpt, b.precision, out=tmp_path / "a", array=SPEC)
    files = sorted(p for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert {str(p.relative_to(tmp_path / "a")) for p in files} == set(first.files)
    for p in files:
        line = p.read_text().split("\n", 1)[0]
        assert re.fullmatch(r"(//|#) GENERATED by venom-fpga export from small\.safetensors \(sha256 [0-9a-f]{16}\), "
                            r".+ \(sha256 [0-9a-f]{16}\) -- DO NOT EDIT", line), (p.name, line)
        assert ckpt_sha in line
    snapshot = {p.name: p.read_bytes() for p in files}
    again = ex.export(b.ckpt, b.precision, out=tmp_path / "a", array=SPEC)  # replaces the previous export
    assert again.out_dir == tmp_path / "a"
    assert {p.name: p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file()} == snapshot
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging directory left behind
    # a precision file is named, with its hash
    cfg_path = save_precision(b.precision, tmp_path / "small.precision.json")
    third = ex.export(b.ckpt.path, cfg_path, out=tmp_path / "b", array=dataclasses.replace(SPEC, fold=4, slots=3))
    assert "small.precision.json (sha256 " + hashlib.sha256(cfg_path.read_bytes()).hexdigest()[:16] in third.header
    params = (tmp_path / "b" / "parameters.h").read_text()
    assert "static const unsigned fold = 4;" in params and "static const unsigned slots = 3;" in params
    assert "static const unsigned reuse_factor = 4;" in params  # the step's kernels fold as the array
    assert "static const unsigned reuse_factor = 8;" in params  # the head's over its interval


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
    assert "set_top venom_array" in tcl and "add_files venom.cpp" in tcl and "add_files -tb tb_venom.cpp" in tcl


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
    small = ["--channels", "16", "--periods", "300"]
    rc = main(["csim", "--weights", str(b.ckpt.path), "--probe", "20", "--extremes", "30", "--report", str(report),
               *small])
    assert rc == 0
    data = json.loads(report.read_text())
    assert data["windows"] == 50 and data["mismatches"] == 0 and data["max_abs_diff_lsb"] == 0
    assert data["stream"]["ok"] and data["stream"]["records"] > 0 and data["array"]["channels"] == 16
    assert set(data) >= {"windows", "mismatches", "max_abs_diff_lsb", "weights", "precision", "seconds"}
    assert main(["csim", "--weights", str(tmp_path / "nope.safetensors"), "--report", str(report)]) == 2
    # a wrong code is found, reported in hex, and fails the run
    run_codes = ex.CsimLibrary.run_codes

    def off_by_one(self, codes):
        out = run_codes(self, codes)
        out[3, 0] += 1
        return out

    monkeypatch.setattr(ex.CsimLibrary, "run_codes", off_by_one)
    assert main(["csim", "--weights", str(b.ckpt.path), "--probe", "5", "--extremes", "0", "--report", str(report),
                 *small]) == 1
    data = json.loads(report.read_text())
    assert data["mismatches"] == 1 and data["max_abs_diff_lsb"] == 1
    assert data["first_mismatches"][0]["window"] == 3 and data["first_mismatches"][0]["mu_csim"].startswith(("0x", "-0x"))


def test_cli_export_and_one_line_errors(built, tmp_path, capsys):
    from venom_fpga.cli import main

    b = built["small"]
    assert main(["export", "--weights", str(b.ckpt.path), "--out", str(tmp_path / "prj"), "--slots", "2", "--fold",
                 "1", "--head-interval", "4"]) == 0
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
        ["--slots", "4"],  # without --fold and --head-interval
        ["--slots", "4", "--fold", "3", "--head-interval", "8"],  # not a power of two
        ["--slots", "4096", "--fold", "1", "--head-interval", "8"],  # more slots than a period holds
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


# ------------------------------------------------------------------------------------------------ the array
@pytest.mark.parametrize("name", ["published", "small"])
def test_array_under_token_streams_equals_the_array_model(built, name):
    """Poisson photons, bursts and a slow consumer through the C++ array clock by clock: every record (values, tag,
    clock) and every channel's drops equal the models', with drops of every kind among them."""
    from venom_fpga.rtl import array_sim
    from venom_fpga.rtl.array_model import Window

    b = built[name]
    fm, spec = b.inp.model, b.lib.spec
    assert spec == SPEC
    pool = fm.quantize_input(probe_windows(spec.length, 40, amplitude=25.0, seed=8))
    pool = np.concatenate([pool, ex.extreme_windows(b.inp.precision.signals["input"], spec.length, seed=9)])
    seg = lambda rate, seed, p=1.0: array_sim.segment(fm, spec, pool, rate, 500, spec.period, 1e-6,  # noqa: E731
                                                      seed=seed, ready_p=p)
    bursts = [Window(ch, (spec.length + 2) * k, (k * spec.channels + ch) % len(pool))
              for k in range(4) for ch in range(spec.channels)]
    segments = [seg(2_000, 1), seg(40_000, 2, 0.03), seg(40_000, 3),
                array_sim.segment_of(fm, spec, pool, bursts, spec.period, seed=4, ready_p=0.02),
                seg(40_000, 5, 0.3)]
    segments.append(seg(40_000, 6, 0.2))
    segments[-1] = array_sim.segment(fm, spec, pool, 40_000, 500, spec.period, 1e-6, seed=6, ready_p=0.2,
                                     clocks=segments[-1].clocks // 2)  # cut short: a reset with windows in flight
    rep = array_sim.compare(segments, b.lib.run_stream(segments))
    assert rep["ok"], rep["first_difference"]
    assert rep["bit_exact"] == rep["records"] >= 60
    assert rep["slot_drops"] > 0 and rep["head_queue_drops"] > 0 and rep["fifo_drops"] > 0
    for g in segments[:5]:  # windows in = records out + counted drops
        assert len(g.stream.windows) == len(g.result.records) + g.result.dropped()
    # the comparison can fail: one record's value, one clock, one drop count
    obs = b.lib.run_stream(segments[:1])
    for key, k in (("s0_mu", 0), ("s0_clock", 1)):
        wrong = {**obs, key: obs[key].copy()}
        wrong[key][k] += 1
        assert not array_sim.compare(segments[:1], wrong)["ok"]
    wrong = {**obs, "drops": obs["drops"] + np.eye(spec.channels, dtype=np.int64)[3]}
    assert not array_sim.compare(segments[:1], wrong)["ok"]


def _vitis_ports(export_dir: Path) -> dict[str, tuple[str, int]]:
    """The ports Vitis HLS makes of venom_array (generated sources): axis streams -> <name>_TDATA/TVALID/TREADY
    (TDATA of the stream's ap_uint width), ap_none scalars -> <name>, plus ap_clk and ap_rst_n (config_rtl
    -reset_level low in build_prj.tcl)."""
    cpp, header = (export_dir / "venom.cpp").read_text(), (export_dir / "venom.h").read_text()
    params = (export_dir / "parameters.h").read_text()
    const = lambda n: int(re.search(rf"struct config_array .*?static const \w+ {n} = (\d+);", params,  # noqa: E731
                                    flags=re.S).group(1))
    widths = {"venom_token_t": const("token_bits"), "venom_record_t": const("record_bits"),
              "venom_channel_t": const("tok_channel_bits"), "venom_count_t": const("count_bits")}
    sig = re.search(r"void venom_array\((.*?)\)\s*;", header, flags=re.S).group(1)
    assert "config_rtl -reset_level low" in (export_dir / "build_prj.tcl").read_text()
    ports = {"ap_clk": ("input", 1), "ap_rst_n": ("input", 1)}
    for arg in (a.strip() for a in sig.split(",")):
        m = re.fullmatch(r"(const )?(hls::stream<(\w+)>|(\w+))\s*&\s*(\w+)", arg)
        assert m, arg
        is_const, stream_t, scalar_t, name = m.group(1), m.group(3), m.group(4), m.group(5)
        mode = re.search(rf"HLS INTERFACE (\w+)(?: register)? port={name}\)", cpp).group(1)
        if stream_t:
            assert mode == "axis", name
            reads = re.search(rf"hls::task \w+\([^;]*\b{name}\b", cpp) is not None
            direction = "input" if name == "token" else "output"
            assert reads, name
            ports |= {f"{name}_TDATA": (direction, widths[stream_t]), f"{name}_TVALID": (direction, 1),
                      f"{name}_TREADY": ("output" if direction == "input" else "input", 1)}
        else:
            assert mode == "ap_none", name
            ports[name] = ("input" if is_const else "output", widths[scalar_t])
    return ports


def test_hls_top_ports_are_the_verilog_array_tops(built):
    """One cocotb test bench drives both: the Verilog array top of the same array has the same ports (names,
    directions, widths) as the C++ top's after Vitis."""
    from venom_fpga.rtl.array import _ports

    b = built["small"]
    from venom_fpga.rtl.array import stream_layouts
    token, record = stream_layouts(SPEC.length, SPEC.slots, SPEC.channels)
    verilog = {}
    for line in _ports(token.bits, record.bits, max((SPEC.channels - 1).bit_length(), 1)):
        m = re.match(r"\s*(input|output)\s+(?:wire|reg)\s+(?:\[(\d+):0\]\s+)?(\w+)", line)
        verilog[m.group(3)] = (m.group(1), int(m.group(2) or 0) + 1)
    assert _vitis_ports(b.lib.export_dir) == verilog
    # and the cocotb array test bench touches only those
    tb = (REPO_ROOT / "cocotb_tests" / "venom_array" / "test_venom_array.py").read_text()
    assert set(re.findall(r"dut\.(\w+)", tb)) <= set(verilog)


def test_every_state_array_has_its_storage_and_dependence_pragma():
    """The array kernels keep per-slot and per-channel state in static arrays: each is bound to a memory and says
    why its read-modify-write closes at the loop's II."""
    text = _code_only((ex.KERNEL_INCLUDE / "venom" / "array.h").read_text())
    statics = re.findall(r"static\s+[\w:<>, ]+?\s+(\w+)\[[^\]]+\];", text)
    assert set(statics) >= {"slot_state", "by_queue", "by_fifo"}
    for name in statics:
        assert re.search(rf"BIND_STORAGE variable={name} type=\w+ impl=\w+", text), name
        assert re.search(rf"DEPENDENCE variable={name} inter RAW true distance=[\w:]+", text), name
    assert "distance=CFG::slot_distance" in text and "PIPELINE II=CFG::fold" in text
    assert "PIPELINE II=CFG::head_interval" in text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
