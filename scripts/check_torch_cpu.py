# SPDX-License-Identifier: BSD-3-Clause
"""Guard: torch must be the CPU build and no CUDA/NVIDIA wheels may be installed (they are several GB)."""

import importlib.metadata as md
import sys

import torch

bad = sorted(
    d.metadata["Name"]
    for d in md.distributions()
    if d.metadata["Name"].lower().startswith(("nvidia-", "cuda-", "triton"))
)
if torch.version.cuda is not None or not torch.__version__.endswith("+cpu") or bad:
    sys.exit(f"setup: torch {torch.__version__} (cuda {torch.version.cuda}) with {bad}: a CUDA build was installed")
print(f"setup: torch {torch.__version__}, CPU-only OK")
