"""TI CC2650 SensorTag (CC2650STK): the Movement service (MPU-9250).

Source of every byte: ``shared/research/ble_tags.md`` §3, which cites [TI-SDK] (TI BLE-Stack ble_sdk_2_02_02 import,
commit d19d906: ``movementservice.{h,c}``, ``st_util.h``, ``sensortag_mov.c``), TI's ``SensorMpu9250.{h,c}``,
[TI-WIKI] (CC2650 SensorTag User's Guide) and [BLUEPY] (``bluepy/sensortag.py``). Little-endian throughout.

Frames and units: the MPU-9250's own axes. ``gyro_dps`` = raw * 500 / 65536 (+-250 dps, fixed in stock firmware),
``accel_g`` = raw / (32768 / R) with R = 2, 4, 8 or 16 g from the config's range bits. **The data bytes do not say
which range produced them**, so the decoder must be told: :class:`SensorTagDecoder` takes the configuration (range
and enabled groups) as a parameter, defaulting to what :func:`start_commands` writes, and follows a read of the
config characteristic if the link reads it back (ble_tags.md advises reading AA82 back to verify the range).
``mag_ut`` holds **raw counts** (sources disagree on the unit, ble_tags.md §3.2); the family does not enable it.

A disabled sensor group still occupies its 6 bytes, as zeros ([TI-WIKI]); the decoder reports ``None`` for groups
its configuration has switched off, so zeros are never mistaken for "no rotation".

The config value's low byte: bits 0-2 gyro axes (0x07), 3-5 accel axes (0x38), 6 magnetometer (0x40), 7
wake-on-motion (0x80); bits 8-9 accel range. We always enable whole groups (the per-axis bit order is
inconsistent across TI sources) and always write the range bits (the reset range differs between firmware builds).
"""

from __future__ import annotations

import enum
import math
import struct
from dataclasses import dataclass

from posturebuddy.devices.base import Capabilities, DecodeError, GattWrite, NudgePattern, TagFamily
from posturebuddy.devices.battery import BytesLike
from posturebuddy.model import Decoded, RawPacket, Sample, Vec3

FAMILY_ID = "sensortag"


def ti_uuid(short: int) -> str:
    """Expand a 16-bit id onto the TI base ``F000xxxx-0451-4000-B000-000000000000`` ([TI-SDK] st_util.h)."""
    return f"f000{short:04x}-0451-4000-b000-000000000000"


# [TI-SDK] movementservice.h, movementservice.c; ble_tags.md §3.1
MOVEMENT_SERVICE_UUID = ti_uuid(0xAA80)
DATA_CHAR_UUID = ti_uuid(0xAA81)  # read / notify, 18 bytes
CONFIG_CHAR_UUID = ti_uuid(0xAA82)  # read / write, exactly 2 bytes (else INVALID_VALUE_SIZE)
PERIOD_CHAR_UUID = ti_uuid(0xAA83)  # read / write, exactly 1 byte, 10 ms units, >= 10 (else INVALID_VALUE)

INT16X9 = struct.Struct("<9h")  # data: gyro xyz, acc xyz, mag xyz ([TI-SDK] sensortag_mov.c)
UINT16 = struct.Struct("<H")  # config
UINT8 = struct.Struct("<B")  # period

GYRO_DPS_PER_LSB = 500 / 65536  # SensorMpu9250_gyroConvert (TI's C writes the divisor as integer 131: 0.05 % off)
RAW_FULL_SCALE = 32768

# Config bits: SensorMpu9250.h MPU_AX_*; sensortag_mov.c MOV_WOM_ENABLE, accSetRange(cfg >> 8 & 3); [BLUEPY]
GYRO_AXES_MASK = 0x0007
ACCEL_AXES_MASK = 0x0038
MAG_BIT = 0x0040
WAKE_ON_MOTION_BIT = 0x0080
RANGE_SHIFT = 8
RANGE_MASK = 0x0300


class AccelRange(enum.IntEnum):
    """Accelerometer range code (config bits 8-9) -> full scale in g is :data:`ACCEL_RANGE_G`."""

    G2 = 0
    G4 = 1
    G8 = 2
    G16 = 3


ACCEL_RANGE_G: dict[AccelRange, int] = {AccelRange.G2: 2, AccelRange.G4: 4, AccelRange.G8: 8, AccelRange.G16: 16}
RANGE_FOR_G: dict[int, AccelRange] = {g: code for code, g in ACCEL_RANGE_G.items()}

# Period [TI-SDK] st_util.h SENSOR_PERIOD_RESOLUTION = 10, SENSOR_MIN_UPDATE_PERIOD = 100; sensortag_mov.c default 1000
PERIOD_RESOLUTION_MS = 10
PERIOD_MIN_MS = 100
PERIOD_MAX_MS = 2550
PERIOD_DEFAULT_MS = 1000


