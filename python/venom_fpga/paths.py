# SPDX-License-Identifier: BSD-3-Clause
"""Where things live in the repository (the package is installed editable from python/)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HLS_DIR = REPO_ROOT / "hls"  # kernels (include/), templates/, generated projects (generated/)
RTL_DIR = REPO_ROOT / "rtl"  # hand-written Verilog and generated tops (generated/)
COCOTB_DIR = REPO_ROOT / "cocotb_tests"  # one testbench directory per RTL module
SIM_BUILD = REPO_ROOT / "sim_build"  # simulator builds, one directory per parameterisation


def build_dir() -> Path:
    """Build outputs and reports: ``$VENOM_FPGA_BUILD`` (default build/ of this repository)."""
    return Path(os.environ.get("VENOM_FPGA_BUILD", str(REPO_ROOT / "build")))
