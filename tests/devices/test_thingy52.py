"""Nordic Thingy:52: the ble_tags.md §1.6 vectors T1..T14, encoders, validation and a decoder fuzz.

Every vector was derived from the firmware encodings (ble_tags.md §1.2-1.5), not captured. Wire constants are
re-declared here as literals so that a change in the module is caught.
"""

from __future__ import annotations

import contextlib
import math
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posturebuddy.devices import DecodeError, GattWrite, NudgePattern
from posturebuddy.devices import thingy52 as thingy
from posturebuddy.model import BatteryLevel, RawPacket, Sample

# --- wire constants, re-declared (ble_tags.md §1.1) --------------------------------------------------------------
CONFIGURATION_SERVICE = "ef680100-9b35-4933-9b10-52ffa9740042"
MOTION_SERVICE = "ef680400-9b35-4933-9b10-52ffa9740042"
CONFIG = "ef680401-9b35-4933-9b10-52ffa9740042"
TAP = "ef680402-9b35-4933-9b10-52ffa9740042"
ORIENTATION = "ef680403-9b35-4933-9b10-52ffa9740042"
QUATERNION = "ef680404-9b35-4933-9b10-52ffa9740042"
STEP_COUNTER = "ef680405-9b35-4933-9b10-52ffa9740042"
RAW = "ef680406-9b35-4933-9b10-52ffa9740042"
EULER = "ef680407-9b35-4933-9b10-52ffa9740042"
ROTATION_MATRIX = "ef680408-9b35-4933-9b10-52ffa9740042"
HEADING = "ef680409-9b35-4933-9b10-52ffa9740042"
GRAVITY = "ef68040a-9b35-4933-9b10-52ffa9740042"
UI_SERVICE = "ef680300-9b35-4933-9b10-52ffa9740042"
LED = "ef680301-9b35-4933-9b10-52ffa9740042"
BUTTON = "ef680302-9b35-4933-9b10-52ffa9740042"
EXT_PIN = "ef680303-9b35-4933-9b10-52ffa9740042"
SOUND_SERVICE = "ef680500-9b35-4933-9b10-52ffa9740042"
SOUND_CONFIG = "ef680501-9b35-4933-9b10-52ffa9740042"
SPEAKER_DATA = "ef680502-9b35-4933-9b10-52ffa9740042"
SPEAKER_STATUS = "ef680503-9b35-4933-9b10-52ffa9740042"
MICROPHONE = "ef680504-9b35-4933-9b10-52ffa9740042"
BATTERY_LEVEL = "00002a19-0000-1000-8000-00805f9b34fb"

T = 1_700_000_000.25  # an arbitrary host time; every item must carry it


def near(expected: object, *, rel: float | None = None, abs: float | None = None) -> Any:  # noqa: A002
    """``pytest.approx`` typed as Any, so it can stand in for a tuple inside a dataclass under mypy --strict."""
    return pytest.approx(expected, rel=rel, abs=abs)


def decode(uuid: str, hex_bytes: str) -> list[object]:
    return list(thingy.Thingy52Decoder().decode(RawPacket(T, uuid, bytes.fromhex(hex_bytes))))


def test_uuids_match_the_document() -> None:
    assert (thingy.CONFIGURATION_SERVICE_UUID, thingy.MOTION_SERVICE_UUID) == (CONFIGURATION_SERVICE, MOTION_SERVICE)
    assert (thingy.MOTION_CONFIG_CHAR_UUID, thingy.TAP_CHAR_UUID, thingy.ORIENTATION_CHAR_UUID) == (
        CONFIG,
        TAP,
        ORIENTATION,
    )
    assert (thingy.QUATERNION_CHAR_UUID, thingy.STEP_COUNTER_CHAR_UUID, thingy.RAW_DATA_CHAR_UUID) == (
        QUATERNION,
        STEP_COUNTER,
        RAW,
    )
    assert (thingy.EULER_CHAR_UUID, thingy.ROTATION_MATRIX_CHAR_UUID, thingy.HEADING_CHAR_UUID) == (
        EULER,
        ROTATION_MATRIX,
        HEADING,
    )
    assert thingy.GRAVITY_CHAR_UUID == GRAVITY
    assert (thingy.UI_SERVICE_UUID, thingy.LED_CHAR_UUID, thingy.BUTTON_CHAR_UUID, thingy.EXT_PIN_CHAR_UUID) == (
        UI_SERVICE,
        LED,
        BUTTON,
        EXT_PIN,
    )
    assert (thingy.SOUND_SERVICE_UUID, thingy.SOUND_CONFIG_CHAR_UUID, thingy.SPEAKER_DATA_CHAR_UUID) == (
        SOUND_SERVICE,
        SOUND_CONFIG,
        SPEAKER_DATA,
    )
    assert (thingy.SPEAKER_STATUS_CHAR_UUID, thingy.MICROPHONE_CHAR_UUID) == (SPEAKER_STATUS, MICROPHONE)


