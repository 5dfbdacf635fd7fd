# SPDX-License-Identifier: BSD-3-Clause
"""Vivado out-of-context implementation reports to the JSON report ``build/reports/vivado.json``.

``make vivado`` (needs ``vivado`` on PATH: ``source <Xilinx>/Vivado/<version>/settings64.sh``) runs
``scripts/run_vivado.sh`` over the generated RTL tops ``rtl/generated/<stem>_l<N>`` for each N in LANES. For each top,
``scripts/vivado_ooc.tcl`` synthesizes ``venom_top`` out of context for xczu48dr-ffvg1517-2-e with ap_clk at 1.953 ns
(512 MHz), then runs opt_design, place_design, phys_opt_design and route_design, writing into
``build/vivado/<name>/``. Part, clock and output folder can be changed through VIVADO_PART, VIVADO_CLOCK_NS and
VIVADO_OUT; VIVADO_CLK_SRC places the clock buffer (HD.CLK_SRC) instead of assuming an ideal clock. Without Vivado,
``make vivado`` says so and exits 2; ``make resources`` gives Yosys estimates of the same tops instead (no timing).

This module reads, from each such directory:

``post_route_utilization.rpt`` (``report_utilization``; UltraScale+ tables, 7-series names accepted as well)
    "CLB Logic": CLB LUTs, LUT as Logic, LUT as Memory, CLB Registers; "BLOCKRAM": Block RAM Tile, RAMB36/FIFO,
    RAMB18, URAM; "ARITHMETIC": DSPs. Used, Available and Util% of each row.
``post_route_timing_summary.rpt`` (``report_timing_summary``)
    "Design Timing Summary": WNS, TNS, TNS failing endpoints, WHS, THS, THS failing endpoints, WPWS; "Clock Summary":
    the period of ap_clk (else of the first clock).
``run_info.json`` (written by the tcl; optional)
    name, part and clock asked for, and the generated directory, whose ``params.json`` gives LANES.

Each setting in the JSON: name, lanes, part, clock_period_ns, wns_ns, tns_ns, whs_ns, ths_ns, failing endpoints,
timing_met (WNS, WHS and WPWS all >= 0), fmax_mhz_estimate = 1000 / (period - WNS), and the used counts lut,
lut_logic, lut_memory, ff, dsp, bram36_equiv (RAMB36 + RAMB18/2, i.e. block-RAM tiles), ramb36, ramb18, uram, with
``available`` and ``util_pct`` (percent of the device) per count. Anything a report does not hold is null; a file that
is not a Vivado report, or a missing report file, is an error (exit status 2 from the command line, one line).

Run as ``python -m venom_fpga.rtl.vivado_report DIR [DIR...] --out build/reports/vivado.json`` (what ``make vivado``
does after Vivado).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

from venom_fpga.files import write_json

UTILIZATION_REPORT = "post_route_utilization.rpt"
TIMING_REPORT = "post_route_timing_summary.rpt"
RUN_INFO = "run_info.json"
CLOCK = "ap_clk"
# The counts reported, and the rows that give them: (section titles, row names), first match wins. UltraScale names
# first, then 7-series ones.
ROWS = {
    "lut": (("CLB Logic", "Slice Logic"), ("CLB LUTs", "Slice LUTs")),
    "lut_logic": (("CLB Logic", "Slice Logic"), ("LUT as Logic",)),
    "lut_memory": (("CLB Logic", "Slice Logic"), ("LUT as Memory",)),
    "ff": (("CLB Logic", "Slice Logic"), ("CLB Registers", "Slice Registers")),
    "ramb36": (("BLOCKRAM", "Memory"), ("RAMB36/FIFO",)),
    "ramb18": (("BLOCKRAM", "Memory"), ("RAMB18",)),
    "bram_tile": (("BLOCKRAM", "Memory"), ("Block RAM Tile",)),
    "uram": (("BLOCKRAM", "Memory"), ("URAM",)),
    "dsp": (("ARITHMETIC", "DSP"), ("DSPs",)),
}
COUNTS = ("lut", "lut_logic", "lut_memory", "ff", "dsp", "bram36_equiv", "ramb36", "ramb18", "uram")
# Columns of the "Design Timing Summary" table -> JSON keys.
TIMING_COLUMNS = {
    "WNS(ns)": "wns_ns",
    "TNS(ns)": "tns_ns",
    "TNS Failing Endpoints": "tns_failing_endpoints",
    "TNS Total Endpoints": "tns_total_endpoints",
    "WHS(ns)": "whs_ns",
    "THS(ns)": "ths_ns",
    "THS Failing Endpoints": "ths_failing_endpoints",
    "WPWS(ns)": "wpws_ns",
}
CAVEATS = [
    "out of context: I/O ports carry no input/output delay, so only paths inside venom_top are timed",
    "ideal clock unless VIVADO_CLK_SRC set HD.CLK_SRC: no clock-tree insertion delay or skew (optimistic)",
    "fmax_mhz_estimate = 1000 / (period - WNS): a linear extrapolation, not a re-run at that clock",
]


class VivadoReportError(ValueError):
    """A report that is missing or is not a Vivado report; the message says which file and why."""


# --- reading the text reports ------------------------------------------------------------------------------


def read_report(path: str | Path, command: str) -> str:
    """The text of a Vivado report written by ``command``; raises VivadoReportError for anything else."""
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        raise VivadoReportError(f"{path}: not found (run make vivado, or scripts/run_vivado.sh GEN_DIR)") from None
    except OSError as exc:
        raise VivadoReportError(f"{path}: cannot be read ({exc.strerror})") from None
    header = header_fields(text)
    if "Vivado" not in header.get("Tool Version", ""):
        raise VivadoReportError(f"{path}: not a Vivado report (no '| Tool Version : Vivado ...' header line)")
    if command not in header.get("Command", command):
        written_by = (header["Command"].split() or ["?"])[0]
        raise VivadoReportError(f"{path}: written by {written_by}, expected {command}")
    return text


def header_fields(text: str) -> dict[str, str]:
    """The ``| Key : value`` lines of a report's header box (before the first table)."""
    fields: dict[str, str] = {}
    for line in text.splitlines()[:40]:
        match = re.match(r"\|\s*([A-Za-z][A-Za-z ]*?)\s*:\s*(.*)$", line)
        if match:
            fields.setdefault(match.group(1), match.group(2).strip())
    return fields


