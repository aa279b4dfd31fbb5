"""Faults of VirtualPeripheral, seen from the app's side through bleak."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakError

from simulators.ble import BumbleClient, BumbleScanner
from simulators.ble.peripheral import Packet, bit_flipped, truncated
from simulators.ble.testing import DATA, DemoAir, demo_air, frame, frames


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[DemoAir]:
    async with demo_air() as sim:
        yield sim


@pytest_asyncio.fixture
async def client(sim: DemoAir) -> AsyncIterator[BleakClient]:
    device = await BleakScanner.find_device_by_name("PB-Demo", timeout=1.0, backend=BumbleScanner)
    assert device is not None
    async with BleakClient(device, backend=BumbleClient) as client:
        yield client


class Inbox:
    """Records notifications; ``wait(n)`` returns once n have arrived."""

    def __init__(self) -> None:
        self.values: list[bytes] = []
        self._changed = asyncio.Event()

    def __call__(self, _sender: BleakGATTCharacteristic, data: bytearray) -> None:
        self.values.append(bytes(data))
        self._changed.set()

    async def wait(self, count: int) -> list[bytes]:
        while len(self.values) < count:
            self._changed.clear()
            await self._changed.wait()
        return self.values


@pytest.mark.asyncio
async def test_loss_burst_skips_the_next_notifications(sim: DemoAir, client: BleakClient) -> None:
    inbox = Inbox()
    await client.start_notify(DATA, inbox)
    sim.tag.lose_next(3)
    assert await sim.tag.start_stream(frames(10, 1000.0)) == 7
    assert await inbox.wait(7) == [frame(i) for i in range(3, 10)]
    assert sim.tag.stats.lost == 3


@pytest.mark.asyncio
async def test_corrupted_notifications_are_truncated_or_bit_flipped(sim: DemoAir, client: BleakClient) -> None:
    inbox = Inbox()
    await client.start_notify(DATA, inbox)
    sim.tag.corrupt_next(2)
    for i in range(3):
        await sim.tag.notify(DATA, frame(i))
    sim.tag.corrupt_next(1, bit_flipped(0, 0x01))
    await sim.tag.notify(DATA, frame(3))
    sim.tag.corrupt_next(1, truncated(5))
    await sim.tag.notify(DATA, frame(4))
    values = await inbox.wait(5)
    assert values[:3] == [frame(0)[:10], frame(1)[:10], frame(2)]
    assert values[3] == bytes([frame(3)[0] ^ 0x01]) + frame(3)[1:]
    assert values[4] == frame(4)[:5]
    assert sim.tag.stats.corrupted == 4


@pytest.mark.asyncio
async def test_refused_connection_fails_the_connect_and_the_next_one_succeeds(sim: DemoAir) -> None:
    device = await BleakScanner.find_device_by_name("PB-Demo", timeout=1.0, backend=BumbleScanner)
    assert device is not None
    sim.tag.refuse_next_connections(1)
    with pytest.raises(BleakError):
        await BleakClient(device, backend=BumbleClient).connect()
    async with BleakClient(device, backend=BumbleClient) as client:
        assert client.is_connected
    assert (sim.tag.stats.refused, sim.tag.stats.connections) == (1, 1)


@pytest.mark.asyncio
async def test_vanish_drops_the_link_and_hides_the_tag_until_it_reappears(sim: DemoAir) -> None:
    device = await BleakScanner.find_device_by_name("PB-Demo", timeout=1.0, backend=BumbleScanner)
    assert device is not None
    lost = asyncio.Event()
    async with BleakClient(device, lambda _client: lost.set(), backend=BumbleClient):
        await sim.tag.vanish()
        await lost.wait()
    assert not sim.tag.is_advertising
    assert await BleakScanner.find_device_by_name("PB-Demo", timeout=0.06, backend=BumbleScanner) is None
    await sim.tag.reappear()
    assert await BleakScanner.find_device_by_name("PB-Demo", timeout=1.0, backend=BumbleScanner) is not None


@pytest.mark.asyncio
async def test_tag_advertises_again_after_a_drop_and_the_app_can_reconnect(sim: DemoAir, client: BleakClient) -> None:
    await sim.tag.drop_connection()
    await sim.tag.wait_disconnected()
    await client.connect()
    assert client.is_connected
    assert sim.tag.stats.connections == 2


@pytest.mark.asyncio
async def test_stream_waits_for_a_subscriber_by_default(sim: DemoAir, client: BleakClient) -> None:
    stream = sim.tag.start_stream(frames(5, 1000.0))
    inbox = Inbox()
    await client.start_notify(DATA, inbox)
    assert await stream == 5
    assert await inbox.wait(5) == [frame(i) for i in range(5)]


@pytest.mark.asyncio
async def test_stream_in_drop_mode_discards_packets_nobody_subscribed_to(sim: DemoAir) -> None:
    sent = await sim.tag.start_stream(frames(50), speed=None, when_unsubscribed="drop")
    assert sent == 0
    assert sim.tag.stats.unsubscribed == 50


@pytest.mark.asyncio
async def test_stream_accepts_an_async_source_and_a_speed_factor(sim: DemoAir, client: BleakClient) -> None:
    async def source() -> AsyncIterator[Packet]:
        for i in range(5):
            yield Packet(i * 0.5, DATA, frame(i))  # 2 s of source time

    inbox = Inbox()
    await client.start_notify(DATA, inbox)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await sim.tag.start_stream(source(), speed=40.0) == 5  # 2 s / 40 = 50 ms
    assert 0.045 <= loop.time() - started < 1.5  # at speed 1 it would take 2 s
    assert await inbox.wait(5) == [frame(i) for i in range(5)]


@pytest.mark.asyncio
async def test_stop_cancels_streams_and_disconnects(sim: DemoAir, client: BleakClient) -> None:
    inbox = Inbox()
    await client.start_notify(DATA, inbox)
    stream = sim.tag.start_stream(frames(10_000, 100.0))
    await inbox.wait(1)
    await sim.tag.stop()
    assert stream.cancelled()
    assert not sim.tag.device.powered_on
    assert not sim.tag.is_connected
