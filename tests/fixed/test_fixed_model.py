# SPDX-License-Identifier: BSD-3-Clause
"""Fixed-point golden model: hand-checked stages (integers, exactly), agreement with the float model within an
error budget stated in output LSBs, step == window == one-window-at-a-time bit for bit, saturation counting."""

from __future__ import annotations

import copy
from fractions import Fraction

import numpy as np
import pytest
import torch
from model_zoo import PUBLISHED, SMALL, random_tensors
from fixed.test_lut import round_to, scalar_eval

from venom_fpga.model.dims import ModelDims
from venom_fpga.fixed.model import FixedModel
from venom_fpga.model.float_model import LN_EPS, VenomModel
from venom_fpga.fixed.precision import default_precision, float_signal_ranges
from venom_fpga.fixed.qformat import QFormat

SHAPES = {"published": PUBLISHED, "small-2layer": SMALL}


def windows(n: int, length: int, seed: int) -> np.ndarray:
    """Realistic-scale inputs: decaying pulses of random amplitude and phase on noise, |x| <= 3."""
    rng = np.random.default_rng(seed)
    t = np.arange(length)[None, :, None]
    pulse = rng.uniform(-2.5, 2.5, (n, 1, 2)) * np.exp(-t / rng.uniform(5, 40, (n, 1, 1)))
    return np.clip(pulse + 0.3 * rng.standard_normal((n, length, 2)), -3, 3)


@pytest.fixture(scope="module", params=list(SHAPES))
def model(request):
    dims = SHAPES[request.param]
    tensors = random_tensors(dims, seed=1)
    return FixedModel((dims, tensors), default_precision((dims, tensors)))


def traced(fm: FixedModel, x: np.ndarray):
    """Run windows step by step with tracing; returns (output codes, state with .trace)."""
    codes = fm.quantize_input(x)
    st = fm.init_state(x.shape[0], trace=True)
    for t in range(x.shape[1]):
        fm.step(codes[:, t], st)
    return fm.finish(st), st


def widened(cfg, k: int):
    """Every format (but the 16-bit input) k bits wider at the same integer bits, finer and wider tables."""
    c = copy.deepcopy(cfg)
    wider = lambda f, k=k: QFormat(f.width + k, f.int_bits, f.signed, f.rounding, f.overflow)  # noqa: E731
    c.signals = {n: (f if n == "input" else wider(f)) for n, f in c.signals.items()}
    c.weights = {n: wider(f) for n, f in c.weights.items()}
    for p in c.luts.values():
        p["table"] = wider(p["table"])
        p["step_log2"] += (k + 1) // 2  # interpolation error ~ step**2
        if "mant_frac" in p:
            p["mant_frac"] += k
    c.why = {n: "test" for n in list(c.operand_widths()) + [f"luts.{f}" for f in c.luts]}
    c.validate()
    return c


# ----------------------------------------------------------------------------------------- float agreement
# Error budget (documented, in LSBs of the compared signal's format). Every op rounds once (<= 1/2 LSB of its
# own format) and every table adds <= 1 LSB of its output (test_lut); formats are 18-bit words whose integer bits
# follow the signal ranges, so an error of one LSB upstream maps to about one LSB downstream. We allow 1 LSB per
# rounding stage on the longest path: 17 per layer (ln_rsqrt, ln_xn, ln_out, xi, xc, xa, xr/B/C, dt_raw, dt, dA,
# Abar, dtx, h, y, zs, gate, out) + 11 in the head (score, sm_e, sm_l, sm_acc, sm_recip, pooled, mlp0, gelu0,
# mlp2, gelu2, mu/log_var) for the outputs, and the 17 per layer + embed for the features. The input
# quantization (16-bit word, a property of the interface) is excluded by feeding the float model the dequantised
# input codes. The widened run below checks the other half: the error shrinks with the LSB (no error floor).
def budget_lsb(dims: ModelDims, outputs: bool) -> int:
    return 17 * dims.n_layers + (11 if outputs else 1)


