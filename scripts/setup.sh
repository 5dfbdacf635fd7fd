#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Idempotent set-up: system simulators/synthesis (Debian packages) and the pinned Python venv.
# Called by `make setup` (and so by `make test` / `make demo`). Safe to run again at any time.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
# Pinned to the versions verified together (../shared/docs/toolchain.md).
APT_PKGS="verilator=5.006-3 iverilog=11.0-1.1+b1 yosys=0.23-6 g++ make perl tcl"

missing=()
for tool in verilator iverilog yosys g++ tclsh; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $APT_PKGS"
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${missing[*]} from the distribution"
        bash -c "$cmd" >/dev/null
    else
        echo "setup: missing ${missing[*]}. Install them with:" >&2
        echo "    sudo sh -c '$cmd'" >&2
        exit 1
    fi
fi

stamp="$VENV/.setup-stamp"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    echo "setup: installing pinned Python packages into $VENV (torch is the CPU build)"
    # constraints.txt pins everything; +cpu makes pip fail fast rather than fetch CUDA wheels.
    if ! "$VENV/bin/pip" install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'; then
        echo "setup: pip failed. If it could not find torch==2.13.0+cpu, point pip at a CPU wheel" >&2
        echo "       (PIP_FIND_LINKS=<dir with the wheel> or PIP_EXTRA_INDEX_URL=<PyTorch CPU index>)." >&2
        exit 1
    fi
    "$VENV/bin/python" scripts/check_torch_cpu.py
    touch "$stamp"
fi