@dataclass(frozen=True, slots=True)
class MovementConfig:
    """The movement service configuration (AA82).

    Attributes:
        gyro: all three gyro axes on.
        accel: all three accelerometer axes on.
        mag: magnetometer on.
        wake_on_motion: the firmware's wake-on-motion mode.
        accel_range_g: accelerometer full scale, 2, 4, 8 or 16 g.
    """

    gyro: bool = True
    accel: bool = True
    mag: bool = False
    wake_on_motion: bool = False
    accel_range_g: int = 8


START_CONFIG = MovementConfig(gyro=True, accel=True, mag=False, wake_on_motion=False, accel_range_g=8)
"""What :func:`start_commands` writes: gyro + accel, +-8 g (the firmware's reset range, explicit here): ``3F 02``."""


def encode_config(config: MovementConfig) -> bytes:
    """Encode the 2-byte config value, range bits always explicit. Raises ValueError for an unknown range."""
    if config.accel_range_g not in RANGE_FOR_G:
        raise ValueError(f"accel range must be one of {sorted(RANGE_FOR_G)} g, got {config.accel_range_g}")
    value = (
        (GYRO_AXES_MASK if config.gyro else 0)
        | (ACCEL_AXES_MASK if config.accel else 0)
        | (MAG_BIT if config.mag else 0)
        | (WAKE_ON_MOTION_BIT if config.wake_on_motion else 0)
        | (RANGE_FOR_G[config.accel_range_g] << RANGE_SHIFT)
    )
    return UINT16.pack(value)


def decode_config(data: BytesLike) -> MovementConfig:
    """Decode a 2-byte config value (what the firmware accepts: any 2 bytes; bits 10-15 are unused and ignored).

    A group counts as on if any of its axis bits is set (a partly enabled group still sends all its slots).

    Raises:
        DecodeError: not exactly 2 bytes (the firmware answers INVALID_VALUE_SIZE).
    """
    raw = bytes(data)
    if len(raw) != UINT16.size:
        raise DecodeError(FAMILY_ID, f"config must be {UINT16.size} bytes, got {len(raw)}", data=raw)
    (value,) = UINT16.unpack(raw)
    return MovementConfig(
        gyro=bool(value & GYRO_AXES_MASK),
        accel=bool(value & ACCEL_AXES_MASK),
        mag=bool(value & MAG_BIT),
        wake_on_motion=bool(value & WAKE_ON_MOTION_BIT),
        accel_range_g=ACCEL_RANGE_G[AccelRange((value & RANGE_MASK) >> RANGE_SHIFT)],
    )