def float_reference(dims, tensors, xq):
    m = VenomModel.from_tensors(dims, tensors)
    with torch.no_grad():
        xt = torch.as_tensor(xq)
        return m(xt).numpy(), m.features(xt).numpy()


@pytest.mark.parametrize("name", list(SHAPES))
def test_matches_float_within_budget_and_error_scales_with_lsb(name):
    dims = SHAPES[name]
    tensors = random_tensors(dims, seed=1)
    x = windows(16, 60, seed=5)
    base = default_precision((dims, tensors))
    errs = []
    for k in (0, 6):
        cfg = widened(base, k) if k else base
        fm = FixedModel((dims, tensors), cfg)
        out, st = traced(fm, x)
        assert st.sat.total_saturated == 0, st.sat.saturated()
        xq = cfg.signals["input"].to_float(fm.quantize_input(x))
        ref, feat = float_reference(dims, tensors, xq)
        f_fmt = cfg.signals[f"layers.{dims.n_layers - 1}.out"]
        f_fixed = f_fmt.to_float(np.stack(st.trace[f"layers.{dims.n_layers - 1}.out"], axis=1))
        e_feat = np.abs(f_fixed - feat).max() / f_fmt.lsb
        got = fm.output_float(out)
        e_mu = np.abs(got[:, 0] - ref[:, 0]).max() / cfg.signals["mu"].lsb
        e_lv = np.abs(got[:, 1] - ref[:, 1]).max() / cfg.signals["log_var"].lsb
        assert e_feat <= budget_lsb(dims, outputs=False), (k, e_feat)
        assert max(e_mu, e_lv) <= budget_lsb(dims, outputs=True), (k, e_mu, e_lv)
        errs.append(np.abs(got - ref).max())
    # 6 more bits everywhere -> an error ~64x smaller: the datapath has no error floor of its own (an equation
    # bug would leave one), the remaining error is rounding.
    assert errs[1] <= errs[0] / 16, errs


def test_other_shape_runs_and_matches():
    dims = ModelDims.from_hyper(d_model=24, d_state=3, d_conv=1, n_layers=1, d_head_hidden=8, expand=2)
    tensors = random_tensors(dims, seed=2)
    fm = FixedModel((dims, tensors))
    x = windows(8, 40, seed=1)
    codes, sat = fm.run(x)
    assert sat.total_saturated == 0
    ref, _ = float_reference(dims, tensors, fm.fmt["input"].to_float(fm.quantize_input(x)))
    assert np.abs(fm.output_float(codes)[:, 0] - ref[:, 0]).max() <= budget_lsb(dims, True) * fm.fmt["mu"].lsb


# ----------------------------------------------------------------------------------------- exactness of modes
def test_step_mode_equals_window_mode(model):
    x = windows(9, 50, seed=2)
    codes = model.quantize_input(x)
    win, sat = model.run_codes(codes)
    st = model.init_state(9)
    for t in range(50):
        model.step(codes[:, t], st)
    np.testing.assert_array_equal(model.finish(st), win)
    assert st.sat.counts == sat.counts and st.sat.totals == sat.totals


def test_batch_equals_one_window_at_a_time(model):
    x = windows(7, 40, seed=3)
    full, _ = model.run(x)
    alone = np.concatenate([model.run(x[i : i + 1])[0] for i in range(7)])
    np.testing.assert_array_equal(full, alone)
    np.testing.assert_array_equal(full, model.run(x, batch=3)[0])
    # and the carried state itself: window 5 of a batch == that window alone, after every sample
    codes = model.quantize_input(x)
    batch, one = model.init_state(7), model.init_state(1)
    for t in range(40):
        model.step(codes[:, t], batch)
        model.step(codes[5:6, t], one)
        a, b = batch.window(5), one.window(0)
        for key in ("m", "l", "acc"):
            np.testing.assert_array_equal(a[key], b[key])
        for ha, hb, ca, cb in zip(a["h"], b["h"], a["conv"], b["conv"]):
            np.testing.assert_array_equal(ha, hb)
            np.testing.assert_array_equal(ca, cb)


