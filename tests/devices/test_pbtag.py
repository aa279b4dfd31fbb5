"""The PostureBuddy Tag family adapter (posturebuddy/devices/pbtag.py).

Bytes come from the profile's golden vectors (firmware_protocol/vectors/golden_v1.json) or are hand-packed
here; UUIDs and command bytes are re-declared as literals.

Fuzz seed: set ``PB_FUZZ_SEED`` to replay a run; the seed in use is printed with any failure.
"""

from __future__ import annotations

import json
import math
import os
import random
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, seed, settings
from hypothesis import strategies as st

from posturebuddy.devices import pbtag
from posturebuddy.devices.base import DecodeError, FrameDecoder, GattWrite, NudgePattern, TagFamily
from posturebuddy.model import BatteryLevel, RawPacket, Sample, TagStatus

FUZZ_SEED = int(os.environ.get("PB_FUZZ_SEED", str(random.SystemRandom().randrange(2**32))))

SERVICE = "f1790001-e26d-4d35-bbd1-7e1762f003b2"
MOTION = "f1790002-e26d-4d35-bbd1-7e1762f003b2"
CONTROL = "f1790003-e26d-4d35-bbd1-7e1762f003b2"
DEVICE_INFO = "f1790004-e26d-4d35-bbd1-7e1762f003b2"
BATTERY = "00002a19-0000-1000-8000-00805f9b34fb"
FRAME = struct.Struct("<HH7hBB")

GOLDEN_PATH = Path(__file__).resolve().parents[2] / "firmware_protocol" / "vectors" / "golden_v1.json"
GOLDEN: dict[str, Any] = json.loads(GOLDEN_PATH.read_text(encoding="utf-8"))
GOLDEN_MOTION = {v["name"]: bytes.fromhex(v["hex"]) for v in GOLDEN["motion"]}


def packet(uuid: str, data: bytes, t: float = 1_700_000_000.25) -> RawPacket:
    return RawPacket(t_host_s=t, char_uuid=uuid, data=data)


def motion_bytes(status: int = 0, seq: int = 1, q: tuple[int, int, int, int] = (16384, 0, 0, 0)) -> bytes:
    return FRAME.pack(seq, 1000, *q, 0, 4096, 0, status, 0)


def rotate(q: tuple[float, float, float, float], v: tuple[float, float, float]) -> tuple[float, float, float]:
    """v_earth = q * v * q^-1 for a unit quaternion (w, x, y, z)."""
    w, x, y, z = q
    vx, vy, vz = v
    # t = 2 * (q_vec x v); v' = v + w * t + q_vec x t
    tx, ty, tz = 2 * (y * vz - z * vy), 2 * (z * vx - x * vz), 2 * (x * vy - y * vx)
    return (
        vx + w * tx + (y * tz - z * ty),
        vy + w * ty + (z * tx - x * tz),
        vz + w * tz + (x * ty - y * tx),
    )


# --- the family value -----------------------------------------------------------------------------------


def test_family_identity_and_uuids() -> None:
    family = pbtag.FAMILY
    assert isinstance(family, TagFamily)
    assert family.family_id == "posturebuddy"
    assert family.display_name == "PostureBuddy Tag"
    assert family.service_uuids == (SERVICE,)
    assert family.name_prefixes == ("PB-Tag",)
    assert family.notify_uuids == (MOTION,)
    assert family.battery_uuid == BATTERY
    assert family.default_rate_hz == 50.0
    assert family.forward_axis == (0.0, 0.0, -1.0)
    assert family.start_commands() == []
    assert family.poll_commands() == []
    assert family.poll_period_s == 0.0
    assert all(u == u.lower() for u in (*family.service_uuids, *family.notify_uuids))


def test_capabilities() -> None:
    caps = pbtag.FAMILY.capabilities
    assert (caps.quaternion, caps.accel, caps.gyro, caps.mag) == (True, True, False, False)
    assert (caps.haptic, caps.sound, caps.led, caps.battery) == (True, False, True, True)
    assert caps.sample_rates_hz == (10.0, 25.0, 50.0, 100.0)
    assert caps.can_nudge
    assert pbtag.FAMILY.default_rate_hz in caps.sample_rates_hz


