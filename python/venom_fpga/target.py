# SPDX-License-Identifier: BSD-3-Clause
"""The hardware target, in one place: the MKIDGen3 readout's FPGA part, its DSP fabric clock and the stream words
that every top (HLS C++ and Verilog) exchanges with it (DESIGN.md §3.2). The HLS project, the RTL contract header
(rtl/venom_contract.vh), the generated RTL tops and the Vivado scripts take these from here."""

from __future__ import annotations

import math
from dataclasses import dataclass

PART = "xczu48dr-ffvg1517-2-e"  # RFSoC 4x2, the MKIDGen3 board (DESIGN.md §3)
CLOCK_MHZ = 512.0  # MKIDGen3 DSP fabric clock

# Input: one I/Q sample per 32-bit word, I in [15:0], Q in [31:16] (the MKIDGen3 packing).
IQ_WORD_BITS = 32
IQ_FIELD_BITS = IQ_WORD_BITS // 2
# Output: one 64-bit record per window, mu code sign-extended in [31:0], log_var code in [63:32].
RECORD_FIELD_BITS = 32
RECORD_BITS = 2 * RECORD_FIELD_BITS


@dataclass(frozen=True)
class Budget:
    """What MKIDGen3 leaves free on the xczu48dr (DESIGN.md §3.1; docs/mkidgen3.md §12)."""

    dsp: int = 3600
    bram36: float = 540
    uram: int = 20
    lut: int = 178_000


# The LUTs one DSP48E2 is worth in that budget: a product is built of LUT adders when they cost at most this
# (rtl.array.fabric_luts), so neither resource runs out first where the other is left.
LUTS_PER_DSP = Budget().lut // Budget().dsp


def clock_period_ns(mhz: float = CLOCK_MHZ) -> float:
    """The clock period in ns as the vendor tools take it (1 ps resolution), rounded down so that a design that meets
    it meets the clock: 512 MHz -> 1.953."""
    if not mhz > 0:
        raise ValueError(f"clock frequency must be positive, not {mhz} MHz")
    return math.floor(1e6 / mhz + 1e-9) / 1000.0
