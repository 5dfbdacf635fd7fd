# SPDX-License-Identifier: BSD-3-Clause
"""The deepest register-to-register logic of a Yosys ``synth_xilinx`` netlist (``write_json``): the 512 MHz proxy of
``venom-fpga resources --array`` where no timing analysis exists (Yosys ``ltp`` does not know Xilinx flip-flops and
reports loops through them).

Path ends: flip-flops, shift registers, block RAM, DSP48E2 (every port registered in our RTL's multipliers) and the
ports. Between them every cell is combinational: LUTs, MUXF7/8/9, CARRY8 and the read side of LUT-RAM. Reported:
the most LUT levels (a LUT-RAM read counts as one) on any path, the longest CARRY8 cascade on any path, and the most
cells of all three kinds on one path.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# prefixes of the cells whose outputs start a path (constant drivers too)
SEQUENTIAL = ("FD", "SRL", "RAMB", "URAM", "DSP48", "GND", "VCC", "BUFG")  # BUFG: the clock
LUT_LIKE = ("LUT", "INV", "RAM32", "RAM64", "RAM128", "RAM256", "RAMS", "RAMD")  # one level each
MUXF = ("MUXF",)
CARRY = ("CARRY",)


@dataclass(frozen=True)
class Depth:
    lut_levels: int
    carry_chain: int  # carry cells (CARRY8, or CARRY4 where Yosys maps those) in one cascade on a path
    cells: int  # LUT levels + muxes + carries on the deepest path

    def as_dict(self) -> dict[str, int]:
        return {"lut_levels": self.lut_levels, "carry8_chain": self.carry_chain, "cells_on_path": self.cells}


def _kind(cell_type: str) -> str:
    if cell_type.startswith(SEQUENTIAL):
        return "seq"
    if cell_type.startswith(LUT_LIKE):
        return "lut"
    if cell_type.startswith(MUXF):
        return "mux"
    if cell_type.startswith(CARRY):
        return "carry"
    return "other"


def _read_address(port: str) -> bool:
    """A LUT-RAM port on the read path (RAM32M/RAM64M: ADDRA..H; RAM32X1D etc.: A0.., DPRA0..)."""
    return port.startswith(("ADDR", "DPRA", "RADR")) or (port[0] == "A" and port[1:].isdigit())


def depth(netlist: str | os.PathLike, top: str | None = None) -> Depth:
    """The deepest combinational path of module ``top`` (default: the netlist's top module)."""
    data = json.loads(Path(netlist).read_text())
    mods = data["modules"]
    name = top or next((n for n, m in mods.items() if m.get("attributes", {}).get("top")),
                       max(mods, key=lambda n: len(mods[n].get("cells", {}))))
    cells = mods[name]["cells"]
    driver: dict[int, str] = {}
    inputs: dict[str, list[int]] = {}
    kinds: dict[str, str] = {}
    for cname, c in list(cells.items()):
        if c["type"].startswith("$specify"):  # timing annotations of the cell library, not logic
            del cells[cname]
            continue
        kinds[cname] = _kind(c["type"])
        dirs = c.get("port_directions", {})
        ins = []
        for port, bits in c["connections"].items():
            for b in bits:
                if not isinstance(b, int):
                    continue  # a constant
                if dirs.get(port) == "output":
                    driver[b] = cname
                elif kinds[cname] != "seq" and (not c["type"].startswith("RAM") or _read_address(port)):
                    ins.append(b)  # (a path ends at a register's input; LUT-RAM: only the read address is logic)
        inputs[cname] = ins
    unknown = sorted({cells[c]["type"] for c, k in kinds.items() if k == "other"})
    if unknown:
        raise ValueError(f"{netlist}: cell types of unknown timing: {', '.join(unknown[:8])}")
    memo: dict[str, tuple[int, int, int]] = {}
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(root: str) -> tuple[int, int, int]:
        stack = [root]
        while stack:
            c = stack[-1]
            if state.get(c) == 2:
                stack.pop()
                continue
            if state.get(c) != 1:
                state[c] = 1
                for b in inputs[c]:
                    d = driver.get(b)
                    if d is not None and kinds[d] != "seq" and state.get(d) != 2:
                        if state.get(d) == 1:
                            raise ValueError(f"{netlist}: combinational loop through {d}")
                        stack.append(d)
                continue
            lut = carry = total = 0
            for b in inputs[c]:
                d = driver.get(b)
                if d is not None and kinds[d] != "seq":
                    lu, ca, to = memo[d]
                    lut, carry, total = max(lut, lu), max(carry, ca), max(total, to)
            k = kinds[c]
            memo[c] = (lut + (k == "lut"), carry + (k == "carry"), total + 1)
            state[c] = 2
            stack.pop()
        return memo[root]

    best = (0, 0, 0)
    for c, k in kinds.items():
        if k != "seq":
            best = tuple(max(x, y) for x, y in zip(best, visit(c)))
    return Depth(*best)


if __name__ == "__main__":  # python -m venom_fpga.rtl.logic_depth NETLIST.json
    print(json.dumps(depth(sys.argv[1]).as_dict()))
