# SPDX-License-Identifier: BSD-3-Clause
"""Hostile inputs (issue #14): every mistake ends in exit status 2 and one line ``venom-fpga: error: ...``, no
traceback, and leaves every file as it was (inputs, existing outputs, no temporary file left behind).

The cases are generated, so that a new field or command is covered by construction: every checkpoint metadata field
(its kind read from ``Metadata``'s annotations) x every wrong JSON kind, in the safetensors header and in the
sidecar; every field of a precision config (walked from a valid config) x wrong kinds and overflowing values; every
checked key of a data set's metadata.json; every training setting; checkpoint corruptions at seeded random offsets;
bad I/Q arrays for every command that reads them; and every output-path failure for every subcommand that writes
(an existing directory where a file goes and the reverse, a path under a regular file, an empty path, one of the
command's inputs, two outputs on one file). A read-only directory is not among them: these tests run as root, whom
permissions do not stop; a path under a regular file fails the same check (an unwritable nearest directory).

Everything runs in-process (``cli.main``) on the SMALL model and a tiny data set.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from model_zoo import SMALL, random_tensors
from safetensors.numpy import save_file

from venom_fpga.cli import main
from venom_fpga.data import synth
from venom_fpga.data.dataset import DATA_FIELDS
from venom_fpga.files import Interrupted, atomic_path
from venom_fpga.fixed.precision import default_precision, save_precision
from venom_fpga.model.checkpoint import load_checkpoint, save_checkpoint
from venom_fpga.model.meta import Metadata
from venom_fpga.model.train import TrainConfig

NAN, INF = float("nan"), float("inf")
LENGTH = 12  # window length of the test checkpoint


# --------------------------------------------------------------------------------------------------- the inputs
@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, Path]:
    """Valid inputs every case starts from (one of them is then made hostile)."""
    root = tmp_path_factory.mktemp("inputs")
    tensors = random_tensors(SMALL)
    weights = save_checkpoint(root / "m.safetensors", tensors,
                              Metadata(window_length=LENGTH, energy_scale=0.5, energy_offset=1.0))
    save_file({k: v.astype(np.float32) for k, v in tensors.items()}, str(root / "bare.safetensors"))
    torch.save({k: torch.as_tensor(v) for k, v in tensors.items()}, root / "legacy.safetensors")
    np.save(root / "x.npy", np.random.default_rng(0).standard_normal((3, LENGTH, 2)))
    save_precision(default_precision(load_checkpoint(weights)), root / "p.json")
    synth.write_dataset("ptsi", 3, seed=0, out_dir=root / "data", progress=False)
    (root / "afile").write_text("a regular file\n")
    return {"root": root, "weights": weights, "bare": root / "bare.safetensors", "legacy": root / "legacy.safetensors",
            "iq": root / "x.npy", "precision": root / "p.json", "data": root / "data", "file": root / "afile"}


@pytest.fixture
def work(tmp_path, monkeypatch, env) -> Path:
    """A case's own directory (the working directory, $VENOM_FPGA_BUILD under it)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VENOM_FPGA_BUILD", str(tmp_path / "build"))
    return tmp_path


def _tree(*roots: Path) -> dict[str, str]:
    """Every file under the roots (hidden ones too: a temporary file left behind) with its content hash."""
    out = {}
    for root in roots:
        for d, dirs, files in os.walk(root):
            out[d] = "dir"
            for f in files:
                p = Path(d, f)
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "not a regular file"
    return out


def _run(argv: list) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's usage errors
        return exc.code


def fails(capsys, env: dict, work: Path, argv: list, *fragments: str) -> str:
    """Run a command that must fail: exit 2, one line on stderr, every file unchanged. Returns the line."""
    before = _tree(env["root"], work)
    code = _run(argv)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("venom-fpga: error: "), (code, err)
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert _tree(env["root"], work) == before, "a failing command changed, added or left a file"
    return lines[0]


