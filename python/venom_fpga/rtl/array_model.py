# SPDX-License-Identifier: BSD-3-Clause
"""The array contract of DESIGN.md §3.1 at clock level: the reference the array RTL's cycle behaviour is compared
with, exactly, and what the capacity planner computes with.

One time-multiplexed datapath serves every channel. A photon window owns a *slot* (its recurrent state) from its
first to its last sample; the datapath consumes *step tokens* ``(slot, t, x, tag)``, at most one every ``fold`` (F)
clocks. After a window's last token the pooling state moves to the head queue, and the slot is free again; the
head (its own folded unit) turns one queued window into a *record* every ``head_interval`` clocks; records wait in
the record FIFO for the consumer. Nothing ever stalls the input: a window that finds no free slot, a full head queue
or a full record FIFO is dropped and counted, per channel and cause. Windows in = records out + drops, always.

Timing (every clock is an integer, clock 0 = the start of model-rate sample period 0):

- tokens of period k: the windows holding a slot, in channel (stream) order, the j-th at ``k * period + j * fold``;
  so two tokens of one slot are at least ``period - (slots - 1) * fold`` clocks apart, which must be >= the
  datapath's read-to-write distance ``step_latency`` (D);
- a window whose last token enters at clock c frees its slot at ``c + step_latency`` (its state has been written)
  and asks for the head at that clock; a slot freed at clock r serves windows that start in a period beginning at
  or after r (the lowest free slot first; a window that finds none is dropped);
- the head starts a queued window at ``max(request, previous start + head_interval)`` (queue order = request
  order); a request that finds ``head_queue`` windows waiting is dropped (as by a FIFO's full flag: a window the
  head starts in the request's clock still counts as waiting);
- its record is ready at ``start + head_latency`` and enters the record FIFO, dropped when ``record_fifo`` records
  are still there in that clock (a record leaving in clock ``ready`` counts: it leaves as the new one would enter);
  the consumer takes at most one record per clock, when ready (``consumer`` gives its ready clocks).

:func:`photon_windows` (Poisson arrivals per channel) and :func:`schedule` (slot allocation and token clocks) model
the front end; :func:`simulate` the datapath, head and FIFO.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

DROP_CAUSES = ("slot", "head_queue", "record_fifo")


@dataclass(frozen=True)
class ArrayTiming:
    """The clock parameters of one array configuration (the RTL generator's; the planner's estimates)."""

    fold: int  # F: at most one token every F clocks (a power of two)
    slots: int  # S: windows in flight
    period: int  # clocks per model-rate sample period (clock / model sample rate)
    length: int  # L: samples per window
    step_latency: int  # D: token in -> its slot state written (= the least same-slot token spacing)
    head_interval: int  # clocks between two head starts
    head_latency: int  # head start -> record ready
    head_queue: int  # windows waiting for the head
    record_fifo: int  # records waiting for the consumer

    def __post_init__(self) -> None:
        for name in ("fold", "slots", "period", "length", "step_latency", "head_interval", "head_latency",
                     "head_queue", "record_fifo"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"array timing: {name} must be a positive integer, got {v!r}")
        if self.fold & (self.fold - 1):
            raise ValueError(f"array timing: fold must be a power of two, got {self.fold}")
        if self.min_spacing < self.step_latency:
            raise ValueError(f"array timing: {self.slots} slots at fold {self.fold} put two tokens of one slot "
                             f"{self.min_spacing} clocks apart, less than the step latency {self.step_latency}; "
                             f"at most {self.max_slots} slots")

    @property
    def min_spacing(self) -> int:
        """The least distance between two tokens of one slot."""
        return self.period - (self.slots - 1) * self.fold

    @property
    def max_slots(self) -> int:
        """The most slots this fold and step latency allow in one period."""
        return (self.period - self.step_latency) // self.fold + 1


@dataclass(frozen=True)
class Window:
    """One triggered photon window: its channel, the period of its first sample and its data (an index)."""

    channel: int
    start: int  # model-rate period of sample 0
    data: int  # index into the window data (e.g. the codes array of real synthetic pulses)


@dataclass
class TokenStream:
    """What the front end hands the datapath: tokens (arrays, in clock order) and the windows they belong to."""

    windows: list[Window]
    slot_of: np.ndarray  # per window: its slot, or -1 when dropped for want of one
    clock: np.ndarray  # per token: the clock it enters
    slot: np.ndarray
    t: np.ndarray  # sample index in its window
    window: np.ndarray  # index into windows
    n_channels: int

    @property
    def channel(self) -> np.ndarray:
        return np.array([self.windows[w].channel for w in self.window], dtype=np.int64)


@dataclass
class Record:
    window: int  # index into the stream's windows
    channel: int
    ready: int  # clock the head produced it
    leave: int  # clock it left the record FIFO


@dataclass
class ArrayResult:
    records: list[Record]  # in the order they leave
    drops: dict[str, np.ndarray] = field(default_factory=dict)  # cause -> per-channel counts
    # every drop as (clock, channel, cause): the window's first period (slot), the head request (head_queue), the
    # clock the record would have entered the FIFO (record_fifo)
    events: list[tuple[int, int, str]] = field(default_factory=list)

    def dropped(self) -> int:
        return int(sum(int(v.sum()) for v in self.drops.values()))


# ------------------------------------------------------------------------------------------------ front end
def photon_windows(n_channels: int, rate_cps: float, n_periods: int, period_s: float, length: int, n_data: int,
                   seed: int = 0) -> list[Window]:
    """Poisson photon arrivals at ``rate_cps`` counts/s on each channel over ``n_periods`` model-rate periods; a
    photon starts a window at the next period unless its channel's previous window is still running (pile-up
    onto a running window is part of that window's data). Window data drawn uniformly from ``n_data``."""
    if n_channels < 1 or n_periods < 1 or length < 1 or n_data < 1 or not rate_cps >= 0 or not period_s > 0:
        raise ValueError("photon_windows: channels, periods, length and data must be positive, the rate >= 0")
    rng = np.random.default_rng(seed)
    horizon = n_periods * period_s
    out: list[Window] = []
    for ch in range(n_channels):
        n = rng.poisson(rate_cps * horizon)
        arrivals = np.sort(rng.uniform(0.0, horizon, n))
        free_from = 0
        for a in arrivals:
            k = int(np.ceil(a / period_s))
            if k >= free_from and k < n_periods:
                out.append(Window(ch, k, int(rng.integers(n_data))))
                free_from = k + length
    out.sort(key=lambda w: (w.start, w.channel))
    return out