def _number(text: str | None) -> float | None:
    """A number from a report cell: ``<0.01`` -> 0.01, blank, ``NA``, ``inf`` and the like -> None."""
    if text is None:
        return None
    try:
        value = float(text.strip().lstrip("<"))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _count(text: str | None) -> int | float | None:
    """A resource count: an int where whole (Block RAM Tile may be 9.5)."""
    value = _number(text)
    return int(value) if value is not None and value.is_integer() else value


def utilization_tables(text: str) -> dict[str, dict[str, dict[str, str]]]:
    """Every ``Site Type`` table, by the title of its numbered section: {section: {row name: {column: cell}}}.

    Row names lose their indentation and a trailing ``*`` (Vivado marks notes that way: ``CLB LUTs*``); the first row
    of a name in a section wins.
    """
    tables: dict[str, dict[str, dict[str, str]]] = {}
    section, columns = "", None
    for line in text.splitlines():
        heading = re.match(r"^\d+(?:\.\d+)*\.?\s+(\S.*?)\s*$", line)
        if heading:
            section, columns = heading.group(1), None
            continue
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells and cells[0] == "Site Type":
            columns = cells
            continue
        if columns is None or len(cells) != len(columns):
            continue
        name = cells[0].rstrip("*").strip()
        tables.setdefault(section, {}).setdefault(name, dict(zip(columns, cells)))
    return tables