# ------------------------------------------------------------------------------------------- wrong JSON kinds
def wrong_values(valid) -> list:
    """Values of another JSON kind than ``valid`` (or of its kind but unusable: NaN/Inf; for a count, fractional or
    beyond any count)."""
    if isinstance(valid, bool):
        return [1, "true", None, [], {}]
    if isinstance(valid, int):
        return [True, "3", 2.5, None, [3], {}, NAN, INF, 10**30, -10**30]
    if isinstance(valid, float):
        return [True, "1.0", None, [1.0], {}, NAN, INF, -INF]
    if isinstance(valid, str):
        return [1, True, None, [], {}]
    if isinstance(valid, list):
        return [1, "x", None, {}, True]
    if isinstance(valid, dict):
        return [1, "x", None, True, []]
    raise AssertionError(f"no wrong values for {valid!r}")


def _id(value) -> str:
    text = json.dumps(value) if not isinstance(value, float) or math.isfinite(value) else str(value)
    return text if len(text) < 12 else text[:9] + "..."


# Metadata fields: the kind of each, from its annotation (a new field is covered as soon as it exists).
KIND = {"float": 1.0, "int": 1, "list[float]": [1.0], "dict[str, Any]": {}}


def metadata_cases():
    for name, spec in Metadata.__dataclass_fields__.items():
        optional = spec.type.endswith("| None")
        kind = KIND[spec.type.removesuffix(" | None")]
        values = [v for v in wrong_values(kind) if not (optional and v is None)]
        if isinstance(kind, int):
            values += [-1, 1.5]  # every integer field counts something: never negative, never fractional
        if isinstance(kind, list):
            values += [[NAN], [INF], ["a"], [True], [[1.0]]]
        for where in ("sidecar", "header"):
            for value in values:
                yield pytest.param(name, where, value, id=f"{name}-{where}-{_id(value)}")


@pytest.mark.parametrize("key, where, value", list(metadata_cases()))
def test_metadata_field_of_a_wrong_kind(capsys, env, work, key, where, value):
    path = work / "m.safetensors"
    if where == "sidecar":
        shutil.copy(env["weights"], path)
        (work / "m_meta.json").write_text(json.dumps({key: value}))  # NaN/Infinity as Python's json writes them
        named = work / "m_meta.json"
    else:
        save_file({k: v.astype(np.float32) for k, v in random_tensors(SMALL).items()}, str(path),
                  metadata={key: json.dumps(value)})
        named = path
    fails(capsys, env, work, ["inspect", path, "--json"], f"{named}: metadata {key}")


# ------------------------------------------------------------------------------------------ precision configs
def _walk(node, path=()):
    """(path, valid value) of every field of a config: every key of small mappings, the first and last entry of
    name tables (signals, weights: one entry stands for all), the first element of lists."""
    yield path, node
    if isinstance(node, dict):
        keys = list(node) if len(node) <= 12 else [next(iter(node)), list(node)[-1]]
        for key in keys:
            yield from _walk(node[key], (*path, key))
    elif isinstance(node, list) and node:
        yield from _walk(node[0], (*path, 0))


def precision_cases():
    cfg = default_precision((SMALL, random_tensors(SMALL))).to_dict()
    for path, value in _walk(cfg):
        if not path:
            continue
        wrong = wrong_values(value)
        if isinstance(value, float):
            wrong += [1e308, -1e308]  # every number of a config is bounded (a table's range: 65536)
        if path[-1] in ("rounding", "overflow", "schema"):
            wrong.append("AP_NOPE")
        if path[0] == "why" and len(path) == 2:
            wrong.append("  ")  # a reason must say something
        for bad in wrong:
            yield pytest.param(path, bad, id=".".join(map(str, path)) + "=" + _id(bad))
    for where in ((), ("luts", "silu"), ("signals", "input")):
        yield pytest.param((*where, "unknown_key"), 1, id=".".join(where + ("unknown_key",)))
        yield pytest.param((*where, "-missing-"), None, id=".".join(where + ("missing",)))


