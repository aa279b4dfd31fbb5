"""Core value types: packets, samples, angles, states and prompts.

See the package docstring of :mod:`posturebuddy.model` for frames, units and time conventions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

Vec3 = tuple[float, float, float]
"""A 3-vector in the tag frame (x, y, z). The unit is in the name of the field holding it."""

Quat = tuple[float, float, float, float]
"""A unit quaternion ``(w, x, y, z)`` rotating tag-frame vectors into the earth frame (z up)."""


@dataclass(frozen=True, slots=True)
class RawPacket:
    """One notification (or read reply) exactly as it came off the link.

    This is what the recorder stores and what replay feeds back through the decoders.

    Attributes:
        t_host_s: host time of reception in seconds (POSIX epoch for live sessions, simulated epoch for
            simulations). Replay reproduces this time exactly.
        char_uuid: lowercase 128-bit UUID string of the characteristic the bytes came from.
        data: the payload bytes, unmodified.
    """

    t_host_s: float
    char_uuid: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Sample:
    """One decoded motion sample. Fields a tag family does not provide are ``None``.

    Attributes:
        t_s: sample time in seconds (see the module docstring).
        accel_g: specific force in the tag frame, in g.
        gyro_dps: angular rate in the tag frame, in degrees per second.
        mag_ut: magnetic field in the tag frame, in microtesla (or raw counts where a tag family's unit is
            unknown; the family module says so).
        quat_wxyz: the tag's own orientation estimate, tag frame to earth frame, normalised.
        gravity_g: the tag's own estimate of the gravity part of ``accel_g`` in the tag frame, in g, with the
            accelerometer's sign convention (+1 g along the axis that points *up* at rest), e.g. Thingy:52's
            gravity characteristic converted from m/s^2. ``None`` if the tag does not send one.
        seq: the tag's packet sequence number where the protocol carries one.
        device_time_s: the tag's own clock in seconds where the protocol carries one (may wrap; the link
            layer unwraps it).
    """

    t_s: float
    accel_g: Vec3 | None = None
    gyro_dps: Vec3 | None = None
    mag_ut: Vec3 | None = None
    quat_wxyz: Quat | None = None
    gravity_g: Vec3 | None = None
    seq: int | None = None
    device_time_s: float | None = None


@dataclass(frozen=True, slots=True)
class BatteryLevel:
    """A battery reading.

    Attributes:
        t_s: sample time in seconds.
        percent: state of charge 0..100, or ``None`` where the tag reports only a voltage.
        voltage_v: battery voltage in volts where the tag reports it.
    """

    t_s: float
    percent: int | None
    voltage_v: float | None = None


@dataclass(frozen=True, slots=True)
class TagStatus:
    """Status flags a tag reports alongside its data (PostureBuddy profile status byte and similar).

    Attributes:
        t_s: sample time in seconds.
        charging: the tag is on its charger.
        low_battery: the tag reports a low battery.
        worn: the tag believes it is worn (``None`` if it cannot tell).
        calibrating: the tag's own sensor calibration is running.
    """

    t_s: float
    charging: bool = False
    low_battery: bool = False
    worn: bool | None = None
    calibrating: bool = False


Decoded = Sample | BatteryLevel | TagStatus
"""Anything a tag family decoder can produce from a packet."""


@dataclass(frozen=True, slots=True)
class TagInfo:
    """What a scan learns about a supported tag.

    Attributes:
        family: tag family id (``posturebuddy``, ``thingy52``, ``witmotion``, ``sensortag``, ``microbit``).
        name: advertised local name ("" if none).
        address: Bluetooth address (or platform identifier, e.g. a UUID on macOS).
        rssi_dbm: received signal strength of the last advertisement, in dBm.
    """

    family: str
    name: str
    address: str
    rssi_dbm: int | None = None


@dataclass(frozen=True, slots=True)
class PostureAngles:
    """Trunk angles relative to the wearer's calibrated upright posture.

    Attributes:
        t_s: sample time in seconds.
        flexion_deg: forward (+) / backward (-) tilt of the upper back in the sagittal plane, degrees.
        lateral_deg: sideways tilt, right (+) / left (-), degrees.
        total_deg: the whole angle between the current and the upright gravity direction, degrees (>= 0).
    """

    t_s: float
    flexion_deg: float
    lateral_deg: float
    total_deg: float


class ConnectionState(enum.StrEnum):
    """Where the link to a tag is. Changes are published as :class:`ConnectionStateChanged` events."""

    IDLE = "idle"
    SCANNING = "scanning"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


class Activity(enum.StrEnum):
    """What the wearer's body is doing, as far as an upper-back tag can tell."""

    STILL = "still"
    FIDGET = "fidget"
    SIT_TO_STAND = "sit_to_stand"
    STANDING = "standing"
    WALKING = "walking"
    NO_DATA = "no_data"


class PostureClass(enum.StrEnum):
    """Posture as the detector classifies it. ``MOVING`` and ``AWAY`` mean posture is not judged."""

    UPRIGHT = "upright"
    FORWARD_HEAD = "forward_head"
    SLOUCH = "slouch"
    LEANING_BACK = "leaning_back"
    SIDE_LEAN = "side_lean"
    MOVING = "moving"
    AWAY = "away"


class PromptKind(enum.StrEnum):
    """What the coach asks the wearer to do."""

    CHIN_TUCK = "chin_tuck"
    SIT_TALL = "sit_tall"
    BREAK = "break"


class PromptOutcome(enum.StrEnum):
    """How a prompt ended."""

    DONE = "done"
    SNOOZED = "snoozed"
    SKIPPED = "skipped"
    EXPIRED = "expired"
    AUTO_COMPLETED = "auto_completed"


@dataclass(frozen=True, slots=True)
class Prompt:
    """A coaching prompt raised at sample time ``t_s``.

    Attributes:
        prompt_id: unique within a session, increasing.
        kind: what is asked.
        t_s: sample time the prompt was raised, seconds.
        reason: a short human sentence saying why (e.g. "forward head for 45 s").
        nudge: whether the tag should also buzz/beep/flash for it.
    """

    prompt_id: int
    kind: PromptKind
    t_s: float
    reason: str
    nudge: bool = False
    details: tuple[tuple[str, str], ...] = field(default_factory=tuple)
