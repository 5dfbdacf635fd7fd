# SPDX-License-Identifier: BSD-3-Clause
"""Fixed-point arithmetic: formats, integer tables, the precision config, the op plan and the golden model."""
