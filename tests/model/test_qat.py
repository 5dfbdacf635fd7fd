# SPDX-License-Identifier: BSD-3-Clause
"""Quantization-aware fine-tuning: fake quantization is the fixed model's quantization (values, weights), the
gradient passes straight through, and ``train --qat`` writes a checkpoint with the comparison of its hardware."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from model_zoo import SMALL, random_tensors

from venom_fpga.cli import main
from venom_fpga.data.synth import write_dataset
from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.precision import default_precision, precision_for, save_precision
from venom_fpga.fixed.qformat import ROUNDING_MODES, QFormat
from venom_fpga.model.checkpoint import load_checkpoint
from venom_fpga.model.float_model import VenomModel
from venom_fpga.model.qat import fake_quant, quantized_parameters, signal_quantizer
from venom_fpga.paths import REPO_ROOT


@pytest.mark.parametrize("rounding", ROUNDING_MODES)
def test_fake_quant_is_the_formats_quantization_with_a_straight_through_gradient(rounding):
    fmt = QFormat(8, 3, rounding=rounding, overflow="AP_SAT")
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.uniform(-6, 6, 2000), np.arange(-130, 130) / 32 + 1 / 64,  # every tie
                        [-100.0, 100.0]])
    t = torch.tensor(v, requires_grad=True)
    q = fake_quant(t, fmt)
    want = fmt.to_float(fmt.from_float(v))
    np.testing.assert_array_equal(q.detach().numpy(), want)
    q.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), np.ones_like(v))


def test_quantized_parameters_are_the_fixed_models_weights():
    tensors = random_tensors(SMALL, 3)
    cfg = default_precision((SMALL, tensors))
    model = VenomModel.from_tensors(SMALL, tensors)
    params = quantized_parameters(model, cfg)
    fm = FixedModel((SMALL, tensors), cfg)
    qmodel = VenomModel.from_tensors(SMALL, {k: v.detach().numpy() for k, v in params.items()})
    refm = FixedModel((SMALL, {k: v.detach().numpy() for k, v in qmodel.state_dict().items()}), cfg)
    for name, codes in fm.quantized_weights.items():  # quantizing the fake-quantized weights changes nothing
        assert np.array_equal(refm.quantized_weights[name], codes), name
    # the signals the parallel model forms go through the hook, under the fixed model's names
    seen = []
    quant = signal_quantizer(cfg)
    model(torch.zeros(2, 12, 2, dtype=torch.float64), lambda n, v: (seen.append(n), quant(n, v))[1])
    assert {"input", "embed", "layers.1.xa", "layers.0.ln_out", "head.score", "head.pooled", "mu"} <= set(seen)
    assert set(seen) <= set(cfg.signals)


def test_train_qat_writes_a_checkpoint_and_the_hardware_comparison(tmp_path, capsys):
    """The shipped PtSi model, fine-tuned one epoch for a config with an 8-bit SiLU output, on fresh PtSi pulses."""
    root = tmp_path
    data = write_dataset("ptsi", 80, seed=21, out_dir=root / "data", progress=False)  # >= 10 hold-out pulses a line
    path = REPO_ROOT / "weights" / "venom_synth_ptsi.safetensors"
    ckpt = load_checkpoint(path)
    narrow = precision_for(ckpt)
    narrow = dataclasses.replace(narrow, signals={**narrow.signals, "layers.0.xa": QFormat(8, 3, rounding="AP_RND")})
    cfg_path = save_precision(narrow, root / "narrow.precision.json")
    out = root / "qat.safetensors"
    assert main(["train", "--qat", str(cfg_path), "--init", str(path), "--data", str(data), "--out", str(out),
                 "--epochs", "1", "--val-fraction", "0.5", "--quiet"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert "paired mean R" in line and "% CI [" in line and "max |E_fixed - E_float|" in line
    tuned = load_checkpoint(out)
    assert tuned.dims == ckpt.dims and tuned.meta.energy_scale == ckpt.meta.energy_scale
    assert tuned.meta.window_length == ckpt.meta.window_length
    qat = tuned.meta.provenance["qat"]
    assert qat["from"] == path.name and qat["epochs"] == 1
    assert qat["holdout_paired_R"]["lines"] == 5 and np.isfinite(qat["holdout_paired_R"]["delta_pct"])
    assert any(not np.array_equal(tuned.tensors[k], ckpt.tensors[k]) for k in ckpt.tensors)  # it trained
    # settings that would change the model are refused; --qat needs --init
    assert main(["train", "--qat", str(cfg_path), "--init", str(path), "--data", str(data), "--out",
                 str(root / "x.safetensors"), "--d-model", "4"]) == 2
    assert main(["train", "--qat", str(cfg_path), "--data", str(data), "--out", str(root / "x.safetensors")]) == 2
    assert not (root / "x.safetensors").exists()
