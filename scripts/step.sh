#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# One step of `make demo`: run a command with all of its output (tool logs, build commands, progress bars) in
# LOG_DIR/NAME.log and print one line: the step's name, its time and the command's last line (its summary). On a
# terminal the line shows the elapsed time and the log's latest line while the step runs. When the command fails,
# the tail of the log follows and the step exits with the command's status.
#
#   scripts/step.sh LOG_DIR NAME COMMAND [ARG...]
set -uo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: $0 LOG_DIR NAME COMMAND [ARG...]" >&2
    exit 2
fi
log_dir=$1 name=$2
shift 2
mkdir -p "$log_dir"
log=$log_dir/$name.log

# the log's last non-empty line; progress bars redraw themselves with carriage returns
last_line() { tail -c "$((${1:-1} * 400))" "$log" | tr '\r' '\n' | grep -v '^[[:space:]]*$' | tail -n "${1:-1}"; }

ticker_pid=
if [[ -t 1 ]]; then
    width=$(($(tput cols 2>/dev/null || echo 100) - 20))
    (while sleep 1; do printf '\r\033[K%-9s %4ds  %s' "$name" "$SECONDS" "$(last_line | cut -c "1-$width")"; done) &
    ticker_pid=$!
    trap 'kill "$ticker_pid" 2>/dev/null' EXIT
fi

# unbuffered Python: the log keeps the order in which things happened
PYTHONUNBUFFERED=1 "$@" >"$log" 2>&1
status=$?

if [[ -n $ticker_pid ]]; then
    kill "$ticker_pid" 2>/dev/null
    wait "$ticker_pid" 2>/dev/null
    printf '\r\033[K'
fi
if [[ $status -ne 0 ]]; then
    printf '%-9s FAILED (exit %d) after %ds; the end of %s:\n' "$name" "$status" "$SECONDS" "$log" >&2
    last_line 20 | sed 's/^/    /' >&2
    exit "$status"
fi
printf '%-9s %4ds  %s\n' "$name" "$SECONDS" "$(last_line)"
