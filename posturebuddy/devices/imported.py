"""Imported samples: raw IMU data from a file (a CSV of another app, device or data set), stored as packets.

No tag sends these bytes. ``posturebuddy import`` turns each row of a CSV into one packet of this "family", so
an imported recording holds packets like any other and is replayed through the same
:class:`~posturebuddy.session.decoding.PacketDecoder` and engine. The family is found by
:func:`~posturebuddy.devices.registry.get_family` (id ``imported``) but never matched to an advertisement.

Packet layout (little-endian, ``docs/recording-format.md``, section "Imported samples"):

======  ====  =========  ===============================================================================
offset  size  type       field
======  ====  =========  ===============================================================================
0       1     uint8      fields present: bit 0 acceleration, bit 1 angular rate; other bits must be 0
1       8     float64    sample time, seconds (the same value as the packet's host time)
9       12    float32 x3  acceleration x, y, z in g (specific force, +1 g on the up axis at rest), if bit 0
..      12    float32 x3  angular rate x, y, z in degrees per second, if bit 1
======  ====  =========  ===============================================================================

Axes are the file's own sensor axes (the importer does not rotate them). float32 keeps about seven
significant digits, more than any MEMS IMU resolves. The sample time doubles as the "device clock", so the
decoding stage keeps the file's times exactly (its clock alignment adds an offset of zero).
"""

from __future__ import annotations

import math
import struct

from posturebuddy.devices.base import Capabilities, DecodeError, GattWrite, NudgePattern, TagFamily
from posturebuddy.model import Decoded, RawPacket, Sample, Vec3

FAMILY_ID = "imported"

SAMPLE_CHAR_UUID = "50425243-0000-4000-8000-494d504f5254"
"""The characteristic imported samples are stored under (``PBRC`` ... ``IMPORT`` in ASCII; no tag has it)."""

HAS_ACCEL = 0x01
HAS_GYRO = 0x02
KNOWN_FLAGS = HAS_ACCEL | HAS_GYRO

HEADER = struct.Struct("<Bd")
VEC3 = struct.Struct("<3f")
FLOAT32_MAX = 3.4028234663852886e38


def encode_sample(t_s: float, accel_g: Vec3 | None, gyro_dps: Vec3 | None = None) -> bytes:
    """One imported sample as packet bytes (see the module docstring).

    Args:
        t_s: sample time, seconds.
        accel_g: acceleration in g, or ``None``.
        gyro_dps: angular rate in degrees per second, or ``None``.

    Raises:
        ValueError: a value that is not finite or does not fit a float32.
    """
    if not math.isfinite(t_s):
        raise ValueError(f"sample time must be finite, got {t_s!r}")
    flags = 0
    body = b""
    for flag, name, vec in ((HAS_ACCEL, "acceleration", accel_g), (HAS_GYRO, "angular rate", gyro_dps)):
        if vec is None:
            continue
        if not all(math.isfinite(v) and abs(v) <= FLOAT32_MAX for v in vec):
            raise ValueError(f"{name} must be three finite numbers, got {tuple(vec)!r}")
        flags |= flag
        body += VEC3.pack(*vec)
    return HEADER.pack(flags, t_s) + body


def decode_sample(data: bytes) -> tuple[float, Vec3 | None, Vec3 | None]:
    """``(t_s, accel_g, gyro_dps)`` from packet bytes; longer packets are accepted (later fields ignored).

    Raises:
        DecodeError: too short for its flags, unknown flag bits, or a non-finite time.
    """
    raw = bytes(data)
    if len(raw) < HEADER.size:
        raise DecodeError(FAMILY_ID, f"an imported sample needs at least {HEADER.size} bytes, got {len(raw)}", data=raw)
    flags, t_s = HEADER.unpack_from(raw, 0)
    if flags & ~KNOWN_FLAGS:
        raise DecodeError(FAMILY_ID, f"unknown field flags 0x{flags & ~KNOWN_FLAGS:02x}", offset=0, data=raw)
    if not math.isfinite(t_s):
        raise DecodeError(FAMILY_ID, "the sample time is not a finite number", offset=1, data=raw)
    need = HEADER.size + VEC3.size * ((flags & HAS_ACCEL) + ((flags & HAS_GYRO) >> 1))
    if len(raw) < need:
        raise DecodeError(FAMILY_ID, f"flags 0x{flags:02x} need {need} bytes, got {len(raw)}", data=raw)
    offset = HEADER.size
    accel: Vec3 | None = None
    gyro: Vec3 | None = None
    if flags & HAS_ACCEL:
        accel = VEC3.unpack_from(raw, offset)
        offset += VEC3.size
    if flags & HAS_GYRO:
        gyro = VEC3.unpack_from(raw, offset)
    return t_s, accel, gyro


class ImportedDecoder:
    """Stateless: each packet is one :class:`Sample` whose device time is its stored sample time."""

    def decode(self, packet: RawPacket) -> list[Decoded]:
        """Decode one stored sample. Raises only :class:`DecodeError`."""
        if packet.char_uuid.lower() != SAMPLE_CHAR_UUID:
            raise DecodeError(FAMILY_ID, f"unknown characteristic {packet.char_uuid}", data=packet.data)
        t_s, accel, gyro = decode_sample(packet.data)
        return [Sample(t_s=packet.t_host_s, accel_g=accel, gyro_dps=gyro, device_time_s=t_s)]


def describe(char_uuid: str, data: bytes) -> dict[str, object]:
    """``{"kind": "imported_sample", "t_s", "accel_g", "gyro_dps"}`` for ``posturebuddy decode``-style output."""
    if char_uuid.lower() != SAMPLE_CHAR_UUID:
        raise DecodeError(FAMILY_ID, f"unknown characteristic {char_uuid}", data=data)
    t_s, accel, gyro = decode_sample(data)
    return {
        "kind": "imported_sample",
        "t_s": t_s,
        "accel_g": None if accel is None else list(accel),
        "gyro_dps": None if gyro is None else list(gyro),
    }


def _no_writes(_: object) -> list[GattWrite]:
    return []


def nudge_commands(pattern: NudgePattern) -> list[GattWrite]:
    """A file cannot be nudged."""
    del pattern
    return []


FAMILY = TagFamily(
    family_id=FAMILY_ID,
    display_name="imported file",
    service_uuids=(),
    name_prefixes=(),
    notify_uuids=(SAMPLE_CHAR_UUID,),
    capabilities=Capabilities(
        quaternion=False,
        accel=True,
        gyro=True,
        mag=False,
        haptic=False,
        sound=False,
        led=False,
        battery=False,
        sample_rates_hz=(50.0,),
    ),
    default_rate_hz=50.0,
    make_decoder=ImportedDecoder,
    rate_commands=_no_writes,
    nudge_commands=nudge_commands,
    characteristics={"sample": SAMPLE_CHAR_UUID},
    describe=describe,
    notes=("Not a tag: samples imported from a file with 'posturebuddy import'.",),
)
