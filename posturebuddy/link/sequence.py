"""Sequence-number gaps and device-clock wrap, as small pure state machines.

Tags number their packets with a counter that wraps (the PostureBuddy profile uses 16 bits) and stamp them
with a device clock that wraps too. These classes turn the wrapped values into "how many packets were lost"
and a monotonic device time, without any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


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
