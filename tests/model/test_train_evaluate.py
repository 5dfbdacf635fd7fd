# SPDX-License-Identifier: BSD-3-Clause
"""Training smoke test and the evaluate report on a tiny synthetic data set."""

import json

import numpy as np
import pytest

from venom_fpga.model.checkpoint import load_checkpoint
from venom_fpga.cli import main
from venom_fpga.data.synth import write_dataset
from venom_fpga.model.train import TrainConfig, lr_factor, train


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    return write_dataset("ptsi", 60, seed=11, out_dir=root / "train", progress=False), \
        write_dataset("ptsi", 60, seed=12, out_dir=root / "fresh", progress=False)


@pytest.fixture(scope="module")
def tiny_model(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    cfg = TrainConfig(d_model=8, d_state=4, d_conv=3, d_head_hidden=8, epochs=2, batch_size=32, warmup_epochs=1)
    return train(tiny_data[0], out, cfg, progress=False, command="pytest")


def test_lr_schedule():
    factors = [lr_factor(s, 10, 100) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert max(factors) == pytest.approx(1.0) and factors[-1] < 0.01
    assert all(a >= b for a, b in zip(factors[9:], factors[10:]))


def test_training_writes_a_complete_checkpoint(tiny_model, tiny_data):
    ckpt = load_checkpoint(tiny_model.path)
    assert ckpt.dims.d_model == 8 and ckpt.dims.d_state == 4 and ckpt.dims.d_conv == 3
    assert ckpt.meta_source == "header" and ckpt.defaults_used == []
    meta = ckpt.meta
    assert meta.decimation == 4 and len(meta.fir_taps) > 1
    assert meta.raw_sample_rate_hz == 2.0e6
    assert meta.window_length == round(5 * 50e-6 * 2.0e6 / 4) + 1
    assert meta.energy_scale > 0 and 0.9 < meta.energy_offset < 1.6  # PtSi-like lines are 0.95-1.53 eV
    hold = meta.provenance["holdout"]
    assert len(hold["per_line"]) == 5 and np.isfinite(hold["mean_R_gauss"])
    assert meta.provenance["train_config"]["epochs"] == 2 and meta.provenance["command"] == "pytest"
    assert tiny_model.mean_R_gauss == pytest.approx(hold["mean_R_gauss"])


def test_windows_and_predict_on_fresh_data(tiny_model, tiny_data, tmp_path, capsys):
    w = str(tiny_model.path)
    assert main(["windows", "--weights", w, "--data", str(tiny_data[1]), "--out", str(tmp_path / "x.npy"),
                 "--energies", str(tmp_path / "e.npy")]) == 0
    x, e = np.load(tmp_path / "x.npy"), np.load(tmp_path / "e.npy")
    assert x.shape[1:] == (126, 2) and x.shape[0] == e.shape[0] > 250
    assert main(["predict", "--weights", w, "--iq", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"),
                 "--quiet"]) == 0
    y = np.load(tmp_path / "y.npy")
    # Even a 2-epoch model must track the energy: predictions correlate with the true lines.
    assert np.corrcoef(y[:, 0], e)[0, 1] > 0.5


def test_evaluate_report(tiny_model, tiny_data, tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--weights", str(tiny_model.path), "--data", str(tiny_data[1]), "--json", str(out),
                 "--plots", str(tmp_path / "plots"), "--quiet"]) == 0
    report = json.loads(out.read_text())
    for who in ("model", "optimal_filter"):
        lines = report[who]["per_line"]
        assert len(lines) == 5
        assert {"wavelength_nm", "energy_ev", "R_kde", "R_gauss", "count"} <= set(lines[0])
        assert np.isfinite(report[who]["mean_R_gauss"])
    assert sum(line["count"] for line in report["model"]["per_line"]) == report["n_scored"]
    assert (tmp_path / "plots" / "energy_histograms.png").stat().st_size > 10_000
    assert "mean" in capsys.readouterr().out


def test_profile_and_fixed_accuracy(tiny_model, tiny_data, tmp_path, capsys):
    """profile sizes a config on data; evaluate --precision adds the fixed model's accuracy report."""
    from venom_fpga.fixed.precision import load_precision

    w, cfg_path = str(tiny_model.path), tmp_path / "tiny.precision.json"
    assert main(["profile", "--weights", w, "--data", str(tiny_data[0]), "--out", str(cfg_path)]) == 0
    assert "saturating signals under it: none" in capsys.readouterr().out
    cfg = load_precision(cfg_path)
    assert cfg.signals["input"].width == 16
    reports = tmp_path / "reports"
    assert main(["evaluate", "--weights", w, "--data", str(tiny_data[1]), "--precision", str(cfg_path),
                 "--accuracy-dir", str(reports), "--json", str(tmp_path / "eval.json"), "--n-boot", "30",
                 "--quiet"]) == 0
    out = capsys.readouterr().out
    acc = json.loads((reports / "accuracy.json").read_text())
    assert json.loads((tmp_path / "eval.json").read_text())["fixed_accuracy"] == acc
    # R: paired (same KDE bandwidths), with bootstrap intervals, per line and for the mean, in the table too
    assert acc["R_bootstrap"] == {"resamples": 30, "confidence": 0.95, "seed": 0}
    for d, m in [(line, "") for line in acc["per_line"]] + [(acc, "_mean")]:
        for key in (f"R_float{m}", f"R_fixed{m}", "R_change", "R_change_pct"):
            assert np.isfinite(d[key]), key
        for key in (f"R_float{m}_ci", f"R_fixed{m}_ci", "R_change_ci", "R_change_pct_ci"):
            assert len(d[key]) == 2 and d[key][0] <= d[key][1], key
        assert d["R_change"] == pytest.approx(d[f"R_fixed{m}"] - d[f"R_float{m}"])
        assert d["R_change_zero_in_ci"] == (d["R_change_ci"][0] <= 0 <= d["R_change_ci"][1])
    assert "R fixed" in out and "same KDE bandwidths" in out and "0 in CI" in out
    assert "% CI [" in out.splitlines()[-1]  # the summary line gives the change's interval
    assert acc["precision"] == str(cfg_path) and acc["windows"] > 100
    # The fixed model tracks the float model far inside the 1 meV budget on in-range data.
    assert 0 < acc["max_abs_dE_meV"] < 1.0 and acc["mean_abs_dE_meV"] <= acc["max_abs_dE_meV"]
    assert sum(acc["saturations"].values()) == 0
    assert set(acc["signals"]) >= {"input", "embed", "mu", "log_var"}
    for name in ("accuracy_dE.png", "accuracy_signal_ranges.png"):
        assert (reports / name).stat().st_size > 5_000
    np.save(tmp_path / "x.npy", np.zeros((2, 126, 2)))
    assert main(["predict", "--weights", w, "--iq", str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy"),
                 "--backend", "float", "--precision", str(cfg_path)]) == 2


def test_evaluate_fixed_pairs_r_with_float(tiny_model, tiny_data, capsys):
    """evaluate --fixed: the fixed model's R against the float model's on the same pulses, as paired_resolving_power
    gives it (float the reference, one bootstrap seed per line), with a finite interval of the change."""
    from venom_fpga.metrics.evaluate import evaluate
    from venom_fpga.metrics.resolving_power import paired_resolving_power

    report, arrays = evaluate(load_checkpoint(tiny_model.path), tiny_data[1], seed=3, progress=False, fixed=True,
                              n_boot=30)
    acc = report["fixed_accuracy"]
    defined = [line for line in acc["per_line"] if np.isfinite([line["R_float"], line["R_fixed"]]).all()]
    assert acc["R_bootstrap"]["seed"] == 3 and acc["R_mean_lines"] == len(defined) >= 3  # ~30 pulses a line
    for i, line in enumerate(acc["per_line"]):
        sel = arrays["line_index"] == i
        direct = paired_resolving_power(arrays["model"][sel], arrays["fixed"][sel], line["energy_ev"], n_boot=30,
                                        seed=(3, i))
        np.testing.assert_equal([line["R_float"], line["R_fixed"], line["R_fixed_ci"], line["R_change_ci"]],
                                [direct["R_reference"], direct["R_other"], direct["R_other_ci"], direct["delta_ci"]])
    lo, hi = acc["R_change_ci"]
    assert np.isfinite([lo, hi]).all() and lo <= acc["R_change"] <= hi
    assert acc["R_float_mean"] == pytest.approx(np.mean([line["R_float"] for line in defined]))
    with pytest.raises(SystemExit) as exc:  # a usage error: one line, exit 2
        main(["evaluate", "--weights", str(tiny_model.path), "--data", str(tiny_data[1]), "--fixed", "--n-boot", "-1"])
    assert exc.value.code == 2 and "--n-boot: must be in 0..100000" in capsys.readouterr().err
