"""RTL generation, simulation driver and Yosys/Vivado reports."""
