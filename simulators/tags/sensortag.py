"""A virtual TI CC2650 SensorTag: the Movement service (MPU-9250) and the SIG Battery Service.

Through :mod:`posturebuddy.devices.sensortag`'s encoders, following ``shared/research/ble_tags.md`` §3:

* **Advertising**: Flags, an incomplete 16-bit service list with AA80, then the complete name
  ``CC2650 SensorTag`` (a scan-response item on the real tag). TI's manufacturer data (company 0x000D, key
  state) does not fit next to the name in one 31-byte advertisement and is left out.
* **Data AA81** (read / notify, 18 bytes): gyro, accelerometer and magnetometer (raw counts, x 32760 / 4912 per
  uT, as bluepy converts) encoded with the **current** config's accelerometer range; a group the config leaves
  off is sent as zeros. Nothing is sent while the config enables no sensor (the reset value ``00 02``: off,
  +-8 g), and a read returns the latest data.
* **Config AA82** (read / write): exactly 2 bytes, else ATT 0x0D (TI ``INVALID_VALUE_SIZE``); writing no sensor
  bits powers the MPU off (no more data). The range bits apply from the next sample. Wake-on-motion is stored
  and otherwise ignored.
* **Period AA83** (read / write): exactly 1 byte (else 0x0D), in 10 ms units, at least 10 (100 ms; else ATT 0x80,
  TI ``INVALID_VALUE``); default 1000 ms.
* **Battery**: 180F / 2A19 read + notify (the TI firmware adds a battery monitor service in ``SensorTag_init``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Unpack

from posturebuddy.devices.battery import BATTERY_LEVEL_CHAR_UUID, BATTERY_SERVICE_UUID, encode_battery_level
from posturebuddy.devices.sensortag import (
    CONFIG_CHAR_UUID,
    DATA_CHAR_UUID,
    MOVEMENT_SERVICE_UUID,
    PERIOD_CHAR_UUID,
    PERIOD_DEFAULT_MS,
    PERIOD_MIN_MS,
    PERIOD_RESOLUTION_MS,
    MovementConfig,
    decode_config,
    encode_config,
    encode_movement,
)
from simulators.ble.peripheral import AdvertisementSpec, AttError, CharacteristicSpec, ServiceSpec
from simulators.tags.base import (
    AD_COMPLETE_LOCAL_NAME,
    AD_FLAGS,
    AD_INCOMPLETE_LIST_16,
    AD_MANUFACTURER,
    FLAGS_GENERAL_DISCOVERABLE_NO_BREDR,
    TagOptions,
    VirtualTag,
    fit_advertisement,
    uuid_le_bytes,
    vec3,
)
from simulators.wearer.simulation import SimulatedRecording

__all__ = [
    "ATT_INVALID_VALUE",
    "ATT_INVALID_VALUE_SIZE",
    "MAG_COUNTS_PER_UT",
    "RESET_CONFIG",
    "VirtualSensorTag",
]

ATT_INVALID_VALUE_SIZE = 0x0D
"""TI BLE-Stack ATT_ERR_INVALID_VALUE_SIZE (the Core spec's Invalid Attribute Value Length)."""
ATT_INVALID_VALUE = 0x80
"""TI BLE-Stack ATT_ERR_INVALID_VALUE (application error range)."""
MAG_COUNTS_PER_UT = 32760 / 4912
"""Inverse of bluepy's 4912/32760 uT per count (the unit is disputed, ble_tags.md §3.2)."""
RESET_CONFIG = MovementConfig(gyro=False, accel=False, mag=False, wake_on_motion=False, accel_range_g=8)
"""The firmware's reset config: everything off, range bits at 8 g (``00 02``)."""
TI_COMPANY_ID = 0x000D


class VirtualSensorTag(VirtualTag):
    """A TI CC2650 SensorTag's movement sensor.

    Inspection: :attr:`config` (the current :class:`MovementConfig`), :attr:`period_ms`, plus the base class's logs,
    battery and faults.
    """

    address_prefix = 0xF4
    default_rate_hz = 1000.0 / PERIOD_DEFAULT_MS

    def __init__(
        self,
        recording: SimulatedRecording,
        *,
        name: str | None = None,
        address: str | None = None,
        **options: Unpack[TagOptions],
    ) -> None:
        super().__init__(name or "CC2650 SensorTag", recording, address=address, **options)
        self.config = RESET_CONFIG
        self._config_raw = encode_config(RESET_CONFIG)
        self.period_ms = round(1000.0 / self.rate_hz / PERIOD_RESOLUTION_MS) * PERIOD_RESOLUTION_MS
        self._last_data = bytes(18)

    # -- GATT and advertising ----------------------------------------------------------------------------------

    def services(self) -> list[ServiceSpec]:
        """Movement service and Battery Service."""
        return [
            ServiceSpec(
                MOVEMENT_SERVICE_UUID,
                (
                    CharacteristicSpec(DATA_CHAR_UUID, ("read", "notify"), on_read=lambda: self._last_data),
                    CharacteristicSpec(
                        CONFIG_CHAR_UUID, ("read", "write"), on_read=lambda: self._config_raw, on_write=self._config
                    ),
                    CharacteristicSpec(
                        PERIOD_CHAR_UUID,
                        ("read", "write"),
                        on_read=lambda: bytes([self.period_ms // PERIOD_RESOLUTION_MS]),
                        on_write=self._period,
                    ),
                ),
            ),
            ServiceSpec(
                BATTERY_SERVICE_UUID,
                (
                    CharacteristicSpec(
                        BATTERY_LEVEL_CHAR_UUID,
                        ("read", "notify"),
                        on_read=lambda: encode_battery_level(self.battery_level),
                    ),
                ),
            ),
        ]

    def advertisement(self) -> AdvertisementSpec:
        """Flags, AA80 (incomplete 16-bit list), then the name; the manufacturer data only if it fits."""
        return fit_advertisement(
            [
                (AD_FLAGS, bytes([FLAGS_GENERAL_DISCOVERABLE_NO_BREDR])),
                (AD_INCOMPLETE_LIST_16, uuid_le_bytes("aa80")),
            ],
            [
                (AD_COMPLETE_LOCAL_NAME, self.name.encode()),
                (AD_MANUFACTURER, TI_COMPANY_ID.to_bytes(2, "little") + bytes([0x03, 0x00, 0x00])),
            ],
        )

    # -- stream ------------------------------------------------------------------------------------------------

    @property
    def sensors_on(self) -> bool:
        """True if the config enables any sensor group (else the MPU is powered off)."""
        return self.config.gyro or self.config.accel or self.config.mag

    def stream_uuids(self) -> Sequence[str]:
        """Only the data characteristic streams."""
        return (DATA_CHAR_UUID,)

    def streaming_wanted(self) -> bool:
        """Subscribed and the MPU is on."""
        return self.sensors_on and self.is_subscribed(DATA_CHAR_UUID)

    def sample_frames(self, index: int, t_s: float) -> list[tuple[str, bytes]]:
        """One 18-byte data frame, encoded with the current range; disabled groups as zeros."""
        rec = self.recording
        config = self.config
        mx, my, mz = vec3(rec.mag_ut[index])
        data = encode_movement(
            accel_range_g=config.accel_range_g,
            gyro_dps=vec3(rec.gyro_dps[index]) if config.gyro else None,
            accel_g=vec3(rec.accel_g[index]) if config.accel else None,
            mag_raw=(mx * MAG_COUNTS_PER_UT, my * MAG_COUNTS_PER_UT, mz * MAG_COUNTS_PER_UT) if config.mag else None,
        )
        self._last_data = data
        return [(DATA_CHAR_UUID, data)]

    # -- battery -----------------------------------------------------------------------------------------------

    def on_battery_level(self, percent: int) -> None:
        """Notify Battery Level on change."""
        if self.is_subscribed(BATTERY_LEVEL_CHAR_UUID):
            self.spawn(self.notify(BATTERY_LEVEL_CHAR_UUID, encode_battery_level(percent)))

    # -- writes --------------------------------------------------------------------------------------------------

    def _config(self, data: bytes) -> None:
        if len(data) != 2:
            self.now_log(f"rejected config {data.hex(' ')}: {len(data)} bytes (ATT 0x0D)")
            raise AttError(ATT_INVALID_VALUE_SIZE, "config takes exactly 2 bytes")
        self.config = decode_config(data)
        self._config_raw = data
        if not self.sensors_on:
            self._last_data = bytes(18)
        self.now_log(f"config {data.hex(' ')}: {self.config}")
        self.update_streaming()

    def _period(self, data: bytes) -> None:
        if len(data) != 1:
            self.now_log(f"rejected period {data.hex(' ')}: {len(data)} bytes (ATT 0x0D)")
            raise AttError(ATT_INVALID_VALUE_SIZE, "period takes exactly 1 byte")
        period_ms = data[0] * PERIOD_RESOLUTION_MS
        if period_ms < PERIOD_MIN_MS:
            self.now_log(f"rejected period {period_ms} ms (ATT 0x80)")
            raise AttError(ATT_INVALID_VALUE, f"period {period_ms} ms below {PERIOD_MIN_MS} ms")
        self.period_ms = period_ms
        self.set_rate_hz(1000.0 / period_ms)
        self.now_log(f"period {period_ms} ms")
