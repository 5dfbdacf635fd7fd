# SPDX-License-Identifier: BSD-3-Clause
"""Checkpoint loading: every accepted layout, and a clear one-line error for every bad input."""

import json

import numpy as np
import pytest
import torch
from model_zoo import PUBLISHED, SMALL, random_tensors
from safetensors.numpy import save_file

from venom_fpga.model.checkpoint import CheckpointError, load_checkpoint
from venom_fpga.model.meta import Metadata


def _save_raw(path, tensors, metadata=None):
    save_file({k: np.asarray(v, dtype=np.float32) for k, v in tensors.items()}, str(path), metadata=metadata)
    return path


def _assert_same(ckpt, tensors):
    assert list(ckpt.tensors) == list(PUBLISHED.expected_shapes()) if ckpt.dims == PUBLISHED else True
    for name, value in tensors.items():
        np.testing.assert_allclose(ckpt.tensors[name], value.astype(np.float32), rtol=0, atol=0)


@pytest.mark.parametrize("dims", [PUBLISHED, SMALL], ids=["published", "small"])
def test_roundtrip_infers_dims(write_checkpoint, dims):
    tensors = random_tensors(dims)
    ckpt = load_checkpoint(write_checkpoint(dims, tensors=tensors))
    assert ckpt.dims == dims
    assert ckpt.source_format == "safetensors"
    assert ckpt.n_params == dims.n_params()
    _assert_same(ckpt, tensors)


def test_backbone_prefix_log_neg_A_and_mlx_conv(tmp_path):
    tensors = random_tensors(PUBLISHED)
    upstream = {}
    for name, value in tensors.items():
        if name.endswith("conv1d.weight"):
            value = value.transpose(0, 2, 1)  # MLX (d_inner, d_conv, 1)
        name = name.replace("A_log", "log_neg_A")
        upstream[name if name.startswith("head.") else "backbone." + name] = value
    ckpt = load_checkpoint(_save_raw(tmp_path / "up.safetensors", upstream))
    assert ckpt.dims == PUBLISHED
    assert ckpt.renamed["backbone.layers.0.mixer.log_neg_A"] == "layers.0.mixer.A_log"
    _assert_same(ckpt, tensors)


def test_user_name_map(tmp_path):
    tensors = random_tensors(SMALL)
    theirs = {f"net/{k.replace('.', '/')}": v for k, v in tensors.items()}
    path = _save_raw(tmp_path / "theirs.safetensors", theirs)
    (tmp_path / "map.json").write_text(json.dumps({f"net/{k.replace('.', '/')}": k for k in tensors}))
    ckpt = load_checkpoint(path, name_map=tmp_path / "map.json")
    assert ckpt.dims == SMALL
    _assert_same(ckpt, tensors)


@pytest.mark.parametrize("wrapper", [None, "state_dict", "model"])
def test_legacy_torch_zip_with_safetensors_suffix(tmp_path, wrapper):
    tensors = random_tensors(PUBLISHED)
    state = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in tensors.items()}
    path = tmp_path / "legacy.safetensors"
    torch.save(state if wrapper is None else {wrapper: state, "epoch": 3}, path)
    ckpt = load_checkpoint(path)
    assert ckpt.source_format == "torch-zip"
    _assert_same(ckpt, tensors)


def test_legacy_zip_is_loaded_weights_only(tmp_path):
    """An archive that needs arbitrary unpickling (a custom class) is refused, not executed."""
    import collections

    path = tmp_path / "evil.safetensors"
    torch.save({"embed.weight": torch.zeros(16, 2), "x": collections.Counter(a=1)}, path)
    with pytest.raises(CheckpointError, match="evil.safetensors"):
        load_checkpoint(path)


def test_metadata_header_sidecar_and_defaults(tmp_path, write_checkpoint):
    meta = Metadata(energy_scale=0.4, energy_offset=1.2, window_length=126, decimation=4)
    ckpt = load_checkpoint(write_checkpoint(meta=meta))
    assert ckpt.meta_source == "header"
    assert ckpt.meta.energy_scale == 0.4 and ckpt.meta.window_length == 126
    assert "energy_scale" not in ckpt.defaults_used

    bare = _save_raw(tmp_path / "bare.safetensors", random_tensors(PUBLISHED))
    ckpt = load_checkpoint(bare)
    assert ckpt.meta_source == "defaults"
    assert {"energy_scale", "energy_offset", "iq_scale"} <= set(ckpt.defaults_used)
    assert ckpt.meta.energy_scale == 1.0 and ckpt.meta.energy_offset == 0.0

    (tmp_path / "bare_meta.json").write_text(json.dumps({"energy_scale": 2.5, "pre_trigger": 3, "note": "x"}))
    ckpt = load_checkpoint(bare)
    assert ckpt.meta_source == "sidecar"
    assert ckpt.meta.energy_scale == 2.5 and ckpt.meta.pre_trigger == 3
    assert ckpt.meta.provenance["extra"] == {"note": "x"}
    assert "energy_scale" not in ckpt.defaults_used and "energy_offset" in ckpt.defaults_used


