"""BBC micro:bit: the Accelerometer service (accelerometer only; no gyro, no quaternion, no battery service).

Source of every byte: ``shared/research/ble_tags.md`` §4, which cites [MB-DAL] (microbit-dal @ 06c3c95,
``MicroBitAccelerometerService.cpp``), [MB-V2] (codal-microbit-v2, same file) and [MB-PROFILE] (the Bluetooth
profile page). Little-endian throughout.

Frames and units: the micro:bit's accelerometer axes; ``accel_g`` in g (the wire carries signed milli-g; the
profile's service summary says "unsigned", but the characteristic definition and the firmware are signed).

The period characteristic takes one of 1, 2, 5, 10, 20, 80, 160, 640 ms; the firmware snaps other values to the
nearest and writes the actual value back. **Writing 0 crashes the device** (microbit-foundation web-bluetooth
PR #2), so every builder here snaps to the valid set and can never produce 0.

No nudge: the LED service exists (E95DD91D-...), but ble_tags.md documents none of its characteristics, so
``nudge_commands`` stays empty rather than guessing bytes. The service also exists only if the running program
instantiates it, and default builds need pairing.
"""

from __future__ import annotations

import math
import struct

from posturebuddy.devices.base import Capabilities, DecodeError, GattWrite, NudgePattern, TagFamily
from posturebuddy.devices.battery import BytesLike
from posturebuddy.model import Decoded, RawPacket, Sample, Vec3

FAMILY_ID = "microbit"

# [MB-DAL] MicroBitAccelerometerService.cpp UUID arrays; [MB-PROFILE]; ble_tags.md §4.1
ACCELEROMETER_SERVICE_UUID = "e95d0753-251d-470a-a062-fa1922dfa9a8"
ACCELEROMETER_DATA_CHAR_UUID = "e95dca4b-251d-470a-a062-fa1922dfa9a8"  # read / notify, 6 bytes
ACCELEROMETER_PERIOD_CHAR_UUID = "e95dfb24-251d-470a-a062-fa1922dfa9a8"  # read / write, 2 bytes
LED_SERVICE_UUID = "e95dd91d-251d-470a-a062-fa1922dfa9a8"  # [MB-PROFILE] (characteristics not documented here)

INT16X3 = struct.Struct("<3h")  # data: x, y, z in milli-g
UINT16 = struct.Struct("<H")  # period in ms

MILLI_G_PER_G = 1000  # [MB-PROFILE] "should be divided by 1000"
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1

VALID_PERIODS_MS: tuple[int, ...] = (1, 2, 5, 10, 20, 80, 160, 640)  # [MB-PROFILE]


def decode_accel(data: BytesLike) -> Vec3:
    """Decode the 6-byte data value: three signed int16 milli-g -> g."""
    raw = bytes(data)
    if len(raw) != INT16X3.size:
        raise DecodeError(FAMILY_ID, f"accelerometer data must be {INT16X3.size} bytes, got {len(raw)}", data=raw)
    x, y, z = INT16X3.unpack(raw)
    return (x / MILLI_G_PER_G, y / MILLI_G_PER_G, z / MILLI_G_PER_G)


def encode_accel(accel_g: Vec3) -> bytes:
    """Encode acceleration in g as the 6-byte value (rounded to 1 milli-g, saturating at int16)."""
    values = []
    for v in accel_g:
        if not math.isfinite(v):
            raise ValueError(f"acceleration must be finite, got {accel_g}")
        values.append(min(max(round(v * MILLI_G_PER_G), INT16_MIN), INT16_MAX))
    return INT16X3.pack(*values)


def snap_period_ms(period_ms: float) -> int:
    """The valid period nearest ``period_ms`` (a tie goes to the shorter period); never 0."""
    if math.isnan(period_ms):
        raise ValueError("period must be a number, got nan")
    wanted = min(max(period_ms, VALID_PERIODS_MS[0]), VALID_PERIODS_MS[-1])
    return min(VALID_PERIODS_MS, key=lambda p: (abs(p - wanted), p))


def encode_period(period_ms: float) -> bytes:
    """Encode the 2-byte period write, snapped to the valid set (so it is never the crashing 0)."""
    return UINT16.pack(snap_period_ms(period_ms))


def decode_period(data: BytesLike) -> int:
    """Decode a 2-byte period value in ms (as written; the firmware snaps it).

    Raises:
        DecodeError: wrong length, or 0 (the value that crashes the device).
    """
    raw = bytes(data)
    if len(raw) != UINT16.size:
        raise DecodeError(FAMILY_ID, f"period must be {UINT16.size} bytes, got {len(raw)}", data=raw)
    (period_ms,) = UINT16.unpack(raw)
    if period_ms == 0:
        raise DecodeError(FAMILY_ID, "period 0 ms (crashes the micro:bit)", offset=0, data=raw)
    return int(period_ms)


