"""The open PostureBuddy Tag profile (``firmware_protocol/SPEC.md``): the tag family adapter.

The wire format lives in :mod:`firmware_protocol`; this module maps it onto the app's model:

* a motion notification becomes a :class:`~posturebuddy.model.Sample` (quaternion normalised, acceleration
  in g in the tag frame, ``seq``, ``device_time_s`` still wrapping every 65.536 s) and, on the first frame
  and whenever a flag changes, a :class:`~posturebuddy.model.TagStatus`;
* a Battery Level value becomes a :class:`~posturebuddy.model.BatteryLevel`;
* a device-information read is checked (an unknown major version is rejected) and yields nothing.

Mounting (SPEC §3): the tag lies flat on the upper back between the shoulder blades, label facing out
(away from the skin), USB port towards the head. Then ``+y`` points up along the spine, ``+x`` to the
wearer's right and ``+z`` backwards out of the back, so *forward* is ``-z`` and an upright wearer at rest
reads about ``(0, +1, 0)`` g.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from firmware_protocol import (
    ACCEL_COUNTS_PER_G,
    BATTERY_LEVEL_CHAR_UUID,
    CONTROL_CHAR_UUID,
    DEFAULT_RATE_HZ,
    DEVICE_INFO_CHAR_UUID,
    DEVICE_TIME_MODULUS_MS,
    LOCAL_NAME_PREFIX,
    MOTION_CHAR_UUID,
    MOTION_FRAME_SIZE,
    QUAT_NORM_TOLERANCE,
    QUAT_ONE,
    RATE_TABLE_HZ,
    SEQ_MODULUS,
    SERVICE_UUID,
    Buzz,
    BytesLike,
    Cue,
    CuePattern,
    Identify,
    Led,
    MotionFrame,
    ProtocolError,
    ResetOrientation,
    SetRate,
    StatusFlags,
    StopOutputs,
    decode_battery,
    decode_command,
    decode_device_info,
    decode_motion,
    encode_command,
)
from posturebuddy.devices.base import Capabilities, DecodeError, GattWrite, NudgePattern, TagFamily, plain_fields
from posturebuddy.model import BatteryLevel, Decoded, RawPacket, Sample, TagStatus, Vec3

FAMILY_ID = "posturebuddy"
"""Family id used in config files, recordings and :class:`DecodeError`."""

FORWARD_AXIS: Vec3 = (0.0, 0.0, -1.0)
"""Forward from the wearer's back, in the tag frame, for the documented mounting (label out, USB up)."""

SUPPORTED_RATES_HZ: tuple[float, ...] = tuple(float(r) for r in RATE_TABLE_HZ)
"""The profile's rate table in Hz. A given tag may support fewer (its device info says which)."""

IDENTIFY_DURATION_S = 5
"""How long an IDENTIFY nudge lasts, in seconds."""

_CUE_FOR_PATTERN: dict[NudgePattern, CuePattern] = {
    NudgePattern.GENTLE: CuePattern.GENTLE,
    NudgePattern.ATTENTION: CuePattern.ATTENTION,
    NudgePattern.CONFIRM: CuePattern.CONFIRM,
}

_STATUS_BITS = int(
    StatusFlags.CHARGING
    | StatusFlags.LOW_BATTERY
    | StatusFlags.WEAR_DETECT
    | StatusFlags.WORN
    | StatusFlags.CALIBRATING
)
"""The flags that make up :class:`TagStatus` (``STREAM_START`` is per frame, not a state)."""


def _decode_error(err: ProtocolError, data: BytesLike) -> DecodeError:
    return DecodeError(FAMILY_ID, err.reason, offset=err.offset, data=bytes(data))


def _status_from_flags(flags: StatusFlags, t_s: float) -> TagStatus:
    worn = bool(flags & StatusFlags.WORN) if flags & StatusFlags.WEAR_DETECT else None
    return TagStatus(
        t_s=t_s,
        charging=bool(flags & StatusFlags.CHARGING),
        low_battery=bool(flags & StatusFlags.LOW_BATTERY),
        worn=worn,
        calibrating=bool(flags & StatusFlags.CALIBRATING),
    )


