"""Checkpoint I/O, metadata, model dimensions, the float golden model (torch) and training."""
