"""LiveSession's robustness: a failing stage is logged and skipped, never a silent stop."""

from __future__ import annotations

import asyncio

import pytest

from firmware_protocol import MOTION_CHAR_UUID, MotionFrame, StatusFlags, encode_motion
from posturebuddy.link.scan import BleBackend
from posturebuddy.link.supervisor import LinkOptions
from posturebuddy.model import RawPacket, Sample, StreamStarted
from posturebuddy.session.live import LiveSession


def motion(seq: int, t: float) -> RawPacket:
    frame = MotionFrame(seq, seq * 20, (1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0), StatusFlags.WORN)
    return RawPacket(t, MOTION_CHAR_UUID, encode_motion(frame))


@pytest.mark.asyncio
async def test_a_stage_that_raises_is_skipped_and_the_stream_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    session = LiveSession(LinkOptions(), BleBackend(), clock=lambda: 0.0)
    subscription = session.bus.subscribe("test")
    real_feed = session.engine.feed
    calls = {"n": 0}

    def flaky_feed(item: object) -> list[object]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("a bug in a stage")
        return list(real_feed(item))

    session.engine.feed = flaky_feed  # type: ignore[method-assign,assignment]
    consumer = asyncio.create_task(session._consume())
    session.link.packets.put_nowait(StreamStarted(0.0, family_id="posturebuddy", address="x"))
    for i in range(10):
        session.link.packets.put_nowait(motion(i, 1.0 + i * 0.02))
    for _ in range(100):
        await asyncio.sleep(0)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    samples = [item for item in subscription.drain() if isinstance(item, Sample)]
    assert len(samples) >= 9
    assert session.internal_errors == 1
    assert "processing a packet failed" in caplog.text


def test_ticks_through_a_pause_follow_the_replay_grid_and_never_overtake_samples() -> None:
    """While the link is down the engine is ticked at the last sample's time plus whole seconds, as a replay of
    the recording will be (so live and replay agree), and a later sample is never older than the last tick."""
    session = LiveSession(LinkOptions(), BleBackend(), clock=lambda: 0.0)
    ticked: list[float] = []
    real_tick = session.engine.tick

    def recording_tick(t_s: float) -> list[object]:
        ticked.append(t_s)
        return list(real_tick(t_s))

    session.engine.tick = recording_tick  # type: ignore[method-assign,assignment]
    session._handle(StreamStarted(0.0, family_id="posturebuddy", address="x"))
    for i in range(10):
        session._handle(motion(i, 100.0 + i * 0.02))
    last = session._last_sample_t
    assert last is not None
    session._ticks_until(last + 3.5)
    assert ticked == pytest.approx([last + 1.0, last + 2.0, last + 3.0])
    session._ticks_until(last + 4.2)  # goes on from where it stopped
    assert ticked == pytest.approx([last + 1.0, last + 2.0, last + 3.0, last + 4.0])
    session._handle(motion(12, last + 0.5))  # a straggler older than the last tick: dropped, grid unchanged
    session._ticks_until(last + 5.0)
    assert ticked[-1] == pytest.approx(last + 5.0)
    session._handle(motion(300, 100.0 + 300 * 0.02))  # the link is back: the next pause starts from this sample
    resumed = session._last_sample_t
    assert resumed is not None
    assert resumed > last + 5.0
    session._ticks_until(resumed + 0.9)
    assert len(ticked) == 5
