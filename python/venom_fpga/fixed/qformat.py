# SPDX-License-Identifier: BSD-3-Clause
"""Fixed-point formats with the exact semantics of Xilinx ``ap_fixed<W,I,Q,O>`` / ``ap_ufixed<W,I,Q,O>``.

A :class:`QFormat` is the single description of one datapath signal. Values are carried as **integer codes** in
``int64`` numpy arrays: a code ``c`` of a format with ``F = width - int_bits`` fraction bits stands for ``c * 2**-F``.
The two conversions reproduce, bit for bit, what assigning to an ``ap_fixed`` variable does in C++ (checked by
``tests/fixed/test_qformat.py`` against the real headers):

* :meth:`QFormat.quantize` -- an exact value ``codes * 2**-frac`` (e.g. a wide accumulator, or an
  ``ap_fixed<Wsrc,Isrc>`` source) to this format: round the dropped fraction bits with ``rounding``, then apply
  ``overflow`` to the rounded value.
* :meth:`QFormat.from_float` -- a ``double`` to this format, exactly as ``ap_fixed<...> t = d;``.

Semantics, in terms of the exact rounded integer ``v`` (what the format's codes would be with unlimited range):

============== ==================================================================================
rounding       ``v`` from the exact value ``x`` (in LSB units of the target)
============== ==================================================================================
AP_TRN         floor(x)                        (the ap_fixed default)
AP_TRN_ZERO    toward zero
AP_RND         round half up (toward +inf)
AP_RND_ZERO    round half toward zero
AP_RND_INF     round half away from zero
AP_RND_MIN_INF round half down (toward -inf)
AP_RND_CONV    round half to even              (convergent; the venom-fpga default)
============== ==================================================================================

============== ==================================================================================
overflow       result for ``v`` outside ``[min_code, max_code]``
============== ==================================================================================
AP_WRAP        the low ``width`` bits of ``v`` (two's complement; the ap_fixed default)
AP_SAT         clip to ``[min_code, max_code]``                               (venom-fpga default)
AP_SAT_ZERO    0
AP_SAT_SYM     clip to ``[-max_code, max_code]`` for signed formats of width >= 2 (so ``min_code``
               itself saturates to ``-max_code``); same as AP_SAT for unsigned formats and width 1
============== ==================================================================================

Rounding happens before overflow handling, so a value that rounds past ``max_code`` saturates (or wraps).
``AP_WRAP_SM`` and a non-zero saturation-bit count ``N`` are not supported.

Saturation counting: pass ``counter=`` (anything with ``add(name, n, total)``, e.g. :class:`SaturationCounter`)
and ``name=`` to :meth:`QFormat.quantize` / :meth:`QFormat.from_float`. ``n`` is the number of elements whose
rounded value lay outside the representable range -- i.e. the elements that the overflow mode changed (clipped,
zeroed *or wrapped*) -- and ``total`` the number of elements converted. Nothing is counted unless a counter is
given, so the uncounted path costs nothing extra.

Integer arithmetic is exact for every ``int64`` input code and any ``frac``: right shifts beyond 62 bits first fold
the dropped bits into a sticky bit, and left shifts test overflow against pre-shifted bounds, so no intermediate
ever leaves ``int64``. Codes that do not fit ``int64`` (``uint64`` above ``2**63 - 1``, huge Python ints) raise.
Because codes are ``int64``, unsigned formats are limited to 63 bits (signed ones to 64).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

ROUNDING_MODES = ("AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_ZERO", "AP_RND_INF", "AP_RND_MIN_INF", "AP_RND_CONV")
OVERFLOW_MODES = ("AP_WRAP", "AP_SAT", "AP_SAT_ZERO", "AP_SAT_SYM")
# What ``ap_fixed<W,I>`` means when the modes are left out.
AP_DEFAULT_ROUNDING = "AP_TRN"
AP_DEFAULT_OVERFLOW = "AP_WRAP"
MAX_WIDTH = 64

_KEYS = ("width", "int_bits", "signed", "rounding", "overflow")
_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1
_MAX_RSHIFT = 62  # rounding right shifts are done on at most 62 bits (after folding into a sticky bit)


class Counter(Protocol):
    def add(self, name: str, n: int, total: int = 0) -> None: ...


class SaturationCounter:
    """Counts, per signal name, how many values overflowed (were saturated/wrapped) out of how many converted.

    >>> sat = SaturationCounter()
    >>> fmt = QFormat(8, 3)
    >>> _ = fmt.from_float(np.array([0.5, 100.0, -100.0]), counter=sat, name="embed")
    >>> sat.counts["embed"], sat.totals["embed"]
    (2, 3)
    """

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.totals: dict[str, int] = {}

    def add(self, name: str, n: int, total: int = 0) -> None:
        self.counts[name] = self.counts.get(name, 0) + int(n)
        self.totals[name] = self.totals.get(name, 0) + int(total)

    @property
    def total_saturated(self) -> int:
        return sum(self.counts.values())

    def saturated(self) -> dict[str, int]:
        """Only the signals that saturated at least once."""
        return {k: v for k, v in self.counts.items() if v}

    def as_dict(self) -> dict[str, dict[str, int]]:
        """JSON-ready: {name: {"saturated": n, "total": m}} for every signal seen."""
        return {k: {"saturated": self.counts[k], "total": self.totals[k]} for k in self.counts}

    def merge(self, other: SaturationCounter) -> None:
        for name, n in other.counts.items():
            self.add(name, n, other.totals.get(name, 0))

    def __repr__(self) -> str:
        return f"SaturationCounter({self.saturated()!r})"


def _check_mode(kind: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"unknown {kind} mode {value!r}; valid: {', '.join(valid)}")


@dataclass(frozen=True)
class QFormat:
    """``ap_fixed<width, int_bits, rounding, overflow>`` (``ap_ufixed`` when ``signed`` is False)."""

    width: int  # W, total bits, 1..64 (1..63 unsigned)
    int_bits: int  # I, integer bits including the sign; may be <= 0 or > width, as ap_fixed allows
    signed: bool = True
    rounding: str = "AP_RND_CONV"
    overflow: str = "AP_SAT"

    def __post_init__(self) -> None:
        for key in ("width", "int_bits"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"QFormat.{key} must be an int, got {value!r}")
            object.__setattr__(self, key, int(value))
        if not isinstance(self.signed, (bool, np.bool_)):
            raise TypeError(f"QFormat.signed must be a bool, got {self.signed!r}")
        object.__setattr__(self, "signed", bool(self.signed))
        max_w = MAX_WIDTH if self.signed else MAX_WIDTH - 1
        if not 1 <= self.width <= max_w:
            raise ValueError(
                f"{'ap_fixed' if self.signed else 'ap_ufixed'} width must be in 1..{max_w} "
                f"(int64 codes), got {self.width}"
            )
        _check_mode("rounding", self.rounding, ROUNDING_MODES)
        _check_mode("overflow", self.overflow, OVERFLOW_MODES)

    # ---------------------------------------------------------------- properties
    @property
    def frac_bits(self) -> int:
        return self.width - self.int_bits

    @property
    def min_code(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> float:
        return float(np.ldexp(1.0, -self.frac_bits))

    @property
    def min_value(self) -> float:
        return float(np.ldexp(float(self.min_code), -self.frac_bits))

    @property
    def max_value(self) -> float:
        return float(np.ldexp(float(self.max_code), -self.frac_bits))

    @property
    def _sat_low(self) -> int:
        """The lowest code an overflow-handled result may take (AP_SAT_SYM excludes min_code)."""
        if self.overflow == "AP_SAT_SYM" and self.signed and self.width > 1:
            return self.min_code + 1
        return self.min_code

    # ---------------------------------------------------------------- rendering / parsing
    def ctype(self) -> str:
        """The C++ type, modes always spelled out, e.g. ``ap_fixed<18,6,AP_RND_CONV,AP_SAT>``."""
        base = "ap_fixed" if self.signed else "ap_ufixed"
        return f"{base}<{self.width},{self.int_bits},{self.rounding},{self.overflow}>"

    def __str__(self) -> str:
        return self.ctype()

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _KEYS}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | str) -> QFormat:
        """From the JSON form (``width`` and ``int_bits`` required; ``signed``/``rounding``/``overflow`` default to
        the dataclass defaults) or from a C++ type string (see :meth:`parse`). Unknown keys are errors."""
        if isinstance(data, str):
            return cls.parse(data)
        if not isinstance(data, dict):
            raise TypeError(f"QFormat.from_dict needs a dict or a type string, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise ValueError(f"unknown QFormat key(s) {unknown}; valid: {', '.join(_KEYS)}")
        missing = [k for k in ("width", "int_bits") if k not in data]
        if missing:
            raise ValueError(f"QFormat needs {', '.join(missing)}; got {data!r}")
        return cls(**data)

    _PARSE_RE = re.compile(r"^\s*(ap_u?fixed|ap_u?int)\s*<([^<>]*)>\s*$")

    @classmethod
    def parse(cls, text: str) -> QFormat:
        """Parse ``ap_fixed<W,I[,Q[,O[,N]]]>``, ``ap_ufixed<...>``, ``ap_int<W>`` or ``ap_uint<W>``.

        Omitted modes take the ap_fixed defaults (AP_TRN, AP_WRAP) -- not the QFormat defaults -- so the result means
        what the string means in C++. ``N`` (saturation bits) must be 0 if given.
        """
        m = cls._PARSE_RE.match(text)
        if not m:
            raise ValueError(f"not an ap_fixed/ap_ufixed/ap_int/ap_uint type: {text!r}")
        kind, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
        signed = not kind.startswith("ap_u")
        try:
            if kind.endswith("int"):
                if len(args) != 1:
                    raise ValueError
                width = int(args[0])
                return cls(width, width, signed, AP_DEFAULT_ROUNDING, AP_DEFAULT_OVERFLOW)
            if not 2 <= len(args) <= 5:
                raise ValueError
            width, int_bits = int(args[0]), int(args[1])
        except ValueError:
            raise ValueError(f"cannot parse {text!r}: expected {kind}<W{'' if kind.endswith('int') else ',I[,Q[,O]]'}>")
        rounding = args[2] if len(args) > 2 else AP_DEFAULT_ROUNDING
        overflow = args[3] if len(args) > 3 else AP_DEFAULT_OVERFLOW
        if len(args) > 4 and args[4] != "0":
            raise ValueError(f"{text!r}: saturation bits N={args[4]} are not supported (only 0)")
        return cls(width, int_bits, signed, rounding, overflow)

    # ---------------------------------------------------------------- conversions
    def quantize(
        self, codes: Any, frac: int, counter: Counter | None = None, name: str | None = None
    ) -> np.ndarray:
        """The exact values ``codes * 2**-frac`` converted to this format's codes (``int64``, same shape).

        This is ``ap_fixed<W,I,Q,O> t = s;`` for any source ``s`` of ``frac`` fraction bits: a left shift when this
        format has more fraction bits, a rounding right shift when it has fewer, then the overflow mode.
        ``codes`` must be integers that fit ``int64``; ``frac`` may be any int (also negative).
        With ``counter``, ``counter.add(name or self.ctype(), n_overflowed, n_total)`` is called.

        Note for C++ generators: the headers' ``operator=`` reads bit ``F2 - F - 1`` of the source unconditionally, so
        a source narrower than the shift (``frac - F > Wsrc``) aborts C simulation with "Attempting to read bit beyond
        MSB". The result here is still the exact one (0, or -1 for AP_TRN of a negative value, ...).
        """
        if isinstance(frac, bool) or not isinstance(frac, (int, np.integer)):
            raise TypeError(f"frac must be an int, got {frac!r}")
        c = _as_int64(codes)
        if c.ndim == 0:
            return self.quantize(c.reshape(1), frac, counter, name).reshape(())
        shift = int(frac) - self.frac_bits
        if shift == 0:
            c = c.copy()  # the result must never alias the caller's array
        return self._convert(c, shift, None, counter, name)

    def from_float(self, x: Any, counter: Counter | None = None, name: str | None = None) -> np.ndarray:
        """``ap_fixed<W,I,Q,O> t = (double)x;`` for every element of ``x`` (converted to float64 first).

        Exact: every double is an integer times a power of two, and that exact value is quantized. Like the headers,
        +-inf behaves as +-2**1024 (saturates, or wraps to 0), and subnormals are read with the implicit leading 1
        (a header quirk that only matters for formats with more than ~1020 fraction bits). NaN raises ValueError
        (the headers print a warning and saturate it like +inf).

        Where exact (``0 <= F <= 1000`` and every ``|x| * 2**F < 2**62``), rounding runs in float arithmetic (floor,
        trunc, rint and the tie test are exact there); otherwise on the exact integer decomposition of each double.
        """
        xf = np.asarray(x, dtype=np.float64)
        if xf.ndim == 0:
            return self.from_float(xf.reshape(1), counter, name).reshape(())
        v = self._from_float_fast(xf)
        if v is not None:
            return self._overflow(v, 0, counter, name)
        man, shift, neg = self._decompose(xf)
        return self._convert(man, shift, neg, counter, name, small=True)

    def _from_float_fast(self, xf: np.ndarray) -> np.ndarray | None:
        """Rounded codes (before overflow handling) in float arithmetic, or None where that would not be exact.

        For ``0 <= F <= 1000`` and ``|x * 2**F| < 2**62``, ``y = x * 2**F`` is exact, and floor/trunc/rint and
        ``y - trunc(y)`` (so the tie test) are exact operations on it. Subnormal ``x`` (read by the headers as
        ``1.m * 2**-1023``) is below a quarter LSB either way, so its sign alone decides, as it does here.
        """
        f = self.frac_bits
        if not 0 <= f <= 1000 or xf.size == 0:
            return None
        with np.errstate(over="ignore"):
            y = xf * (2.0**f)
        if not (y.min() > -(2.0**62) and y.max() < 2.0**62):  # also False for NaN
            return None
        rq = self.rounding
        if rq == "AP_TRN":
            return np.floor(y, out=y).astype(np.int64)
        if rq == "AP_TRN_ZERO":
            return np.trunc(y, out=y).astype(np.int64)
        if rq == "AP_RND_CONV":
            return np.rint(y, out=y).astype(np.int64)
        t = np.trunc(y)
        tie = np.abs(y - t) == 0.5
        v = np.rint(y)  # nearest, correct everywhere but at ties
        if tie.any():
            if rq == "AP_RND":  # half up
                alt = np.ceil(y)
            elif rq == "AP_RND_MIN_INF":  # half down
                alt = np.floor(y)
            elif rq == "AP_RND_ZERO":
                alt = t
            elif rq == "AP_RND_INF":
                alt = t + np.sign(y)
            else:
                raise AssertionError(rq)
            np.copyto(v, alt, where=tie)
        return v.astype(np.int64)

    def _decompose(self, xf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``x = man * 2**-(F + shift)`` exactly, as the headers read a double; see :meth:`from_float`."""
        if not xf.flags.c_contiguous:
            xf = xf.copy(order="C")
        # man = +-(2**52 | mantissa field), with (1075 - expf) fraction bits; the headers set the implicit bit for
        # subnormals too. Zeros become +2**-1023 here, which rounds to 0 in every mode unless F > 1018.
        bits = xf.view(np.uint64)
        expf = bits >> np.uint64(52)
        expf &= np.uint64(0x7FF)
        expf = expf.view(np.int64)
        man = bits & np.uint64((1 << 52) - 1)
        if expf.size and expf.max() == 0x7FF and ((expf == 0x7FF) & (man != 0)).any():
            raise ValueError("cannot convert NaN to a fixed-point code")
        man |= np.uint64(1 << 52)
        man = man.view(np.int64)
        neg = xf < 0
        sgn = neg.astype(np.int64)
        np.negative(sgn, out=sgn)  # -1 where negative: (man ^ -1) + 1 == -man
        man ^= sgn
        man -= sgn
        if self.frac_bits > 1018:
            man[xf == 0] = 0
        # As |man| < 2**53, a shift beyond 56 leaves a nonzero value below a quarter LSB, which rounds exactly like
        # the same sign times 2**-56 does: clip the shift there.
        shift = np.subtract(1075 - self.frac_bits, expf, out=expf)
        np.minimum(shift, 56, out=shift)
        return man, shift, neg

    def to_float(self, codes: Any) -> np.ndarray:
        """Codes to float64 values (exact while |code| < 2**53)."""
        return np.ldexp(np.asarray(codes).astype(np.float64), -self.frac_bits)

    def representable(self, codes: Any) -> np.ndarray:
        """Boolean mask: which integer codes lie in ``[min_code, max_code]``."""
        c = _as_int64(codes)
        return (c >= self.min_code) & (c <= self.max_code)

    # ---------------------------------------------------------------- core
    def _convert(self, c, shift, neg, counter, name, small: bool = False) -> np.ndarray:
        """Quantize exact values ``c * 2**-(F + shift)``: ``shift`` (int or int64 array) > 0 drops bits.
        ``small``: the caller guarantees ``|c| < 2**62`` and ``shift <= 62``."""
        if np.ndim(shift) == 0:
            # beyond 62 + 64 bits right (all below the half-LSB) or 64 bits left nothing changes any more
            s = max(min(int(shift), 4096), -4096)
            if s > 0:
                return self._overflow(self._round_right(c, s, small), 0, counter, name)
            return self._overflow(c, -s, counter, name)
        if shift.size == 0:
            return self._overflow(c.copy(), 0, counter, name)
        if shift.min() > 0:
            return self._overflow(self._round_right(c, shift, small), 0, counter, name)
        # mixed: elements with shift <= 0 are not rounded (shift 0) and are then shifted left
        v = self._round_right_exact(c, np.maximum(shift, 0), c < 0 if neg is None else neg)
        left = np.maximum(-shift, 0)
        return self._overflow(v, left if left.any() else 0, counter, name)

    @staticmethod
    def _fold(c, s):
        """Reduce right shifts beyond 62 bits to 62 by folding the lowest ``s - 62`` bits of ``c`` into a sticky bit
        (bit 0). Floor, the half-LSB bit, "anything below it" and the sign are all preserved, so every rounding mode
        gives the same result on the folded pair."""
        if not ((s > _MAX_RSHIFT) if np.ndim(s) == 0 else (s > _MAX_RSHIFT).any()):
            return c, s
        k = np.maximum(np.asarray(s, dtype=np.int64) - _MAX_RSHIFT, 0)
        kc = np.minimum(k, _MAX_RSHIFT)
        one = np.int64(1)
        folded = (c >> kc) | ((c & ((one << kc) - one)) != 0)
        return np.where(k > _MAX_RSHIFT, np.sign(c), folded), np.minimum(s, _MAX_RSHIFT)

    def _round_right(self, c, s, small: bool = False):
        """Round ``c * 2**-s`` (every ``s >= 1``) to an integer with this format's rounding mode; exact in int64.

        Each mode is ``(c + bias) >> s`` with ``0 <= bias <= 2**s`` (half-even: ``half - 1 + lsb``; half toward / away
        from zero: ``half -/+ (c < 0)``; toward zero: ``2**s - 1`` when negative; ...). After folding, ``s <= 62``, so
        the sum fits int64 whenever ``c < 2**62`` (``small``: known by the caller); otherwise the same biases are
        added to the remainder ``c mod 2**s`` alone.
        """
        if not small:
            c, s = self._fold(c, s)
        rq = self.rounding
        if rq == "AP_TRN":
            return c >> s
        if not small and c.size and c.max() >= (1 << 62):
            rem = c & ((np.int64(1) << s) - 1)
            rem += self._bias(c, s)
            rem >>= s
            rem += c >> s
            return rem
        if rq == "AP_RND" or rq == "AP_RND_MIN_INF":
            acc = c + (_half(s) - (rq == "AP_RND_MIN_INF"))
        else:
            acc = self._bias(c, s)
            acc += c
        acc >>= s
        return acc

    def _bias(self, c, s) -> np.ndarray:
        """The per-element rounding bias (a new array): see :meth:`_round_right`."""
        rq = self.rounding
        one = np.int64(1)
        if rq == "AP_TRN_ZERO":  # 2**s - 1 when negative
            b = c >> 63
            b &= (one << s) - one
            return b
        half = _half(s)
        if rq == "AP_RND" or rq == "AP_RND_MIN_INF":
            return np.broadcast_to(half - (rq == "AP_RND_MIN_INF"), np.shape(c)).astype(np.int64)
        if rq == "AP_RND_CONV":  # half - 1 + lsb of the floor
            b = c >> s
            b &= one
            b += half - one
            return b
        b = c >> 63  # -1 where negative
        if rq == "AP_RND_ZERO":  # half - 1 + (c < 0)
            np.subtract(half - one, b, out=b)
            return b
        if rq == "AP_RND_INF":  # half - (c < 0)
            b += half
            return b
        raise AssertionError(rq)

    def _round_right_exact(self, c, s, neg):
        """Like :meth:`_round_right` but also correct where ``s == 0`` (used only for mixed-direction shifts)."""
        c, s = self._fold(c, s)
        rq = self.rounding
        floor = c >> s
        if rq == "AP_TRN":
            return floor
        mask = (np.int64(1) << s) - np.int64(1)
        rem = c & mask
        if rq == "AP_TRN_ZERO":
            return floor + (neg & (rem != 0))
        half = (mask + 1) >> 1  # 0 where s == 0, and then rem == 0 too
        if rq == "AP_RND":
            return floor + ((rem >= half) & (rem != 0))
        if rq == "AP_RND_MIN_INF":
            return floor + (rem > half)
        tie = (rem == half) & (half != 0)
        if rq == "AP_RND_CONV":
            return floor + ((rem > half) | (tie & ((floor & 1) != 0)))
        if rq == "AP_RND_ZERO":
            return floor + ((rem > half) | (tie & neg))
        if rq == "AP_RND_INF":
            return floor + ((rem > half) | (tie & ~neg))
        raise AssertionError(rq)

    def _overflow(self, v, left, counter, name) -> np.ndarray:
        """Apply the overflow mode to the exact values ``v * 2**left`` (``left >= 0``, int or int64 array).

        Works in place on ``v``, so ``v`` must not be the caller's input array."""
        lo_code, hi_code = self._sat_low, self.max_code
        key = name if name is not None or counter is None else self.ctype()
        if np.ndim(left) == 0 and left == 0:
            v = np.asarray(v)
            if v.size == 0 or (v.min() >= lo_code and v.max() <= hi_code):
                if counter is not None:
                    counter.add(key, 0, int(v.size))
                return v
            if counter is not None:
                counter.add(key, int(np.count_nonzero(v > hi_code)) + int(np.count_nonzero(v < lo_code)), v.size)
            if self.overflow == "AP_WRAP":
                return self._wrap(v)
            if self.overflow == "AP_SAT_ZERO":
                v[(v > hi_code) | (v < lo_code)] = 0
                return v
            return np.clip(v, lo_code, hi_code, out=v)  # AP_SAT, AP_SAT_SYM
        # compare v against the bounds shifted right: v * 2**l <= hi  <=>  v <= hi >> l (floor),
        # v * 2**l >= lo  <=>  v >= ceil(lo / 2**l) = -((-lo) >> l)
        lc = np.minimum(left, 64)
        hi_tab, lo_tab = self._bound_tables()
        over, under = v > hi_tab[lc], v < lo_tab[lc]
        if counter is not None:
            counter.add(key, int(np.count_nonzero(over)) + int(np.count_nonzero(under)), int(np.size(v)))
        # low 64 bits of v << l (exact where in range); l >= 64 leaves nothing
        lu = np.minimum(lc, 63).astype(np.uint64)
        shifted = (np.ascontiguousarray(v, dtype=np.int64).view(np.uint64) << lu).view(np.int64)
        shifted = np.where(lc >= 64, np.int64(0), shifted)
        ov = self.overflow
        if ov == "AP_WRAP":
            return self._wrap(shifted)
        if ov == "AP_SAT_ZERO":
            return np.where(over | under, np.int64(0), shifted)
        # AP_SAT, AP_SAT_SYM
        return np.where(under, np.int64(lo_code), np.where(over, np.int64(hi_code), shifted))

    def _wrap(self, v) -> np.ndarray:
        """Keep the low ``width`` bits (two's complement for signed formats)."""
        v = np.asarray(v, dtype=np.int64)
        w = self.width
        if w == 64:
            return v
        if not self.signed:
            return v & np.int64((1 << w) - 1)
        sh = np.uint64(64 - w)
        return (np.ascontiguousarray(v).view(np.uint64) << sh).view(np.int64) >> sh.astype(np.int64)

    def _bound_tables(self) -> tuple[np.ndarray, np.ndarray]:
        """For left shifts l = 0..64: the largest and smallest unshifted codes whose shift stays in range."""
        cache = _BOUND_CACHE.get(self)
        if cache is None:
            hi, lo = self.max_code, self._sat_low
            hi_tab = np.array([hi >> l for l in range(65)], dtype=np.int64)
            lo_tab = np.array([-((-lo) >> l) for l in range(65)], dtype=np.int64)
            cache = _BOUND_CACHE[self] = (hi_tab, lo_tab)
        return cache


