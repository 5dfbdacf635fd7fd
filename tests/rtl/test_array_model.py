# SPDX-License-Identifier: BSD-3-Clause
"""The array model (DESIGN.md §3.1 at clock level): the front end's slot allocation and token clocks, the head
queue and the record FIFO, drops per channel and cause, windows in = records out + drops."""

from __future__ import annotations

import numpy as np
import pytest

from venom_fpga.rtl.array_model import ArrayTiming, Window, check_tokens, photon_windows, schedule, simulate

BASE = dict(fold=2, slots=8, period=64, length=5, step_latency=20, head_interval=6, head_latency=9, head_queue=4,
            record_fifo=4)


def timing(**kw) -> ArrayTiming:
    return ArrayTiming(**{**BASE, **kw})


def _conserved(windows, stream, res):
    per_channel = np.bincount([w.channel for w in windows], minlength=stream.n_channels)
    out = np.bincount([r.channel for r in res.records], minlength=stream.n_channels)
    assert (per_channel == out + sum(res.drops.values())).all()
    assert len(windows) == len(res.records) + res.dropped()


def test_two_windows_by_hand():
    tm = timing()
    windows = [Window(channel=3, start=0, data=0), Window(channel=1, start=1, data=1)]
    st = schedule(windows, tm, n_channels=4)
    # period 0: only channel 3 (slot 0); periods 1..4: channel 1 (slot 1) first, then channel 3; period 5: channel 1
    assert st.slot_of.tolist() == [0, 1]
    assert st.clock.tolist() == [0, 64, 66, 128, 130, 192, 194, 256, 258, 320]
    assert st.window.tolist() == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    assert st.t.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    res = simulate(st, tm)
    # window 0: last token at 258 -> head at 278, record at 287; window 1: last token at 320 -> 340, 349
    assert [(r.window, r.ready, r.leave) for r in res.records] == [(0, 287, 287), (1, 349, 349)]
    assert res.dropped() == 0


def test_slot_is_reused_only_after_its_state_is_written():
    tm = timing(slots=1)
    # the second window starts the period after the first one's last sample (clock 4 * 64 = 256, free at 276):
    # period 5 begins at 320 >= 276, so it gets the slot; a window starting in period 4 would not
    windows = [Window(0, 0, 0), Window(1, 4, 0), Window(2, 5, 0)]
    st = schedule(windows, tm, n_channels=3)
    assert st.slot_of.tolist() == [0, -1, 0]
    res = simulate(st, tm)
    assert res.drops["slot"].tolist() == [0, 1, 0]
    _conserved(windows, st, res)


def test_head_queue_and_record_fifo_overflow_are_counted():
    windows = [Window(ch, 0, 0) for ch in range(8)]  # eight windows end in the same period
    tm = timing(head_interval=100, head_queue=2)
    st = schedule(windows, tm, n_channels=8)
    res = simulate(st, tm)
    # requests every 2 clocks; the head starts one per 100 clocks: the first starts at once, two wait, five drop
    assert len(res.records) == 3 and res.drops["head_queue"].sum() == 5
    assert res.drops["head_queue"].tolist() == [0, 0, 0, 1, 1, 1, 1, 1]
    _conserved(windows, st, res)
    slow = simulate(st, timing(head_interval=1, head_queue=8, record_fifo=2), consumer=lambda c: c + 1000)
    assert len(slow.records) == 2 and slow.drops["record_fifo"].sum() == 6
    _conserved(windows, st, slow)


def test_input_rules_are_checked():
    tm = timing()
    st = schedule([Window(0, 0, 0), Window(1, 0, 0)], tm, n_channels=2)
    st.clock[1] = st.clock[0] + 1  # closer than F = 2
    with pytest.raises(ValueError, match="fold factor"):
        check_tokens(st, tm)
    st = schedule([Window(0, 0, 0)], tm, n_channels=1)
    st.clock[1] = st.clock[0] + 10  # the same slot 10 clocks later: D = 20
    with pytest.raises(ValueError, match="step latency"):
        check_tokens(st, tm)
    with pytest.raises(ValueError, match="at most 23 slots"):
        timing(slots=24)  # (64 - 20) // 2 + 1 = 23
    with pytest.raises(ValueError, match="power of two"):
        timing(fold=3)


@pytest.mark.parametrize("rate", [200.0, 3000.0])
def test_poisson_traffic_keeps_the_rules_and_conserves_windows(rate):
    tm = ArrayTiming(fold=1, slots=12, period=256, length=20, step_latency=30, head_interval=8, head_latency=40,
                     head_queue=4, record_fifo=4)
    windows = photon_windows(64, rate, n_periods=4000, period_s=2e-6, length=tm.length, n_data=10, seed=5)
    st = schedule(windows, tm, n_channels=64)
    check_tokens(st, tm)
    assert all(np.bincount(st.window, minlength=len(windows))[st.slot_of >= 0] == tm.length)
    res = simulate(st, tm)
    _conserved(windows, st, res)
    leave = [r.leave for r in res.records]
    assert leave == sorted(leave) and len(set(leave)) == len(leave)  # one record per clock at most
    if rate < 1000:  # mean occupancy 64 * 200 * 40e-6 = 0.5 of 12 slots: no drop
        assert res.dropped() == 0
    else:  # 64 * 3000 * 40e-6 = 7.7 windows in flight on average: some find all 12 slots taken
        assert res.drops["slot"].sum() > 0


def test_records_carry_their_own_windows_values():
    from model_zoo import SMALL, random_tensors

    from venom_fpga.fixed.model import FixedModel
    from venom_fpga.rtl.array_model import record_values, token_inputs

    fm = FixedModel((SMALL, random_tensors(SMALL, 4)))
    tm = timing(length=6, slots=2)
    rng = np.random.default_rng(0)
    pool = fm.quantize_input(rng.standard_normal((5, tm.length, 2)) * 3)
    windows = photon_windows(6, 50000.0, n_periods=80, period_s=2e-6, length=tm.length, n_data=len(pool), seed=2)
    st = schedule(windows, tm, n_channels=6)
    x = token_inputs(st, pool)
    for k in range(len(st.clock)):  # every token carries sample t of its window's data
        assert (x[k] == pool[windows[st.window[k]].data, st.t[k]]).all()
    res = simulate(st, tm)
    assert len(res.records) > 0 and res.drops["slot"].sum() > 0
    values = record_values(fm, pool, st, res)
    alone, _ = fm.run_codes(pool)
    for r, v in zip(res.records, values):
        assert (v == alone[windows[r.window].data]).all()