def parse_utilization(text: str) -> dict[str, dict[str, Any]]:
    """{count: {"used", "available", "util_pct"}} for ROWS and bram36_equiv; None where the report has no such row."""
    tables = utilization_tables(text)
    found: dict[str, dict[str, Any]] = {}
    for key, (sections, names) in ROWS.items():
        row = next((tables[s][n] for s in sections if s in tables for n in names if n in tables[s]), None)
        found[key] = _usage(row)
    ramb36, ramb18, tile = found.pop("ramb36"), found.pop("ramb18"), found.pop("bram_tile")
    equiv = dict(tile)
    if equiv["available"] is None:
        equiv["available"] = ramb36["available"]
    if ramb36["used"] is not None and ramb18["used"] is not None:
        used = ramb36["used"] + ramb18["used"] / 2
        equiv["used"] = int(used) if float(used).is_integer() else used
        equiv["util_pct"] = _pct(equiv["used"], equiv["available"], tile["util_pct"])
    return {**found, "bram36_equiv": equiv, "ramb36": ramb36, "ramb18": ramb18}


def _usage(row: dict[str, str] | None) -> dict[str, Any]:
    if row is None:
        return {"used": None, "available": None, "util_pct": None}
    used, available = _count(row.get("Used")), _count(row.get("Available"))
    return {"used": used, "available": available, "util_pct": _pct(used, available, _number(row.get("Util%")))}


def _pct(used: float | None, available: float | None, reported: float | None) -> float | None:
    """Percent of the device, to 0.01 (from the counts, as the report rounds small shares to ``<0.01``)."""
    if used is not None and available:
        return round(100.0 * used / available, 2)
    return reported


def parse_timing_summary(text: str) -> dict[str, Any]:
    """Design Timing Summary values (TIMING_COLUMNS keys) plus clock_name and clock_period_ns; None where missing."""
    result: dict[str, Any] = dict.fromkeys(TIMING_COLUMNS.values())
    lines = text.splitlines()
    header_at = _table_header(lines, "Design Timing Summary", "WNS(ns)")
    if header_at is not None and header_at + 2 < len(lines):
        names = re.split(r"\s{2,}", lines[header_at].strip())
        values = lines[header_at + 2].split()
        if len(values) == len(names):
            for name, value in zip(names, values):
                if name in TIMING_COLUMNS:
                    key = TIMING_COLUMNS[name]
                    result[key] = _count(value) if "Endpoints" in name else _number(value)
    result["clock_name"], result["clock_period_ns"] = _clock(lines)
    return result


def _table_header(lines: list[str], title: str, first_column: str) -> int | None:
    """Index of the column-header line of the table under ``| <title>`` (its first column named ``first_column``)."""
    start = next((i for i, line in enumerate(lines) if line.strip() == f"| {title}"), None)
    if start is None:
        return None
    for i in range(start + 1, min(start + 12, len(lines))):
        if lines[i].split()[:1] == [first_column]:
            return i
    return None


def _clock(lines: list[str]) -> tuple[str | None, float | None]:
    """(name, period in ns) of ap_clk in the Clock Summary table, else of its first clock."""
    header_at = _table_header(lines, "Clock Summary", "Clock")
    if header_at is None:
        return None, None
    clocks = []
    for line in lines[header_at + 2:]:
        match = re.match(r"^\s*(\S+)\s+\{[^}]*\}\s+(\S+)", line)
        if not match:
            break
        clocks.append((match.group(1), _number(match.group(2))))
    return next((c for c in clocks if c[0] == CLOCK), clocks[0] if clocks else (None, None))


# --- one run directory, and the whole report ----------------------------------------------------------------


