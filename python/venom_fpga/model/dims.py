# SPDX-License-Identifier: BSD-3-Clause
"""Model dimensions and the canonical tensor layout that follows from them (DESIGN.md §1).

Every implementation (float, fixed, HLS, RTL) takes a ``ModelDims``; nothing hard-codes the published
values. ``expected_shapes`` is the one table of canonical names and shapes: the loader checks against it,
the float model is built from it, and ``inspect`` counts parameters with it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ModelDims:
    d_model: int
    d_state: int
    d_conv: int
    d_inner: int
    dt_rank: int
    n_layers: int
    d_head_hidden: int
    n_in: int = 2  # I and Q
    n_out: int = 2  # mu and log-variance

    @classmethod
    def from_hyper(
        cls,
        d_model: int,
        d_state: int,
        d_conv: int,
        n_layers: int,
        d_head_hidden: int,
        expand: int = 1,
        dt_rank: int | None = None,
    ) -> ModelDims:
        """Mamba's conventions: d_inner = expand * d_model, dt_rank = ceil(d_model / 16)."""
        return cls(
            d_model=d_model,
            d_state=d_state,
            d_conv=d_conv,
            d_inner=expand * d_model,
            dt_rank=dt_rank if dt_rank is not None else math.ceil(d_model / 16),
            n_layers=n_layers,
            d_head_hidden=d_head_hidden,
        )

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"dimension {name} must be a positive integer, found {value!r}")

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Canonical tensor name -> shape, in checkpoint order."""
        d, di, n, r = self.d_model, self.d_inner, self.d_state, self.dt_rank
        shapes: dict[str, tuple[int, ...]] = {
            "embed.weight": (d, self.n_in),
            "embed.bias": (d,),
        }
        for i in range(self.n_layers):
            p = f"layers.{i}."
            shapes.update(
                {
                    p + "norm.weight": (d,),
                    p + "norm.bias": (d,),
                    p + "mixer.in_proj.weight": (2 * di, d),
                    p + "mixer.conv1d.weight": (di, 1, self.d_conv),
                    p + "mixer.conv1d.bias": (di,),
                    p + "mixer.x_proj.weight": (r + 2 * n, di),
                    p + "mixer.dt_proj.weight": (di, r),
                    p + "mixer.dt_proj.bias": (di,),
                    p + "mixer.A_log": (di, n),
                    p + "mixer.D": (di,),
                    p + "mixer.out_proj.weight": (d, di),
                }
            )
        h = self.d_head_hidden
        shapes.update(
            {
                "head.attn.weight": (d, d),
                "head.attn.bias": (d,),
                "head.mlp.0.weight": (h, d),
                "head.mlp.0.bias": (h,),
                "head.mlp.2.weight": (h, h),
                "head.mlp.2.bias": (h,),
                "head.mlp.4.weight": (self.n_out, h),
                "head.mlp.4.bias": (self.n_out,),
            }
        )
        return shapes

    def n_params(self) -> int:
        return sum(math.prod(s) for s in self.expected_shapes().values())

    def to_dict(self) -> dict[str, int]:
        return asdict(self)
