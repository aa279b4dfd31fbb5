"""``VirtualPeripheral``: a bumble GATT peripheral described as data, with paced notifications and faults.

A family-specific virtual tag subclasses it, declares its GATT table and advertisement, and handles writes::

    class DemoTag(VirtualPeripheral):
        def services(self) -> list[ServiceSpec]:
            return [ServiceSpec(SERVICE, (
                CharacteristicSpec(DATA, ("read", "notify")),
                CharacteristicSpec(CONTROL, ("write", "write-without-response")),
            ))]

        def on_write(self, char_uuid: str, data: bytes) -> None:
            if data == b"\\x01":
                self.spawn(self.notify(DATA, b"pong"))

    tag = await air.add_peripheral(DemoTag("PB-Tag"))
    task = tag.start_stream(packets, speed=1.0)        # Packet(t, char_uuid, payload), paced on t
    tag.lose_next(3); tag.corrupt_next(1); tag.refuse_next_connections(2)
    await tag.drop_connection(); await tag.vanish(); await tag.reappear()

UUID strings may be 16-bit (``"180f"``) or 128-bit; they are served and advertised in the form given, and
looked up in bleak's normalised form (lowercase 128-bit), so either spelling finds the characteristic.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, NamedTuple, TypeVar

from bleak.uuids import normalize_uuid_str
from bumble import att, core, hci
from bumble.core import AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from simulators.ble.stack import DEFAULT_ADVERTISING_INTERVAL_MS, disconnect_quietly

__all__ = [
    "AdvertisementSpec",
    "AttError",
    "CharacteristicSpec",
    "Mutator",
    "Packet",
    "PacketSource",
    "PeripheralStats",
    "Property",
    "ServiceSpec",
    "VirtualPeripheral",
    "bit_flipped",
    "truncated",
]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

Property = Literal["read", "write", "write-without-response", "notify", "indicate"]
"""Characteristic properties, spelled as bleak spells them."""

ReadHandler = Callable[[], bytes]
WriteHandler = Callable[[bytes], Awaitable[None] | None]
Mutator = Callable[[bytes], bytes]

_PROPERTY_BITS: dict[str, Characteristic.Properties] = {
    "read": Characteristic.Properties.READ,
    "write": Characteristic.Properties.WRITE,
    "write-without-response": Characteristic.Properties.WRITE_WITHOUT_RESPONSE,
    "notify": Characteristic.Properties.NOTIFY,
    "indicate": Characteristic.Properties.INDICATE,
}
_LEGACY_ADVERTISING_MAX = 31
_FLAGS_LE_GENERAL_DISCOVERABLE_NO_BREDR = 0x06
_YIELD_EVERY = 64


class AttError(Exception):
    """Raise from a read or write handler to answer with an ATT error response (``code``: 0x01-0xFF).

    The client sees ``bleak.exc.BleakGATTProtocolError`` with the same code.
    """

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(code, message)
        self.code = int(code)


@dataclass(frozen=True, slots=True)
class CharacteristicSpec:
    """One characteristic: UUID, properties, initial value, and optional per-characteristic handlers.

    Without ``on_read`` a read returns the stored value (``initial``, then whatever was written or set);
    without ``on_write`` a write goes to :meth:`VirtualPeripheral.on_write`.
    """

    uuid: str
    properties: tuple[Property, ...]
    initial: bytes = b""
    on_read: ReadHandler | None = None
    on_write: WriteHandler | None = None


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One primary service and its characteristics, in handle order."""

    uuid: str
    characteristics: tuple[CharacteristicSpec, ...]


