# SPDX-License-Identifier: BSD-3-Clause
"""The library's error and warning types, and the checks of single values that raise them.

Every mistake in what a user gives (a file, a field of it, an option, an array) raises a ``VenomError`` whose text is
one line naming the file and the field; the command line prints it after ``venom-fpga: error:`` with exit status 2.
Anything else that escapes is a bug and keeps its traceback. ``VenomWarning`` is what a user must see (defaults used,
saturations): the command line prints it as one ``venom-fpga: warning:`` line.

The ``check_*`` functions validate one value read from JSON, a header or an option by its JSON type, finiteness,
integer-ness and range, so that every field of a schema (checkpoint metadata, precision config, data set
metadata.json) is checked the same way by construction.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

# Largest count (samples per window, decimation factor, taps, lines) any field may hold: far above what a photon
# pulse needs, and small enough that every index product stays inside int64 and every format derived from it finite.
MAX_COUNT = 1 << 24


class VenomError(ValueError):
    """A user mistake, explained in one line that names the file (or option) and the field."""


class InputError(VenomError):
    """An array or option that cannot be used (wrong shape, type, range; non-finite results it leads to)."""


class VenomWarning(UserWarning):
    """Something the user must know about a result that is still produced (a default used, a saturation)."""


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}")


def check_number(value: Any, where: str, *, low: float | None = None, high: float | None = None,
                 positive: bool = False, nonzero: bool = False, error: type[VenomError] = VenomError) -> float:
    """A finite real number (not a boolean), optionally >= low, <= high, > 0 or != 0; returned as float."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise error(f"{where} must be a number, found {_type_name(value)} ({value!r})")
    value = float(value)
    if not math.isfinite(value):
        raise error(f"{where} must be a finite number, found {value}")
    if positive and value <= 0:
        raise error(f"{where} must be > 0, found {value:g}")
    if nonzero and value == 0:
        raise error(f"{where} must be non-zero")
    if low is not None and value < low:
        raise error(f"{where} must be >= {low:g}, found {value:g}")
    if high is not None and value > high:
        raise error(f"{where} must be <= {high:g}, found {value:g}")
    return value


def check_int(value: Any, where: str, *, low: int | None = None, high: int | None = MAX_COUNT,
              error: type[VenomError] = VenomError) -> int:
    """An integer in [low, high]; a float with an integral value (JSON writers emit 4.0) counts, a fractional one or a
    boolean does not."""
    if isinstance(value, bool) or not isinstance(value, (Integral, Real)):
        raise error(f"{where} must be an integer, found {_type_name(value)} ({value!r})")
    if not isinstance(value, Integral):
        if not (math.isfinite(value) and float(value).is_integer()):
            raise error(f"{where} must be an integer, found {value!r}")
    if low is not None and value < low:
        raise error(f"{where} must be an integer >= {low}, found {value:g}")
    if high is not None and value > high:
        raise error(f"{where} must be an integer <= {high}, found {value:g}")
    return int(value)


def check_numbers(value: Any, where: str, *, length: int | None = None, nonzero: bool = False,
                  max_length: int = MAX_COUNT, error: type[VenomError] = VenomError) -> list[float]:
    """A list of finite numbers (of exactly ``length`` entries if given)."""
    if not isinstance(value, (list, tuple)):
        raise error(f"{where} must be a list of numbers, found {_type_name(value)} ({_short(value)})")
    if length is not None and len(value) != length:
        raise error(f"{where} must be a list of {length} numbers, found {len(value)}")
    if len(value) > max_length:
        raise error(f"{where} holds {len(value)} numbers, more than {max_length}")
    return [check_number(v, f"{where}[{k}]", nonzero=nonzero, error=error) for k, v in enumerate(value)]


def check_object(value: Any, where: str, error: type[VenomError] = VenomError) -> dict:
    if not isinstance(value, dict):
        raise error(f"{where} must be an object, found {_type_name(value)} ({_short(value)})")
    return value


def check_str(value: Any, where: str, error: type[VenomError] = VenomError) -> str:
    if not isinstance(value, str):
        raise error(f"{where} must be a string, found {_type_name(value)} ({_short(value)})")
    return value


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
