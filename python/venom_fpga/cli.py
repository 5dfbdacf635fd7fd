"""The ``venom-fpga`` command line: every user-facing step is a subcommand (the Makefile only calls them).

User mistakes (bad files, bad shapes, bad options) end with a one-line ``venom-fpga: error: ...`` and exit status 2,
never a traceback. A check that fails (a C simulation, co-simulation or hardware backend that differs from the
fixed-point model; a simulator or Yosys run that breaks) ends with one such line and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from venom_fpga.files import atomic_path, write_json
from venom_fpga.model.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from venom_fpga.paths import REPO_ROOT, build_dir

EXIT_FAILED = 1
EXIT_USAGE = 2


class UserError(Exception):
    """A mistake on the user's side, reported in one line (exit status 2)."""


class CheckFailed(Exception):
    """A check or tool run that failed, reported in one line (exit status 1)."""


def _reports() -> Path:
    return build_dir() / "reports"


def _show(path: str | os.PathLike) -> str:
    """A path as the user reads it best: relative to the working directory when under it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _load(args: argparse.Namespace) -> Checkpoint:
    return load_checkpoint(args.weights, name_map=getattr(args, "name_map", None))


def _load_npy(path: str, what: str) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{path}: no such {what} file") from None
    except (ValueError, OSError) as exc:
        raise UserError(f"{path}: not a readable .npy {what} file ({exc})") from None


# --- inspect -------------------------------------------------------------------------------------


def inspect_report(ckpt: Checkpoint) -> dict:
    return {
        "path": str(ckpt.path),
        "format": ckpt.source_format,
        "dims": ckpt.dims.to_dict(),
        "n_params": ckpt.n_params,
        "tensors": {name: list(t.shape) for name, t in ckpt.tensors.items()},
        "renamed": ckpt.renamed,
        "metadata": ckpt.meta.to_dict(),
        "metadata_source": ckpt.meta_source,
        "defaults_used": ckpt.defaults_used,
    }


def cmd_inspect(args: argparse.Namespace) -> None:
    ckpt = _load(args)
    report = inspect_report(ckpt)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    d = ckpt.dims
    if args.brief:
        window = f"windows of {ckpt.meta.window_length}" if ckpt.meta.window_length else "no window length"
        defaults = f"; defaults used for: {', '.join(ckpt.defaults_used)}" if ckpt.defaults_used else ""
        print(f"{ckpt.path.name}: {ckpt.n_params:,} parameters (d_model={d.d_model} d_state={d.d_state} "
              f"d_conv={d.d_conv} n_layers={d.n_layers}), {window}{defaults}")
        return
    print(f"{ckpt.path}  ({ckpt.source_format})")
    print(
        f"dims: d_model={d.d_model} d_state={d.d_state} d_conv={d.d_conv} d_inner={d.d_inner} "
        f"dt_rank={d.dt_rank} n_layers={d.n_layers} d_head_hidden={d.d_head_hidden}"
    )
    width = max(len(n) for n in ckpt.tensors)
    for name, t in ckpt.tensors.items():
        alias = [k for k, v in ckpt.renamed.items() if v == name]
        note = f"  (stored as {alias[0]})" if alias else ""
        print(f"  {name:<{width}}  {str(tuple(t.shape)):<12} {t.size:>6}{note}")
    print(f"parameters: {ckpt.n_params:,}")
    print(f"metadata ({ckpt.meta_source}):")
    for key, value in ckpt.meta.to_dict().items():
        if key == "provenance":
            continue
        if key == "fir_taps" and value:
            value = f"[{len(value)} taps]"
        default = "  (default)" if key in ckpt.defaults_used else ""
        print(f"  {key}: {value}{default}")
    if ckpt.meta.provenance:
        print("provenance (full record: inspect --json):")
        for key, value in ckpt.meta.provenance.items():
            text = json.dumps(value)
            print(f"  {key}: {text if len(text) <= 90 else text[:87] + '...'}")
    if ckpt.defaults_used:
        print(f"defaults used for: {', '.join(ckpt.defaults_used)}")


# --- predict -------------------------------------------------------------------------------------


def cmd_predict(args: argparse.Namespace) -> None:
    from venom_fpga.predict import BackendMismatchError, predict

    ckpt = _load(args)
    iq = _load_npy(args.iq, "I/Q")
    options = {}
    if args.precision is not None:
        if args.backend.startswith("float"):
            raise UserError(f"--precision applies to the fixed-point backends, not {args.backend}")
        options["precision"] = args.precision
    try:
        out = predict(ckpt, iq, backend=args.backend, progress=not args.quiet, **options)
    except BackendMismatchError as exc:
        raise CheckFailed(str(exc)) from None
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, out)
    print(
        f"{out.shape[0]} windows -> {args.out} ({args.backend}): "
        f"E mean {out[:, 0].mean():.4f} eV, min {out[:, 0].min():.4f}, max {out[:, 0].max():.4f}"
    )


# --- data, training, evaluation --------------------------------------------------------------------


def cmd_synth(args: argparse.Namespace) -> None:
    import shutil

    from venom_fpga.data.synth import write_dataset

    out = Path(args.out)
    if args.force and out.exists():
        shutil.rmtree(out)
    path = write_dataset(args.preset, args.n_per_line, args.seed, out, progress=not args.quiet, continuum=args.continuum)
    print(f"wrote {path}")


def cmd_windows(args: argparse.Namespace) -> None:
    from venom_fpga.data.dataset import load_raw, make_windows_from_meta

    ckpt = _load(args)
    windows = make_windows_from_meta(load_raw(args.data), ckpt.meta)
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, windows.iq)
    if args.energies:
        with atomic_path(args.energies) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, windows.energy_ev)
    print(f"{windows.iq.shape[0]} windows of {windows.iq.shape[1]} samples -> {args.out}")


def cmd_train(args: argparse.Namespace) -> None:
    from venom_fpga.model.train import TrainConfig, train

    fields = TrainConfig.__dataclass_fields__
    cfg = TrainConfig(**{k: getattr(args, k) for k in fields if getattr(args, k, None) is not None})
    result = train(args.data, args.out, cfg, progress=not args.quiet, command=" ".join(["venom-fpga", *sys.argv[1:]]))
    # KDE R is unreliable on the few hold-out pulses per line; `evaluate` measures it on line data.
    print(f"wrote {result.path} in {result.seconds:.0f} s: hold-out mean R_gauss {result.mean_R_gauss:.2f}")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from venom_fpga.metrics.evaluate import evaluate, format_table

    from venom_fpga.metrics.accuracy import summary_line
    from venom_fpga.metrics.plots import plot_energy_histograms, plot_fixed_vs_float, plot_signal_ranges

    ckpt = _load(args)
    report, arrays = evaluate(ckpt, args.data, seed=args.seed, progress=not args.quiet,
                              precision=args.precision, fixed=args.fixed)
    print(format_table(report))
    if args.json:
        write_json(args.json, report)
        print(f"report -> {args.json}")
    title = f"{ckpt.path.name} on {args.data}"
    if args.plots:
        path = Path(args.plots) / "energy_histograms.png"
        results = {k: arrays[k] for k in ("model", "optimal filter", "fixed") if k in arrays}
        plot_energy_histograms(results, arrays["true"], arrays["line_index"], arrays["wavelengths_nm"], path,
                               title=title)
        print(f"plot -> {path}")
    if "fixed_accuracy" in report:
        acc = report["fixed_accuracy"]
        reports = Path(args.accuracy_dir)
        write_json(reports / "accuracy.json", acc)
        plot_fixed_vs_float(arrays["model"], arrays["fixed"], reports / "accuracy_dE.png", title=title)
        plot_signal_ranges(arrays["ranges"], arrays["limits"], reports / "accuracy_signal_ranges.png",
                           title=f"signal ranges ({acc['precision']})")
        print(f"accuracy report and plots -> {reports}/accuracy*.{{json,png}}")
        print(summary_line(acc))  # last: the figure a one-line step shows


def cmd_profile(args: argparse.Namespace) -> None:
    from venom_fpga.fixed.precision import save_precision
    from venom_fpga.metrics.accuracy import profile, saturating_signals
    from venom_fpga.predict import check_windows

    ckpt = _load(args)
    if args.iq is not None:  # windows the user already has: no preprocessing metadata needed
        iq = check_windows(_load_npy(args.iq, "I/Q"), ckpt, args.iq)
    else:
        from venom_fpga.data.dataset import load_raw, make_windows_from_meta

        iq = make_windows_from_meta(load_raw(args.data), ckpt.meta).iq
    cfg, signal_profile = profile(ckpt, iq, margin=args.margin)
    save_precision(cfg, args.out)
    print(f"profiled {iq.shape[0]} windows -> {args.out}")
    sat = saturating_signals(signal_profile)
    print(f"saturating signals under it: {sat or 'none'}")


def cmd_export(args: argparse.Namespace) -> None:
    from venom_fpga.hls.export import DEFAULT_REUSE_FACTOR, export

    result = export(args.weights, precision=args.precision, out=args.out, name_map=args.name_map,
                    reuse_factor=args.reuse_factor if args.reuse_factor is not None else DEFAULT_REUSE_FACTOR)
    print(f"exported {len(result.files)} files -> {_show(result.out_dir)} in {result.seconds:.1f} s")


# --- hardware: C simulation, RTL, co-simulation, resources, vendor tools, summary ------------------------------


def cmd_csim(args: argparse.Namespace) -> None:
    from venom_fpga.hls.csim import compare, summary

    if args.probe < 1 or args.extremes < 0:
        raise UserError("--probe must be at least 1 and --extremes at least 0")
    iq = _load_npy(args.iq, "I/Q") if args.iq is not None else None
    report = compare(_load(args), args.precision, iq, n_extremes=args.extremes, n_probe=args.probe,
                     reuse_factor=args.reuse_factor)
    path = args.report or _reports() / "csim.json"
    write_json(path, report)
    if report["mismatches"]:
        raise CheckFailed(f"{summary(report)} -> {_show(path)}")
    print(f"{summary(report)} -> {_show(path)}")


def cmd_rtl(args: argparse.Namespace) -> None:
    from venom_fpga.rtl.export import export_checkpoint

    if args.out is not None and len(args.lanes) > 1:
        raise UserError("--out names one directory: give one --lanes with it")
    ckpt = _load(args)
    for n in args.lanes:
        params = export_checkpoint(ckpt, precision=args.precision, lanes=n, out=args.out)
        print(f"rtl LANES={n} -> {_show(params['out'])}: {params['engine_cycles']['step']} engine cycles/sample, "
              f"{params['params']['IROM_DEPTH']} instructions, {params['params']['WROM_DEPTH']} weight words/lane")


def _print_now(line: str) -> None:
    print(line, flush=True)


def cmd_cosim(args: argparse.Namespace) -> None:
    from venom_fpga.rtl.cocotb_runner import SimulationError
    from venom_fpga.rtl.cosim import cosim, failure

    iq = _load_npy(args.iq, "I/Q") if args.iq is not None else None
    log = args.log or build_dir() / "logs" / "cosim-sim.log"
    try:
        report = cosim(_load(args), args.precision, lanes=args.lanes, windows=args.windows,
                       iq=iq, sim=args.sim, log=log, progress=_print_now)
    except SimulationError as exc:
        raise CheckFailed(str(exc)) from None
    path = args.report or _reports() / "cosim.json"
    write_json(path, report)
    problem = failure(report)
    if problem:
        raise CheckFailed(f"{problem} -> {_show(path)}")
    lanes = ", ".join(str(s["lanes"]) for s in report["settings"])
    print(f"cosim OK: {report['windows']} windows bit-exact at LANES {lanes} ({report['sim']}) -> {_show(path)}")


def cmd_resources(args: argparse.Namespace) -> None:
    from venom_fpga.rtl.resources import ResourcesError, resources

    try:
        report = resources(_load(args), args.precision, lanes=args.lanes, timeout=args.timeout,
                           reuse=args.reuse, fast=args.fast, progress=_print_now)
    except ResourcesError as exc:
        raise CheckFailed(str(exc)) from None
    path = args.report or _reports() / "resources.json"
    write_json(path, report)
    print(f"resources -> {_show(path)}")


def _run_script(script: str, argv: list[str], env: dict[str, str]) -> int:
    """A vendor-tool script of scripts/ with this interpreter; its exit status (2: the tool is missing, with the
    script's own message)."""
    cmd = [str(REPO_ROOT / "scripts" / script), *argv]
    return subprocess.run(cmd, env={**os.environ, "PYTHON": sys.executable, **env}).returncode


def cmd_hls(args: argparse.Namespace) -> int:
    from venom_fpga.hls.export import default_out_dir

    project = args.project or default_out_dir(args.weights)
    return _run_script("run_vitis_hls.sh", [str(project), str(args.report or _reports() / "hls.json")], {})


def cmd_vivado(args: argparse.Namespace) -> int:
    from venom_fpga.rtl.resources import export_for_synthesis

    ckpt = _load(args)
    gen = [str(export_for_synthesis(ckpt, args.precision, n)["out"]) for n in args.lanes]
    return _run_script("run_vivado.sh", gen, {"REPORT": str(args.report or _reports() / "vivado.json")})


def cmd_plan(args: argparse.Namespace) -> None:
    from venom_fpga.fixed.model import FixedModel
    from venom_fpga.metrics.plots import plot_array_capacity
    from venom_fpga.rtl.planner import Budget, format_table, model_sample_rate, overflow_curves, plan_report
    from venom_fpga.target import CLOCK_MHZ

    ckpt = _load(args)
    clock = args.clock if args.clock is not None else CLOCK_MHZ
    budget = Budget(**{**Budget().__dict__, **dict(_budget_item(s) for s in args.budget)})
    length = args.window_length or ckpt.meta.window_length
    if length is None:
        raise UserError(f"{args.weights}: no window_length in its metadata: give --window-length")
    rate_hz = args.sample_rate or model_sample_rate(ckpt.meta)
    report = plan_report(FixedModel(ckpt, args.precision).plan, args.channels, args.rate, clock * 1e6, rate_hz,
                         length, budget)
    out = Path(args.json) if args.json else _reports() / "plan.json"
    plot = Path(args.plot) if args.plot else out.with_suffix(".png")
    write_json(out, report)
    plot_array_capacity(overflow_curves(report), args.rate, report["overflow_target"], plot)
    print(f"array plan: {args.channels} channels, {args.rate:g} counts/s per pixel, {clock:g} MHz, model rate "
          f"{rate_hz / 1e3:g} kHz, L = {length} (resources are estimates)")
    print(format_table(report))
    c = report["chosen"]
    if c is None:
        raise CheckFailed(f"no configuration fits the budget {budget} -> {_show(out)}")
    if c["capacity_cps"] < args.rate:
        print(f"venom-fpga: warning: the best configuration within the budget serves {c['capacity_cps']:,.0f} "
              f"counts/s per pixel, less than {args.rate:g}", file=sys.stderr)
    print(f"-> {_show(out)}, {_show(plot)}")


def _budget_item(text: str) -> tuple[str, float]:
    from venom_fpga.rtl.planner import Budget

    key, _, value = text.partition("=")
    if key not in Budget.__dataclass_fields__:
        raise UserError(f"--budget {text}: use KEY=VALUE with KEY one of {', '.join(Budget.__dataclass_fields__)}")
    try:
        v = float(value)
    except ValueError:
        raise UserError(f"--budget {text}: {value!r} is not a number") from None
    if not (v >= 0 and v < float("inf")):
        raise UserError(f"--budget {text}: must be a finite number >= 0")
    return key, v


def cmd_summary(args: argparse.Namespace) -> None:
    from venom_fpga.metrics.summary import summary_lines

    reports = Path(args.reports) if args.reports else _reports()
    if not reports.is_dir():
        raise UserError(f"{reports}: no reports directory (run make demo, or the steps that write reports)")
    print("\n".join(summary_lines(reports)))


# --- wiring --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from venom_fpga.predict import BACKENDS
    from venom_fpga.rtl.sim import DEFAULT_LANES

    parser = argparse.ArgumentParser(prog="venom-fpga", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add_weights(p: argparse.ArgumentParser, positional: bool = False) -> None:
        if positional:
            p.add_argument("weights", metavar="WEIGHTS", help="checkpoint (.safetensors)")
        else:
            p.add_argument("--weights", required=True, help="checkpoint (.safetensors)")
        p.add_argument("--name-map", help="JSON object mapping the file's tensor names to canonical names")

    p = sub.add_parser("inspect", help="dimensions, tensors, parameter count and metadata of a checkpoint")
    add_weights(p, positional=True)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--brief", action="store_true", help="one line: parameters, dimensions, window length")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("predict", help="energies for (N, L, 2) I/Q windows")
    add_weights(p)
    p.add_argument("--iq", required=True, help=".npy of (N, L, 2) decimated, normalised I/Q windows")
    p.add_argument("--out", required=True, help=".npy to write: (N, 2) energy (eV) and log-variance (eV^2)")
    p.add_argument("--backend", default="float", choices=list(BACKENDS))
    p.add_argument("--precision", help="precision config (fixed-point backends; default <weights stem>.precision.json)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("synth", help="generate a synthetic MKID data set (VENOM format)")
    p.add_argument("--preset", required=True, choices=["ptsi", "inhf"])
    p.add_argument("--n-per-line", type=int, required=True, help="pulses per wavelength")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    p.add_argument("--continuum", type=int, metavar="N",
                   help="N lines spread evenly in energy over the preset's range (training sets) instead of its lines")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("windows", help="model-input windows from raw data with a checkpoint's preprocessing")
    add_weights(p)
    p.add_argument("--data", required=True, help="VENOM-format data directory")
    p.add_argument("--out", required=True, help=".npy to write: (N, L, 2) windows")
    p.add_argument("--energies", help="also write the true energies (eV) to this .npy")
    p.set_defaults(func=cmd_windows)

    from venom_fpga.model.train import TrainConfig

    p = sub.add_parser("train", help="train a model on a VENOM-format data directory (CPU)")
    p.add_argument("--data", required=True, help="VENOM-format data directory")
    p.add_argument("--out", required=True, help="checkpoint to write (.safetensors)")
    for name, spec in TrainConfig.__dataclass_fields__.items():
        kind = int if spec.type in ("int", "int | None") else float
        p.add_argument(f"--{name.replace('_', '-')}", type=kind, help=f"default {spec.default}")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="resolving power of the model vs the optimal filter")
    add_weights(p)
    p.add_argument("--data", required=True, help="VENOM-format data directory (not used for training)")
    p.add_argument("--json", help="write the report here")
    p.add_argument("--plots", help="directory for PNG plots")
    p.add_argument("--seed", type=int, default=0, help="seed of the calibration/scoring split")
    p.add_argument("--precision", help="add the fixed-point model with this precision config")
    p.add_argument("--fixed", action="store_true", help="add the fixed-point model with the checkpoint's own config")
    p.add_argument("--accuracy-dir", default="build/reports", help="where accuracy.json and its plots go")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("profile", help="size a precision config on data or windows and report what saturates")
    add_weights(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="VENOM-format data directory (windows made with the checkpoint's preprocessing)")
    src.add_argument("--iq", help=".npy of (N, L, 2) decimated, normalised I/Q windows (no preprocessing metadata "
                                  "needed)")
    p.add_argument("--out", required=True, help="precision config to write (.json)")
    p.add_argument("--margin", type=float, default=2.0, help="headroom factor on each signal's observed range")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("export", help="Vitis-HLS C++ project (kernels, weights, tables, test bench, tcl)")
    add_weights(p)
    p.add_argument("--precision", help="precision config (default <weights stem>.precision.json, else the default)")
    p.add_argument("--out", help="output directory (default hls/generated/<weights stem>/), replaced atomically")
    p.add_argument("--reuse-factor", type=int, help="cycles per sample of the core (folding; default 16)")
    p.set_defaults(func=cmd_export)

    def add_precision(p: argparse.ArgumentParser) -> None:
        p.add_argument("--precision", help="precision config (default <weights stem>.precision.json, else the default)")

    def add_lanes(p: argparse.ArgumentParser) -> None:
        shown = " ".join(map(str, DEFAULT_LANES))
        p.add_argument("--lanes", type=_positive_int, action=_Repeatable, default=list(DEFAULT_LANES), metavar="N",
                       help=f"folding setting (datapath lanes); repeat for several (default {shown})")

    def add_report(p: argparse.ArgumentParser, name: str) -> None:
        p.add_argument("--report", help=f"JSON report to write (default build/reports/{name})")

    p = sub.add_parser("csim", help="C simulation (g++) of the exported HLS C++ against the fixed-point model")
    add_weights(p)
    add_precision(p)
    p.add_argument("--iq", help=".npy of (N, L, 2) windows (default: synthetic probe windows)")
    p.add_argument("--probe", type=int, default=1000, help="probe windows when no --iq is given (default 1000)")
    p.add_argument("--extremes", type=int, default=64, help="windows of extreme input codes to add (default 64)")
    p.add_argument("--reuse-factor", type=int, help="folding of the exported core (does not change results)")
    add_report(p, "csim.json")
    p.set_defaults(func=cmd_csim)

    p = sub.add_parser("rtl", help="generated Verilog top and memory files (rtl/generated/<stem>_l<N>/)")
    add_weights(p)
    add_precision(p)
    add_lanes(p)
    p.add_argument("--out", help="output directory (one --lanes; default rtl/generated/<weights stem>_l<N>/)")
    p.set_defaults(func=cmd_rtl)

    p = sub.add_parser("cosim", help="co-simulation of the generated RTL (cocotb) against the fixed-point model")
    add_weights(p)
    add_precision(p)
    add_lanes(p)
    p.add_argument("--windows", type=_positive_int, default=100, help="windows per LANES setting (default 100)")
    p.add_argument("--iq", help=".npy of (N, L, 2) windows (default: synthetic probe windows)")
    p.add_argument("--sim", choices=["verilator", "icarus"], help="simulator (default $SIM, else verilator)")
    p.add_argument("--log", help="simulator and compiler output (default build/logs/cosim-sim.log)")
    add_report(p, "cosim.json")
    p.set_defaults(func=cmd_cosim)

    p = sub.add_parser("resources", help="Yosys resource estimate (LUT, FF, DSP48E2, BRAM) per LANES setting")
    add_weights(p)
    add_precision(p)
    add_lanes(p)
    p.add_argument("--timeout", type=_positive_int, default=3600, help="seconds per Yosys run (default 3600)")
    p.add_argument("--reuse", action="store_true", help="reuse a Yosys result newer than the hand-written RTL")
    p.add_argument("--fast", action="store_true", help="abc -fast LUT mapping (minutes; LUT count an upper bound)")
    add_report(p, "resources.json")
    p.set_defaults(func=cmd_resources)

    p = sub.add_parser("hls", help="Vitis HLS C synthesis and IP export of the exported project (needs vitis_hls)")
    p.add_argument("--weights", required=True, help="checkpoint whose exported project to build")
    p.add_argument("--project", help="exported project (default hls/generated/<weights stem>/)")
    add_report(p, "hls.json")
    p.set_defaults(func=cmd_hls)

    p = sub.add_parser("vivado", help="Vivado out-of-context synthesis and implementation per LANES (needs vivado)")
    add_weights(p)
    add_precision(p)
    add_lanes(p)
    add_report(p, "vivado.json")
    p.set_defaults(func=cmd_vivado)

    p = sub.add_parser("plan", help="the time-multiplexed array for a channel count and photon rate: fold factor, "
                                    "slots, capacity, resources (estimates), latency")
    add_weights(p)
    p.add_argument("--precision", help="precision config JSON (default: <stem>.precision.json, else the default)")
    p.add_argument("--channels", type=_positive_int, default=2048, help="resonator channels (default 2048)")
    p.add_argument("--rate", type=_positive_float, default=1000.0, help="design counts/s per pixel (default 1000)")
    p.add_argument("--clock", type=_positive_float, default=None, help="clock in MHz (default: target.py's)")
    p.add_argument("--sample-rate", type=_positive_float, help="model-rate samples/s (default: from the metadata)")
    p.add_argument("--window-length", type=_positive_int, help="samples per window (default: from the metadata)")
    p.add_argument("--budget", action="append", default=[], metavar="KEY=VALUE",
                   help="device budget override (dsp, bram36, uram, lut; default: what MKIDGen3 leaves free)")
    p.add_argument("--json", help="report (default build/reports/plan.json)")
    p.add_argument("--plot", help="plot of the slot-overflow probability (default: the report's name, .png)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("summary", help="one screen of the reports: accuracy, bit-exactness, resources, timing")
    p.add_argument("--reports", help="reports directory (default build/reports)")
    p.set_defaults(func=cmd_summary)
    return parser


class _Repeatable(argparse.Action):
    """A repeatable option whose values replace its default (argparse's "append" would add to the default)."""

    def __call__(self, parser, namespace, values, option_string=None):
        current = getattr(namespace, self.dest)
        setattr(namespace, self.dest, (current if current is not self.default else []) + [values])


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, not {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except (UserError, CheckpointError, ValueError, FileNotFoundError) as exc:
        print(f"venom-fpga: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CheckFailed as exc:
        print(f"venom-fpga: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
