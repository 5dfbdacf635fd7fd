#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Vitis HLS flow on an exported project (what `venom-fpga hls` and `make hls` run): vitis_hls -f build_prj.tcl in
# the project, then the synthesis report as JSON and a one-line summary.
#
#   scripts/run_vitis_hls.sh PROJECT_DIR [REPORT_JSON]      (default report: build/reports/hls.json)
#
# Steps are switched by VENOM_HLS_CSIM, VENOM_HLS_CSYNTH, VENOM_HLS_EXPORT (default 1) and VENOM_HLS_COSIM
# (default 0); build_prj.tcl reads them. Exit status: 2 when vitis_hls is missing or the usage is wrong,
# otherwise that of vitis_hls or of the report step.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prj=${1:-}
out=${2:-$repo/build/reports/hls.json}

if [[ -z $prj ]]; then
    echo "usage: $0 PROJECT_DIR [REPORT_JSON]" >&2
    exit 2
fi
if ! command -v vitis_hls >/dev/null 2>&1; then
    cat >&2 <<'EOF'
run_vitis_hls: vitis_hls is not on PATH, so C synthesis and IP export cannot run here.
  Install AMD Vitis HLS (MKIDGen3 uses 2022.1), then: source <Xilinx>/Vitis_HLS/<version>/settings64.sh
  Everything else works without it: bit-exact C simulation via g++ and RTL co-simulation via Verilator (make test).
EOF
    exit 2
fi
if [[ ! -f $prj/build_prj.tcl ]]; then
    echo "run_vitis_hls: $prj/build_prj.tcl not found (export the HLS project first: venom-fpga export)" >&2
    exit 2
fi

(cd "$prj" && vitis_hls -f build_prj.tcl)

csynth=${VENOM_HLS_CSYNTH:-1}
case ${csynth,,} in
    0 | false | no | off)
        echo "run_vitis_hls: csynth was off; no synthesis report written"
        exit 0
        ;;
esac
python=${PYTHON:-$repo/.venv/bin/python}
[[ -x $python ]] || python=python3
PYTHONPATH="$repo/python${PYTHONPATH:+:$PYTHONPATH}" "$python" -m venom_fpga.hls.report "$prj" --out "$out"
