# SPDX-License-Identifier: BSD-3-Clause
"""venom-fpga precision-search: narrower formats that keep the energy error within the budget, priced by the array
generator; nothing beyond the budget is written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from model_zoo import SMALL

from venom_fpga.cli import main
from venom_fpga.fixed import precision_search as ps
from venom_fpga.fixed.model import FixedModel
from venom_fpga.fixed.precision import default_precision, load_precision, probe_windows
from venom_fpga.model.checkpoint import load_checkpoint
from venom_fpga.model.meta import Metadata

LENGTH = 24


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from venom_fpga.model.checkpoint import save_checkpoint
    from model_zoo import random_tensors

    path = tmp_path_factory.mktemp("search") / "small.safetensors"
    save_checkpoint(path, random_tensors(SMALL, 3), Metadata(window_length=LENGTH, energy_scale=0.5))
    return load_checkpoint(path)


def test_search_narrows_within_the_budget(small):
    iq = probe_windows(LENGTH, 60, seed=2)
    cfg = default_precision(small)
    r = ps.search(small, cfg, iq, budget_mev=2.0, headroom=0.5)
    assert r.error_mev <= 2.0 and r.path  # something was narrowed, and the whole config is within the budget
    assert r.error_mev == pytest.approx(ps.max_error_mev(small, r.config, iq))  # measured again, independently
    for kind in ("signals", "weights"):
        for name, fmt in getattr(r.config, kind).items():
            start = getattr(cfg, kind)[name]
            assert fmt.int_bits == start.int_bits and fmt.width <= start.width, name  # ranges kept
    for name in ps.FIXED_SIGNALS:
        assert r.config.signals[name] == cfg.signals[name]
    assert r.cost.dsp48e2 <= r.start_cost.dsp48e2 and r.cost.state_bits < r.start_cost.state_bits
    assert r.cost == ps.array_cost(FixedModel(small, r.config), LENGTH)
    # a budget the start already breaks is refused
    with pytest.raises(ps.SearchError, match="already beyond"):
        ps.search(small, cfg, iq, budget_mev=1e-9)


def test_cli_writes_config_report_plot_and_refuses_a_held_out_miss(small, tmp_path, capsys):
    iq, held = tmp_path / "iq.npy", tmp_path / "held.npy"
    np.save(iq, probe_windows(LENGTH, 40, seed=4))
    np.save(held, probe_windows(LENGTH, 40, seed=5))
    out, rep, png = tmp_path / "p.json", tmp_path / "r.json", tmp_path / "r.png"
    argv = ["precision-search", "--weights", str(small.path), "--iq", str(iq), "--holdout", str(held), "--budget", "2",
            "--out", str(out), "--report", str(rep), "--plot", str(png), "--quiet"]
    assert main(argv) == 0
    line = capsys.readouterr().out
    assert line.startswith("precision search on 40 windows: max |dE| ") and line.count("\n") == 1
    data = json.loads(rep.read_text())
    assert data["holdout"]["max_abs_dE_meV"] <= 2.0 and data["result"]["max_abs_dE_meV"] <= 2.0
    written = load_precision(out)
    assert {**{n: f.ctype() for n, f in written.signals.items()},
            **{n: f.ctype() for n, f in written.weights.items()}} == data["formats"]
    assert png.read_bytes()[:4] == b"\x89PNG"
    # searched on three quiet windows, checked on the pulses: the budget is missed there, and no config is written
    np.save(iq, probe_windows(LENGTH, 3, amplitude=0.1, seed=4))
    out.unlink()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "beyond the 2 meV budget on the held-out windows" in err and err.count("\n") == 1
    assert not out.exists() and json.loads(rep.read_text())["holdout"]["max_abs_dE_meV"] > 2.0
