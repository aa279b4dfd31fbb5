"""BBC micro:bit accelerometer service: vectors M1, M2 and the period writes of ble_tags.md §4.3.

Vectors were derived from the profile's encoding (ble_tags.md §4.2), not captured. Wire constants re-declared.
"""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posturebuddy.devices import DecodeError, NudgePattern
from posturebuddy.devices import microbit as mb
from posturebuddy.model import RawPacket, Sample

SERVICE = "e95d0753-251d-470a-a062-fa1922dfa9a8"
DATA = "e95dca4b-251d-470a-a062-fa1922dfa9a8"
PERIOD = "e95dfb24-251d-470a-a062-fa1922dfa9a8"
VALID_PERIODS = (1, 2, 5, 10, 20, 80, 160, 640)

T = 1_700_000_789.0


def decode(uuid: str, hex_bytes: str) -> list[object]:
    return list(mb.MicrobitDecoder().decode(RawPacket(T, uuid, bytes.fromhex(hex_bytes))))


def test_uuids() -> None:
    assert (mb.ACCELEROMETER_SERVICE_UUID, mb.ACCELEROMETER_DATA_CHAR_UUID, mb.ACCELEROMETER_PERIOD_CHAR_UUID) == (
        SERVICE,
        DATA,
        PERIOD,
    )
    assert mb.VALID_PERIODS_MS == VALID_PERIODS


def test_m1_face_up() -> None:
    """M1: x = 0xFFF0 = -16 -> -0.016 g; y = 0x0020 = 32 -> 0.032 g; z = 0xFC10 = -1008 -> -1.008 g (signed!)."""
    assert decode(DATA, "F0 FF 20 00 10 FC") == [Sample(t_s=T, accel_g=(-0.016, 0.032, -1.008))]


def test_m2_tilted() -> None:
    """M2: x = 0x0200 = 512 -> 0.512 g; y = 0xFF00 = -256 -> -0.256 g; z = 0x0370 = 880 -> 0.880 g."""
    assert decode(DATA, "00 02 00 FF 70 03") == [Sample(t_s=T, accel_g=(0.512, -0.256, 0.880))]


def test_m1_is_not_unsigned() -> None:
    """The profile's service summary says "unsigned"; read that way z would be 64528 mg = 64.5 g."""
    assert mb.decode_accel(bytes.fromhex("F0 FF 20 00 10 FC"))[2] != 0xFC10 / 1000


def test_encoder_reproduces_the_vectors() -> None:
    assert mb.encode_accel((-0.016, 0.032, -1.008)) == bytes.fromhex("F0 FF 20 00 10 FC")
    assert mb.encode_accel((0.512, -0.256, 0.880)) == bytes.fromhex("00 02 00 FF 70 03")
    assert mb.encode_accel((40.0, -40.0, 0.0)) == struct.pack("<3h", 32767, -32768, 0)  # saturates


@pytest.mark.parametrize(("period_ms", "hex_bytes"), [(20, "14 00"), (80, "50 00"), (160, "A0 00"), (640, "80 02")])
def test_period_writes(period_ms: int, hex_bytes: str) -> None:
    """uint16 LE ms: 0x0014 = 20, 0x0050 = 80, 0x00A0 = 160, 0x0280 = 640."""
    assert mb.encode_period(period_ms) == bytes.fromhex(hex_bytes)
    assert mb.decode_period(bytes.fromhex(hex_bytes)) == period_ms
    assert decode(PERIOD, hex_bytes) == []


@pytest.mark.parametrize(
    ("period_ms", "snapped"),
    [(0, 1), (-5, 1), (1.4, 1), (3, 2), (7.5, 5), (15, 10), (50, 20), (51, 80), (120, 80), (400, 160), (1e9, 640)],
)
def test_period_snaps_to_the_valid_set_never_zero(period_ms: float, snapped: int) -> None:
    """Nearest valid period; ties (15, 50) go to the shorter period; 0 becomes 1."""
    assert mb.snap_period_ms(period_ms) == snapped


@pytest.mark.parametrize(("rate_hz", "hex_bytes"), [(50, "14 00"), (1000, "01 00"), (12.5, "50 00"), (0.5, "80 02")])
def test_rate_commands(rate_hz: float, hex_bytes: str) -> None:
    (write,) = mb.FAMILY.rate_commands(rate_hz)
    assert (write.char_uuid, write.data, write.response) == (PERIOD, bytes.fromhex(hex_bytes), True)


@pytest.mark.parametrize("rate_hz", [0.0, -2.0, math.nan, math.inf])
def test_rate_must_be_positive_and_finite(rate_hz: float) -> None:
    with pytest.raises(ValueError, match="rate"):
        mb.rate_commands(rate_hz)


def test_period_zero_is_refused() -> None:
    """Writing 0 crashes the device: a 0 period read or write decodes as an error."""
    with pytest.raises(DecodeError, match="crashes"):
        mb.decode_period(b"\x00\x00")


@pytest.mark.parametrize(("uuid", "length"), [(DATA, 6), (PERIOD, 2)])
def test_wrong_lengths(uuid: str, length: int) -> None:
    for wrong in (0, length - 1, length + 1):
        with pytest.raises(DecodeError, match="must be"):
            decode(uuid, "01" * wrong)


def test_unknown_characteristic() -> None:
    with pytest.raises(DecodeError, match="unknown characteristic"):
        decode(SERVICE, "00")


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_any_bytes_like(kind: type) -> None:
    assert mb.decode_accel(kind(bytes.fromhex("00 02 00 FF 70 03"))) == (0.512, -0.256, 0.880)


def test_family() -> None:
    family = mb.FAMILY
    assert family.family_id == "microbit"
    assert family.notify_uuids == (DATA,)
    assert family.battery_uuid is None
    assert not family.capabilities.battery
    for pattern in NudgePattern:
        assert family.nudge_commands(pattern) == []


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.floats(allow_nan=False))
def test_snapped_period_is_always_valid(period_ms: float) -> None:
    snapped = mb.snap_period_ms(period_ms)
    assert snapped in VALID_PERIODS
    assert mb.encode_period(period_ms) != b"\x00\x00"


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.lists(st.integers(-(1 << 15), (1 << 15) - 1), min_size=3, max_size=3))
def test_round_trip_is_byte_exact(values: list[int]) -> None:
    data = struct.pack("<3h", *values)
    assert mb.encode_accel(mb.decode_accel(data)) == data


@settings(derandomize=True, max_examples=300, deadline=None)  # derandomized: fixed, reproducible seed
@given(st.sampled_from([DATA, PERIOD, SERVICE]), st.binary(max_size=10))
def test_fuzz_decoder_raises_only_decode_error(uuid: str, data: bytes) -> None:
    try:
        items = mb.MicrobitDecoder().decode(RawPacket(T, uuid, data))
    except DecodeError:
        return
    assert all(isinstance(item, Sample) for item in items)
