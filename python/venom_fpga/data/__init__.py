# SPDX-License-Identifier: BSD-3-Clause
"""Synthetic MKID data, windowing of raw streams, and the optimal-filter baseline."""
