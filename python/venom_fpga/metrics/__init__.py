"""Resolving power, evaluation, fixed-point accuracy reports and plots."""
