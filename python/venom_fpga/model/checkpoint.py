# SPDX-License-Identifier: BSD-3-Clause
"""Loading and saving VENOM checkpoints.

Accepts true safetensors files and legacy PyTorch zip archives that carry a ``.safetensors`` suffix
(told apart by their magic bytes, the latter loaded with ``weights_only=True``). Tensor names are mapped
to the canonical layout of DESIGN.md §1: first a user name map (their name -> canonical name), then the
built-in aliases (a ``backbone.`` prefix, ``log_neg_A`` for ``A_log``, MLX's ``(d_inner, d_conv, 1)``
conv layout). Dimensions are inferred from shapes and every tensor is cross-checked against them.

Every user mistake raises ``CheckpointError`` with a one-line message naming the file (and tensor).
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from venom_fpga.errors import VenomError
from venom_fpga.files import atomic_path, read_json
from venom_fpga.model.dims import ModelDims
from venom_fpga.model.meta import CALIBRATION_KEYS, Metadata, MetadataError, decode_header_value

ZIP_MAGIC = b"PK\x03\x04"
# A safetensors header longer than this is not a checkpoint of a model this small.
MAX_HEADER_BYTES = 100 * 1024 * 1024
# Largest |weight| accepted: what a float32 checkpoint can hold. No trained weight comes near it, and beyond it the
# float model overflows and no fixed-point format exists.
MAX_ABS_WEIGHT = float(np.finfo(np.float32).max)


class CheckpointError(VenomError):
    """A checkpoint (or its metadata or name map) that cannot be used, explained in one line."""


@dataclass
class Checkpoint:
    path: Path
    tensors: dict[str, np.ndarray]  # canonical name -> float64 array, in canonical order
    dims: ModelDims
    meta: Metadata
    defaults_used: list[str]
    source_format: str  # "safetensors" or "torch-zip"
    renamed: dict[str, str] = field(default_factory=dict)  # stored name -> canonical name, where different
    meta_source: str = "defaults"  # "header", "sidecar" or "defaults"

    @property
    def n_params(self) -> int:
        return int(sum(t.size for t in self.tensors.values()))

    @property
    def calibrated(self) -> bool:
        """False when the energy calibration is the default (energies are then the model's raw output, not eV)."""
        return not any(k in self.defaults_used for k in CALIBRATION_KEYS)

    @property
    def files(self) -> list[Path]:
        """The files this checkpoint was read from: the checkpoint and, if used, its metadata sidecar."""
        return [self.path] + ([sidecar_path(self.path)] if self.meta_source == "sidecar" else [])


def sidecar_path(path: str | os.PathLike) -> Path:
    """The metadata sidecar ``<stem>_meta.json`` beside a checkpoint."""
    path = Path(path)
    return path.with_name(f"{path.stem}_meta.json")


def checkpoint_identity(ckpt: Checkpoint) -> tuple[str, Path | bytes]:
    """(name, source) of a checkpoint for a provenance line (files.generated_header): its file, else its tensors."""
    if ckpt.path is not None and Path(ckpt.path).is_file():
        return Path(ckpt.path).name, Path(ckpt.path)
    return "checkpoint (in memory)", b"".join(name.encode() + np.ascontiguousarray(t, dtype=np.float64).tobytes()
                                               for name, t in ckpt.tensors.items())


def load_checkpoint(path: str | os.PathLike, name_map: str | os.PathLike | None = None) -> Checkpoint:
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint")
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a regular file")
    user_map = _load_name_map(Path(name_map)) if name_map is not None else {}
    raw, header_meta, fmt = _read_tensors(path)
    tensors, renamed = _canonical_names(path, raw, user_map)
    dims = _infer_dims(path, tensors)
    tensors = _check_shapes(path, tensors, dims)
    meta, defaults_used, meta_source = _load_metadata(path, header_meta)
    return Checkpoint(path, tensors, dims, meta, defaults_used, fmt, renamed, meta_source)


def save_checkpoint(path: str | os.PathLike, tensors: dict[str, np.ndarray], meta: Metadata) -> Path:
    """Write a true safetensors file (float32, metadata in the header), atomically."""
    from safetensors.numpy import save_file

    arrays = {k: np.ascontiguousarray(np.asarray(v, dtype=np.float32)) for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(arrays, str(tmp), metadata=meta.to_safetensors_header())
    return Path(path)


# --- reading -------------------------------------------------------------------------------------


def _read_tensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str], str]:
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if head[:4] == ZIP_MAGIC:
        return _read_torch_zip(path), {}, "torch-zip"
    return *_read_safetensors(path), "safetensors"