def schedule(windows: list[Window], timing: ArrayTiming, n_channels: int) -> TokenStream:
    """Slot allocation and token clocks (the module docstring's rules); windows sorted by (start, channel)."""
    T, F, L, D = timing.period, timing.fold, timing.length, timing.step_latency
    free_at = [0] * timing.slots  # clock from which each slot is free
    slot_of = np.full(len(windows), -1, dtype=np.int64)
    active: dict[int, int] = {}  # window -> slot
    starts: dict[int, list[int]] = {}
    for w, win in enumerate(windows):
        starts.setdefault(win.start, []).append(w)
    clocks, slots, ts, wins = [], [], [], []
    k = min(starts, default=0)
    last = max((win.start + L - 1 for win in windows), default=-1)
    while k <= last:
        for w in starts.get(k, []):  # admissions, in channel order: the lowest slot that is free by now
            s = next((s for s in range(timing.slots) if free_at[s] <= k * T), -1)
            slot_of[w] = s
            if s >= 0:
                free_at[s] = 1 << 62  # taken
                active[w] = s
        order = sorted(active, key=lambda w: windows[w].channel)
        for j, w in enumerate(order):
            c = k * T + j * F
            t = k - windows[w].start
            clocks.append(c)
            slots.append(active[w])
            ts.append(t)
            wins.append(w)
            if t == L - 1:
                free_at[active[w]] = c + D
        for w in [w for w in order if k - windows[w].start == L - 1]:
            del active[w]
        k += 1
        if not active:  # jump over idle periods
            nxt = [p for p in starts if p >= k]
            k = min(nxt) if nxt else last + 1
    a = lambda v: np.asarray(v, dtype=np.int64)  # noqa: E731
    return TokenStream(windows, slot_of, a(clocks), a(slots), a(ts), a(wins), n_channels)


