# SPDX-License-Identifier: BSD-3-Clause
"""Integer tables: accuracy vs the float functions, the documented index rule (re-implemented here with Python
integers, bit for bit), edges and clamps, normalisation, and the .mem / C++ writers."""

from __future__ import annotations

import math
import subprocess
from fractions import Fraction

import numpy as np
import pytest
from model_zoo import PUBLISHED, random_tensors

from venom_fpga.files import check_generated_header, generated_header
from venom_fpga.fixed import lut as lutmod
from venom_fpga.fixed.precision import default_precision
from venom_fpga.fixed.qformat import QFormat


@pytest.fixture(scope="module")
def luts():
    cfg = default_precision((PUBLISHED, random_tensors(PUBLISHED, 0)))
    return lutmod.build_luts(cfg.dims.n_layers, cfg.signals, cfg.luts)


# ------------------------------------------------------------------ an independent scalar model of the rule
def round_to(fmt: QFormat, value: Fraction) -> int:
    """ap_fixed assignment of an exact rational (round half even / half up / truncate, then saturate): the test's
    own, written from the ap_fixed definitions."""
    x = value * 2**fmt.frac_bits
    fl = math.floor(x)
    rem = x - fl
    if fmt.rounding == "AP_RND_CONV":
        code = fl + (1 if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2) else 0)
    elif fmt.rounding == "AP_RND":
        code = fl + (1 if rem >= Fraction(1, 2) else 0)
    else:
        assert fmt.rounding == "AP_TRN"
        code = fl
    assert fmt.overflow == "AP_SAT"
    return min(max(code, fmt.min_code), fmt.max_code)


def scalar_eval(lut: lutmod.Lut, code: int) -> int:
    """The module docstring's rule, one code at a time, with Python ints and Fractions."""
    f_in, s = lut.in_fmt.frac_bits, lut.shift
    n = 0
    if lut.kind == "exp2neg":
        code = max(code, 0)
        n = min(code >> f_in, lut.nmax)
        a = code & ((1 << f_in) - 1)
    elif lut.kind == "uniform":
        a = code
    else:
        a = abs(code)
    a = min(max(a, lut.lo_code), lut.hi_code - 1) - lut.lo_code
    i, r = a >> s, a & ((1 << s) - 1)
    t = [int(c) for c in lut.codes]
    v = Fraction(t[i] * 2**s + (t[i + 1] - t[i]) * r, 2 ** (lut.table_fmt.frac_bits + s))
    x = Fraction(code, 2**f_in)
    y = {
        "uniform": v,
        "relu_minus": max(x, 0) - v,
        "relu_plus": max(x, 0) + v,
        "exp2neg": v / 2**n,
    }[lut.kind]
    return round_to(lut.out_fmt, y)


@pytest.mark.parametrize(
    "name", ["layers.0.rsqrt", "layers.0.silu_xc", "layers.0.softplus", "layers.0.exp2_decay", "head.exp2_softmax",
             "head.recip", "head.gelu0"]
)
def test_index_rule_bit_exact_at_edges_and_random(luts, name):
    lut = luts[name]
    fin = lut.in_fmt
    edges = [fin.min_code, fin.min_code + 1, fin.max_code - 1, fin.max_code, 0, 1, -1,
             lut.lo_code, lut.lo_code + 1, lut.hi_code - 2, lut.hi_code - 1, lut.hi_code, lut.hi_code + 1,
             -lut.hi_code + 1, -lut.hi_code, -lut.hi_code - 1]
    # grid points and their neighbours (r = 0 and r = 2**s - 1)
    grid = [lut.lo_code + (j << lut.shift) + d for j in (0, 1, 7, lut.n_intervals - 1) for d in (-1, 0, 1)]
    rng = np.random.default_rng(1)
    rand = list(rng.integers(fin.min_code, fin.max_code + 1, 300))
    if lut.kind == "exp2neg":  # several integer parts n, incl. beyond NMAX
        rand += [(n << fin.frac_bits) + int(f) for n in (1, 2, 5, lut.nmax - 1, lut.nmax, lut.nmax + 1)
                 for f in rng.integers(0, 1 << fin.frac_bits, 5) if (n << fin.frac_bits) + f <= fin.max_code]
    codes = sorted({min(max(int(c), fin.min_code), fin.max_code) for c in edges + grid + rand})
    got = lut.evaluate(np.array(codes, dtype=np.int64))
    want = [scalar_eval(lut, c) for c in codes]
    bad = [(c, int(g), w) for c, g, w in zip(codes, got, want) if g != w]
    assert not bad, f"{name}: (input, model, rule) {bad[:5]}"


