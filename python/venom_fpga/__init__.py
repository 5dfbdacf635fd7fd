"""venom-fpga: a trained VENOM checkpoint in, bit-exact FPGA hardware out."""

__version__ = "0.1.0"