# --- T1-T3 quaternion --------------------------------------------------------------------------------------------
def test_t1_quaternion_identity() -> None:
    """T1: w = 0x40000000 = 1073741824 / 2^30 = 1.0; x = y = z = 0. Norm 1, so normalising changes nothing."""
    assert decode(QUATERNION, "00 00 00 40 00 00 00 00 00 00 00 00 00 00 00 00") == [
        Sample(t_s=T, quat_wxyz=(1.0, 0.0, 0.0, 0.0))
    ]


def test_t2_quaternion_30_degrees_about_x() -> None:
    """T2: w = 0x3DD1BA8F = 1037154959 / 2^30 = 0.965925827 (cos 15 deg); x = 0x10907DC2 = 277904834 / 2^30 =
    0.258819045 (sin 15 deg). Norm 1.0000000005; after dividing by it the quaternion is (cos 15, sin 15, 0, 0)."""
    half = math.radians(15)
    assert decode(QUATERNION, "8F BA D1 3D C2 7D 90 10 00 00 00 00 00 00 00 00") == [
        Sample(t_s=T, quat_wxyz=near((math.cos(half), math.sin(half), 0.0, 0.0), abs=1e-9))
    ]


def test_t3_quaternion_minus_20_degrees_about_y() -> None:
    """T3: w = 1057429273 / 2^30 = 0.984807753 (cos -10 deg); y = 0xF4E2F2C1 = -186453311 / 2^30 = -0.173648178
    (sin -10 deg)."""
    half = math.radians(-10)
    assert decode(QUATERNION, "19 17 07 3F 00 00 00 00 C1 F2 E2 F4 00 00 00 00") == [
        Sample(t_s=T, quat_wxyz=near((math.cos(half), 0.0, math.sin(half), 0.0), abs=1e-9))
    ]


def test_quaternion_is_normalised_by_its_norm() -> None:
    """(0.5, 0, 0, 0) on the wire (0x20000000) has norm 0.5; the official lib divides by it -> (1, 0, 0, 0)."""
    assert thingy.decode_quaternion(bytes.fromhex("00000020" + "00" * 12)) == (1.0, 0.0, 0.0, 0.0)


def test_zero_quaternion_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="all zero"):
        decode(QUATERNION, "00" * 16)


# --- T4-T5 raw ---------------------------------------------------------------------------------------------------
def test_t4_raw_flat() -> None:
    """T4: acc = (0, 0, 0x0400 = 1024/1024 = 1.0 g); gyro = (0x0140 = 320/32 = 10.0, 0, 0xFFB0 = -80/32 = -2.5)
    dps; mag = (400/16 = 25.0, -200/16 = -12.5, 640/16 = 40.0) uT."""
    assert decode(RAW, "00 00 00 00 00 04 40 01 00 00 B0 FF 90 01 38 FF 80 02") == [
        Sample(t_s=T, accel_g=(0.0, 0.0, 1.0), gyro_dps=(10.0, 0.0, -2.5), mag_ut=(25.0, -12.5, 40.0))
    ]


def test_t4_raw_is_not_the_js_library_16_g() -> None:
    """The buggy JS lib divides by 64: 1024 / 64 = 16 g at rest. We must read 1 g, and never 16."""
    raw = thingy.decode_raw(bytes.fromhex("00 00 00 00 00 04 40 01 00 00 B0 FF 90 01 38 FF 80 02"))
    assert raw.accel_g[2] == 1.0
    assert raw.accel_g[2] != 1024 / 64
    assert raw.gyro_dps[0] != 320 / 2048
    assert raw.mag_ut[0] != 400 / 4096