def test_clamp_reads_the_last_interval():
    """Inputs at and beyond hi read the table at hi - 1 LSB: SiLU(x) = x - g(hi - LSB) for x >= hi - LSB."""
    fmt = QFormat(24, 8)  # [-128, 128): the table range [0, 16) lies well inside
    lut = lutmod.make_lut("silu", "silu", fmt, fmt, default_precision((PUBLISHED, random_tensors(PUBLISHED, 0)))
                          .luts["silu"])
    top = lut.hi_code - 1
    x = np.array([top, lut.hi_code, lut.hi_code + 12345, fmt.max_code], dtype=np.int64)
    y = lut.evaluate(x)
    assert np.all(y - x == y[0] - x[0])
    assert -2 <= y[0] - x[0] <= 0  # g(16) ~ 1.8e-6 ~ 0.1 LSB here
    neg = lut.evaluate(-x)  # very negative inputs: -g(hi - LSB), the same value for all
    assert np.all(neg == neg[0]) and -2 <= neg[0] <= 0
    assert scalar_eval(lut, int(fmt.min_code)) == int(lut.evaluate(np.array([fmt.min_code]))[0])


@pytest.mark.parametrize("name", ["layers.0.rsqrt", "layers.0.silu_xc", "layers.0.softplus", "layers.0.exp2_decay",
                                  "head.exp2_softmax", "head.recip", "head.gelu0", "head.gelu2"])
def test_error_within_documented_bound(luts, name):
    lut = luts[name]
    m = lut.measure(max_codes=1 << 17)
    assert m["max_abs_error"] <= m["bound"], m
    # the bound is not vacuous: interpolation + entry rounding are designed to stay near one output LSB,
    # except softplus, whose output (dt) has many more fraction bits than the interpolation error needs
    if lut.family != "softplus":
        assert m["bound"] <= 1.0 * lut.out_fmt.lsb, (m["bound"], lut.out_fmt.lsb)
    else:
        assert m["max_rel_error"] < 2e-3  # relative precision of dt where dt >= 1024 LSB


def test_tables_match_float_function(luts):
    """Entries are correctly rounded exact values: a float64 recomputation agrees within one code, nearly always
    exactly."""
    g = {
        "silu": lambda a: a / (1 + np.exp(a)),
        "gelu": lambda a: a * 0.5 * __import__("scipy.special", fromlist=["erfc"]).erfc(a / math.sqrt(2)),
        "softplus": lambda a: np.log1p(np.exp(-a)),
        "exp2": lambda f: np.exp2(-f),
        "rsqrt": lambda m: 1 / np.sqrt(m),
        "recip": lambda m: 1 / m,
    }
    seen = set()
    for lut in luts.values():
        if lut.family in seen:
            continue
        seen.add(lut.family)
        grid = lut.lo + np.arange(len(lut.codes)) * 2.0**-lut.step_log2
        ref = np.round(g[lut.family](grid) * 2.0**lut.table_fmt.frac_bits)
        diff = np.abs(lut.codes - ref)
        assert diff.max() <= 1 and np.count_nonzero(diff) <= 2, (lut.family, diff.max(), np.count_nonzero(diff))
    assert seen == set(lutmod.FAMILIES)


