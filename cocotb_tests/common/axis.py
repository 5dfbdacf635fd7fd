"""AXI4-Stream helpers for the Vitis-HLS port naming (``<arg>_TDATA``, ``_TVALID``, ``_TREADY``, ``_TLAST``)."""

from __future__ import annotations

import itertools
import random

from cocotbext.axi import AxiStreamBus


class VitisAxiStreamBus(AxiStreamBus):
    """cocotbext-axi bus bound to upper-case Vitis names."""

    _signals = {"tdata": "TDATA"}
    _optional_signals = {"tvalid": "TVALID", "tready": "TREADY", "tlast": "TLAST"}


def sext(v: int, w: int) -> int:
    v &= (1 << w) - 1
    return v - (1 << w) if v >> (w - 1) else v


def random_pause(seed: int, p: float = 0.3):
    """Pause generator for set_pause_generator(): pause with probability p, reproducible."""
    rng = random.Random(seed)
    return (rng.random() < p for _ in itertools.count())