def test_t5_raw_tilted() -> None:
    """T5: acc = (0xFE00 = -512/1024 = -0.5, 256/1024 = 0.25, 0x0377 = 887/1024 = 0.8662109375) g;
    gyro = (0, 0xF4C0 = -2880/32 = -90.0, 1/32 = 0.03125) dps; mag = 0."""
    assert decode(RAW, "00 FE 00 01 77 03 00 00 C0 F4 01 00 00 00 00 00 00 00") == [
        Sample(
            t_s=T,
            accel_g=(-0.5, 0.25, 0.8662109375),
            gyro_dps=(0.0, -90.0, 0.03125),
            mag_ut=(0.0, 0.0, 0.0),
        )
    ]


# --- T6-T7 euler, T10 heading ------------------------------------------------------------------------------------
def test_t6_euler() -> None:
    """T6: roll = 0x000A8000 = 688128/65536 = 10.5; pitch = 0xFFE20000 = -1966080/65536 = -30.0;
    yaw = 0x005A0000 = 5898240/65536 = 90.0 degrees."""
    data = bytes.fromhex("00 80 0A 00 00 00 E2 FF 00 00 5A 00")
    assert thingy.decode_euler(data) == thingy.Euler(10.5, -30.0, 90.0)
    assert thingy.encode_euler(thingy.Euler(10.5, -30.0, 90.0)) == data
    assert decode(EULER, data.hex()) == []  # validated, not an engine item (the quaternion is)


def test_t7_euler() -> None:
    """T7: roll 0.0; pitch = 0xFFD2C000 = -2965504/65536 = -45.25; yaw = 0xFF4C8000 = -11763712/65536 = -179.5."""
    data = bytes.fromhex("00 00 00 00 00 C0 D2 FF 00 80 4C FF")
    assert thingy.decode_euler(data) == thingy.Euler(0.0, -45.25, -179.5)
    assert thingy.encode_euler(thingy.Euler(0.0, -45.25, -179.5)) == data


def test_t10_heading() -> None:
    """T10: 0x010E0000 = 17694720/65536 = 270.0 degrees."""
    assert thingy.decode_heading(bytes.fromhex("00 00 0E 01")) == 270.0
    assert thingy.encode_heading(270.0) == bytes.fromhex("00 00 0E 01")
    assert decode(HEADING, "00 00 0E 01") == []


# --- T8-T9 gravity -----------------------------------------------------------------------------------------------
def test_t8_gravity_flat() -> None:
    """T8: z = float32 0x411CE80A = 9.80665 m/s^2 (9.806650161... after float32) -> 1.0 g (to float32 precision),
    +1 g on the up axis like the accelerometer."""
    data = bytes.fromhex("00 00 00 00 00 00 00 00 0A E8 1C 41")
    assert thingy.decode_gravity_mps2(data) == near((0.0, 0.0, 9.80665), rel=1e-7)
    assert decode(GRAVITY, data.hex()) == [Sample(t_s=T, gravity_g=near((0.0, 0.0, 1.0), rel=1e-7))]


def test_t9_gravity_tilted() -> None:
    """T9: (0.0, -4.903325, 8.4928) m/s^2 to float32 precision -> (0, -4.903325/9.80665 = -0.5,
    8.4928/9.80665 = 0.866024...) g."""
    data = bytes.fromhex("00 00 00 00 0A E8 9C C0 82 E2 07 41")
    assert thingy.decode_gravity_mps2(data) == pytest.approx((0.0, -4.903325, 8.4928), rel=1e-7)
    assert decode(GRAVITY, data.hex()) == [Sample(t_s=T, gravity_g=near((0.0, -0.5, 8.4928 / 9.80665), rel=1e-7))]


def test_gravity_encoder_takes_g() -> None:
    assert thingy.encode_gravity_g((0.0, 0.0, 1.0)) == bytes.fromhex("00 00 00 00 00 00 00 00 0A E8 1C 41")


def test_non_finite_gravity_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="not finite"):
        thingy.decode_gravity_mps2(struct.pack("<3f", 0.0, math.nan, 1.0))