def _motion_frame(data: BytesLike) -> MotionFrame:
    try:
        return decode_motion(data)
    except ProtocolError as err:
        raise _decode_error(err, data) from err


def _sample_from_frame(frame: MotionFrame, t_s: float) -> Sample:
    quat = frame.quat_wxyz
    if quat is not None:
        w, x, y, z = quat
        norm = math.sqrt(w * w + x * x + y * y + z * z)  # within 1 +- 0.05: decode_motion checked it
        quat = (w / norm, x / norm, y / norm, z / norm)
    return Sample(
        t_s=t_s,
        accel_g=frame.accel_g,
        quat_wxyz=quat,
        seq=frame.seq,
        device_time_s=frame.device_time_ms / 1000.0,
    )


def decode_sample(data: BytesLike, *, t_s: float) -> tuple[Sample, TagStatus]:
    """Decode a motion notification into a sample and the tag's status, both at host time ``t_s`` (s).

    The quaternion (tag frame -> earth frame, z up) is normalised; ``None`` when the tag marks it invalid.
    Acceleration is specific force in the tag frame, in g. ``device_time_s`` is the tag's 16-bit millisecond
    clock in seconds (0..65.535, wrapping; the link unwraps it).

    Raises:
        DecodeError: the bytes are not a valid motion frame.
    """
    frame = _motion_frame(data)
    return _sample_from_frame(frame, t_s), _status_from_flags(frame.status, t_s)


MOTION_DTYPE = np.dtype(
    [("seq", "<u2"), ("time_ms", "<u2"), ("quat", "<i2", (4,)), ("accel", "<i2", (3,)), ("status", "u1"), ("res", "u1")]
)
"""The 20-byte motion frame (SPEC §4, ``<HH7hBB``) as a numpy record."""


