# SPDX-License-Identifier: BSD-3-Clause
"""Vitis HLS synthesis report (``csynth.xml``) to the JSON report ``build/reports/hls.json``.

``csynth_design`` writes ``<project>/<solution>/syn/report/csynth.xml`` for the top function and one
``<module>_csynth.xml`` per synthesized sub-module beside it. All share one schema (the parts read here)::

    profile/ReportVersion/Version
    profile/UserAssignments/{Part, TopModelName, TargetClockPeriod}                      ns
    profile/PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod           ns
    profile/PerformanceEstimates/SummaryOfOverallLatency/{Best,Average,Worst}-caseLatency, Interval-{min,max}
        (+ PipelineInitiationInterval, PipelineDepth for a pipelined function)          cycles
    profile/PerformanceEstimates/SummaryOfLoopLatency/<loop>[/<inner loop>...]/{TripCount, Latency,
        IterationLatency, PipelineII, PipelineDepth}
    profile/AreaEstimates/{Resources, AvailableResources}/{BRAM_18K, DSP, FF, LUT, URAM}

Counts that HLS cannot bound are written ``undef`` and become ``None``; a range ``a ~ b`` becomes its upper
bound ``b`` (the worst case); a missing element is ``None`` too.

Run as ``python -m venom_fpga.hls.report PROJECT_DIR --out build/reports/hls.json`` (what ``make hls`` does).
"""

from __future__ import annotations

import argparse
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from venom_fpga.files import atomic_path

RESOURCES = ("BRAM_18K", "DSP", "FF", "LUT", "URAM")
REPORT_NAME = "csynth.xml"
# Where a report may sit, relative to the directory given: the exported project (build_prj.tcl creates the
# Vitis project inside it), the Vitis project, the solution, the report directory itself.
SEARCH_PATTERNS = (
    f"*/*/syn/report/{REPORT_NAME}",
    f"*/syn/report/{REPORT_NAME}",
    f"syn/report/{REPORT_NAME}",
    REPORT_NAME,
)


class CsynthReportNotFound(FileNotFoundError):
    """No csynth.xml where a Vitis HLS run would have written it; the message lists the places searched."""


