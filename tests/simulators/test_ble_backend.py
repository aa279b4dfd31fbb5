"""The bleak backend over bumble, exercised only through bleak's public API (and bleak-retry-connector)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError, BleakGATTProtocolErrorCode
from bleak.uuids import normalize_uuid_str
from bleak_retry_connector import establish_connection

from simulators.ble import BumbleClient, BumbleScanner, SimBleakClient
from simulators.ble.peripheral import AdvertisementSpec, CharacteristicSpec, ServiceSpec, VirtualPeripheral
from simulators.ble.testing import (
    BATTERY,
    BATTERY_SERVICE,
    CONTROL,
    DATA,
    SERVICE,
    STRICT,
    DemoAir,
    DemoTag,
    demo_air,
    frame,
    frames,
)

SCAN_S = 0.06  # three advertising intervals


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[DemoAir]:
    async with demo_air() as sim:
        yield sim


async def find(name: str = "PB-Demo") -> BLEDevice:
    device = await BleakScanner.find_device_by_name(name, timeout=1.0, backend=BumbleScanner)
    assert device is not None
    return device


class Collector:
    """A notification handler that only records, and an event for "n received"."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.values: list[bytes] = []
        self.done = asyncio.Event()

    def __call__(self, _sender: BleakGATTCharacteristic, data: bytearray) -> None:
        self.values.append(bytes(data))
        if len(self.values) >= self.expected:
            self.done.set()


class BatteryOnly(VirtualPeripheral):
    """A second kind of tag: advertises a 16-bit service and manufacturer data."""

    def services(self) -> list[ServiceSpec]:
        return [ServiceSpec(BATTERY_SERVICE, (CharacteristicSpec(BATTERY, ("read",), initial=b"\x40"),))]

    def advertisement(self) -> AdvertisementSpec:
        return AdvertisementSpec(self.name, (BATTERY_SERVICE,), {0x0059: b"\x01\x02"})


# -- scanning ---------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_discover_returns_the_tag_with_its_advertisement(sim: DemoAir) -> None:
    found = await BleakScanner.discover(SCAN_S, return_adv=True, backend=BumbleScanner)
    device, adv = found[sim.tag.device.random_address.to_string(False)]
    assert device.name == "PB-Demo"
    assert adv.local_name == "PB-Demo"
    assert adv.service_uuids == [SERVICE]  # once, although the virtual controller sends it twice
    assert adv.rssi == -50
    assert isinstance(device.details, dict)
    assert "path" not in device.details


@pytest.mark.asyncio
async def test_discover_filters_on_service_uuids_and_maps_16_bit_uuids_and_manufacturer_data(sim: DemoAir) -> None:
    await sim.air.add_peripheral(BatteryOnly("PB-Batt"))
    everything = await BleakScanner.discover(SCAN_S, return_adv=True, backend=BumbleScanner)
    assert {adv.local_name for _, adv in everything.values()} == {"PB-Demo", "PB-Batt"}
    battery = next(adv for _, adv in everything.values() if adv.local_name == "PB-Batt")
    assert battery.service_uuids == [normalize_uuid_str(BATTERY_SERVICE)]
    assert battery.manufacturer_data == {0x0059: b"\x01\x02"}

    only = await BleakScanner.discover(SCAN_S, return_adv=True, service_uuids=[SERVICE], backend=BumbleScanner)
    assert [adv.local_name for _, adv in only.values()] == ["PB-Demo"]


@pytest.mark.asyncio
async def test_find_device_by_name_and_by_address(sim: DemoAir) -> None:
    by_name = await find()
    by_address = await BleakScanner.find_device_by_address(by_name.address.lower(), backend=BumbleScanner)
    assert by_address is not None
    assert by_address.address == by_name.address
    assert await BleakScanner.find_device_by_name("nobody", timeout=SCAN_S, backend=BumbleScanner) is None