def test_no_saturation_in_range_and_counted_beyond(model):
    x = windows(16, 60, seed=4)
    _, sat = model.run(x)
    assert sat.total_saturated == 0, sat.saturated()
    assert sat.totals["input"] == x.size
    loud = x.copy()
    loud[:4, 10:20] = 100.0  # far beyond the 16-bit input range [-16, 16)
    codes, sat = model.run(loud)
    assert sat.counts["input"] == 4 * 10 * 2
    assert np.all(model.fmt["mu"].representable(codes[:, 0]))
    # the windows that did not saturate are unaffected
    np.testing.assert_array_equal(codes[4:], model.run(x[4:])[0])


def test_record_ranges(model):
    x = windows(12, 60, seed=6)
    _, _, ranges = model.run(x, record=True)
    xq = model.fmt["input"].to_float(model.quantize_input(x))
    floats = float_signal_ranges(model.dims, random_tensors(model.dims, seed=1), xq)
    for name, (lo, hi) in ranges.items():
        fmt = model.fmt[name]
        assert fmt.min_value <= lo <= hi <= fmt.max_value
        if name in floats and floats[name] > 64 * fmt.lsb:
            # the recorded (fixed) range equals the float model's up to rounding
            assert abs(max(abs(lo), abs(hi)) - floats[name]) <= 0.02 * floats[name] + 8 * fmt.lsb, name


def test_empty_window_gives_the_bias_path(model):
    st = model.init_state(3)
    out = model.finish(st)  # no samples: pooled = 0
    assert out.shape == (3, 2) and np.all(out == out[0])


# ----------------------------------------------------------------------------------------- hand-checked stages
def rne(value: Fraction, fmt: QFormat) -> int:
    return round_to(fmt, value)


def weight(fm: FixedModel, name: str) -> tuple[np.ndarray, int]:
    """Quantized weight codes and their fraction bits."""
    return fm.quantized_weights[name], fm.precision.weights[name].frac_bits


def test_embed_known_codes():
    dims = SMALL
    t = random_tensors(dims, 0)
    t["embed.weight"][0] = [0.5, -0.25]
    t["embed.weight"][1] = [0.75, 0.125]
    t["embed.bias"][:2] = [0.125, -0.0625]
    fm = FixedModel((dims, t))
    x = np.zeros((1, 1, 2))
    x[0, 0] = [1.5, -2.0]
    _, st = traced(fm, x)
    u = st.trace["embed"][0][0]
    f = fm.fmt["embed"].frac_bits
    assert int(u[0]) == int(1.375 * 2**f)  # 0.75 + 0.5 + 0.125
    assert int(u[1]) == int(0.8125 * 2**f)  # 1.125 - 0.25 - 0.0625
    # every channel: the exact sum of code products, rounded once
    xc = fm.quantize_input(x)[0, 0]
    w, wf = weight(fm, "embed.weight")
    b, bf = weight(fm, "embed.bias")
    xf = fm.fmt["input"].frac_bits
    for j in range(dims.d_model):
        exact = Fraction(int(w[j, 0]) * int(xc[0]) + int(w[j, 1]) * int(xc[1]), 2 ** (wf + xf)) + Fraction(
            int(b[j]), 2**bf)
        assert int(u[j]) == rne(exact, fm.fmt["embed"]), j


def test_conv_impulse_response():
    """Constant embed bias and beta = 0 make LayerNorm output exactly 0 except at the one non-zero sample t0, so
    xi is 1-hot in time and xc walks through the conv taps: xc_t = b_c + w_c[:, d_conv-1-(t-t0)] xi_t0."""
    dims = SMALL
    t = random_tensors(dims, 0)
    t["embed.bias"][:] = 0.25
    t["layers.0.norm.bias"][:] = 0.0
    fm = FixedModel((dims, t))
    t0, length = 2, 8
    x = np.zeros((1, length, 2))
    x[0, t0] = [1.0, -0.5]
    _, st = traced(fm, x)
    xi = np.stack(st.trace["layers.0.xi"])[:, 0]  # (L, d_inner)
    assert np.all(xi[np.arange(length) != t0] == 0) and np.any(xi[t0] != 0)
    xc = np.stack(st.trace["layers.0.xc"])[:, 0]
    w, wf = weight(fm, "layers.0.mixer.conv1d.weight")
    b, bf = weight(fm, "layers.0.mixer.conv1d.bias")
    xf = fm.fmt["layers.0.xi"].frac_bits
    for tt in range(length):
        for d in range(dims.d_inner):
            k = dims.d_conv - 1 - (tt - t0)
            tap = int(w[d, k]) * int(xi[t0, d]) if 0 <= k < dims.d_conv else 0
            exact = Fraction(tap, 2 ** (wf + xf)) + Fraction(int(b[d]), 2**bf)
            assert int(xc[tt, d]) == rne(exact, fm.fmt["layers.0.xc"]), (tt, d)