def find_csynth_xml(path: str | Path) -> Path:
    """The top-level csynth.xml for ``path``: the file itself, or the newest one found below a directory."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.is_dir():
        raise CsynthReportNotFound(f"{path}: no such file or directory (expected a Vitis HLS project or csynth.xml)")
    found = [hit for pattern in SEARCH_PATTERNS for hit in path.glob(pattern) if hit.is_file()]
    if not found:
        looked = "\n".join(f"  {path.resolve() / pattern}" for pattern in SEARCH_PATTERNS)
        raise CsynthReportNotFound(
            f"no {REPORT_NAME} under {path}; looked for:\n{looked}\n"
            "Run C synthesis first (make hls, or vitis_hls -f build_prj.tcl in the exported project)."
        )
    return max(found, key=lambda hit: hit.stat().st_mtime)


def parse_csynth(xml_path_or_dir: str | Path) -> dict[str, Any]:
    """Summary of one synthesis: the top function's report plus its sub-modules' reports when present."""
    xml_path = find_csynth_xml(xml_path_or_dir)
    root = _read(xml_path)
    report = {
        "report": str(xml_path),
        "vitis_version": _text(root, "ReportVersion/Version"),
        "top": _text(root, "UserAssignments/TopModelName"),
        "part": _text(root, "UserAssignments/Part"),
        **_summary(root),
    }
    avail = {name: _count(root, f"AreaEstimates/AvailableResources/{name}") for name in RESOURCES}
    report["available"] = avail
    report["utilization_pct"] = {
        name: round(100.0 * used / avail[name], 2) if used is not None and avail[name] else None
        for name, used in report["resources"].items()
    }
    report["as_yosys"] = as_yosys_fields(report["resources"])
    report["loops"] = _loops(root.find("PerformanceEstimates/SummaryOfLoopLatency"))
    report["modules"] = _modules(xml_path.parent, top=report["top"])
    return report


def as_yosys_fields(resources: dict[str, int | None]) -> dict[str, float | int | None]:
    """csynth's resource estimates under the field names of ``venom-fpga resources`` (resources.json, Yosys), so the
    two stand side by side: LUT, FF, DSP48E2, BRAM36_eq (two BRAM_18K per BRAM36), URAM."""
    bram18 = resources.get("BRAM_18K")
    return {"LUT": resources.get("LUT"), "FF": resources.get("FF"), "DSP48E2": resources.get("DSP"),
            "BRAM36_eq": bram18 / 2 if bram18 is not None else None, "URAM": resources.get("URAM")}


def write_hls_report(project_dir: str | Path, out_json: str | Path) -> dict[str, Any]:
    """Parse the synthesis report of an exported project and write it as JSON; returns the report."""
    report = parse_csynth(find_csynth_xml(project_dir))
    with atomic_path(out_json) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    return report


def summary_line(report: dict[str, Any]) -> str:
    """One line for the terminal: clock, latency, interval and the resources with their share of the part."""
    est, target = report["estimated_clock_ns"], report["target_clock_ns"]
    timing = "met" if report["timing_met"] else "NOT met" if report["timing_met"] is False else "unknown"
    clock = f"{_show(est)} ns est. vs {_show(target)} ns target ({timing}"
    clock += f", fmax {report['fmax_mhz']:.0f} MHz)" if report["fmax_mhz"] else ")"
    lat, ii = report["latency_cycles"], report["interval"]
    latency = f"latency {_show(lat['best'])}-{_show(lat['worst'])} cycles, II {_show(ii['min'])}-{_show(ii['max'])}"
    used = ", ".join(
        f"{name} {_show(report['resources'][name])}"
        + (f" ({report['utilization_pct'][name]:.1f}%)" if report["utilization_pct"][name] is not None else "")
        for name in RESOURCES
    )
    return f"hls: {report['top']} on {report['part']}: {clock}; {latency}; {used}"


# --- reading the XML -------------------------------------------------------------------------------------


def _read(xml_path: Path) -> ET.Element:
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{xml_path}: not a readable csynth.xml ({exc})") from None
    if root.tag != "profile":
        raise ValueError(f"{xml_path}: root element is <{root.tag}>, expected <profile> (a Vitis HLS csynth.xml)")
    return root


def _text(node: ET.Element | None, path: str) -> str | None:
    found = None if node is None else node.find(path)
    if found is None or found.text is None or not found.text.strip():
        return None
    return found.text.strip()


def _float(node: ET.Element | None, path: str) -> float | None:
    text = _text(node, path)
    return None if text is None or text == "undef" else float(text)


def _count(node: ET.Element | None, path: str) -> int | None:
    """An integer count: ``undef`` or missing -> None, ``a ~ b`` -> b."""
    text = _text(node, path)
    if text is None or text == "undef":
        return None
    try:
        return int(text.split("~")[-1])
    except ValueError:
        raise ValueError(f"<{path}> is {text!r}, not a count") from None


def _summary(root: ET.Element) -> dict[str, Any]:
    """Timing, latency, interval and resources: the fields every report (top or module) has."""
    target = _float(root, "UserAssignments/TargetClockPeriod")
    est = _float(root, "PerformanceEstimates/SummaryOfTimingAnalysis/EstimatedClockPeriod")
    overall = root.find("PerformanceEstimates/SummaryOfOverallLatency")
    return {
        "target_clock_ns": target,
        "estimated_clock_ns": est,
        "fmax_mhz": round(1000.0 / est, 2) if est else None,
        "timing_met": None if est is None or target is None else est <= target,
        "pipeline_type": _text(root, "PerformanceEstimates/PipelineType"),
        "latency_cycles": {
            "best": _count(overall, "Best-caseLatency"),
            "avg": _count(overall, "Average-caseLatency"),
            "worst": _count(overall, "Worst-caseLatency"),
        },
        "interval": {"min": _count(overall, "Interval-min"), "max": _count(overall, "Interval-max")},
        "pipeline_ii": _count(overall, "PipelineInitiationInterval"),
        "pipeline_depth": _count(overall, "PipelineDepth"),
        "resources": {name: _count(root, f"AreaEstimates/Resources/{name}") for name in RESOURCES},
    }


def _loops(node: ET.Element | None, prefix: str = "") -> list[dict[str, Any]]:
    """Every loop, outer before inner; a nested loop is named ``outer/inner``."""
    loops: list[dict[str, Any]] = []
    for child in [] if node is None else node:
        if child.find("TripCount") is None:  # <unit>, <InstanceList> and the like
            continue
        name = prefix + child.tag
        loops.append({
            "name": name,
            "trip_count": _count(child, "TripCount"),
            "latency_cycles": _count(child, "Latency"),
            "iteration_latency": _count(child, "IterationLatency"),
            "pipeline_ii": _count(child, "PipelineII"),
            "pipeline_depth": _count(child, "PipelineDepth"),
        })
        loops.extend(_loops(child, prefix=name + "/"))
    return loops


def _modules(report_dir: Path, top: str | None) -> list[dict[str, Any]]:
    """The sub-modules' ``<module>_csynth.xml`` beside the top report, by name (the top's own copy left out)."""
    modules = []
    for path in sorted(report_dir.glob("*_csynth.xml")):
        root = _read(path)
        name = _text(root, "UserAssignments/TopModelName") or path.name[: -len("_csynth.xml")]
        if name != top:
            modules.append({"name": name, **_summary(root)})
    return modules


def _show(value: Any) -> str:
    return "?" if value is None else str(value)


# --- command line --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m venom_fpga.hls.report", description=__doc__.splitlines()[0])
    parser.add_argument("project", help="exported HLS project directory (or a csynth.xml)")
    parser.add_argument("--out", default="build/reports/hls.json", help="JSON report to write (%(default)s)")
    args = parser.parse_args(argv)
    try:
        report = write_hls_report(args.project, args.out)
    except (CsynthReportNotFound, ValueError) as exc:
        print(f"hls_report: error: {exc}", file=sys.stderr)
        return 2
    print(f"{summary_line(report)} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
