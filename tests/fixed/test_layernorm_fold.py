# SPDX-License-Identifier: BSD-3-Clause
"""The LayerNorm fold (precision config ``fold_layernorm``): exact in real arithmetic, fewer products in the op plan,
a fixed model close to the float one, configs that round-trip, and a refusal when the quantized V could reach 0."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from model_zoo import PUBLISHED, SMALL, random_tensors

from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.op_plan import LayerNormFoldPlan, LayerNormPlan, PlanError, build_plan
from venom_fpga.fixed.precision import (PrecisionConfig, PrecisionError, default_precision, fold_layernorm,
                                        folded_tensors, load_precision, probe_windows, save_precision)
from venom_fpga.fixed.qformat import QFormat
from venom_fpga.model.float_model import VenomModel, run_windows


def _folded(dims, seed):
    pair = (dims, random_tensors(dims, seed))
    return pair, fold_layernorm(default_precision(pair), pair)


@pytest.mark.parametrize("dims", [PUBLISHED, SMALL], ids=["published", "small"])
def test_fold_is_exact_in_real_arithmetic(dims):
    """(G x + g0) / sqrt(Qv . xx + q2 . x + c0) + k0 equals in_proj(LayerNorm(embed(x))) of the torch model."""
    tensors = random_tensors(dims, 3)
    t = folded_tensors(dims, tensors, fold=True)
    model = VenomModel.from_tensors(dims, tensors).double()
    x = np.random.default_rng(0).standard_normal((500, dims.n_in)) * 4
    with torch.no_grad():
        block = model.layers[0]
        want = block.mixer.in_proj(block.norm(model.embed(torch.as_tensor(x)))).numpy()
    n = dims.n_in
    xx = np.stack([x[:, k] * x[:, m] for k in range(n) for m in range(k, n)], axis=1)
    v = xx @ t["layers.0.fold.Qv"] + x @ t["layers.0.fold.q2"] + t["layers.0.fold.c0"][0]
    got = (x @ t["layers.0.fold.G"].T + t["layers.0.fold.g0"]) / np.sqrt(v)[:, None] + t["layers.0.fold.k0"]
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dims", [PUBLISHED, SMALL], ids=["published", "small"])
def test_folded_plan_has_fewer_products_and_follows_the_float_model(dims):
    pair, cfg = _folded(dims, 5)
    fm0, fm1 = FixedModel(pair), FixedModel(pair, cfg)
    norm = fm1.plan.layers[0].norm
    assert isinstance(norm, LayerNormFoldPlan) and all(isinstance(L.norm, LayerNormPlan) for L in fm1.plan.layers[1:])
    n, di2, d = dims.n_in, 2 * dims.d_inner, dims.d_model
    # xx, Qv . xx + q2 . x, G x, s rs  instead of  sum c^2, c rs, gamma xn, W_in n
    assert norm.products == n * (n + 1) // 2 * 2 + n + di2 * n + di2
    assert fm0.plan.step_products() - fm1.plan.step_products() == (3 * d + di2 * d) - norm.products
    assert fm1.plan.layers[0].in_proj.products == 0
    iq = probe_windows(48, 64, amplitude=6.0, seed=1)
    ref = run_windows(dims, pair[1], iq, recurrent=False)[:, 0]
    e0 = fm0.predict_raw(iq)[:, 0]
    e1 = fm1.predict_raw(iq)[:, 0]
    # the fold changes only where LayerNorm rounds: as close to float as the unfolded model, within a factor
    assert np.abs(e1 - ref).max() <= 4 * np.abs(e0 - ref).max() + 1e-4
    # every folded signal was exercised and recorded
    _, sat, ranges = fm1.run(iq, record=True)
    assert {"layers.0.ln_s", "layers.0.ln_p", "layers.0.ln_rsqrt"} <= set(ranges)
    assert "layers.0.ln_xn" not in ranges and ("layers.1.ln_xn" in ranges) == (dims.n_layers > 1)


def test_folded_config_round_trips_and_unfolded_files_keep_their_form(tmp_path):
    pair, cfg = _folded(SMALL, 2)
    path = save_precision(cfg, tmp_path / "f.precision.json")
    again = load_precision(path)
    assert again.fold_layernorm and again.to_dict() == cfg.to_dict()
    assert "fold_layernorm" not in default_precision(pair).to_dict()
    data = json.loads(path.read_text())
    data["fold_layernorm"] = "yes"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(PrecisionError, match="fold_layernorm must be true or false"):
        load_precision(tmp_path / "bad.json")
    data["fold_layernorm"] = False  # the folded signals and tensors without the flag: named, refused
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(PrecisionError, match="unknown key"):
        load_precision(tmp_path / "bad.json")


def test_a_quantized_quadratic_that_can_reach_zero_is_refused():
    """V = |c|^2 + d eps is >= d eps in reals; with c0 quantized to almost nothing and Qv coarse, the plan proves
    the integer V may reach 0 (then the rsqrt is undefined) and refuses, naming the tensors to widen."""
    pair, cfg = _folded(PUBLISHED, 7)
    weights = dict(cfg.weights)
    f_q2 = weights["layers.0.fold.q2"].frac_bits
    weights["layers.0.fold.c0"] = QFormat(1, 1 - f_q2)  # one bit, q2's fraction: c0 saturates to 0
    bad = dataclasses.replace(cfg, weights=weights)
    with pytest.raises(PlanError, match="fold.Qv / fold.q2 / fold.c0"):
        build_plan(PUBLISHED, pair[1], bad)


def test_c0_joins_q2_x_so_it_may_not_have_more_fraction_bits():
    """The hardware forms q2 . x + c0 as one segment over [x, 2**k] (the engine has two per instruction): c0 must be
    an exact multiple of q2 x's unit."""
    pair, cfg = _folded(PUBLISHED, 8)
    q2, c0, x = (cfg.weights["layers.0.fold.q2"], cfg.weights["layers.0.fold.c0"], cfg.signals["input"])
    assert q2.frac_bits < c0.frac_bits <= q2.frac_bits + x.frac_bits  # the default: c0's factor below 1.0
    width = c0.int_bits + q2.frac_bits + x.frac_bits + 1
    bad = dataclasses.replace(cfg, weights={**cfg.weights, "layers.0.fold.c0": dataclasses.replace(c0, width=width)})
    with pytest.raises(PlanError, match="fold.c0 may have at most as many fraction bits as"):
        build_plan(PUBLISHED, pair[1], bad)


def test_fold_needs_the_embed_input_so_only_layer_zero_folds():
    pair, cfg = _folded(SMALL, 4)
    assert cfg.folded(0) and not cfg.folded(1)
    assert "layers.1.norm.weight" in cfg.weights and "layers.0.norm.weight" not in cfg.weights
    assert isinstance(cfg, PrecisionConfig) and math.isfinite(FixedModel(pair, cfg).plan.layers[0].norm.v_min)