def test_layernorm_by_hand(model):
    x = windows(2, 5, seed=7)
    _, st = traced(model, x)
    d = model.dims.d_model
    lut = model.luts["layers.0.rsqrt"]
    mant_frac = model.precision.luts["rsqrt"]["mant_frac"]
    fu = model.fmt["embed"]
    eps = max(round_to(QFormat(63, 63 - 2 * fu.frac_bits), Fraction(LN_EPS) * d**3), 1)  # eps d^3, V's units
    g, gf = weight(model, "layers.0.norm.weight")
    b, bf = weight(model, "layers.0.norm.bias")
    xn_fmt, out_fmt, r_fmt = model.fmt["layers.0.ln_xn"], model.fmt["layers.0.ln_out"], model.fmt["layers.0.ln_rsqrt"]
    for step in range(5):
        for w in range(2):
            u = [int(v) for v in st.trace["embed"][step][w]]
            c = [d * ui - sum(u) for ui in u]
            v = sum(ci * ci for ci in c) + eps
            e = (v.bit_length() - 1) & ~1
            m = (v << mant_frac) >> e  # floor(V 2**(B - e)), V = m 2**e
            r = scalar_eval(lut, m)
            assert r == int(st.trace["layers.0.ln_rsqrt"][step][w]), (step, w)
            for j in range(d):
                xn = rne(Fraction(c[j] * r, 2 ** (e // 2 + r_fmt.frac_bits)), xn_fmt)
                assert xn == int(st.trace["layers.0.ln_xn"][step][w][j])
                n = rne(Fraction(int(g[j]) * xn, 2 ** (gf + xn_fmt.frac_bits)) + Fraction(int(b[j]), 2**bf), out_fmt)
                assert n == int(st.trace["layers.0.ln_out"][step][w][j])


def test_state_update_by_hand(model):
    """h_t = Abar_t h_{t-1} + dtx_t B_t, dA = dt A2 and y = C h + D xa, element by element from traced codes."""
    x = windows(2, 6, seed=8)
    _, st = traced(model, x)
    tr, f, p = st.trace, model.fmt, "layers.0."
    a2, a2f = weight(model, p + "mixer.A_log")
    dd, ddf = weight(model, p + "mixer.D")
    F = {k: f[p + k].frac_bits for k in ("dt", "Abar", "h", "dtx", "B", "C", "xa")}
    for t in range(1, 6):
        for w, di, n in [(0, 0, 0), (1, 3, 2), (0, model.dims.d_inner - 1, model.dims.d_state - 1)]:
            dt = int(tr[p + "dt"][t][w][di])
            assert int(tr[p + "dA"][t][w][di, n]) == round_to(f[p + "dA"], Fraction(dt * int(a2[di, n]),
                                                                                     2 ** (F["dt"] + a2f)))
            assert int(tr[p + "Abar"][t][w][di, n]) == scalar_eval(model.luts[p + "exp2_decay"],
                                                                   int(tr[p + "dA"][t][w][di, n]))
            exact = Fraction(int(tr[p + "Abar"][t][w][di, n]) * int(tr[p + "h"][t - 1][w][di, n]),
                             2 ** (F["Abar"] + F["h"])) + Fraction(
                int(tr[p + "dtx"][t][w][di]) * int(tr[p + "B"][t][w][n]), 2 ** (F["dtx"] + F["B"]))
            assert int(tr[p + "h"][t][w][di, n]) == rne(exact, f[p + "h"])
        for w, di in [(0, 1), (1, model.dims.d_inner - 2)]:
            exact = sum(Fraction(int(tr[p + "C"][t][w][k]) * int(tr[p + "h"][t][w][di, k]), 2 ** (F["C"] + F["h"]))
                        for k in range(model.dims.d_state))
            exact += Fraction(int(dd[di]) * int(tr[p + "xa"][t][w][di]), 2 ** (ddf + F["xa"]))
            assert int(tr[p + "y"][t][w][di]) == rne(exact, f[p + "y"])


def test_online_softmax_and_pooling_by_hand(model):
    """The head's recurrence for a few channels over a whole window, then pooled = acc / l, with Python ints."""
    x = windows(2, 30, seed=9)
    _, st = traced(model, x)
    f = model.fmt
    last = f"layers.{model.dims.n_layers - 1}.out"
    fe, fl, fa, ff = f["head.sm_e"], f["head.sm_l"], f["head.sm_acc"], f[last]
    one = 1 << fe.frac_bits
    for w in range(2):
        for j in (0, model.dims.d_model - 1):
            m, l_, acc = f["head.score"].min_code, 0, 0
            for t in range(30):
                s, fv = int(st.trace["head.score"][t][w][j]), int(st.trace[last][t][w][j])
                e = scalar_eval(model.luts["head.exp2_softmax"], abs(s - m))
                assert e == int(st.trace["head.sm_e"][t][w][j])
                a, b = (e, one) if s > m else (one, e)
                l_ = rne(Fraction(l_ * a + (b << fl.frac_bits), 2 ** (fl.frac_bits + fe.frac_bits)), fl)
                acc = rne(Fraction(acc * a, 2 ** (fa.frac_bits + fe.frac_bits))
                          + Fraction(b * fv, 2 ** (fe.frac_bits + ff.frac_bits)), fa)
                m = max(m, s)
                assert (l_, acc) == (int(st.trace["head.sm_l"][t][w][j]), int(st.trace["head.sm_acc"][t][w][j]))
            p = l_.bit_length() - 1
            mf = model.precision.luts["recip"]["mant_frac"]
            r = scalar_eval(model.luts["head.recip"], (l_ << mf) >> p)
            fr = f["head.sm_recip"]
            assert r == int(st.trace["head.sm_recip"][0][w][j])
            pooled = rne(Fraction(acc * r, 2 ** (fa.frac_bits + fr.frac_bits + p - fl.frac_bits)), f["head.pooled"])
            assert pooled == int(st.trace["head.pooled"][0][w][j])


# ----------------------------------------------------------------------------------------- API odds and ends
def test_quantized_weights_and_output_float(model):
    assert model.weight_saturation.total_saturated == 0
    shapes = model.dims.expected_shapes()
    for name, codes in model.quantized_weights.items():
        want = shapes[name] if "conv1d.weight" not in name else (model.dims.d_inner, model.dims.d_conv)
        assert codes.shape == want and codes.dtype == np.int64
    codes = np.array([[1 << model.fmt["mu"].frac_bits, -(1 << model.fmt["log_var"].frac_bits)]])
    np.testing.assert_array_equal(model.output_float(codes), [[1.0, -1.0]])


def test_predict_fixed_backend(write_checkpoint):
    from venom_fpga.model.checkpoint import load_checkpoint
    from venom_fpga.predict import predict

    ckpt = load_checkpoint(write_checkpoint(SMALL, name="s.safetensors"))
    x = windows(6, 30, seed=10)
    with pytest.warns(UserWarning, match="default precision used"):  # the tool says so
        fixed = predict(ckpt, x, backend="fixed")
    flt = predict(ckpt, x, backend="float")
    fm = FixedModel(ckpt)
    lsb_ev = fm.fmt["mu"].lsb * abs(ckpt.meta.energy_scale)
    # the same budget, doubled for the input quantization (16-bit words: a few output LSB here)
    assert np.abs(fixed[:, 0] - flt[:, 0]).max() <= 2 * budget_lsb(SMALL, True) * lsb_ev
