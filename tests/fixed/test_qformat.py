# SPDX-License-Identifier: BSD-3-Clause
"""QFormat: ap_fixed<W,I,Q,O> semantics on int64 codes, proven bit-exact against the real ap_fixed headers.

One C++ translation unit (tests/cxx/ap_fixed_probe.cpp plus a generated table of the formats below) is compiled
once per session with g++ against hls4ml's ap_types headers, cached by content in pytest's cache directory, and
driven through ctypes. Every comparison is on raw integer codes, every value.

Coverage: all 7 rounding x 4 overflow modes. Each mode combination gets ``TARGETS_PER_COMBO`` (3) target formats
drawn in turn from ``SHAPES`` (widths 1..64, I negative / zero / small / = W / > W, signed and unsigned), plus a few
hand-picked extras (W=1 with every overflow mode, LSB a subnormal double, range beyond every double); each target is
tested on two paths:
  (a) double -> target (``from_float``), ``N_DOUBLE`` values per target, through both the exact integer path and
      the float fast path (on the values it accepts);
  (b) ap_fixed<Wsrc,Isrc> code -> target (``quantize``): every target gets a source with more fraction bits (a
      rounding right shift), and all but one per combination a second one from a rotating set (a left shift, the
      same fraction bits, a 64-bit accumulator, a shift equal to the source width, a shift of 63/64 bits, an unsigned
      source); ``N_SOURCE`` values each. That is >= 10**5 values per mode combination on each path.
Values mix uniform reals/codes over and beyond the target range, exact half-LSB ties (and ties +-1 ulp / +-1 code),
codes at and around min/max, zero, tiny and huge magnitudes, random IEEE bit patterns, +-inf and subnormals.

The probe is compiled with -O1: a third faster to build than -O2 (~12 s vs ~16 s for ~250 instantiations on one core)
and still ~100 ns per conversion; later sessions reuse the cached library (a changed header or table rebuilds it).
"""

from __future__ import annotations

import ctypes
import hashlib
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from venom_fpga.fixed import qformat
from venom_fpga.fixed.qformat import OVERFLOW_MODES, ROUNDING_MODES, QFormat, SaturationCounter

PROBE_CPP = Path(__file__).parents[1] / "fixtures" / "cxx" / "ap_fixed_probe.cpp"

# (width, int_bits, signed): the spread of target shapes.
SHAPES = [
    (8, 3, True), (12, 4, False), (1, 1, True), (16, 20, True), (18, 6, True), (2, 3, False),
    (24, 24, True), (8, -2, False), (27, 2, True), (48, 50, False), (32, 0, True), (1, 0, False),
    (48, -5, True), (12, 12, False), (2, 1, True), (18, -3, False), (16, 6, True), (27, 30, False),
    (64, 32, True), (24, 10, False), (12, 0, True), (63, 10, False), (8, 8, True), (32, 16, False),
    (18, 1, True), (16, 16, False), (48, 20, True), (2, 0, True),
]  # fmt: skip
TARGETS_PER_COMBO = 3
# Hand-picked extras: the project default, W=1 / W=2 signed with every overflow mode (AP_SAT_SYM corner),
# formats whose LSB is a subnormal double or whose range covers every double.
EXTRA_TARGETS = [
    QFormat(18, 6, True, "AP_RND_CONV", "AP_SAT"),
    *(QFormat(1, 1, True, "AP_RND", o) for o in OVERFLOW_MODES),
    QFormat(2, 2, True, "AP_RND_INF", "AP_SAT_SYM"),
    QFormat(16, -1060, True, "AP_RND_CONV", "AP_SAT"),
    QFormat(8, 1030, False, "AP_RND", "AP_SAT"),
    QFormat(8, 1030, True, "AP_TRN", "AP_WRAP"),
]
N_DOUBLE = 34_000
N_SOURCE = 21_000
SEED = 20240601


@dataclass(frozen=True)
class Source:
    """An ap_fixed/ap_ufixed source format (modes irrelevant: it is only read)."""

    width: int
    int_bits: int
    signed: bool = True

    @property
    def frac_bits(self) -> int:
        return self.width - self.int_bits

    def ctype(self) -> str:
        return f"ap_{'' if self.signed else 'u'}fixed<{self.width},{self.int_bits}>"

    @property
    def code_range(self) -> tuple[int, int]:
        if self.signed:
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        return 0, (1 << self.width) - 1


