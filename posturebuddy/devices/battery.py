"""Bluetooth SIG Battery Service: the one-byte Battery Level characteristic.

Shared by every tag family that exposes the standard service (Thingy:52 does; micro:bit does not; WitMotion
reports its battery through a vendor register instead, see :mod:`posturebuddy.devices.witmotion`).

Wire format ([SIG-BAS] = ble_tags.md §7: NimBLE ``ble_svc_bas.h``, trouble-host BATTERY_LEVEL, mbed
``BatteryService.h``): one ``uint8``, state of charge in percent, 0..100.

**Out-of-range policy.** A value above 100 is not a battery level the specification allows, so
:func:`decode_battery_level` raises :class:`~posturebuddy.devices.base.DecodeError` instead of clamping it:
a corrupt or misread byte must not show up as "100 %", and the link layer records the rejection.
"""

from __future__ import annotations

import struct

from posturebuddy.devices.base import DecodeError, sig_uuid
from posturebuddy.model import BatteryLevel

BytesLike = bytes | bytearray | memoryview
"""Anything a notification payload may arrive as."""

FAMILY_ID = "battery"
"""The ``family`` reported in :class:`DecodeError` when this module is used on its own."""

BATTERY_SERVICE_UUID = sig_uuid(0x180F)  # [SIG-BAS] ble_svc_bas.h BLE_SVC_BAS_UUID16
BATTERY_LEVEL_CHAR_UUID = sig_uuid(0x2A19)  # [SIG-BAS] ble_svc_bas.h ...BATTERY_LEVEL

BATTERY_LEVEL_MAX_PERCENT = 100  # [SIG-BAS] org.bluetooth.unit.percentage, 0..100

UINT8 = struct.Struct("<B")
"""Battery Level layout: one unsigned byte."""


def decode_battery_percent(data: BytesLike, *, family: str = FAMILY_ID) -> int:
    """Decode a Battery Level value (exactly one byte) to percent 0..100.

    Raises:
        DecodeError: the payload is not one byte, or the value is above 100 (see the module docstring).
    """
    raw = bytes(data)
    if len(raw) != UINT8.size:
        raise DecodeError(family, f"battery level must be {UINT8.size} byte, got {len(raw)}", data=raw)
    (percent,) = UINT8.unpack(raw)
    if percent > BATTERY_LEVEL_MAX_PERCENT:
        raise DecodeError(family, f"battery level {percent} % is above {BATTERY_LEVEL_MAX_PERCENT}", offset=0, data=raw)
    return int(percent)


def decode_battery_level(data: BytesLike, *, t_s: float, family: str = FAMILY_ID) -> BatteryLevel:
    """Decode a Battery Level read or notification into a :class:`BatteryLevel` at sample time ``t_s`` (s)."""
    return BatteryLevel(t_s=t_s, percent=decode_battery_percent(data, family=family))


def describe_battery_level(data: BytesLike, *, family: str = FAMILY_ID) -> dict[str, object]:
    """A Battery Level value for ``posturebuddy decode``: ``{"kind": "battery_level", "battery_percent": n}``.

    Raises:
        DecodeError: as :func:`decode_battery_percent`.
    """
    return {"kind": "battery_level", "battery_percent": decode_battery_percent(data, family=family)}


CHARACTERISTICS: dict[str, str] = {"battery": BATTERY_LEVEL_CHAR_UUID}
"""The one characteristic this module knows, by its ``posturebuddy decode --char`` name."""


def describe(char_uuid: str, data: bytes) -> dict[str, object]:
    """Describe a value of the Battery Level characteristic (the :attr:`TagFamily.describe` shape).

    Raises:
        DecodeError: another characteristic, or a bad Battery Level value.
    """
    if char_uuid.lower() != BATTERY_LEVEL_CHAR_UUID:
        raise DecodeError(FAMILY_ID, f"unknown characteristic {char_uuid}", data=data)
    return describe_battery_level(data)


def encode_battery_level(percent: int) -> bytes:
    """Encode a state of charge (integer percent, 0..100) as the one-byte Battery Level value.

    Raises:
        ValueError: ``percent`` is outside 0..100.
    """
    if not 0 <= percent <= BATTERY_LEVEL_MAX_PERCENT:
        raise ValueError(f"battery percent must be 0..{BATTERY_LEVEL_MAX_PERCENT}, got {percent}")
    return UINT8.pack(percent)


__all__ = [
    "BATTERY_LEVEL_CHAR_UUID",
    "BATTERY_LEVEL_MAX_PERCENT",
    "BATTERY_SERVICE_UUID",
    "BytesLike",
    "CHARACTERISTICS",
    "decode_battery_level",
    "decode_battery_percent",
    "describe",
    "describe_battery_level",
    "encode_battery_level",
]
