"""A small demo peripheral for tests of the BLE layer (not a real tag family).

``DemoTag`` serves one service with:

- ``DATA``: read + notify, 20-byte frames (``frame(i)``: a little-endian counter and a fixed pattern);
- ``CONTROL``: write + write-without-response; ``b"ping"`` makes the tag notify ``b"pong"`` on ``DATA``;
- ``STRICT``: read + write; reads are refused (``READ_NOT_PERMITTED``), writes other than one byte
  0x00-0x03 are refused (``VALUE_NOT_ALLOWED``);
- ``BATTERY``: the standard 16-bit Battery Level characteristic in the 16-bit Battery service, read-only.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

from bleak.exc import BleakGATTProtocolErrorCode
from bleak.uuids import normalize_uuid_str

from simulators.ble.backend import set_default_central
from simulators.ble.peripheral import (
    AdvertisementSpec,
    AttError,
    CharacteristicSpec,
    Packet,
    ServiceSpec,
    VirtualPeripheral,
)
from simulators.ble.stack import Central, VirtualAir

__all__ = [
    "BATTERY",
    "BATTERY_SERVICE",
    "CONTROL",
    "DATA",
    "SERVICE",
    "STRICT",
    "DemoAir",
    "DemoTag",
    "demo_air",
    "frame",
    "frames",
]

SERVICE = "7e570000-0b5e-4c1e-9a57-0d1c0ffee000"
DATA = "7e570001-0b5e-4c1e-9a57-0d1c0ffee000"
CONTROL = "7e570002-0b5e-4c1e-9a57-0d1c0ffee000"
STRICT = "7e570003-0b5e-4c1e-9a57-0d1c0ffee000"
BATTERY_SERVICE = "180f"
BATTERY = "2a19"
FRAME_SIZE = 20


def frame(index: int) -> bytes:
    """A 20-byte frame: ``<I`` counter then 16 bytes derived from it."""
    return struct.pack("<I", index) + bytes((index + k) & 0xFF for k in range(FRAME_SIZE - 4))


def frames(count: int, rate_hz: float = 50.0, char_uuid: str = DATA) -> Iterator[Packet]:
    """``count`` packets of :func:`frame` at ``rate_hz`` on the source clock."""
    for index in range(count):
        yield Packet(index / rate_hz, char_uuid, frame(index))


class DemoTag(VirtualPeripheral):
    """A test peripheral exercising every feature of :class:`VirtualPeripheral`."""

    def __init__(self, name: str = "PB-Demo", *, address: str | None = None, battery: int = 87) -> None:
        super().__init__(name, address=address)
        self.battery = battery

    def services(self) -> Sequence[ServiceSpec]:
        """The demo GATT table."""
        return [
            ServiceSpec(
                SERVICE,
                (
                    CharacteristicSpec(DATA, ("read", "notify"), initial=frame(0)),
                    CharacteristicSpec(CONTROL, ("write", "write-without-response")),
                    CharacteristicSpec(STRICT, ("read", "write"), on_read=self._refuse_read),
                ),
            ),
            ServiceSpec(
                BATTERY_SERVICE,
                (CharacteristicSpec(BATTERY, ("read",), on_read=lambda: bytes([self.battery])),),
            ),
        ]

    def advertisement(self) -> AdvertisementSpec:
        """Name and the 128-bit service UUID (29 of 31 bytes with an 8-character name)."""
        return AdvertisementSpec(local_name=self.name, service_uuids=(SERVICE,))

    def on_write(self, char_uuid: str, data: bytes) -> None:
        """CONTROL ``ping`` -> notify ``pong``; STRICT accepts one byte 0..3; everything is stored."""
        if char_uuid == normalize_uuid_str(STRICT) and (len(data) != 1 or data[0] > 3):
            raise AttError(BleakGATTProtocolErrorCode.VALUE_NOT_ALLOWED)
        super().on_write(char_uuid, data)
        if char_uuid == normalize_uuid_str(CONTROL) and data == b"ping":
            self.spawn(self.notify(DATA, b"pong"))

    @staticmethod
    def _refuse_read() -> bytes:
        raise AttError(BleakGATTProtocolErrorCode.READ_NOT_PERMITTED)


@dataclass(frozen=True, slots=True)
class DemoAir:
    """A fresh air with one central (set as bleak's default central) and one :class:`DemoTag`."""

    air: VirtualAir
    hub: Central
    tag: DemoTag


@contextlib.asynccontextmanager
async def demo_air(tag_name: str = "PB-Demo") -> AsyncIterator[DemoAir]:
    """Create a :class:`DemoAir` in the running loop; tear it down and clear the default central on exit.

    Use it from a function-scoped async fixture (a wider loop scope hangs bumble, pitfall 2)::

        @pytest_asyncio.fixture
        async def sim() -> AsyncIterator[DemoAir]:
            async with demo_air() as sim:
                yield sim
    """
    async with VirtualAir() as air:
        hub = await air.add_central()
        tag = await air.add_peripheral(DemoTag(tag_name))
        set_default_central(hub)
        try:
            yield DemoAir(air, hub, tag)
        finally:
            set_default_central(None)
