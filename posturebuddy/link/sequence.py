"""Sequence-number gaps and device-clock wrap, as small pure state machines.

Tags number their packets with a counter that wraps (the PostureBuddy profile uses 16 bits) and stamp them
with a device clock that wraps too. These classes turn the wrapped values into "how many packets were lost"
and a monotonic device time, without any I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(slots=True)
class SequenceTracker:
    """Counts packets lost between consecutive sequence numbers of a wrapping counter.

    A jump forward of ``d`` (modulo ``modulus``) means ``d - 1`` packets were lost. A jump "backwards" by less
    than ``reorder_window`` is a duplicate or reordered packet (not a loss). Anything else (a jump of more than
    half the counter range) is treated as a restart of the tag's counter: no loss is counted.

    Attributes:
        modulus: the counter's range, e.g. 65536 for a uint16 counter.
        reorder_window: how far back a sequence number may be and still count as a duplicate/reorder.
    """

    modulus: int = 65536
    reorder_window: int = 64
    last: int | None = None
    lost_total: int = 0
    duplicates: int = 0
    restarts: int = 0

    def update(self, seq: int) -> int:
        """Feed the next sequence number; returns how many packets were lost just before it (>= 0)."""
        seq %= self.modulus
        if self.last is None:
            self.last = seq
            return 0
        step = (seq - self.last) % self.modulus
        if step == 0 or step > self.modulus - self.reorder_window:
            self.duplicates += 1
            return 0
        if step > self.modulus // 2:
            self.restarts += 1
            self.last = seq
            return 0
        self.last = seq
        lost = step - 1
        self.lost_total += lost
        return lost

    def reset(self) -> None:
        """Forget the last number (after a reconnect the tag may restart its counter)."""
        self.last = None


@dataclass(slots=True)
class ClockUnwrapper:
    """Turns a wrapping device clock (seconds modulo ``period_s``) into a monotonic one.

    Assumes consecutive readings are less than half a period apart; a larger forward jump cannot be told from
    a wrap and is taken as the smaller interpretation.

    Attributes:
        period_s: the clock's wrap period in seconds (e.g. 65.536 for a uint16 millisecond counter).
    """

    period_s: float
    last_raw: float | None = None
    offset_s: float = 0.0

    def unwrap(self, raw_s: float) -> float:
        """Monotonic device time in seconds for a raw (wrapped) reading."""
        if self.last_raw is not None and raw_s < self.last_raw - self.period_s / 2:
            self.offset_s += self.period_s
        self.last_raw = raw_s
        return raw_s + self.offset_s

    def reset(self) -> None:
        """Forget the history (after a reconnect the tag's clock may have restarted)."""
        self.last_raw = None
        self.offset_s = 0.0


@dataclass(slots=True)
class DeviceTimeAligner:
    """Sample times from the tag's own (unwrapped) clock, placed on the host's timeline.

    Notifications reach the host in bunches (several per connection event, more when the host is busy), so
    arrival times jitter by tens of milliseconds, and a host that stalls (a busy laptop, a slow redraw) receives
    seconds of packets at once, while the tag's clock ticks evenly. The sample time is ``device_s + offset``;
    ``offset`` is the smallest ``host - device`` seen so far (the least-delayed packet). Packets that arrive more
    than ``max_error_s`` later than that predicts keep the old offset while the lateness is a passing stall;
    only when every packet for ``confirm_s`` of device time has been late (the tag's clock runs slow, or it
    jumped) is the offset re-anchored, to the least delay of that late run. Sample times therefore keep the tag's
    even spacing through host stalls and follow the host clock within about ``max_error_s``. They never go
    backwards (a lower offset found later is applied from the point where it no longer reorders samples).
    """

    max_error_s: float = 0.5
    confirm_s: float = 5.0
    offset_s: float | None = None
    last_t_s: float = -math.inf
    late_since_s: float | None = None
    """Device time at which the current run of late packets began (``None``: the last packet was on time)."""
    late_min_s: float = math.inf
    """The least delay within the current run of late packets."""

    def align(self, host_s: float, device_s: float) -> float:
        """Sample time for a packet that arrived at ``host_s`` stamped ``device_s`` (both seconds)."""
        delay = host_s - device_s
        offset = self.offset_s
        if offset is None or delay < offset:
            offset = self.offset_s = delay
            self.late_since_s = None
        elif delay - offset <= self.max_error_s:
            self.late_since_s = None
        else:
            if self.late_since_s is None:
                self.late_since_s = device_s
                self.late_min_s = delay
            else:
                self.late_min_s = min(self.late_min_s, delay)
            if device_s - self.late_since_s >= self.confirm_s:
                offset = self.offset_s = self.late_min_s
                self.late_since_s = None
        t = max(device_s + offset, self.last_t_s)
        self.last_t_s = t
        return t

    def align_batch(
        self, host_s: npt.NDArray[np.float64], device_s: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """:meth:`align` over arrays (shape (N,)), with exactly the same result, vectorised.

        Between re-anchorings the offset is a running minimum and a late run is a stretch of consecutive late
        packets, both array operations; the Python loop turns once per re-anchoring.
        """
        n = host_s.shape[0]
        out = np.empty(n, dtype=np.float64)
        delay = host_s - device_s
        i = 0
        while i < n:
            if self.offset_s is None:
                self.offset_s = float(delay[i])
            seg_delay = delay[i:]
            seg_device = device_s[i:]
            running = np.minimum.accumulate(np.concatenate(([self.offset_s], seg_delay)))[1:]
            late = seg_delay - running > self.max_error_s
            m = seg_delay.shape[0]
            # index (within the segment) where each packet's late run began; runs carried in start at 0
            idx = np.arange(m)
            run_start = np.maximum.accumulate(np.where(late, 0, idx + 1))
            run_start = np.minimum(run_start, idx)
            start_dev = seg_device[run_start]
            carried = run_start == 0
            if self.late_since_s is not None and m and late[0]:
                start_dev = np.where(carried, self.late_since_s, start_dev)
            confirmed = np.flatnonzero(late & (seg_device - start_dev >= self.confirm_s))
            j = m if confirmed.size == 0 else int(confirmed[0])
            out[i : i + j] = seg_device[:j] + running[:j]
            if j > 0:
                self.offset_s = float(running[j - 1])
            end = j if j < m else m - 1  # the packet whose run state to carry on (or the one re-anchoring)
            if m and late[end]:
                r = int(run_start[end])
                run_min = float(seg_delay[r : end + 1].min())
                if r == 0 and self.late_since_s is not None and late[0]:
                    run_min = min(run_min, self.late_min_s)
                    since = self.late_since_s
                else:
                    since = float(seg_device[r])
                self.late_since_s, self.late_min_s = since, run_min
            else:
                self.late_since_s = None
            if j < m:
                self.offset_s = self.late_min_s
                self.late_since_s = None
                out[i + j] = seg_device[j] + self.offset_s
                i += j + 1
            else:
                i = n
        out = np.maximum.accumulate(np.concatenate(([self.last_t_s], out)))[1:]
        if n:
            self.last_t_s = float(out[-1])
        return out


@dataclass(slots=True)
class ArrivalSmoother:
    """Evenly spaced sample times from bunched arrival times, for tags that send no clock of their own.

    The sample period is given (``period_s``: the rate asked of the tag) or learnt from the first arrivals (at
    least ``warmup`` of them, over at least ``warmup_s``, so that one bunch cannot pass for the rate). Each
    sample is predicted one period after the last and the prediction corrected by ``gain`` of the arrival error
    (the period by ``period_gain``), like a phase-locked loop. An arrival earlier than predicted by more than
    ``max_error_s`` snaps to the arrival time (the anchor was a late packet); two such within
    ``relearn_within_s``, or a given period corrected by more than -20 %/+25 %, mean the rate is not what was
    thought, and it is learnt again. A late arrival is ambiguous: the host may have
    stalled (the backlog then arrives as a burst, faster than the sample rate, and the prediction carries on
    through it) or the tag fell silent or lost packets (arrivals then resume at the sample rate, still late).
    So a late arrival keeps the prediction until the next one shows which: a burst keeps it; an arrival at the
    normal pace, a lateness beyond ``max_stall_s`` or a late run longer than ``max_stall_s`` snaps to the
    arrival time (keeping the period). Times never go backwards.
    """

    max_error_s: float = 0.5
    max_stall_s: float = 3.0
    gain: float = 0.05
    period_gain: float = 0.002
    warmup: int = 8
    warmup_s: float = 2.0
    relearn_within_s: float = 10.0
    t_s: float | None = None
    period_s: float | None = None
    _first_host_s: float = 0.0
    _seen: int = 0
    _last_host_s: float = -math.inf
    _late_since_s: float | None = None
    _last_early_s: float = -math.inf
    _nominal_s: float | None = None

    def __post_init__(self) -> None:
        self._nominal_s = self.period_s

    def time(self, host_s: float) -> float:
        """Sample time for a sample that arrived at ``host_s``."""
        previous = self.t_s
        last_host, self._last_host_s = self._last_host_s, host_s
        if previous is None:
            if self.period_s is None:
                self._learn(host_s)
            t = host_s
        elif self.period_s is None:
            self._learn(host_s)
            t = max(host_s, previous + 1e-6)
        else:
            predicted = previous + self.period_s
            error = host_s - predicted
            in_burst = host_s - last_host < 0.5 * self.period_s
            if self._late_since_s is not None and in_burst and 0.0 < error <= self.max_error_s:
                t = predicted  # the rest of a stall's backlog: arrival times say nothing about sample times
            elif error > self.max_error_s and self._absorbs_stall(host_s, host_s - last_host, error):
                t = predicted
            elif error > self.max_error_s:  # the tag fell silent or lost packets: resume at the arrival time
                self._late_since_s = None
                t = max(host_s, previous + 1e-6)
            elif error < -self.max_error_s:  # ahead of the arrivals: a late anchor, or a faster rate
                self._late_since_s = None
                if host_s - self._last_early_s < self.relearn_within_s:  # twice in a row: the rate is off
                    self._relearn(host_s)
                self._last_early_s = host_s
                t = max(host_s, previous + 1e-6)
            else:
                self._late_since_s = None
                t = max(predicted + self.gain * error, previous + 1e-6)
                period = max(1e-4, self.period_s + self.period_gain * error)
                nominal = self._nominal_s
                if nominal is not None and not 0.8 * nominal < period < 1.25 * nominal:
                    self._relearn(host_s)  # the tag does not stream at the rate asked for
                else:
                    self.period_s = period
        self.t_s = t
        return t

    def _relearn(self, host_s: float) -> None:
        self.period_s = self._nominal_s = None
        self._seen = 0
        self._learn(host_s)

    def _absorbs_stall(self, host_s: float, spacing_s: float, error: float) -> bool:
        """Whether a late arrival looks like part of a host stall's backlog (keep predicting).

        ``spacing_s`` is the time since the previous arrival: much shorter than a period is a backlog, much
        longer is another stall; about one period means the tag is streaming normally, just later than predicted.
        """
        assert self.period_s is not None
        if error > self.max_stall_s:
            return False
        if self._late_since_s is None:
            self._late_since_s = host_s
            return True
        at_pace = 0.5 * self.period_s <= spacing_s <= 2.0 * self.period_s
        return (
            not at_pace
            and host_s - self._late_since_s <= self.max_stall_s
            and host_s - self._late_since_s <= self.max_stall_s
        )

    def _learn(self, host_s: float) -> None:
        """Count arrivals until ``warmup`` of them span ``warmup_s``; the mean spacing is then the period."""
        if self._seen == 0:
            self._first_host_s = host_s
        self._seen += 1
        span = host_s - self._first_host_s
        if self._seen >= self.warmup and span >= self.warmup_s:
            self.period_s = span / (self._seen - 1)
