"""WitMotion BLE 5.0 IMUs (BWT901BLECL5.0, WT901BLECL "BLE 5.0", WT9011DCL-BT50): frames, registers, commands.

Source of every byte: ``shared/research/ble_tags.md`` §2, which cites [WIT-BLE5] (the vendor SDKs @ 9efaab0),
[WIT-REG] (``REG.h``), [WIT-DS] (WT901BLECL datasheet v20-0707) and [ZENN] (a bleak dump of a real tag).

Wire summary (all little-endian):

* One notify characteristic carries 20-byte frames, ``55 61`` (streamed IMU data) and ``55 71`` (register-read
  replies), with **no checksum**. Frames may arrive concatenated or split across notifications, so decoding is a
  stream: :class:`WitMotionStream` buffers, resyncs on a header and cuts 20-byte frames, like the vendor parsers.
* 0x61: accel ``raw/32768*16`` g, gyro ``raw/32768*2000`` dps, angles ``raw/32768*180`` degrees, roll (x),
  pitch (y), yaw (z), Euler order Z-Y-X ([WIT-DS] pp. 12-14). We turn the angles into a quaternion (tag frame to
  earth frame, ``R = Rz(yaw) Ry(pitch) Rx(roll)``).
* 0x71: uint16 start register + 8 int16 registers; register N sits at byte ``4 + 2 (N - start)`` ([WIT-DS] p. 15).
* Commands to the write characteristic: ``FF AA <reg> <lo> <hi>``; a register read is ``FF AA 27 <reg> 00``.

Units: ``accel_g`` in g, ``gyro_dps`` in degrees per second. **``mag_ut`` holds raw counts**, not microtesla: the
sources disagree on the unit (datasheet "mG", SDKs /120, older SDK chip-dependent factors; ble_tags.md §2.3).

**Streaming error policy** (:class:`WitMotionDecoder`): bytes that are not part of a frame are discarded and counted
(:attr:`WitMotionStream.garbage_bytes`); frames that parse but carry an unusable value (an all-zero quaternion, an
impossible battery voltage) are dropped and counted (:attr:`WitMotionDecoder.rejected_frames`). A notification
raises :class:`~posturebuddy.devices.base.DecodeError` only when it yields **nothing usable and** something was
discarded or rejected; a notification that merely carries part of a frame returns ``[]``. The stream's state
survives the error, so the next notification continues where this one stopped. Nothing but DecodeError escapes.
"""

from __future__ import annotations

import enum
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, replace

from posturebuddy.devices.base import Capabilities, DecodeError, GattWrite, NudgePattern, TagFamily
from posturebuddy.devices.battery import BytesLike
from posturebuddy.model import BatteryLevel, Decoded, Quat, RawPacket, Sample, Vec3

FAMILY_ID = "witmotion"

# --- UUIDs [WIT-BLE5] device_model.py, DeviceModel.java, BleUUID.java; [ZENN] bleak dump; ble_tags.md §2.1 --------
# The base ends in ...9a34fb, NOT the SIG base ...9b34fb: these are full 128-bit vendor UUIDs, and bleak's expansion
# of the short form "ffe4" would name a different characteristic.
WITMOTION_BASE_SUFFIX = "-0000-1000-8000-00805f9a34fb"
SERVICE_UUID = f"0000ffe5{WITMOTION_BASE_SUFFIX}"
NOTIFY_CHAR_UUID = f"0000ffe4{WITMOTION_BASE_SUFFIX}"  # device -> host
WRITE_CHAR_UUID = f"0000ffe9{WITMOTION_BASE_SUFFIX}"  # host -> device (write and write-without-response)

# --- frames [WIT-DS] §6.1.1 pp. 12-15; [WIT-BLE5] processData / OnReceiveBle; ble_tags.md §2.2-2.3 -----------------
FRAME_HEADER = 0x55
FLAG_IMU = 0x61
FLAG_REGISTERS = 0x71
FRAME_FLAGS = frozenset({FLAG_IMU, FLAG_REGISTERS})
FRAME_LENGTH = 20
REGISTERS_PER_REPLY = 8

IMU_FRAME = struct.Struct("<2B9h")  # header, flag, acc xyz, gyro xyz, roll/pitch/yaw
REGISTER_FRAME = struct.Struct("<2BH8h")  # header, flag, uint16 start register, 8 x int16 registers
assert IMU_FRAME.size == REGISTER_FRAME.size == FRAME_LENGTH

RAW_FULL_SCALE = 32768
ACCEL_FULL_SCALE_G = 16.0  # [WIT-DS] p. 12
GYRO_FULL_SCALE_DPS = 2000.0  # [WIT-DS] p. 12
ANGLE_FULL_SCALE_DEG = 180.0  # [WIT-DS] p. 13
QUATERNION_FULL_SCALE = 32768  # q = raw / 32768 [WIT-DS] p. 16; Bwt901bleProcessor.java
TEMPERATURE_LSB_PER_C = 100  # [WIT-DS]; Bwt901bleProcessor.java
BATTERY_LSB_PER_V = 100  # centivolts; DeviceModel.java

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


