"""Reconnect timing: capped, jittered exponential backoff as a pure function.

Jitter spreads reconnect attempts so several tags (or several apps) that lost the link at the same moment do
not retry in lock-step. The policy follows the pattern of aioesphomeapi's reconnect logic and
bleak-retry-connector's backoff (shared/research/style.md section 5), in our own code.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before reconnect attempt ``n`` (0-based): ``initial_s * factor**n``, capped at ``max_s``, then
    multiplied by a random factor in ``[1 - jitter, 1 + jitter]`` (and capped again).

    Attributes:
        initial_s: delay before the first retry, seconds.
        factor: growth per failed attempt.
        max_s: the cap, seconds.
        jitter: relative spread, 0..1.
    """

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not (self.initial_s > 0 and self.factor >= 1 and self.max_s >= self.initial_s and 0 <= self.jitter < 1):
            raise ValueError(f"invalid backoff {self}")

    def delay_s(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before attempt ``attempt`` (0 = first retry). ``rng`` is injected for tests."""
        attempt = max(0, min(attempt, 64))  # clamp: 2**64 would overflow a float's useful range anyway
        base = min(self.max_s, self.initial_s * self.factor**attempt)
        spread = 1.0 + rng.uniform(-self.jitter, self.jitter)
        return min(self.max_s, base * spread)