def _set(cfg: dict, path: tuple, value) -> None:
    node = cfg
    for key in path[:-1]:
        node = node[key]
    if path[-1] == "-missing-":
        del node[next(iter(node))]
    else:
        node[path[-1]] = value


@pytest.mark.parametrize("path, value", list(precision_cases()))
def test_precision_field_of_a_wrong_kind(capsys, env, work, path, value):
    cfg = json.loads(env["precision"].read_text())
    _set(cfg, path, value)
    bad = work / "bad.precision.json"
    bad.write_text(json.dumps(cfg))
    fails(capsys, env, work, ["predict", "--weights", env["weights"], "--iq", env["iq"], "--out", work / "y.npy",
                              "--backend", "fixed", "--precision", bad, "--quiet"], str(bad))


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00binary", b"[1, 2]", b"{", b"[" * 100000, None],
                         ids=["empty", "binary", "list", "truncated", "deep", "pipe"])
def test_precision_and_name_map_files_that_are_not_json_objects(capsys, env, work, content):
    bad = work / "bad.json"
    if content is None:
        os.mkfifo(bad)  # reading it would block forever
    else:
        bad.write_bytes(content)
    base = ["predict", "--weights", env["weights"], "--iq", env["iq"], "--out", work / "y.npy", "--quiet"]
    fails(capsys, env, work, [*base, "--backend", "fixed", "--precision", bad], str(bad))
    fails(capsys, env, work, [*base, "--name-map", bad], str(bad))
    fails(capsys, env, work, [*base, "--backend", "fixed", "--precision", work], str(work))  # a directory
    fails(capsys, env, work, [*base, "--name-map", work], str(work))


# -------------------------------------------------------------------------------------------- data directories
def data_cases():
    valid = {"raw_rate_hz": 2e6, "tau_qp_s": 5e-5, "lines": [{"file": "0808nm.npz", "wavelength_nm": 808.0}],
             "dark_loop": {"i": [0.0, 1.0, 2.0], "q": [0.0, 1.0, 0.5]}}
    assert set(valid) == set(DATA_FIELDS), "a checked metadata.json key without hostile cases here"
    for key in DATA_FIELDS:
        for path, value in _walk(valid[key], (key,)):
            for bad in wrong_values(value) + ([[NAN]] if isinstance(value, list) and path[-1] in "iq" else []):
                if path[-1] == "raw_rate_hz" and bad is None:
                    continue  # no rate in metadata.json: a different (also refused) case
                yield pytest.param(path, bad, id=".".join(map(str, path)) + "=" + _id(bad))
    yield pytest.param((), [1, 2], id="metadata.json-is-a-list")
    yield pytest.param(("raw_rate_hz",), -2e6, id="negative-rate")


@pytest.mark.parametrize("path, value", list(data_cases()))
def test_data_metadata_field_of_a_wrong_kind(capsys, env, work, path, value):
    data = work / "data"
    shutil.copytree(env["data"], data)
    meta = json.loads((data / "metadata.json").read_text())
    if path:
        _set(meta, path, value)
    else:
        meta = value
    (data / "metadata.json").write_text(json.dumps(meta))
    fails(capsys, env, work, ["windows", "--weights", env["weights"], "--data", data, "--out", work / "x.npy"],
          "metadata.json")


@pytest.mark.parametrize("name, arrays", [
    ("0808nm.npz", {"i_trace": np.full((2, 40), NAN), "q_trace": np.zeros((2, 40)), "mask": np.ones(2, bool)}),
    ("0808nm.npz", {"i_trace": np.zeros((2, 40), complex), "q_trace": np.zeros((2, 40)), "mask": np.ones(2, bool)}),
    ("0808nm.npz", {"i_trace": np.zeros((2, 40)), "q_trace": np.zeros((2, 40)), "mask": np.zeros(2, "U3")}),
    ("0nm.npz", {"i_trace": np.zeros((2, 40)), "q_trace": np.zeros((2, 40)), "mask": np.ones(2, bool)}),
], ids=["nan-trace", "complex-trace", "string-mask", "zero-wavelength"])
def test_data_files_that_cannot_be_used(capsys, env, work, name, arrays):
    data = work / "data"
    data.mkdir()
    np.savez(data / name, **arrays)
    (data / "metadata.json").write_text(json.dumps({"raw_rate_hz": 1e6}))
    fails(capsys, env, work, ["windows", "--weights", env["weights"], "--data", data, "--out", work / "x.npy"], name)


def test_data_directory_that_is_not_one(capsys, env, work):
    argv = ["windows", "--weights", env["weights"], "--out", work / "x.npy", "--data"]
    fails(capsys, env, work, [*argv, env["file"]], "afile")
    fails(capsys, env, work, [*argv, work / "absent"], "absent")
    fails(capsys, env, work, [*argv, work], "no .npz files")


# ------------------------------------------------------------------------------------------ training settings
def train_cases():
    for name, spec in TrainConfig.__dataclass_fields__.items():
        wrong = ["-1", "1.5", "x", str(2**70)] if spec.type.startswith("int") else ["nan", "inf", "-inf", "-1", "x"]
        for value in wrong:
            yield pytest.param(name, value, id=f"{name}={value}")
    yield pytest.param("epochs", "0", id="epochs=0")  # an untrained checkpoint is no result


@pytest.mark.parametrize("name, value", list(train_cases()))
def test_training_setting_out_of_range(capsys, env, work, name, value):
    flag = f"--{name.replace('_', '-')}"
    line = fails(capsys, env, work, ["train", "--data", env["data"], "--out", work / "t.safetensors", "--quiet",
                                     flag, value])
    assert flag in line or f"setting {name} " in line, line


@pytest.mark.parametrize("flags, fragment", [
    (["--d-model", "4096", "--d-head-hidden", "4096"], "parameters"),  # beyond CPU training
    (["--lr", "1e30", "--epochs", "1", "--val-fraction", "0.4", "--batch-size", "2", "--d-model", "4", "--d-state",
      "2", "--d-head-hidden", "4"], "diverged"),
], ids=["huge-model", "diverging-lr"])
def test_training_that_cannot_succeed(capsys, env, work, flags, fragment):
    fails(capsys, env, work, ["train", "--data", env["data"], "--out", work / "t.safetensors", "--quiet", *flags],
          fragment)


def test_training_on_a_single_line(capsys, env, work):
    data = work / "one"
    data.mkdir()
    shutil.copy(env["data"] / "0808nm.npz", data)
    meta = json.loads((env["data"] / "metadata.json").read_text())
    (data / "metadata.json").write_text(json.dumps({**meta, "lines": meta["lines"][:1]}))
    fails(capsys, env, work, ["train", "--data", data, "--out", work / "t.safetensors", "--quiet", "--epochs", "1"],
          "at least 2 lines")


# --------------------------------------------------------------------------------------- checkpoint corruptions
def corruption_cases():
    rng = np.random.default_rng(14)
    for source in ("weights", "legacy"):
        for k in range(12):
            yield pytest.param(source, "truncate", int(rng.integers(1 << 30)), id=f"{source}-truncate-{k}")
        for k in range(12):
            yield pytest.param(source, "flip", int(rng.integers(1 << 30)), id=f"{source}-flip-{k}")


@pytest.mark.parametrize("source, how, seed", list(corruption_cases()))
def test_corrupt_checkpoint(capsys, env, work, source, how, seed):
    """Truncated anywhere: refused. Bytes flipped anywhere: refused in one line, or (a flip inside the tensor data)
    a checkpoint with other weights; never a traceback."""
    data = bytearray(env[source].read_bytes())
    rng = np.random.default_rng(seed)
    if how == "truncate":
        data = data[: int(rng.integers(len(data)))]
    else:
        for offset in rng.integers(len(data), size=4):
            data[offset] ^= int(rng.integers(1, 256))
    path = work / "c.safetensors"
    path.write_bytes(bytes(data))
    if how == "truncate":
        fails(capsys, env, work, ["inspect", path], str(path))
        return
    code = _run(["inspect", path, "--brief"])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err, err
    assert code == 0 or (err.count("\n") == 1 and err.startswith(f"venom-fpga: error: {path}")), err


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
@pytest.mark.parametrize("change", ["sparse", "quantized", "complex", "int", "huge", "nested", "pickled"])
def test_legacy_archive_entries_that_are_not_float_tensors(capsys, env, work, change):
    import collections

    state = {k: torch.as_tensor(v) for k, v in random_tensors(SMALL).items()}
    bias = state["embed.bias"]
    state["embed.bias"] = {
        "sparse": lambda: bias.to_sparse(), "complex": lambda: bias * (1 + 1j), "int": lambda: bias.to(torch.int32),
        "quantized": lambda: torch.quantize_per_tensor(bias.float(), 0.1, 0, torch.qint8),
        "huge": lambda: bias * 1e300, "nested": lambda: {"a": bias},
        "pickled": lambda: collections.OrderedDict(a=collections.Counter(b=1)),
    }[change]()
    path = work / "legacy.safetensors"
    torch.save(state, path)
    fails(capsys, env, work, ["inspect", path], str(path))


# ------------------------------------------------------------------------------------------------ I/Q arrays
def _bad_arrays(work: Path) -> dict[str, Path]:
    arrays = {
        "2d": np.zeros((3, LENGTH)), "4d": np.zeros((1, 3, LENGTH, 2)), "three-channels": np.zeros((3, LENGTH, 3)),
        "no-windows": np.zeros((0, LENGTH, 2)), "short": np.zeros((3, LENGTH - 1, 2)),
        "nan": np.full((3, LENGTH, 2), NAN), "inf": np.full((3, LENGTH, 2), INF),
        "complex": np.zeros((3, LENGTH, 2), complex), "bool": np.zeros((3, LENGTH, 2), bool),
        "strings": np.zeros((3, LENGTH, 2), "U2"), "structured": np.zeros((3, LENGTH, 2), [("a", "f4")]),
    }
    out = {}
    for name, a in arrays.items():
        np.save(work / f"{name}.npy", a)
        out[name] = work / f"{name}.npy"
    out["empty-file"] = work / "empty.npy"
    out["empty-file"].write_bytes(b"")
    good = (work / "2d.npy").read_bytes()
    out["truncated"] = work / "truncated.npy"
    out["truncated"].write_bytes(good[: len(good) // 2])
    out["text"] = work / "text.npy"
    out["text"].write_text("not an array")
    np.savez(work / "archive.npz", x=np.zeros((3, LENGTH, 2)))
    out["npz"] = work / "archive.npz"
    out["directory"] = work / "adir.npy"
    out["directory"].mkdir()
    out["absent"] = work / "absent.npy"
    out["pipe"] = work / "pipe.npy"
    os.mkfifo(out["pipe"])  # reading it would block forever
    out["huge-header"] = work / "huge.npy"
    with open(out["huge-header"], "wb") as f:  # a header that asks for 175 TiB
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10**12, LENGTH, 2)})
    return out