# --- T11-T12 config ----------------------------------------------------------------------------------------------
def test_t11_config_factory_default() -> None:
    """T11: E8 03 = 1000 ms, F4 01 = 500 ms, F4 01 = 500 ms, 0A 00 = 10 Hz, 01 = wake on motion."""
    data = bytes.fromhex("E8 03 F4 01 F4 01 0A 00 01")
    assert thingy.decode_motion_config(data) == thingy.MotionConfig(1000, 500, 500, 10, 1)
    assert thingy.encode_motion_config(thingy.DEFAULT_MOTION_CONFIG) == data


def test_t12_config_20_hz_without_wake_on_motion() -> None:
    """T12: same intervals, 14 00 = 20 Hz, 00 = wake on motion off."""
    data = bytes.fromhex("E8 03 F4 01 F4 01 14 00 00")
    config = thingy.MotionConfig(1000, 500, 500, 20, 0)
    assert thingy.decode_motion_config(data) == config
    assert thingy.encode_motion_config(config) == data


@pytest.mark.parametrize(
    "hex_bytes",
    [
        "E8 03 F4 01 F4 01 0A 00",  # 8 bytes
        "E8 03 F4 01 F4 01 0A 00 01 00",  # 10 bytes
        "63 00 F4 01 F4 01 0A 00 01",  # pedometer 99 ms < 100
        "89 13 F4 01 F4 01 0A 00 01",  # pedometer 5001 ms > 5000
        "E8 03 63 00 F4 01 0A 00 01",  # temperature 99 ms
        "E8 03 F4 01 E9 03 0A 00 01",  # compass 1001 ms > 1000
        "E8 03 F4 01 F4 01 04 00 01",  # 4 Hz < 5
        "E8 03 F4 01 F4 01 C9 00 01",  # 201 Hz > 200
        "E8 03 F4 01 F4 01 0A 00 02",  # wake on motion 2
    ],
)
def test_config_the_firmware_would_reject(hex_bytes: str) -> None:
    with pytest.raises(DecodeError):
        thingy.decode_motion_config(bytes.fromhex(hex_bytes))


def test_config_encoder_refuses_out_of_range() -> None:
    with pytest.raises(ValueError, match="motion_freq_hz=201"):
        thingy.encode_motion_config(thingy.MotionConfig(motion_freq_hz=201))


@pytest.mark.parametrize(
    ("rate_hz", "freq_hz"), [(50, 50), (0.1, 5), (4.4, 5), (12.6, 13), (199.6, 200), (1000, 200), (-3, 5)]
)
def test_rate_commands_snap_to_5_200_hz_and_keep_the_defaults(rate_hz: float, freq_hz: int) -> None:
    """Only motion_freq_hz changes: E8 03 F4 01 F4 01 <freq> 01."""
    assert thingy.FAMILY.rate_commands(rate_hz) == [
        GattWrite(
            CONFIG,
            bytes.fromhex("E8 03 F4 01 F4 01") + struct.pack("<H", freq_hz) + b"\x01",
            response=True,
            description=f"motion config: {freq_hz} Hz",
        )
    ]


def test_rate_must_be_finite() -> None:
    with pytest.raises(ValueError, match="finite"):
        thingy.rate_commands(math.nan)


# --- T13 LED -----------------------------------------------------------------------------------------------------
LED_VECTORS = [
    ("01 FF 00 00", thingy.LedConstant(255, 0, 0)),  # constant red
    ("02 06 14 AC 0D", thingy.LedBreathe(thingy.LedColour.CYAN, 20, 3500)),  # breathe cyan 20 % 3500 ms (0x0DAC)
    ("03 01 64", thingy.LedOneShot(thingy.LedColour.RED, 100)),  # one-shot red 100 %
    ("00", thingy.LedOff()),  # off
]


@pytest.mark.parametrize(("hex_bytes", "command"), LED_VECTORS)
def test_t13_led(hex_bytes: str, command: thingy.LedCommand) -> None:
    """T13: mode byte, then the mode's payload; the length matches the mode exactly (1, 4, 5, 3 bytes)."""
    data = bytes.fromhex(hex_bytes)
    assert thingy.encode_led(command) == data
    assert thingy.decode_led(data) == command
    assert thingy.led_write(command).char_uuid == LED
    assert thingy.led_write(command).response is True