def _source(width: int, frac_bits: int, signed: bool = True) -> Source:
    width = max(1, min(width, 64 if signed else 63))
    return Source(width, width - frac_bits, signed)


def _sources_for(t: QFormat, k: int, n_other: int) -> list[Source]:
    """Source formats for target ``t``: one that drops ``d`` fraction bits (rounding) and, when ``n_other`` is not
    None, one of six other kinds chosen by ``n_other``. ``k`` rotates the choices of the first.

    The headers evaluate ``op.V[F2 - F - 1]`` unconditionally in ``operator=``, which asserts ("Attempting to read
    bit beyond MSB") when the shift exceeds the source width; the far-shift kinds therefore stop at ``F2 - F == Wsrc``.
    """
    d = (1, 2, 3, 5, 11, 17, 30)[k % 7]  # extra fraction bits of the rounding source
    e = (0, 1, 3, 6)[k % 4]  # extra integer bits (overflow)
    out = [_source(t.width + d + e, t.frac_bits + d)]
    kind = None if n_other is None else n_other % 6
    if kind == 0:  # fewer fraction bits: a left shift
        out.append(_source(t.width + 2, t.frac_bits - (1, 3, 7)[k % 3]))
    elif kind == 1:  # same fraction bits
        out.append(_source(t.width + 3, t.frac_bits))
    elif kind == 2:  # a wide accumulator
        out.append(_source(64, t.frac_bits + 20))
    elif kind == 3:  # every source bit at or below the half-LSB (shift == source width)
        out.append(_source(6, t.frac_bits + 6))
    elif kind == 4:  # a shift beyond 62 bits (exercises the sticky fold in numpy)
        out.append(_source(64, t.frac_bits + (63, 64)[k % 2]))
    elif kind == 5:  # an unsigned source
        out.append(_source(t.width + 4, t.frac_bits + 3, signed=False))
    return out


@dataclass
class Plan:
    targets: list[QFormat]
    pairs: list[tuple[int, Source]]  # (target index, source) for path (b)

    def table_header(self) -> str:
        lines = ["// GENERATED by tests/fixed/test_qformat.py (the formats under test) - DO NOT EDIT"]
        lines.append("const FromDoubleFn kFromDouble[] = {")
        lines += [f"    &from_double<{t.ctype()} >,  // {i}" for i, t in enumerate(self.targets)]
        lines.append("};")
        lines.append("const FromSourceFn kFromSource[] = {")
        lines += [
            f"    &from_source<{self.targets[ti].ctype()}, {s.ctype()} >,  // {j}"
            for j, (ti, s) in enumerate(self.pairs)
        ]
        lines.append("};")
        return "\n".join(lines) + "\n"


def make_plan() -> Plan:
    targets: list[QFormat] = []
    combos = list(itertools.product(ROUNDING_MODES, OVERFLOW_MODES))
    slot = 0
    for q, o in combos:
        for _ in range(TARGETS_PER_COMBO):
            w, i, s = SHAPES[slot % len(SHAPES)]
            targets.append(QFormat(w, i, s, q, o))
            slot += 1
    targets += [t for t in EXTRA_TARGETS if t not in targets]
    pairs, n_other = [], 0
    for ti, t in enumerate(targets):
        with_other = ti % TARGETS_PER_COMBO != TARGETS_PER_COMBO - 1  # all but the last target of each combo
        pairs += [(ti, src) for src in _sources_for(t, ti, n_other if with_other else None)]
        n_other += with_other
    return Plan(targets, pairs)


PLAN = make_plan()


# ---------------------------------------------------------------------------------------------- C++ probe
class Probe:
    def __init__(self, lib: ctypes.CDLL):
        self.lib = lib
        i64p = ctypes.POINTER(ctypes.c_int64)
        lib.probe_from_double.argtypes = [ctypes.c_long, ctypes.POINTER(ctypes.c_double), i64p, ctypes.c_long]
        lib.probe_from_source.argtypes = [ctypes.c_long, i64p, i64p, ctypes.c_long]
        lib.probe_ap_int12_increment.argtypes = [ctypes.c_long]
        lib.probe_ap_int12_increment.restype = ctypes.c_long
        assert lib.probe_n_from_double() == len(PLAN.targets)
        assert lib.probe_n_from_source() == len(PLAN.pairs)

    def from_double(self, target_id: int, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float64)
        out = np.empty(x.shape, dtype=np.int64)
        rc = self.lib.probe_from_double(
            target_id, x.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), x.size,
        )  # fmt: skip
        assert rc == 0
        return out

    def from_source(self, pair_id: int, codes: np.ndarray) -> np.ndarray:
        codes = np.ascontiguousarray(codes, dtype=np.int64)
        out = np.empty(codes.shape, dtype=np.int64)
        rc = self.lib.probe_from_source(
            pair_id, codes.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
            out.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)), codes.size,
        )  # fmt: skip
        assert rc == 0
        return out


