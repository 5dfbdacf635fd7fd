# SPDX-License-Identifier: BSD-3-Clause
"""VENOM-format loading, loop frame, trigger, windowing, FIR decimation, normalisation and split."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from scipy.signal import firwin

from venom_fpga.data import dataset
from venom_fpga.data import synth
from venom_fpga.model.meta import Metadata
from venom_fpga.metrics.resolving_power import HC_EV_NM


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Small data sets of both presets: {name: directory}."""
    root = tmp_path_factory.mktemp("data")
    return {name: synth.write_dataset(name, n, seed=3, out_dir=root / name, progress=False)
            for name, n in (("ptsi", 30), ("inhf", 6))}


def _write_line(path, i, q, mask):
    np.savez(path, i_trace=i, q_trace=q, mask=mask, peak_heights=np.zeros(len(mask)))


# --- load_raw ----------------------------------------------------------------------------------------


def test_load_raw_concatenates_lines_by_wavelength(data):
    raw = dataset.load_raw(data["inhf"])
    p = synth.PRESETS["inhf"]
    assert raw.i.shape == raw.q.shape == (6 * 10, p.trace_length) and raw.i.dtype == np.float32
    np.testing.assert_array_equal(raw.wavelengths_nm, sorted(p.wavelengths_nm))
    np.testing.assert_allclose(raw.energy_ev, HC_EV_NM / raw.wavelengths_nm[raw.line_index])
    assert np.bincount(raw.line_index).tolist() == [6] * 10
    assert raw.raw_rate_hz == p.raw_rate_hz and raw.meta["preset"] == "inhf"


def test_load_raw_without_metadata_applies_the_mask(tmp_path):
    rng = np.random.default_rng(0)
    _write_line(tmp_path / "PtSi_1310nm.npz", rng.random((4, 50)), rng.random((4, 50)), [1, 0, 1, 1])
    _write_line(tmp_path / "PtSi_808nm.npz", rng.random((2, 50)), rng.random((2, 50)), [True, True])
    with pytest.raises(ValueError, match="raw sample rate"):
        dataset.load_raw(tmp_path)
    raw = dataset.load_raw(tmp_path, raw_rate_hz=1e6)
    np.testing.assert_array_equal(raw.wavelengths_nm, [808.0, 1310.0])
    assert raw.line_index.tolist() == [0, 0, 1, 1, 1] and raw.meta == {}
    with np.load(tmp_path / "PtSi_1310nm.npz") as f:
        np.testing.assert_array_equal(raw.i[2:], f["i_trace"][[0, 2, 3]].astype(np.float32))


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"i_trace": np.zeros((2, 5)), "mask": np.ones(2, bool)}, "missing key.*q_trace"),
        ({"i_trace": np.zeros((2, 5)), "q_trace": np.zeros((2, 6)), "mask": np.ones(2, bool)}, "must be equal"),
        ({"i_trace": np.zeros((2, 5)), "q_trace": np.zeros((2, 5)), "mask": np.ones(3, bool)}, "mask shape"),
    ],
    ids=["missing-key", "iq-shape", "mask-shape"],
)
def test_load_raw_errors_name_the_file(tmp_path, arrays, message):
    np.savez(tmp_path / "0808nm.npz", **arrays)
    with pytest.raises(ValueError, match=message) as err:
        dataset.load_raw(tmp_path, raw_rate_hz=1e6)
    assert "0808nm.npz" in str(err.value)