def test_default_connected_led_is_the_t13_breathe() -> None:
    assert thingy.encode_led(thingy.DEFAULT_CONNECTED_LED) == bytes.fromhex("02 06 14 AC 0D")


@pytest.mark.parametrize(
    "hex_bytes",
    [
        "",  # empty
        "04",  # unknown mode
        "00 00",  # off is 1 byte
        "01 FF 00",  # constant is 4 bytes
        "02 06 14 AC",  # breathe is 5 bytes
        "03 01 64 00",  # one-shot is 3 bytes
        "03 00 64",  # colour 0
        "03 08 64",  # colour 8
        "03 01 00",  # intensity 0
        "03 01 65",  # intensity 101
        "02 06 14 31 00",  # delay 49 ms
        "02 06 14 11 27",  # delay 10001 ms
    ],
)
def test_led_values_the_firmware_rejects(hex_bytes: str) -> None:
    with pytest.raises(DecodeError):
        thingy.decode_led(bytes.fromhex(hex_bytes))


@pytest.mark.parametrize(
    "command",
    [
        thingy.LedConstant(256, 0, 0),
        thingy.LedOneShot(thingy.LedColour.RED, 0),
        thingy.LedBreathe(thingy.LedColour.RED, 50, 10001),
    ],
)
def test_led_encoder_refuses_out_of_range(command: thingy.LedCommand) -> None:
    with pytest.raises(ValueError, match=r"0\.\.255|intensity|delay"):
        thingy.encode_led(command)


# --- T14 sound ---------------------------------------------------------------------------------------------------
def test_t14_beep() -> None:
    """T14: config 01 01 = frequency mode + ADPCM mic; speaker E8 03 C8 00 32 = 1000 Hz (0x03E8), 200 ms (0x00C8),
    50 % (0x32), written without response."""
    writes = thingy.beep_commands(thingy.Tone(1000, 200, 50))
    assert [(w.char_uuid, w.data, w.response) for w in writes] == [
        (SOUND_CONFIG, bytes.fromhex("01 01"), True),
        (SPEAKER_DATA, bytes.fromhex("E8 03 C8 00 32"), False),
    ]
    assert thingy.decode_sound_config(bytes.fromhex("01 01")) == thingy.SoundConfig(
        thingy.SpeakerMode.FREQUENCY, thingy.MicMode.ADPCM
    )
    assert thingy.decode_tone(bytes.fromhex("E8 03 C8 00 32")) == thingy.Tone(1000, 200, 50)


def test_sample_mode_write() -> None:
    """Sample mode: config 03 01, then one byte, sample id 0..8 (4 = "Hit_00.wav")."""
    assert thingy.encode_sound_config(thingy.SoundConfig(thingy.SpeakerMode.SAMPLE)) == bytes.fromhex("03 01")
    assert thingy.sample_write(4) == GattWrite(SPEAKER_DATA, b"\x04", response=False, description="sample")
    assert thingy.decode_sample_id(b"\x08") == 8
    with pytest.raises(DecodeError):
        thingy.decode_sample_id(b"\x09")
    with pytest.raises(ValueError, match=r"0\.\.8"):
        thingy.encode_sample_id(9)


@pytest.mark.parametrize("hex_bytes", ["63 00 C8 00 32", "E8 03 C8 00 65", "E8 03 C8 00", "E8 03 C8 00 32 00"])
def test_tones_the_driver_rejects(hex_bytes: str) -> None:
    """Frequency 99 Hz (< 100), volume 101 %, and wrong lengths."""
    with pytest.raises(DecodeError):
        thingy.decode_tone(bytes.fromhex(hex_bytes))


@pytest.mark.parametrize("hex_bytes", ["00 01", "04 01", "01 00", "01 03", "01"])
def test_sound_config_needs_both_modes_valid(hex_bytes: str) -> None:
    with pytest.raises(DecodeError):
        thingy.decode_sound_config(bytes.fromhex(hex_bytes))