def period_write(period_ms: float) -> GattWrite:
    """Write the valid period nearest ``period_ms``."""
    snapped = snap_period_ms(period_ms)
    return GattWrite(
        ACCELEROMETER_PERIOD_CHAR_UUID, encode_period(snapped), response=True, description=f"period {snapped} ms"
    )


def rate_commands(rate_hz: float) -> list[GattWrite]:
    """Set the valid period nearest ``1000 / rate_hz`` ms."""
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate must be a positive number, got {rate_hz}")
    return [period_write(1000.0 / rate_hz)]


def nudge_commands(pattern: NudgePattern) -> list[GattWrite]:
    """No nudge (see the module docstring)."""
    del pattern
    return []


class MicrobitDecoder:
    """Stateless decoder: data notifications become ``Sample(accel_g=...)``; a period read is validated."""

    def decode(self, packet: RawPacket) -> list[Decoded]:
        """Decode one notification or read reply. Raises only :class:`DecodeError`."""
        uuid = packet.char_uuid.lower()
        if uuid == ACCELEROMETER_DATA_CHAR_UUID:
            return [Sample(t_s=packet.t_host_s, accel_g=decode_accel(packet.data))]
        if uuid == ACCELEROMETER_PERIOD_CHAR_UUID:
            decode_period(packet.data)
            return []
        raise DecodeError(FAMILY_ID, f"unknown characteristic {packet.char_uuid}", data=packet.data)


# --- posturebuddy decode: names and describe ---------------------------------------------------------------------
CHARACTERISTICS: dict[str, str] = {"data": ACCELEROMETER_DATA_CHAR_UUID, "period": ACCELEROMETER_PERIOD_CHAR_UUID}
"""``posturebuddy decode --char`` names of the accelerometer service's characteristics (ble_tags.md §4.1)."""


def describe(char_uuid: str, data: bytes) -> dict[str, object]:
    """Decode one value of an accelerometer characteristic for ``posturebuddy decode``.

    * data: ``{"kind": "accelerometer", "accel_g"}``.
    * period: ``{"kind": "period", "period_ms", "rate_hz", "valid_period"}``, plus ``nearest_valid_period_ms``
      when the value is not one of :data:`VALID_PERIODS_MS` (the firmware snaps it and writes the result back).

    Raises:
        DecodeError: an unknown characteristic or bad bytes (including the crashing period 0).
    """
    uuid = char_uuid.lower()
    if uuid == ACCELEROMETER_DATA_CHAR_UUID:
        return {"kind": "accelerometer", "accel_g": list(decode_accel(data))}
    if uuid == ACCELEROMETER_PERIOD_CHAR_UUID:
        period_ms = decode_period(data)
        out: dict[str, object] = {
            "kind": "period",
            "period_ms": period_ms,
            "rate_hz": 1000.0 / period_ms,
            "valid_period": period_ms in VALID_PERIODS_MS,
        }
        if period_ms not in VALID_PERIODS_MS:
            out["nearest_valid_period_ms"] = snap_period_ms(period_ms)
        return out
    raise DecodeError(FAMILY_ID, f"unknown characteristic {char_uuid}", data=data)


FAMILY = TagFamily(
    family_id=FAMILY_ID,
    display_name="BBC micro:bit",
    service_uuids=(ACCELEROMETER_SERVICE_UUID,),
    # The DAL names the device "BBC micro:bit [xxxxx]" (MicroBitBLEManager; not in ble_tags.md).
    name_prefixes=("BBC micro:bit",),
    notify_uuids=(ACCELEROMETER_DATA_CHAR_UUID,),
    capabilities=Capabilities(
        quaternion=False,
        accel=True,
        gyro=False,
        mag=False,
        haptic=False,
        sound=False,
        led=False,  # the LED service exists but its protocol is not documented in ble_tags.md
        battery=False,  # no Battery Service since profile v1.6 [MB-PROFILE]
        sample_rates_hz=tuple(1000.0 / p for p in reversed(VALID_PERIODS_MS)),
    ),
    default_rate_hz=50.0,
    make_decoder=MicrobitDecoder,
    rate_commands=rate_commands,
    nudge_commands=nudge_commands,
    characteristics=CHARACTERISTICS,
    describe=describe,
    notes=(
        "The program on the micro:bit must start the Bluetooth accelerometer service.",
        "Default builds require pairing before the service can be used.",
        "Accelerometer only: orientation comes from low-passed gravity.",
    ),
)
