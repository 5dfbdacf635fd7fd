"""Vitis-HLS export (Jinja2), g++ C-simulation and Vitis report parsing."""