def test_load_raw_errors(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        dataset.load_raw(tmp_path / "nope")
    with pytest.raises(ValueError, match="no .npz files"):
        dataset.load_raw(tmp_path, raw_rate_hz=1e6)
    _write_line(tmp_path / "laser.npz", np.zeros((1, 5)), np.zeros((1, 5)), [True])
    with pytest.raises(ValueError, match="laser.npz.*wavelength"):
        dataset.load_raw(tmp_path, raw_rate_hz=1e6)
    (tmp_path / "metadata.json").write_text(json.dumps({"raw_rate_hz": 2e6}))
    with pytest.raises(ValueError, match="contradicts"):
        dataset.load_raw(tmp_path, raw_rate_hz=1e6)
    (tmp_path / "metadata.json").write_text("{")
    with pytest.raises(ValueError, match="metadata.json: .*not valid JSON"):
        dataset.load_raw(tmp_path)
    (tmp_path / "metadata.json").unlink()
    (tmp_path / "laser.npz").unlink()
    (tmp_path / "0405nm.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="0405nm.npz: not a readable .npz"):
        dataset.load_raw(tmp_path, raw_rate_hz=1e6)


# --- geometry and trigger -------------------------------------------------------------------------


def test_fit_circle_recovers_an_arc():
    z = (3 - 2j) + 5 * np.exp(1j * np.linspace(0.3, 1.2, 50))
    centre, radius = dataset.fit_circle(z)
    assert abs(centre - (3 - 2j)) < 1e-9 and radius == pytest.approx(5)


@pytest.mark.parametrize("name", ["ptsi", "inhf"])
def test_trigger_finds_every_pulse_without_the_sweep_or_mirrored(data, name):
    raw = dataset.load_raw(data[name])
    raw.meta.pop(dataset.DARK_LOOP_KEY)  # the loop centre then comes from the pulses themselves
    raw.q = -raw.q  # a read-out that mirrors the loop
    frame = dataset.loop_frame(raw)
    assert frame.mirrored
    trig, threshold = dataset.find_triggers(raw, frame)
    offset = trig - synth.PRESETS[name].trigger_index
    assert threshold < 0 and np.all((offset >= 0) & (offset <= 5))


# --- windows ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [("ptsi", 126), ("inhf", 426)])
def test_window_length_follows_the_formula(data, name, expected):
    p = synth.PRESETS[name]
    length = dataset.window_length(p.raw_rate_hz, 4, 5.0, p.tau_qp_s)
    assert length == expected  # mkid_physics.md section 7: 5 tau_qp fs / 4 + 1
    assert dataset.window_length(p.raw_rate_hz, 4, 5.0, p.tau_qp_s, pre_trigger=3) == expected + 3
    raw = dataset.load_raw(data[name])
    w = dataset.make_windows(raw)  # tau_qp from metadata.json
    assert w.iq.shape == (raw.n_pulses, length, 2) and w.iq.dtype == np.float32
    assert w.provenance["n_no_trigger"] == 0 and w.provenance["n_window_outside_trace"] == 0
    assert set(w.preprocessing) == set(Metadata.keys()) - {"energy_scale", "energy_offset", "provenance"}
    assert w.preprocessing["window_length"] == length and len(w.preprocessing["fir_taps"]) == 33
    # typical normalised values are O(1); the pulse starts at the front of the window
    assert 0.2 < np.median(np.abs(w.iq)) < 2.0
    mag = np.linalg.norm(w.iq - w.iq[:, -1:], axis=-1).mean(axis=0)
    assert np.argmax(mag) <= 3


def test_windows_drop_pulses_without_trigger_or_room(data):
    raw = dataset.load_raw(data["ptsi"])
    for x in (raw.i, raw.q):
        x[:3] = np.roll(x[:3], 300, axis=1)  # pulse at ~780: its window runs off the trace
        x[3] = np.tile(x[3, :400], 3)[: raw.trace_length]  # noise only: never triggers
    w = dataset.make_windows(raw)
    assert w.provenance["n_window_outside_trace"] == 3 and w.provenance["n_no_trigger"] == 1
    np.testing.assert_array_equal(w.index, np.arange(4, raw.n_pulses))
    np.testing.assert_array_equal(w.line_index, raw.line_index[4:])
    assert dataset.make_windows(raw, pre_trigger=4).iq.shape[1] == 130
    with pytest.raises(ValueError, match="no pulse triggered with a complete window"):
        dataset.make_windows(raw, n_tau=6.0)  # 600 samples past ~482 fit no 1000-sample trace


def test_fir_decimation_attenuates_an_out_of_band_tone():
    fs, decimation = 2.0e6, 4
    taps = dataset.fir_taps(decimation)
    np.testing.assert_allclose(taps, firwin(33, 0.2))
    assert taps.sum() == pytest.approx(1.0)
    t = np.arange(4000) / fs
    tones = np.stack([np.sin(2 * np.pi * 20e3 * t), np.sin(2 * np.pi * 600e3 * t)])  # in band, above 250 kHz
    out = dataset.decimate_at(tones, taps, decimation, np.array([100, 100]), 900)
    assert np.ptp(out[0]) / 2 == pytest.approx(1.0, abs=0.01)
    assert np.max(np.abs(out[1])) < 1e-3  # > 60 dB down
    assert dataset.fir_taps(1).tolist() == [1.0]


def test_normalisation_round_trip_and_metadata_reproduces_windows(data):
    raw = dataset.load_raw(data["ptsi"])
    w = dataset.make_windows(raw)
    plain = dataset.make_windows(raw, iq_offset=[0.0, 0.0], iq_scale=[1.0, 1.0])
    offset, scale = np.array(w.preprocessing["iq_offset"]), np.array(w.preprocessing["iq_scale"])
    np.testing.assert_allclose(w.iq * scale + offset, plain.iq, rtol=1e-5, atol=1e-4 * scale[0])
    meta = Metadata(**w.preprocessing, provenance=w.provenance)
    again = dataset.make_windows_from_meta(raw, Metadata.from_dict(meta.to_safetensors_header())[0])
    np.testing.assert_array_equal(again.iq, w.iq)
    with pytest.raises(ValueError, match="raw rate"):
        dataset.make_windows_from_meta(raw, Metadata(raw_sample_rate_hz=1e6, window_length=126))


def test_make_windows_needs_tau_qp(data, tmp_path):
    shutil.copytree(data["ptsi"], tmp_path / "d")
    meta = json.loads((tmp_path / "d" / "metadata.json").read_text())
    del meta["tau_qp_s"]
    (tmp_path / "d" / "metadata.json").write_text(json.dumps(meta))
    raw = dataset.load_raw(tmp_path / "d")
    with pytest.raises(ValueError, match="tau_qp_s"):
        dataset.make_windows(raw)
    assert dataset.make_windows(raw, tau_qp_s=50e-6).iq.shape[1] == 126


# --- split ------------------------------------------------------------------------------------------


def test_stratified_split():
    line_index = np.repeat(np.arange(4), [100, 40, 7, 1000])
    test = dataset.stratified_split(line_index, 0.15, seed=5)
    assert [int(test[line_index == k].sum()) for k in range(4)] == [15, 6, 1, 150]
    np.testing.assert_array_equal(test, dataset.stratified_split(line_index, 0.15, seed=5))
    assert not np.array_equal(test, dataset.stratified_split(line_index, 0.15, seed=6))
    for bad in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="test_fraction"):
            dataset.stratified_split(line_index, bad, seed=5)