@pytest.mark.asyncio
async def test_overlapping_scanners_share_the_central(sim: DemoAir) -> None:
    first = BleakScanner(backend=BumbleScanner)
    second = BleakScanner(backend=BumbleScanner)
    await first.start()
    await second.start()
    await first.stop()
    assert sim.hub.device.is_scanning
    async for device, _ in second.advertisement_data():
        assert device.name == "PB-Demo"
        break
    await second.stop()
    assert not sim.hub.device.is_scanning


# -- connecting and GATT ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_connect_discovers_services_with_bleak_uuids_and_properties(sim: DemoAir) -> None:
    async with BleakClient(await find(), backend=BumbleClient) as client:
        assert client.is_connected
        assert client.name == "PB-Demo"
        assert client.mtu_size == 517
        service = client.services.get_service(SERVICE)
        assert service is not None
        assert service.uuid == SERVICE
        data = client.services.get_characteristic(DATA)
        assert data is not None
        assert sorted(data.properties) == ["notify", "read"]
        assert [d.uuid for d in data.descriptors] == [normalize_uuid_str("2902")]
        control = client.services.get_characteristic(CONTROL)
        assert control is not None
        assert sorted(control.properties) == ["write", "write-without-response"]
        assert control.max_write_without_response_size == 514
        battery = client.services.get_characteristic(BATTERY)  # 16-bit UUIDs come out as 128-bit strings
        assert battery is not None
        assert battery.uuid == "00002a19-0000-1000-8000-00805f9b34fb"
        assert battery.service_uuid == normalize_uuid_str(BATTERY_SERVICE)
    assert not client.is_connected


@pytest.mark.asyncio
async def test_services_kwarg_limits_discovery(sim: DemoAir) -> None:
    async with BleakClient(await find(), services=[BATTERY_SERVICE], backend=BumbleClient) as client:
        assert [s.uuid for s in client.services] == [normalize_uuid_str(BATTERY_SERVICE)]


@pytest.mark.asyncio
async def test_read_values(sim: DemoAir) -> None:
    async with BleakClient(await find(), backend=BumbleClient) as client:
        assert await client.read_gatt_char(DATA) == frame(0)
        assert await client.read_gatt_char(BATTERY) == bytes([87])
        sim.tag.battery = 12
        assert await client.read_gatt_char(BATTERY) == bytes([12])
        assert await client.read_gatt_char(BATTERY, use_cached=True) == bytes([12])


@pytest.mark.asyncio
async def test_writes_with_and_without_response_reach_the_handler(sim: DemoAir) -> None:
    async with BleakClient(await find(), backend=BumbleClient) as client:
        await client.write_gatt_char(CONTROL, b"\x01\x02", response=True)
        assert list(sim.tag.writes) == [(CONTROL, b"\x01\x02")]
        await client.write_gatt_char(CONTROL, b"\x03", response=False)
        await sim.tag.wait_for_writes(2)
        assert list(sim.tag.writes)[-1] == (CONTROL, b"\x03")
        assert sim.tag.value(CONTROL) == b"\x03"


@pytest.mark.asyncio
async def test_paced_notifications_arrive_in_order_then_stop_notify(sim: DemoAir) -> None:
    count, rate = 20, 200.0
    loop = asyncio.get_running_loop()
    async with BleakClient(await find(), backend=BumbleClient) as client:
        collector = Collector(count)
        await client.start_notify(DATA, collector)
        assert sim.tag.is_subscribed(DATA)
        started = loop.time()
        stream = sim.tag.start_stream(frames(count, rate), speed=1.0)
        await collector.done.wait()
        elapsed = loop.time() - started
        assert await stream == count
        assert collector.values == [frame(i) for i in range(count)]
        assert elapsed >= (count - 1) / rate * 0.9  # paced on the source clock, not blasted
        await client.stop_notify(DATA)
        assert not sim.tag.is_subscribed(DATA)
        assert not await sim.tag.notify(DATA, b"late")


@pytest.mark.asyncio
async def test_a_write_can_trigger_a_notification(sim: DemoAir) -> None:
    async with BleakClient(await find(), backend=BumbleClient) as client:
        collector = Collector(1)
        await client.start_notify(DATA, collector)
        await client.write_gatt_char(CONTROL, b"ping", response=False)
        await collector.done.wait()
        assert collector.values == [b"pong"]


