"""Backoff, sequence gaps, clock wrap and the drop-oldest queue, without a radio."""

from __future__ import annotations

import asyncio
import itertools
import random

import pytest

from posturebuddy.link.backoff import Backoff
from posturebuddy.link.queue import DropOldestQueue
from posturebuddy.link.sequence import ClockUnwrapper, SequenceTracker


def test_backoff_grows_is_capped_and_jittered() -> None:
    policy = Backoff(initial_s=0.5, factor=2.0, max_s=8.0, jitter=0.2)
    rng = random.Random(1)
    delays = [policy.delay_s(n, rng) for n in range(12)]
    assert 0.4 <= delays[0] <= 0.6
    assert 0.8 <= delays[1] <= 1.2
    assert all(d <= 8.0 for d in delays)
    assert delays[-1] >= 8.0 * 0.8
    # jitter really varies between draws
    assert len({round(policy.delay_s(5, rng), 6) for _ in range(20)}) > 10
    assert policy.delay_s(10_000, rng) <= 8.0


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="invalid backoff"):
        Backoff(initial_s=0)
    with pytest.raises(ValueError, match="invalid backoff"):
        Backoff(initial_s=5, max_s=1)


def test_sequence_counts_losses_across_wrap() -> None:
    tracker = SequenceTracker(modulus=65536)
    assert tracker.update(65533) == 0
    assert tracker.update(65534) == 0
    assert tracker.update(1) == 2  # 65535 and 0 lost
    assert tracker.update(2) == 0
    assert tracker.lost_total == 2


def test_sequence_duplicates_and_restarts_are_not_losses() -> None:
    tracker = SequenceTracker(modulus=65536)
    tracker.update(100)
    assert tracker.update(100) == 0
    assert tracker.update(98) == 0
    assert tracker.duplicates == 2
    assert tracker.update(40_000) == 0  # counter restarted (tag rebooted)
    assert tracker.restarts == 1
    assert tracker.update(40_005) == 4
    tracker.reset()
    assert tracker.update(7) == 0


def test_clock_unwrap_is_monotonic_over_several_wraps() -> None:
    clock = ClockUnwrapper(period_s=65.536)
    raw = [(i * 0.5) % 65.536 for i in range(600)]  # 300 s of 2 Hz stamps: four wraps
    unwrapped = [clock.unwrap(r) for r in raw]
    assert all(b > a for a, b in itertools.pairwise(unwrapped))
    assert unwrapped[-1] == pytest.approx(599 * 0.5)


def test_queue_drops_oldest_and_counts() -> None:
    queue: DropOldestQueue[int] = DropOldestQueue(3)
    for i in range(5):
        queue.put_nowait(i)
    assert queue.dropped == 2
    assert queue.drain() == [2, 3, 4]
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()


@pytest.mark.asyncio
async def test_queue_get_waits_for_an_item() -> None:
    queue: DropOldestQueue[str] = DropOldestQueue(10)
    loop = asyncio.get_running_loop()
    loop.call_soon(queue.put_nowait, "a")
    assert await asyncio.wait_for(queue.get(), 1.0) == "a"
    assert len(queue) == 0