IQ_COMMANDS = {
    "predict": lambda env, w: ["predict", "--weights", env["weights"], "--out", w / "y.npy", "--quiet"],
    "predict-fixed": lambda env, w: ["predict", "--weights", env["weights"], "--out", w / "y.npy", "--quiet",
                                     "--backend", "fixed"],
    "profile": lambda env, w: ["profile", "--weights", env["weights"], "--out", w / "p.json"],
    "csim": lambda env, w: ["csim", "--weights", env["weights"]],
    "cosim": lambda env, w: ["cosim", "--weights", env["weights"], "--lanes", "2"],
}


@pytest.mark.parametrize("command", list(IQ_COMMANDS))
def test_bad_iq_arrays(capsys, env, work, command):
    for name, path in _bad_arrays(work).items():
        line = fails(capsys, env, work, [*IQ_COMMANDS[command](env, work), "--iq", path])
        # a file that is no array names the file; an array that is no windows reads as the API says it ("input")
        assert path.name in line or line.startswith("venom-fpga: error: input: "), (name, line)


def test_results_that_are_not_finite_or_would_saturate(capsys, env, work):
    np.save(work / "huge.npy", np.full((2, LENGTH, 2), 1e300))  # finite, but the float model overflows on it
    base = ["predict", "--weights", env["weights"], "--out", work / "y.npy", "--quiet"]
    fails(capsys, env, work, [*base, "--iq", work / "huge.npy"], "NaN/Inf energy")
    short = work / "short.precision.json"
    save_precision(default_precision(load_checkpoint(env["weights"]), max_window_length=LENGTH - 1), short)
    fails(capsys, env, work, [*base, "--iq", env["iq"], "--backend", "fixed", "--precision", short],
          f"longer than max_window_length {LENGTH - 1}")