# --- bad input: one line naming the file (and the tensor) ------------------------------------------


def _error(path, **kw) -> str:
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, **kw)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_wrong_shape(tmp_path):
    tensors = random_tensors(PUBLISHED)
    tensors["head.mlp.2.weight"] = tensors["head.mlp.2.weight"][:, :31]
    msg = _error(_save_raw(tmp_path / "bad.safetensors", tensors))
    assert "head.mlp.2.weight" in msg and "(32, 32)" in msg and "(32, 31)" in msg


def test_missing_tensor(tmp_path):
    tensors = random_tensors(PUBLISHED)
    del tensors["layers.0.mixer.D"]
    assert "missing tensor 'layers.0.mixer.D'" in _error(_save_raw(tmp_path / "m.safetensors", tensors))


def test_unexpected_tensor(tmp_path):
    tensors = random_tensors(PUBLISHED)
    tensors["head.extra.weight"] = np.zeros(3)
    assert "unexpected tensor 'head.extra.weight'" in _error(_save_raw(tmp_path / "u.safetensors", tensors))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf(tmp_path, bad):
    tensors = random_tensors(PUBLISHED)
    tensors["layers.0.mixer.A_log"][2, 3] = bad
    msg = _error(_save_raw(tmp_path / "n.safetensors", tensors))
    assert "layers.0.mixer.A_log" in msg and "1 NaN/Inf" in msg


def test_truncated(tmp_path, write_checkpoint):
    data = write_checkpoint().read_bytes()
    for cut in (5, 200, len(data) - 100):
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        msg = _error(path)
        assert "truncated" in msg or "not a safetensors" in msg


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("these are not weights, just some text long enough to have a header")
    assert "not a safetensors file" in _error(path)
    assert "no such file" in _error(tmp_path / "absent.safetensors")


def test_inconsistent_layers_and_bad_maps(tmp_path):
    tensors = random_tensors(SMALL)
    renamed = {k.replace("layers.1.", "layers.2."): v for k, v in tensors.items()}
    assert "layer indices [0, 2]" in _error(_save_raw(tmp_path / "gap.safetensors", renamed))
    path = _save_raw(tmp_path / "ok.safetensors", tensors)
    (tmp_path / "map.json").write_text(json.dumps({"nonexistent": "embed.weight"}))
    assert "nonexistent" in _error(path, name_map=tmp_path / "map.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(path, name_map=tmp_path / "bad.json")


def test_bad_metadata_names_the_file_it_came_from(tmp_path, write_checkpoint):
    path = write_checkpoint(meta=Metadata(window_length=40))
    sidecar = path.with_name(f"{path.stem}_meta.json")
    sidecar.write_text(json.dumps({"iq_scale": [1.0, 0.0]}))
    with pytest.raises(CheckpointError, match=rf"^{sidecar}: metadata iq_scale\[1\] must be non-zero$"):
        load_checkpoint(path)
    sidecar.write_text(json.dumps({"pre_trigger": 40}))  # against the header's window_length
    with pytest.raises(CheckpointError, match=rf"^{sidecar}: metadata pre_trigger 40 must be < window_length 40$"):
        load_checkpoint(path)
    sidecar.unlink()
    bare = _save_raw(tmp_path / "h.safetensors", random_tensors(SMALL), metadata={"decimation": "2.5"})
    with pytest.raises(CheckpointError, match=rf"^{bare}: metadata decimation must be an integer, found 2.5$"):
        load_checkpoint(bare)


@pytest.mark.parametrize("layout", ["sparse", "quantized", "complex", "int"])
def test_legacy_zip_tensors_that_do_not_convert_to_float_are_refused(tmp_path, layout):
    state = {k: torch.as_tensor(v) for k, v in random_tensors(SMALL).items()}
    bias = state["embed.bias"]
    state["embed.bias"] = {"sparse": lambda: bias.to_sparse(), "complex": lambda: bias * (1 + 1j),
                           "quantized": lambda: torch.quantize_per_tensor(bias.float(), 0.1, 0, torch.qint8),
                           "int": lambda: bias.to(torch.int64)}[layout]()
    path = tmp_path / "legacy.safetensors"
    torch.save(state, path)
    assert "'embed.bias'" in _error(path)


def test_weight_beyond_float32_is_refused(tmp_path):
    state = {k: torch.as_tensor(v) for k, v in random_tensors(SMALL).items()}
    state["head.mlp.0.bias"][1] = 1e300
    torch.save(state, tmp_path / "huge.safetensors")
    assert "'head.mlp.0.bias' has values up to 1e+300" in _error(tmp_path / "huge.safetensors")
