# SPDX-License-Identifier: BSD-3-Clause
"""venom-fpga: a trained VENOM checkpoint in, bit-exact FPGA hardware out.

The Python API (for notebooks; the ``venom-fpga`` command line runs the same library functions)::

    import venom_fpga as vf

    model = vf.load("weights/venom_synth_ptsi.safetensors")   # + precision=..., name_map=...
    out = model.predict(iq, backend="fixed")                   # (N, 2): energy (eV), log-variance (eV^2)
    model.export_hls(out="my_hls")                             # Vitis-HLS project
    vf.read_report("accuracy")                                 # build/reports/accuracy.json as a dict

Errors: a user mistake raises the library's own exception (``vf.CheckpointError``, ``vf.PrecisionError``,
``vf.ExportError``, ...: all ``vf.VenomError``, a ``ValueError``; ``FileNotFoundError`` for a missing file) whose text
is exactly the line the CLI prints after ``venom-fpga: error:``; a hardware backend (``csim``, ``rtl``) whose codes
differ from the fixed-point model's raises ``vf.BackendMismatchError``. Notices a user must see (e.g. a default
energy calibration) are ``vf.VenomWarning`` warnings.

Importing this package is cheap (every CLI call imports it): torch, scipy, jinja2 and matplotlib load only when a
function needs them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import numpy as np

    from venom_fpga.data.dataset import Windows
    from venom_fpga.fixed.model import FixedModel
    from venom_fpga.fixed.precision import PrecisionConfig
    from venom_fpga.hls.export import ExportResult
    from venom_fpga.model.checkpoint import Checkpoint
    from venom_fpga.model.dims import ModelDims
    from venom_fpga.model.meta import Metadata

__version__ = "0.1.0"

__all__ = ["load", "Model", "Profile", "read_report", "synth", "VenomError", "VenomWarning", "CheckpointError",
           "PrecisionError", "ExportError", "BackendMismatchError"]

# The exceptions live with the code that raises them; importing them here eagerly would load numpy on every CLI call.
_LAZY = {
    "VenomError": "venom_fpga.errors",
    "VenomWarning": "venom_fpga.errors",
    "CheckpointError": "venom_fpga.model.checkpoint",
    "PrecisionError": "venom_fpga.fixed.precision",
    "ExportError": "venom_fpga.hls.export",
    "BackendMismatchError": "venom_fpga.predict",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


_PathLike = str | os.PathLike


def load(weights: _PathLike, precision: PrecisionConfig | _PathLike | None = None,
         name_map: _PathLike | None = None) -> Model:
    """Load a checkpoint (``venom-fpga inspect`` says what it holds).

    ``precision``: the precision config of the fixed-point backends and exports, a path or a ``PrecisionConfig``
    (default: ``<stem>.precision.json`` beside the checkpoint, else the default config, chosen on first use). An
    explicit one is checked here, by building the fixed-point model. ``name_map``: JSON of the file's tensor names
    to canonical names.
    """
    from venom_fpga.model.checkpoint import load_checkpoint

    return Model(load_checkpoint(weights, name_map=name_map), precision)


class Profile(NamedTuple):
    """What :meth:`Model.profile` found: a precision config sized on the windows, each signal's observed range and
    saturations under it, and the signals that still saturate (name -> count)."""

    precision: PrecisionConfig
    signals: dict[str, dict]
    saturating: dict[str, int]

    def save(self, path: _PathLike) -> Path:
        """Write the config as JSON (atomically), for ``--precision`` or :func:`load`."""
        from venom_fpga.fixed.precision import save_precision

        return save_precision(self.precision, path)


class Model:
    """A loaded checkpoint and the precision config of its fixed-point model (make one with :func:`load`)."""

    def __init__(self, checkpoint: Checkpoint, precision: PrecisionConfig | _PathLike | None = None):
        self.checkpoint = checkpoint
        self._precision = precision  # None: FixedModel's choice (precision_for), as in the CLI
        # an explicit config fails here (file, dims, op plan), not at the first fixed-point prediction
        self._fixed: FixedModel | None = self._build_fixed() if precision is not None else None

    def __repr__(self) -> str:
        d = self.dims
        return (f"<venom_fpga.Model {self.checkpoint.path}: d_model={d.d_model} d_state={d.d_state} "
                f"d_conv={d.d_conv} n_layers={d.n_layers}, {self.checkpoint.n_params:,} parameters>")

    @property
    def dims(self) -> ModelDims:
        return self.checkpoint.dims

    @property
    def meta(self) -> Metadata:
        """Preprocessing, energy calibration and provenance."""
        return self.checkpoint.meta

    @property
    def fixed(self) -> FixedModel:
        """The bit-accurate fixed-point golden model (built on first use)."""
        if self._fixed is None:
            self._fixed = self._build_fixed()
        return self._fixed

    def _build_fixed(self) -> FixedModel:
        from venom_fpga.fixed.model import FixedModel

        return FixedModel(self.checkpoint, self._precision)

    @property
    def precision(self) -> PrecisionConfig:
        """The precision config of the fixed-point backends and exports (``.source`` says where it came from)."""
        return self.fixed.precision

    def with_precision(self, precision: PrecisionConfig | _PathLike) -> Model:
        """The same checkpoint with another precision config (e.g. ``model.profile(iq).precision``)."""
        return Model(self.checkpoint, precision)

    def predict(self, iq: np.ndarray, backend: str = "float", progress: bool = False, **options: Any) -> np.ndarray:
        """(N, L, 2) decimated, normalised I/Q windows -> (N, 2) float64: energy (eV) and its log-variance (eV^2).

        ``backend``: ``float`` (parallel scan), ``float-recurrent`` (sample by sample), ``fixed`` (bit-accurate
        golden model), ``csim`` (the exported HLS C++ under g++), ``rtl`` (the generated Verilog under cocotb);
        the fixed-point ones use this model's precision config, and ``csim``/``rtl`` raise ``BackendMismatchError``
        when a window's codes differ from the fixed-point model's. ``options`` go to the backend (``rtl``: ``lanes``,
        ``sim``, ``log``).
        """
        import inspect

        from venom_fpga.predict import BACKENDS, predict

        # every backend that takes a precision config gets this model's (a float backend takes none)
        if backend in BACKENDS and "precision" in inspect.signature(BACKENDS[backend]).parameters:
            options.setdefault("precision", self.precision)
        return predict(self.checkpoint, iq, backend=backend, progress=progress, **options)

    def windows(self, data: _PathLike) -> Windows:
        """Model-input windows of a VENOM-format data directory with this checkpoint's preprocessing: ``.iq``
        (N, L, 2), ``.energy_ev`` (true energies), ``.line_index``, ``.wavelengths_nm``."""
        from venom_fpga.data.dataset import load_raw, make_windows_from_meta

        return make_windows_from_meta(load_raw(data), self.meta)

    def profile(self, iq: np.ndarray, margin: float = 2.0) -> Profile:
        """Size a precision config on windows (each signal's float range times ``margin``) and report what still
        saturates under it (``venom-fpga profile``). Use it with :meth:`with_precision`; keep it with
        ``Profile.save``."""
        from venom_fpga.metrics.accuracy import profile, saturating_signals
        from venom_fpga.predict import check_windows

        cfg, signals = profile(self.checkpoint, check_windows(iq, self.checkpoint), margin=margin)
        return Profile(cfg, signals, saturating_signals(signals))

    def export_hls(self, out: _PathLike | None = None, channels: int | None = None, array=None) -> ExportResult:
        """The Vitis-HLS C++ project (``venom-fpga export``) in ``out`` (default ``hls/generated/<stem>/``),
        replaced atomically; ``.out_dir``, ``.files``. The array the planner chooses for ``channels`` channels
        (default 2,048), or ``array`` (a ``venom_fpga.hls.array.ArraySpec``; S = 1 for a single channel)."""
        from venom_fpga.hls.export import export

        return export(self.checkpoint, precision=self.precision, out=out, array=array, channels=channels)

    def export_rtl(self, lanes: int = 4, out: _PathLike | None = None) -> dict:
        """The generated Verilog top and memory files (``venom-fpga rtl``) in ``out`` (default
        ``rtl/generated/<stem>_l<lanes>/``); returns its parameters (``params.json``)."""
        from venom_fpga.rtl.export import export_checkpoint

        return export_checkpoint(self.checkpoint, precision=self.precision, lanes=lanes, out=out)


def synth(preset: str, n_per_line: int, out: _PathLike, seed: int = 0, continuum: int | None = None,
          progress: bool = False) -> Path:
    """Synthetic MKID pulses in the VENOM data format (``venom-fpga synth``): ``preset`` ``ptsi`` or ``inhf``,
    ``n_per_line`` pulses per line, into ``out`` (must not exist or be empty); returns ``out``."""
    from venom_fpga.data.synth import write_dataset

    return write_dataset(preset, n_per_line, seed, out, progress=progress, continuum=continuum)


def read_report(report: _PathLike) -> dict:
    """A JSON report as a dict: a path, or a name under ``build/reports/`` (``accuracy``, ``csim``, ``cosim``,
    ``resources``, ``vivado``, ``hls``; ``$VENOM_FPGA_BUILD`` moves build/)."""
    import json

    from venom_fpga.paths import build_dir

    path = Path(report)
    reports = build_dir() / "reports"
    if not path.suffix and path.name == str(report):  # a bare name, not a path
        path = reports / f"{report}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        found = sorted(p.stem for p in reports.glob("*.json")) if path.parent == reports else []
        there = f" (reports there: {', '.join(found)})" if found else ""
        raise FileNotFoundError(f"{path}: no such report{there}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON report ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON report (a {type(data).__name__}, not an object)")
    return data