def test_decoder_fulfils_the_protocol() -> None:
    decoder: FrameDecoder = pbtag.FAMILY.make_decoder()
    assert decoder.decode(packet(MOTION, motion_bytes()))
    assert pbtag.FAMILY.make_decoder() is not decoder


def test_registry_matches_pb_tag_advertisements() -> None:
    from posturebuddy.devices.registry import get_family, match_advertisement

    assert get_family("posturebuddy") is pbtag.FAMILY
    assert match_advertisement(None, [SERVICE.upper()]) is pbtag.FAMILY
    assert match_advertisement("PB-Tag-1A2B", []) is pbtag.FAMILY  # scan response: complete name
    assert match_advertisement("PB-Tag", []) is pbtag.FAMILY  # advertisement: shortened name


# --- motion -----------------------------------------------------------------------------------------------


def test_identity_frame_becomes_sample_and_first_status() -> None:
    items = pbtag.make_decoder().decode(packet(MOTION, GOLDEN_MOTION["identity_flat_on_table"], t=12.5))
    assert items == [
        Sample(t_s=12.5, accel_g=(0.0, 0.0, 1.0), quat_wxyz=(1.0, 0.0, 0.0, 0.0), seq=1, device_time_s=1.0),
        TagStatus(t_s=12.5, charging=False, low_battery=False, worn=None, calibrating=False),
    ]


def test_worn_upright_matches_the_documented_mounting() -> None:
    """Upright wearer: +y (USB end) points up, so gravity reads +1 g on y and the quaternion takes y to earth z."""
    sample, status = pbtag.decode_sample(GOLDEN_MOTION["worn_upright"], t_s=3.0)
    assert sample.quat_wxyz is not None
    assert sample.accel_g == (0.0, 1.0, 0.0)
    assert math.isclose(math.sqrt(sum(c * c for c in sample.quat_wxyz)), 1.0, abs_tol=1e-12)
    up = rotate(sample.quat_wxyz, (0.0, 1.0, 0.0))
    assert up == pytest.approx((0.0, 0.0, 1.0), abs=1e-9)
    forward_earth = rotate(sample.quat_wxyz, pbtag.FORWARD_AXIS)
    assert forward_earth[2] == pytest.approx(0.0, abs=1e-9)  # forward is horizontal when upright
    assert (sample.seq, sample.device_time_s) == (0x1234, 48.879)
    assert status.worn is True


def test_quaternion_is_normalised() -> None:
    sample, _ = pbtag.decode_sample(GOLDEN_MOTION["quat_within_tolerance"], t_s=0.0)
    assert sample.quat_wxyz == (1.0, 0.0, 0.0, 0.0)  # sent as (1.0254, 0, 0, 0)
    sample, _ = pbtag.decode_sample(motion_bytes(q=(8200, -8192, 8192, -8192)), t_s=0.0)
    assert sample.quat_wxyz is not None
    assert math.isclose(math.sqrt(sum(c * c for c in sample.quat_wxyz)), 1.0, abs_tol=1e-12)


def test_no_orientation_gives_no_quaternion() -> None:
    sample, status = pbtag.decode_sample(GOLDEN_MOTION["no_orientation_calibrating"], t_s=0.0)
    assert sample.quat_wxyz is None
    assert sample.accel_g == (0.0, 0.0, 1.0)
    assert status.calibrating


def test_saturated_and_negative_accel_pass_through() -> None:
    sample, _ = pbtag.decode_sample(GOLDEN_MOTION["accel_saturated"], t_s=0.0)
    assert sample.accel_g == (32767 / 4096, -8.0, 1.0)
    sample, _ = pbtag.decode_sample(GOLDEN_MOTION["negative_accel"], t_s=0.0)
    assert sample.accel_g == (-0.5, -1.25, -1 / 4096)