@pytest.mark.parametrize(
    ("hex_bytes", "status"),
    [
        ("00", thingy.SpeakerStatus.FINISHED),
        ("01", thingy.SpeakerStatus.BUFFER_WARNING),
        ("02", thingy.SpeakerStatus.BUFFER_READY),
        ("10", thingy.SpeakerStatus.PACKET_DISREGARDED),
        ("11", thingy.SpeakerStatus.INVALID_COMMAND),
    ],
)
def test_speaker_status(hex_bytes: str, status: thingy.SpeakerStatus) -> None:
    assert thingy.decode_speaker_status(bytes.fromhex(hex_bytes)) == status
    assert thingy.encode_speaker_status(status) == bytes.fromhex(hex_bytes)
    assert decode(SPEAKER_STATUS, hex_bytes) == []


# --- tap, orientation, step counter, rotation matrix --------------------------------------------------------------
def test_tap_orientation_step_counter() -> None:
    """Tap 05 02 = Z_UP, 2 taps; orientation 03 = reverse landscape; steps 0x64 = 100 in 0x2710 = 10000 ms."""
    assert thingy.decode_tap(bytes.fromhex("05 02")) == thingy.Tap(thingy.TapDirection.Z_UP, 2)
    assert thingy.decode_orientation(b"\x03") == thingy.TagOrientation.REVERSE_LANDSCAPE
    assert thingy.decode_step_counter(bytes.fromhex("64 00 00 00 10 27 00 00")) == thingy.StepCount(100, 10000)
    assert thingy.encode_tap(thingy.Tap(thingy.TapDirection.Z_UP, 2)) == bytes.fromhex("05 02")
    assert thingy.encode_orientation(thingy.TagOrientation.REVERSE_LANDSCAPE) == b"\x03"
    assert thingy.encode_step_counter(thingy.StepCount(100, 10000)) == bytes.fromhex("64 00 00 00 10 27 00 00")
    with pytest.raises(DecodeError):
        thingy.decode_tap(bytes.fromhex("07 01"))
    with pytest.raises(DecodeError):
        thingy.decode_orientation(b"\x04")


def test_rotation_matrix_identity() -> None:
    """2Q14: 0x4000 = 16384 / 2^14 = 1.0 on the diagonal."""
    data = bytes.fromhex("0040 0000 0000 0000 0040 0000 0000 0000 0040")
    assert thingy.decode_rotation_matrix(data) == (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)
    assert thingy.encode_rotation_matrix((1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)) == data


# --- battery, dispatch, lengths ----------------------------------------------------------------------------------
def test_battery_level_read() -> None:
    """SIG Battery Level 5A = 90 %."""
    assert decode(BATTERY_LEVEL, "5A") == [BatteryLevel(t_s=T, percent=90)]


def test_unknown_characteristic_is_a_decode_error() -> None:
    with pytest.raises(DecodeError, match="unknown characteristic"):
        decode(MICROPHONE, "00")


def test_uuid_case_does_not_matter() -> None:
    assert decode(QUATERNION.upper(), "00000040" + "00" * 12) == [Sample(t_s=T, quat_wxyz=(1.0, 0.0, 0.0, 0.0))]


LENGTHS = {
    QUATERNION: 16,
    RAW: 18,
    GRAVITY: 12,
    EULER: 12,
    ROTATION_MATRIX: 18,
    HEADING: 4,
    TAP: 2,
    ORIENTATION: 1,
    STEP_COUNTER: 8,
    CONFIG: 9,
    SPEAKER_STATUS: 1,
    BUTTON: 1,
    BATTERY_LEVEL: 1,
}


@pytest.mark.parametrize(("uuid", "length"), sorted(LENGTHS.items()))
def test_wrong_lengths_are_decode_errors(uuid: str, length: int) -> None:
    for wrong in (0, length - 1, length + 1):
        if wrong == length:
            continue
        with pytest.raises(DecodeError, match="must be"):
            decode(uuid, "00" * wrong)


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_pure_decoders_take_any_bytes_like(kind: type) -> None:
    data = bytes.fromhex("00 00 00 00 00 04 40 01 00 00 B0 FF 90 01 38 FF 80 02")
    assert thingy.decode_raw(kind(data)).accel_g == (0.0, 0.0, 1.0)
    assert thingy.decode_quaternion(kind(bytes.fromhex("00000040" + "00" * 12))) == (1.0, 0.0, 0.0, 0.0)