def test_option_values_out_of_range(capsys, env, work):
    w = env["weights"]
    for option in ("--slots", "--head-interval"):  # beyond a C++ unsigned
        args = {"--slots": "1", "--fold": "1", "--head-interval": "1", option: str(5 * 10**9)}
        fails(capsys, env, work, ["export", "--weights", w, "--out", work / "hls", *(x for kv in args.items()
                                                                                    for x in kv)],
              option, "2.14748e+09")
    for margin in ("inf", "nan", "0", "1e300"):
        fails(capsys, env, work, ["profile", "--weights", w, "--iq", env["iq"], "--out", work / "p.json", "--margin",
                                  margin], "margin")
    fails(capsys, env, work, ["synth", "--preset", "ptsi", "--n-per-line", str(10**15), "--out", work / "s"], "GB")
    fails(capsys, env, work, ["synth", "--preset", "ptsi", "--n-per-line", "2", "--continuum", str(10**9), "--out",
                              work / "s"], "continuum")


# ----------------------------------------------------------------------------------------------- output paths
# command -> (argv without outputs, {output option: kind}, the file inputs an output must not be)
FILE, DIR, REPLACED = "file", "dir", "replaced"
WRITERS = {
    "predict": (lambda e: ["predict", "--weights", e["weights"], "--iq", e["iq"], "--quiet"], {"--out": FILE},
                ("weights", "iq")),
    "windows": (lambda e: ["windows", "--weights", e["weights"], "--data", e["data"]],
                {"--out": FILE, "--energies": FILE}, ("weights",)),
    "train": (lambda e: ["train", "--data", e["data"], "--quiet", "--epochs", "1"], {"--out": FILE}, ()),
    "evaluate": (lambda e: ["evaluate", "--weights", e["weights"], "--data", e["data"], "--fixed", "--quiet"],
                 {"--json": FILE, "--plots": DIR, "--accuracy-dir": DIR}, ("weights",)),
    "profile": (lambda e: ["profile", "--weights", e["weights"], "--iq", e["iq"]], {"--out": FILE},
                ("weights", "iq")),
    "precision-search": (lambda e: ["precision-search", "--weights", e["weights"], "--iq", e["iq"], "--quiet"],
                         {"--out": FILE, "--report": FILE, "--plot": FILE}, ("weights", "iq")),
    "export": (lambda e: ["export", "--weights", e["weights"]], {"--out": REPLACED}, ("weights",)),
    "csim": (lambda e: ["csim", "--weights", e["weights"]], {"--report": FILE}, ("weights",)),
    "rtl": (lambda e: ["rtl", "--weights", e["weights"], "--lanes", "2"], {"--out": REPLACED}, ("weights",)),
    "cosim": (lambda e: ["cosim", "--weights", e["weights"], "--lanes", "2"], {"--report": FILE, "--log": FILE},
              ("weights",)),
    "resources": (lambda e: ["resources", "--weights", e["weights"], "--lanes", "2"], {"--report": FILE},
                  ("weights",)),
    "hls": (lambda e: ["hls", "--weights", e["weights"]], {"--report": FILE}, ("weights",)),
    "vivado": (lambda e: ["vivado", "--weights", e["weights"], "--lanes", "2"], {"--report": FILE}, ("weights",)),
    "plan": (lambda e: ["plan", "--weights", e["weights"]], {"--json": FILE, "--plot": FILE}, ("weights",)),
    "synth": (lambda e: ["synth", "--preset", "ptsi", "--n-per-line", "2", "--quiet"], {"--out": REPLACED}, ()),
}
REQUIRED = {("predict", "--out"), ("windows", "--out"), ("train", "--out"), ("profile", "--out"), ("synth", "--out"),
            ("precision-search", "--out")}


