"""Codec behaviour beyond the golden vectors: round trips, input buffer types, encoder range checks, time and
sequence helpers, and a seeded fuzz test (every decoder raises nothing but ProtocolError, whatever the bytes).

Fuzz seed: set ``PB_FUZZ_SEED`` to replay a run; the seed in use is printed with any failure.
"""

from __future__ import annotations

import math
import os
import random
import struct
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, note, seed, settings
from hypothesis import strategies as st

import firmware_protocol as fp

FUZZ_SEED = int(os.environ.get("PB_FUZZ_SEED", str(random.SystemRandom().randrange(2**32))))
FUZZ_SETTINGS = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
MOTION = struct.Struct("<HH7hBB")  # re-declared: the v1 motion layout
IDENTITY = (1.0, 0.0, 0.0, 0.0)


def frame(**changes: object) -> fp.MotionFrame:
    base: dict[str, object] = {"seq": 1, "device_time_ms": 2, "quat_wxyz": IDENTITY, "accel_g": (0.0, 0.0, 1.0)}
    base.update(changes)
    return fp.MotionFrame(**base)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _report_seed() -> None:
    print(f"PB_FUZZ_SEED={FUZZ_SEED}")


# --- buffers and round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("wrap", [bytes, bytearray, memoryview], ids=["bytes", "bytearray", "memoryview"])
def test_decoders_accept_every_buffer_type(wrap: Callable[[bytes], fp.BytesLike]) -> None:
    motion = fp.encode_motion(frame(status=fp.StatusFlags.WORN | fp.StatusFlags.WEAR_DETECT))
    assert fp.decode_motion(wrap(motion)) == fp.decode_motion(motion)
    assert fp.decode_command(wrap(b"\x01\x32\x00")) == fp.SetRate(50)
    assert fp.decode_device_info(wrap(bytes.fromhex("01007f000f3200"))).current_rate_hz == 50
    assert fp.decode_battery(wrap(b"\x5a")) == 90


def test_memoryview_slice_and_non_byte_format() -> None:
    motion = fp.encode_motion(frame())
    padded = b"\xee\xee" + motion + b"\xee"
    assert fp.decode_motion(memoryview(padded)[2:22]) == fp.decode_motion(motion)
    as_int16 = memoryview(bytearray(motion)).cast("h")  # 10 items, 20 bytes
    assert fp.decode_motion(as_int16) == fp.decode_motion(motion)


Quat = tuple[float, float, float, float]


def normalised(q: Quat) -> Quat:
    n = math.sqrt(sum(c * c for c in q))
    return (q[0] / n, q[1] / n, q[2] / n, q[3] / n)


def unit_quats() -> st.SearchStrategy[Quat]:
    comp = st.floats(-1.0, 1.0, allow_nan=False)
    return st.tuples(comp, comp, comp, comp).filter(lambda q: math.sqrt(sum(c * c for c in q)) > 0.1).map(normalised)


@FUZZ_SETTINGS
@seed(FUZZ_SEED)
@given(
    seq=st.integers(0, 2**20),
    time_ms=st.integers(0, 2**40),
    quat=st.none() | unit_quats(),
    accel=st.tuples(*[st.floats(-20.0, 20.0, allow_nan=False)] * 3),
    status=st.integers(0, fp.STATUS_KNOWN_MASK),
)
def test_motion_round_trip(
    seq: int,
    time_ms: int,
    quat: tuple[float, float, float, float] | None,
    accel: tuple[float, float, float],
    status: int,
) -> None:
    note(f"PB_FUZZ_SEED={FUZZ_SEED}")
    sent = fp.MotionFrame(seq, time_ms, quat, accel, fp.StatusFlags(status))
    wire = fp.encode_motion(sent)
    assert len(wire) == 20
    got = fp.decode_motion(wire)
    assert got.seq == seq % 65536
    assert got.device_time_ms == time_ms % 65536
    assert got.status == status
    if quat is None:
        assert got.quat_wxyz is None
    else:
        assert got.quat_wxyz is not None
        assert all(abs(a - b) <= 0.5 / 16384 for a, b in zip(got.quat_wxyz, quat, strict=True))
    for a_got, a_sent in zip(got.accel_g, accel, strict=True):
        clamped = min(32767 / 4096, max(-8.0, a_sent))
        assert abs(a_got - clamped) <= 0.5 / 4096
    assert fp.encode_motion(got) == wire  # decoded values re-encode exactly


