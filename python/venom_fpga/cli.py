"""The ``venom-fpga`` command line.

User mistakes (bad files, bad shapes, bad options) end with a one-line ``venom-fpga: error: ...`` and
exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from venom_fpga.model.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from venom_fpga.files import atomic_path, write_json

EXIT_USAGE = 2


class UserError(Exception):
    """A mistake on the user's side, reported in one line."""


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
    from venom_fpga.predict import predict

    ckpt = _load(args)
    iq = _load_npy(args.iq, "I/Q")
    options = {}
    if args.precision is not None:
        if args.backend.startswith("float"):
            raise UserError(f"--precision applies to the fixed-point backends, not {args.backend}")
        options["precision"] = args.precision
    out = predict(ckpt, iq, backend=args.backend, progress=not args.quiet, **options)
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
        print(summary_line(acc))
        reports = Path(args.accuracy_dir)
        write_json(reports / "accuracy.json", acc)
        plot_fixed_vs_float(arrays["model"], arrays["fixed"], reports / "accuracy_dE.png", title=title)
        plot_signal_ranges(arrays["ranges"], arrays["limits"], reports / "accuracy_signal_ranges.png",
                           title=f"signal ranges ({acc['precision']})")
        print(f"accuracy report and plots -> {reports}/accuracy*.{{json,png}}")


def cmd_profile(args: argparse.Namespace) -> None:
    from venom_fpga.metrics.accuracy import profile, saturating_signals
    from venom_fpga.data.dataset import load_raw, make_windows_from_meta
    from venom_fpga.fixed.precision import save_precision

    ckpt = _load(args)
    windows = make_windows_from_meta(load_raw(args.data), ckpt.meta)
    cfg, signal_profile = profile(ckpt, windows.iq, margin=args.margin)
    save_precision(cfg, args.out)
    print(f"profiled {windows.iq.shape[0]} windows -> {args.out}")
    sat = saturating_signals(signal_profile)
    print(f"saturating signals under it: {sat or 'none'}")


def cmd_export(args: argparse.Namespace) -> None:
    from venom_fpga.hls.export import DEFAULT_REUSE_FACTOR, export

    result = export(args.weights, precision=args.precision, out=args.out, name_map=args.name_map,
                    reuse_factor=args.reuse_factor if args.reuse_factor is not None else DEFAULT_REUSE_FACTOR)
    print(f"exported {len(result.files)} files -> {result.out_dir} in {result.seconds:.1f} s")


# --- wiring --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    from venom_fpga.predict import BACKENDS

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

    p = sub.add_parser("profile", help="size a precision config on data and report what saturates")
    add_weights(p)
    p.add_argument("--data", required=True, help="VENOM-format data directory")
    p.add_argument("--out", required=True, help="precision config to write (.json)")
    p.add_argument("--margin", type=float, default=2.0, help="headroom factor on each signal's observed range")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("export", help="Vitis-HLS C++ project (kernels, weights, tables, test bench, tcl)")
    add_weights(p)
    p.add_argument("--precision", help="precision config (default <weights stem>.precision.json, else the default)")
    p.add_argument("--out", help="output directory (default hls/generated/<weights stem>/), replaced atomically")
    p.add_argument("--reuse-factor", type=int, help="cycles per sample of the core (folding; default 16)")
    p.set_defaults(func=cmd_export)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (UserError, CheckpointError, ValueError, FileNotFoundError) as exc:
        print(f"venom-fpga: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
