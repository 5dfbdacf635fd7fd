# SPDX-License-Identifier: BSD-3-Clause
"""Vitis-HLS export (Jinja2), g++ C-simulation and Vitis report parsing."""