def snap_period_ms(period_ms: float) -> int:
    """The period nearest ``period_ms`` the firmware accepts: a multiple of 10 ms in 100..2550 ms."""
    if not math.isfinite(period_ms):
        raise ValueError(f"period must be finite, got {period_ms}")
    units = round(period_ms / PERIOD_RESOLUTION_MS)
    units = min(max(units, PERIOD_MIN_MS // PERIOD_RESOLUTION_MS), PERIOD_MAX_MS // PERIOD_RESOLUTION_MS)
    return units * PERIOD_RESOLUTION_MS


def encode_period(period_ms: float) -> bytes:
    """Encode the 1-byte period (10 ms units), snapped into 100..2550 ms."""
    return UINT8.pack(snap_period_ms(period_ms) // PERIOD_RESOLUTION_MS)


def decode_period(data: BytesLike) -> int:
    """Decode the 1-byte period to milliseconds. Raises DecodeError on wrong length or a value below 100 ms."""
    raw = bytes(data)
    if len(raw) != UINT8.size:
        raise DecodeError(FAMILY_ID, f"period must be {UINT8.size} byte, got {len(raw)}", data=raw)
    period_ms = raw[0] * PERIOD_RESOLUTION_MS
    if period_ms < PERIOD_MIN_MS:
        raise DecodeError(FAMILY_ID, f"period {period_ms} ms is below {PERIOD_MIN_MS} ms", offset=0, data=raw)
    return period_ms


def period_for_rate_ms(rate_hz: float) -> int:
    """The accepted period nearest ``1000 / rate_hz`` ms (so 10 Hz at most, 0.39 Hz at least)."""
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise ValueError(f"rate must be a positive number, got {rate_hz}")
    return snap_period_ms(1000.0 / rate_hz)


@dataclass(frozen=True, slots=True)
class MovementReading:
    """One 18-byte data notification in physical units (sensor frame).

    Attributes:
        gyro_dps: angular rate, degrees per second.
        accel_g: acceleration, g, at the range the decoder was given.
        mag_raw: magnetometer, raw counts.
    """

    gyro_dps: Vec3
    accel_g: Vec3
    mag_raw: Vec3


def decode_movement(data: BytesLike, *, accel_range_g: int) -> MovementReading:
    """Decode an 18-byte data notification, the accelerometer at ``accel_range_g`` (2, 4, 8 or 16 g).

    Raises:
        DecodeError: not exactly 18 bytes.
        ValueError: ``accel_range_g`` is not a supported range (a caller bug, not a packet problem).
    """
    if accel_range_g not in RANGE_FOR_G:
        raise ValueError(f"accel range must be one of {sorted(RANGE_FOR_G)} g, got {accel_range_g}")
    raw = bytes(data)
    if len(raw) != INT16X9.size:
        raise DecodeError(FAMILY_ID, f"movement data must be {INT16X9.size} bytes, got {len(raw)}", data=raw)
    gx, gy, gz, ax, ay, az, mx, my, mz = INT16X9.unpack(raw)
    lsb_per_g = RAW_FULL_SCALE / accel_range_g
    return MovementReading(
        gyro_dps=(gx * GYRO_DPS_PER_LSB, gy * GYRO_DPS_PER_LSB, gz * GYRO_DPS_PER_LSB),
        accel_g=(ax / lsb_per_g, ay / lsb_per_g, az / lsb_per_g),
        mag_raw=(float(mx), float(my), float(mz)),
    )


def _int16(value: float, scale: float, what: str) -> int:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value}")
    return min(max(round(value * scale), -RAW_FULL_SCALE), RAW_FULL_SCALE - 1)


def encode_movement(
    *,
    accel_range_g: int,
    gyro_dps: Vec3 | None = None,
    accel_g: Vec3 | None = None,
    mag_raw: Vec3 | None = None,
) -> bytes:
    """Encode the 18-byte data notification. A group given as ``None`` is sent as zeros (disabled), and values
    beyond full scale saturate, as the sensor does."""
    if accel_range_g not in RANGE_FOR_G:
        raise ValueError(f"accel range must be one of {sorted(RANGE_FOR_G)} g, got {accel_range_g}")
    zero: Vec3 = (0.0, 0.0, 0.0)
    lsb_per_g = RAW_FULL_SCALE / accel_range_g
    return INT16X9.pack(
        *(_int16(v, 1 / GYRO_DPS_PER_LSB, "gyro") for v in gyro_dps or zero),
        *(_int16(v, lsb_per_g, "accel") for v in accel_g or zero),
        *(_int16(v, 1, "mag") for v in mag_raw or zero),
    )


def config_write(config: MovementConfig) -> GattWrite:
    """Write the movement config (range bits always set explicitly)."""
    return GattWrite(CONFIG_CHAR_UUID, encode_config(config), response=True, description=f"movement config {config}")


def period_write(period_ms: float) -> GattWrite:
    """Write the period nearest ``period_ms`` (100..2550 ms, 10 ms steps)."""
    snapped = snap_period_ms(period_ms)
    return GattWrite(PERIOD_CHAR_UUID, encode_period(snapped), response=True, description=f"period {snapped} ms")


def start_commands(config: MovementConfig = START_CONFIG) -> list[GattWrite]:
    """Switch the movement sensor on: gyro + accel at +-8 g by default (``3F 02``)."""
    return [config_write(config)]


def rate_commands(rate_hz: float) -> list[GattWrite]:
    """Set the notification period nearest ``1000 / rate_hz`` ms (the tag runs at 10 Hz at most)."""
    return [period_write(period_for_rate_ms(rate_hz))]


def nudge_commands(pattern: NudgePattern) -> list[GattWrite]:
    """No nudge: ble_tags.md documents no buzzer or LED protocol for the SensorTag."""
    del pattern
    return []


class SensorTagDecoder:
    """Per-connection decoder; it must know the configured accelerometer range (the bytes do not carry it).

    Args:
        config: the configuration the link wrote (default :data:`START_CONFIG`, what :func:`start_commands` writes).
            Groups switched off in it are reported as ``None``. A read reply from the config characteristic
            replaces it, so reading AA82 back keeps the decoder honest.
    """

    def __init__(self, config: MovementConfig = START_CONFIG) -> None:
        if config.accel_range_g not in RANGE_FOR_G:
            raise ValueError(f"accel range must be one of {sorted(RANGE_FOR_G)} g, got {config.accel_range_g}")
        self.config = config

    @property
    def accel_range_g(self) -> int:
        """The accelerometer full scale (g) used to decode data notifications."""
        return self.config.accel_range_g

    def decode(self, packet: RawPacket) -> list[Decoded]:
        """Decode a data notification (a :class:`Sample`), or follow a config/period read. Raises only DecodeError."""
        uuid = packet.char_uuid.lower()
        if uuid == DATA_CHAR_UUID:
            reading = decode_movement(packet.data, accel_range_g=self.config.accel_range_g)
            return [
                Sample(
                    t_s=packet.t_host_s,
                    accel_g=reading.accel_g if self.config.accel else None,
                    gyro_dps=reading.gyro_dps if self.config.gyro else None,
                    mag_ut=reading.mag_raw if self.config.mag else None,
                )
            ]
        if uuid == CONFIG_CHAR_UUID:
            self.config = decode_config(packet.data)
            return []
        if uuid == PERIOD_CHAR_UUID:
            decode_period(packet.data)
            return []
        raise DecodeError(FAMILY_ID, f"unknown characteristic {packet.char_uuid}", data=packet.data)


# --- posturebuddy decode: names and describe ---------------------------------------------------------------------
CHARACTERISTICS: dict[str, str] = {"data": DATA_CHAR_UUID, "config": CONFIG_CHAR_UUID, "period": PERIOD_CHAR_UUID}
"""``posturebuddy decode --char`` names of the movement service's characteristics (ble_tags.md §3.1)."""


def describe(char_uuid: str, data: bytes, *, accel_range_g: int = START_CONFIG.accel_range_g) -> dict[str, object]:
    """Decode one value of a movement characteristic for ``posturebuddy decode``.

    * data: ``{"kind": "movement", "gyro_dps", "accel_g", "mag_raw", "accel_range_g"}``. The bytes do not carry
      the range, so it is a parameter, by default what :func:`start_commands` configures (8 g); every group is
      shown, even one that a configuration would switch off (it then reads zeros).
    * config: ``{"kind": "movement_config", "gyro_enabled", "accel_enabled", "mag_enabled", "wake_on_motion",
      "accel_range_g"}``.
    * period: ``{"kind": "period", "period_ms", "rate_hz"}``.

    Raises:
        DecodeError: an unknown characteristic or bad bytes.
        ValueError: ``accel_range_g`` is not 2, 4, 8 or 16 (a caller bug).
    """
    uuid = char_uuid.lower()
    if uuid == DATA_CHAR_UUID:
        reading = decode_movement(data, accel_range_g=accel_range_g)
        return {
            "kind": "movement",
            "gyro_dps": list(reading.gyro_dps),
            "accel_g": list(reading.accel_g),
            "mag_raw": list(reading.mag_raw),
            "accel_range_g": accel_range_g,
        }
    if uuid == CONFIG_CHAR_UUID:
        config = decode_config(data)
        return {
            "kind": "movement_config",
            "gyro_enabled": config.gyro,
            "accel_enabled": config.accel,
            "mag_enabled": config.mag,
            "wake_on_motion": config.wake_on_motion,
            "accel_range_g": config.accel_range_g,
        }
    if uuid == PERIOD_CHAR_UUID:
        period_ms = decode_period(data)
        return {"kind": "period", "period_ms": period_ms, "rate_hz": 1000.0 / period_ms}
    raise DecodeError(FAMILY_ID, f"unknown characteristic {char_uuid}", data=data)


FAMILY = TagFamily(
    family_id=FAMILY_ID,
    display_name="TI CC2650 SensorTag",
    service_uuids=(MOVEMENT_SERVICE_UUID,),
    # Stock firmware advertises the name "CC2650 SensorTag" (TI's own apps filter on it; not in ble_tags.md).
    name_prefixes=("CC2650 SensorTag",),
    notify_uuids=(DATA_CHAR_UUID,),
    capabilities=Capabilities(
        quaternion=False,
        accel=True,
        gyro=True,
        mag=False,  # not enabled by start_commands; raw counts if a caller enables it
        haptic=False,
        sound=False,
        led=False,
        battery=False,  # unverified on this tag (ble_tags.md §3.5)
        sample_rates_hz=tuple(1000.0 / (units * PERIOD_RESOLUTION_MS) for units in range(255, 9, -1)),
    ),
    default_rate_hz=10.0,
    make_decoder=SensorTagDecoder,
    rate_commands=rate_commands,
    nudge_commands=nudge_commands,
    start_commands=start_commands,
    characteristics=CHARACTERISTICS,
    describe=describe,
    notes=(
        "At most 10 Hz (the shortest period is 100 ms).",
        "Some firmware versions may not apply the requested accelerometer range; check |a| is about 1 g at rest.",
    ),
)
