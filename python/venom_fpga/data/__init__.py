"""Synthetic MKID data, windowing of raw streams, and the optimal-filter baseline."""
