# SPDX-License-Identifier: BSD-3-Clause
"""Precision config: schema checks (every error names its key), round trip, defaults, file lookup."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from model_zoo import PUBLISHED, SMALL, random_tensors

from venom_fpga.model.checkpoint import load_checkpoint
from venom_fpga.fixed.precision import (
    DSP_OPERAND_BITS,
    PrecisionConfig,
    PrecisionError,
    default_precision,
    default_precision_path,
    float_signal_ranges,
    folded_tensors,
    load_precision,
    operand_width,
    precision_for,
    save_precision,
    signal_names,
)
from venom_fpga.fixed.qformat import QFormat


@pytest.fixture(scope="module")
def cfg():
    return default_precision((PUBLISHED, random_tensors(PUBLISHED, 0)))


@pytest.fixture
def data(cfg):
    return copy.deepcopy(cfg.to_dict())


def load(data, tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    return load_precision(path)


def test_round_trip(cfg, tmp_path):
    path = save_precision(cfg, tmp_path / "m.precision.json")
    back = load_precision(path)
    assert back.to_dict() == cfg.to_dict()
    assert back.signals == cfg.signals and back.weights == cfg.weights and back.luts == cfg.luts
    assert back.source == str(path)
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write leaves nothing behind


def test_signals_cover_the_datapath():
    for dims in (PUBLISHED, SMALL):
        names = signal_names(dims)
        assert len(names) == len(set(names))
        assert sum(n.startswith("layers.") for n in names) == 20 * dims.n_layers
        assert {"input", "embed", "mu", "log_var", "head.score", f"layers.{dims.n_layers - 1}.h"} <= set(names)


@pytest.mark.parametrize("where", ["top", "signal", "qformat", "lut", "weight"])
def test_unknown_key_is_an_error_naming_it(data, tmp_path, where):
    if where == "top":
        data["colour"] = 1
    elif where == "signal":
        data["signals"]["layers.0.hh"] = {"width": 18, "int_bits": 2}
    elif where == "qformat":
        data["signals"]["layers.0.h"]["rounding_mode"] = "AP_TRN"
    elif where == "lut":
        data["luts"]["silu"]["entries"] = 99
    else:
        data["weights"]["head.mlp.6.weight"] = {"width": 18, "int_bits": 2}
    key = {"top": "colour", "signal": "layers.0.hh", "qformat": "rounding_mode", "lut": "entries",
           "weight": "head.mlp.6.weight"}[where]
    with pytest.raises(PrecisionError, match=key.replace(".", r"\.")):
        load(data, tmp_path)


@pytest.mark.parametrize("section,key", [("signals", "layers.0.dt"), ("weights", "layers.0.mixer.D"),
                                         ("luts", "exp2"), (None, "why")])
def test_missing_key_is_an_error_naming_it(data, tmp_path, section, key):
    del (data[section] if section else data)[key]
    with pytest.raises(PrecisionError, match=f"missing key '{key}'"):
        load(data, tmp_path)


def test_wide_operand_needs_a_reason(data, tmp_path):
    data["signals"]["layers.0.xa"]["width"] = 20
    with pytest.raises(PrecisionError, match=r"layers\.0\.xa is 20 bits"):
        load(data, tmp_path)
    data["why"]["layers.0.xa"] = "because"
    assert load(data, tmp_path).signals["layers.0.xa"].width == 20


def test_default_wide_operands_all_have_reasons(cfg):
    wide = cfg.wide_operands()
    assert wide and set(wide) <= set(cfg.why)
    del cfg.why["layers.0.h"]
    try:
        with pytest.raises(PrecisionError, match=r"layers\.0\.h is 24 bits"):
            cfg.validate()
    finally:
        cfg.why["layers.0.h"] = "restored"
    # an unsigned W-bit format takes W + 1 bits on a signed multiplier port
    assert operand_width(QFormat(17, 1, signed=False)) == DSP_OPERAND_BITS
    assert operand_width(QFormat(18, 1, signed=False)) == DSP_OPERAND_BITS + 1


def test_reason_for_an_unknown_operand_is_an_error(data, tmp_path):
    data["why"]["layers.0.zz"] = "typo"
    with pytest.raises(PrecisionError, match=r"why: unknown operand 'layers\.0\.zz'"):
        load(data, tmp_path)


@pytest.mark.parametrize(
    "edit,msg",
    [
        (lambda d: d["signals"]["head.sm_e"].update(width=17, int_bits=0), r"head\.sm_e must represent 1\.0"),
        (lambda d: d["signals"]["head.sm_l"].update(int_bits=6), "max_window_length"),
        (lambda d: d["signals"]["input"].update(width=18), "at most 16 bits"),
        (lambda d: d["signals"]["layers.0.dt"].update(signed=True), r"layers\.0\.dt must be unsigned"),
        (lambda d: d["luts"]["exp2"].update(hi=2.0), r"luts\.exp2: the range must be \[0, 1\)"),
        (lambda d: d["luts"]["silu"].update(hi=3.3), "whole number"),
        (lambda d: d["signals"]["mu"].update(rounding="AP_ROUND"), "unknown rounding mode"),
        (lambda d: d.update(schema="venom-fpga-precision/0"), "schema"),
        (lambda d: d["dims"].update(d_model=0), "d_model"),
        (lambda d: d["dims"].update(d_model=True), "dims.d_model must be an integer"),  # not 1
        (lambda d: d["signals"]["layers.0.y"].update(int_bits=10**30), r"layers\.0\.y: int_bits .* outside"),
        (lambda d: d["luts"]["silu"].update(hi=1e308), r"luts\.silu\.hi must be <= 65536"),
        (lambda d: d["luts"]["gelu"].update(step_log2=2.5), r"luts\.gelu\.step_log2 must be an integer"),
        (lambda d: d.update(max_window_length=511.5), "max_window_length must be an integer"),
        (lambda d: d["notes"].append(3), "'notes' must be a list of strings"),
    ],
)
def test_invalid_values(data, tmp_path, edit, msg):
    edit(data)
    with pytest.raises(PrecisionError, match=msg) as info:
        load(data, tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'p.json'}: ")  # every error names the file


def test_windows_longer_than_the_config_holds_are_refused(cfg):
    cfg.check_window_length(cfg.max_window_length)
    with pytest.raises(PrecisionError, match=f"windows of {cfg.max_window_length + 1} samples are longer than "
                                             f"max_window_length {cfg.max_window_length}"):
        cfg.check_window_length(cfg.max_window_length + 1, "fixed backend")


@pytest.mark.parametrize("margin", [0.5, float("inf"), float("nan"), 1e300])
def test_margin_out_of_range(margin):
    with pytest.raises(PrecisionError, match="margin"):
        default_precision((SMALL, random_tensors(SMALL)), margin=margin)


def test_type_strings_accepted(data, tmp_path):
    data["signals"]["layers.0.y"] = "ap_fixed<18,4,AP_RND_CONV,AP_SAT>"
    assert load(data, tmp_path).signals["layers.0.y"] == QFormat(18, 4)


def test_default_weights_fit_and_are_tight(cfg):
    folded = folded_tensors(PUBLISHED, random_tensors(PUBLISHED, 0))
    for name, fmt in cfg.weights.items():
        v = folded[name]
        codes = fmt.from_float(v)
        assert np.all(np.abs(fmt.to_float(codes) - v) <= fmt.lsb / 2), name  # no saturation
        assert fmt.width == 18
        smaller = QFormat(fmt.width, fmt.int_bits - 1)  # one integer bit less would saturate
        assert np.abs(v).max() > smaller.max_value, name


def test_default_ranges_cover_the_float_model(cfg):
    """Every signal's format holds the float model's range on the probe and on unit-noise windows, with margin."""
    x = np.random.default_rng(3).standard_normal((16, 126, 2))
    ranges = float_signal_ranges(PUBLISHED, random_tensors(PUBLISHED, 0), x)
    fold_only = {f"layers.{i}.{s}" for i in range(PUBLISHED.n_layers) for s in ("ln_s", "ln_p")}  # probed for the fold
    for name, m in ranges.items():
        if name not in fold_only:
            assert m <= cfg.signals[name].max_value, (name, m, cfg.signals[name])


def test_default_precision_path(tmp_path):
    assert default_precision_path(tmp_path / "venom.safetensors") == tmp_path / "venom.precision.json"


def test_precision_for_lookup_order(write_checkpoint, tmp_path):
    ckpt = load_checkpoint(write_checkpoint(SMALL, name="m.safetensors"))
    cfg = precision_for(ckpt)
    assert cfg.source == "default" and any("default precision used" in n for n in cfg.notes)
    cfg.notes = ["beside"]
    save_precision(cfg, default_precision_path(ckpt.path))
    assert precision_for(ckpt).notes == ["beside"]
    cfg.notes = ["explicit"]
    explicit = save_precision(cfg, tmp_path / "other.json")
    assert precision_for(ckpt, explicit).notes == ["explicit"]
    other = default_precision((PUBLISHED, random_tensors(PUBLISHED, 0)))
    save_precision(other, tmp_path / "published.json")
    with pytest.raises(PrecisionError, match="do not match"):
        precision_for(ckpt, tmp_path / "published.json")


def test_constructor_validates():
    cfg = default_precision((SMALL, random_tensors(SMALL, 0)))
    signals = dict(cfg.signals)
    del signals["layers.1.C"]
    with pytest.raises(PrecisionError, match=r"missing key 'layers\.1\.C'"):
        PrecisionConfig(SMALL, signals, cfg.weights, cfg.luts, cfg.why)