@pytest.fixture(scope="session")
def probe(request, tmp_path_factory) -> Probe:
    from venom_fpga.hls import cxx  # g++ and hls4ml's ap_types come with `make setup`: missing ones must fail

    cache = getattr(request.config, "cache", None)
    build = cache.mkdir("venom_cxx") if cache is not None else tmp_path_factory.mktemp("venom_cxx")
    table = PLAN.table_header()
    table_dir = Path(build) / f"probe-table-{hashlib.sha256(table.encode()).hexdigest()[:12]}"
    table_dir.mkdir(parents=True, exist_ok=True)
    (table_dir / "ap_fixed_probe_table.h").write_text(table)
    t0 = time.perf_counter()
    so = cxx.compile_shared(PROBE_CPP, build, include_dirs=[table_dir], name="ap_fixed_probe", opt="-O1")
    print(f"\nap_fixed probe: {len(PLAN.targets)} targets, {len(PLAN.pairs)} source pairs, "
          f"built/cached in {time.perf_counter() - t0:.1f} s: {so}")  # fmt: skip
    return Probe(cxx.load_library(so))


# ---------------------------------------------------------------------------------------------- value generators
def _doubles_for(t: QFormat, rng: np.random.Generator, n: int) -> np.ndarray:
    """Doubles that stress a conversion to ``t``: ranges, ties, boundaries, tiny/huge, raw bit patterns."""
    with np.errstate(over="ignore"):  # formats with I > 1024 overflow the double range: inf is a fine input
        return _doubles_unchecked(t, rng, n)


