# SPDX-License-Identifier: BSD-3-Clause
"""Shared fixtures: random checkpoints of any shape, written as true safetensors files."""

from __future__ import annotations

import numpy as np
import pytest
from model_zoo import PUBLISHED, random_tensors
from safetensors.numpy import save_file

from venom_fpga.model.checkpoint import save_checkpoint
from venom_fpga.model.dims import ModelDims
from venom_fpga.model.meta import Metadata


@pytest.fixture
def write_checkpoint(tmp_path):
    """write_checkpoint(dims, name=..., meta=..., tensors=...) -> path of a true safetensors file (bare if meta is None)."""

    def write(dims: ModelDims = PUBLISHED, name: str = "model.safetensors", meta: Metadata | None = None,
              tensors: dict[str, np.ndarray] | None = None, seed: int = 0):
        tensors = random_tensors(dims, seed) if tensors is None else tensors
        if meta is None:  # a bare checkpoint, as many training scripts write them: tensors only
            save_file({k: v.astype(np.float32) for k, v in tensors.items()}, str(tmp_path / name))
            return tmp_path / name
        return save_checkpoint(tmp_path / name, tensors, meta)

    return write