@FUZZ_SETTINGS
@seed(FUZZ_SEED)
@given(data=st.binary(min_size=20, max_size=20), quat=unit_quats())
def test_any_valid_wire_frame_reencodes_canonically(data: bytes, quat: tuple[float, float, float, float]) -> None:
    note(f"PB_FUZZ_SEED={FUZZ_SEED}")
    raw = list(MOTION.unpack(data))
    raw[2:6] = [round(c * 16384) for c in quat]
    wire = MOTION.pack(*raw)
    canonical = MOTION.pack(*raw[:9], raw[9] & 0x3F, 0)
    assert fp.encode_motion(fp.decode_motion(wire)) == canonical


@pytest.mark.parametrize(
    "command",
    [
        fp.SetRate(10),
        fp.SetRate(100),
        fp.Cue(fp.CuePattern.ATTENTION),
        fp.Buzz(10, 0, 1, 1),
        fp.Buzz(2000, 2000, 10, 100),
        fp.Led(0, 0, 0, 1, 0, 0),
        fp.Led(255, 255, 255, 10000, 10000, 255),
        fp.Identify(0),
        fp.Identify(60),
        fp.StopOutputs(),
        fp.ResetOrientation(),
    ],
    ids=repr,
)
def test_command_round_trip(command: fp.Command) -> None:
    wire = fp.encode_command(command)
    assert wire[0] == command.OPCODE
    assert fp.decode_command(wire) == command
    assert fp.decode_command(wire + b"\x99\x98") == command  # later minors may append parameters


def test_device_info_round_trip() -> None:
    info = fp.DeviceInfo(1, 0, fp.Feature.HAPTIC | fp.Feature.GYRO, (10, 50), 10)
    assert fp.decode_device_info(fp.encode_device_info(info)) == info


# --- encoder range checks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "offset"),
    [
        ({"seq": -1}, 0),
        ({"seq": 1.5}, 0),
        ({"seq": True}, 0),
        ({"device_time_ms": -5}, 2),
        ({"quat_wxyz": (math.nan, 0.0, 0.0, 0.0)}, 4),
        ({"quat_wxyz": (1.0, math.inf, 0.0, 0.0)}, 6),
        ({"quat_wxyz": (0.0, 0.0, 0.0, 1.06)}, 4),
        ({"quat_wxyz": (0.0, 0.0, 0.0, -1.5)}, 4),
        ({"quat_wxyz": (0.0, 0.0, 3.0, 0.0)}, 8),
        ({"quat_wxyz": (0.7, 0.0, 0.0, 0.0)}, 4),
        ({"quat_wxyz": (0.0, 0.0, 0.0, 0.0)}, 4),
        ({"quat_wxyz": (1.0, 0.0, 0.0)}, 4),
        ({"accel_g": (0.0, math.nan, 1.0)}, 14),
        ({"accel_g": (0.0, 0.0, -math.inf)}, 16),
        ({"accel_g": (0.0, 1.0)}, 12),
        ({"status": fp.StatusFlags(0x40)}, 18),
    ],
    ids=repr,
)
def test_encode_motion_rejects(changes: dict[str, object], offset: int) -> None:
    with pytest.raises(fp.ProtocolError) as info:
        fp.encode_motion(frame(**changes))
    assert info.value.offset == offset


def test_encode_motion_clamps_acceleration_only() -> None:
    wire = fp.encode_motion(frame(accel_g=(1e9, -1e9, 8.0)))
    assert MOTION.unpack(wire)[6:9] == (32767, -32768, 32767)
    assert fp.decode_motion(wire).accel_saturated
    assert not fp.decode_motion(fp.encode_motion(frame(accel_g=(7.99, -7.99, 0.0)))).accel_saturated


@pytest.mark.parametrize(
    ("command", "offset"),
    [
        (fp.SetRate(30), 1),
        (fp.SetRate(0), 1),
        (fp.SetRate(70000), 1),
        (fp.Cue(0), 1),  # type: ignore[arg-type]
        (fp.Buzz(9, 0, 1, 50), 1),
        (fp.Buzz(100, 2001, 1, 50), 3),
        (fp.Buzz(100, 0, 11, 50), 5),
        (fp.Buzz(100, 0, 1, 101), 6),
        (fp.Led(256, 0, 0, 100, 0, 1), 1),
        (fp.Led(0, -1, 0, 100, 0, 1), 2),
        (fp.Led(0, 0, 0, 0, 0, 1), 4),
        (fp.Led(0, 0, 0, 1, 10001, 1), 6),
        (fp.Led(0, 0, 0, 1, 0, 256), 8),
        (fp.Identify(61), 1),
        (fp.Identify(-1), 1),
        (fp.Identify(2.5), 1),  # type: ignore[arg-type]
    ],
    ids=repr,
)
def test_encode_command_rejects(command: fp.Command, offset: int) -> None:
    with pytest.raises(fp.ProtocolError) as info:
        fp.encode_command(command)
    assert (info.value.offset, info.value.att_error) == (offset, fp.ATT_ERROR_OUT_OF_RANGE)


