"""Pure codec for the PostureBuddy Tag GATT profile, version 1.0.

This module is the reference implementation of ``firmware_protocol/SPEC.md``; the section numbers in the
comments (``§4.2``) point there. It uses the standard library only and never imports :mod:`posturebuddy`:
the app, the simulator and any third-party tool can use it on its own.

Frames and units (SPEC §3):

* **Tag frame**: right-handed axes fixed to the tag's housing. With the tag lying on a table, label up and
  USB port pointing away from you: ``+x`` to the right, ``+y`` towards the USB port, ``+z`` up out of the label.
* **Earth frame**: ``+z`` up; ``x``/``y`` horizontal with a heading the tag chooses (it may drift).
* **Quaternions** are ``(w, x, y, z)`` and rotate tag-frame vectors into the earth frame.
* **Acceleration** is specific force in the tag frame, in g: ``+1 g`` along the axis pointing up at rest.

Error policy: every decoder raises only :class:`ProtocolError` on bad input, whatever the bytes. Encoders
raise :class:`ProtocolError` for values the wire cannot carry, except acceleration, which is clamped to the
wire range exactly as a saturating sensor would (SPEC §4.4).
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Final

BytesLike = bytes | bytearray | memoryview
"""Anything a payload may arrive as. Decoders accept all three."""

# ---------------------------------------------------------------------------------------------------------
# Versions and identifiers (SPEC §1, §2)

PROTOCOL_MAJOR: Final = 1
"""Major version this codec implements. A different major is incompatible (SPEC §8)."""
PROTOCOL_MINOR: Final = 0
"""Highest minor version this codec knows. Newer minors decode, with their additions ignored (SPEC §8)."""

UUID_BASE: Final = "f1790000-e26d-4d35-bbd1-7e1762f003b2"
"""The profile's random 128-bit base UUID; 16-bit ids go into the third and fourth hex digit pairs."""


def pb_uuid(short: int) -> str:
    """The profile UUID for a 16-bit id (0x0000..0xffff): ``f179xxxx-e26d-4d35-bbd1-7e1762f003b2``."""
    if not 0 <= short <= 0xFFFF:
        raise ValueError(f"16-bit UUID id must be 0..0xffff, got {short}")
    return f"f179{short:04x}{UUID_BASE[8:]}"


SERVICE_UUID: Final = pb_uuid(0x0001)
"""The PostureBuddy Tag primary service; advertised in full (SPEC §9)."""
MOTION_CHAR_UUID: Final = pb_uuid(0x0002)
"""Motion characteristic: notify, one :class:`MotionFrame` per notification (SPEC §4)."""
CONTROL_CHAR_UUID: Final = pb_uuid(0x0003)
"""Control characteristic: write with response, one command per write (SPEC §5)."""
DEVICE_INFO_CHAR_UUID: Final = pb_uuid(0x0004)
"""Device information characteristic: read, one :class:`DeviceInfo` value (SPEC §6)."""

BATTERY_SERVICE_UUID: Final = "0000180f-0000-1000-8000-00805f9b34fb"
"""Bluetooth SIG Battery Service 0x180F (SPEC §7)."""
BATTERY_LEVEL_CHAR_UUID: Final = "00002a19-0000-1000-8000-00805f9b34fb"
"""Bluetooth SIG Battery Level 0x2A19: uint8 percent 0..100, read + notify (SPEC §7)."""

LOCAL_NAME_PREFIX: Final = "PB-Tag"
"""Every tag's advertised local name starts with this (SPEC §9)."""

# ---------------------------------------------------------------------------------------------------------
# Scaling and limits (SPEC §4)

