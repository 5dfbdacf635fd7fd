# SPDX-License-Identifier: BSD-3-Clause
"""The ``venom-fpga`` command line: every user-facing step is a subcommand (the Makefile only calls them).

User mistakes (bad files, bad shapes, bad options) end with a one-line ``venom-fpga: error: ...`` and exit status 2,
never a traceback. A check that fails (a C simulation, co-simulation or hardware backend that differs from the
fixed-point model; a simulator or Yosys run that breaks) ends with one such line and exit status 1. Every command
checks its output paths before any work (writable, not a directory where a file goes, none of its inputs) and writes
its outputs atomically once everything succeeded, so a failing or interrupted command changes no file. What a user
must know about a result (defaults used, saturations) is one ``venom-fpga: warning: ...`` line on stderr.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np

from venom_fpga.errors import MAX_COUNT, VenomError, VenomWarning
from venom_fpga.files import (DIRECTORY, FILE, REPLACED, Interrupted, atomic_path, atomic_paths, check_outputs,
                              interruptible, json_text, write_json)
from venom_fpga.model.checkpoint import Checkpoint, load_checkpoint, sidecar_path
from venom_fpga.paths import REPO_ROOT, build_dir

EXIT_FAILED = 1
EXIT_USAGE = 2
# Generated windows per command at most: more is no test (give them with --iq), and their arrays would fill memory.
MAX_GENERATED_WINDOWS = 1 << 16


ARRAY_MAX = (1 << 31) - 1  # slots, fold, head interval: C++ unsigned constants of the exported array


class UserError(VenomError):
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


def _inputs(args: argparse.Namespace) -> dict[str, str | Path | None]:
    """Every input file or directory a command reads (option -> path), which no output may overwrite."""
    weights = getattr(args, "weights", None)
    return {"--weights": weights, "its metadata sidecar": sidecar_path(weights) if weights else None,
            **{f"--{k.replace('_', '-')}": getattr(args, k, None) for k in ("name_map", "precision", "iq", "data",
                                                                          "holdout")}}


def _check_outputs(args: argparse.Namespace, *outputs: tuple) -> None:
    """Before any work: the outputs ``(option, path[, kind])`` can be written and none is an input
    (files.check_outputs; kind FILE unless given)."""
    check_outputs([(o[0], o[1], o[2] if len(o) > 2 else FILE) for o in outputs], _inputs(args))


def _load_windows(path: str, ckpt: Checkpoint) -> np.ndarray:
    """(N, L, 2) windows from a .npy file, validated by predict.check_windows (the one place windows are checked, with
    the API's wording: an error reads as the API raises it)."""
    from venom_fpga.predict import check_windows

    if Path(path).exists() and not Path(path).is_file() and not Path(path).is_dir():  # reading a pipe would block
        raise UserError(f"{path}: not a regular file")
    try:
        iq = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UserError(f"{path}: no such I/Q file") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory, not a .npy I/Q file") from None
    except (ValueError, OSError, EOFError) as exc:
        raise UserError(f"{path}: not a readable .npy I/Q file ({str(exc) or type(exc).__name__})") from None
    except MemoryError as exc:
        raise UserError(f"{path}: its header asks for more memory than there is ({exc})") from None
    if not isinstance(iq, np.ndarray):
        iq.close()
        raise UserError(f"{path}: an .npz archive, not a .npy array of windows")
    return check_windows(iq, ckpt)


def _or(path: str | None, default: str | os.PathLike) -> str | os.PathLike:
    """An optional path option, or its default when not given: an empty one stays empty, for the output checks to
    refuse (``path or default`` would silently replace it)."""
    return default if path is None else path


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
        print(json_text(report))  # strict JSON: a NaN in the provenance prints as null
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
            text = json_text(value, indent=None)
            print(f"  {key}: {text if len(text) <= 90 else text[:87] + '...'}")
    if ckpt.defaults_used:
        print(f"defaults used for: {', '.join(ckpt.defaults_used)}")


# --- predict -------------------------------------------------------------------------------------


def cmd_predict(args: argparse.Namespace) -> None:
    from venom_fpga.predict import BackendMismatchError, predict

    if args.precision is not None and args.backend.startswith("float"):
        raise UserError(f"--precision applies to the fixed-point backends, not {args.backend}")
    _check_outputs(args, ("--out", args.out))
    ckpt = _load(args)
    iq = _load_windows(args.iq, ckpt)
    options = {} if args.precision is None else {"precision": args.precision}
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
    from venom_fpga.data.synth import write_dataset

    _check_outputs(args, ("--out", args.out, REPLACED))
    path = write_dataset(args.preset, args.n_per_line, args.seed, args.out, progress=not args.quiet,
                         continuum=args.continuum, force=args.force)
    print(f"wrote {path}")


def cmd_windows(args: argparse.Namespace) -> None:
    from venom_fpga.data.dataset import load_raw, make_windows_from_meta

    _check_outputs(args, ("--out", args.out), ("--energies", args.energies))
    ckpt = _load(args)
    windows = make_windows_from_meta(load_raw(args.data), ckpt.meta)
    arrays = {args.out: windows.iq, **({args.energies: windows.energy_ev} if args.energies else {})}
    with atomic_paths(*arrays) as tmps:
        for tmp, array in zip(tmps, arrays.values()):
            with open(tmp, "wb") as f:
                np.save(f, array)
    print(f"{windows.iq.shape[0]} windows of {windows.iq.shape[1]} samples -> {args.out}")


QAT_SETTINGS = ("epochs", "lr", "batch_size", "seed", "val_fraction", "max_pulses", "threads")


def cmd_train(args: argparse.Namespace) -> None:
    from venom_fpga.model.train import TrainConfig, train

    _check_outputs(args, ("--out", args.out))
    fields = TrainConfig.__dataclass_fields__
    if args.qat is not None or args.init is not None:
        return _cmd_qat(args, fields)
    cfg = TrainConfig(**{k: getattr(args, k) for k in fields if getattr(args, k, None) is not None})
    result = train(args.data, args.out, cfg, progress=not args.quiet, command=" ".join(["venom-fpga", *sys.argv[1:]]))
    # KDE R is unreliable on the few hold-out pulses per line; `evaluate` measures it on line data.
    print(f"wrote {result.path} in {result.seconds:.0f} s: hold-out mean R_gauss {result.mean_R_gauss:.2f}")


def _cmd_qat(args: argparse.Namespace, fields) -> None:
    """train --qat PRECISION --init CKPT: quantization-aware fine-tuning (venom_fpga.model.qat)."""
    from venom_fpga.fixed.precision import load_precision
    from venom_fpga.model.qat import finetune

    if args.qat is None or args.init is None:
        raise VenomError("--qat and --init go together: the precision config to fine-tune for, and the checkpoint "
                         "to start from")
    other = [k for k in fields if k not in QAT_SETTINGS and getattr(args, k, None) is not None]
    if other:
        raise VenomError(f"--{other[0].replace('_', '-')}: with --qat the model and its preprocessing come from "
                         f"--init (settings: {', '.join('--' + k.replace('_', '-') for k in QAT_SETTINGS)})")
    ckpt = load_checkpoint(args.init)
    cfg = load_precision(args.qat)
    opts = {k: getattr(args, k) for k in ("epochs", "lr", "batch_size", "seed", "val_fraction", "max_pulses")
            if getattr(args, k, None) is not None}
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    r = finetune(ckpt, cfg, args.data, args.out, progress=not args.quiet,
                 command=" ".join(["venom-fpga", *sys.argv[1:]]), **opts)
    m = r.comparison["mean"]
    ci = m.get("delta_pct_ci")
    print(f"wrote {r.path} in {r.seconds:.0f} s: fixed point under {Path(args.qat).name} on the hold-out split, "
          f"max |E_fixed - E_float| {r.max_abs_dE_start_meV:.3f} -> {r.max_abs_dE_qat_meV:.3f} meV, paired mean R "
          f"{m['R_reference']:.2f} -> {m['R_other']:.2f} ({m['delta_pct']:+.2f} %"
          + (f", 95 % CI [{ci[0]:+.2f}, {ci[1]:+.2f}] %)" if ci else ")"))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from venom_fpga.metrics.evaluate import evaluate, format_table

    from venom_fpga.metrics.accuracy import summary_line
    from venom_fpga.metrics.plots import plot_energy_histograms, plot_fixed_vs_float, plot_signal_ranges

    fixed = args.fixed or args.precision is not None
    reports = _or(args.accuracy_dir, _reports()) if fixed else None
    _check_outputs(args, ("--plots", args.plots, DIRECTORY), ("--accuracy-dir", reports, DIRECTORY))
    # the files in them, once the directories are known to be paths (an empty one is not)
    plots = Path(args.plots) / "energy_histograms.png" if args.plots is not None else None
    acc_files = [Path(reports) / f for f in ("accuracy.json", "accuracy_dE.png", "accuracy_signal_ranges.png")] \
        if fixed else []
    _check_outputs(args, ("--json", args.json), ("--plots", plots), *[("--accuracy-dir", p) for p in acc_files])
    ckpt = _load(args)
    report, arrays = evaluate(ckpt, args.data, seed=args.seed, progress=not args.quiet,
                              precision=args.precision, fixed=args.fixed, n_boot=args.n_boot)
    title = f"{ckpt.path.name} on {args.data}"
    outputs = [p for p in (args.json, plots) if p is not None] + acc_files
    with atomic_paths(*outputs) as tmps:  # every file written, or none
        tmp = dict(zip(map(str, outputs), tmps))
        if args.json is not None:
            write_json(tmp[str(args.json)], report)
        if plots is not None:
            results = {k: arrays[k] for k in ("model", "optimal filter", "fixed") if k in arrays}
            plot_energy_histograms(results, arrays["true"], arrays["line_index"], arrays["wavelengths_nm"],
                                   tmp[str(plots)], title=title)
        if fixed:
            acc = report["fixed_accuracy"]
            write_json(tmp[str(acc_files[0])], acc)
            plot_fixed_vs_float(arrays["model"], arrays["fixed"], tmp[str(acc_files[1])], title=title)
            plot_signal_ranges(arrays["ranges"], arrays["limits"], tmp[str(acc_files[2])],
                               title=f"signal ranges ({acc['precision']})")
    print(format_table(report))
    if args.json is not None:
        print(f"report -> {args.json}")
    if plots is not None:
        print(f"plot -> {plots}")
    if fixed:
        print(f"accuracy report and plots -> {reports}/accuracy*.{{json,png}}")
        print(summary_line(report["fixed_accuracy"]))  # last: the figure a one-line step shows


def cmd_precision_search(args: argparse.Namespace) -> None:
    from venom_fpga.fixed import precision_search as ps
    from venom_fpga.fixed.precision import fold_layernorm, precision_for, save_precision

    report = _or(args.report, _reports() / "precision_search.json")
    plot = _or(args.plot, _reports() / "precision_search.png")
    _check_outputs(args, ("--out", args.out), ("--report", report), ("--plot", plot))
    ckpt = _load(args)
    iq = _load_windows(args.iq, ckpt)
    held = _load_windows(args.holdout, ckpt) if args.holdout else None
    cfg = precision_for(ckpt, args.precision)
    if args.fold_layernorm:
        cfg = fold_layernorm(cfg, ckpt, iq)
    result = ps.search(ckpt, cfg, iq, budget_mev=args.budget, headroom=args.headroom,
                       progress=None if args.quiet else _print_now)
    rep = ps.report(ckpt, result, iq, held)
    beyond = held is not None and rep["holdout"]["max_abs_dE_meV"] > args.budget
    if beyond:  # the report says why; no config that breaks the budget is written
        with atomic_paths(report, plot) as (tmp_rep, tmp_plot):
            write_json(tmp_rep, rep)
            ps.plot(result, tmp_plot)
        raise CheckFailed(f"{ps.summary_line(rep)}: beyond the {args.budget:g} meV budget on the held-out windows "
                          f"(no config written; more search windows or --headroom lower) -> {_show(report)}")
    with atomic_paths(args.out, report, plot) as (tmp_cfg, tmp_rep, tmp_plot):
        save_precision(result.config, tmp_cfg)
        write_json(tmp_rep, rep)
        ps.plot(result, tmp_plot)
    print(ps.summary_line(rep) + f" -> {_show(args.out)}, {_show(report)}, {_show(plot)}")


def cmd_profile(args: argparse.Namespace) -> None:
    from venom_fpga.fixed.precision import save_precision
    from venom_fpga.metrics.accuracy import profile, saturating_signals

    _check_outputs(args, ("--out", args.out))
    ckpt = _load(args)
    if args.iq is not None:  # windows the user already has: no preprocessing metadata needed
        iq = _load_windows(args.iq, ckpt)
    else:
        from venom_fpga.data.dataset import load_raw, make_windows_from_meta

        iq = make_windows_from_meta(load_raw(args.data), ckpt.meta).iq
    cfg, signal_profile = profile(ckpt, iq, margin=args.margin)
    save_precision(cfg, args.out)
    print(f"profiled {iq.shape[0]} windows -> {args.out}")
    sat = saturating_signals(signal_profile)
    print(f"saturating signals under it: {sat or 'none'}")


def cmd_export(args: argparse.Namespace) -> None:
    from venom_fpga.hls.export import default_out_dir, export

    _check_outputs(args, ("--out", args.out if args.out is not None else default_out_dir(args.weights), REPLACED))
    result = export(args.weights, precision=args.precision, out=args.out, name_map=args.name_map,
                    array=_array_spec(args), channels=args.channels, sample_rate=args.sample_rate)
    print(f"exported {len(result.files)} files -> {_show(result.out_dir)} in {result.seconds:.1f} s")


def _array_spec(args: argparse.Namespace):
    """--slots, --fold, --head-interval (all three, or none: the planner's array for --channels)."""
    given = [args.slots, args.fold, args.head_interval]
    if not any(v is not None for v in given):
        return None
    if any(v is None for v in given):
        raise VenomError("--slots, --fold and --head-interval go together (or leave all three to the planner)")
    from venom_fpga.hls.array import ArraySpec
    from venom_fpga.hls.export import DEFAULT_WINDOW_LENGTH
    from venom_fpga.rtl import planner
    from venom_fpga.rtl.planner import DEFAULT_CHANNELS
    from venom_fpga.target import CLOCK_MHZ

    meta = load_checkpoint(args.weights, name_map=getattr(args, "name_map", None)).meta
    period = int(CLOCK_MHZ * 1e6 // (args.sample_rate or planner.model_sample_rate(meta)))
    return ArraySpec(args.slots, args.channels or DEFAULT_CHANNELS, meta.window_length or DEFAULT_WINDOW_LENGTH,
                     args.fold, args.head_interval, planner.HEAD_QUEUE, planner.RECORD_FIFO, period)


# --- hardware: C simulation, RTL, co-simulation, resources, vendor tools, summary ------------------------------


def cmd_csim(args: argparse.Namespace) -> None:
    from venom_fpga.hls.csim import compare, summary

    path = _or(args.report, _reports() / "csim.json")
    _check_outputs(args, ("--report", path))
    ckpt = _load(args)
    iq = _load_windows(args.iq, ckpt) if args.iq is not None else None
    report = compare(ckpt, args.precision, iq, n_extremes=args.extremes, n_probe=args.probe,
                     channels=args.channels, periods=args.periods, sample_rate=args.sample_rate)
    write_json(path, report)
    if report["mismatches"] or not report["stream"]["ok"]:
        raise CheckFailed(f"{summary(report)} -> {_show(path)}")
    print(f"{summary(report)} -> {_show(path)}")


def cmd_rtl(args: argparse.Namespace) -> None:
    from venom_fpga.rtl.export import export_checkpoint

    if args.out is not None and len(args.lanes) > 1:
        raise UserError("--out names one directory: give one --lanes with it")
    _check_outputs(args, ("--out", args.out, REPLACED))
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

    log = _or(args.log, build_dir() / "logs" / "cosim-sim.log")
    path = _or(args.report, _reports() / "cosim.json")
    _check_outputs(args, ("--report", path), ("--log", log))
    ckpt = _load(args)
    iq = _load_windows(args.iq, ckpt) if args.iq is not None else None
    try:
        array_report = None
        if args.array:
            from venom_fpga.rtl.array_sim import cosim as array_cosim

            array_report = array_cosim(ckpt, args.precision, iq=iq, channels=args.channels, rate_cps=args.rate,
                                       periods=args.periods, sim=args.sim, log=log, progress=_print_now)
        report = cosim(ckpt, args.precision, lanes=args.lanes, windows=args.windows,
                       iq=iq, sim=args.sim, log=log, progress=_print_now)
    except SimulationError as exc:
        raise CheckFailed(str(exc)) from None
    if array_report is not None:
        report["array"] = array_report
    write_json(path, report)
    problem = failure(report)
    if array_report is not None and not array_report["ok"]:
        problem = "; ".join(p for p in (f"array cosim: {array_report['first_difference']}", problem) if p)
    if problem:
        raise CheckFailed(f"{problem} -> {_show(path)}")
    lanes = ", ".join(str(s["lanes"]) for s in report["settings"])
    done = f"the array's {array_report['records']} records and " if array_report is not None else ""
    print(f"cosim OK: {done}{report['windows']} windows bit-exact at LANES {lanes} ({report['sim']}) -> {_show(path)}")


def cmd_resources(args: argparse.Namespace) -> None:
    from venom_fpga.rtl.resources import ResourcesError, resources

    path = _or(args.report, _reports() / "resources.json")
    _check_outputs(args, ("--report", path))
    ckpt = _load(args)
    try:
        array_report = None
        if args.array:
            from venom_fpga.rtl.resources import array_resources

            array_report = array_resources(ckpt, args.precision, channels=args.channels, rate_cps=args.rate,
                                           timeout=args.timeout, reuse=args.reuse, progress=_print_now)
        report = resources(ckpt, args.precision, lanes=args.lanes, timeout=args.timeout,
                           reuse=args.reuse, fast=args.fast, progress=_print_now)
    except ResourcesError as exc:
        raise CheckFailed(str(exc)) from None
    if array_report is not None:
        report["array"] = array_report
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
    report = _or(args.report, _reports() / "hls.json")
    _check_outputs(args, ("--report", report))
    return _run_script("run_vitis_hls.sh", [str(project), str(report)], {})


def cmd_vivado(args: argparse.Namespace) -> int:
    from venom_fpga.rtl.resources import export_for_synthesis

    report = _or(args.report, _reports() / "vivado.json")
    _check_outputs(args, ("--report", report))
    ckpt = _load(args)
    gen = [str(export_for_synthesis(ckpt, args.precision, n)["out"]) for n in args.lanes]
    return _run_script("run_vivado.sh", gen, {"REPORT": str(report)})


def cmd_plan(args: argparse.Namespace) -> None:
    from venom_fpga.fixed.model import FixedModel
    from venom_fpga.metrics.plots import plot_array_capacity
    from venom_fpga.rtl.planner import Budget, format_table, model_sample_rate, overflow_curves, plan_report
    from venom_fpga.target import CLOCK_MHZ

    out = _or(args.json, _reports() / "plan.json")
    _check_outputs(args, ("--json", out))
    out = Path(out)
    plot = _or(args.plot, out.with_suffix(".png"))
    _check_outputs(args, ("--json", out), ("--plot", plot))
    clock = args.clock if args.clock is not None else CLOCK_MHZ
    budget = Budget(**{**Budget().__dict__, **dict(_budget_item(s) for s in args.budget)})
    ckpt = _load(args)
    length = args.window_length or ckpt.meta.window_length
    if length is None:
        raise UserError(f"{args.weights}: no window_length in its metadata: give --window-length")
    rate_hz = args.sample_rate or model_sample_rate(ckpt.meta)
    model = FixedModel(ckpt, args.precision)
    model.precision.check_window_length(length, "plan")
    report = plan_report(model, args.channels, args.rate, clock * 1e6, rate_hz, length, budget)
    with atomic_paths(out, plot) as (tmp_out, tmp_plot):
        write_json(tmp_out, report)
        plot_array_capacity(overflow_curves(report), args.rate, report["overflow_target"], tmp_plot)
    print(f"array plan: {args.channels} channels, {args.rate:g} counts/s per pixel, {clock:g} MHz, model rate "
          f"{rate_hz / 1e3:g} kHz, L = {length} (DSP48E2 and timing of the generated RTL; BRAM, LUT estimated)")
    print(format_table(report))
    c = report["chosen"]
    if c is None:
        raise CheckFailed(f"no configuration fits the budget {budget} -> {_show(out)}")
    if c["capacity_cps"] < args.rate:
        warnings.warn(f"the best configuration within the budget serves {c['capacity_cps']:,.0f} counts/s per "
                      f"pixel, less than {args.rate:g}", VenomWarning)
    cap = "a slot for every channel" if c["capacity_cps"] is None or c["capacity_cps"] == float("inf") else \
        f"capacity {c['capacity_cps']:,.0f} counts/s per pixel"
    print(f"chosen F={c['fold']}, S={c['slots']}: {cap}, ~{c['dsp']:,} DSP48E2 (step {c['dsp_step']:,}), "
          f"~{c['bram36']:g} BRAM36 -> {_show(out)}, {_show(plot)}")


def _budget_item(text: str) -> tuple[str, float]:
    from venom_fpga.rtl.planner import Budget

    key, _, value = text.partition("=")
    if key not in Budget.__dataclass_fields__:
        raise UserError(f"--budget {text}: use KEY=VALUE with KEY one of {', '.join(Budget.__dataclass_fields__)}")
    try:
        v = float(value)
    except ValueError:
        raise UserError(f"--budget {text}: {value!r} is not a number") from None
    if not 0 <= v <= 1e9:  # beyond any device: keeps the planner's arithmetic finite
        raise UserError(f"--budget {text}: must be a number in 0..1e9")
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

    parser = _Parser(prog="venom-fpga", description=__doc__.splitlines()[0])
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
    p.add_argument("--n-per-line", type=_positive_int, required=True, help="pulses per wavelength")
    p.add_argument("--seed", type=_in_range(int, 0, 2**63 - 1), default=0)
    p.add_argument("--out", required=True, help="output directory (must not exist or be empty)")
    p.add_argument("--continuum", type=int, metavar="N",
                   help="N lines spread evenly in energy over the preset's range (training sets) instead of its lines")
    p.add_argument("--force", action="store_true",
                   help="replace an existing synthetic data set (only once the new one is complete)")
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
    p.add_argument("--qat", help="quantization-aware fine-tuning for this precision config (.json), from --init "
                                 "(defaults then: 3 epochs, lr 3e-4)")
    p.add_argument("--init", help="the float checkpoint --qat starts from")
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
    p.add_argument("--seed", type=_in_range(int, 0, 2**63 - 1), default=0, help="seed of the calibration/scoring split")
    p.add_argument("--precision", help="add the fixed-point model with this precision config")
    p.add_argument("--fixed", action="store_true", help="add the fixed-point model with the checkpoint's own config")
    p.add_argument("--accuracy-dir", help="where accuracy.json and its plots go (default build/reports)")
    p.add_argument("--n-boot", type=_in_range(int, 0, 100_000), default=200,
                   help="bootstrap resamples (0 to 100000; 0: none) of the fixed-vs-float R intervals, seeded by "
                        "--seed (default 200)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("profile", help="size a precision config on data or windows and report what saturates")
    add_weights(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="VENOM-format data directory (windows made with the checkpoint's preprocessing)")
    src.add_argument("--iq", help=".npy of (N, L, 2) decimated, normalised I/Q windows (no preprocessing metadata "
                                  "needed)")
    p.add_argument("--out", required=True, help="precision config to write (.json)")
    p.add_argument("--margin", type=_in_range(float, 1.0, 65536.0), default=2.0,
                   help="headroom factor (1 to 65536) on each signal's observed range (default 2)")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("precision-search", help="narrower formats under an energy budget, priced in DSP48E2 of the "
                                                "array's step")
    add_weights(p)
    p.add_argument("--precision", help="starting config (default <weights stem>.precision.json, else the default)")
    p.add_argument("--iq", required=True, help=".npy of (N, L, 2) windows the search measures |E_fixed - E_float| on")
    p.add_argument("--holdout", help=".npy of fresh windows the result is checked on (reported, not searched)")
    p.add_argument("--budget", type=_in_range(float, 1e-6, 1e6), default=0.5,
                   help="max |E_fixed - E_float| in meV (default 0.5)")
    p.add_argument("--headroom", type=_in_range(float, 0.01, 1.0), default=0.4,
                   help="share of the budget the search may spend on its windows (default 0.4: a maximum over a "
                        "thousand windows is a tail statistic, fresh windows go further)")
    p.add_argument("--fold-layernorm", action="store_true",
                   help="start from the config with layer 0's LayerNorm folded into its in_proj (far fewer products; "
                        "the new signals' ranges from --iq)")
    p.add_argument("--out", required=True, help="precision config to write (.json)")
    p.add_argument("--report", help="JSON report (default build/reports/precision_search.json)")
    p.add_argument("--plot", help="cost vs max |dE| plot (default build/reports/precision_search.png)")
    p.add_argument("--quiet", action="store_true", help="no line per format")
    p.set_defaults(func=cmd_precision_search)

    p = sub.add_parser("export", help="Vitis-HLS C++ project (kernels, weights, tables, test bench, tcl)")
    add_weights(p)
    p.add_argument("--precision", help="precision config (default <weights stem>.precision.json, else the default)")
    p.add_argument("--out", help="output directory (default hls/generated/<weights stem>/), replaced atomically")
    p.add_argument("--channels", type=_in_range(int, 1, 1 << 20),
                   help="channels the array serves (default 2048; 1: the single-channel core, S = 1)")
    p.add_argument("--slots", type=_in_range(int, 1, ARRAY_MAX), help="slots S (with --fold and --head-interval; "
                   "default: the plan)")
    p.add_argument("--fold", type=_in_range(int, 1, ARRAY_MAX), help="fold factor F, a power of two (the step's II)")
    p.add_argument("--head-interval", type=_in_range(int, 1, ARRAY_MAX),
                   help="clocks between head starts (the head's II)")
    p.add_argument("--sample-rate", type=_in_range(float, 1.0, 1e10),
                   help="model-rate samples/s (default: from the metadata)")
    p.set_defaults(func=cmd_export)

    def add_precision(p: argparse.ArgumentParser) -> None:
        p.add_argument("--precision", help="precision config (default <weights stem>.precision.json, else the default)")

    def add_array_load(p: argparse.ArgumentParser) -> None:
        """The array's channel count and design photon rate (plan, cosim --array, resources --array)."""
        # ranges far beyond any MKID readout, so that the planner's arithmetic stays finite
        p.add_argument("--channels", type=_in_range(int, 1, 1 << 20), default=2048,
                       help="resonator channels (default 2048)")
        p.add_argument("--rate", type=_in_range(float, 1e-3, 1e9), default=1000.0,
                       help="design counts/s per pixel (default 1000)")

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
    p.add_argument("--probe", type=_in_range(int, 1, MAX_GENERATED_WINDOWS), default=1000,
                   help=f"probe windows when no --iq is given (default 1000, at most {MAX_GENERATED_WINDOWS})")
    p.add_argument("--extremes", type=_in_range(int, 0, MAX_GENERATED_WINDOWS), default=64,
                   help="windows of extreme input codes to add (default 64)")
    p.add_argument("--channels", type=_in_range(int, 1, 1 << 20), default=2048,
                   help="channels of the planned array the token streams run through (default 2048)")
    p.add_argument("--periods", type=_in_range(int, 1, 1 << 20), default=600,
                   help="model-rate periods of each token stream (at 1000 counts/s and above capacity; default 600)")
    p.add_argument("--sample-rate", type=_in_range(float, 1.0, 1e10),
                   help="model-rate samples/s (default: from the metadata)")
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
    p.add_argument("--windows", type=_in_range(int, 1, MAX_GENERATED_WINDOWS), default=100,
                   help="windows per LANES setting (default 100)")
    p.add_argument("--iq", help=".npy of (N, L, 2) windows (default: synthetic probe windows)")
    p.add_argument("--sim", choices=["verilator", "icarus"], help="simulator (default $SIM, else verilator)")
    p.add_argument("--log", help="simulator and compiler output (default build/logs/cosim-sim.log)")
    p.add_argument("--array", action="store_true",
                   help="also the array datapath: the plan's configuration for --channels at --rate, Poisson photons "
                        "at that rate and above capacity, records and drops against the array model")
    add_array_load(p)
    p.add_argument("--periods", type=_in_range(int, 1, 1_000_000), default=400,
                   help="array model-rate periods per rate (default 400)")
    add_report(p, "cosim.json")
    p.set_defaults(func=cmd_cosim)

    p = sub.add_parser("resources", help="Yosys resource estimate (LUT, FF, DSP48E2, BRAM) per LANES setting")
    add_weights(p)
    add_precision(p)
    add_lanes(p)
    p.add_argument("--timeout", type=_in_range(int, 1, 10**6), default=3600,
                   help="seconds per Yosys run (default 3600)")
    p.add_argument("--reuse", action="store_true", help="reuse a Yosys result newer than the hand-written RTL")
    p.add_argument("--fast", action="store_true", help="abc -fast LUT mapping (minutes; LUT count an upper bound)")
    p.add_argument("--array", action="store_true",
                   help="also the array RTL: the plan's configuration for --channels at --rate and folds 2, 4 "
                        "(abc -fast LUT mapping), against the plan's figures")
    add_array_load(p)
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
    add_array_load(p)
    p.add_argument("--clock", type=_in_range(float, 1.0, 1e4), default=None, help="clock in MHz (default: target.py's)")
    p.add_argument("--sample-rate", type=_in_range(float, 1.0, 1e10),
                   help="model-rate samples/s (default: from the metadata)")
    p.add_argument("--window-length", type=_in_range(int, 1, MAX_COUNT),
                   help="samples per window (default: from the metadata)")
    p.add_argument("--budget", action="append", default=[], metavar="KEY=VALUE",
                   help="device budget override (dsp, bram36, uram, lut; default: what MKIDGen3 leaves free)")
    p.add_argument("--json", help="report (default build/reports/plan.json)")
    p.add_argument("--plot", help="plot of the slot-overflow probability (default: the report's name, .png)")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("summary", help="one screen of the reports: accuracy, bit-exactness, resources, timing")
    p.add_argument("--reports", help="reports directory (default build/reports)")
    p.set_defaults(func=cmd_summary)
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors as one line, like every other mistake (its subcommand parsers are this class)."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"venom-fpga: error: {self.prog.removeprefix('venom-fpga').strip() or 'usage'}: "
                              f"{message} (see {self.prog} --help)\n")


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


def _in_range(kind: type, low: float, high: float):
    """The type of a number option (``kind`` int or float) in [low, high]."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: {text!r}") from None
        if not low <= value <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"must be in {low:g}..{high:g}, not {text}")
        return value

    return parse


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())  # a message is one line, whatever a library put in it
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return text or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    notices: list[str] = []
    with warnings.catch_warnings(), interruptible():
        # what the user must see is a VenomWarning: one line each, after a command that succeeded (a failure is its
        # one error line). Other libraries' warnings (numpy's floating-point ones: every result is checked finite;
        # torch's deprecations) are not the user's business here.
        warnings.simplefilter("ignore")
        warnings.simplefilter("always", VenomWarning)
        warnings.showwarning = lambda message, *_, **__: notices.append(" ".join(str(message).split()))
        try:
            status = args.func(args) or 0
            for notice in dict.fromkeys(notices):  # each once, in order
                print(f"venom-fpga: warning: {notice}", file=sys.stderr)
            return status
        except CheckFailed as exc:
            print(f"venom-fpga: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_FAILED
        # VenomError: every mistake this library detects. ValueError: modules not yet on VenomError (fixed/lut,
        # rtl/isa, data/optimal_filter, metrics/resolving_power) still raise it for bad input. OSError: a file the
        # system refuses (permissions, disk full), named by the system's message.
        except (VenomError, ValueError, OSError) as exc:
            print(f"venom-fpga: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_USAGE
        except MemoryError as exc:  # an input (or option) far larger than this machine: say so, in one line
            print(f"venom-fpga: error: out of memory ({_one_line(exc)})", file=sys.stderr)
            return EXIT_USAGE
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: temporary files are already removed
            name = str(exc) if isinstance(exc, Interrupted) else "SIGINT"
            print(f"venom-fpga: interrupted ({name})", file=sys.stderr)
            return 128 + (exc.signum if isinstance(exc, Interrupted) else 2)


if __name__ == "__main__":
    sys.exit(main())
