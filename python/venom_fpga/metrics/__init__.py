# SPDX-License-Identifier: BSD-3-Clause
"""Resolving power, evaluation, fixed-point accuracy reports and plots."""