class Register(enum.IntEnum):
    """Register addresses used here ([WIT-REG] REG.h; ble_tags.md §2.3-2.4)."""

    SAVE = 0x00
    CALSW = 0x01
    RRATE = 0x03
    BANDWIDTH = 0x1F
    READADDR = 0x27
    VERSION = 0x2E
    HX = 0x3A
    HY = 0x3B
    HZ = 0x3C
    TEMP = 0x40
    Q0 = 0x51
    Q1 = 0x52
    Q2 = 0x53
    Q3 = 0x54
    BATTERY = 0x64
    KEY = 0x69


@dataclass(frozen=True, slots=True)
class RegisterGroup:
    """A run of consecutive registers that together hold one reading."""

    first: int
    count: int


REGISTER_GROUPS: dict[str, RegisterGroup] = {
    "quaternion": RegisterGroup(Register.Q0, 4),  # q0 (w), q1, q2, q3, /32768
    "magnetometer": RegisterGroup(Register.HX, 3),  # Hx, Hy, Hz, raw counts
    "temperature": RegisterGroup(Register.TEMP, 1),  # /100 -> degC
    "battery": RegisterGroup(Register.BATTERY, 1),  # /100 -> V
}

# --- battery percent [WIT-BLE5] DeviceModel.java GetBatteryPercent, as far as ble_tags.md §2.3 lists it ----------
# The vendor table is piecewise; ble_tags.md documents only its top two steps: > 3.96 V = 100 %, > 3.87 V = 75 %.
# We use exactly those steps (strictly greater, in centivolts) and report percent=None at or below 3.87 V: we only
# know the level is under 75 %, and inventing lower steps could raise false "battery empty" alarms. voltage_v is
# always reported, so the UI can still show the voltage.
BATTERY_PERCENT_STEPS: tuple[tuple[int, int], ...] = ((396, 100), (387, 75))
"""(threshold in centivolts, percent): the first step whose threshold the reading exceeds gives the percent."""

BATTERY_PLAUSIBLE_CENTIVOLTS = (0, 600)
"""A single Li-ion cell never reads outside 0..6 V; anything else is a misparsed frame (no checksum to catch it)."""


def battery_percent(centivolts: int) -> int | None:
    """The vendor's percent for a battery reading in centivolts, or ``None`` below the documented steps."""
    for threshold, percent in BATTERY_PERCENT_STEPS:
        if centivolts > threshold:
            return percent
    return None


# --- frame values ------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ImuFrame:
    """A decoded 0x61 frame (tag frame).

    Attributes:
        accel_g: acceleration, g (+-16 g full scale).
        gyro_dps: angular rate, degrees per second (+-2000 full scale).
        angles_deg: roll (x), pitch (y), yaw (z) in degrees, Euler order Z-Y-X.
    """

    accel_g: Vec3
    gyro_dps: Vec3
    angles_deg: Vec3


@dataclass(frozen=True, slots=True)
class RegisterFrame:
    """A decoded 0x71 reply: the start register and the 8 signed 16-bit registers that follow it."""

    start_register: int
    values: tuple[int, ...]

    def get(self, register: int) -> int | None:
        """The raw value of ``register`` if this reply covers it, else ``None``."""
        index = register - self.start_register
        if 0 <= index < len(self.values):
            return self.values[index]
        return None

    def group(self, group: RegisterGroup) -> tuple[int, ...] | None:
        """The raw values of a whole register group, or ``None`` unless the reply covers all of it."""
        index = group.first - self.start_register
        if index >= 0 and index + group.count <= len(self.values):
            return self.values[index : index + group.count]
        return None


WitFrame = ImuFrame | RegisterFrame


def _check_frame(data: BytesLike, flag: int) -> bytes:
    raw = bytes(data)
    if len(raw) != FRAME_LENGTH:
        raise DecodeError(FAMILY_ID, f"frame must be {FRAME_LENGTH} bytes, got {len(raw)}", data=raw)
    if raw[0] != FRAME_HEADER:
        raise DecodeError(FAMILY_ID, f"frame header 0x{raw[0]:02x} is not 0x55", offset=0, data=raw)
    if raw[1] != flag:
        raise DecodeError(FAMILY_ID, f"frame flag 0x{raw[1]:02x} is not 0x{flag:02x}", offset=1, data=raw)
    return raw


def decode_imu_frame(data: BytesLike) -> ImuFrame:
    """Decode one whole 20-byte ``55 61`` frame (signed int16 everywhere; [WT9011]'s unsigned read is a bug)."""
    raw = _check_frame(data, FLAG_IMU)
    _, _, ax, ay, az, gx, gy, gz, roll, pitch, yaw = IMU_FRAME.unpack(raw)
    a = ACCEL_FULL_SCALE_G / RAW_FULL_SCALE
    g = GYRO_FULL_SCALE_DPS / RAW_FULL_SCALE
    d = ANGLE_FULL_SCALE_DEG / RAW_FULL_SCALE
    return ImuFrame((ax * a, ay * a, az * a), (gx * g, gy * g, gz * g), (roll * d, pitch * d, yaw * d))