def test_encode_command_rejects_non_commands() -> None:
    with pytest.raises(fp.ProtocolError):
        fp.encode_command(fp.MotionFrame(0, 0, None, (0.0, 0.0, 0.0)))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "info",
    [
        fp.DeviceInfo(2, 0, fp.Feature(0), (), 0),
        fp.DeviceInfo(1, 256, fp.Feature(0), (), 0),
        fp.DeviceInfo(1, 0, fp.Feature(0x0080), (), 0),
        fp.DeviceInfo(1, 0, fp.Feature(0), (30,), 0),
        fp.DeviceInfo(1, 0, fp.Feature(0), (), 65536),
    ],
    ids=repr,
)
def test_encode_device_info_rejects(info: fp.DeviceInfo) -> None:
    with pytest.raises(fp.ProtocolError):
        fp.encode_device_info(info)


@pytest.mark.parametrize("percent", [-1, 101, 255, 50.0, True])
def test_encode_battery_rejects(percent: int) -> None:
    with pytest.raises(fp.ProtocolError):
        fp.encode_battery(percent)


def test_protocol_error_is_a_value_error_with_context() -> None:
    err = fp.ProtocolError("bad", offset=3, att_error=0x0D)
    assert isinstance(err, ValueError)
    assert (err.reason, err.offset, err.att_error) == ("bad", 3, 0x0D)
    assert "byte 3" in str(err)
    assert fp.UnsupportedVersionError(7).major == 7


def test_pb_uuid_range() -> None:
    with pytest.raises(ValueError, match="16-bit"):
        fp.pb_uuid(0x10000)


# --- sequence and time helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prev", "cur", "delta"),
    [(0, 1, 1), (65535, 0, 1), (65530, 4, 10), (5, 5, 0), (10, 5, 65531)],
)
def test_seq_delta(prev: int, cur: int, delta: int) -> None:
    assert fp.seq_delta(prev, cur) == delta


@pytest.mark.parametrize(
    ("prev", "raw", "elapsed_s", "expected"),
    [
        (1000, 1020, 0.02, 1020),  # 20 ms later
        (65535, 19, 0.02, 65555),  # across the wrap
        (65535, 19, 0.0, 65555),  # host time unknown: assume less than one wrap
        (1000, 1000, 65.536, 1000 + 65536),  # exactly one wrap lost (link down ~65.5 s)
        (1000, 5464, 70.0, 1000 + 4464 + 65536),  # 70 s gap: one whole wrap + 4.464 s
        (1000, 5464, 200.0, 1000 + 4464 + 3 * 65536),  # 200 s: three wraps
        (1000, 1020, math.nan, 1020),
        (200_000, 200_000 % 65536 + 50, 0.05, 200_050),  # prev already unwrapped beyond 16 bits
    ],
)
def test_unwrap_device_time(prev: int, raw: int, elapsed_s: float, expected: int) -> None:
    assert fp.unwrap_device_time_ms(prev, raw, elapsed_s) == expected


# --- fuzz: decoders raise only ProtocolError --------------------------------------------------------------

DECODERS: list[Callable[[fp.BytesLike], object]] = [
    fp.decode_motion,
    fp.decode_command,
    fp.decode_device_info,
    fp.decode_battery,
]

FUZZ_BYTES = (
    st.binary(max_size=40)
    | st.binary(min_size=20, max_size=24)
    | st.tuples(st.sampled_from([0, *range(1, 9), 0xFF]), st.binary(max_size=12)).map(lambda t: bytes([t[0]]) + t[1])
    | st.tuples(st.integers(0, 3), st.binary(min_size=6, max_size=10)).map(lambda t: bytes([t[0]]) + t[1])
)


@FUZZ_SETTINGS
@seed(FUZZ_SEED)
@given(data=FUZZ_BYTES, kind=st.sampled_from([bytes, bytearray, memoryview]))
def test_fuzz_decoders_raise_only_protocol_error(data: bytes, kind: Callable[[bytes], fp.BytesLike]) -> None:
    note(f"PB_FUZZ_SEED={FUZZ_SEED}")
    for decode in DECODERS:
        error: fp.ProtocolError | None = None
        try:
            decode(kind(data))
        except fp.ProtocolError as err:
            error = err
        if error is not None:
            assert 0 <= error.offset <= len(data)
            assert error.reason