MOTION_FRAME_SIZE: Final = 20
"""Bytes in a v1 motion frame: the largest notification payload at the default ATT_MTU of 23."""
QUAT_ONE: Final = 16384
"""Q14 fixed point: 1.0 is 16384 counts."""
ACCEL_COUNTS_PER_G: Final = 4096
"""Acceleration resolution: one count is 1/4096 g."""
ACCEL_MIN_G: Final = -32768 / ACCEL_COUNTS_PER_G
"""Lowest acceleration the wire carries (-8.0 g). Raw -32768 means "at or below"."""
ACCEL_MAX_G: Final = 32767 / ACCEL_COUNTS_PER_G
"""Highest acceleration the wire carries (7.999755859375 g). Raw 32767 means "at or above"."""
QUAT_NORM_TOLERANCE: Final = 0.05
"""A non-zero quaternion's norm must lie within 1 +- this, or the frame is rejected (SPEC §4.3)."""
SEQ_MODULUS: Final = 1 << 16
"""Sequence numbers wrap at 65536."""
DEVICE_TIME_MODULUS_MS: Final = 1 << 16
"""Device time wraps every 65536 ms (65.536 s)."""

RATE_TABLE_HZ: Final[tuple[int, ...]] = (10, 25, 50, 100)
"""The v1 sample-rate table. Bit ``i`` of the device-info rate bitmap means ``RATE_TABLE_HZ[i]`` (SPEC §6)."""
DEFAULT_RATE_HZ: Final = 50
"""The rate a tag streams at after power-up (SPEC §5.2)."""

# ATT error codes a tag answers a bad control write with (SPEC §5.1).
ATT_ERROR_INVALID_LENGTH: Final = 0x0D
"""Core Spec Vol 3 Part F §3.4.1.1: Invalid Attribute Value Length."""
ATT_ERROR_UNKNOWN_OPCODE: Final = 0x80
"""Application error (0x80..0x9F range): the opcode is not defined in this major version."""
ATT_ERROR_FEATURE_ABSENT: Final = 0x81
"""Application error: the command needs hardware this tag lacks (BUZZ without a motor, LED without an LED)."""
ATT_ERROR_OUT_OF_RANGE: Final = 0xFF
"""Core Specification Supplement Part B §1.2 common profile error: Out of Range."""

# ---------------------------------------------------------------------------------------------------------
# Layouts (all little-endian), named by what they hold.

MOTION_STRUCT_LE_2U16_7I16_2U8: Final = struct.Struct("<HH7hBB")
"""Motion frame: seq, time_ms, qw, qx, qy, qz, ax, ay, az, status, reserved (20 bytes)."""
DEVICE_INFO_STRUCT_LE_2U8_U16_U8_U16: Final = struct.Struct("<BBHBH")
"""Device info: major, minor, features, rate bitmap, current rate in Hz (7 bytes)."""
U8_STRUCT: Final = struct.Struct("<B")
"""One unsigned byte (battery level; CUE and IDENTIFY parameters)."""
U16_LE_STRUCT: Final = struct.Struct("<H")
"""One little-endian uint16 (SET_RATE parameter)."""
BUZZ_STRUCT_LE_2U16_2U8: Final = struct.Struct("<HHBB")
"""BUZZ parameters: on_ms, off_ms, count, strength_pct."""
LED_STRUCT_LE_3U8_2U16_U8: Final = struct.Struct("<BBBHHB")
"""LED parameters: red, green, blue, on_ms, off_ms, count."""
EMPTY_STRUCT: Final = struct.Struct("<")
"""No parameters."""

_MOTION_QUAT_OFFSET: Final = 4
_MOTION_ACCEL_OFFSET: Final = 12
_MOTION_STATUS_OFFSET: Final = 18


# ---------------------------------------------------------------------------------------------------------
# Errors