@pytest.mark.asyncio
async def test_async_notification_callbacks_work(sim: DemoAir) -> None:
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def on_data(_sender: BleakGATTCharacteristic, data: bytearray) -> None:
        await received.put(bytes(data))

    async with BleakClient(await find(), backend=BumbleClient) as client:
        await client.start_notify(DATA, on_data)
        await sim.tag.notify(DATA, b"x")
        assert await received.get() == b"x"


@pytest.mark.asyncio
async def test_att_errors_become_bleak_gatt_protocol_errors(sim: DemoAir) -> None:
    async with BleakClient(await find(), backend=BumbleClient) as client:
        with pytest.raises(BleakGATTProtocolError) as read_error:
            await client.read_gatt_char(STRICT)
        assert read_error.value.code == BleakGATTProtocolErrorCode.READ_NOT_PERMITTED
        with pytest.raises(BleakGATTProtocolError) as write_error:
            await client.write_gatt_char(STRICT, b"\x09", response=True)
        assert write_error.value.code == BleakGATTProtocolErrorCode.VALUE_NOT_ALLOWED
        await client.write_gatt_char(STRICT, b"\x02", response=True)
        assert client.is_connected


@pytest.mark.asyncio
async def test_mtu_default_carries_long_notifications_and_mtu_none_truncates(sim: DemoAir) -> None:
    payload = bytes(range(200))
    device = await find()
    async with BleakClient(device, backend=BumbleClient) as client:
        collector = Collector(1)
        await client.start_notify(DATA, collector)
        await sim.tag.notify(DATA, payload)
        await collector.done.wait()
        assert collector.values == [payload]
    async with BleakClient(device, backend=BumbleClient, mtu=None) as client:
        assert client.mtu_size == 23
        collector = Collector(1)
        await client.start_notify(DATA, collector)
        await sim.tag.notify(DATA, payload)
        await collector.done.wait()
        assert collector.values == [payload[:20]]


@pytest.mark.asyncio
async def test_connect_by_address_string_scans_implicitly(sim: DemoAir) -> None:
    address = sim.tag.device.random_address.to_string(False)
    async with BleakClient(address, backend=BumbleClient) as client:
        assert client.name == "PB-Demo"
        assert await client.read_gatt_char(BATTERY) == bytes([87])


@pytest.mark.asyncio
async def test_connect_to_unknown_address_raises_device_not_found(sim: DemoAir) -> None:
    client = BleakClient("F0:12:34:56:78:9A", timeout=SCAN_S, backend=BumbleClient)
    with pytest.raises(BleakDeviceNotFoundError):
        await client.connect()


@pytest.mark.asyncio
async def test_connect_times_out_on_a_silent_tag_and_works_once_it_advertises(sim: DemoAir) -> None:
    device = await find()
    await sim.tag.stop_advertising()
    with pytest.raises(TimeoutError):
        await BleakClient(device, timeout=SCAN_S, backend=BumbleClient).connect()
    await sim.tag.start_advertising()
    async with BleakClient(device, backend=BumbleClient) as client:
        assert client.is_connected


# -- disconnects ---------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_peripheral_drop_fires_the_callback_and_later_calls_raise(sim: DemoAir) -> None:
    dropped = asyncio.Event()
    callers: list[BleakClient] = []

    def on_disconnect(client: BleakClient) -> None:
        callers.append(client)
        dropped.set()

    client = BleakClient(await find(), on_disconnect, backend=BumbleClient)
    await client.connect()
    await sim.tag.drop_connection()
    await dropped.wait()
    assert callers == [client]
    assert not client.is_connected
    with pytest.raises(BleakError):
        await client.read_gatt_char(DATA)
    with pytest.raises(BleakError):
        await client.write_gatt_char(CONTROL, b"\x00", response=True)
    await client.disconnect()  # harmless after a drop


