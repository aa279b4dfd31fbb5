"""Nordic Thingy:52 (firmware v2.x, nRF52832 + MPU-9250): motion, UI (LED) and sound services.

Source of every byte: ``shared/research/ble_tags.md`` §1, which cites [THINGY-FW] (Nordic-Thingy52-FW @ 6ada0a9)
and [THINGY-DOX] (its firmware architecture page). All multi-byte fields are little-endian.

Frames and units:

* Motion vectors are in the Thingy's own sensor frame (the MPU-9250 axes; the firmware remaps the compass into the
  same frame). ``accel_g`` in g, ``gyro_dps`` in degrees per second, ``mag_ut`` in microtesla.
* The quaternion (w, x, y, z) is the motion processing library's orientation estimate, sent unchanged; we divide by
  its norm, as Nordic's own JS library does, because the firmware does not guarantee unit length.
* The gravity characteristic is in m/s^2 on the wire; :class:`Thingy52Decoder` converts it to g with
  :data:`STANDARD_GRAVITY_MPS2`. It reads +1 g on the axis pointing up at rest (the accelerometer's convention).

What the family subscribes to (decision): quaternion 0404 (orientation) and raw 0406 (accelerometer for activity and
walking detection; gyro and compass come along in the same packet). Gravity 040A is **not** subscribed: it is
derived from the same quaternion, so it adds radio traffic and no information. The decoder still turns a gravity
notification into ``Sample(gravity_g=...)`` if a caller subscribes to it.

Known client-library bug, kept out on purpose: Nordic's JS library (``RawDataSensor.js``) divides raw accel by 64,
gyro by 2048 and compass by 4096 (the integer-bit counts), so a Thingy at rest reads about 16 g. The firmware's
formats are 6Q10, 11Q5 and 12Q4, so the divisors are 1024, 32 and 16 ([THINGY-FW] m_motion.c; ble_tags.md §1.2).
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, fields

from posturebuddy.devices.base import Capabilities, DecodeError, GattWrite, NudgePattern, TagFamily, plain_fields
from posturebuddy.devices.battery import (
    BATTERY_LEVEL_CHAR_UUID,
    BytesLike,
    decode_battery_level,
    describe_battery_level,
)
from posturebuddy.model import Decoded, Quat, RawPacket, Sample, Vec3

FAMILY_ID = "thingy52"


def thingy_uuid(short: int) -> str:
    """Expand a Thingy 16-bit id onto the Thingy base ``EF68xxxx-9B35-4933-9B10-52FFA9740042`` (lowercase).

    [THINGY-FW] ble_tms.c TMS_BASE_UUID (stored LSB-first there); ble_tags.md §1.1.
    """
    return f"ef68{short:04x}-9b35-4933-9b10-52ffa9740042"


# --- UUIDs ------------------------------------------------------------------------------------------------------
# The configuration service is what the Thingy puts in its advertisement ([THINGY-FW] source/modules/m_ble.c,
# advertising_init: BLE_UUID_TCS_SERVICE = 0x0100 in "more UUIDs available"; read by the devices engineer in the
# same repository, not listed in ble_tags.md).
CONFIGURATION_SERVICE_UUID = thingy_uuid(0x0100)

# Motion service [THINGY-FW] ble_tms.h; ble_tags.md §1.1
MOTION_SERVICE_UUID = thingy_uuid(0x0400)
MOTION_CONFIG_CHAR_UUID = thingy_uuid(0x0401)  # read/write (authorized), 9 bytes
TAP_CHAR_UUID = thingy_uuid(0x0402)  # notify, 2 bytes
ORIENTATION_CHAR_UUID = thingy_uuid(0x0403)  # notify, 1 byte
QUATERNION_CHAR_UUID = thingy_uuid(0x0404)  # notify, 16 bytes
STEP_COUNTER_CHAR_UUID = thingy_uuid(0x0405)  # notify, 8 bytes
RAW_DATA_CHAR_UUID = thingy_uuid(0x0406)  # notify, 18 bytes
EULER_CHAR_UUID = thingy_uuid(0x0407)  # notify, 12 bytes
ROTATION_MATRIX_CHAR_UUID = thingy_uuid(0x0408)  # notify, 18 bytes
HEADING_CHAR_UUID = thingy_uuid(0x0409)  # notify, 4 bytes
GRAVITY_CHAR_UUID = thingy_uuid(0x040A)  # notify, 12 bytes

# UI service [THINGY-FW] ble_uis.h; ble_tags.md §1.1
UI_SERVICE_UUID = thingy_uuid(0x0300)
LED_CHAR_UUID = thingy_uuid(0x0301)  # read / write request, 1..5 bytes
BUTTON_CHAR_UUID = thingy_uuid(0x0302)  # notify, 1 byte
EXT_PIN_CHAR_UUID = thingy_uuid(0x0303)  # read / write, 4 bytes

# Sound service [THINGY-FW] ble_tss.h, ble_tss.c; ble_tags.md §1.1
SOUND_SERVICE_UUID = thingy_uuid(0x0500)
SOUND_CONFIG_CHAR_UUID = thingy_uuid(0x0501)  # read / write, 2 bytes
SPEAKER_DATA_CHAR_UUID = thingy_uuid(0x0502)  # write without response, <= 273 bytes
SPEAKER_STATUS_CHAR_UUID = thingy_uuid(0x0503)  # notify, 1 byte
MICROPHONE_CHAR_UUID = thingy_uuid(0x0504)  # notify, <= 273 bytes

# --- layouts (all little-endian) ---------------------------------------------------------------------------------
INT32X4 = struct.Struct("<4i")  # quaternion w, x, y, z (Q2.30)
INT16X9 = struct.Struct("<9h")  # raw: acc xyz, gyro xyz, compass xyz; also the rotation matrix (2Q14)
INT32X3 = struct.Struct("<3i")  # euler roll, pitch, yaw (Q16.16)
INT32 = struct.Struct("<i")  # heading (Q16.16)
FLOAT32X3 = struct.Struct("<3f")  # gravity x, y, z in m/s^2
UINT8X2 = struct.Struct("<2B")  # tap: direction, count; sound config: speaker mode, mic mode
UINT8 = struct.Struct("<B")  # orientation, button, speaker status, LED "off", sample id
UINT32X2 = struct.Struct("<2I")  # step counter: steps, time ms
UINT16X4_UINT8 = struct.Struct("<4HB")  # motion config (packed, 9 bytes)
UINT8X4 = struct.Struct("<4B")  # LED constant: mode, R, G, B
UINT8X3_UINT16 = struct.Struct("<3BH")  # LED breathe: mode, colour, intensity, delay ms
UINT8X3 = struct.Struct("<3B")  # LED one-shot: mode, colour, intensity
UINT16X2_UINT8 = struct.Struct("<2HB")  # speaker frequency mode: freq Hz, duration ms, volume %

# --- fixed-point scales [THINGY-FW] ble_tms.h, m_motion.c; [THINGY-DOX] format names; ble_tags.md §1.2 -----------
QUATERNION_ONE = 1 << 30  # Q2.30
ACCEL_LSB_PER_G = 1 << 10  # 6Q10 (MPL Q16.16 >> 6)
GYRO_LSB_PER_DPS = 1 << 5  # 11Q5 (MPL Q16.16 >> 11)
MAG_LSB_PER_UT = 1 << 4  # 12Q4 (MPL Q16.16 >> 12)
EULER_LSB_PER_DEG = 1 << 16  # Q16.16
HEADING_LSB_PER_DEG = 1 << 16  # Q16.16
ROTATION_MATRIX_ONE = 1 << 14  # 2Q14 (Q30 >> 16)
STANDARD_GRAVITY_MPS2 = 9.80665  # the model's g; the gravity characteristic is in m/s^2 (m_motion.c debug label)

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _exact(data: BytesLike, size: int, what: str) -> bytes:
    raw = bytes(data)
    if len(raw) != size:
        raise DecodeError(FAMILY_ID, f"{what} must be {size} bytes, got {len(raw)}", data=raw)
    return raw


def _fixed(value: float, scale: int, lo: int, hi: int, what: str, *, saturate: bool) -> int:
    """Scale a physical value to a fixed-point integer; saturate (firmware-like) or raise when out of range."""
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    n = round(value * scale)
    if saturate:
        return min(max(n, lo), hi)
    if not lo <= n <= hi:
        raise ValueError(f"{what} {value} does not fit the wire format ({lo / scale} .. {hi / scale})")
    return n


# --- quaternion 0404 ---------------------------------------------------------------------------------------------
def decode_quaternion(data: BytesLike) -> Quat:
    """Decode a 16-byte quaternion notification to a unit quaternion (w, x, y, z).

    Each int32 is Q2.30 (divide by 2^30); the result is divided by its norm, as the official JS library does
    ([THINGY-JS] QuaternionOrientationSensor.js), because the MPL output is not exactly unit length.

    Raises:
        DecodeError: wrong length, or an all-zero quaternion (no orientation).
    """
    raw = _exact(data, INT32X4.size, "quaternion")
    w, x, y, z = (v / QUATERNION_ONE for v in INT32X4.unpack(raw))
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    if norm == 0.0:
        raise DecodeError(FAMILY_ID, "quaternion is all zero", data=raw)
    return (w / norm, x / norm, y / norm, z / norm)


def encode_quaternion(quat_wxyz: Quat) -> bytes:
    """Encode a quaternion (w, x, y, z) as the 16-byte Q2.30 notification (components must lie in [-2, 2))."""
    return INT32X4.pack(
        *(_fixed(v, QUATERNION_ONE, INT32_MIN, INT32_MAX, "quaternion component", saturate=False) for v in quat_wxyz)
    )


# --- raw 0406 ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RawMotion:
    """One raw-data notification in physical units (Thingy sensor frame).

    Attributes:
        accel_g: acceleration (specific force), g.
        gyro_dps: angular rate, degrees per second.
        mag_ut: magnetic field, microtesla (already remapped by the firmware into the accel/gyro frame).
    """

    accel_g: Vec3
    gyro_dps: Vec3
    mag_ut: Vec3


def decode_raw(data: BytesLike) -> RawMotion:
    """Decode an 18-byte raw-data notification: acc /1024 -> g, gyro /32 -> dps, compass /16 -> uT.

    [THINGY-FW] m_motion.c shifts the MPL Q16.16 values right by 6, 11 and 12 bits (6Q10, 11Q5, 12Q4).
    NOT /64, /2048, /4096 as the buggy JS lib does ([THINGY-JS] RawDataSensor.js, issue #20): that reads 16 g at rest.
    """
    raw = _exact(data, INT16X9.size, "raw motion data")
    ax, ay, az, gx, gy, gz, mx, my, mz = INT16X9.unpack(raw)
    return RawMotion(
        accel_g=(ax / ACCEL_LSB_PER_G, ay / ACCEL_LSB_PER_G, az / ACCEL_LSB_PER_G),
        gyro_dps=(gx / GYRO_LSB_PER_DPS, gy / GYRO_LSB_PER_DPS, gz / GYRO_LSB_PER_DPS),
        mag_ut=(mx / MAG_LSB_PER_UT, my / MAG_LSB_PER_UT, mz / MAG_LSB_PER_UT),
    )


def encode_raw(accel_g: Vec3, gyro_dps: Vec3, mag_ut: Vec3 = (0.0, 0.0, 0.0)) -> bytes:
    """Encode the 18-byte raw-data notification. Values beyond int16 saturate, as the firmware clamps them."""
    scaled = [
        *(_fixed(v, ACCEL_LSB_PER_G, INT16_MIN, INT16_MAX, "accel", saturate=True) for v in accel_g),
        *(_fixed(v, GYRO_LSB_PER_DPS, INT16_MIN, INT16_MAX, "gyro", saturate=True) for v in gyro_dps),
        *(_fixed(v, MAG_LSB_PER_UT, INT16_MIN, INT16_MAX, "mag", saturate=True) for v in mag_ut),
    ]
    return INT16X9.pack(*scaled)


# --- euler 0407, rotation matrix 0408, heading 0409 --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Euler:
    """Euler angles in degrees as the firmware labels them: roll (x), pitch (y), yaw (z) ([THINGY-FW] m_motion.c)."""

    roll_deg: float
    pitch_deg: float
    yaw_deg: float


def decode_euler(data: BytesLike) -> Euler:
    """Decode a 12-byte Euler notification (three int32 Q16.16, degrees)."""
    raw = _exact(data, INT32X3.size, "euler")
    roll, pitch, yaw = (v / EULER_LSB_PER_DEG for v in INT32X3.unpack(raw))
    return Euler(roll, pitch, yaw)


def encode_euler(euler: Euler) -> bytes:
    """Encode Euler angles (degrees) as the 12-byte Q16.16 notification."""
    return INT32X3.pack(
        *(
            _fixed(v, EULER_LSB_PER_DEG, INT32_MIN, INT32_MAX, "euler angle", saturate=False)
            for v in (euler.roll_deg, euler.pitch_deg, euler.yaw_deg)
        )
    )


RotationMatrix = tuple[float, float, float, float, float, float, float, float, float]
"""Nine matrix elements in the order the firmware sends them (2Q14, divided by 2^14)."""


def decode_rotation_matrix(data: BytesLike) -> RotationMatrix:
    """Decode an 18-byte rotation-matrix notification (nine int16 2Q14 values, in wire order)."""
    raw = _exact(data, INT16X9.size, "rotation matrix")
    m = tuple(v / ROTATION_MATRIX_ONE for v in INT16X9.unpack(raw))
    return (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8])


def encode_rotation_matrix(matrix: RotationMatrix) -> bytes:
    """Encode nine matrix elements (each in [-2, 2)) as the 18-byte 2Q14 notification."""
    return INT16X9.pack(
        *(_fixed(v, ROTATION_MATRIX_ONE, INT16_MIN, INT16_MAX, "matrix element", saturate=False) for v in matrix)
    )


def decode_heading(data: BytesLike) -> float:
    """Decode a 4-byte heading notification (int32 Q16.16) to degrees."""
    raw = _exact(data, INT32.size, "heading")
    return float(INT32.unpack(raw)[0] / HEADING_LSB_PER_DEG)


def encode_heading(heading_deg: float) -> bytes:
    """Encode a heading in degrees as the 4-byte Q16.16 notification."""
    return INT32.pack(_fixed(heading_deg, HEADING_LSB_PER_DEG, INT32_MIN, INT32_MAX, "heading", saturate=False))


# --- gravity 040A ------------------------------------------------------------------------------------------------
def decode_gravity_mps2(data: BytesLike) -> Vec3:
    """Decode a 12-byte gravity notification: three float32, m/s^2 ([THINGY-FW] m_motion.c debug label).

    Raises:
        DecodeError: wrong length, or a NaN/infinite component.
    """
    raw = _exact(data, FLOAT32X3.size, "gravity")
    x, y, z = FLOAT32X3.unpack(raw)
    if not all(math.isfinite(v) for v in (x, y, z)):
        raise DecodeError(FAMILY_ID, "gravity vector is not finite", data=raw)
    return (x, y, z)


def decode_gravity_g(data: BytesLike) -> Vec3:
    """Decode a gravity notification and convert m/s^2 to g (divide by 9.80665); +1 g on the up axis at rest."""
    x, y, z = decode_gravity_mps2(data)
    return (x / STANDARD_GRAVITY_MPS2, y / STANDARD_GRAVITY_MPS2, z / STANDARD_GRAVITY_MPS2)


def encode_gravity_mps2(gravity_mps2: Vec3) -> bytes:
    """Encode a gravity vector in m/s^2 as three float32 (rounded to float32 precision)."""
    if not all(math.isfinite(v) for v in gravity_mps2):
        raise ValueError(f"gravity must be finite, got {gravity_mps2}")
    return FLOAT32X3.pack(*gravity_mps2)


def encode_gravity_g(gravity_g: Vec3) -> bytes:
    """Encode a gravity vector given in g (the model's unit) as the m/s^2 float32 notification."""
    x, y, z = gravity_g
    return encode_gravity_mps2((x * STANDARD_GRAVITY_MPS2, y * STANDARD_GRAVITY_MPS2, z * STANDARD_GRAVITY_MPS2))


# --- tap 0402, orientation 0403, step counter 0405 ---------------------------------------------------------------
class TapDirection(enum.IntEnum):
    """Tap direction codes ([THINGY-DOX]; ble_tags.md §1.2)."""

    X_UP = 1
    X_DOWN = 2
    Y_UP = 3
    Y_DOWN = 4
    Z_UP = 5
    Z_DOWN = 6


@dataclass(frozen=True, slots=True)
class Tap:
    """A tap event: direction and tap count."""

    direction: TapDirection
    count: int


def decode_tap(data: BytesLike) -> Tap:
    """Decode a 2-byte tap notification (uint8 direction, uint8 count)."""
    raw = _exact(data, UINT8X2.size, "tap")
    direction, count = UINT8X2.unpack(raw)
    if direction not in TapDirection._value2member_map_:
        raise DecodeError(FAMILY_ID, f"unknown tap direction {direction}", offset=0, data=raw)
    return Tap(TapDirection(direction), count)


def encode_tap(tap: Tap) -> bytes:
    """Encode a tap event as its 2-byte notification."""
    return UINT8X2.pack(int(tap.direction), tap.count)


class TagOrientation(enum.IntEnum):
    """Orientation characteristic codes ([THINGY-DOX]; ble_tags.md §1.2)."""

    PORTRAIT = 0
    LANDSCAPE = 1
    REVERSE_PORTRAIT = 2
    REVERSE_LANDSCAPE = 3


def decode_orientation(data: BytesLike) -> TagOrientation:
    """Decode the 1-byte orientation notification."""
    raw = _exact(data, UINT8.size, "orientation")
    value = raw[0]
    if value not in TagOrientation._value2member_map_:
        raise DecodeError(FAMILY_ID, f"unknown orientation {value}", offset=0, data=raw)
    return TagOrientation(value)


def encode_orientation(orientation: TagOrientation) -> bytes:
    """Encode an orientation as its 1-byte notification."""
    return UINT8.pack(int(orientation))


@dataclass(frozen=True, slots=True)
class StepCount:
    """Step counter notification: steps counted and the pedometer's time in milliseconds."""

    steps: int
    time_ms: int


def decode_step_counter(data: BytesLike) -> StepCount:
    """Decode the 8-byte step-counter notification (uint32 steps, uint32 time ms)."""
    raw = _exact(data, UINT32X2.size, "step counter")
    steps, time_ms = UINT32X2.unpack(raw)
    return StepCount(steps, time_ms)


def encode_step_counter(count: StepCount) -> bytes:
    """Encode the 8-byte step-counter notification."""
    return UINT32X2.pack(count.steps, count.time_ms)


# --- motion config 0401 ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MotionConfig:
    """The 9-byte motion configuration (``ble_tms_config_t``, packed). Defaults are the factory defaults.

    [THINGY-FW] ble_tms.h (layout), m_motion.h MOTION_DEFAULT_CONFIG (defaults), ble_tms.c on_authorize_req
    (range checks). ``motion_freq_hz`` sets the quaternion/euler/raw notification rate (drv_motion.c).
    """

    pedo_interval_ms: int = 1000
    temp_interval_ms: int = 500
    compass_interval_ms: int = 500
    motion_freq_hz: int = 10
    wake_on_motion: int = 1


MOTION_CONFIG_LIMITS: dict[str, tuple[int, int]] = {
    # field: (min, max), inclusive, as the firmware checks them on write [THINGY-FW] ble_tms.c; ble_tags.md §1.3
    "pedo_interval_ms": (100, 5000),
    "temp_interval_ms": (100, 5000),
    "compass_interval_ms": (100, 1000),
    "motion_freq_hz": (5, 200),
    "wake_on_motion": (0, 1),
}

DEFAULT_MOTION_CONFIG = MotionConfig()


def motion_config_problems(config: MotionConfig) -> list[str]:
    """The firmware's range checks: one message per out-of-range field (empty if the config is valid)."""
    problems = []
    for f in fields(config):
        value = getattr(config, f.name)
        lo, hi = MOTION_CONFIG_LIMITS[f.name]
        if not lo <= value <= hi:
            problems.append(f"{f.name}={value} not in {lo}..{hi}")
    return problems


def decode_motion_config(data: BytesLike) -> MotionConfig:
    """Decode (and validate, as the firmware does on write) a 9-byte motion config.

    Raises:
        DecodeError: not exactly 9 bytes, or a field out of range (the firmware answers WRITE_NOT_PERMITTED).
    """
    raw = _exact(data, UINT16X4_UINT8.size, "motion config")
    config = MotionConfig(*UINT16X4_UINT8.unpack(raw))
    problems = motion_config_problems(config)
    if problems:
        raise DecodeError(FAMILY_ID, "motion config out of range: " + "; ".join(problems), data=raw)
    return config


def encode_motion_config(config: MotionConfig) -> bytes:
    """Encode a motion config as its 9-byte value. Raises ValueError if the firmware would reject it."""
    problems = motion_config_problems(config)
    if problems:
        raise ValueError("motion config out of range: " + "; ".join(problems))
    return UINT16X4_UINT8.pack(
        config.pedo_interval_ms,
        config.temp_interval_ms,
        config.compass_interval_ms,
        config.motion_freq_hz,
        config.wake_on_motion,
    )


def snap_motion_freq_hz(rate_hz: float) -> int:
    """The motion processing frequency nearest ``rate_hz`` that the firmware accepts (integer, 5..200 Hz)."""
    if not math.isfinite(rate_hz):
        raise ValueError(f"rate must be finite, got {rate_hz}")
    lo, hi = MOTION_CONFIG_LIMITS["motion_freq_hz"]
    return min(max(round(rate_hz), lo), hi)


def motion_config_write(config: MotionConfig) -> GattWrite:
    """The write (with response: the characteristic is authorized) that stores ``config`` (in flash)."""
    return GattWrite(
        MOTION_CONFIG_CHAR_UUID,
        encode_motion_config(config),
        response=True,
        description=f"motion config: {config.motion_freq_hz} Hz",
    )


def rate_commands(rate_hz: float) -> list[GattWrite]:
    """Set the motion rate nearest ``rate_hz`` (5..200 Hz), keeping every other field at its factory default."""
    return [motion_config_write(MotionConfig(motion_freq_hz=snap_motion_freq_hz(rate_hz)))]


# --- LED 0301 ----------------------------------------------------------------------------------------------------
class LedMode(enum.IntEnum):
    """LED mode byte (1 byte: firmware built with --short-enums) [THINGY-FW] ble_uis.h, Makefile."""

    OFF = 0
    CONSTANT = 1
    BREATHE = 2
    ONE_SHOT = 3


class LedColour(enum.IntEnum):
    """Colour mix for breathe/one-shot: bit0 = red, bit1 = green, bit2 = blue [THINGY-FW] drv_ext_light.h."""

    RED = 1
    GREEN = 2
    YELLOW = 3
    BLUE = 4
    PURPLE = 5
    CYAN = 6
    WHITE = 7


LED_INTENSITY_RANGE_PCT = (1, 100)  # [THINGY-FW] ble_uis.c valid_data_check
LED_DELAY_RANGE_MS = (50, 10000)  # [THINGY-FW] ble_uis.c valid_data_check


@dataclass(frozen=True, slots=True)
class LedOff:
    """LED mode 0: off (1 byte)."""


@dataclass(frozen=True, slots=True)
class LedConstant:
    """LED mode 1: constant colour, R, G, B 0..255 each (4 bytes)."""

    red: int
    green: int
    blue: int


@dataclass(frozen=True, slots=True)
class LedBreathe:
    """LED mode 2: breathe, colour mix, intensity 1..100 %, delay 50..10000 ms (5 bytes)."""

    colour: LedColour
    intensity_pct: int
    delay_ms: int


@dataclass(frozen=True, slots=True)
class LedOneShot:
    """LED mode 3: one breath, colour mix, intensity 1..100 % (3 bytes)."""

    colour: LedColour
    intensity_pct: int


LedCommand = LedOff | LedConstant | LedBreathe | LedOneShot

LED_LENGTHS: dict[LedMode, int] = {
    # the write length must match the mode exactly [THINGY-FW] ble_uis.c valid_data_check; ble_tags.md §1.4
    LedMode.OFF: UINT8.size,
    LedMode.CONSTANT: UINT8X4.size,
    LedMode.BREATHE: UINT8X3_UINT16.size,
    LedMode.ONE_SHOT: UINT8X3.size,
}

DEFAULT_CONNECTED_LED = LedBreathe(LedColour.CYAN, 20, 3500)  # [THINGY-DOX] default connected behaviour


def _led_problems(colour: int, intensity_pct: int, delay_ms: int | None = None) -> list[str]:
    problems = []
    if colour not in LedColour._value2member_map_:
        problems.append(f"colour {colour} not in 1..7")
    lo, hi = LED_INTENSITY_RANGE_PCT
    if not lo <= intensity_pct <= hi:
        problems.append(f"intensity {intensity_pct} % not in {lo}..{hi}")
    if delay_ms is not None:
        lo, hi = LED_DELAY_RANGE_MS
        if not lo <= delay_ms <= hi:
            problems.append(f"delay {delay_ms} ms not in {lo}..{hi}")
    return problems


def encode_led(command: LedCommand) -> bytes:
    """Encode an LED write. Raises ValueError for values the firmware rejects."""
    match command:
        case LedOff():
            return UINT8.pack(LedMode.OFF)
        case LedConstant(red, green, blue):
            if not all(0 <= c <= 255 for c in (red, green, blue)):
                raise ValueError(f"RGB components must be 0..255, got {(red, green, blue)}")
            return UINT8X4.pack(LedMode.CONSTANT, red, green, blue)
        case LedBreathe(colour, intensity, delay):
            problems = _led_problems(colour, intensity, delay)
            if problems:
                raise ValueError("LED breathe: " + "; ".join(problems))
            return UINT8X3_UINT16.pack(LedMode.BREATHE, colour, intensity, delay)
        case LedOneShot(colour, intensity):
            problems = _led_problems(colour, intensity)
            if problems:
                raise ValueError("LED one-shot: " + "; ".join(problems))
            return UINT8X3.pack(LedMode.ONE_SHOT, colour, intensity)
    raise TypeError(f"not an LED command: {command!r}")  # pragma: no cover - exhaustive match above


def decode_led(data: BytesLike) -> LedCommand:
    """Decode (and validate as the firmware does) an LED value.

    Raises:
        DecodeError: empty, unknown mode, length not matching the mode, or a value out of range.
    """
    raw = bytes(data)
    if not raw:
        raise DecodeError(FAMILY_ID, "LED value is empty", data=raw)
    mode = raw[0]
    if mode not in LedMode._value2member_map_:
        raise DecodeError(FAMILY_ID, f"unknown LED mode {mode}", offset=0, data=raw)
    expected = LED_LENGTHS[LedMode(mode)]
    if len(raw) != expected:
        raise DecodeError(FAMILY_ID, f"LED mode {mode} needs {expected} bytes, got {len(raw)}", data=raw)
    if mode == LedMode.OFF:
        return LedOff()
    if mode == LedMode.CONSTANT:
        _, red, green, blue = UINT8X4.unpack(raw)
        return LedConstant(red, green, blue)
    delay: int | None = None
    if mode == LedMode.BREATHE:
        _, colour, intensity, delay = UINT8X3_UINT16.unpack(raw)
    else:
        _, colour, intensity = UINT8X3.unpack(raw)
    problems = _led_problems(colour, intensity, delay)
    if problems:
        raise DecodeError(FAMILY_ID, "LED value out of range: " + "; ".join(problems), data=raw)
    if delay is not None:
        return LedBreathe(LedColour(colour), intensity, delay)
    return LedOneShot(LedColour(colour), intensity)


def led_write(command: LedCommand) -> GattWrite:
    """The LED write (write request: the characteristic is authorized)."""
    return GattWrite(LED_CHAR_UUID, encode_led(command), response=True, description=f"LED {command}")


# --- sound 0501 / 0502 / 0503 ------------------------------------------------------------------------------------
class SpeakerMode(enum.IntEnum):
    """Speaker mode, first byte of sound config [THINGY-FW] ble_tss.h."""

    FREQUENCY = 1
    PCM8 = 2
    SAMPLE = 3


class MicMode(enum.IntEnum):
    """Microphone mode, second byte of sound config [THINGY-FW] ble_tss.h."""

    ADPCM = 1
    SPL = 2


@dataclass(frozen=True, slots=True)
class SoundConfig:
    """The 2-byte sound config: speaker mode, then microphone mode (both must be valid)."""

    speaker_mode: SpeakerMode = SpeakerMode.FREQUENCY
    mic_mode: MicMode = MicMode.ADPCM


def encode_sound_config(config: SoundConfig) -> bytes:
    """Encode the 2-byte sound config."""
    return UINT8X2.pack(SpeakerMode(config.speaker_mode), MicMode(config.mic_mode))


def decode_sound_config(data: BytesLike) -> SoundConfig:
    """Decode the 2-byte sound config. Raises DecodeError on wrong length or an unknown mode."""
    raw = _exact(data, UINT8X2.size, "sound config")
    speaker, mic = UINT8X2.unpack(raw)
    if speaker not in SpeakerMode._value2member_map_:
        raise DecodeError(FAMILY_ID, f"unknown speaker mode {speaker}", offset=0, data=raw)
    if mic not in MicMode._value2member_map_:
        raise DecodeError(FAMILY_ID, f"unknown microphone mode {mic}", offset=1, data=raw)
    return SoundConfig(SpeakerMode(speaker), MicMode(mic))


TONE_MIN_FREQ_HZ = 100  # drv_speaker_tone_start rejects lower frequencies [THINGY-FW] drv_speaker.c
TONE_MAX_VOLUME_PCT = 100  # ... and volumes above 100
SAMPLE_ID_MAX = 8  # sample ids 0..8 [THINGY-DOX]


@dataclass(frozen=True, slots=True)
class Tone:
    """Speaker data in frequency mode (5 bytes).

    A ``volume_pct`` of 0 or a ``duration_ms`` of 0 *stops* the speaker ([THINGY-FW] drv_speaker.c; the doc's
    "0 = forever" is not what the driver does).
    """

    freq_hz: int
    duration_ms: int
    volume_pct: int


def _tone_problems(tone: Tone) -> list[str]:
    problems = []
    if not TONE_MIN_FREQ_HZ <= tone.freq_hz <= 0xFFFF:
        problems.append(f"frequency {tone.freq_hz} Hz not in {TONE_MIN_FREQ_HZ}..65535")
    if not 0 <= tone.duration_ms <= 0xFFFF:
        problems.append(f"duration {tone.duration_ms} ms not in 0..65535")
    if not 0 <= tone.volume_pct <= TONE_MAX_VOLUME_PCT:
        problems.append(f"volume {tone.volume_pct} % not in 0..{TONE_MAX_VOLUME_PCT}")
    return problems


def encode_tone(tone: Tone) -> bytes:
    """Encode a frequency-mode speaker write. Raises ValueError for values the driver rejects."""
    problems = _tone_problems(tone)
    if problems:
        raise ValueError("tone: " + "; ".join(problems))
    return UINT16X2_UINT8.pack(tone.freq_hz, tone.duration_ms, tone.volume_pct)


def decode_tone(data: BytesLike) -> Tone:
    """Decode a frequency-mode speaker write (5 bytes). Raises DecodeError if the driver would reject it."""
    raw = _exact(data, UINT16X2_UINT8.size, "speaker tone")
    tone = Tone(*UINT16X2_UINT8.unpack(raw))
    problems = _tone_problems(tone)
    if problems:
        raise DecodeError(FAMILY_ID, "tone out of range: " + "; ".join(problems), data=raw)
    return tone


def encode_sample_id(sample_id: int) -> bytes:
    """Encode a sample-mode speaker write: one byte, sample id 0..8."""
    if not 0 <= sample_id <= SAMPLE_ID_MAX:
        raise ValueError(f"sample id must be 0..{SAMPLE_ID_MAX}, got {sample_id}")
    return UINT8.pack(sample_id)


def decode_sample_id(data: BytesLike) -> int:
    """Decode a sample-mode speaker write (1 byte, 0..8)."""
    raw = _exact(data, UINT8.size, "speaker sample id")
    if raw[0] > SAMPLE_ID_MAX:
        raise DecodeError(FAMILY_ID, f"sample id {raw[0]} not in 0..{SAMPLE_ID_MAX}", offset=0, data=raw)
    return raw[0]


class SpeakerStatus(enum.IntEnum):
    """Speaker status notification codes [THINGY-FW] ble_tss.h; ble_tags.md §1.5."""

    FINISHED = 0x00
    BUFFER_WARNING = 0x01
    BUFFER_READY = 0x02
    PACKET_DISREGARDED = 0x10
    INVALID_COMMAND = 0x11


def decode_speaker_status(data: BytesLike) -> SpeakerStatus:
    """Decode the 1-byte speaker status notification."""
    raw = _exact(data, UINT8.size, "speaker status")
    if raw[0] not in SpeakerStatus._value2member_map_:
        raise DecodeError(FAMILY_ID, f"unknown speaker status 0x{raw[0]:02x}", offset=0, data=raw)
    return SpeakerStatus(raw[0])


def encode_speaker_status(status: SpeakerStatus) -> bytes:
    """Encode the 1-byte speaker status notification."""
    return UINT8.pack(int(status))


def sound_config_write(config: SoundConfig) -> GattWrite:
    """Write the sound config (write with response)."""
    return GattWrite(
        SOUND_CONFIG_CHAR_UUID, encode_sound_config(config), response=True, description=f"sound config {config}"
    )


def tone_write(tone: Tone) -> GattWrite:
    """Play a tone (speaker data is write-without-response only)."""
    return GattWrite(SPEAKER_DATA_CHAR_UUID, encode_tone(tone), response=False, description=f"tone {tone}")


def sample_write(sample_id: int) -> GattWrite:
    """Play a built-in sample (needs speaker mode SAMPLE in the sound config first)."""
    return GattWrite(SPEAKER_DATA_CHAR_UUID, encode_sample_id(sample_id), response=False, description="sample")


def beep_commands(tone: Tone) -> list[GattWrite]:
    """Frequency mode (mic ADPCM, the firmware default) and then the tone, as in ble_tags.md T14."""
    return [sound_config_write(SoundConfig(SpeakerMode.FREQUENCY, MicMode.ADPCM)), tone_write(tone)]


# --- nudges: no vibration motor, so a beep and a one-shot LED breath ---------------------------------------------
@dataclass(frozen=True, slots=True)
class NudgeSpec:
    """How a nudge pattern sounds and looks on a Thingy."""

    tone: Tone
    led: LedOneShot


# One batch of writes cannot space two beeps in time (GattWrite has no delay), so ATTENTION is one longer,
# louder beep with a red flash instead of two beeps. Frequencies stay well above the 100 Hz driver minimum.
NUDGES: dict[NudgePattern, NudgeSpec] = {
    NudgePattern.GENTLE: NudgeSpec(Tone(880, 150, 30), LedOneShot(LedColour.CYAN, 40)),
    NudgePattern.ATTENTION: NudgeSpec(Tone(1000, 500, 70), LedOneShot(LedColour.RED, 100)),
    NudgePattern.CONFIRM: NudgeSpec(Tone(1320, 120, 40), LedOneShot(LedColour.GREEN, 60)),
    NudgePattern.IDENTIFY: NudgeSpec(Tone(1500, 2000, 50), LedOneShot(LedColour.WHITE, 100)),
}


def nudge_commands(pattern: NudgePattern) -> list[GattWrite]:
    """Sound config (frequency mode), the pattern's tone, then a one-shot LED breath."""
    spec = NUDGES[pattern]
    return [*beep_commands(spec.tone), led_write(spec.led)]


# --- the per-connection decoder ----------------------------------------------------------------------------------
def _quaternion_items(data: bytes, t_s: float) -> list[Decoded]:
    return [Sample(t_s=t_s, quat_wxyz=decode_quaternion(data))]


def _raw_items(data: bytes, t_s: float) -> list[Decoded]:
    raw = decode_raw(data)
    return [Sample(t_s=t_s, accel_g=raw.accel_g, gyro_dps=raw.gyro_dps, mag_ut=raw.mag_ut)]


def _gravity_items(data: bytes, t_s: float) -> list[Decoded]:
    return [Sample(t_s=t_s, gravity_g=decode_gravity_g(data))]


def _battery_items(data: bytes, t_s: float) -> list[Decoded]:
    return [decode_battery_level(data, t_s=t_s, family=FAMILY_ID)]


def _validated_only(decode: Callable[[BytesLike], object]) -> Callable[[bytes, float], list[Decoded]]:
    """Characteristics the engine has no slot for: check the bytes, report nothing."""

    def handler(data: bytes, t_s: float) -> list[Decoded]:
        del t_s
        decode(data)
        return []

    return handler


def _exact_length(what: str, size: int) -> Callable[[BytesLike], bytes]:
    return lambda data: _exact(data, size, what)


DECODE_TABLE: dict[str, Callable[[bytes, float], list[Decoded]]] = {
    QUATERNION_CHAR_UUID: _quaternion_items,
    RAW_DATA_CHAR_UUID: _raw_items,
    GRAVITY_CHAR_UUID: _gravity_items,
    BATTERY_LEVEL_CHAR_UUID: _battery_items,
    EULER_CHAR_UUID: _validated_only(decode_euler),
    ROTATION_MATRIX_CHAR_UUID: _validated_only(decode_rotation_matrix),
    HEADING_CHAR_UUID: _validated_only(decode_heading),
    TAP_CHAR_UUID: _validated_only(decode_tap),
    ORIENTATION_CHAR_UUID: _validated_only(decode_orientation),
    STEP_COUNTER_CHAR_UUID: _validated_only(decode_step_counter),
    MOTION_CONFIG_CHAR_UUID: _validated_only(decode_motion_config),
    SPEAKER_STATUS_CHAR_UUID: _validated_only(decode_speaker_status),
    BUTTON_CHAR_UUID: _validated_only(_exact_length("button", UINT8.size)),
}
"""Characteristic UUID -> handler(bytes, t_s). Quaternion, raw, gravity and battery produce items; the others are
validated (wrong lengths raise) and produce nothing, because :data:`~posturebuddy.model.Decoded` has no slot for
them. Their values are available from the ``decode_*`` functions above."""


class Thingy52Decoder:
    """Stateless Thingy:52 decoder: one packet in, a list of partial samples (or a battery level) out.

    A quaternion notification gives ``Sample(quat_wxyz=...)``; a raw notification gives
    ``Sample(accel_g=..., gyro_dps=..., mag_ut=...)``; gravity gives ``Sample(gravity_g=...)`` (g); a Battery
    Level read gives :class:`~posturebuddy.model.BatteryLevel`. Sample time is the packet's host time.
    """

    def decode(self, packet: RawPacket) -> list[Decoded]:
        """Decode one notification or read reply. Raises only :class:`DecodeError`."""
        handler = DECODE_TABLE.get(packet.char_uuid.lower())
        if handler is None:
            raise DecodeError(FAMILY_ID, f"unknown characteristic {packet.char_uuid}", data=packet.data)
        return handler(bytes(packet.data), packet.t_host_s)


# --- posturebuddy decode: names and describe ---------------------------------------------------------------------
CHARACTERISTICS: dict[str, str] = {
    "quaternion": QUATERNION_CHAR_UUID,
    "raw": RAW_DATA_CHAR_UUID,
    "euler": EULER_CHAR_UUID,
    "rotation": ROTATION_MATRIX_CHAR_UUID,
    "heading": HEADING_CHAR_UUID,
    "gravity": GRAVITY_CHAR_UUID,
    "tap": TAP_CHAR_UUID,
    "orientation": ORIENTATION_CHAR_UUID,
    "steps": STEP_COUNTER_CHAR_UUID,
    "config": MOTION_CONFIG_CHAR_UUID,
    "led": LED_CHAR_UUID,
    "button": BUTTON_CHAR_UUID,
    "ext_pin": EXT_PIN_CHAR_UUID,
    "sound_config": SOUND_CONFIG_CHAR_UUID,
    "speaker": SPEAKER_DATA_CHAR_UUID,
    "speaker_status": SPEAKER_STATUS_CHAR_UUID,
    "microphone": MICROPHONE_CHAR_UUID,
    "battery": BATTERY_LEVEL_CHAR_UUID,
}
"""``posturebuddy decode --char`` names of every Thingy characteristic this module knows (ble_tags.md §1.1)."""

EXT_PIN_LENGTH = 4  # four MOSFET/pin values, one byte each (ble_tags.md §1.1 table: 4 bytes)
MICROPHONE_MAX_LENGTH = 273  # ble_tags.md §1.1 table


def _name(member: enum.Enum) -> str:
    return member.name.lower()


def _fields(value: object) -> dict[str, object]:
    """A decoded dataclass as a plain dict (see :func:`plain_fields`)."""
    out = plain_fields(value)
    assert isinstance(out, dict)
    return out


def _describe_quaternion(data: bytes) -> dict[str, object]:
    return {"kind": "quaternion", "quat_wxyz": list(decode_quaternion(data)), "normalised": True}


def _describe_raw(data: bytes) -> dict[str, object]:
    return {"kind": "raw_motion", **_fields(decode_raw(data))}


def _describe_euler(data: bytes) -> dict[str, object]:
    return {"kind": "euler", **_fields(decode_euler(data))}


def _describe_rotation(data: bytes) -> dict[str, object]:
    return {"kind": "rotation_matrix", "rotation_matrix": list(decode_rotation_matrix(data))}


def _describe_heading(data: bytes) -> dict[str, object]:
    return {"kind": "heading", "heading_deg": decode_heading(data)}


def _describe_gravity(data: bytes) -> dict[str, object]:
    return {
        "kind": "gravity",
        "gravity_mps2": list(decode_gravity_mps2(data)),
        "gravity_g": list(decode_gravity_g(data)),
    }


def _describe_tap(data: bytes) -> dict[str, object]:
    tap = decode_tap(data)
    return {"kind": "tap", "direction": _name(tap.direction), "direction_code": int(tap.direction), "count": tap.count}


def _describe_orientation(data: bytes) -> dict[str, object]:
    orientation = decode_orientation(data)
    return {"kind": "orientation", "orientation": _name(orientation), "orientation_code": int(orientation)}


def _describe_steps(data: bytes) -> dict[str, object]:
    count = decode_step_counter(data)
    return {"kind": "step_counter", "steps": count.steps, "time_ms": count.time_ms}


def _describe_config(data: bytes) -> dict[str, object]:
    config = decode_motion_config(data)
    return {
        "kind": "motion_config",
        "pedo_interval_ms": config.pedo_interval_ms,
        "temp_interval_ms": config.temp_interval_ms,
        "compass_interval_ms": config.compass_interval_ms,
        "motion_freq_hz": config.motion_freq_hz,
        "wake_on_motion": bool(config.wake_on_motion),
        "factory_default": config == DEFAULT_MOTION_CONFIG,
    }


def _describe_led(data: bytes) -> dict[str, object]:
    out: dict[str, object] = {"kind": "led"}
    match decode_led(data):
        case LedOff():
            out["mode"] = _name(LedMode.OFF)
        case LedConstant(red, green, blue):
            out.update(mode=_name(LedMode.CONSTANT), red=red, green=green, blue=blue)
        case LedBreathe(colour, intensity, delay):
            out.update(mode=_name(LedMode.BREATHE), colour=_name(colour), colour_code=int(colour))
            out.update(intensity_percent=intensity, delay_ms=delay)
        case LedOneShot(colour, intensity):
            out.update(mode=_name(LedMode.ONE_SHOT), colour=_name(colour), colour_code=int(colour))
            out["intensity_percent"] = intensity
    return out


def _describe_button(data: bytes) -> dict[str, object]:
    raw = _exact(data, UINT8.size, "button")
    return {"kind": "button", "state": raw[0]}


def _describe_ext_pin(data: bytes) -> dict[str, object]:
    raw = _exact(data, EXT_PIN_LENGTH, "ext pin value")
    return {"kind": "ext_pin", "pins": list(raw)}


def _describe_sound_config(data: bytes) -> dict[str, object]:
    config = decode_sound_config(data)
    return {"kind": "sound_config", "speaker_mode": _name(config.speaker_mode), "mic_mode": _name(config.mic_mode)}


def _describe_speaker(data: bytes) -> dict[str, object]:
    """Speaker data: the bytes do not say the speaker mode, so the length decides (ble_tags.md §1.5).

    5 bytes = a tone (frequency mode, the firmware's default), 1 byte = a sample id (sample mode), anything else
    can only be 8-bit PCM (PCM mode), which is reported by length.
    """
    if len(data) == UINT16X2_UINT8.size:
        tone = decode_tone(data)
        return {
            "kind": "tone",
            "freq_hz": tone.freq_hz,
            "duration_ms": tone.duration_ms,
            "volume_percent": tone.volume_pct,
            "stops_speaker": tone.duration_ms == 0 or tone.volume_pct == 0,
        }
    if len(data) == UINT8.size:
        return {"kind": "speaker_sample", "sample_id": decode_sample_id(data)}
    if not data:
        raise DecodeError(FAMILY_ID, "speaker data is empty", data=data)
    return {
        "kind": "pcm_audio",
        "length_bytes": len(data),
        "note": "valid only in 8-bit PCM speaker mode; a tone is 5 bytes, a sample id 1 byte",
    }


def _describe_speaker_status(data: bytes) -> dict[str, object]:
    status = decode_speaker_status(data)
    return {"kind": "speaker_status", "status": _name(status), "status_code": int(status)}


def _describe_microphone(data: bytes) -> dict[str, object]:
    if not 1 <= len(data) <= MICROPHONE_MAX_LENGTH:
        raise DecodeError(FAMILY_ID, f"microphone data must be 1..{MICROPHONE_MAX_LENGTH} bytes", data=data)
    return {"kind": "microphone_audio", "length_bytes": len(data)}


def _describe_battery(data: bytes) -> dict[str, object]:
    return describe_battery_level(data, family=FAMILY_ID)


DESCRIBERS: dict[str, Callable[[bytes], dict[str, object]]] = {
    QUATERNION_CHAR_UUID: _describe_quaternion,
    RAW_DATA_CHAR_UUID: _describe_raw,
    EULER_CHAR_UUID: _describe_euler,
    ROTATION_MATRIX_CHAR_UUID: _describe_rotation,
    HEADING_CHAR_UUID: _describe_heading,
    GRAVITY_CHAR_UUID: _describe_gravity,
    TAP_CHAR_UUID: _describe_tap,
    ORIENTATION_CHAR_UUID: _describe_orientation,
    STEP_COUNTER_CHAR_UUID: _describe_steps,
    MOTION_CONFIG_CHAR_UUID: _describe_config,
    LED_CHAR_UUID: _describe_led,
    BUTTON_CHAR_UUID: _describe_button,
    EXT_PIN_CHAR_UUID: _describe_ext_pin,
    SOUND_CONFIG_CHAR_UUID: _describe_sound_config,
    SPEAKER_DATA_CHAR_UUID: _describe_speaker,
    SPEAKER_STATUS_CHAR_UUID: _describe_speaker_status,
    MICROPHONE_CHAR_UUID: _describe_microphone,
    BATTERY_LEVEL_CHAR_UUID: _describe_battery,
}


def describe(char_uuid: str, data: bytes) -> dict[str, object]:
    """Decode one value of any Thingy characteristic (notification, read or command write) for ``posturebuddy
    decode``: a flat mapping with a ``"kind"`` and field names that carry their units.

    Shapes (``kind``: keys): ``quaternion``: quat_wxyz (normalised, as the decoder reports it); ``raw_motion``:
    accel_g, gyro_dps, mag_ut; ``euler``: roll_deg, pitch_deg, yaw_deg; ``rotation_matrix``: rotation_matrix (9
    values, wire order); ``heading``: heading_deg; ``gravity``: gravity_mps2, gravity_g; ``tap``; ``orientation``;
    ``step_counter``: steps, time_ms; ``motion_config``: the intervals in ms, motion_freq_hz, wake_on_motion;
    ``led``: mode and its payload (red/green/blue, colour, intensity_percent, delay_ms); ``sound_config``;
    ``tone``: freq_hz, duration_ms, volume_percent; ``speaker_sample``; ``pcm_audio``; ``speaker_status``;
    ``button``; ``ext_pin``; ``microphone_audio``; ``battery_level``: battery_percent.

    Raises:
        DecodeError: an unknown characteristic, or bytes the firmware would not send or accept.
    """
    describer = DESCRIBERS.get(char_uuid.lower())
    if describer is None:
        raise DecodeError(FAMILY_ID, f"unknown characteristic {char_uuid}", data=data)
    return describer(bytes(data))


# --- the family --------------------------------------------------------------------------------------------------
FAMILY = TagFamily(
    family_id=FAMILY_ID,
    display_name="Nordic Thingy:52",
    service_uuids=(CONFIGURATION_SERVICE_UUID, MOTION_SERVICE_UUID),
    # Factory device name "Thingy" ([THINGY-FW] thingy_config.h DEVICE_NAME; users can rename it).
    name_prefixes=("Thingy",),
    notify_uuids=(QUATERNION_CHAR_UUID, RAW_DATA_CHAR_UUID),
    capabilities=Capabilities(
        quaternion=True,
        accel=True,
        gyro=True,
        mag=True,
        haptic=False,
        sound=True,
        led=True,
        battery=True,
        sample_rates_hz=tuple(float(hz) for hz in range(5, 201)),
    ),
    default_rate_hz=50.0,
    make_decoder=Thingy52Decoder,
    rate_commands=rate_commands,
    nudge_commands=nudge_commands,
    # Enabling notifications is what turns the motion sensor on ([THINGY-DOX] §arch_motion): no start writes.
    battery_uuid=BATTERY_LEVEL_CHAR_UUID,
    characteristics=CHARACTERISTICS,
    describe=describe,
    notes=(
        "Raw accel/gyro/compass use the firmware's scaling (/1024 g, /32 dps, /16 uT); Nordic's JS library "
        "divides by 64/2048/4096 and reads about 16 g at rest.",
        "Setting the rate writes the motion config, which the Thingy keeps in flash.",
        "No vibration motor: nudges are a beep and an LED flash.",
    ),
)
