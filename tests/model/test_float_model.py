# SPDX-License-Identifier: BSD-3-Clause
"""Float golden model: parallel (associative scan) vs recurrent (step) agreement, and the equations."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from model_zoo import PUBLISHED, SMALL, random_tensors

from venom_fpga.model.dims import ModelDims
from venom_fpga.model.float_model import VenomModel, associative_scan, energy_from_output

SHAPES = {
    "published": PUBLISHED,
    "small-2layer": SMALL,
    "dconv1-dtrank2": ModelDims.from_hyper(d_model=24, d_state=3, d_conv=1, n_layers=1, d_head_hidden=8, expand=2),
}


def test_published_parameter_count():
    assert PUBLISHED.n_params() == 3314
    assert sum(p.numel() for p in VenomModel(PUBLISHED).parameters()) == 3314


@pytest.mark.parametrize("name", SHAPES)
@pytest.mark.parametrize("length", [1, 37, 426])
def test_parallel_matches_recurrent(name, length):
    dims = SHAPES[name]
    model = VenomModel.from_tensors(dims, random_tensors(dims, seed=3))
    x = torch.as_tensor(np.random.default_rng(1).standard_normal((6, length, 2)) * 2.0)
    with torch.no_grad():
        par, rec = model(x).numpy(), model.forward_recurrent(x).numpy()
    # Energies in eV with a physically sized calibration (mu ~ 1 -> ~1 eV); the budget is 0.01 meV.
    e_par = energy_from_output(par, 0.5, 1.0)[:, 0]
    e_rec = energy_from_output(rec, 0.5, 1.0)[:, 0]
    assert np.max(np.abs(e_par - e_rec)) * 1e3 < 0.01
    assert np.all(np.isfinite(par))


def test_associative_scan_against_loop():
    rng = np.random.default_rng(0)
    a = torch.as_tensor(rng.uniform(0.5, 1.0, (3, 50, 4)))
    b = torch.as_tensor(rng.standard_normal((3, 50, 4)))
    h, ref = torch.zeros(3, 4, dtype=torch.float64), []
    for t in range(50):
        h = a[:, t] * h + b[:, t]
        ref.append(h)
    np.testing.assert_allclose(associative_scan(a, b).numpy(), torch.stack(ref, 1).numpy(), rtol=1e-12, atol=1e-12)


def test_step_follows_design_equations():
    """One recurrent step written out from DESIGN.md §1 with plain numpy, independent of the torch code."""
    dims = SMALL
    w = random_tensors(dims, seed=5)
    model = VenomModel.from_tensors(dims, w)
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((5, 2))

    def softplus(v):
        return np.log1p(np.exp(v))

    def silu(v):
        return v / (1 + np.exp(-v))

    u_all, h = [], [np.zeros((dims.d_inner, dims.d_state)) for _ in range(dims.n_layers)]
    hist = [np.zeros((dims.d_conv - 1, dims.d_inner)) for _ in range(dims.n_layers)]
    for x in xs:
        u = w["embed.weight"] @ x + w["embed.bias"]
        for i in range(dims.n_layers):
            p = f"layers.{i}."
            n = (u - u.mean()) / np.sqrt(u.var() + 1e-5) * w[p + "norm.weight"] + w[p + "norm.bias"]
            xz = w[p + "mixer.in_proj.weight"] @ n
            xi, z = xz[: dims.d_inner], xz[dims.d_inner :]
            seq = np.vstack([hist[i], xi])  # oldest first
            hist[i] = seq[1:]
            xc = w[p + "mixer.conv1d.bias"] + np.einsum("kd,dk->d", seq, w[p + "mixer.conv1d.weight"][:, 0, :])
            xa = silu(xc)
            rbc = w[p + "mixer.x_proj.weight"] @ xa
            r, B, C = rbc[: dims.dt_rank], rbc[dims.dt_rank : dims.dt_rank + dims.d_state], rbc[dims.dt_rank + dims.d_state :]
            dt = softplus(w[p + "mixer.dt_proj.weight"] @ r + w[p + "mixer.dt_proj.bias"])
            A = -np.exp(w[p + "mixer.A_log"])
            h[i] = np.exp(dt[:, None] * A) * h[i] + (dt * xa)[:, None] * B[None, :]
            y = h[i] @ C + w[p + "mixer.D"] * xa
            u = u + w[p + "mixer.out_proj.weight"] @ (y * silu(z))
        u_all.append(u)
    f = np.array(u_all)
    s = f @ w["head.attn.weight"].T + w["head.attn.bias"]
    a = np.exp(s - s.max(0)) / np.exp(s - s.max(0)).sum(0)
    pooled = (a * f).sum(0)
    gelu = np.vectorize(lambda v: 0.5 * v * (1 + math.erf(v / math.sqrt(2))))
    m1 = gelu(w["head.mlp.0.weight"] @ pooled + w["head.mlp.0.bias"])
    m2 = gelu(w["head.mlp.2.weight"] @ m1 + w["head.mlp.2.bias"])
    ref = w["head.mlp.4.weight"] @ m2 + w["head.mlp.4.bias"]
    with torch.no_grad():
        out = model(torch.as_tensor(xs[None])).numpy()[0]
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    assert F.gelu(torch.tensor(1.0)).item() == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))))


def test_energy_calibration():
    out = np.array([[0.5, 0.0], [-1.0, 2.0]])
    e = energy_from_output(out, energy_scale=2.0, energy_offset=1.0)
    np.testing.assert_allclose(e[:, 0], [2.0, -1.0])
    np.testing.assert_allclose(e[:, 1], [np.log(4.0), 2.0 + np.log(4.0)])
