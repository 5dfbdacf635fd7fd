# SPDX-License-Identifier: BSD-3-Clause
"""Throughput of the golden models: windows/s of the fixed-point model and of the float model (parallel and
recurrent), same batch, same machine, one run, at L=126 and L=426, on one core.

    .venv/bin/python scripts/bench_golden.py [--weights W] [--windows N]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from venom_fpga.model.checkpoint import load_checkpoint
from venom_fpga.fixed.model import FixedModel
from venom_fpga.model.float_model import VenomModel
from venom_fpga.fixed.precision import precision_for


def rate(fn, n: int) -> float:
    fn()  # warm-up (LUT construction, allocator)
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="weights/venom_synth_ptsi.safetensors")
    ap.add_argument("--windows", type=int, default=2048)
    args = ap.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    torch.set_num_threads(1)
    ckpt = load_checkpoint(args.weights)
    fixed = FixedModel(ckpt, precision_for(ckpt))
    float_model = VenomModel.from_tensors(ckpt.dims, ckpt.tensors)
    rng = np.random.default_rng(0)
    print(f"{ckpt.path.name}, {args.windows} windows per measurement, one core")
    print(f"{'L':>5} {'fixed (win/s)':>14} {'float parallel':>15} {'float recurrent':>16}")
    for length in (126, 426):
        iq = rng.standard_normal((args.windows, length, 2)) * 2.0
        x = torch.as_tensor(iq)

        def run_float(x: torch.Tensor, recurrent: bool) -> None:
            with torch.no_grad():
                for s in range(0, len(x), 256):
                    (float_model.forward_recurrent if recurrent else float_model)(x[s : s + 256])

        n_rec = max(args.windows // 8, 64)  # the recurrent float model is slow: time fewer windows
        r_fixed = rate(lambda: fixed.run(iq), args.windows)
        r_par = rate(lambda: run_float(x, False), args.windows)
        r_rec = rate(lambda: run_float(x[:n_rec], True), n_rec)
        print(f"{length:>5} {r_fixed:>14.0f} {r_par:>15.0f} {r_rec:>16.0f}")


if __name__ == "__main__":
    main()
