#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Vivado out-of-context synthesis + implementation of generated RTL tops (what `make vivado` runs), then the reports
# as JSON and one summary line per top.
#
#   scripts/run_vivado.sh GEN_DIR [GEN_DIR...]
#
# Each GEN_DIR is a `venom-fpga rtl` output (rtl/generated/<stem>_l<LANES>/: venom_top.f, venom_top.v, *.mem,
# params.json).
# For each one, `vivado -mode batch -source scripts/vivado_ooc.tcl` runs in build/vivado/<name>/, which then holds
# vivado.log, venom_ooc.xdc, run_info.json, post_{synth,place,route}_{utilization,timing_summary}.rpt,
# post_route_utilization_hier.rpt, post_route_route_status.rpt and post_{synth,route}.dcp. Afterwards
# `python -m venom_fpga.rtl.vivado_report` reads those directories into REPORT (utilization, WNS/TNS/WHS, fmax estimate
# per LANES setting). Expect tens of minutes per top on a laptop.
#
# Environment: REPORT (default build/reports/vivado.json), VIVADO_PART and VIVADO_CLOCK_NS (default: the target of
# python/venom_fpga/target.py, PART and clock_period_ns()), VIVADO_CLK_SRC (a clock-buffer site for HD.CLK_SRC;
# default none: ideal clock), VIVADO_OUT (build/vivado), PYTHON (the venv interpreter).
# Exit status: 2 when vivado is missing, the usage is wrong or a GEN_DIR has no venom_top.f; otherwise that of the
# first Vivado run that fails (the others are not started) or of the report step.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
report=${REPORT:-$repo/build/reports/vivado.json}
clk_src=${VIVADO_CLK_SRC:-}
out_root=${VIVADO_OUT:-$repo/build/vivado}
python=${PYTHON:-$repo/.venv/bin/python}
[[ -x $python ]] || python=python3
export PYTHONPATH="$repo/python${PYTHONPATH:+:$PYTHONPATH}"

if [[ $# -eq 0 ]]; then
    echo "usage: $0 GEN_DIR [GEN_DIR...]   (REPORT=build/reports/vivado.json by default)" >&2
    exit 2
fi
if ! command -v vivado >/dev/null 2>&1; then
    cat >&2 <<'EOF'
run_vivado: vivado is not on PATH, so out-of-context synthesis and implementation cannot run here.
  Install AMD Vivado (licensed for venom_fpga.target.PART), then: source <Xilinx>/Vivado/<version>/settings64.sh
  Without it: make resources estimates LUT/FF/DSP/BRAM per LANES with Yosys (no timing), and make cosim checks the RTL.
EOF
    exit 2
fi

# the target (part, ap_clk period) is defined once, in python/venom_fpga/target.py
if [[ -z ${VIVADO_PART:-} || -z ${VIVADO_CLOCK_NS:-} ]]; then
    target=$("$python" -c 'from venom_fpga.target import PART, clock_period_ns; print(PART, clock_period_ns())') || {
        echo "run_vivado: cannot read the target from venom_fpga.target with $python" >&2
        exit 2
    }
    read -r target_part target_clock_ns <<<"$target"
fi
part=${VIVADO_PART:-$target_part}
clock_ns=${VIVADO_CLOCK_NS:-$target_clock_ns}

gen_dirs=()
for gen in "$@"; do
    if [[ ! -f $gen/venom_top.f ]]; then
        echo "run_vivado: $gen/venom_top.f not found (generate the RTL first: make rtl)" >&2
        exit 2
    fi
    gen_dirs+=("$(cd "$gen" && pwd)")
done

mkdir -p "$out_root"
out_root=$(cd "$out_root" && pwd)
out_dirs=()
for gen in "${gen_dirs[@]}"; do
    out=$out_root/$(basename "$gen")
    mkdir -p "$out"
    echo "run_vivado: $gen -> $out (part $part, ap_clk $clock_ns ns)"
    status=0
    (cd "$out" && vivado -mode batch -notrace -log vivado.log -journal vivado.jou \
        -source "$repo/scripts/vivado_ooc.tcl" \
        -tclargs "$gen" "$out" "$part" "$clock_ns" ${clk_src:+"$clk_src"}) || status=$?
    if [[ $status -ne 0 ]]; then
        echo "run_vivado: vivado failed on $(basename "$gen") (exit $status); see $out/vivado.log" >&2
        exit "$status"
    fi
    out_dirs+=("$out")
done

"$python" -m venom_fpga.rtl.vivado_report "${out_dirs[@]}" --out "$report"
