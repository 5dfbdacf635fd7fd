# SPDX-License-Identifier: BSD-3-Clause
"""Model shapes used across the tests, and seeded random weights for them."""

from __future__ import annotations

import numpy as np
import torch

from venom_fpga.model.dims import ModelDims
from venom_fpga.model.float_model import VenomModel

PUBLISHED = ModelDims.from_hyper(d_model=16, d_state=8, d_conv=4, n_layers=1, d_head_hidden=32)
SMALL = ModelDims.from_hyper(d_model=8, d_state=4, d_conv=3, n_layers=2, d_head_hidden=16)
# the smallest shape with d_inner != d_model: the array RTL's suite (its build time grows with the products)
TINY = ModelDims.from_hyper(d_model=4, d_state=2, d_conv=2, n_layers=1, d_head_hidden=4, expand=2)


def random_tensors(dims: ModelDims, seed: int = 0) -> dict[str, np.ndarray]:
    """A model at torch's initialisation plus seeded perturbations, so no parameter is at a trivial value."""
    torch.manual_seed(seed)
    model = VenomModel(dims).double()
    rng = np.random.default_rng(seed)
    out = {}
    for name, value in model.state_dict().items():
        value = value.numpy().copy()
        scale = 0.1 if name.endswith(("A_log", "D", "norm.weight")) else 0.05
        out[name] = value + scale * rng.standard_normal(value.shape)
    return out