_BOUND_CACHE: dict[QFormat, tuple[np.ndarray, np.ndarray]] = {}


def _half(s):
    """``2**(s-1)`` as int64 (scalar or array), for shifts ``1 <= s <= 62``."""
    return np.int64(1) << (np.asarray(s, dtype=np.int64) - 1) if np.ndim(s) else np.int64(1 << (int(s) - 1))


def _as_int64(codes: Any) -> np.ndarray:
    """Integer codes as an int64 array; raises if they are not integers or do not fit int64."""
    arr = np.asarray(codes)
    if arr.dtype == np.int64:
        return arr
    if arr.dtype.kind == "u":
        if arr.size and arr.max() > _I64_MAX:
            raise ValueError(f"code {int(arr.max())} does not fit int64")
        return arr.astype(np.int64)
    if arr.dtype.kind == "i":
        return arr.astype(np.int64)
    if arr.dtype.kind == "O":
        flat = arr.ravel()
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in flat):
            raise TypeError("codes must be integers")
        if any(not _I64_MIN <= int(v) <= _I64_MAX for v in flat):
            raise ValueError("codes must fit int64 (|code| < 2**63); split the value or narrow the source")
        return arr.astype(np.int64)
    raise TypeError(f"codes must be an integer array, got dtype {arr.dtype}")