def decode_register_frame(data: BytesLike) -> RegisterFrame:
    """Decode one whole 20-byte ``55 71`` register reply."""
    raw = _check_frame(data, FLAG_REGISTERS)
    _, _, start, *values = REGISTER_FRAME.unpack(raw)
    return RegisterFrame(start, tuple(values))


def decode_frame(data: BytesLike) -> WitFrame:
    """Decode one whole 20-byte frame of either kind."""
    raw = bytes(data)
    if raw[1:2] == bytes([FLAG_REGISTERS]):
        return decode_register_frame(raw)
    return decode_imu_frame(raw)


def _saturate(value: float, scale: float, what: str) -> int:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return min(max(round(value * scale), INT16_MIN), INT16_MAX)


def wrap_angle_deg(angle_deg: float) -> float:
    """Wrap an angle into [-180, 180) degrees."""
    return (angle_deg + 180.0) % 360.0 - 180.0


def encode_imu_frame(accel_g: Vec3, gyro_dps: Vec3, angles_deg: Vec3) -> bytes:
    """Encode a 20-byte ``55 61`` frame. Accel and gyro saturate at full scale; angles are wrapped to [-180, 180)."""
    a = RAW_FULL_SCALE / ACCEL_FULL_SCALE_G
    g = RAW_FULL_SCALE / GYRO_FULL_SCALE_DPS
    d = RAW_FULL_SCALE / ANGLE_FULL_SCALE_DEG
    return IMU_FRAME.pack(
        FRAME_HEADER,
        FLAG_IMU,
        *(_saturate(v, a, "accel") for v in accel_g),
        *(_saturate(v, g, "gyro") for v in gyro_dps),
        *(_saturate(wrap_angle_deg(v) if math.isfinite(v) else v, d, "angle") for v in angles_deg),
    )


def encode_register_frame(start_register: int, values: Sequence[int]) -> bytes:
    """Encode a 20-byte ``55 71`` reply; fewer than 8 values are padded with zeros."""
    if not 0 <= start_register <= 0xFFFF:
        raise ValueError(f"start register must be 0..0xffff, got {start_register}")
    if len(values) > REGISTERS_PER_REPLY:
        raise ValueError(f"a reply holds at most {REGISTERS_PER_REPLY} registers, got {len(values)}")
    if not all(INT16_MIN <= v <= INT16_MAX for v in values):
        raise ValueError(f"register values must be int16, got {list(values)}")
    padded = [*values, *([0] * (REGISTERS_PER_REPLY - len(values)))]
    return REGISTER_FRAME.pack(FRAME_HEADER, FLAG_REGISTERS, start_register, *padded)


# --- orientation helpers -----------------------------------------------------------------------------------------
def euler_zyx_to_quat(roll_deg: float, pitch_deg: float, yaw_deg: float) -> Quat:
    """Quaternion (w, x, y, z) of ``Rz(yaw) Ry(pitch) Rx(roll)``: tag frame to earth frame (z up)."""
    hr, hp, hy = math.radians(roll_deg) / 2, math.radians(pitch_deg) / 2, math.radians(yaw_deg) / 2
    cr, sr = math.cos(hr), math.sin(hr)
    cp, sp = math.cos(hp), math.sin(hp)
    cy, sy = math.cos(hy), math.sin(hy)
    return (
        cr * cp * cy + sr * sp * sy,
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
    )


