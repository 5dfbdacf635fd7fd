# SPDX-License-Identifier: BSD-3-Clause
"""RTL generation, simulation driver and Yosys/Vivado reports."""