# --- nudges and the family ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("pattern", list(NudgePattern))
def test_nudge_is_a_valid_beep_and_led_one_shot(pattern: NudgePattern) -> None:
    config, tone, led = thingy.FAMILY.nudge_commands(pattern)
    assert (config.char_uuid, config.data, config.response) == (SOUND_CONFIG, bytes.fromhex("01 01"), True)
    assert (tone.char_uuid, tone.response) == (SPEAKER_DATA, False)
    decoded_tone = thingy.decode_tone(tone.data)  # the driver would accept it
    assert decoded_tone.duration_ms > 0
    assert decoded_tone.volume_pct > 0
    assert (led.char_uuid, led.response) == (LED, True)
    assert isinstance(thingy.decode_led(led.data), thingy.LedOneShot)


def test_family() -> None:
    family = thingy.FAMILY
    assert family.family_id == "thingy52"
    assert family.notify_uuids == (QUATERNION, RAW)
    assert family.battery_uuid == BATTERY_LEVEL
    assert family.start_commands() == []
    assert family.capabilities.sound
    assert family.capabilities.led
    assert not family.capabilities.haptic
    assert family.capabilities.can_nudge
    assert family.capabilities.sample_rates_hz[0] == 5.0
    assert family.capabilities.sample_rates_hz[-1] == 200.0
    assert CONFIGURATION_SERVICE in family.service_uuids


# --- round trips and fuzz ----------------------------------------------------------------------------------------
int16 = st.integers(-(1 << 15), (1 << 15) - 1)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.lists(int16, min_size=9, max_size=9))
def test_raw_round_trip_is_byte_exact(values: list[int]) -> None:
    data = struct.pack("<9h", *values)
    raw = thingy.decode_raw(data)
    assert thingy.encode_raw(raw.accel_g, raw.gyro_dps, raw.mag_ut) == data


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.lists(st.integers(-(1 << 31), (1 << 31) - 1), min_size=3, max_size=3))
def test_euler_round_trip_is_byte_exact(values: list[int]) -> None:
    data = struct.pack("<3i", *values)
    assert thingy.encode_euler(thingy.decode_euler(data)) == data


@settings(derandomize=True, max_examples=150, deadline=None)
@given(st.tuples(*[st.floats(-1, 1)] * 4).filter(lambda q: math.fsum(v * v for v in q) > 0.01))
def test_quaternion_round_trip(q: tuple[float, float, float, float]) -> None:
    norm = math.sqrt(math.fsum(v * v for v in q))
    unit = (q[0] / norm, q[1] / norm, q[2] / norm, q[3] / norm)
    assert thingy.decode_quaternion(thingy.encode_quaternion(unit)) == pytest.approx(unit, abs=1e-8)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(
    st.builds(
        thingy.MotionConfig,
        st.integers(100, 5000),
        st.integers(100, 5000),
        st.integers(100, 1000),
        st.integers(5, 200),
        st.integers(0, 1),
    )
)
def test_config_round_trip(config: thingy.MotionConfig) -> None:
    assert thingy.decode_motion_config(thingy.encode_motion_config(config)) == config


@settings(derandomize=True, max_examples=300, deadline=None)  # derandomized: the seed is fixed and reproducible
@given(st.sampled_from([*sorted(thingy.DECODE_TABLE), MICROPHONE, "not-a-uuid"]), st.binary(max_size=40))
def test_fuzz_decoder_raises_only_decode_error(uuid: str, data: bytes) -> None:
    decoder = thingy.Thingy52Decoder()
    try:
        items = decoder.decode(RawPacket(T, uuid, data))
    except DecodeError:
        return
    for item in items:
        assert isinstance(item, Sample | BatteryLevel)
        assert item.t_s == T


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=6))
def test_fuzz_led_and_sound_validators_raise_only_decode_error(data: bytes) -> None:
    for decode_fn in (thingy.decode_led, thingy.decode_sound_config, thingy.decode_tone, thingy.decode_sample_id):
        with contextlib.suppress(DecodeError):
            decode_fn(data)
