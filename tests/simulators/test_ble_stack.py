"""The virtual air, centrals, advertisement building and the transport path."""

from __future__ import annotations

import socket

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError

from simulators.ble import BumbleClient, BumbleScanner, Central, VirtualAir, set_default_central
from simulators.ble.peripheral import AdvertisementSpec
from simulators.ble.stack import open_device_on_transport
from simulators.ble.testing import BATTERY, SERVICE, DemoTag


def test_advertisement_must_fit_a_legacy_advertisement() -> None:
    assert len(AdvertisementSpec("PB-Demo", (SERVICE,)).to_bytes()) == 30
    with pytest.raises(ValueError, match="more than 31"):
        AdvertisementSpec("PB-Demo-too-long", (SERVICE,)).to_bytes()


@pytest.mark.asyncio
async def test_scanner_without_a_central_says_how_to_get_one() -> None:
    set_default_central(None)
    with pytest.raises(BleakError, match="set_default_central"):
        BleakScanner(backend=BumbleScanner)


@pytest.mark.asyncio
async def test_central_kwarg_and_one_central_per_device() -> None:
    set_default_central(None)
    async with VirtualAir() as air:
        hub = await air.add_central()
        assert Central.of(hub.device) is hub
        await air.add_peripheral(DemoTag())
        async with BleakScanner(backend=BumbleScanner, central=hub) as scanner:
            device, _ = await anext(scanner.advertisement_data())
        async with BleakClient(device, backend=BumbleClient, central=hub.device) as client:
            assert await client.read_gatt_char(BATTERY) == bytes([87])


@pytest.mark.asyncio
async def test_closing_the_air_powers_everything_off_and_is_idempotent() -> None:
    air = VirtualAir()
    hub = await air.add_central()
    tag = await air.add_peripheral(DemoTag())
    assert tag.is_advertising
    await air.close()
    await air.close()
    assert not hub.device.powered_on
    assert not tag.device.powered_on


@pytest.mark.asyncio
async def test_a_peripheral_on_a_transport_is_seen_by_the_air() -> None:
    """The path of ``serve``: a tag on a real HCI transport (here loopback TCP to a controller of the air)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with VirtualAir() as air:
        hub = await air.add_central()
        await air.expose_controller(f"tcp-server:127.0.0.1:{port}")
        remote = await open_device_on_transport(f"tcp-client:127.0.0.1:{port}", "PB-Rmt", "F0:00:00:00:AA:01")
        tag = DemoTag("PB-Rmt")
        try:
            await tag.start(remote.device)
            set_default_central(hub)  # find_device_by_name's typed kwargs have no room for central=
            device = await BleakScanner.find_device_by_name("PB-Rmt", timeout=1.0, backend=BumbleScanner)
            assert device is not None
            assert device.address == "F0:00:00:00:AA:01"
            async with BleakClient(device, backend=BumbleClient, central=hub) as client:
                assert await client.read_gatt_char(BATTERY) == bytes([87])
        finally:
            set_default_central(None)
            await tag.stop()
            await remote.close()
