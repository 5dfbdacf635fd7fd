# SPDX-License-Identifier: BSD-3-Clause
"""The logic-depth proxy on hand-made Yosys JSON netlists: levels counted between registers, LUT-RAM writes and
library annotations not counted as logic, a combinational loop refused."""

from __future__ import annotations

import json

import pytest

from venom_fpga.rtl.logic_depth import depth


def _netlist(tmp_path, cells):
    mod = {"attributes": {"top": "00000000000000000000000000000001"}, "cells": {}}
    for name, (kind, ins, outs) in cells.items():
        conns = {**{p: [b] for p, b in ins.items()}, **{p: [b] for p, b in outs.items()}}
        dirs = {**{p: "input" for p in ins}, **{p: "output" for p in outs}}
        mod["cells"][name] = {"type": kind, "port_directions": dirs, "connections": conns}
    path = tmp_path / "n.json"
    path.write_text(json.dumps({"modules": {"top": mod, "LUT7": {"cells": {}}}}))
    return path


def test_levels_between_registers(tmp_path):
    cells = {
        "ff0": ("FDRE", {"D": 9}, {"Q": 1}),
        "l1": ("LUT2", {"I0": 1, "I1": 1}, {"O": 2}),
        "c1": ("CARRY8", {"S": 2}, {"CO": 3}),
        "c2": ("CARRY8", {"CI": 3}, {"CO": 4}),
        "l2": ("LUT6", {"I0": 4}, {"O": 5}),
        "ff1": ("FDRE", {"D": 5}, {"Q": 6}),
        "l3": ("LUT1", {"I0": 6}, {"O": 9}),  # a short path after the register: not added to the long one
        "ram": ("RAM64M8", {"DIA": 5, "ADDRA": 6}, {"DOA": 7}),  # read address -> data: one level
        "s": ("$specify2", {"SRC": 7}, {"DST": 8}),
    }
    d = depth(_netlist(tmp_path, cells))
    assert (d.lut_levels, d.carry_chain, d.cells) == (2, 2, 4)


def test_combinational_loop_is_refused(tmp_path):
    cells = {"a": ("LUT2", {"I0": 2}, {"O": 1}), "b": ("LUT2", {"I0": 1}, {"O": 2})}
    with pytest.raises(ValueError, match="combinational loop"):
        depth(_netlist(tmp_path, cells))