def quat_to_euler_zyx(quat_wxyz: Quat) -> Vec3:
    """Roll, pitch, yaw in degrees (Z-Y-X) of a unit quaternion; pitch in [-90, 90], roll and yaw in [-180, 180]."""
    w, x, y, z = quat_wxyz
    roll = math.atan2(2 * (w * x + y * z), 1 - 2 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
    yaw = math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
    return (math.degrees(roll), math.degrees(pitch), math.degrees(yaw))


# --- register readings -------------------------------------------------------------------------------------------
def quaternion_from_reply(frame: RegisterFrame) -> Quat | None:
    """The normalised quaternion in a reply covering registers 0x51-0x54, else ``None``.

    Raises:
        DecodeError: the four registers are all zero.
    """
    raw = frame.group(REGISTER_GROUPS["quaternion"])
    if raw is None:
        return None
    w, x, y, z = (v / QUATERNION_FULL_SCALE for v in raw)
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    if norm == 0.0:
        raise DecodeError(FAMILY_ID, "quaternion registers are all zero")
    return (w / norm, x / norm, y / norm, z / norm)


def mag_from_reply(frame: RegisterFrame) -> Vec3 | None:
    """The magnetometer reading (raw counts, see the module docstring) in a reply covering 0x3A-0x3C."""
    raw = frame.group(REGISTER_GROUPS["magnetometer"])
    if raw is None:
        return None
    return (float(raw[0]), float(raw[1]), float(raw[2]))


def temperature_c_from_reply(frame: RegisterFrame) -> float | None:
    """Temperature in degrees C (register 0x40, /100) if the reply covers it."""
    raw = frame.group(REGISTER_GROUPS["temperature"])
    return None if raw is None else raw[0] / TEMPERATURE_LSB_PER_C


def battery_from_reply(frame: RegisterFrame, *, t_s: float) -> BatteryLevel | None:
    """Battery voltage (register 0x64, /100 V) and the vendor percent, if the reply covers it.

    Raises:
        DecodeError: the voltage is outside :data:`BATTERY_PLAUSIBLE_CENTIVOLTS`.
    """
    raw = frame.group(REGISTER_GROUPS["battery"])
    if raw is None:
        return None
    centivolts = raw[0]
    lo, hi = BATTERY_PLAUSIBLE_CENTIVOLTS
    if not lo <= centivolts <= hi:
        raise DecodeError(FAMILY_ID, f"battery reading {centivolts / BATTERY_LSB_PER_V} V is not plausible")
    return BatteryLevel(t_s=t_s, percent=battery_percent(centivolts), voltage_v=centivolts / BATTERY_LSB_PER_V)


def encode_quaternion_reply(quat_wxyz: Quat) -> bytes:
    """The 0x71 reply to a quaternion read: start 0x51, q0..q3 = q * 32768 (saturating at 32767)."""
    return encode_register_frame(Register.Q0, [_saturate(v, QUATERNION_FULL_SCALE, "quaternion") for v in quat_wxyz])


def encode_mag_reply(mag_raw: Vec3, *, temperature_c: float | None = None) -> bytes:
    """The 0x71 reply to a magnetometer read: start 0x3A, Hx, Hy, Hz raw counts.

    The same reply window also covers 0x3D-0x41 (angles, temperature at 0x40); only temperature can be given
    here, the rest are sent as zero.
    """
    values = [_saturate(v, 1, "mag") for v in mag_raw] + [0] * 5
    if temperature_c is not None:
        values[Register.TEMP - Register.HX] = _saturate(temperature_c, TEMPERATURE_LSB_PER_C, "temperature")
    return encode_register_frame(Register.HX, values)


def encode_temperature_reply(temperature_c: float) -> bytes:
    """The 0x71 reply to a temperature read: start 0x40, value = degC * 100."""
    return encode_register_frame(Register.TEMP, [_saturate(temperature_c, TEMPERATURE_LSB_PER_C, "temperature")])


def encode_battery_reply(voltage_v: float) -> bytes:
    """The 0x71 reply to a battery read: start 0x64, value = volts * 100."""
    return encode_register_frame(Register.BATTERY, [_saturate(voltage_v, BATTERY_LSB_PER_V, "voltage")])


# --- streaming ---------------------------------------------------------------------------------------------------
class WitMotionStream:
    """Reassembles 20-byte frames from notifications that may split or concatenate them.

    Like the vendor parsers: keep a byte buffer, skip to the next ``55 61`` / ``55 71`` header, cut 20 bytes.
    Between calls the buffer holds at most one incomplete frame (< 20 bytes), so it is bounded by construction.
    A 22-byte 0x71 variant (a third-party claim, unverified; ble_tags.md §2.3) would cost 2 garbage bytes per
    reply and lose nothing. With no checksum, a header-like pair inside garbage can yield a bogus frame; that
    is a limit of the protocol, not of the parser.

    Attributes:
        garbage_bytes: bytes discarded so far because they were not part of a frame.
        frames: frames cut so far.
    """

    MAX_PENDING = FRAME_LENGTH - 1
    """The most bytes the buffer holds between calls."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.garbage_bytes = 0
        self.frames = 0

    @property
    def pending(self) -> bytes:
        """The bytes waiting for the rest of their frame."""
        return bytes(self._buffer)

    def _next_header(self, start: int) -> int:
        """Index of the next frame header at or after ``start``; a trailing lone 0x55 counts (it may be one)."""
        buf = self._buffer
        i = buf.find(FRAME_HEADER, start)
        while i != -1:
            if i + 1 == len(buf) or buf[i + 1] in FRAME_FLAGS:
                return i
            i = buf.find(FRAME_HEADER, i + 1)
        return len(buf)

    def feed(self, data: BytesLike) -> list[WitFrame]:
        """Add one notification's bytes; return every frame completed by them, in order."""
        buf = self._buffer
        buf += bytes(data)
        frames: list[WitFrame] = []
        i = 0
        while True:
            header = self._next_header(i)
            self.garbage_bytes += header - i
            i = header
            if len(buf) - i < FRAME_LENGTH:
                break
            frames.append(decode_frame(buf[i : i + FRAME_LENGTH]))
            i += FRAME_LENGTH
        del buf[:i]
        self.frames += len(frames)
        assert len(buf) <= self.MAX_PENDING
        return frames

    def reset(self) -> None:
        """Forget any partial frame (e.g. after a reconnect). Counters are kept."""
        self._buffer.clear()


def frame_items(frame: WitFrame, *, t_s: float) -> list[Decoded]:
    """What one frame contributes to the engine at sample time ``t_s`` (s).

    0x61 -> ``Sample(accel_g, gyro_dps, quat_wxyz)`` (quaternion from the Z-Y-X angles). 0x71 -> a ``Sample`` with
    ``quat_wxyz`` and/or ``mag_ut`` (raw counts) and/or a :class:`BatteryLevel`; a reply with none of these
    (temperature only, firmware version) contributes nothing. Raises DecodeError for an unusable value.
    """
    if isinstance(frame, ImuFrame):
        quat = euler_zyx_to_quat(*frame.angles_deg)
        return [Sample(t_s=t_s, accel_g=frame.accel_g, gyro_dps=frame.gyro_dps, quat_wxyz=quat)]
    items: list[Decoded] = []
    reply_quat = quaternion_from_reply(frame)
    mag = mag_from_reply(frame)
    if reply_quat is not None or mag is not None:
        items.append(Sample(t_s=t_s, quat_wxyz=reply_quat, mag_ut=mag))
    battery = battery_from_reply(frame, t_s=t_s)
    if battery is not None:
        items.append(battery)
    return items


class WitMotionDecoder:
    """Per-connection decoder: a :class:`WitMotionStream` plus the error policy in the module docstring.

    Attributes:
        stream: the reassembly buffer and its counters.
        rejected_frames: frames dropped because they carried an unusable value.
    """

    def __init__(self) -> None:
        self.stream = WitMotionStream()
        self.rejected_frames = 0

    def decode(self, packet: RawPacket) -> list[Decoded]:
        """Decode one notification from the notify characteristic. Raises only :class:`DecodeError`."""
        if packet.char_uuid.lower() != NOTIFY_CHAR_UUID:
            raise DecodeError(FAMILY_ID, f"unknown characteristic {packet.char_uuid}", data=packet.data)
        garbage_before = self.stream.garbage_bytes
        items: list[Decoded] = []
        reasons: list[str] = []
        for frame in self.stream.feed(packet.data):
            try:
                items.extend(frame_items(frame, t_s=packet.t_host_s))
            except DecodeError as exc:
                self.rejected_frames += 1
                reasons.append(exc.reason)
        garbage = self.stream.garbage_bytes - garbage_before
        if not items and (garbage or reasons):
            detail = [f"{garbage} byte(s) outside any frame discarded"] if garbage else []
            raise DecodeError(FAMILY_ID, "no usable frame: " + "; ".join(detail + reasons), data=packet.data)
        return items


# --- commands [WIT-BLE5] device_model.py get_writeBytes/writeReg, DeviceModel.java; [WIT-REG]; ble_tags.md §2.4 ----
COMMAND_PREFIX = b"\xff\xaa"
UNLOCK_COMMAND = bytes.fromhex("ffaa6988b5")  # KEY (0x69) = 0xB588; lasts about 10 s [WTVB01]
SAVE_COMMAND = bytes.fromhex("ffaa000000")
RESTORE_DEFAULTS_COMMAND = bytes.fromhex("ffaa000100")  # DeviceModel.java ReSet; semantics inferred (unverified)
ACCEL_CALIBRATION_COMMAND = bytes.fromhex("ffaa010100")  # Bwt901ble.java
ZERO_REFERENCE_ANGLE_COMMAND = bytes.fromhex("ffaa010800")  # CALSW = CALREFANGLE; DeviceModel.java SetAngle0
MAG_CALIBRATION_START_COMMAND = bytes.fromhex("ffaa010700")  # Bwt901ble.java
MAG_CALIBRATION_STOP_COMMAND = bytes.fromhex("ffaa010000")  # Bwt901ble.java

RRATE_HZ: dict[int, float] = {
    # RRATE code -> output rate [WIT-REG] REG.h (0x0A = 125 Hz is WT931 only and left out)
    0x01: 0.2,
    0x02: 0.5,
    0x03: 1.0,
    0x04: 2.0,
    0x05: 5.0,
    0x06: 10.0,
    0x07: 20.0,
    0x08: 50.0,
    0x09: 100.0,
    0x0B: 200.0,
}
RRATE_ONCE = 0x0C
RRATE_NONE = 0x0D
BLE5_RRATE_CODES = (0x03, 0x05, 0x06, 0x08, 0x09, 0x0B)
"""The codes the vendor's BLE 5.0 app offers (1/5/10/50/100/200 Hz); the rate builder snaps to these only."""

BANDWIDTH_CODES: dict[int, int] = {188: 0x02, 98: 0x03, 42: 0x04, 20: 0x05, 10: 0x06, 5: 0x07}
"""Bandwidth in Hz -> register 0x1F value (DeviceModel.java SetBandwidth)."""


def register_write_command(register: int, value: int) -> bytes:
    """``FF AA <reg> <valueL> <valueH>``: write a 16-bit value (0..0xffff, or a negative int16) to a register."""
    if not 0 <= register <= 0xFF:
        raise ValueError(f"register must be 0..0xff, got {register}")
    if not INT16_MIN <= value <= 0xFFFF:
        raise ValueError(f"register value must fit 16 bits, got {value}")
    return COMMAND_PREFIX + struct.pack("<BH", register, value & 0xFFFF)


@dataclass(frozen=True, slots=True)
class Command:
    """A host write to the write characteristic: ``FF AA <register> <value, uint16 LE>``."""

    register: int
    value: int


COMMAND = struct.Struct("<2sBH")  # prefix FF AA, register, uint16 value


def decode_command(data: BytesLike) -> Command:
    """Decode a 5-byte host command (what a virtual tag receives). A read request is register 0x27 with the
    register to read as its value.

    Raises:
        DecodeError: not 5 bytes, or not starting with ``FF AA``.
    """
    raw = bytes(data)
    if len(raw) != COMMAND.size:
        raise DecodeError(FAMILY_ID, f"command must be {COMMAND.size} bytes, got {len(raw)}", data=raw)
    prefix, register, value = COMMAND.unpack(raw)
    if prefix != COMMAND_PREFIX:
        raise DecodeError(FAMILY_ID, "command does not start with FF AA", offset=0, data=raw)
    return Command(register, value)


def read_register_command(register: int) -> bytes:
    """``FF AA 27 <reg> 00``: ask for a 0x71 reply starting at ``register``."""
    return register_write_command(Register.READADDR, register)


def snap_rate(rate_hz: float) -> tuple[int, float]:
    """The BLE 5.0 RRATE code (and its rate in Hz) nearest ``rate_hz``; a tie goes to the faster rate."""
    if not math.isfinite(rate_hz):
        raise ValueError(f"rate must be finite, got {rate_hz}")
    code = min(BLE5_RRATE_CODES, key=lambda c: (abs(RRATE_HZ[c] - rate_hz), -RRATE_HZ[c]))
    return code, RRATE_HZ[code]


def set_rate_command(rate_hz: float) -> bytes:
    """``FF AA 03 <code> 00`` for the supported rate nearest ``rate_hz`` (send after unlock, then save)."""
    return register_write_command(Register.RRATE, snap_rate(rate_hz)[0])


def set_bandwidth_command(bandwidth_hz: float) -> bytes:
    """``FF AA 1F <code> 00`` for the supported filter bandwidth nearest ``bandwidth_hz``."""
    nearest = min(BANDWIDTH_CODES, key=lambda bw: abs(bw - bandwidth_hz))
    return register_write_command(Register.BANDWIDTH, BANDWIDTH_CODES[nearest])


def _write(data: bytes, description: str, *, response: bool = True) -> GattWrite:
    return GattWrite(WRITE_CHAR_UUID, data, response=response, description=description)


SETTINGS_STEP_PAUSE_S = 0.1
"""Pause between unlock, write and save, seconds ([WIT-BLE5] device_model.py writeReg sleeps ~100 ms)."""


def settings_commands(command: bytes, description: str) -> list[GattWrite]:
    """The vendor's settings sequence: unlock, the write, save.

    The vendor waits about 100 ms between the steps ([WIT-BLE5] device_model.py writeReg), so each step asks
    the link for that pause.
    """
    return [
        replace(_write(UNLOCK_COMMAND, "unlock"), pause_after_s=SETTINGS_STEP_PAUSE_S),
        replace(_write(command, description), pause_after_s=SETTINGS_STEP_PAUSE_S),
        _write(SAVE_COMMAND, "save"),
    ]


def rate_commands(rate_hz: float) -> list[GattWrite]:
    """Unlock, set the output rate nearest ``rate_hz`` (1/5/10/50/100/200 Hz), save."""
    code, hz = snap_rate(rate_hz)
    return settings_commands(register_write_command(Register.RRATE, code), f"output rate {hz:g} Hz")


def zero_reference_angle_commands() -> list[GattWrite]:
    """Make the current attitude the tag's zero angle (unlock, ``FF AA 01 08 00``). Not saved to flash."""
    return [_write(UNLOCK_COMMAND, "unlock"), _write(ZERO_REFERENCE_ANGLE_COMMAND, "zero reference angle")]


def accel_calibration_commands() -> list[GattWrite]:
    """Start the accelerometer calibration (unlock, ``FF AA 01 01 00``); the tag must lie still and level."""
    return [_write(UNLOCK_COMMAND, "unlock"), _write(ACCEL_CALIBRATION_COMMAND, "accelerometer calibration")]


def read_register_write(register: int, description: str = "") -> GattWrite:
    """A register read as a write without response (the reply arrives as a 0x71 notification)."""
    return _write(read_register_command(register), description or f"read register 0x{register:02x}", response=False)


READ_QUATERNION = read_register_write(Register.Q0, "read quaternion")
READ_MAGNETOMETER = read_register_write(Register.HX, "read magnetometer")
READ_TEMPERATURE = read_register_write(Register.TEMP, "read temperature")
READ_BATTERY = read_register_write(Register.BATTERY, "read battery")

POLL_PERIOD_S = 0.15  # the vendor Android example polls about every 150 ms (Bwt901bleProcessor.java readDataThread)
BATTERY_POLL_EVERY = 100
"""For a link that alternates: read the battery on every 100th poll tick (15 s at 150 ms)."""


def poll_commands() -> list[GattWrite]:
    """Quaternion and battery reads, both every poll period.

    :class:`TagFamily` writes the whole list every ``poll_period_s`` and has no notion of "less often", so the
    battery read rides along: two 5-byte writes and two 20-byte replies per 150 ms, the same load as the vendor's
    own example (which polls 0x3A and 0x51 together). A link that wants to read the battery less often can use
    :func:`poll_commands_for_tick` instead.
    """
    return [READ_QUATERNION, READ_BATTERY]


def poll_commands_for_tick(tick: int, *, battery_every: int = BATTERY_POLL_EVERY) -> list[GattWrite]:
    """The reads for poll number ``tick`` (0, 1, 2, ...): the quaternion always, the battery every Nth tick."""
    if battery_every < 1:
        raise ValueError(f"battery_every must be >= 1, got {battery_every}")
    return [READ_QUATERNION, READ_BATTERY] if tick % battery_every == 0 else [READ_QUATERNION]


def nudge_commands(pattern: NudgePattern) -> list[GattWrite]:
    """WitMotion tags have no motor, buzzer or user LED: there is nothing to write."""
    del pattern
    return []


# --- posturebuddy decode: names and describe ---------------------------------------------------------------------
CHARACTERISTICS: dict[str, str] = {"notify": NOTIFY_CHAR_UUID, "write": WRITE_CHAR_UUID}
"""``posturebuddy decode --char`` names: ``notify`` (frames, device to host), ``write`` (commands, host to device)."""

KNOWN_COMMANDS: dict[bytes, str] = {
    UNLOCK_COMMAND: "unlock",
    SAVE_COMMAND: "save",
    RESTORE_DEFAULTS_COMMAND: "restore_defaults",
    ACCEL_CALIBRATION_COMMAND: "accel_calibration",
    ZERO_REFERENCE_ANGLE_COMMAND: "zero_reference_angle",
    MAG_CALIBRATION_START_COMMAND: "mag_calibration_start",
    MAG_CALIBRATION_STOP_COMMAND: "mag_calibration_stop",
}
"""Whole 5-byte commands with a fixed meaning (ble_tags.md §2.4), by the name ``describe`` reports."""


def _register_name(register: int) -> str | None:
    return Register(register).name if register in Register._value2member_map_ else None


def _register_fields(prefix: str, register: int) -> dict[str, object]:
    out: dict[str, object] = {prefix: f"0x{register:02x}"}
    name = _register_name(register)
    if name is not None:
        out[f"{prefix}_name"] = name
    return out


def describe_frame(frame: WitFrame) -> dict[str, object]:
    """One decoded frame as a flat mapping (kind ``imu_frame`` or ``register_reply``).

    ``imu_frame``: accel_g, gyro_dps, roll_deg, pitch_deg, yaw_deg and quat_wxyz (from the Z-Y-X angles, as the
    decoder computes it). ``register_reply``: start_register (hex) and its name, registers_raw (the 8 int16
    values) and every reading the reply covers: quat_wxyz (normalised), mag_raw (counts), temperature_c,
    voltage_v and battery_percent (the vendor table; null below 3.87 V).

    Raises:
        DecodeError: a reading the decoder rejects (all-zero quaternion, implausible battery voltage).
    """
    if isinstance(frame, ImuFrame):
        roll, pitch, yaw = frame.angles_deg
        return {
            "kind": "imu_frame",
            "accel_g": list(frame.accel_g),
            "gyro_dps": list(frame.gyro_dps),
            "roll_deg": roll,
            "pitch_deg": pitch,
            "yaw_deg": yaw,
            "quat_wxyz": list(euler_zyx_to_quat(roll, pitch, yaw)),
        }
    out: dict[str, object] = {"kind": "register_reply", **_register_fields("start_register", frame.start_register)}
    out["registers_raw"] = list(frame.values)
    quat = quaternion_from_reply(frame)
    if quat is not None:
        out["quat_wxyz"] = list(quat)
    mag = mag_from_reply(frame)
    if mag is not None:
        out["mag_raw"] = list(mag)
    temperature = temperature_c_from_reply(frame)
    if temperature is not None:
        out["temperature_c"] = temperature
    battery = battery_from_reply(frame, t_s=0.0)
    if battery is not None:
        out["voltage_v"] = battery.voltage_v
        out["battery_percent"] = battery.percent
    return out


def describe_notification(data: BytesLike) -> dict[str, object]:
    """Frames from the notify characteristic.

    Exactly 20 bytes must be one whole frame, described flat (:func:`describe_frame`). Any other length is fed to
    a fresh :class:`WitMotionStream`, as the decoder does, and gives ``{"kind": "frames", "frame_count",
    "frames": [...], "skipped_bytes", "incomplete_bytes"}``: every complete frame in order, the bytes outside any
    frame, and the bytes of a trailing partial frame.

    Raises:
        DecodeError: a 20-byte value that is not a frame, no complete frame at all, or a rejected reading.
    """
    raw = bytes(data)
    if len(raw) == FRAME_LENGTH:
        return describe_frame(decode_frame(raw))
    stream = WitMotionStream()
    frames = stream.feed(raw)
    if not frames:
        raise DecodeError(
            FAMILY_ID, f"no complete {FRAME_LENGTH}-byte frame (55 61 or 55 71) in {len(raw)} bytes", data=raw
        )
    return {
        "kind": "frames",
        "frame_count": len(frames),
        "frames": [describe_frame(frame) for frame in frames],
        "skipped_bytes": stream.garbage_bytes,
        "incomplete_bytes": len(stream.pending),
    }


def describe_command(data: BytesLike) -> dict[str, object]:
    """A host command (``FF AA <reg> <value LE>``) as kind ``command``.

    Keys: command (what it does: ``read_register``, ``set_output_rate``, ``set_bandwidth``, ``unlock``, ``save``,
    ``restore_defaults``, the calibrations, or ``write_register``), register (hex) and register_name, value and
    value_hex; plus read_register/read_register_name/reading for a read, rate_hz for RRATE, bandwidth_hz for the
    filter bandwidth.

    Raises:
        DecodeError: not 5 bytes, or not starting with ``FF AA``.
    """
    raw = bytes(data)
    command = decode_command(raw)
    out: dict[str, object] = {"kind": "command", "command": KNOWN_COMMANDS.get(raw, "write_register")}
    out.update(_register_fields("register", command.register))
    out.update(value=command.value, value_hex=f"0x{command.value:04x}")
    if command.register == Register.READADDR:
        out["command"] = "read_register"
        out.update(_register_fields("read_register", command.value))
        for reading, group in REGISTER_GROUPS.items():
            if group.first == command.value:
                out["reading"] = reading
    elif command.register == Register.RRATE:
        out["command"] = "set_output_rate"
        if command.value in RRATE_HZ:
            out["rate_hz"] = RRATE_HZ[command.value]
        elif command.value in (RRATE_ONCE, RRATE_NONE):
            out["rate"] = "once" if command.value == RRATE_ONCE else "none"
    elif command.register == Register.BANDWIDTH:
        out["command"] = "set_bandwidth"
        for bandwidth_hz, code in BANDWIDTH_CODES.items():
            if code == command.value:
                out["bandwidth_hz"] = bandwidth_hz
    return out


def describe(char_uuid: str, data: bytes) -> dict[str, object]:
    """Decode a notify value (:func:`describe_notification`) or a command write (:func:`describe_command`) for
    ``posturebuddy decode``. Raises only :class:`DecodeError` (also for an unknown characteristic)."""
    uuid = char_uuid.lower()
    if uuid == NOTIFY_CHAR_UUID:
        return describe_notification(data)
    if uuid == WRITE_CHAR_UUID:
        return describe_command(data)
    raise DecodeError(FAMILY_ID, f"unknown characteristic {char_uuid}", data=data)


FAMILY = TagFamily(
    family_id=FAMILY_ID,
    display_name="WitMotion BLE 5.0 IMU",
    service_uuids=(SERVICE_UUID,),
    # The vendor's Python example keeps devices whose name contains "WT" ([WIT-BLE5] test.py); the advertised
    # names start with it (WT901BLE..., WT9011DCL...).
    name_prefixes=("WT",),
    notify_uuids=(NOTIFY_CHAR_UUID,),
    capabilities=Capabilities(
        quaternion=True,
        accel=True,
        gyro=True,
        mag=False,  # readable from registers 0x3A-0x3C, not polled by default (raw counts, unit unclear)
        haptic=False,
        sound=False,
        led=False,
        battery=True,  # register 0x64, polled; no SIG battery service is known
        sample_rates_hz=tuple(RRATE_HZ[c] for c in BLE5_RRATE_CODES),
    ),
    default_rate_hz=50.0,
    make_decoder=WitMotionDecoder,
    rate_commands=rate_commands,
    nudge_commands=nudge_commands,
    poll_commands=poll_commands,
    poll_period_s=POLL_PERIOD_S,
    characteristics=CHARACTERISTICS,
    describe=describe,
    notes=(
        "UUIDs use the base ...-0000-1000-8000-00805f9a34fb (9a, not the SIG 9b): short forms do not work.",
        "Settings are unlock, write, save with about 100 ms between the writes.",
        "Magnetometer values are raw counts.",
        "No way to nudge: the tag has no motor, buzzer or LED the host can drive.",
    ),
)
