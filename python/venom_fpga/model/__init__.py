# SPDX-License-Identifier: BSD-3-Clause
"""Checkpoint I/O, metadata, model dimensions, the float golden model (torch) and training."""
