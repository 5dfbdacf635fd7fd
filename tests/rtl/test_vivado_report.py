# SPDX-License-Identifier: BSD-3-Clause
"""Vivado flow without Vivado: report parsing, scripts/vivado_ooc.tcl under tclsh with stubs, scripts/run_vivado.sh.

The reports in tests/data/vivado/ are hand-written in the format of Vivado 2022.2 (numbers made up): LANES 4 meets
512 MHz, LANES 8 misses it by 0.274 ns.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from venom_fpga.target import PART, clock_period_ns
from venom_fpga.rtl.vivado_report import (
    TIMING_REPORT,
    UTILIZATION_REPORT,
    VivadoReportError,
    build_report,
    main,
    parse_run,
    parse_timing_summary,
    parse_utilization,
    summary_line,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "fixtures" / "vivado"
L4, L8 = SAMPLES / "venom_synth_ptsi_l4", SAMPLES / "venom_synth_ptsi_l8"
TCL = ROOT / "scripts" / "vivado_ooc.tcl"
RUN_SCRIPT = ROOT / "scripts" / "run_vivado.sh"
COUNTS = ("lut", "lut_logic", "lut_memory", "ff", "dsp", "bram36_equiv", "ramb36", "ramb18", "uram")


def _copy_run(src: Path, dest: Path, **edits: tuple[str, str]) -> Path:
    """A copy of a sample run directory; edits: {report file stem: (old text, new text)}, the old text must be there."""
    shutil.copytree(src, dest)
    for stem, (old, new) in edits.items():
        path = dest / f"{stem}.rpt"
        text = path.read_text()
        assert old in text, (stem, old)
        path.write_text(text.replace(old, new))
    return dest


def _cut(text: str, start: str, end: str) -> str:
    """``text`` without the part from ``start`` up to (not including) ``end``."""
    i, j = text.index(start), text.index(end)
    return text[:i] + text[j:]


# --- parsing -------------------------------------------------------------------------------------------------


def test_parse_sample_every_field():
    e = parse_run(L4)
    assert (e["name"], e["lanes"], e["report_dir"]) == ("venom_synth_ptsi_l4", None, str(L4))
    assert (e["vivado_version"], e["part"], e["design_state"]) == ("2022.2", "xczu48dr-ffvg1517-2-e", "Routed")
    assert (e["clock_name"], e["clock_period_ns"]) == ("ap_clk", 1.953)
    assert (e["wns_ns"], e["tns_ns"], e["tns_failing_endpoints"], e["tns_total_endpoints"]) == (0.112, 0.0, 0, 38512)
    assert (e["whs_ns"], e["ths_ns"], e["ths_failing_endpoints"], e["wpws_ns"]) == (0.021, 0.0, 0, 0.436)
    assert e["timing_met"] is True and e["fmax_mhz_estimate"] == 543.2  # 1000 / (1.953 - 0.112)
    assert {k: e[k] for k in COUNTS} == {"lut": 11873, "lut_logic": 10721, "lut_memory": 1152, "ff": 14236, "dsp": 8,
                                         "bram36_equiv": 9.5, "ramb36": 7, "ramb18": 5, "uram": 0}
    assert e["available"] == {"lut": 425280, "lut_logic": 425280, "lut_memory": 213600, "ff": 850560, "dsp": 4272,
                              "bram36_equiv": 1080, "ramb36": 1080, "ramb18": 2160, "uram": 80}
    assert e["util_pct"] == {"lut": 2.79, "lut_logic": 2.52, "lut_memory": 0.54, "ff": 1.67, "dsp": 0.19,
                             "bram36_equiv": 0.88, "ramb36": 0.65, "ramb18": 0.23, "uram": 0.0}
    assert summary_line(e) == (
        "vivado: venom_synth_ptsi_l4 (LANES=?) on xczu48dr-ffvg1517-2-e: WNS 0.112 ns, WHS 0.021 ns at 1.953 ns "
        "(met, fmax ~543 MHz); LUT 11873 (2.79%), FF 14236 (1.67%), DSP 8 (0.19%), BRAM36 9.5 (0.88%), URAM 0 (0.00%)"
    )


def test_negative_slack_is_not_met(tmp_path):
    e = parse_run(L8)
    assert (e["wns_ns"], e["tns_ns"], e["tns_failing_endpoints"], e["whs_ns"]) == (-0.274, -35.112, 412, 0.015)
    assert e["timing_met"] is False and e["fmax_mhz_estimate"] == 449.0  # 1000 / (1.953 + 0.274)
    assert (e["lut"], e["ff"], e["dsp"], e["bram36_equiv"]) == (20518, 25114, 16, 17)
    assert "(NOT met, fmax ~449 MHz)" in summary_line(e)
    # a hold violation fails timing too, even with positive setup slack
    values = "      0.112        0.000                      0                38512        0.021"
    run = _copy_run(L4, tmp_path / "hold", post_route_timing_summary=(values, values[:-5] + "-0.004"))
    e = parse_run(run)
    assert (e["wns_ns"], e["whs_ns"], e["timing_met"]) == (0.112, -0.004, False)


def test_run_info_gives_name_lanes_and_a_missing_clock(tmp_path):
    gen = tmp_path / "rtl" / "venom_x_l8"
    gen.mkdir(parents=True)
    (gen / "params.json").write_text(json.dumps({"name": "venom_x_l8", "params": {"LANES": 8, "DW": 32}}))
    run = _copy_run(L8, tmp_path / "run")
    (run / "run_info.json").write_text(json.dumps({
        "name": "venom_x_l8", "gen_dir": str(gen), "part": "xczu48dr-ffvg1517-2-e", "clock_period_ns": 2.5}))
    e = parse_run(run)
    assert (e["name"], e["lanes"], e["clock_period_ns"]) == ("venom_x_l8", 8, 1.953)  # the report's clock wins
    timing = run / TIMING_REPORT
    timing.write_text(_cut(timing.read_text(), "| Clock Summary", "| Intra Clock Table"))
    e = parse_run(run)
    assert (e["clock_name"], e["clock_period_ns"], e["fmax_mhz_estimate"]) == (None, 2.5, 360.5)
    # params.json beside the reports serves when run_info.json names no generated directory
    (run / "run_info.json").unlink()
    (run / "params.json").write_text(json.dumps({"params": {"LANES": 2}}))
    assert (parse_run(run)["name"], parse_run(run)["lanes"]) == ("run", 2)


def test_missing_tables_become_null(tmp_path):
    run = _copy_run(L4, tmp_path / "run")
    util, timing = run / UTILIZATION_REPORT, run / TIMING_REPORT
    util.write_text(_cut(util.read_text(), "3. BLOCKRAM\n---", "5. I/O\n---"))  # the tables, not the contents
    timing.write_text(_cut(timing.read_text(), "| Design Timing Summary", "| Intra Clock Table"))
    e = parse_run(run)
    for key in ("wns_ns", "tns_ns", "tns_failing_endpoints", "whs_ns", "ths_ns", "wpws_ns", "clock_period_ns",
                "timing_met", "fmax_mhz_estimate"):
        assert e[key] is None, key
    for key in ("dsp", "bram36_equiv", "ramb36", "ramb18", "uram"):
        assert (e[key], e["available"][key], e["util_pct"][key]) == (None, None, None), key
    assert (e["lut"], e["ff"], e["util_pct"]["lut"]) == (11873, 14236, 2.79)
    assert summary_line(e).endswith("(unknown); LUT 11873 (2.79%), FF 14236 (1.67%), DSP ?, BRAM36 ?, URAM ?")
    # bare text with no tables at all
    assert parse_timing_summary("Timing Summary Report\n")["wns_ns"] is None
    assert set(parse_utilization("nothing here")["lut"].values()) == {None}


def test_seven_series_names_and_unconstrained_values():
    text = (L4 / UTILIZATION_REPORT).read_text()
    for old, new in (("1. CLB Logic\n", "1. Slice Logic\n"), ("| CLB LUTs ", "| Slice LUTs "),
                     ("| CLB Registers ", "| Slice Registers "), ("3. BLOCKRAM\n", "3. Memory\n"),
                     ("4. ARITHMETIC\n", "4. DSP\n"), ("| CLB LUTs ", "| CLB LUTs*")):
        text = text.replace(old, new, 1)
    usage = parse_utilization(text)
    assert (usage["lut"]["used"], usage["ff"]["used"], usage["dsp"]["used"]) == (11873, 14236, 8)
    assert usage["bram36_equiv"] == {"used": 9.5, "available": 1080, "util_pct": 0.88}
    # a design without clocks: Vivado prints inf/NA where there is nothing to time
    timing = (L4 / TIMING_REPORT).read_text().replace("      0.112        0.000", "        inf        0.000")
    assert parse_timing_summary(timing)["wns_ns"] is None


def test_not_a_vivado_report(tmp_path):
    run = _copy_run(L4, tmp_path / "run")
    (run / UTILIZATION_REPORT).write_bytes(b"\x00\xffgarbage | CLB LUTs | 5 |\n")
    with pytest.raises(VivadoReportError, match="not a Vivado report"):
        parse_run(run)
    shutil.copy(L4 / TIMING_REPORT, run / UTILIZATION_REPORT)  # a Vivado report, but the wrong one
    with pytest.raises(VivadoReportError, match="written by report_timing_summary, expected report_utilization"):
        parse_run(run)
    (run / UTILIZATION_REPORT).unlink()
    with pytest.raises(VivadoReportError, match="not found .run make vivado"):
        parse_run(run)
    with pytest.raises(VivadoReportError, match="no such directory"):
        parse_run(tmp_path / "nowhere")


# --- command line --------------------------------------------------------------------------------------------


def test_cli_writes_the_report(tmp_path, capsys):
    out = tmp_path / "reports" / "vivado.json"
    assert main([str(L4), str(L8), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report == json.loads(json.dumps(build_report([L4, L8])))
    assert report["tool"].startswith("vivado 2022.2 out-of-context") and report["caveats"]
    assert [(s["name"], s["timing_met"]) for s in report["settings"]] == [
        ("venom_synth_ptsi_l4", True), ("venom_synth_ptsi_l8", False)]
    lines = capsys.readouterr().out.splitlines()
    assert lines == [summary_line(s) for s in report["settings"]] + [f"vivado_report -> {out}"]


def test_cli_garbage_exits_2_with_one_line(tmp_path):
    run = _copy_run(L4, tmp_path / "run")
    (run / TIMING_REPORT).write_text("this is not\na timing report\n")
    out = tmp_path / "vivado.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
    proc = subprocess.run([sys.executable, "-m", "venom_fpga.rtl.vivado_report", str(L4), str(run), "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"vivado_report: error: {run / TIMING_REPORT}: not a Vivado report (no '| Tool Version : Vivado ...' "
        "header line)"]
    assert not out.exists()  # nothing half-written, not even the good setting


# --- scripts/vivado_ooc.tcl under tclsh ------------------------------------------------------------------------


def test_tcl_is_complete():
    tclsh = shutil.which("tclsh")  # Debian's tcl, installed by `make setup`
    assert tclsh is not None, "tclsh missing: run make setup"
    check = f"set f [open {{{TCL}}}]; puts [info complete [read $f]]"
    proc = subprocess.run([tclsh], input=check, capture_output=True, text=True, timeout=30)
    assert proc.stdout.strip() == "1", proc.stderr


# Each Vivado command prints "CALL <command>" and "ARG <word>" per argument; FAIL_AT names one that fails.
STUBS = r"""
foreach cmd {read_verilog read_xdc synth_design opt_design place_design phys_opt_design route_design
             report_utilization report_timing_summary report_route_status write_checkpoint} {
    proc $cmd {args} [string map [list @CMD@ $cmd] {
        puts "CALL @CMD@"
        foreach word $args { puts "ARG $word" }
        if {$::env(FAIL_AT) eq "@CMD@"} { error "ERROR: \[Common 17-69\] boom" }
    }]
}
proc get_clocks {args} { if {$::env(NO_CLOCK) ne ""} { return {} } ; return ap_clk }
proc version {args} { return 2022.2 }
set script [lindex $argv 0]
set argv [lrange $argv 1 end]
set argc [llength $argv]
source $script
"""


@pytest.fixture
def run_tcl(tmp_path):
    """Run vivado_ooc.tcl under tclsh with the Vivado commands stubbed; returns (process, [(command, args)])."""
    tclsh = shutil.which("tclsh")
    assert tclsh is not None, "tclsh missing: run make setup"
    gen = tmp_path / "rtl" / "generated" / "venom_x_l4"
    gen.mkdir(parents=True)
    (tmp_path / "rtl" / "venom_core.v").write_text("module venom_core; endmodule\n")
    (gen / "venom_top.v").write_text("module venom_top; endmodule\n")
    (gen / "venom_top.f").write_text("// sources\n../../venom_core.v\nvenom_top.v\n")
    (tmp_path / "stubs.tcl").write_text(STUBS)

    def run(*argv, **env):
        full_env = {**os.environ, "FAIL_AT": "", "NO_CLOCK": "", **env}
        proc = subprocess.run([tclsh, str(tmp_path / "stubs.tcl"), str(TCL), *argv], capture_output=True, text=True,
                              env=full_env, cwd=tmp_path, timeout=30)
        calls: list[tuple[str, list[str]]] = []
        for line in proc.stdout.splitlines():
            if line.startswith("CALL "):
                calls.append((line[5:], []))
            elif line.startswith("ARG "):
                calls[-1][1].append(line[4:])
        return proc, calls

    run.gen, run.out = gen, tmp_path / "out"
    return run


TARGET = (PART, f"{clock_period_ns():.3f}")  # what run_vivado.sh passes (python/venom_fpga/target.py)


def test_tcl_flow(run_tcl):
    gen, out = run_tcl.gen, run_tcl.out
    proc, calls = run_tcl(str(gen), str(out), *TARGET)
    assert proc.returncode == 0, proc.stderr
    assert [c for c, _ in calls] == [
        "read_verilog", "read_verilog", "read_xdc", "synth_design", "write_checkpoint", "report_utilization",
        "report_timing_summary", "opt_design", "place_design", "phys_opt_design", "report_utilization",
        "report_timing_summary", "route_design", "write_checkpoint", "report_utilization", "report_utilization",
        "report_timing_summary", "report_route_status"]
    # sources: the .f list's entries, relative to the .f, made absolute; the xdc as out-of-context constraints
    assert [args for c, args in calls if c == "read_verilog"] == [
        [str(gen.parent.parent / "venom_core.v")], [str(gen / "venom_top.v")]]
    assert calls[2][1] == ["-mode", "out_of_context", str(out / "venom_ooc.xdc")]
    # MEM_DIR: the generated directory, absolute, with the trailing slash, as a Verilog string literal
    assert calls[3][1][:8] == ["-top", "venom_top", "-part", PART, "-mode", "out_of_context",
                               "-generic", f'MEM_DIR="{gen}/"']
    assert calls[3][1][8] == "-include_dirs" and str(gen.parent.parent) in calls[3][1][9]  # venom_contract.vh
    xdc = (out / "venom_ooc.xdc").read_text().splitlines()
    assert xdc[1:] == [f"create_clock -period {TARGET[1]} -name ap_clk [get_ports ap_clk]"]
    files = [args[-1] for c, args in calls if c.startswith(("report_", "write_checkpoint"))]
    assert files == [str(out / name) for name in (
        "post_synth.dcp", "post_synth_utilization.rpt", "post_synth_timing_summary.rpt", "post_place_utilization.rpt",
        "post_place_timing_summary.rpt", "post_route.dcp", "post_route_utilization.rpt",
        "post_route_utilization_hier.rpt", "post_route_timing_summary.rpt", "post_route_route_status.rpt")]
    assert json.loads((out / "run_info.json").read_text()) == {
        "name": "venom_x_l4", "gen_dir": str(gen), "top": "venom_top", "part": PART,
        "clock_period_ns": float(TARGET[1]), "clk_src": None, "vivado_version": "2022.2"}


def test_tcl_arguments(run_tcl):
    gen, out = run_tcl.gen, run_tcl.out
    proc, calls = run_tcl(str(gen), str(out), "xczu28dr-ffvg1517-2-e", "2.5", "BUFGCE_X0Y48")
    assert proc.returncode == 0, proc.stderr
    assert "xczu28dr-ffvg1517-2-e" in dict(calls)["synth_design"]
    assert (out / "venom_ooc.xdc").read_text().splitlines()[1:] == [
        "create_clock -period 2.5 -name ap_clk [get_ports ap_clk]",
        "set_property HD.CLK_SRC BUFGCE_X0Y48 [get_ports ap_clk]"]
    info = json.loads((out / "run_info.json").read_text())
    assert (info["clock_period_ns"], info["clk_src"]) == (2.5, "BUFGCE_X0Y48")
    for argv, message in ((["only-one"], "usage:"), ([str(gen), str(out), "", "fast"], "CLOCK_NS is 'fast'"),
                          ([str(gen.parent), str(out), *TARGET],
                           "venom_top.f not found (generate the RTL first: make rtl)"), ([str(gen), str(out)], "usage:")):
        proc, calls = run_tcl(*argv)
        assert proc.returncode == 2 and message in proc.stderr and calls == [], argv
    (gen / "venom_top.v").unlink()
    proc, calls = run_tcl(str(gen), str(out), *TARGET)
    assert proc.returncode == 2 and "venom_top.v (listed in" in proc.stderr and calls == []


def test_tcl_failures_end_the_run(run_tcl):
    proc, calls = run_tcl(str(run_tcl.gen), str(run_tcl.out), *TARGET, FAIL_AT="route_design")
    assert proc.returncode == 1
    assert "vivado_ooc: route_design failed: ERROR: [Common 17-69] boom" in proc.stderr
    assert calls[-1][0] == "route_design"
    proc, calls = run_tcl(str(run_tcl.gen), str(run_tcl.out), *TARGET, NO_CLOCK="1")
    assert proc.returncode == 1 and "check_clock failed: no clock ap_clk after synthesis" in proc.stderr
    assert calls[-1][0] == "synth_design"


# --- scripts/run_vivado.sh ------------------------------------------------------------------------------------


def _path_without_vivado(extra: Path | None = None) -> str:
    dirs = [d for d in os.environ["PATH"].split(os.pathsep) if d and not (Path(d) / "vivado").exists()]
    return os.pathsep.join(([str(extra)] if extra else []) + dirs)


def test_run_script_without_vivado_exits_2():
    env = {**os.environ, "PATH": _path_without_vivado()}
    proc = subprocess.run([str(RUN_SCRIPT), "rtl/generated/x_l4"], capture_output=True, text=True, env=env,
                          timeout=30)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3 and "vivado is not on PATH" in lines[0]
    assert "settings64.sh" in lines[1] and "make resources" in lines[2] and "Yosys" in lines[2]


# A stand-in vivado: checks the call, then copies the sample reports for the generated directory's name.
FAKE_VIVADO = """#!/bin/sh
[ "$1 $2" = "-mode batch" ] || exit 9
case "$*" in *"-source {tcl} -tclargs "*) ;; *) exit 9 ;; esac
while [ "$1" != "-tclargs" ]; do shift; done
shift
[ -z "$FAIL" ] || {{ echo "ERROR: [Synth 8-439] module 'venom_core' not found"; exit 1; }}
cp {samples}/"$(basename "$1")"/*.rpt "$2"/
printf '{{"name": "%s", "gen_dir": "%s", "part": "%s", "clock_period_ns": %s}}\\n' "$(basename "$1")" "$1" "$3" "$4" \\
    > "$2/run_info.json"
echo "$PWD $*" > "$2/call.txt"
"""


def test_run_script_with_a_stand_in_vivado(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "vivado"
    fake.write_text(FAKE_VIVADO.format(tcl=TCL, samples=SAMPLES))
    fake.chmod(0o755)
    gens = []
    for lanes in (4, 8):
        gen = tmp_path / "rtl" / f"venom_synth_ptsi_l{lanes}"
        gen.mkdir(parents=True)
        (gen / "venom_top.f").write_text("venom_top.v\n")
        (gen / "params.json").write_text(json.dumps({"params": {"LANES": lanes}}))
        gens.append(gen)
    report, out_root = tmp_path / "reports" / "vivado.json", tmp_path / "vivado"
    env = {**os.environ, "PATH": _path_without_vivado(bin_dir), "REPORT": str(report), "VIVADO_OUT": str(out_root)}
    proc = subprocess.run([str(RUN_SCRIPT), *map(str, gens)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out4 = out_root / "venom_synth_ptsi_l4"
    assert (out4 / "call.txt").read_text().split() == [
        str(out4), str(gens[0]), str(out4), "xczu48dr-ffvg1517-2-e", "1.953"]
    settings = json.loads(report.read_text())["settings"]
    assert [(s["name"], s["lanes"], s["timing_met"], s["lut"]) for s in settings] == [
        ("venom_synth_ptsi_l4", 4, True, 11873), ("venom_synth_ptsi_l8", 8, False, 20518)]
    assert proc.stdout.splitlines()[-1] == f"vivado_report -> {report}"
    assert sum(line.startswith("vivado: venom_synth_ptsi_l") for line in proc.stdout.splitlines()) == 2

    # a failing Vivado run stops there, with its status and where its log is
    report.unlink()
    proc = subprocess.run([str(RUN_SCRIPT), *map(str, gens)], capture_output=True, text=True,
                          env={**env, "FAIL": "1"}, timeout=60)
    assert proc.returncode == 1 and not report.exists()
    assert f"vivado failed on venom_synth_ptsi_l4 (exit 1); see {out4}/vivado.log" in proc.stderr
    # a directory without venom_top.f, and no directory at all, are usage errors
    proc = subprocess.run([str(RUN_SCRIPT), str(tmp_path)], capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode == 2 and "venom_top.f not found (generate the RTL first: make rtl)" in proc.stderr
    proc = subprocess.run([str(RUN_SCRIPT)], capture_output=True, text=True, env=env, timeout=30)
    assert proc.returncode == 2 and proc.stderr.startswith("usage:")
