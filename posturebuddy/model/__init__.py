"""Plain data shared by every layer: frozen, slotted dataclasses and enums.

Conventions used throughout the project:

* **Units are in field names**: ``accel_g`` (standard gravity, 9.80665 m/s^2), ``gyro_dps`` (degrees per
  second), ``mag_ut`` (microtesla), ``*_s`` (seconds), ``*_deg`` (degrees), ``*_hz`` (hertz).
* **Tag frame**: the sensor's own right-handed x, y, z axes as the tag family defines them. Every vector
  measured by the tag (acceleration, angular rate, magnetic field, gravity) is in this frame.
* **Quaternions** are always ``(w, x, y, z)`` and rotate a vector from the tag frame into the earth frame
  (``v_earth = q * v_tag * q^-1``). The earth frame's z axis points up.
* **Acceleration** is specific force, as an accelerometer reads it: at rest it is ``+1 g`` along the axis
  that points *up*.
* **Time**: ``t_s`` is *sample time* in seconds on the host's clock (POSIX epoch seconds for live sessions;
  simulated epoch seconds for simulations). The engine runs only on this time, never on the wall clock.
"""

from __future__ import annotations

from posturebuddy.model.events import (
    BatteryRead,
    ConnectionStateChanged,
    Event,
    GapDetected,
    LinkStatsUpdated,
    NudgeSent,
    PacketRejected,
    StreamStarted,
)
from posturebuddy.model.types import (
    Activity,
    BatteryLevel,
    ConnectionState,
    Decoded,
    PostureAngles,
    PostureClass,
    Prompt,
    PromptKind,
    PromptOutcome,
    Quat,
    RawPacket,
    Sample,
    TagInfo,
    TagStatus,
    Vec3,
)

__all__ = [
    "Activity",
    "BatteryLevel",
    "BatteryRead",
    "ConnectionState",
    "ConnectionStateChanged",
    "Decoded",
    "Event",
    "GapDetected",
    "LinkStatsUpdated",
    "NudgeSent",
    "PacketRejected",
    "PostureAngles",
    "PostureClass",
    "Prompt",
    "PromptKind",
    "PromptOutcome",
    "Quat",
    "RawPacket",
    "Sample",
    "StreamStarted",
    "TagInfo",
    "TagStatus",
    "Vec3",
]