def output_cases():
    for command, (_, outputs, inputs) in WRITERS.items():
        for option, kind in outputs.items():
            failures = ["existing-dir" if kind == FILE else "existing-file", "under-a-file", "empty"]
            if kind == FILE:
                failures += ["a-pipe", "trailing-slash"]  # renaming onto a pipe (or /dev/null) would replace it
                failures += [f"input-{name}" for name in inputs]
                failures += [f"same-as-{other}" for other, k in outputs.items() if other != option and k == FILE]
            if kind == REPLACED and inputs:
                failures.append("contains-the-inputs")
            for failure in failures:
                yield pytest.param(command, option, failure, id=f"{command}{option}-{failure}")


def test_every_writing_subcommand_is_covered():
    from venom_fpga.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    writing = {name for name, p in commands.items()  # options that take a path to write (inspect --json is a flag)
               if any(a.dest in ("out", "report", "json", "plots", "plot", "log", "energies", "accuracy_dir")
                      and a.nargs != 0 for a in p._actions)}
    assert writing == set(WRITERS), writing ^ set(WRITERS)


@pytest.mark.parametrize("command, option, failure", list(output_cases()))
def test_output_path_failures(capsys, env, work, command, option, failure):
    argv_of, outputs, _ = WRITERS[command]
    target = {
        "existing-dir": work / "adir", "existing-file": env["file"], "under-a-file": env["file"] / "x.out", "empty": "",
        "contains-the-inputs": env["root"],
    }.get(failure)
    if failure == "existing-dir":
        target.mkdir()
        (target / "keep").write_text("kept")
    if failure == "a-pipe":
        target = work / "pipe"
        os.mkfifo(target)
    if failure == "trailing-slash":
        target = f"{work / 'new'}/"
    if failure.startswith("input-"):
        target = env[failure.removeprefix("input-")]
    if failure.startswith("same-as-"):
        target = work / "same.out"
    argv = [*argv_of(env), option, target]
    for other, kind in outputs.items():  # the other outputs: valid, or the same file
        if other != option and ((command, other) in REQUIRED or failure == f"same-as-{other}"):
            argv += [other, target if failure == f"same-as-{other}" else work / f"ok{other}"]
    fails(capsys, env, work, argv, option)