def parse_run(run_dir: str | Path) -> dict[str, Any]:
    """One setting of the JSON report from a build/vivado/<name>/ directory."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise VivadoReportError(f"{run_dir}: no such directory (expected a build/vivado/<name>/ of make vivado)")
    util_text = read_report(run_dir / UTILIZATION_REPORT, "report_utilization")
    timing_text = read_report(run_dir / TIMING_REPORT, "report_timing_summary")
    info = _run_info(run_dir)
    header = header_fields(util_text)
    version = re.search(r"Vivado v\.?(\S+)", header.get("Tool Version", ""))
    timing = parse_timing_summary(timing_text)
    period = timing.pop("clock_period_ns")
    if period is None:
        period = _number(str(info.get("clock_period_ns", "")))
    usage = parse_utilization(util_text)
    wns = timing["wns_ns"]
    slacks = [timing[key] for key in ("wns_ns", "whs_ns", "wpws_ns") if timing[key] is not None]
    entry: dict[str, Any] = {
        "name": info.get("name") or run_dir.name,
        "lanes": _lanes(info, run_dir),
        "report_dir": str(run_dir),
        "vivado_version": version.group(1) if version else info.get("vivado_version") or None,
        "part": header.get("Device") or info.get("part"),
        "design_state": header.get("Design State"),
        "clock_period_ns": period,
        **timing,
        "timing_met": None if wns is None else min(slacks) >= 0,
        "fmax_mhz_estimate": round(1000.0 / (period - wns), 1) if period and wns is not None and period > wns else None,
    }
    entry.update({key: usage[key]["used"] for key in COUNTS})
    entry["available"] = {key: usage[key]["available"] for key in COUNTS}
    entry["util_pct"] = {key: usage[key]["util_pct"] for key in COUNTS}
    return entry


def _run_info(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_INFO
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise VivadoReportError(f"{path}: not JSON ({exc})") from None
    return info if isinstance(info, dict) else {}


def _lanes(info: dict[str, Any], run_dir: Path) -> int | None:
    """LANES from params.json of the generated directory (run_info's gen_dir, else a copy beside the reports)."""
    for params_path in ([Path(info["gen_dir"]) / "params.json"] if info.get("gen_dir") else []) + [
        run_dir / "params.json"
    ]:
        try:
            params = json.loads(params_path.read_text())
        except (OSError, ValueError):
            continue
        lanes = (params.get("params") or {}).get("LANES", params.get("lanes")) if isinstance(params, dict) else None
        if isinstance(lanes, int):
            return lanes
    return None


def build_report(run_dirs: list[str | Path]) -> dict[str, Any]:
    settings = [parse_run(run_dir) for run_dir in run_dirs]
    versions = sorted({s["vivado_version"] for s in settings if s["vivado_version"]})
    return {
        "tool": f"vivado {'/'.join(versions) or '?'} out-of-context synth_design, opt/place/phys_opt/route_design",
        "caveats": CAVEATS,
        "settings": settings,
    }


def write_vivado_report(run_dirs: list[str | Path], out_json: str | Path) -> dict[str, Any]:
    """Parse the run directories and write the JSON report atomically; returns the report."""
    report = build_report(run_dirs)
    write_json(out_json, report)
    return report


def summary_line(entry: dict[str, Any]) -> str:
    """One line for the terminal: timing against the clock, then the main resources with their share of the part."""
    timing = {True: "met", False: "NOT met", None: "unknown"}[entry["timing_met"]]
    fmax = f", fmax ~{entry['fmax_mhz_estimate']:.0f} MHz" if entry["fmax_mhz_estimate"] else ""
    clock = f"WNS {_show(entry['wns_ns'])} ns, WHS {_show(entry['whs_ns'])} ns at {_show(entry['clock_period_ns'])} ns"
    used = ", ".join(
        f"{label} {_show(entry[key])}"
        + (f" ({entry['util_pct'][key]:.2f}%)" if entry["util_pct"][key] is not None else "")
        for key, label in (("lut", "LUT"), ("ff", "FF"), ("dsp", "DSP"), ("bram36_equiv", "BRAM36"), ("uram", "URAM"))
    )
    setting = f"{entry['name']} (LANES={_show(entry['lanes'])}) on {_show(entry['part'])}"
    return f"vivado: {setting}: {clock} ({timing}{fmax}); {used}"


def _show(value: Any) -> str:
    return "?" if value is None else str(value)


# --- command line --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m venom_fpga.rtl.vivado_report", description=__doc__.splitlines()[0])
    parser.add_argument("run_dirs", nargs="+", metavar="DIR", help="Vivado output directory (build/vivado/<name>)")
    parser.add_argument("--out", default="build/reports/vivado.json", help="JSON report to write (%(default)s)")
    args = parser.parse_args(argv)
    try:
        report = write_vivado_report(args.run_dirs, args.out)
    except VivadoReportError as exc:
        print(f"vivado_report: error: {exc}", file=sys.stderr)
        return 2
    for entry in report["settings"]:
        print(summary_line(entry))
    print(f"vivado_report -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