class ProtocolError(ValueError):
    """Bytes (or values) that do not fit the profile.

    Attributes:
        reason: what is wrong, in plain words.
        offset: byte offset in the payload where the problem is (for encoders: where the field would go).
        att_error: for control writes, the ATT error code a tag answers with (SPEC §5.1); else ``None``.
    """

    def __init__(self, reason: str, *, offset: int, att_error: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.att_error = att_error
        super().__init__(f"{reason} (at byte {offset})")


class UnsupportedVersionError(ProtocolError):
    """A device-info value with a protocol major version this codec does not implement (SPEC §8).

    Attributes:
        major: the major version the tag reported.
    """

    def __init__(self, major: int) -> None:
        self.major = major
        super().__init__(
            f"protocol major version {major} is not supported (this codec implements {PROTOCOL_MAJOR})", offset=0
        )


# ---------------------------------------------------------------------------------------------------------
# Flags


class StatusFlags(enum.IntFlag):
    """Motion-frame status byte (SPEC §4.5). Bits 6 and 7 are reserved: decoders drop them."""

    CHARGING = 0x01
    LOW_BATTERY = 0x02
    WEAR_DETECT = 0x04
    """The tag can sense whether it is worn; without it ``WORN`` means nothing."""
    WORN = 0x08
    CALIBRATING = 0x10
    STREAM_START = 0x20
    """First frame after notifications were enabled."""


STATUS_KNOWN_MASK: Final = 0x3F
"""The status bits v1.0 defines."""
NO_STATUS: Final = StatusFlags(0)
"""No status bit set."""


class Feature(enum.IntFlag):
    """Device-info feature bits (SPEC §6). Bits 7..15 are reserved: decoders drop them."""

    HAPTIC = 0x0001
    LED = 0x0002
    GYRO = 0x0004
    MAGNETOMETER = 0x0008
    WEAR_DETECT = 0x0010
    CHARGE_DETECT = 0x0020
    BATTERY_SERVICE = 0x0040


FEATURE_KNOWN_MASK: Final = 0x007F
"""The feature bits v1.0 defines."""


class Opcode(enum.IntEnum):
    """Control-write opcodes (SPEC §5). 0x00 is never valid, so an all-zero write is rejected."""

    SET_RATE = 0x01
    CUE = 0x02
    BUZZ = 0x03
    LED = 0x04
    IDENTIFY = 0x05
    STOP_OUTPUTS = 0x06
    RESET_ORIENTATION = 0x07


class CuePattern(enum.IntEnum):
    """Built-in cue patterns; the tag renders them on whatever actuators it has (SPEC §5.3)."""

    GENTLE = 1
    ATTENTION = 2
    CONFIRM = 3


# ---------------------------------------------------------------------------------------------------------
# Values


Quat = tuple[float, float, float, float]
Vec3 = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class MotionFrame:
    """One motion notification (SPEC §4).

    Attributes:
        seq: sample sequence number, 0..65535, wraps.
        device_time_ms: tag clock at the sample instant in ms, 0..65535, wraps every 65.536 s.
        quat_wxyz: orientation, tag frame -> earth frame (z up), as carried (Q14, not re-normalised);
            ``None`` when the tag has no valid orientation (all four components zero on the wire).
        accel_g: specific force in the tag frame, in g; components at :data:`ACCEL_MIN_G` or
            :data:`ACCEL_MAX_G` are saturated.
        status: status flags, unknown bits removed.
    """

    seq: int
    device_time_ms: int
    quat_wxyz: Quat | None
    accel_g: Vec3
    status: StatusFlags = NO_STATUS

    @property
    def accel_saturated(self) -> bool:
        """True if any acceleration component sits at the end of the wire range (the real value may be beyond)."""
        return any(a <= ACCEL_MIN_G or a >= ACCEL_MAX_G for a in self.accel_g)


@dataclass(frozen=True, slots=True)
class SetRate:
    """Opcode 0x01: stream at ``rate_hz`` (one of :data:`RATE_TABLE_HZ` that the tag supports)."""

    OPCODE: ClassVar[Opcode] = Opcode.SET_RATE
    rate_hz: int


@dataclass(frozen=True, slots=True)
class Cue:
    """Opcode 0x02: play a built-in cue on every actuator the tag has. Every tag accepts it."""

    OPCODE: ClassVar[Opcode] = Opcode.CUE
    pattern: CuePattern


@dataclass(frozen=True, slots=True)
class Buzz:
    """Opcode 0x03: ``count`` vibration pulses of ``on_ms`` separated by ``off_ms`` at ``strength_pct`` %.

    Ranges: on_ms 10..2000, off_ms 0..2000, count 1..10, strength_pct 1..100.
    """

    OPCODE: ClassVar[Opcode] = Opcode.BUZZ
    on_ms: int
    off_ms: int
    count: int
    strength_pct: int


@dataclass(frozen=True, slots=True)
class Led:
    """Opcode 0x04: blink the LED in colour (red, green, blue) ``count`` times, ``on_ms`` on, ``off_ms`` off.

    Ranges: colour 0..255 each ((0, 0, 0) switches the LED off), on_ms 1..10000, off_ms 0..10000, count 0..255
    (0 = repeat until the next LED or STOP_OUTPUTS command).
    """

    OPCODE: ClassVar[Opcode] = Opcode.LED
    red: int
    green: int
    blue: int
    on_ms: int
    off_ms: int
    count: int


@dataclass(frozen=True, slots=True)
class Identify:
    """Opcode 0x05: show "it's me" (blink and/or buzz) for ``duration_s`` seconds, 1..60; 0 stops it."""

    OPCODE: ClassVar[Opcode] = Opcode.IDENTIFY
    duration_s: int


@dataclass(frozen=True, slots=True)
class StopOutputs:
    """Opcode 0x06: stop any cue, buzz, LED pattern or identify now."""

    OPCODE: ClassVar[Opcode] = Opcode.STOP_OUTPUTS


@dataclass(frozen=True, slots=True)
class ResetOrientation:
    """Opcode 0x07: restart the orientation filter (the tag sets CALIBRATING until it has converged)."""

    OPCODE: ClassVar[Opcode] = Opcode.RESET_ORIENTATION


Command = SetRate | Cue | Buzz | Led | Identify | StopOutputs | ResetOrientation
"""Any control command."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """The device-information value (SPEC §6).

    Attributes:
        protocol_major: always :data:`PROTOCOL_MAJOR` for a value this codec decodes.
        protocol_minor: the tag's minor version (may be newer than :data:`PROTOCOL_MINOR`).
        features: feature bits, unknown bits removed.
        supported_rates_hz: rates the tag accepts in SET_RATE, ascending, from :data:`RATE_TABLE_HZ`.
        current_rate_hz: the rate the tag streams at now, in Hz.
    """

    protocol_major: int
    protocol_minor: int
    features: Feature
    supported_rates_hz: tuple[int, ...]
    current_rate_hz: int


# ---------------------------------------------------------------------------------------------------------
# Helpers


def _to_bytes(data: BytesLike) -> bytes:
    return data.tobytes() if isinstance(data, memoryview) else bytes(data)


def _round_half_away(x: float) -> int:
    """Round to the nearest integer, halves away from zero (C ``lround``), as SPEC §4.2 requires."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def _check_int(name: str, value: object, offset: int, lo: int, hi: int, att_error: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProtocolError(f"{name} must be an integer, got {value!r}", offset=offset, att_error=att_error)
    if not lo <= value <= hi:
        raise ProtocolError(f"{name} {value} is outside {lo}..{hi}", offset=offset, att_error=att_error)
    return value


def _check_wrapping(name: str, value: object, offset: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError(f"{name} must be a non-negative integer, got {value!r}", offset=offset)
    return value % SEQ_MODULUS


_STATUS_BY_BYTE: Final[tuple[StatusFlags, ...]] = tuple(StatusFlags(b & STATUS_KNOWN_MASK) for b in range(256))
_QUAT_NORM_SQ_MIN: Final = ((1.0 - QUAT_NORM_TOLERANCE) * QUAT_ONE) ** 2
_QUAT_NORM_SQ_MAX: Final = ((1.0 + QUAT_NORM_TOLERANCE) * QUAT_ONE) ** 2


def _quat_norm_ok(raw: tuple[int, int, int, int]) -> bool:
    return _QUAT_NORM_SQ_MIN <= sum(c * c for c in raw) <= _QUAT_NORM_SQ_MAX


# ---------------------------------------------------------------------------------------------------------
# Motion frame (SPEC §4)


def decode_motion(data: BytesLike) -> MotionFrame:
    """Decode a motion notification. Bytes after the first 20 (later minor versions) are ignored.

    Raises:
        ProtocolError: fewer than 20 bytes, or a non-zero quaternion whose norm is not within 1 +- 0.05.
    """
    buf = data if type(data) is bytes else _to_bytes(data)
    if len(buf) < MOTION_FRAME_SIZE:
        raise ProtocolError(f"motion frame needs {MOTION_FRAME_SIZE} bytes, got {len(buf)}", offset=len(buf))
    seq, time_ms, qw, qx, qy, qz, ax, ay, az, status, _reserved = MOTION_STRUCT_LE_2U16_7I16_2U8.unpack_from(buf)
    norm_sq = qw * qw + qx * qx + qy * qy + qz * qz
    quat: Quat | None
    if _QUAT_NORM_SQ_MIN <= norm_sq <= _QUAT_NORM_SQ_MAX:
        quat = (qw / QUAT_ONE, qx / QUAT_ONE, qy / QUAT_ONE, qz / QUAT_ONE)
    elif norm_sq == 0:
        quat = None
    else:
        norm = math.sqrt(norm_sq) / QUAT_ONE
        raise ProtocolError(
            f"quaternion norm {norm:.4f} is not within 1 +- {QUAT_NORM_TOLERANCE}", offset=_MOTION_QUAT_OFFSET
        )
    return MotionFrame(
        seq,
        time_ms,
        quat,
        (ax / ACCEL_COUNTS_PER_G, ay / ACCEL_COUNTS_PER_G, az / ACCEL_COUNTS_PER_G),
        _STATUS_BY_BYTE[status],
    )


def _encode_quat(quat: Quat | None) -> tuple[int, int, int, int]:
    if quat is None:
        return (0, 0, 0, 0)
    if len(quat) != 4:
        raise ProtocolError(f"quaternion needs 4 components, got {len(quat)}", offset=_MOTION_QUAT_OFFSET)
    raw: list[int] = []
    for i, c in enumerate(quat):
        off = _MOTION_QUAT_OFFSET + 2 * i
        if not math.isfinite(c):
            raise ProtocolError(f"quaternion component {c!r} is not finite", offset=off)
        counts = _round_half_away(c * QUAT_ONE)
        if not -32768 <= counts <= 32767:
            raise ProtocolError(f"quaternion component {c!r} does not fit Q14 int16", offset=off)
        raw.append(counts)
    w, x, y, z = raw
    if not _quat_norm_ok((w, x, y, z)):
        raise ProtocolError(f"quaternion {quat!r} is not a unit quaternion", offset=_MOTION_QUAT_OFFSET)
    return (w, x, y, z)


def _encode_accel(accel_g: Vec3) -> tuple[int, int, int]:
    if len(accel_g) != 3:
        raise ProtocolError(f"acceleration needs 3 components, got {len(accel_g)}", offset=_MOTION_ACCEL_OFFSET)
    raw: list[int] = []
    for i, a in enumerate(accel_g):
        if not math.isfinite(a):
            raise ProtocolError(f"acceleration component {a!r} is not finite", offset=_MOTION_ACCEL_OFFSET + 2 * i)
        raw.append(min(32767, max(-32768, _round_half_away(a * ACCEL_COUNTS_PER_G))))
    x, y, z = raw
    return (x, y, z)


def encode_motion(frame: MotionFrame) -> bytes:
    """Encode a motion frame to its 20 wire bytes (SPEC §4).

    ``seq`` and ``device_time_ms`` may be any non-negative integer; they are sent modulo 65536. Quaternion
    components are rounded half away from zero to Q14, not re-normalised, and must describe a unit quaternion
    (norm of the rounded value within 1 +- 0.05, as the decoder checks) or be ``None``. Acceleration is
    rounded the same way and **clamped** to -8.0..+7.99976 g.

    Raises:
        ProtocolError: a negative or non-integer seq/time, a non-finite value, a quaternion that is not unit,
            or status bits v1.0 does not define.
    """
    seq = _check_wrapping("seq", frame.seq, 0)
    time_ms = _check_wrapping("device_time_ms", frame.device_time_ms, 2)
    qw, qx, qy, qz = _encode_quat(frame.quat_wxyz)
    ax, ay, az = _encode_accel(frame.accel_g)
    status = int(frame.status)
    if status & ~STATUS_KNOWN_MASK:
        raise ProtocolError(f"status 0x{status:02x} has bits v1.0 does not define", offset=_MOTION_STATUS_OFFSET)
    return MOTION_STRUCT_LE_2U16_7I16_2U8.pack(seq, time_ms, qw, qx, qy, qz, ax, ay, az, status, 0)


def seq_delta(prev_seq: int, seq: int) -> int:
    """Steps from ``prev_seq`` to ``seq`` modulo 65536 (1 = the next frame; ``n - 1`` frames were lost)."""
    return (seq - prev_seq) % SEQ_MODULUS


def unwrap_device_time_ms(prev_unwrapped_ms: int, raw_ms: int, host_elapsed_s: float = 0.0) -> int:
    """Extend a wrapping 16-bit device time to a monotonic count of milliseconds (SPEC §4.6).

    Args:
        prev_unwrapped_ms: the previous frame's unwrapped device time, in ms.
        raw_ms: this frame's ``device_time_ms`` (0..65535).
        host_elapsed_s: host time between the two frames' arrival, in s. Used only to count whole wraps
            the 16-bit value cannot show (a gap longer than 65.536 s); 0 when unknown.

    Returns:
        This frame's unwrapped device time in ms (never less than ``prev_unwrapped_ms``).
    """
    delta = (raw_ms - prev_unwrapped_ms) % DEVICE_TIME_MODULUS_MS
    wraps = 0
    if math.isfinite(host_elapsed_s) and host_elapsed_s > 0:
        wraps = max(0, round((host_elapsed_s * 1000.0 - delta) / DEVICE_TIME_MODULUS_MS))
    return prev_unwrapped_ms + delta + wraps * DEVICE_TIME_MODULUS_MS


# ---------------------------------------------------------------------------------------------------------
# Control commands (SPEC §5)


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    offset: int  # in the whole write, opcode included
    lo: int
    hi: int
    allowed: frozenset[int] | None = None


@dataclass(frozen=True, slots=True)
class _CommandLayout:
    cls: type[Command]
    layout: struct.Struct
    params: tuple[_Param, ...]
    build: Callable[[tuple[int, ...]], Command]


def _build_set_rate(v: tuple[int, ...]) -> Command:
    return SetRate(v[0])


def _build_cue(v: tuple[int, ...]) -> Command:
    return Cue(CuePattern(v[0]))


def _build_buzz(v: tuple[int, ...]) -> Command:
    return Buzz(v[0], v[1], v[2], v[3])


def _build_led(v: tuple[int, ...]) -> Command:
    return Led(v[0], v[1], v[2], v[3], v[4], v[5])


def _build_identify(v: tuple[int, ...]) -> Command:
    return Identify(v[0])


def _build_stop(v: tuple[int, ...]) -> Command:
    return StopOutputs()


def _build_reset(v: tuple[int, ...]) -> Command:
    return ResetOrientation()


_COMMANDS: Final[dict[int, _CommandLayout]] = {
    Opcode.SET_RATE: _CommandLayout(
        SetRate, U16_LE_STRUCT, (_Param("rate_hz", 1, 0, 0xFFFF, frozenset(RATE_TABLE_HZ)),), _build_set_rate
    ),
    Opcode.CUE: _CommandLayout(
        Cue, U8_STRUCT, (_Param("pattern", 1, 0, 0xFF, frozenset(int(p) for p in CuePattern)),), _build_cue
    ),
    Opcode.BUZZ: _CommandLayout(
        Buzz,
        BUZZ_STRUCT_LE_2U16_2U8,
        (
            _Param("on_ms", 1, 10, 2000),
            _Param("off_ms", 3, 0, 2000),
            _Param("count", 5, 1, 10),
            _Param("strength_pct", 6, 1, 100),
        ),
        _build_buzz,
    ),
    Opcode.LED: _CommandLayout(
        Led,
        LED_STRUCT_LE_3U8_2U16_U8,
        (
            _Param("red", 1, 0, 255),
            _Param("green", 2, 0, 255),
            _Param("blue", 3, 0, 255),
            _Param("on_ms", 4, 1, 10000),
            _Param("off_ms", 6, 0, 10000),
            _Param("count", 8, 0, 255),
        ),
        _build_led,
    ),
    Opcode.IDENTIFY: _CommandLayout(Identify, U8_STRUCT, (_Param("duration_s", 1, 0, 60),), _build_identify),
    Opcode.STOP_OUTPUTS: _CommandLayout(StopOutputs, EMPTY_STRUCT, (), _build_stop),
    Opcode.RESET_ORIENTATION: _CommandLayout(ResetOrientation, EMPTY_STRUCT, (), _build_reset),
}


def _check_params(layout: _CommandLayout, values: tuple[object, ...]) -> tuple[int, ...]:
    checked: list[int] = []
    for param, value in zip(layout.params, values, strict=True):
        v = _check_int(param.name, value, param.offset, param.lo, param.hi, ATT_ERROR_OUT_OF_RANGE)
        if param.allowed is not None and v not in param.allowed:
            allowed = ", ".join(str(a) for a in sorted(param.allowed))
            raise ProtocolError(
                f"{param.name} {v} is not one of {allowed}", offset=param.offset, att_error=ATT_ERROR_OUT_OF_RANGE
            )
        checked.append(v)
    return tuple(checked)


def _command_values(command: Command) -> tuple[object, ...]:
    match command:
        case SetRate(rate_hz=rate):
            return (rate,)
        case Cue(pattern=pattern):
            return (pattern,)
        case Buzz():
            return (command.on_ms, command.off_ms, command.count, command.strength_pct)
        case Led():
            return (command.red, command.green, command.blue, command.on_ms, command.off_ms, command.count)
        case Identify(duration_s=duration):
            return (duration,)
        case StopOutputs() | ResetOrientation():
            return ()


def encode_command(command: Command) -> bytes:
    """Encode a control command: one opcode byte, then its parameters (SPEC §5).

    Raises:
        ProtocolError: a parameter outside its range (``att_error`` says what a tag would answer).
    """
    opcode = getattr(command, "OPCODE", None)
    layout = _COMMANDS.get(opcode) if isinstance(opcode, int) else None
    if layout is None or not isinstance(command, layout.cls):
        raise ProtocolError(f"not a control command: {command!r}", offset=0, att_error=ATT_ERROR_UNKNOWN_OPCODE)
    values = _check_params(layout, _command_values(command))
    return U8_STRUCT.pack(command.OPCODE) + layout.layout.pack(*values)


def decode_command(data: BytesLike) -> Command:
    """Decode a control write as a tag does. Bytes after a command's parameters are ignored (SPEC §8).

    Raises:
        ProtocolError: empty write or short parameters (``att_error`` 0x0D), unknown opcode (0x80), or a
            parameter out of range (0xFF). ``offset`` points at the offending byte.
    """
    buf = _to_bytes(data)
    if not buf:
        raise ProtocolError("empty control write", offset=0, att_error=ATT_ERROR_INVALID_LENGTH)
    layout = _COMMANDS.get(buf[0])
    if layout is None:
        raise ProtocolError(f"unknown opcode 0x{buf[0]:02x}", offset=0, att_error=ATT_ERROR_UNKNOWN_OPCODE)
    needed = 1 + layout.layout.size
    if len(buf) < needed:
        raise ProtocolError(
            f"opcode 0x{buf[0]:02x} needs {needed} bytes, got {len(buf)}",
            offset=len(buf),
            att_error=ATT_ERROR_INVALID_LENGTH,
        )
    values = _check_params(layout, layout.layout.unpack_from(buf, 1))
    return layout.build(values)


# ---------------------------------------------------------------------------------------------------------
# Device info (SPEC §6)


def decode_device_info(data: BytesLike) -> DeviceInfo:
    """Decode the device-information value. Bytes after the first 7 and unknown bits are ignored.

    Raises:
        UnsupportedVersionError: the major version is not 1 (the rest of the value is then not read).
        ProtocolError: the value is too short.
    """
    buf = _to_bytes(data)
    if len(buf) < 1:
        raise ProtocolError("device info is empty", offset=0)
    if buf[0] != PROTOCOL_MAJOR:
        raise UnsupportedVersionError(buf[0])
    size = DEVICE_INFO_STRUCT_LE_2U8_U16_U8_U16.size
    if len(buf) < size:
        raise ProtocolError(f"device info needs {size} bytes, got {len(buf)}", offset=len(buf))
    major, minor, features, rate_bits, current = DEVICE_INFO_STRUCT_LE_2U8_U16_U8_U16.unpack_from(buf)
    rates = tuple(r for i, r in enumerate(RATE_TABLE_HZ) if rate_bits & (1 << i))
    return DeviceInfo(
        protocol_major=major,
        protocol_minor=minor,
        features=Feature(features & FEATURE_KNOWN_MASK),
        supported_rates_hz=rates,
        current_rate_hz=current,
    )


def encode_device_info(info: DeviceInfo) -> bytes:
    """Encode the device-information value (7 bytes).

    Raises:
        ProtocolError: major is not 1, a field out of range, an unknown feature bit or a rate not in
            :data:`RATE_TABLE_HZ`.
    """
    if info.protocol_major != PROTOCOL_MAJOR:
        raise ProtocolError(f"this codec encodes major version {PROTOCOL_MAJOR} only", offset=0)
    minor = _check_int("protocol_minor", info.protocol_minor, 1, 0, 255)
    features = int(info.features)
    if features & ~FEATURE_KNOWN_MASK or not 0 <= features <= 0xFFFF:
        raise ProtocolError(f"features 0x{features:04x} has bits v1.0 does not define", offset=2)
    rate_bits = 0
    for rate in info.supported_rates_hz:
        if rate not in RATE_TABLE_HZ:
            raise ProtocolError(f"rate {rate!r} Hz is not in the rate table {RATE_TABLE_HZ}", offset=4)
        rate_bits |= 1 << RATE_TABLE_HZ.index(rate)
    current = _check_int("current_rate_hz", info.current_rate_hz, 5, 0, 0xFFFF)
    return DEVICE_INFO_STRUCT_LE_2U8_U16_U8_U16.pack(PROTOCOL_MAJOR, minor, features, rate_bits, current)


# ---------------------------------------------------------------------------------------------------------
# Battery level (SPEC §7)


def decode_battery(data: BytesLike) -> int:
    """Decode a SIG Battery Level value: exactly one byte, percent 0..100.

    Raises:
        ProtocolError: not exactly one byte, or a value above 100 (never clamped: a corrupt byte must not
            read as a full battery).
    """
    buf = _to_bytes(data)
    if len(buf) != 1:
        raise ProtocolError(f"battery level must be 1 byte, got {len(buf)}", offset=min(len(buf), 1))
    if buf[0] > 100:
        raise ProtocolError(f"battery level {buf[0]} % is above 100", offset=0)
    return buf[0]


def encode_battery(percent: int) -> bytes:
    """Encode a battery state of charge (integer percent 0..100) as one byte.

    Raises:
        ProtocolError: ``percent`` is not an integer in 0..100.
    """
    return U8_STRUCT.pack(_check_int("battery percent", percent, 0, 0, 100))