@dataclass(frozen=True, slots=True)
class AdvertisementSpec:
    """What the peripheral advertises. Must fit a legacy advertisement (31 bytes), as on real hardware."""

    local_name: str | None = None
    service_uuids: tuple[str, ...] = ()
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The advertising data; ``ValueError`` if it does not fit 31 bytes."""
        structures: list[tuple[int, bytes]] = [
            (AdvertisingData.Type.FLAGS, bytes([_FLAGS_LE_GENERAL_DISCOVERABLE_NO_BREDR]))
        ]
        if self.local_name:
            structures.append((AdvertisingData.Type.COMPLETE_LOCAL_NAME, self.local_name.encode("utf-8")))
        by_size: dict[int, list[bytes]] = {}
        for text in self.service_uuids:
            raw = core.UUID(text).uuid_bytes
            by_size.setdefault(len(raw), []).append(raw)
        list_types = {
            2: AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
            4: AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS,
            16: AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
        }
        structures.extend((list_types[size], b"".join(raws)) for size, raws in sorted(by_size.items()))
        structures.extend(
            (AdvertisingData.Type.MANUFACTURER_SPECIFIC_DATA, company.to_bytes(2, "little") + payload)
            for company, payload in self.manufacturer_data.items()
        )
        data = bytes(AdvertisingData(structures))
        if len(data) > _LEGACY_ADVERTISING_MAX:
            raise ValueError(f"advertising data is {len(data)} bytes, more than {_LEGACY_ADVERTISING_MAX}: {self}")
        return data


class Packet(NamedTuple):
    """One notification of a stream: source time in seconds, characteristic, payload."""

    t: float
    char_uuid: str
    payload: bytes


PacketSource = Iterable[Packet] | AsyncIterable[Packet]


@dataclass(slots=True)
class PeripheralStats:
    """Counters, for tests and for the simulator's status line."""

    connections: int = 0
    refused: int = 0
    notifications: int = 0
    lost: int = 0
    corrupted: int = 0
    unsubscribed: int = 0
    reads: int = 0
    writes: int = 0