# ------------------------------------------------------------------------------------------ nothing clobbered
def test_synth_force_replaces_only_a_data_set_and_only_once_complete(capsys, env, work):
    mine = work / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    fails(capsys, env, work, ["synth", "--preset", "ptsi", "--n-per-line", "2", "--out", mine, "--force", "--quiet"],
          "not a synthetic data set")
    old = work / "old"
    shutil.copytree(env["data"], old)
    fails(capsys, env, work, ["synth", "--preset", "ptsi", "--n-per-line", "2", "--continuum", "1", "--out", old,
                              "--force", "--quiet"], "at least 2")
    assert _run(["synth", "--preset", "ptsi", "--n-per-line", "2", "--out", old, "--force", "--quiet"]) == 0
    assert json.loads((old / "metadata.json").read_text())["n_per_line"] == 2
    assert old.stat().st_mode & 0o777 == 0o777 & ~_umask()  # not mkdtemp's 0700
    assert not [p.name for p in work.iterdir() if p.name.startswith(".")]  # neither the new data nor the old left


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_outputs_are_written_with_normal_permissions(capsys, env, work):
    out = work / "y.npy"
    assert _run(["predict", "--weights", env["weights"], "--iq", env["iq"], "--out", out, "--quiet"]) == 0
    save_checkpoint(work / "c.safetensors", random_tensors(SMALL), Metadata())  # safetensors replaces its file
    for path in (out, work / "c.safetensors"):
        assert path.stat().st_mode & 0o777 == 0o666 & ~_umask(), path