def _doubles_unchecked(t: QFormat, rng: np.random.Generator, n: int) -> np.ndarray:
    f, lsb = t.frac_bits, np.ldexp(1.0, -t.frac_bits)
    lo, hi = t.min_code, t.max_code
    parts = []
    # uniform over the range and 4 LSB beyond
    parts.append(rng.uniform(float(lo) - 4, float(hi) + 4, n // 4) * lsb)
    # exact half-LSB ties (2k+1) * 2**-(F+1), exact while |2k+1| < 2**53
    klo, khi = max(lo - 3, -(1 << 51)), min(hi + 3, 1 << 51)
    k = rng.integers(klo, khi, n // 6, endpoint=True)
    ties = np.ldexp((2 * k + 1).astype(np.float64), -(f + 1))
    parts += [ties, np.nextafter(ties, np.inf)[: n // 16], np.nextafter(ties, -np.inf)[: n // 16]]
    # representable values (round trip) and codes near the ends, with fractions
    reps = rng.integers(klo, khi, n // 10, endpoint=True)
    parts.append(np.ldexp(reps.astype(np.float64), -f))
    ends = np.array([lo, lo + 1, lo - 1, lo - 2, hi, hi - 1, hi + 1, hi + 2, 0, 1, -1, 2, -2], dtype=np.float64)
    fr = np.array([0.0, 0.25, 0.5, 0.75, -0.25, -0.5, -0.75, 1e-9, -1e-9])
    edge = np.ldexp((ends[:, None] + fr[None, :]).ravel(), -f)
    parts += [edge, np.nextafter(edge, np.inf), np.nextafter(edge, -np.inf)]
    # log-uniform magnitudes from far below the LSB to far beyond the range, both signs
    mag = np.exp2(rng.uniform(-f - 80, t.int_bits + 80, n // 8))
    parts.append(mag * rng.choice([-1.0, 1.0], mag.size))
    # random IEEE bit patterns (all exponents, subnormals, inf), NaN removed
    raw = rng.integers(0, np.iinfo(np.uint64).max, n // 10, dtype=np.uint64, endpoint=True).view(np.float64)
    parts.append(raw[~np.isnan(raw)])
    specials = [0.0, -0.0, np.inf, -np.inf, 5e-324, -5e-324, 2.2250738585072014e-308, -2.225073858507201e-308,
                1e300, -1e300, np.finfo(np.float64).max, -np.finfo(np.float64).max, 2.0**63, -(2.0**63),
                2.0**64, -(2.0**64), lsb, -lsb, lsb / 2, -lsb / 2, lsb / 3, -lsb / 3, lsb * 2.0**-60]  # fmt: skip
    parts.append(np.array(specials, dtype=np.float64))
    x = np.concatenate(parts)
    x = x[~np.isnan(x)]
    rest = n - x.size
    if rest > 0:
        x = np.concatenate([x, rng.uniform(float(lo) - 4, float(hi) + 4, rest) * lsb])
    return x


def _codes_for(t: QFormat, src: Source, rng: np.random.Generator, n: int) -> np.ndarray:
    """Source codes (in the source's range) that stress ``quantize`` to ``t``."""
    smin, smax = src.code_range
    d = src.frac_bits - t.frac_bits  # bits dropped (> 0) or added (< 0)
    parts = [rng.integers(smin, smax, n // 4, endpoint=True, dtype=np.int64)]  # full source range
    specials = [smin, smax, smin + 1, smax - 1, 0, 1, -1, 2, -2]
    if 0 < d < src.width - 1:
        step = 1 << d
        klo = max(t.min_code - 4, smin >> d)
        khi = min(t.max_code + 4, smax >> d)
        k = rng.integers(klo, khi, n // 2, endpoint=True, dtype=np.int64)
        m = n // 8
        parts.append(k[:m] * step + rng.integers(0, step, m, dtype=np.int64))  # target range, random low bits
        half = 1 << (d - 1)
        ties = k[m : 2 * m] * step + half
        parts += [ties, np.minimum(ties + 1, smax), ties - 1]  # ties and ties +- 1 code
        ends = np.array([t.min_code, t.min_code + 1, t.max_code, t.max_code - 1, -1, 0, 1])
        ends = np.clip(ends, klo, khi)
        lows = np.array([0, 1, half - 1, half, half + 1, step - 1])
        parts.append((ends[:, None] * step + lows[None, :]).ravel())
        parts.append(rng.integers(max(smin, -4 * step), min(smax, 4 * step), n // 16, endpoint=True))  # near zero
    elif d > 0:
        # the shift reaches the source's sign bit: ties and near-ties at +-half an LSB, where they fit
        half = 1 << (d - 1)
        specials += [sg * half + off for sg in (1, -1) for off in (-1, 0, 1) if smin <= sg * half + off <= smax]
    else:
        # codes whose left shift lands in and around the target range
        sh = -d
        klo, khi = max(smin, (t.min_code >> sh) - 3), min(smax, (t.max_code >> sh) + 3)
        parts.append(rng.integers(klo, khi, n // 2, endpoint=True, dtype=np.int64))
        specials += [klo, khi, t.min_code >> sh, t.max_code >> sh]
    # small magnitudes of every size
    nbits = rng.integers(0, src.width, n // 8)
    small = rng.integers(0, 1 << 62, n // 8, dtype=np.int64) >> (62 - np.minimum(nbits, 62))
    if src.signed:
        small = small * rng.choice(np.array([-1, 1], dtype=np.int64), small.size)
    parts.append(small)
    parts.append(np.array(specials, dtype=np.int64))
    codes = np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])
    codes = codes[(codes >= smin) & (codes <= smax)]
    rest = n - codes.size
    if rest > 0:
        codes = np.concatenate([codes, rng.integers(smin, smax, rest, endpoint=True, dtype=np.int64)])
    return codes


def _show_double(v: float) -> str:
    return f"{float(v)!r} ({float(v).hex()})"


def _first_mismatches(what: str, fmt: QFormat, inputs, expected, actual, fmt_in=str) -> str:
    bad = np.flatnonzero(expected != actual)
    lines = [f"{what} -> {fmt.ctype()}: {bad.size} of {expected.size} codes differ"]
    for i in bad[:8]:
        e, a = int(expected[i]), int(actual[i])
        lines.append(
            f"  [{i}] input {fmt_in(inputs[i])}: ap_fixed {e} ({e & (2**64 - 1):#x} = {float(fmt.to_float(e))!r}),"
            f" numpy {a} ({a & (2**64 - 1):#x})"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- bit-exact tests
COMBOS = list(itertools.product(ROUNDING_MODES, OVERFLOW_MODES))


@pytest.mark.parametrize(("rounding", "overflow"), COMBOS, ids=[f"{q}-{o}" for q, o in COMBOS])
def test_bit_exact_against_ap_fixed(probe, rounding, overflow):
    n_double = n_source = 0
    seed = SEED + COMBOS.index((rounding, overflow))
    rng = np.random.default_rng(seed)
    failures = []
    for ti, t in enumerate(PLAN.targets):
        if (t.rounding, t.overflow) != (rounding, overflow):
            continue
        x = _doubles_for(t, rng, N_DOUBLE)
        expected = probe.from_double(ti, x)
        n_double += x.size
        # the whole set (with +-inf: the exact integer path), then the part the float fast path takes
        with np.errstate(over="ignore"):
            fast = np.abs(x * 2.0**t.frac_bits) < 2.0**62 if 0 <= t.frac_bits <= 1000 else np.zeros(x.shape, bool)
        assert t._from_float_fast(x) is None
        assert fast.sum() > x.size // 3 or not fast.any()
        for sel in (slice(None), fast):
            actual = t.from_float(x[sel])
            if not np.array_equal(expected[sel], actual):
                failures.append(_first_mismatches("double", t, x[sel], expected[sel], actual, _show_double))
        for pj, (pti, src) in enumerate(PLAN.pairs):
            if pti != ti:
                continue
            codes = _codes_for(t, src, rng, N_SOURCE)
            expected, actual = probe.from_source(pj, codes), t.quantize(codes, src.frac_bits)
            n_source += codes.size
            if not np.array_equal(expected, actual):
                failures.append(_first_mismatches(src.ctype(), t, codes, expected, actual, lambda v: f"{int(v):#x}"))
    assert not failures, "\n".join(failures)
    assert n_double >= 100_000 and n_source >= 100_000, (n_double, n_source)


def test_ap_int12_wraps(probe):
    from venom_fpga.hls.cxx import ap_types_include_dir

    assert (ap_types_include_dir() / "ap_fixed.h").is_file()
    assert probe.lib.probe_ap_int12_increment(2047) == -2048
    assert probe.lib.probe_ap_int12_increment(-1) == 0
    int12 = QFormat.parse("ap_int<12>")
    assert int12 == QFormat(12, 12, True, "AP_TRN", "AP_WRAP")
    np.testing.assert_array_equal(int12.quantize(np.array([2047, -2048]) + 1, 0), [-2048, -2047])


def test_plan_covers_the_brief():
    widths = {t.width for t in PLAN.targets}
    assert {1, 2, 8, 12, 16, 18, 24, 27, 32, 48, 63, 64} <= widths
    for q, o in COMBOS:
        mine = [t for t in PLAN.targets if (t.rounding, t.overflow) == (q, o)]
        assert len(mine) >= TARGETS_PER_COMBO
    kinds = {(t.int_bits < 0, t.int_bits == 0, t.int_bits == t.width, t.int_bits > t.width) for t in PLAN.targets}
    assert len(kinds) == 5  # negative, zero, in between, equal to W, greater than W
    assert {t.signed for t in PLAN.targets} == {True, False}


# ---------------------------------------------------------------------------------------------- pure numpy
@pytest.mark.parametrize("shape", SHAPES, ids=[f"{'s' if s else 'u'}{w}_{i}" for w, i, s in SHAPES])
def test_representable_values_round_trip(shape):
    w, i, s = shape
    rng = np.random.default_rng(1)
    for q, o in (("AP_RND_CONV", "AP_SAT"), ("AP_TRN", "AP_WRAP")):
        f = QFormat(w, i, s, q, o)
        lo, hi = max(f.min_code, -(1 << 52)), min(f.max_code, 1 << 52)
        codes = np.concatenate([rng.integers(lo, hi, 2000, endpoint=True), [lo, hi, 0]])
        np.testing.assert_array_equal(f.from_float(f.to_float(codes)), codes)
        np.testing.assert_array_equal(f.quantize(codes, f.frac_bits), codes)
        np.testing.assert_array_equal(f.quantize(codes << 5, f.frac_bits + 5), codes)


def test_rnd_conv_sat_matches_round_half_even_then_clip():
    f = QFormat(18, 6)
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-40, 40, 50_000), (rng.integers(-(2**18), 2**18, 10_000) + 0.5) * f.lsb])
    ref = np.clip(np.round(x / f.lsb), f.min_code, f.max_code).astype(np.int64)
    np.testing.assert_array_equal(f.from_float(x), ref)


def test_rounding_modes_on_ties_and_overflow_modes():
    # codes with one extra fraction bit: -2.5, -1.5, -0.5, 0.5, 1.5, 2.5 LSB, and -0.25, 0.75 LSB
    codes = np.array([-5, -3, -1, 1, 3, 5])
    expect = {
        "AP_TRN": [-3, -2, -1, 0, 1, 2],
        "AP_TRN_ZERO": [-2, -1, 0, 0, 1, 2],
        "AP_RND": [-2, -1, 0, 1, 2, 3],
        "AP_RND_ZERO": [-2, -1, 0, 0, 1, 2],
        "AP_RND_INF": [-3, -2, -1, 1, 2, 3],
        "AP_RND_MIN_INF": [-3, -2, -1, 0, 1, 2],
        "AP_RND_CONV": [-2, -2, 0, 0, 2, 2],
    }
    for q, want in expect.items():
        np.testing.assert_array_equal(QFormat(8, 8, True, q, "AP_SAT").quantize(codes, 1), want, err_msg=q)
    big = np.array([-300, -128, -127, 127, 128, 300])
    assert QFormat(8, 8, True, "AP_TRN", "AP_SAT").quantize(big, 0).tolist() == [-128, -128, -127, 127, 127, 127]
    assert QFormat(8, 8, True, "AP_TRN", "AP_SAT_SYM").quantize(big, 0).tolist() == [-127, -127, -127, 127, 127, 127]
    assert QFormat(8, 8, True, "AP_TRN", "AP_SAT_ZERO").quantize(big, 0).tolist() == [0, -128, -127, 127, 0, 0]
    assert QFormat(8, 8, True, "AP_TRN", "AP_WRAP").quantize(big, 0).tolist() == [-44, -128, -127, 127, -128, 44]
    assert QFormat(8, 8, False, "AP_TRN", "AP_WRAP").quantize(big, 0).tolist() == [212, 128, 129, 127, 128, 44]
    assert QFormat(8, 8, False, "AP_TRN", "AP_SAT").quantize(big, 0).tolist() == [0, 0, 0, 127, 128, 255]


def test_int64_extremes_and_huge_shifts():
    ext = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, -1, 0, 1])
    f = QFormat(8, 4)  # RND_CONV, SAT
    assert f.quantize(ext, 0).tolist() == [-128, 127, -16, 0, 16]  # left shift by 4; the extremes saturate
    assert f.quantize(ext, 4000).tolist() == [0, 0, 0, 0, 0]  # everything below half an LSB
    assert QFormat(8, 4, rounding="AP_TRN").quantize(ext, 4000).tolist() == [-1, 0, -1, 0, 0]
    assert QFormat(8, 4, rounding="AP_TRN", overflow="AP_WRAP").quantize(ext, -4000).tolist() == [0] * 5
    w64 = QFormat(64, 64, True, "AP_RND", "AP_WRAP")
    assert w64.quantize(ext, 0).tolist() == ext.tolist()
    assert w64.quantize(ext, -1).tolist() == [0, -2, -2, 0, 2]
    assert w64.quantize(ext, 64).tolist() == [0, 0, 0, 0, 0]  # -2**63 / 2**64 = -0.5: AP_RND rounds half up
    assert QFormat(64, 64, True, "AP_RND_INF", "AP_WRAP").quantize(ext, 64).tolist() == [-1, 0, 0, 0, 0]
    assert w64.quantize(np.array([2**62]), 63).tolist() == [1]  # exactly +0.5 rounds up


def test_saturation_counter():
    sat = SaturationCounter()
    f = QFormat(8, 3)
    f.from_float(np.array([0.5, 100.0, -100.0, 3.99]), counter=sat, name="embed")
    f.quantize(np.array([1 << 20, 5]), 5, counter=sat, name="embed")
    QFormat(8, 3, overflow="AP_WRAP").from_float(np.array([100.0, 0.0]), counter=sat, name="wrapped")
    f.from_float(np.zeros(7), counter=sat)  # default name: the C++ type
    # embed: 100.0, -100.0, 3.99 (rounds to 128 = max + 1) and 2**15 saturate
    assert sat.counts == {"embed": 4, "wrapped": 1, f.ctype(): 0}
    assert sat.totals == {"embed": 6, "wrapped": 2, f.ctype(): 7}
    assert sat.saturated() == {"embed": 4, "wrapped": 1}
    assert sat.as_dict()["embed"] == {"saturated": 4, "total": 6}
    assert sat.total_saturated == 5
    # 3.99 * 2**5 = 127.68 rounds to 128 -> saturates: counted after rounding
    sat2 = SaturationCounter()
    assert f.from_float(np.array([3.99]), counter=sat2, name="x").tolist() == [127]
    assert sat2.counts["x"] == 1


# ---------------------------------------------------------------------------------------------- API
def test_ctype_parse_and_dict_round_trip():
    f = QFormat(18, 6)
    assert f.ctype() == "ap_fixed<18,6,AP_RND_CONV,AP_SAT>" == str(f)
    assert f.frac_bits == 12 and f.min_code == -(2**17) and f.max_code == 2**17 - 1 and f.lsb == 2.0**-12
    assert QFormat(8, 0, False, "AP_TRN", "AP_WRAP").ctype() == "ap_ufixed<8,0,AP_TRN,AP_WRAP>"
    assert QFormat.parse(f.ctype()) == f
    assert QFormat.parse("ap_fixed<18,6>") == QFormat(18, 6, True, "AP_TRN", "AP_WRAP")
    assert QFormat.parse(" ap_ufixed< 8, -2, AP_RND > ") == QFormat(8, -2, False, "AP_RND", "AP_WRAP")
    assert QFormat.parse("ap_fixed<8,3,AP_RND,AP_SAT,0>") == QFormat(8, 3, True, "AP_RND", "AP_SAT")
    assert QFormat.parse("ap_uint<7>") == QFormat(7, 7, False, "AP_TRN", "AP_WRAP")
    for t in PLAN.targets:
        assert QFormat.parse(t.ctype()) == t
        d = t.to_dict()
        assert QFormat.from_dict(json.loads(json.dumps(d))) == t
    assert f.to_dict() == {"width": 18, "int_bits": 6, "signed": True, "rounding": "AP_RND_CONV", "overflow": "AP_SAT"}
    assert QFormat.from_dict({"width": 8, "int_bits": 2}) == QFormat(8, 2)
    assert QFormat.from_dict("ap_fixed<8,2>") == QFormat(8, 2, True, "AP_TRN", "AP_WRAP")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: QFormat(8, 3, rounding="AP_ROUND"), "AP_TRN, AP_TRN_ZERO, AP_RND"),
        (lambda: QFormat(8, 3, overflow="SAT"), "AP_WRAP, AP_SAT, AP_SAT_ZERO, AP_SAT_SYM"),
        (lambda: QFormat(0, 0), "width must be in 1..64"),
        (lambda: QFormat(65, 3), "width must be in 1..64"),
        (lambda: QFormat(64, 3, signed=False), "width must be in 1..63"),
        (lambda: QFormat.from_dict({"width": 8, "int_bits": 2, "frac": 6}), "unknown QFormat key"),
        (lambda: QFormat.from_dict({"width": 8}), "needs int_bits"),
        (lambda: QFormat.parse("ap_fixed<8>"), "cannot parse"),
        (lambda: QFormat.parse("ap_fixed<8,3,AP_RND,AP_SAT,2>"), "saturation bits"),
        (lambda: QFormat.parse("ap_fixed<8,3,AP_RND,AP_WRAP_SM>"), "unknown overflow mode"),
        (lambda: QFormat.parse("float"), "not an ap_fixed"),
        (lambda: QFormat(8, 3).from_float(np.array([1.0, np.nan])), "NaN"),
        (lambda: QFormat(8, 3).quantize(np.array([2**63], dtype=np.uint64), 0), "does not fit int64"),
        (lambda: QFormat(8, 3).quantize(np.array([2**70, 1], dtype=object), 0), "fit int64"),
    ],
)
def test_validation_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_type_errors():
    with pytest.raises(TypeError):
        QFormat(8, 3).quantize(np.array([1.5]), 0)
    with pytest.raises(TypeError):
        QFormat(8, 3).quantize(np.array([1]), 1.0)
    with pytest.raises(TypeError):
        QFormat(8.0, 3)


def test_shapes_and_dtypes_preserved():
    f = QFormat(12, 4)
    x = np.linspace(-9, 9, 24).reshape(2, 3, 4)
    out = f.from_float(x)
    assert out.shape == x.shape and out.dtype == np.int64
    assert f.quantize(np.arange(6, dtype=np.int16).reshape(2, 3), 0).shape == (2, 3)
    assert f.from_float(1.0).shape == () and int(f.from_float(1.0)) == 256
    assert f.from_float(np.float32(0.5)).tolist() == 128
    assert f.quantize(np.int64(5), 2).shape == () and f.quantize(5, 2).tolist() == 320  # 1.25 * 2**8
    assert QFormat(4, 4, overflow="AP_SAT_ZERO").quantize(100, 0).tolist() == 0
    assert QFormat(4, 4).quantize(100, 0).tolist() == 7 and QFormat(4, 4).from_float(-100.0).tolist() == -8
    assert qformat.QFormat(12, 4).quantize([1, 2, 3], 8).tolist() == [1, 2, 3]
    sliced = np.arange(20, dtype=np.int64)[::2]
    np.testing.assert_array_equal(QFormat(12, 12, overflow="AP_WRAP").quantize(sliced, -1), sliced * 2)


def test_speed_one_million_values():
    rng = np.random.default_rng(3)
    codes = rng.integers(-(2**40), 2**40, 1_000_000)
    x = rng.normal(0, 8, 1_000_000)
    f = QFormat(18, 6)
    f.quantize(codes, 30), f.from_float(x)  # warm up
    t0 = time.perf_counter()
    f.quantize(codes, 30)
    t1 = time.perf_counter()
    f.from_float(x)
    t2 = time.perf_counter()
    print(f"\nquantize 1e6: {1e3 * (t1 - t0):.1f} ms, from_float 1e6: {1e3 * (t2 - t1):.1f} ms")
    assert t1 - t0 < 0.5 and t2 - t1 < 0.5  # generous: shared CPUs; typically a few ms / ~20 ms


# ---------------------------------------------------------------------------------------------- C++ build helper
def test_cxx_cache_rebuilds_on_header_change_and_reports_errors(tmp_path):
    from venom_fpga.hls import cxx

    (tmp_path / "value.h").write_text("#define VALUE 1\n")
    src = tmp_path / "lib.cpp"
    src.write_text('#include "value.h"\nextern "C" int value() { return VALUE * SCALE; }\n')
    build = tmp_path / "build"
    kw = dict(include_dirs=[tmp_path], ap_types=False, defines={"SCALE": 3}, opt="-O0", name="t")
    so1 = cxx.compile_shared(src, build, **kw)
    assert cxx.load_library(so1).value() == 3
    mtime = so1.stat().st_mtime_ns
    assert cxx.compile_shared(src, build, **kw) == so1 and so1.stat().st_mtime_ns == mtime  # cache hit
    (tmp_path / "value.h").write_text("#define VALUE 2\n")  # a header only: same key, rebuilt under a new name
    so2 = cxx.compile_shared(src, build, **kw)
    assert so2 != so1 and not so1.exists() and cxx.load_library(so2).value() == 6
    manifest = json.loads(next(build.glob("t-*.json")).read_text())
    assert manifest["library"] == so2.name and str((tmp_path / "value.h").resolve()) in manifest["deps"]
    src.write_text("this is not C++\n")
    with pytest.raises(cxx.CompileError, match="this is not C"):
        cxx.compile_shared(src, build, **kw)
    assert not list(build.glob(".*"))  # no temporary files left behind
    with pytest.raises(FileNotFoundError):
        cxx.compile_shared(tmp_path / "missing.cpp", build)


def test_cxx_missing_hls4ml_is_a_clear_error(monkeypatch):
    from venom_fpga.hls import cxx

    monkeypatch.setitem(__import__("sys").modules, "hls4ml", None)  # makes `import hls4ml` raise ImportError
    with pytest.raises(RuntimeError, match="hls4ml package, which is not installed"):
        cxx.ap_types_include_dir()