def _read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    import torch
    from safetensors import SafetensorError, safe_open

    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(9)
    if len(head) < 9:
        raise CheckpointError(f"{path}: not a safetensors file (only {size} bytes)")
    (header_len,) = struct.unpack("<Q", head[:8])
    if head[8:9] != b"{" or header_len > MAX_HEADER_BYTES:
        raise CheckpointError(f"{path}: not a safetensors file or PyTorch zip archive (bad header)")
    if 8 + header_len > size:
        raise CheckpointError(f"{path}: truncated safetensors file (header says {header_len} bytes, file has {size})")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: _to_numpy(path, k, f.get_tensor(k)) for k in f.keys()}
    except (SafetensorError, OSError, RuntimeError, TypeError, json.JSONDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: truncated or corrupt safetensors file ({first})") from None
    return tensors, meta


def _read_torch_zip(path: Path) -> dict[str, np.ndarray]:
    import torch

    try:
        # A file object, not the path: torch 2.13 routes a path ending in .safetensors to its
        # safetensors reader, which is exactly what a legacy zip archive is not.
        with open(path, "rb") as f:
            obj = torch.load(f, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad archives; the user needs one line
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: unreadable PyTorch zip archive ({first})") from None
    # Training scripts often wrap the state dict: {"state_dict": {...}} or {"model": {...}}.
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: PyTorch archive holds a {type(obj).__name__}, not a state dict")
    tensors = {}
    for name, value in obj.items():
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: entry {name!r} is a {type(value).__name__}, not a tensor")
        tensors[name] = _to_numpy(path, name, value)
    return tensors


def _to_numpy(path: Path, name: str, value) -> np.ndarray:
    """A stored tensor as float64, refusing what would convert silently wrong (complex: the imaginary part lost) or
    not at all (sparse, quantized, non-numeric)."""
    import torch

    if value.layout != torch.strided:
        raise CheckpointError(f"{path}: tensor {name!r} is stored {str(value.layout).removeprefix('torch.')}; "
                              "save it dense")
    if value.is_quantized:
        raise CheckpointError(f"{path}: tensor {name!r} is quantized ({value.dtype}); save it as float")
    if not value.dtype.is_floating_point:
        raise CheckpointError(f"{path}: tensor {name!r} has dtype {str(value.dtype).removeprefix('torch.')}, "
                              "not a real floating-point type")
    return value.detach().to(torch.float64).numpy()


def _load_name_map(path: Path) -> dict[str, str]:
    mapping = read_json(path, "name map", CheckpointError)
    if not (isinstance(mapping, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())):
        raise CheckpointError(f"{path}: name map must be a JSON object of their name -> canonical name strings")
    return mapping


def _load_metadata(path: Path, header: dict[str, str]) -> tuple[Metadata, list[str], str]:
    sidecar = sidecar_path(path)
    raw: dict = {k: decode_header_value(v) for k, v in header.items()}
    source = "header" if set(header) - {"format"} else "defaults"
    side: dict = {}
    if sidecar.exists():
        side = read_json(sidecar, "metadata sidecar", CheckpointError)
        if not isinstance(side, dict):
            raise CheckpointError(f"{sidecar}: metadata sidecar must be a JSON object, found {type(side).__name__}")
        raw.update(side)  # the sidecar is the newer, hand-editable record
        source = "sidecar"
    try:
        meta, defaults_used = Metadata.from_dict(raw, json_strings=False)  # the sidecar's strings are strings
    except MetadataError as exc:  # name the file the bad value came from
        raise CheckpointError(f"{sidecar if exc.key in side else path}: {exc}") from None
    return meta, defaults_used, source


# --- names and shapes ----------------------------------------------------------------------------


def _canonical_name(name: str) -> str:
    if name.startswith("backbone."):
        name = name[len("backbone.") :]
    if name.endswith("log_neg_A"):
        name = name[: -len("log_neg_A")] + "A_log"
    return name


def _canonical_names(
    path: Path, raw: dict[str, np.ndarray], user_map: dict[str, str]
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    for their in user_map:
        if their not in raw:
            raise CheckpointError(f"{path}: name map entry {their!r} matches no tensor in the file")
    tensors: dict[str, np.ndarray] = {}
    renamed: dict[str, str] = {}
    for name, value in raw.items():
        canon = _canonical_name(user_map.get(name, name))
        if canon in tensors:
            raise CheckpointError(f"{path}: tensor {name!r} maps to {canon!r}, which another tensor already has")
        if canon != name:
            renamed[name] = canon
        tensors[canon] = value
    return tensors, renamed


def _shape_of(path: Path, tensors: dict[str, np.ndarray], name: str, ndim: int) -> tuple[int, ...]:
    if name not in tensors:
        raise CheckpointError(f"{path}: missing tensor {name!r}")
    shape = tensors[name].shape
    if len(shape) != ndim:
        raise CheckpointError(f"{path}: tensor {name!r} expected {ndim} dimensions, found shape {tuple(shape)}")
    return tuple(shape)


def _infer_dims(path: Path, tensors: dict[str, np.ndarray]) -> ModelDims:
    layer_ids = sorted({int(k.split(".")[1]) for k in tensors if k.startswith("layers.") and k.split(".")[1].isdigit()})
    if not layer_ids:
        raise CheckpointError(f"{path}: missing tensor 'layers.0.mixer.A_log' (no layers found)")
    if layer_ids != list(range(len(layer_ids))):
        raise CheckpointError(f"{path}: layer indices {layer_ids} are not 0..{len(layer_ids) - 1}")
    d_model, n_in = _shape_of(path, tensors, "embed.weight", 2)
    d_inner, d_state = _shape_of(path, tensors, "layers.0.mixer.A_log", 2)
    _, dt_rank = _shape_of(path, tensors, "layers.0.mixer.dt_proj.weight", 2)
    conv = _shape_of(path, tensors, "layers.0.mixer.conv1d.weight", 3)
    d_conv = conv[1] if conv[2] == 1 and conv[1] != 1 else conv[2]  # MLX layout is (d_inner, d_conv, 1)
    d_head_hidden, _ = _shape_of(path, tensors, "head.mlp.0.weight", 2)
    if n_in != 2:
        raise CheckpointError(f"{path}: tensor 'embed.weight' expected shape ({d_model}, 2) for I/Q input, found {(d_model, n_in)}")
    try:
        return ModelDims(d_model, d_state, d_conv, d_inner, dt_rank, len(layer_ids), d_head_hidden)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def _check_shapes(path: Path, tensors: dict[str, np.ndarray], dims: ModelDims) -> dict[str, np.ndarray]:
    expected = dims.expected_shapes()
    for name in tensors:
        if name not in expected:
            raise CheckpointError(f"{path}: unexpected tensor {name!r} (use --name-map to map it to a canonical name)")
    out: dict[str, np.ndarray] = {}
    for name, shape in expected.items():
        if name not in tensors:
            raise CheckpointError(f"{path}: missing tensor {name!r} (expected shape {shape})")
        value = tensors[name]
        if name.endswith("conv1d.weight") and value.shape == (shape[0], shape[2], 1):
            value = value.transpose(0, 2, 1)  # MLX conv layout
        if tuple(value.shape) != shape:
            raise CheckpointError(f"{path}: tensor {name!r} expected shape {shape}, found {tuple(value.shape)}")
        if not np.all(np.isfinite(value)):
            bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
            raise CheckpointError(f"{path}: tensor {name!r} has {bad} NaN/Inf values")
        if value.size and np.abs(value).max() > MAX_ABS_WEIGHT:
            raise CheckpointError(f"{path}: tensor {name!r} has values up to {np.abs(value).max():.3g}, beyond "
                                  f"{MAX_ABS_WEIGHT:.3g} (float32's range)")
        out[name] = np.ascontiguousarray(value, dtype=np.float64)
    return out
