"""A virtual BBC micro:bit running a program with the Bluetooth accelerometer service.

Through :mod:`posturebuddy.devices.microbit`'s encoder, following ``shared/research/ble_tags.md`` §4:

* **Advertising**: Flags and the complete name ``BBC micro:bit [xxxxx]`` (the DAL's friendly-name form).
* **Accelerometer service E95D0753**: data E95DCA4B (read / notify, 3 x int16 milli-g from the recording) at the
  current period; period E95DFB24 (read / write, uint16 ms, default 20). A written period snaps to the nearest of
  1, 2, 5, 10, 20, 80, 160, 640 ms and the actual value is written back, so a read shows it; writes shorter than
  2 bytes are ignored, as the DAL's length check does.
* **Writing period 0 crashes the device** (microbit-foundation web-bluetooth PR #2): the write gets no response,
  the link drops, and the tag is silent (no advertising) for ``crash_downtime_s`` of simulated time; then it
  reboots with the default period and advertises again. :attr:`crashes` counts them.
* No Battery Service (profile v1.6 removed it); the simulated battery still empties and silences the tag.
* Not modelled: pairing (default DAL builds require it), the other micro:bit services.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Unpack

from bumble import hci

from posturebuddy.devices.microbit import (
    ACCELEROMETER_DATA_CHAR_UUID,
    ACCELEROMETER_PERIOD_CHAR_UUID,
    ACCELEROMETER_SERVICE_UUID,
    UINT16,
    encode_accel,
    snap_period_ms,
)
from simulators.ble.peripheral import AdvertisementSpec, CharacteristicSpec, ServiceSpec
from simulators.tags.base import (
    AD_COMPLETE_LOCAL_NAME,
    AD_FLAGS,
    FLAGS_GENERAL_DISCOVERABLE_NO_BREDR,
    TagOptions,
    VirtualTag,
    fit_advertisement,
    vec3,
)
from simulators.wearer.simulation import SimulatedRecording

__all__ = ["DEFAULT_PERIOD_MS", "VirtualMicrobit"]

DEFAULT_PERIOD_MS = 20
"""The DAL accelerometer's default sample period."""


class VirtualMicrobit(VirtualTag):
    """A BBC micro:bit accelerometer service.

    Args (beyond :class:`VirtualTag`'s):
        crash_downtime_s: simulated seconds the tag stays silent after the period-0 crash.

    Inspection: :attr:`period_ms`, :attr:`crashes`, :attr:`crashed`, plus the base class's logs, battery and faults.
    """

    address_prefix = 0xF5
    default_rate_hz = 1000.0 / DEFAULT_PERIOD_MS

    def __init__(
        self,
        recording: SimulatedRecording,
        *,
        name: str | None = None,
        address: str | None = None,
        crash_downtime_s: float = 10.0,
        **options: Unpack[TagOptions],
    ) -> None:
        super().__init__(name or "BBC micro:bit [tupov]", recording, address=address, **options)
        self.crash_downtime_s = crash_downtime_s
        self.period_ms = snap_period_ms(1000.0 / self.rate_hz)
        self.crashes = 0
        self.crashed = False
        self._last_data = bytes(6)

    def services(self) -> list[ServiceSpec]:
        """The accelerometer service."""
        return [
            ServiceSpec(
                ACCELEROMETER_SERVICE_UUID,
                (
                    CharacteristicSpec(
                        ACCELEROMETER_DATA_CHAR_UUID, ("read", "notify"), on_read=lambda: self._last_data
                    ),
                    CharacteristicSpec(
                        ACCELEROMETER_PERIOD_CHAR_UUID,
                        ("read", "write"),
                        on_read=lambda: UINT16.pack(self.period_ms),
                        on_write=self._period,
                    ),
                ),
            )
        ]

    def advertisement(self) -> AdvertisementSpec:
        """Flags and the complete name."""
        return fit_advertisement(
            [(AD_FLAGS, bytes([FLAGS_GENERAL_DISCOVERABLE_NO_BREDR])), (AD_COMPLETE_LOCAL_NAME, self.name.encode())],
            [],
        )

    def stream_uuids(self) -> Sequence[str]:
        """Only the data characteristic streams."""
        return (ACCELEROMETER_DATA_CHAR_UUID,)

    def streaming_wanted(self) -> bool:
        """Subscribed and not crashed."""
        return not self.crashed and self.is_subscribed(ACCELEROMETER_DATA_CHAR_UUID)

    def sample_frames(self, index: int, t_s: float) -> list[tuple[str, bytes]]:
        """One 6-byte milli-g frame."""
        data = encode_accel(vec3(self.recording.accel_g[index]))
        self._last_data = data
        return [(ACCELEROMETER_DATA_CHAR_UUID, data)]

    def _set_period(self, period_ms: int) -> None:
        self.period_ms = period_ms
        self.set_rate_hz(1000.0 / period_ms)

    async def _period(self, data: bytes) -> None:
        if len(data) < UINT16.size:
            self.now_log(f"ignored period write {data.hex(' ')}: shorter than 2 bytes")
            return
        (requested,) = UINT16.unpack_from(data)
        if requested == 0:
            await self.crash()
            return
        actual = snap_period_ms(requested)
        self._set_period(actual)
        self.now_log(f"period {requested} ms -> {actual} ms")

    async def crash(self) -> None:
        """The period-0 crash: drop the link, go silent, reboot after :attr:`crash_downtime_s`."""
        self.crashes += 1
        self.crashed = True
        self.now_log("crashed (period 0)")
        self.update_streaming()
        await self.stop_advertising()
        self.spawn(self._reboot(), name=f"{self.name}-reboot")
        await self.drop_connection(hci.HCI_CONNECTION_TIMEOUT_ERROR)

    async def _reboot(self) -> None:
        await asyncio.sleep(self.crash_downtime_s / self.speed)
        self._set_period(DEFAULT_PERIOD_MS)
        self.crashed = False
        self.now_log("rebooted")
        if not self.dead:
            await self.start_advertising()