def decode_motion_batch(
    frames: bytes, count: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    """Vectorised :func:`decode_sample` for ``count`` motion frames of exactly 20 bytes, concatenated.

    Returns ``(seq, device_time_s, quat_wxyz (N, 4), accel_g (N, 3))`` with the same values, bit for bit, as the
    per-frame decoder (quaternion normalised; NaN rows where the tag marks it invalid), or ``None`` if any frame
    would be rejected (a non-zero quaternion whose norm is not within 1 +- 0.05): decode those one by one.
    """
    if len(frames) != count * MOTION_FRAME_SIZE:
        raise ValueError(f"{len(frames)} bytes is not {count} motion frames")
    rec = np.frombuffer(frames, dtype=MOTION_DTYPE, count=count)
    raw = rec["quat"].astype(np.int64)
    norm_sq = raw[:, 0] * raw[:, 0] + raw[:, 1] * raw[:, 1] + raw[:, 2] * raw[:, 2] + raw[:, 3] * raw[:, 3]
    lo = ((1.0 - QUAT_NORM_TOLERANCE) * QUAT_ONE) ** 2
    hi = ((1.0 + QUAT_NORM_TOLERANCE) * QUAT_ONE) ** 2
    valid = (norm_sq >= lo) & (norm_sq <= hi)
    if not np.all(valid | (norm_sq == 0)):
        return None
    q = raw.astype(np.float64) / QUAT_ONE
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    norm = np.sqrt(w * w + x * x + y * y + z * z)  # the per-frame decoder's order of operations: same rounding
    quat = np.where(valid[:, None], q / np.where(valid, norm, 1.0)[:, None], np.nan)
    accel = rec["accel"].astype(np.float64) / ACCEL_COUNTS_PER_G
    return rec["seq"].astype(np.int64), rec["time_ms"] / 1000.0, quat, accel


def decode_battery_level(data: BytesLike, *, t_s: float) -> BatteryLevel:
    """Decode a SIG Battery Level value (one byte, 0..100 %) at host time ``t_s`` (s).

    Raises:
        DecodeError: not exactly one byte, or above 100 %.
    """
    try:
        percent = decode_battery(data)
    except ProtocolError as err:
        raise _decode_error(err, data) from err
    return BatteryLevel(t_s=t_s, percent=percent)


class PbTagDecoder:
    """Per-connection decoder. Its only state is the last status, so :class:`TagStatus` is emitted on change."""

    def __init__(self) -> None:
        self._last_status: int | None = None

    def decode(self, packet: RawPacket) -> list[Decoded]:
        """Decode one notification or read reply; raises only :class:`DecodeError`."""
        uuid = packet.char_uuid.lower()
        if uuid == MOTION_CHAR_UUID:
            frame = _motion_frame(packet.data)
            out: list[Decoded] = [_sample_from_frame(frame, packet.t_host_s)]
            flags = int(frame.status) & _STATUS_BITS
            if flags != self._last_status:
                self._last_status = flags
                out.append(_status_from_flags(frame.status, packet.t_host_s))
            return out
        if uuid == BATTERY_LEVEL_CHAR_UUID:
            return [decode_battery_level(packet.data, t_s=packet.t_host_s)]
        if uuid == DEVICE_INFO_CHAR_UUID:
            try:
                decode_device_info(packet.data)
            except ProtocolError as err:
                raise _decode_error(err, packet.data) from err
            return []
        raise DecodeError(FAMILY_ID, f"unexpected characteristic {uuid}", data=packet.data)


def make_decoder() -> PbTagDecoder:
    """A fresh decoder for a new connection."""
    return PbTagDecoder()


def nearest_rate_hz(hz: float) -> int:
    """The rate-table entry nearest to ``hz`` (ties go to the higher rate).

    Raises:
        ValueError: ``hz`` is not a positive number.
    """
    if not hz > 0 or math.isnan(hz):
        raise ValueError(f"sample rate must be a positive number of Hz, got {hz!r}")
    return min(RATE_TABLE_HZ, key=lambda r: (abs(r - hz), -r))


def rate_commands(hz: float) -> list[GattWrite]:
    """SET_RATE to the supported rate nearest ``hz`` (see :func:`nearest_rate_hz`)."""
    rate = nearest_rate_hz(hz)
    return [GattWrite(CONTROL_CHAR_UUID, encode_command(SetRate(rate)), description=f"set sample rate {rate} Hz")]


def nudge_commands(pattern: NudgePattern) -> list[GattWrite]:
    """One control write: a CUE (rendered on whatever buzzer/LED the tag has) or IDENTIFY for 5 s."""
    if pattern is NudgePattern.IDENTIFY:
        data = encode_command(Identify(IDENTIFY_DURATION_S))
        return [GattWrite(CONTROL_CHAR_UUID, data, description=f"identify for {IDENTIFY_DURATION_S} s")]
    cue = _CUE_FOR_PATTERN[pattern]
    data = encode_command(Cue(cue))
    return [GattWrite(CONTROL_CHAR_UUID, data, description=f"cue {cue.name.lower()}")]


# --- posturebuddy decode: names and describe ---------------------------------------------------------------------
CHARACTERISTICS: dict[str, str] = {
    "motion": MOTION_CHAR_UUID,
    "control": CONTROL_CHAR_UUID,
    "info": DEVICE_INFO_CHAR_UUID,
    "battery": BATTERY_LEVEL_CHAR_UUID,
}
"""``posturebuddy decode --char`` names of the profile's characteristics (SPEC §2)."""


def _describe_motion(data: BytesLike) -> dict[str, object]:
    frame = _motion_frame(data)
    return {
        "kind": "motion",
        "seq": frame.seq,
        "device_time_ms": frame.device_time_ms,
        "quat_wxyz": None if frame.quat_wxyz is None else list(frame.quat_wxyz),
        "accel_g": list(frame.accel_g),
        "accel_saturated": frame.accel_saturated,
        "status": plain_fields(frame.status),
    }


def _describe_command(data: BytesLike) -> dict[str, object]:
    try:
        command = decode_command(data)
    except ProtocolError as err:
        raise _decode_error(err, data) from err
    out: dict[str, object] = {"kind": "command", "command": command.OPCODE.name.lower()}
    out["opcode"] = f"0x{int(command.OPCODE):02x}"
    match command:
        case SetRate(rate_hz=rate):
            out["rate_hz"] = rate
        case Cue(pattern=pattern):
            out["pattern"] = pattern.name.lower()
        case Buzz():
            out.update(on_ms=command.on_ms, off_ms=command.off_ms, count=command.count)
            out["strength_percent"] = command.strength_pct
        case Led():
            out.update(red=command.red, green=command.green, blue=command.blue)
            out.update(on_ms=command.on_ms, off_ms=command.off_ms, count=command.count)
        case Identify(duration_s=duration):
            out["duration_s"] = duration
        case StopOutputs() | ResetOrientation():
            pass
    return out


def _describe_info(data: BytesLike) -> dict[str, object]:
    try:
        info = decode_device_info(data)
    except ProtocolError as err:
        raise _decode_error(err, data) from err
    return {
        "kind": "device_info",
        "protocol_version": f"{info.protocol_major}.{info.protocol_minor}",
        "protocol_major": info.protocol_major,
        "protocol_minor": info.protocol_minor,
        "features": plain_fields(info.features),
        "supported_rates_hz": list(info.supported_rates_hz),
        "current_rate_hz": info.current_rate_hz,
    }


def _describe_battery(data: BytesLike) -> dict[str, object]:
    return {"kind": "battery_level", "battery_percent": decode_battery_level(data, t_s=0.0).percent}


def describe(char_uuid: str, data: bytes) -> dict[str, object]:
    """Decode one value of a profile characteristic for ``posturebuddy decode``.

    * motion: ``{"kind": "motion", "seq", "device_time_ms", "quat_wxyz" (as carried, null = no orientation),
      "accel_g", "accel_saturated", "status" (flag names)}``.
    * control: ``{"kind": "command", "command" (set_rate, cue, buzz, led, identify, stop_outputs,
      reset_orientation), "opcode"}`` plus the parameters: rate_hz; pattern; on_ms, off_ms, count,
      strength_percent; red, green, blue, on_ms, off_ms, count; duration_s.
    * info: ``{"kind": "device_info", "protocol_version", "protocol_major", "protocol_minor", "features",
      "supported_rates_hz", "current_rate_hz"}``.
    * battery: ``{"kind": "battery_level", "battery_percent"}``.

    Raises:
        DecodeError: an unknown characteristic or bytes the profile rejects.
    """
    uuid = char_uuid.lower()
    if uuid == MOTION_CHAR_UUID:
        return _describe_motion(data)
    if uuid == CONTROL_CHAR_UUID:
        return _describe_command(data)
    if uuid == DEVICE_INFO_CHAR_UUID:
        return _describe_info(data)
    if uuid == BATTERY_LEVEL_CHAR_UUID:
        return _describe_battery(data)
    raise DecodeError(FAMILY_ID, f"unexpected characteristic {uuid}", data=data)


FAMILY = TagFamily(
    family_id=FAMILY_ID,
    display_name="PostureBuddy Tag",
    service_uuids=(SERVICE_UUID,),
    name_prefixes=(LOCAL_NAME_PREFIX,),
    notify_uuids=(MOTION_CHAR_UUID,),
    capabilities=Capabilities(
        quaternion=True,
        accel=True,
        gyro=False,
        mag=False,
        haptic=True,
        sound=False,
        led=True,
        battery=True,
        sample_rates_hz=SUPPORTED_RATES_HZ,
    ),
    default_rate_hz=float(DEFAULT_RATE_HZ),
    make_decoder=make_decoder,
    rate_commands=rate_commands,
    nudge_commands=nudge_commands,
    battery_uuid=BATTERY_LEVEL_CHAR_UUID,
    info_uuid=DEVICE_INFO_CHAR_UUID,
    seq_modulus=SEQ_MODULUS,
    device_clock_period_s=DEVICE_TIME_MODULUS_MS / 1000.0,
    forward_axis=FORWARD_AXIS,
    characteristics=CHARACTERISTICS,
    describe=describe,
    notes=(
        "Open profile: any board with an IMU running firmware that follows firmware_protocol/SPEC.md.",
        "Haptic motor and LED are optional per tag; nudges use CUE, which every tag accepts.",
        "Worn as SPEC.md describes: flat on the upper back, label out, USB port towards the head.",
    ),
)
"""The PostureBuddy Tag family."""