def test_shared_tables_and_sizes(luts):
    assert np.array_equal(luts["layers.0.silu_xc"].codes, luts["layers.0.silu_z"].codes)
    assert np.array_equal(luts["layers.0.exp2_decay"].codes, luts["head.exp2_softmax"].codes)
    for lut in luts.values():
        assert len(lut.codes) == (lut.hi - lut.lo) * 2**lut.step_log2 + 1
        assert lut.codes.min() >= lut.table_fmt.min_code and lut.codes.max() <= lut.table_fmt.max_code
        assert lut.interp_bits() <= 62


def test_step_finer_than_input_lsb_is_an_error():
    with pytest.raises(ValueError, match="finer than the input LSB"):
        lutmod.make_lut("x", "silu", QFormat(10, 6), QFormat(10, 6),
                        {"lo": 0.0, "hi": 8.0, "step_log2": 5, "table": QFormat(16, 0, signed=False)})


# ------------------------------------------------------------------ normalisation
def test_bit_length_exact_near_powers_of_two():
    vals = [1, 2, 3, 4, 7, 8, 2**52 - 1, 2**52, 2**53 - 1, 2**53, 2**53 + 1, 2**62 - 1, 2**62, 2**63 - 1]
    got = lutmod.bit_length(np.array(vals, dtype=np.int64))
    assert list(got) == [v.bit_length() for v in vals]
    assert int(lutmod.bit_length(np.array([0]))[0]) == 0


def test_normalize_and_normalize_even():
    rng = np.random.default_rng(0)
    v = np.concatenate([np.arange(1, 70), rng.integers(1, 2**50, 500), [2**53 + 1, 2**61 + 3]]).astype(np.int64)
    m, p = lutmod.normalize(v, 17)
    assert np.all((m >= 2**17) & (m < 2**18))
    for vi, mi, pi in zip(v.tolist(), m.tolist(), p.tolist()):
        assert mi == (vi << 17) >> pi  # floor(v 2**(17 - p))
    m, e = lutmod.normalize_even(v, 16)
    assert np.all((m >= 2**16) & (m < 2**18)) and np.all(e % 2 == 0)
    for vi, mi, ei in zip(v.tolist(), m.tolist(), e.tolist()):
        assert mi == (vi << 16) >> ei


# ------------------------------------------------------------------ writers
HEADER = generated_header("pytest tests/fixed/test_lut.py", {"config": b"test-config"})


def test_header_names_command_input_and_hash():
    assert HEADER.startswith("GENERATED by pytest tests/fixed/test_lut.py from config (sha256 ")
    with pytest.raises(ValueError, match="GENERATED"):
        check_generated_header("written by hand")


def test_cpp_header_compiles_and_holds_the_tables(luts, tmp_path):
    path = lutmod.write_cpp_header(luts, tmp_path / "venom_luts.h", HEADER)
    assert path.read_text().splitlines()[0] == "// " + HEADER
    prog = tmp_path / "main.cpp"
    ident = lutmod.cpp_identifier("layers.0.exp2_decay")
    prog.write_text(
        '#include <cstdio>\n#include "venom_luts.h"\n'
        f"int main() {{ using namespace venom_lut::{ident};\n"
        '  std::printf("%d %d %lld\\n", SHIFT, N_ENTRIES, (long long)HI_CODE);\n'
        '  for (int i = 0; i < N_ENTRIES; ++i) std::printf("%lld\\n", (long long)TABLE[i]); }\n'
    )
    exe = tmp_path / "main"
    subprocess.run(["g++", "-std=c++14", "-O0", "-I", str(tmp_path), str(prog), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout.split()
    lut = luts["layers.0.exp2_decay"]
    assert [int(v) for v in out[:3]] == [lut.shift, len(lut.codes), lut.hi_code]
    assert [int(v) for v in out[3:]] == lut.codes.tolist()


def test_report_has_every_use(luts):
    rep = lutmod.lut_report({k: luts[k] for k in ("head.recip", "layers.0.rsqrt")}, max_codes=1 << 12)
    for name, r in rep.items():
        assert r["max_abs_error"] <= r["bound"] and r["entries"] == len(luts[name].codes)
        assert "i = d >>" in r["index_rule"]