@pytest.mark.asyncio
async def test_own_disconnect_does_not_fire_the_callback(sim: DemoAir) -> None:
    calls: list[BleakClient] = []
    async with BleakClient(await find(), calls.append, backend=BumbleClient):
        pass
    await sim.tag.wait_disconnected()
    for _ in range(3):  # let any call_soon callback run
        await asyncio.sleep(0)
    assert calls == []


@pytest.mark.asyncio
async def test_drop_during_a_request_is_a_bleak_error_not_a_cancellation(sim: DemoAir) -> None:
    never = asyncio.Event()

    async def stall(_data: bytes) -> None:
        await never.wait()

    class Staller(DemoTag):
        def services(self) -> list[ServiceSpec]:
            return [ServiceSpec(SERVICE, (CharacteristicSpec(CONTROL, ("write",), on_write=stall),))]

    staller = await sim.air.add_peripheral(Staller("PB-Stall"))
    async with BleakClient(await find("PB-Stall"), backend=BumbleClient) as client:
        write = asyncio.create_task(client.write_gatt_char(CONTROL, b"\x01", response=True))
        await staller.wait_for_writes(1)
        await staller.drop_connection()
        with pytest.raises(BleakError, match="Disconnected"):
            await write


@pytest.mark.asyncio
async def test_cancelling_a_pending_request_still_cancels(sim: DemoAir) -> None:
    never = asyncio.Event()

    async def stall(_data: bytes) -> None:
        await never.wait()

    class Staller(DemoTag):
        def services(self) -> list[ServiceSpec]:
            return [ServiceSpec(SERVICE, (CharacteristicSpec(CONTROL, ("write",), on_write=stall),))]

    staller = await sim.air.add_peripheral(Staller("PB-Stall"))
    client = BleakClient(await find("PB-Stall"), backend=BumbleClient)
    await client.connect()
    write = asyncio.create_task(client.write_gatt_char(CONTROL, b"\x01", response=True))
    await staller.wait_for_writes(1)
    write.cancel()
    with pytest.raises(asyncio.CancelledError):
        await write
    await staller.drop_connection()


# -- bleak-retry-connector ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_establish_connection_with_the_sim_client_class(sim: DemoAir) -> None:
    client = await establish_connection(SimBleakClient, await find(), "PB-Demo")
    try:
        assert client.is_connected
        assert await client.read_gatt_char(BATTERY) == bytes([87])
    finally:
        await client.disconnect()


@pytest.mark.asyncio
async def test_establish_connection_retries_through_refused_connections(sim: DemoAir) -> None:
    sim.tag.refuse_next_connections(2)
    client = await establish_connection(BleakClient, await find(), "PB-Demo", backend=BumbleClient)
    try:
        assert client.is_connected
        assert sim.tag.stats.refused == 2
        assert sim.tag.stats.connections == 1
    finally:
        await client.disconnect()


# -- several tags ---------------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_two_tags_connected_and_streaming_at_once(sim: DemoAir) -> None:
    other = await sim.air.add_peripheral(DemoTag("PB-Two"))
    first, second = await asyncio.gather(find(), find("PB-Two"))
    async with (
        BleakClient(first, backend=BumbleClient) as client_one,
        BleakClient(second, backend=BumbleClient) as client_two,
    ):
        one, two = Collector(10), Collector(10)
        await asyncio.gather(client_one.start_notify(DATA, one), client_two.start_notify(DATA, two))
        streams = [sim.tag.start_stream(frames(10, 500.0)), other.start_stream(frames(10, 500.0))]
        await asyncio.gather(one.done.wait(), two.done.wait())
        assert await asyncio.gather(*streams) == [10, 10]
        assert one.values == two.values == [frame(i) for i in range(10)]


@pytest.mark.asyncio
async def test_concurrent_connects_on_one_central_are_serialised(sim: DemoAir) -> None:
    await sim.air.add_peripheral(DemoTag("PB-Two"))
    devices = await asyncio.gather(find(), find("PB-Two"))
    clients = [BleakClient(d, backend=BumbleClient) for d in devices]
    await asyncio.gather(*(c.connect() for c in clients))
    assert all(c.is_connected for c in clients)
    await asyncio.gather(*(c.disconnect() for c in clients))