def test_device_time_is_passed_on_wrapping() -> None:
    decoder = pbtag.make_decoder()
    before = decoder.decode(packet(MOTION, GOLDEN_MOTION["seq_time_before_wrap"]))[0]
    after = decoder.decode(packet(MOTION, GOLDEN_MOTION["seq_time_after_wrap"]))[0]
    assert isinstance(before, Sample)
    assert isinstance(after, Sample)
    assert (before.seq, before.device_time_s) == (65535, 65.535)
    assert (after.seq, after.device_time_s) == (0, 0.019)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (0x00, TagStatus(t_s=1.0)),
        (0x01, TagStatus(t_s=1.0, charging=True)),
        (0x02, TagStatus(t_s=1.0, low_battery=True)),
        (0x04, TagStatus(t_s=1.0, worn=False)),
        (0x0C, TagStatus(t_s=1.0, worn=True)),
        (0x08, TagStatus(t_s=1.0, worn=None)),  # WORN without WEAR_DETECT means nothing
        (0x10, TagStatus(t_s=1.0, calibrating=True)),
        (0x20, TagStatus(t_s=1.0)),
        (0xFF, TagStatus(t_s=1.0, charging=True, low_battery=True, worn=True, calibrating=True)),
    ],
)
def test_status_flags(status: int, expected: TagStatus) -> None:
    _, got = pbtag.decode_sample(motion_bytes(status), t_s=1.0)
    assert got == expected


def test_status_is_emitted_on_first_frame_and_on_change_only() -> None:
    decoder = pbtag.make_decoder()
    kinds = []
    for t, status in enumerate([0x30, 0x10, 0x10, 0x0C, 0x2C, 0x0C, 0x4C, 0x0D]):
        items = decoder.decode(packet(MOTION, motion_bytes(status, seq=t), t=float(t)))
        assert isinstance(items[0], Sample)
        kinds.append([type(i).__name__ for i in items])
    assert kinds == [
        ["Sample", "TagStatus"],  # first frame
        ["Sample"],  # STREAM_START dropped: not a state
        ["Sample"],
        ["Sample", "TagStatus"],  # calibration done, worn
        ["Sample"],
        ["Sample"],
        ["Sample"],  # unknown bit 0x40 ignored
        ["Sample", "TagStatus"],  # charging
    ]


def test_sample_time_is_host_time() -> None:
    items = pbtag.make_decoder().decode(packet(MOTION, motion_bytes(), t=1_700_000_123.456))
    assert all(i.t_s == 1_700_000_123.456 for i in items)


def test_uuid_case_is_ignored() -> None:
    assert pbtag.make_decoder().decode(packet(MOTION.upper(), motion_bytes()))


# --- battery, device info, unknown characteristics ------------------------------------------------------


def test_battery_level() -> None:
    assert pbtag.make_decoder().decode(packet(BATTERY, b"\x5a", t=7.0)) == [BatteryLevel(t_s=7.0, percent=90)]


def test_device_info_is_checked_and_yields_nothing() -> None:
    decoder = pbtag.make_decoder()
    assert decoder.decode(packet(DEVICE_INFO, bytes.fromhex("01007f000f3200"))) == []
    assert decoder.decode(packet(DEVICE_INFO, bytes.fromhex("01057f000f32009999"))) == []  # newer minor
    with pytest.raises(DecodeError, match="major version 2") as info:
        decoder.decode(packet(DEVICE_INFO, bytes.fromhex("02000000000000")))
    assert info.value.offset == 0


@pytest.mark.parametrize(
    ("uuid", "data", "offset"),
    [
        (MOTION, b"", 0),
        (MOTION, motion_bytes()[:19], 19),
        (MOTION, motion_bytes(q=(16384, 16384, 0, 0)), 4),
        (BATTERY, b"\x65", 0),
        (BATTERY, b"", 0),
        (DEVICE_INFO, b"\x01\x00", 2),
        (CONTROL, b"\x01\x32\x00", None),
        ("0000ffff-0000-1000-8000-00805f9b34fb", b"\x00", None),
    ],
)
def test_bad_input_raises_decode_error(uuid: str, data: bytes, offset: int | None) -> None:
    with pytest.raises(DecodeError) as info:
        pbtag.make_decoder().decode(packet(uuid, data))
    err = info.value
    assert (err.family, err.offset, err.data) == ("posturebuddy", offset, data)


def test_decode_error_wraps_protocol_error() -> None:
    with pytest.raises(DecodeError) as info:
        pbtag.decode_battery_level(b"\xff", t_s=0.0)
    assert info.value.__cause__ is not None
    assert type(info.value.__cause__).__name__ == "ProtocolError"


