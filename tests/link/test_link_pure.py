"""Backoff, sequence gaps, clock wrap and the drop-oldest queue, without a radio."""

from __future__ import annotations

import asyncio
import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posturebuddy.link.backoff import Backoff
from posturebuddy.link.queue import DropOldestQueue
from posturebuddy.link.sequence import ArrivalSmoother, ClockUnwrapper, DeviceTimeAligner, SequenceTracker


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


def test_device_clock_alignment_keeps_the_tags_even_spacing_despite_bunched_arrivals() -> None:
    aligner = DeviceTimeAligner()
    device = [i * 0.02 for i in range(200)]
    # arrivals in bunches of 4 every 80 ms, 30-60 ms late
    host = [1000.0 + (i // 4) * 0.08 + 0.03 + 0.03 * ((i * 7) % 5) / 4 for i in range(200)]
    times = [aligner.align(h, d) for h, d in zip(host, device, strict=True)]
    steps = {round(b - a, 9) for a, b in itertools.pairwise(times[20:])}
    assert steps <= {0.02}  # once the least-delayed packet set the offset, spacing is the tag's own
    assert all(abs(h - t) < 0.1 for h, t in zip(host, times, strict=True))


def test_device_clock_alignment_re_anchors_when_the_tag_clock_runs_slow_and_batch_agrees() -> None:
    rng = random.Random(3)
    device = [i * 0.02 for i in range(3000)]
    host = [500.0 + d * 1.001 + rng.uniform(0.0, 0.05) for d in device]  # tag clock 0.1 % slow: 60 ms/min
    stream = DeviceTimeAligner(max_error_s=0.05)
    times = [stream.align(h, d) for h, d in zip(host, device, strict=True)]
    assert all(-0.06 < h - t < 0.11 for h, t in zip(host, times, strict=True))
    batch = DeviceTimeAligner(max_error_s=0.05).align_batch(np.array(host), np.array(device))
    assert np.array_equal(batch, np.array(times))
    assert all(b >= a for a, b in itertools.pairwise(times))


def test_device_clock_alignment_rides_out_a_host_stall_without_a_gap() -> None:
    """The host stops reading for 2 s, then receives the backlog at once: the tag's spacing survives."""
    aligner = DeviceTimeAligner()
    device = [i * 0.02 for i in range(600)]
    host = [100.0 + d + 0.01 for d in device]
    for i in range(200, 300):  # packets due between 4 s and 6 s all arrive at 6.05 s, 20 us apart
        host[i] = 106.05 + (i - 200) * 2e-5
    times = [aligner.align(h, d) for h, d in zip(host, device, strict=True)]
    steps = {round(b - a, 9) for a, b in itertools.pairwise(times)}
    assert steps == {0.02}
    assert aligner.late_since_s is None


def test_device_clock_alignment_re_anchors_after_a_clock_jump_once_it_persists() -> None:
    aligner = DeviceTimeAligner(confirm_s=1.0)
    device = [i * 0.02 for i in range(300)]
    host = [50.0 + d + (3.0 if i >= 100 else 0.0) for i, d in enumerate(device)]  # the tag's clock fell back 3 s
    times = [aligner.align(h, d) for h, d in zip(host, device, strict=True)]
    assert times[148] == pytest.approx(device[148] + 50.0)  # still the old offset while unconfirmed
    assert times[151] == pytest.approx(host[151])  # 1 s of late packets: re-anchored
    assert times[-1] == pytest.approx(host[-1])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 0.0, 0.0, 0.3, 0.8, 2.5, -0.4]), st.floats(0.0, 0.05), st.booleans()),
        min_size=1,
        max_size=400,
    ),
    st.lists(st.integers(1, 60), min_size=1, max_size=20),
)
def test_device_clock_alignment_batch_matches_the_stream_however_split(
    steps: list[tuple[float, float, bool]], cuts: list[int]
) -> None:
    """Random lateness (stalls, clock jumps, early packets) split into random batches: identical times."""
    device, host = [], []
    shift = 0.0
    for i, (jump, jitter, persist) in enumerate(steps):
        if persist:
            shift += jump * 0.1
        device.append(i * 0.02)
        host.append(10.0 + i * 0.02 + shift + (0.0 if persist else jump) + jitter)
    stream = DeviceTimeAligner(confirm_s=0.5)
    expected = [stream.align(h, d) for h, d in zip(host, device, strict=True)]
    batch = DeviceTimeAligner(confirm_s=0.5)
    got: list[float] = []
    i = 0
    k = 0
    while i < len(device):
        j = min(len(device), i + cuts[k % len(cuts)])
        got.extend(batch.align_batch(np.array(host[i:j]), np.array(device[i:j])).tolist())
        i, k = j, k + 1
    assert got == expected
    assert (batch.offset_s, batch.late_since_s, batch.last_t_s) == (
        stream.offset_s,
        stream.late_since_s,
        stream.last_t_s,
    )


@pytest.mark.parametrize(("period_s", "settled"), [(None, 150), (0.02, 10)])
def test_arrival_smoother_spreads_bunched_samples_evenly(period_s: float | None, settled: int) -> None:
    """Learnt over its 2 s warm-up, or known from the rate asked of the tag (even almost at once)."""
    smoother = ArrivalSmoother(period_s=period_s)
    host = [2000.0 + (i // 5) * 0.1 for i in range(500)]  # 50 Hz delivered as bunches of 5 every 100 ms
    times = [smoother.time(h) for h in host]
    steps = np.diff(np.array(times[settled:]))
    assert np.all(steps > 0)
    assert steps.std() < 0.004  # close to an even 20 ms (bunches alone: 0 or 100 ms)
    assert abs(steps.mean() - 0.02) < 0.001
    assert max(abs(h - t) for h, t in zip(host[settled:], times[settled:], strict=True)) < 0.15


def test_arrival_smoother_rides_out_a_host_stall_but_snaps_when_the_tag_fell_silent() -> None:
    smoother = ArrivalSmoother(period_s=0.02)
    host = [10.0 + i * 0.02 for i in range(200)]
    host += [15.0 + i * 1e-5 for i in range(50)]  # a 1 s stall: the 50 samples due meanwhile arrive at once
    host += [15.0 + i * 0.02 + 0.001 for i in range(100)]
    times = [smoother.time(h) for h in host]
    steps = np.diff(np.array(times))
    assert np.all(np.abs(steps - 0.02) < 0.002)  # no gap, no pile-up
    silent = ArrivalSmoother(period_s=0.02)
    for i in range(100):
        silent.time(10.0 + i * 0.02)
    assert silent.time(12.0) < 12.0  # one late arrival: could be a stall, the prediction holds
    assert silent.time(12.02) == pytest.approx(12.02)  # the next one at the normal pace: the tag was silent, snap


def test_arrival_smoother_learns_again_when_the_tag_streams_faster_than_asked() -> None:
    smoother = ArrivalSmoother(period_s=0.04)  # asked for 25 Hz, the tag sends 50 Hz
    times = [smoother.time(5.0 + i * 0.02) for i in range(600)]
    assert smoother.period_s == pytest.approx(0.02, rel=0.01)
    assert np.all(np.abs(np.diff(np.array(times[-200:])) - 0.02) < 0.001)


def test_arrival_smoother_snaps_after_a_gap() -> None:
    smoother = ArrivalSmoother()
    for i in range(100):
        smoother.time(10.0 + i * 0.02)
    assert smoother.time(30.0) == 30.0  # 18 s of silence: take the arrival time, learn the period again
    assert smoother.time(30.02) > 30.0