@pytest.mark.parametrize("when", ["synth", "atomic_path"])
def test_sigterm_leaves_no_temporary_file(capsys, env, work, monkeypatch, when):
    """SIGTERM (the default action kills at once) removes the temporary files first; the command exits 143."""
    if when == "synth":
        real = synth._write_line

        def write_then_terminate(*args, **kwargs):
            real(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGTERM)

        monkeypatch.setattr(synth, "_write_line", write_then_terminate)
        assert _run(["synth", "--preset", "ptsi", "--n-per-line", "2", "--out", work / "s", "--quiet"]) == 143
        assert capsys.readouterr().err == "venom-fpga: interrupted (SIGTERM)\n"
    else:
        with pytest.raises(Interrupted), atomic_path(work / "out.bin") as tmp:
            tmp.write_bytes(b"half")
            os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # put back
    assert [p.name for p in work.iterdir() if p.name != "build"] == []


def test_evaluate_writes_all_its_outputs_or_none(capsys, env, work, monkeypatch):
    """The plot fails after the report is made: the report that existed is untouched, no new file appears."""
    from venom_fpga.metrics import evaluate, plots

    report = work / "r.json"
    report.write_text('{"old": 1}')

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    arrays = {"model": np.ones(2), "optimal filter": np.ones(2), "true": np.ones(2), "line_index": np.zeros(2, int),
              "wavelengths_nm": np.array([808.0])}
    monkeypatch.setattr(evaluate, "evaluate", lambda *args, **kwargs: ({"new": 1}, arrays))
    monkeypatch.setattr(plots, "plot_energy_histograms", broken)
    fails(capsys, env, work, ["evaluate", "--weights", env["weights"], "--data", env["data"], "--json", report,
                              "--plots", work / "plots", "--quiet"], "No space left")


# ----------------------------------------------------------------------------------------------- the notices
def test_default_energy_calibration_is_one_warning_line(capsys, env, work):
    assert _run(["predict", "--weights", env["bare"], "--iq", env["iq"], "--out", work / "y.npy", "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("venom-fpga: warning: bare.safetensors has no energy calibration"), err


def test_default_precision_is_one_warning_line(capsys, env, work):
    assert _run(["predict", "--weights", env["weights"], "--iq", env["iq"], "--out", work / "y.npy", "--quiet",
                 "--backend", "fixed"]) == 0
    err = capsys.readouterr().err.splitlines()  # and, where the random model saturates, one line saying so
    assert err[0].startswith("venom-fpga: warning: fixed backend: default precision used"), err
    assert all(line.startswith("venom-fpga: warning: fixed backend") for line in err) and len(err) <= 2, err


def test_inspect_json_is_strict_json(capsys, env, work):
    path = work / "m.safetensors"
    shutil.copy(env["weights"], path)
    (work / "m_meta.json").write_text(json.dumps({"provenance": {"holdout_R": NAN}}))
    assert _run(["inspect", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in --json output"))
    assert report["metadata"]["provenance"]["holdout_R"] is None