def truncated(keep: int | None = None) -> Mutator:
    """A mutator keeping the first ``keep`` bytes (default: half the payload)."""

    def mutate(payload: bytes) -> bytes:
        return payload[: len(payload) // 2 if keep is None else keep]

    return mutate


def bit_flipped(index: int = 0, mask: int = 0x80) -> Mutator:
    """A mutator XOR-ing byte ``index`` (negative counts from the end) with ``mask``."""

    def mutate(payload: bytes) -> bytes:
        if not payload:
            return payload
        data = bytearray(payload)
        data[index % len(data)] ^= mask
        return bytes(data)

    return mutate


class VirtualPeripheral:
    """A GATT peripheral on a bumble Device: GATT table as data, advertising, notifications and faults.

    Subclasses override :meth:`services` (required), and optionally :meth:`advertisement`, :meth:`on_read`,
    :meth:`on_write`, :meth:`on_connected`, :meth:`on_disconnected`, :meth:`on_subscription_changed`.
    One central at a time, like the tags it imitates: while connected it does not advertise.
    """

    def __init__(self, name: str, *, address: str | None = None) -> None:
        self.name = name
        self.address = address
        self.stats = PeripheralStats()
        self.writes: deque[tuple[str, bytes]] = deque(maxlen=1000)
        """The latest writes as (normalised characteristic UUID, data), oldest first."""
        self._device: Device | None = None
        self._advertising_interval_ms = DEFAULT_ADVERTISING_INTERVAL_MS
        self._advertising_data = b""
        self._advertising_wanted = False
        self._advertising_lock = asyncio.Lock()
        self._characteristics: dict[str, Characteristic[bytes]] = {}
        self._values: dict[str, bytes] = {}
        self._subscribers: dict[str, dict[Connection, bool]] = {}
        self._subscribed_events: dict[str, asyncio.Event] = {}
        self._connections: list[Connection] = []
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._disconnected.set()
        self._write_event = asyncio.Event()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lose_remaining = 0
        self._corrupt_remaining = 0
        self._mutator: Mutator = truncated()
        self._refuse_remaining = 0

    # -- to override -------------------------------------------------------------------------------------------

    def services(self) -> Sequence[ServiceSpec]:
        """The GATT table (primary services, in order). bumble adds the GAP/GATT services and the CCCDs."""
        raise NotImplementedError

    def advertisement(self) -> AdvertisementSpec:
        """What to advertise; default: the name and the first service's UUID."""
        services = self.services()
        return AdvertisementSpec(local_name=self.name, service_uuids=(services[0].uuid,) if services else ())

    def on_read(self, char_uuid: str) -> bytes:
        """Value for a read of ``char_uuid`` (normalised) without its own ``on_read``: the stored value."""
        return self._values[char_uuid]

    def on_write(self, char_uuid: str, data: bytes) -> Awaitable[None] | None:
        """Handle a write to ``char_uuid`` (normalised) without its own ``on_write``: store the value.

        May be a coroutine function. Raise :class:`AttError` to reject a write with response.
        """
        self._values[char_uuid] = data
        return None

    def on_connected(self, connection: Connection) -> None:
        """A central connected (refused connections do not count)."""

    def on_disconnected(self, reason: int) -> None:
        """The central went away (HCI reason code)."""

    def on_subscription_changed(self, char_uuid: str, subscribed: bool) -> None:
        """Some central subscribed to, or the last one unsubscribed from, ``char_uuid``."""

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def device(self) -> Device:
        """The bumble Device (after :meth:`start`)."""
        if self._device is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._device

    async def start(self, device: Device, *, advertising_interval_ms: float = DEFAULT_ADVERTISING_INTERVAL_MS) -> None:
        """Serve the GATT table on ``device``, power it on and start advertising."""
        if self._device is not None:
            raise RuntimeError(f"{self.name} is already started")
        self._device = device
        self._advertising_interval_ms = advertising_interval_ms
        self._advertising_data = self.advertisement().to_bytes()
        for service in self.services():
            device.add_service(Service(service.uuid, [self._build(spec) for spec in service.characteristics]))
        device.on(Device.EVENT_CONNECTION, self._on_connection)
        await device.power_on()
        self._advertising_wanted = True
        await self._advertise()

    async def stop(self) -> None:
        """Stop streams, disconnect, stop advertising, power off. Safe to call twice."""
        self._advertising_wanted = False
        # Let an advertising command already sent finish first: cancelling a task while bumble's host waits for
        # the controller's answer leaves that answer with nowhere to go (InvalidStateError in Host.on_packet).
        async with self._advertising_lock:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._device is None:
            return
        for connection in list(self._connections):
            await disconnect_quietly(connection)
        if self._device.powered_on:
            async with self._advertising_lock:
                await self._device.stop_advertising()
            await self._device.power_off()

    def spawn(self, coroutine: Coroutine[Any, Any, _T], name: str | None = None) -> asyncio.Task[_T]:
        """Run ``coroutine`` as a task owned by this peripheral (cancelled by :meth:`stop`)."""
        task = asyncio.get_running_loop().create_task(coroutine, name=name or f"{self.name}-task")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- state ---------------------------------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        """True while a central is connected."""
        return bool(self._connections)

    @property
    def is_advertising(self) -> bool:
        """True while the controller advertises."""
        return self._device is not None and bool(self._device.is_advertising)

    def is_subscribed(self, char_uuid: str) -> bool:
        """True if some connected central has notifications or indications on for ``char_uuid``."""
        return bool(self._subscribers.get(normalize_uuid_str(char_uuid)))

    async def wait_subscribed(self, char_uuid: str) -> None:
        """Wait until :meth:`is_subscribed` is true for ``char_uuid``."""
        await self._subscribed_event(normalize_uuid_str(char_uuid)).wait()

    async def wait_connected(self) -> None:
        """Wait until a central is connected."""
        await self._connected.wait()

    async def wait_disconnected(self) -> None:
        """Wait until no central is connected."""
        await self._disconnected.wait()

    async def wait_for_writes(self, count: int) -> None:
        """Wait until ``stats.writes`` reaches ``count`` (any characteristic, with or without response)."""
        while self.stats.writes < count:
            self._write_event.clear()
            await self._write_event.wait()

    def value(self, char_uuid: str) -> bytes:
        """The stored value of ``char_uuid``."""
        return self._values[normalize_uuid_str(char_uuid)]

    def set_value(self, char_uuid: str, value: bytes) -> None:
        """Set the value served on reads (no notification)."""
        key = normalize_uuid_str(char_uuid)
        if key not in self._values:
            raise KeyError(f"{self.name} has no characteristic {char_uuid}")
        self._values[key] = bytes(value)

    # -- notifications ---------------------------------------------------------------------------------------------

    async def notify(self, char_uuid: str, payload: bytes) -> bool:
        """Notify (or indicate) ``payload`` to the subscribers of ``char_uuid``, through the active faults.

        Returns True if it went out to at least one central. Applies back-pressure: waits for the controller
        when the ACL queue is full. Payloads longer than MTU-3 are truncated by bumble, as by real stacks.
        """
        key = normalize_uuid_str(char_uuid)
        subscribers = self._subscribers.get(key)
        if not subscribers:
            self.stats.unsubscribed += 1
            return False
        if self._lose_remaining > 0:
            self._lose_remaining -= 1
            self.stats.lost += 1
            return False
        if self._corrupt_remaining > 0:
            self._corrupt_remaining -= 1
            self.stats.corrupted += 1
            payload = self._mutator(payload)
        characteristic = self._characteristics[key]
        device = self.device
        for connection, indicate in list(subscribers.items()):
            if indicate:
                await device.indicate_subscriber(connection, characteristic, payload)
            else:
                await device.notify_subscriber(connection, characteristic, payload)
                queue = connection.data_packet_queue
                if queue is not None and queue.pending >= queue.max_in_flight:
                    await connection.drain()
        self.stats.notifications += 1
        return True

    def start_stream(
        self,
        source: PacketSource,
        *,
        speed: float | None = 1.0,
        when_unsubscribed: Literal["wait", "drop"] = "wait",
    ) -> asyncio.Task[int]:
        """Notify the packets of ``source`` as a task owned by this peripheral; the task returns the count sent.

        ``speed``: packets go out at ``t / speed`` seconds after the first one (1.0: real time, 10.0: ten times
        faster); ``None``: as fast as the link takes them. ``when_unsubscribed``: ``"wait"`` pauses the stream
        until a central subscribes to the packet's characteristic (then pacing restarts from there, without a
        catch-up burst); ``"drop"`` keeps the pace and discards packets nobody subscribed to.
        """
        if speed is not None and speed <= 0:
            raise ValueError(f"speed must be positive or None, not {speed}")
        return self.spawn(self._stream(source, speed, when_unsubscribed), name=f"{self.name}-stream")

    async def _stream(self, source: PacketSource, speed: float | None, when_unsubscribed: str) -> int:
        loop = asyncio.get_running_loop()
        anchor: tuple[float, float] | None = None  # (loop time, source time) of the pacing origin
        sent = 0
        counter = itertools.count(1)
        async for packet in _aiter(source):
            if when_unsubscribed == "wait" and not self.is_subscribed(packet.char_uuid):
                await self.wait_subscribed(packet.char_uuid)
                anchor = None
            if speed is not None:
                if anchor is None:
                    anchor = (loop.time(), packet.t)
                delay = anchor[0] + (packet.t - anchor[1]) / speed - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            if await self.notify(packet.char_uuid, packet.payload):
                sent += 1
            if next(counter) % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
        return sent

    # -- faults -------------------------------------------------------------------------------------------------

    async def drop_connection(self, reason: int = hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR) -> None:
        """Disconnect every central (peripheral-initiated); advertising resumes unless the tag vanished."""
        for connection in list(self._connections):
            await disconnect_quietly(connection, reason)

    async def stop_advertising(self) -> None:
        """Stop advertising (and do not resume after a disconnect) until :meth:`start_advertising`."""
        self._advertising_wanted = False
        if self._device is not None and self._device.powered_on:
            async with self._advertising_lock:
                await self._device.stop_advertising()

    async def start_advertising(self) -> None:
        """Advertise again (right away if no central is connected, else after it leaves)."""
        self._advertising_wanted = True
        await self._advertise()

    async def vanish(self) -> None:
        """The tag goes out of range: stop advertising and drop the connection."""
        await self.stop_advertising()
        await self.drop_connection(hci.HCI_CONNECTION_TIMEOUT_ERROR)

    async def reappear(self) -> None:
        """The tag is back in range."""
        await self.start_advertising()

    def lose_next(self, count: int) -> None:
        """Lose the next ``count`` notifications that would have reached a subscriber (a loss burst)."""
        self._lose_remaining += count

    def corrupt_next(self, count: int, mutate: Mutator | None = None) -> None:
        """Pass the next ``count`` delivered notifications through ``mutate`` (default: keep the first half)."""
        self._corrupt_remaining += count
        self._mutator = mutate or truncated()

    def refuse_next_connections(self, count: int) -> None:
        """Accept and immediately drop the next ``count`` connections (the central sees a failed connect)."""
        self._refuse_remaining += count

    # -- bumble plumbing ------------------------------------------------------------------------------------------

    def _build(self, spec: CharacteristicSpec) -> Characteristic[bytes]:
        key = normalize_uuid_str(spec.uuid)
        if key in self._characteristics:
            raise ValueError(f"{self.name}: characteristic {spec.uuid} declared twice")
        unknown = set(spec.properties) - set(_PROPERTY_BITS)
        if unknown:
            raise ValueError(f"{self.name}: unknown properties {sorted(unknown)} for {spec.uuid}")
        properties = Characteristic.Properties(0)
        for name in spec.properties:
            properties |= _PROPERTY_BITS[name]
        permissions = Characteristic.Permissions(0)
        if "read" in spec.properties:
            permissions |= Characteristic.Permissions.READABLE
        if {"write", "write-without-response"} & set(spec.properties):
            permissions |= Characteristic.Permissions.WRITEABLE
        value: CharacteristicValue[bytes] = CharacteristicValue(
            read=partial(self._handle_read, spec, key), write=partial(self._handle_write, spec, key)
        )
        characteristic: Characteristic[bytes] = Characteristic(spec.uuid, properties, permissions, value)
        characteristic.on(Characteristic.EVENT_SUBSCRIPTION, partial(self._on_subscription, key))
        self._characteristics[key] = characteristic
        self._values[key] = bytes(spec.initial)
        return characteristic

    def _handle_read(self, spec: CharacteristicSpec, key: str, _connection: Connection) -> bytes:
        self.stats.reads += 1
        try:
            return spec.on_read() if spec.on_read is not None else self.on_read(key)
        except AttError as error:
            raise att.ATT_Error(error.code) from error

    async def _handle_write(self, spec: CharacteristicSpec, key: str, _connection: Connection, data: bytes) -> None:
        data = bytes(data)
        self.stats.writes += 1
        self.writes.append((key, data))
        self._write_event.set()
        try:
            result = spec.on_write(data) if spec.on_write is not None else self.on_write(key, data)
            if result is not None:
                await result
        except AttError as error:
            raise att.ATT_Error(error.code) from error

    def _on_connection(self, connection: Connection) -> None:
        if connection.role != hci.Role.PERIPHERAL:
            return
        if self._refuse_remaining > 0:
            self._refuse_remaining -= 1
            self.stats.refused += 1
            connection.on(Connection.EVENT_DISCONNECTION, lambda _reason: self.spawn(self._advertise()))
            self.spawn(
                disconnect_quietly(connection, hci.HCI_REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_LOW_RESOURCES_ERROR)
            )
            return
        self._connections.append(connection)
        self.stats.connections += 1
        self._connected.set()
        self._disconnected.clear()
        connection.on(Connection.EVENT_DISCONNECTION, partial(self._on_disconnection, connection))
        self.on_connected(connection)

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        if connection in self._connections:
            self._connections.remove(connection)
        for key, subscribers in self._subscribers.items():
            if subscribers.pop(connection, None) is not None and not subscribers:
                self._subscribed_event(key).clear()
                self.on_subscription_changed(key, False)
        if not self._connections:
            self._connected.clear()
            self._disconnected.set()
        self.on_disconnected(reason)
        self.spawn(self._advertise())

    def _on_subscription(self, key: str, bearer: att.Bearer, notify_enabled: bool, indicate_enabled: bool) -> None:
        if not isinstance(bearer, Connection):
            return  # enhanced ATT bearers are not used by the tags we imitate
        subscribers = self._subscribers.setdefault(key, {})
        was_subscribed = bool(subscribers)
        if notify_enabled or indicate_enabled:
            subscribers[bearer] = not notify_enabled
        else:
            subscribers.pop(bearer, None)
        event = self._subscribed_event(key)
        if subscribers:
            event.set()
        else:
            event.clear()
        if was_subscribed != bool(subscribers):
            self.on_subscription_changed(key, bool(subscribers))

    def _subscribed_event(self, key: str) -> asyncio.Event:
        event = self._subscribed_events.get(key)
        if event is None:
            event = self._subscribed_events[key] = asyncio.Event()
        return event

    async def _advertise(self) -> None:
        """Start advertising if wanted, powered and not connected."""
        async with self._advertising_lock:
            device = self._device
            if device is None or not device.powered_on or not self._advertising_wanted or self._connections:
                return
            await device.start_advertising(
                advertising_data=self._advertising_data,
                advertising_interval_min=self._advertising_interval_ms,
                advertising_interval_max=self._advertising_interval_ms,
            )


async def _aiter(source: PacketSource) -> AsyncIterator[Packet]:
    """Iterate a sync or async packet source asynchronously."""
    if isinstance(source, AsyncIterable):
        async for packet in source:
            yield packet
    else:
        for packet in source:
            yield packet