# ------------------------------------------------------------------------------------------------ datapath
def check_tokens(stream: TokenStream, timing: ArrayTiming) -> None:
    """The input rules: at most one token every F clocks; two tokens of one slot at least D clocks apart."""
    c = stream.clock
    if len(c) > 1 and int(np.diff(c).min()) < timing.fold:
        i = int(np.argmin(np.diff(c)))
        raise ValueError(f"tokens at clocks {c[i]} and {c[i + 1]}: closer than the fold factor {timing.fold}")
    last: dict[int, int] = {}
    for clock, s in zip(c.tolist(), stream.slot.tolist()):
        if s in last and clock - last[s] < timing.step_latency:
            raise ValueError(f"slot {s}: tokens at clocks {last[s]} and {clock}, closer than the step latency "
                             f"{timing.step_latency}")
        last[s] = clock


def simulate(stream: TokenStream, timing: ArrayTiming,
             consumer: Callable[[int], int] | None = None) -> ArrayResult:
    """Records and drops of a token stream. ``consumer(clock)`` -> the first clock >= ``clock`` at which the consumer
    takes a record (default: always ready)."""
    check_tokens(stream, timing)
    n_ch = stream.n_channels
    drops = {cause: np.zeros(n_ch, dtype=np.int64) for cause in DROP_CAUSES}
    events: list[tuple[int, int, str]] = []
    for w in np.flatnonzero(stream.slot_of < 0):
        drops["slot"][stream.windows[w].channel] += 1
        events.append((stream.windows[w].start * timing.period, stream.windows[w].channel, "slot"))
    last_token = stream.t == timing.length - 1
    requests = sorted(zip((stream.clock[last_token] + timing.step_latency).tolist(),
                          stream.window[last_token].tolist()))
    records: list[Record] = []
    waiting: deque[int] = deque()  # head start clocks of queued windows not yet started
    fifo: deque[int] = deque()  # leave clocks of records in the FIFO
    prev_start = -(1 << 62)
    prev_leave = -1
    ready_at = consumer or (lambda clock: clock)
    for req, w in requests:
        ch = stream.windows[w].channel
        while waiting and waiting[0] < req:  # started before this clock: out of the queue
            waiting.popleft()
        if len(waiting) >= timing.head_queue:
            drops["head_queue"][ch] += 1
            events.append((req, ch, "head_queue"))
            continue
        start = max(req, prev_start + timing.head_interval)
        prev_start = start
        waiting.append(start)
        ready = start + timing.head_latency
        while fifo and fifo[0] < ready:  # left before this record enters
            fifo.popleft()
        if len(fifo) >= timing.record_fifo:
            drops["record_fifo"][ch] += 1
            events.append((ready, ch, "record_fifo"))
            continue
        leave = ready_at(max(ready, prev_leave + 1))
        prev_leave = leave
        fifo.append(leave)
        records.append(Record(w, ch, ready, leave))
    return ArrayResult(records, drops, sorted(events))


# ------------------------------------------------------------------------------------------------ values
def token_inputs(stream: TokenStream, pool: np.ndarray) -> np.ndarray:
    """The input codes x of every token (tokens, 2), from ``pool`` (the windows' data: (N, L, 2) input codes)."""
    data = np.array([w.data for w in stream.windows], dtype=np.int64)
    return np.asarray(pool)[data[stream.window], stream.t]


def record_values(model, pool: np.ndarray, stream: TokenStream, result: ArrayResult) -> np.ndarray:
    """(records, 2) output codes (mu, log_var): each record is the fixed-point model (``model``: a FixedModel) on
    its own window, whatever else was in flight."""
    data = [stream.windows[r.window].data for r in result.records]
    if not data:
        return np.zeros((0, 2), dtype=np.int64)
    out, _ = model.run_codes(np.asarray(pool)[data])
    return out