# --- commands -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hz", "rate", "wire"),
    [
        (0.5, 10, "010a00"),
        (10.0, 10, "010a00"),
        (17.4, 10, "010a00"),
        (17.5, 25, "011900"),  # tie: the higher rate
        (25.0, 25, "011900"),
        (37.5, 50, "013200"),  # tie
        (50.0, 50, "013200"),
        (60.0, 50, "013200"),
        (75.0, 100, "016400"),  # tie
        (1000.0, 100, "016400"),
        (math.inf, 100, "016400"),
    ],
)
def test_rate_commands_snap_to_the_table(hz: float, rate: int, wire: str) -> None:
    assert pbtag.nearest_rate_hz(hz) == rate
    (write,) = pbtag.FAMILY.rate_commands(hz)
    assert write == GattWrite(CONTROL, bytes.fromhex(wire), response=True, description=f"set sample rate {rate} Hz")


@pytest.mark.parametrize("hz", [0.0, -10.0, math.nan, -math.inf])
def test_rate_commands_reject_nonsense(hz: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        pbtag.rate_commands(hz)


@pytest.mark.parametrize(
    ("pattern", "wire"),
    [
        (NudgePattern.GENTLE, "0201"),
        (NudgePattern.ATTENTION, "0202"),
        (NudgePattern.CONFIRM, "0203"),
        (NudgePattern.IDENTIFY, "0505"),
    ],
)
def test_nudge_commands(pattern: NudgePattern, wire: str) -> None:
    (write,) = pbtag.FAMILY.nudge_commands(pattern)
    assert (write.char_uuid, write.data.hex(), write.response) == (CONTROL, wire, True)
    assert write.description


def test_every_nudge_pattern_is_mapped() -> None:
    for pattern in NudgePattern:
        assert pbtag.nudge_commands(pattern)


# --- fuzz ---------------------------------------------------------------------------------------------------

UUIDS = [MOTION, BATTERY, DEVICE_INFO, CONTROL, MOTION.upper()]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@seed(FUZZ_SEED)
@given(
    data=st.binary(max_size=32) | st.binary(min_size=20, max_size=20) | st.binary(min_size=1, max_size=1),
    uuid=st.sampled_from(UUIDS),
)
def test_fuzz_decoder_raises_only_decode_error(data: bytes, uuid: str) -> None:
    note(f"PB_FUZZ_SEED={FUZZ_SEED}")
    decoder = pbtag.make_decoder()
    error: DecodeError | None = None
    try:
        items = decoder.decode(packet(uuid, data))
    except DecodeError as err:
        error = err
        items = []
    if error is not None:
        assert error.family == "posturebuddy"
        assert error.data == data
    for item in items:
        if isinstance(item, Sample) and item.quat_wxyz is not None:
            assert math.isclose(math.sqrt(sum(c * c for c in item.quat_wxyz)), 1.0, abs_tol=1e-9)


@pytest.fixture(autouse=True)
def _report_seed() -> None:
    print(f"PB_FUZZ_SEED={FUZZ_SEED}")


def test_vectorised_motion_decoder_agrees_with_the_per_frame_one() -> None:
    import numpy as np

    from firmware_protocol import MotionFrame, StatusFlags, encode_motion
    from posturebuddy.devices.pbtag import decode_motion_batch, decode_sample

    rng = random.Random(11)
    frames = []
    for k in range(500):
        q = None if k % 50 == 0 else tuple(rng.uniform(-1, 1) for _ in range(4))
        if q is not None:
            n = math.sqrt(sum(c * c for c in q))
            q = tuple(c / n for c in q)
        accel = tuple(rng.uniform(-15.9, 15.9) for _ in range(3))
        frames.append(encode_motion(MotionFrame(k, 60 * k % 65536, q, accel, StatusFlags(0))))  # type: ignore[arg-type]
    out = decode_motion_batch(b"".join(frames), len(frames))
    assert out is not None
    seq, time_s, quat, accel_g = out
    for i, data in enumerate(frames):
        sample, _ = decode_sample(data, t_s=0.0)
        assert seq[i] == sample.seq
        assert time_s[i] == sample.device_time_s
        assert tuple(accel_g[i]) == sample.accel_g
        if sample.quat_wxyz is None:
            assert np.all(np.isnan(quat[i]))
        else:
            assert tuple(quat[i]) == sample.quat_wxyz  # bit for bit
    bad = bytearray(frames[1])
    bad[4:6] = (30000).to_bytes(2, "little", signed=True)  # norm far from 1: the per-frame decoder rejects it
    assert decode_motion_batch(b"".join([frames[0], bytes(bad)]), 2) is None
