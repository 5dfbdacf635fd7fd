#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Reproduce a shipped model: training data, training, and the held-out evaluation on a fresh data set
# generated with another seed. Usage: scripts/train_shipped.sh ptsi|inhf   (run from the repo root)
set -euo pipefail
preset=${1:?usage: scripts/train_shipped.sh ptsi|inhf}
CLI=${CLI:-.venv/bin/venom-fpga}
case "$preset" in
    ptsi) n_train=375; n_fresh=1500; seed=100; epochs=20 ;;
    inhf) n_train=375; n_fresh=1500; seed=200; epochs=12 ;;
    *) echo "unknown preset $preset" >&2; exit 2 ;;
esac
data=build/data
# Training pulses cover a continuum of energies (40 lines), so the model cannot snap onto known lines.
$CLI synth --preset "$preset" --continuum 40 --n-per-line $n_train --seed $seed --out $data/${preset}_train --force --quiet
$CLI train --data $data/${preset}_train --out weights/venom_synth_${preset}.safetensors --epochs $epochs --seed 0
$CLI synth --preset "$preset" --n-per-line $n_fresh --seed $((seed + 1)) --out $data/${preset}_fresh --force --quiet
$CLI evaluate --weights weights/venom_synth_${preset}.safetensors --data $data/${preset}_fresh \
    --json weights/venom_synth_${preset}.evaluate.json --plots weights/plots_${preset}
