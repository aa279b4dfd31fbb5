"""The decoding stage: per-connection decoders, sequence gaps, clock unwrap and rejected packets."""

from __future__ import annotations

import pytest

from firmware_protocol import MOTION_CHAR_UUID, MotionFrame, StatusFlags, encode_battery, encode_motion
from posturebuddy.devices import get_family
from posturebuddy.model import (
    BatteryRead,
    GapDetected,
    PacketRejected,
    RawPacket,
    Sample,
    StreamStarted,
    TagStatus,
)
from posturebuddy.session.decoding import PacketDecoder
from posturebuddy.session.jsonl import to_json_line, to_record

BATTERY_UUID = "00002a19-0000-1000-8000-00805f9b34fb"


def motion(seq: int, time_ms: int, t: float) -> RawPacket:
    frame = MotionFrame(
        seq=seq,
        device_time_ms=time_ms,
        quat_wxyz=(1.0, 0.0, 0.0, 0.0),
        accel_g=(0.0, 1.0, 0.0),
        status=StatusFlags.WORN | StatusFlags.WEAR_DETECT,
    )
    return RawPacket(t, MOTION_CHAR_UUID, encode_motion(frame))


def start(t: float) -> StreamStarted:
    return StreamStarted(t, family_id="posturebuddy", address="F0:00:00:00:00:01")


def samples_of(items: list[object]) -> list[Sample]:
    return [i for i in items if isinstance(i, Sample)]


def test_sequence_gap_across_wrap_is_reported_with_its_span() -> None:
    decoder = PacketDecoder()
    out: list[object] = list(decoder.feed(start(0.0)))
    out += decoder.feed(motion(65534, 65000, 1.00))
    out += decoder.feed(motion(65535, 65020, 1.02))
    out += decoder.feed(motion(3, 65100, 1.10))  # 0, 1, 2 lost across the wrap
    gaps = [i for i in out if isinstance(i, GapDetected)]
    assert len(gaps) == 1
    assert gaps[0].lost_packets == 3
    assert gaps[0].start_s == pytest.approx(1.02)
    assert gaps[0].t_s == pytest.approx(1.10)
    assert decoder.stats.lost_by_sequence == 3
    assert len(samples_of(out)) == 3


def test_device_clock_is_unwrapped() -> None:
    decoder = PacketDecoder()
    decoder.feed(start(0.0))
    times = []
    for i, ms in enumerate([65_000, 65_500, 300, 800]):  # wraps after 65 535 ms
        (sample,) = samples_of(list(decoder.feed(motion(i, ms, float(i)))))
        times.append(sample.device_time_s)
    assert times == [65.0, 65.5, 65.836, 66.336]


def test_bad_packets_become_events_and_the_stream_goes_on() -> None:
    decoder = PacketDecoder()
    decoder.feed(start(0.0))
    rejected = decoder.feed(RawPacket(1.0, MOTION_CHAR_UUID, b"\x01\x02\x03"))
    assert len(rejected) == 1
    assert isinstance(rejected[0], PacketRejected)
    assert "posturebuddy" in rejected[0].reason
    assert samples_of(list(decoder.feed(motion(1, 10, 1.1))))
    assert decoder.stats.rejected == 1


def test_packets_before_any_stream_marker_are_rejected_not_crashing() -> None:
    decoder = PacketDecoder()
    (item,) = decoder.feed(motion(1, 10, 0.5))
    assert isinstance(item, PacketRejected)
    assert "no tag family" in item.reason


def test_a_new_connection_restarts_sequence_tracking() -> None:
    decoder = PacketDecoder(get_family("posturebuddy"))
    decoder.feed(motion(10, 100, 1.0))
    decoder.feed(start(2.0))
    out = decoder.feed(motion(500, 200, 2.1))  # the tag restarted its counter: not a loss
    assert not [i for i in out if isinstance(i, GapDetected)]
    assert decoder.stats.connections == 1


def test_battery_and_status_items() -> None:
    decoder = PacketDecoder()
    decoder.feed(start(0.0))
    out = decoder.feed(motion(1, 10, 0.1))
    assert any(isinstance(i, TagStatus) and i.worn for i in out)
    (battery,) = decoder.feed(RawPacket(0.2, BATTERY_UUID, encode_battery(77)))
    assert isinstance(battery, BatteryRead)
    assert battery.level.percent == 77


def test_json_lines_carry_type_and_unit_named_fields() -> None:
    decoder = PacketDecoder()
    decoder.feed(start(0.0))
    (sample,) = samples_of(list(decoder.feed(motion(1, 10, 0.1))))
    record = to_record(sample)
    assert record["type"] == "Sample"
    assert record["accel_g"] == [0.0, 1.0, 0.0]
    assert record["quat_wxyz"] == [1.0, 0.0, 0.0, 0.0]
    assert to_json_line(sample).startswith('{"type":"Sample","t_s":0.1')


# ---------------------------------------------------------------------------------------------
# The vectorised batch path agrees with the per-packet decoder


def _arrays_equal(a: object, b: object) -> None:
    import numpy as np

    for name in ("t_s", "accel_g", "gyro_dps", "quat_wxyz", "gravity_g"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.shape == y.shape, name
        assert np.array_equal(x, y, equal_nan=True), name  # bit for bit


def _stream_with_everything() -> list[RawPacket | StreamStarted]:
    import random

    rng = random.Random(7)
    items: list[RawPacket | StreamStarted] = [start(0.0)]
    seq = 65500
    t = 0.0
    for k in range(3000):
        seq = (seq + (1 if k % 400 else 3)) % 65536  # some losses, across the wrap
        t += 0.02
        q = None if k % 997 == 5 else (0.99, 0.1 * rng.random(), -0.05, 0.02)
        frame = MotionFrame(seq, int(t * 1000) % 65536, q, (rng.uniform(-1, 1), 1.0, 0.1), StatusFlags(k // 700 % 2))
        items.append(RawPacket(t_host_s=t, char_uuid=MOTION_CHAR_UUID, data=encode_motion(frame)))
        if k == 1200:
            items.append(RawPacket(t_host_s=t, char_uuid=MOTION_CHAR_UUID, data=b"\x00" * 7))  # rejected
        if k == 1500:
            items.append(RawPacket(t_host_s=t, char_uuid=BATTERY_UUID, data=encode_battery(80)))
        if k == 2000:
            items.append(start(t))  # reconnect
        if k == 2500:
            items.append(items[-1])  # a duplicate
    return items


def test_batch_decoding_gives_the_per_packet_samples() -> None:
    from posturebuddy.session.analyze import decode_items

    items = _stream_with_everything()
    family = get_family("posturebuddy")
    fast = decode_items(items, family)
    slow = decode_items(items, family, vectorised=False)
    _arrays_equal(fast.arrays, slow.arrays)
    assert fast.stats == slow.stats
    assert fast.stats.lost_by_sequence > 0
    assert fast.stats.rejected == 1


def test_feed_batch_declines_what_it_cannot_do_the_same_way() -> None:
    decoder = PacketDecoder(get_family("posturebuddy"))
    packets = [motion(i, i, 0.02 * i) for i in range(10)]
    assert decoder.feed_batch([*packets[:5], packets[3]]) is None  # a duplicate: the tracker's rules
    assert decoder.stats.packets == 0
    batch = decoder.feed_batch(packets)
    assert batch is not None
    assert batch.t_s.shape == (10,)
    assert decoder.stats.packets == decoder.stats.samples == 10
