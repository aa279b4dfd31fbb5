"""A bleak backend over a bumble central: ``BumbleScanner`` and ``BumbleClient`` for ``backend=``.

Application code stays pure bleak; only the ``backend=`` argument (or :class:`SimBleakClient`) changes::

    set_default_central(hub)                       # or pass central=hub to each scanner / client
    dev = await BleakScanner.find_device_by_name("PB-Tag", backend=BumbleScanner)
    async with BleakClient(dev, backend=BumbleClient) as client:   # mtu=517 by default, mtu=None: no exchange
        await client.start_notify(DATA_UUID, on_data)
    client = await establish_connection(SimBleakClient, dev, "PB-Tag")   # bleak-retry-connector

Behaviour follows bleak 3.1.0's backend contract (``bleak/backends/client.py``, ``scanner.py``):

- UUIDs are lowercase 128-bit strings and property names are bleak's (``"write-without-response"``...).
- A link drop during a GATT call becomes ``BleakError`` (bumble surfaces it as a cancelled future), unless the
  calling task really is being cancelled. ATT error responses become ``BleakGATTProtocolError``.
- The disconnected callback runs only for disconnects we did not ask for.
- ``BLEDevice.details`` never holds a ``"path"`` key: bleak-retry-connector would then try D-Bus calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal, cast

from bleak import BleakClient
from bleak.args import SizedBuffer
from bleak.assigned_numbers import gatt_char_props_to_strs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble import att, core, hci
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy

from simulators.ble.stack import Central, disconnect_quietly, get_default_central, set_default_central

__all__ = [
    "DEFAULT_MTU",
    "DETAILS_KEY",
    "BumbleClient",
    "BumbleScanner",
    "SimBleakClient",
    "advertisement_data",
    "bleak_uuid",
    "get_default_central",
    "set_default_central",
]

_log = logging.getLogger(__name__)

DEFAULT_MTU = 517
"""BlueZ, CoreBluetooth and WinRT all exchange the MTU on connect; so does this backend unless ``mtu=None``."""

DETAILS_KEY = "bumble_address"
"""Key in ``BLEDevice.details`` holding the bumble address with its type (``"F0:00:00:00:00:01"`` or ``".../P"``)."""

_ATT_DEFAULT_MTU = 23


def _central_from(kwargs: dict[str, Any]) -> Central:
    given = kwargs.get("central")
    if given is None:
        return get_default_central()
    if isinstance(given, Central | Device):
        return Central.of(given)
    raise TypeError(f"central= must be a simulators.ble.Central or a bumble Device, not {type(given).__name__}")


def bleak_uuid(value: core.UUID) -> str:
    """bumble UUID (little-endian bytes, 16/32/128-bit) -> bleak's lowercase 128-bit string."""
    return str(uuid.UUID(bytes=bytes(reversed(value.uuid_128_bytes))))


def advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    """Map a bumble advertisement to bleak's ``AdvertisementData``.

    The virtual controller echoes the advertising data as a scan response and bumble merges the two, so every
    field arrives twice: service UUIDs are de-duplicated keeping their order, and the first name wins.
    """
    local_name: str | None = None
    manufacturer_data: dict[int, bytes] = {}
    service_data: dict[str, bytes] = {}
    service_uuids: list[str] = []
    tx_power: int | None = None
    kind = AdvertisingData.Type
    for ad_type, ad_data in advertisement.data.ad_structures:
        match ad_type:
            case kind.COMPLETE_LOCAL_NAME | kind.SHORTENED_LOCAL_NAME:
                if local_name is None or ad_type == kind.COMPLETE_LOCAL_NAME:
                    local_name = ad_data.decode("utf-8", errors="replace")
            case kind.MANUFACTURER_SPECIFIC_DATA if len(ad_data) >= 2:
                manufacturer_data[int.from_bytes(ad_data[:2], "little")] = bytes(ad_data[2:])
            case kind.SERVICE_DATA_16_BIT_UUID | kind.SERVICE_DATA_32_BIT_UUID | kind.SERVICE_DATA_128_BIT_UUID:
                size = {kind.SERVICE_DATA_16_BIT_UUID: 2, kind.SERVICE_DATA_32_BIT_UUID: 4}.get(ad_type, 16)
                service_data[bleak_uuid(core.UUID.from_bytes(ad_data[:size]))] = bytes(ad_data[size:])
            case kind.TX_POWER_LEVEL if ad_data:
                tx_power = int.from_bytes(ad_data[:1], "little", signed=True)
            case _:
                uuid_size = _UUID_LIST_SIZES.get(ad_type)
                if uuid_size is not None:
                    for offset in range(0, len(ad_data) - uuid_size + 1, uuid_size):
                        text = bleak_uuid(core.UUID.from_bytes(ad_data[offset : offset + uuid_size]))
                        if text not in service_uuids:
                            service_uuids.append(text)
    return AdvertisementData(
        local_name=local_name,
        manufacturer_data=manufacturer_data,
        service_data=service_data,
        service_uuids=service_uuids,
        tx_power=tx_power,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )


_UUID_LIST_SIZES: dict[int, int] = {
    AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS: 2,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.Type.COMPLETE_LIST_OF_32_BIT_SERVICE_CLASS_UUIDS: 4,
    AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
    AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS: 16,
}


@contextlib.contextmanager
def _bleak_errors(operation: str) -> Iterator[None]:
    """Translate bumble failures into bleak's exceptions.

    bumble cancels pending GATT/HCI futures when the link drops, so a drop reaches us as ``CancelledError``.
    That becomes ``BleakError("... Disconnected")`` (which bleak-retry-connector retries without backoff) unless
    the current task is really being cancelled, in which case the cancellation goes on.
    """
    try:
        yield
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise
        raise BleakError(f"{operation} failed: Disconnected") from None
    except att.ATT_Error as error:
        raise BleakGATTProtocolError(int(error.error_code)) from error
    except core.TimeoutError as error:
        raise TimeoutError(f"{operation} timed out") from error
    except core.BaseBumbleError as error:
        raise BleakError(f"{operation} failed: {error}") from error


class BumbleScanner(BaseBleakScanner):
    """bleak scanner backend over a bumble central (shared: scans are reference counted on the central).

    Extra kwarg: ``central=`` (a :class:`~simulators.ble.stack.Central` or bumble Device); else the default.
    Scanning is always active on the virtual controller; ``scanning_mode`` is accepted and ignored.
    """

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Literal["active", "passive"] = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._central = _central_from(kwargs)
        self._scanning_mode = scanning_mode
        self._token: int | None = None

    async def start(self) -> None:
        """Start scanning (clears the devices seen by a previous scan)."""
        self.seen_devices = {}
        if self._token is None:
            self._token = await self._central.start_scan(self._on_advertisement)

    async def stop(self) -> None:
        """Stop this scanner; other scanners on the same central keep scanning."""
        token, self._token = self._token, None
        if token is not None:
            await self._central.stop_scan(token)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        data = advertisement_data(advertisement)
        if not self.is_allowed_uuid(data.service_uuids):
            return
        address = advertisement.address.to_string(False)
        details = {DETAILS_KEY: str(advertisement.address)}
        device = self.create_or_update_device(address, address, data.local_name, details, data)
        self.call_detection_callbacks(device, data)


class BumbleClient(BaseBleakClient):
    """bleak client backend over a bumble central.

    Extra kwargs (through ``BleakClient(..., **kwargs)``):

    - ``central=``: the :class:`~simulators.ble.stack.Central` (or bumble Device) to use; default: the module's.
    - ``mtu=``: ATT MTU to request on connect (default 517); ``None`` keeps 23 (no exchange, like Android before
      ``requestMtu``). bumble's server truncates notifications to MTU-3 bytes.
    """

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._central = _central_from(kwargs)
        self._mtu_request: int | None = kwargs.get("mtu", DEFAULT_MTU)
        wanted: set[str] | None = kwargs.get("services")
        self._service_filter = None if wanted is None else [core.UUID(u) for u in sorted(wanted)]
        self._device_name: str | None = None
        self._bumble_address: str | None = None
        if isinstance(address_or_ble_device, BLEDevice):
            self._device_name = address_or_ble_device.name
            details = address_or_ble_device.details
            if isinstance(details, dict) and isinstance(details.get(DETAILS_KEY), str):
                self._bumble_address = details[DETAILS_KEY]
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._disconnecting = False
        self._notify_callbacks: dict[int, Callable[[bytes], None]] = {}

    # -- connection ------------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The advertised name, else the address with dashes (as bleak documents)."""
        return self._device_name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        """The negotiated ATT MTU (23 until an exchange)."""
        return self._connection.att_mtu if self._connection is not None else _ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        """True between a successful ``connect`` and a disconnect of either side."""
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange the MTU, discover services. Raises ``TimeoutError`` after ``timeout`` seconds."""
        if self.is_connected:
            return
        timeout = float(kwargs.get("timeout", self._timeout))
        deadline = asyncio.get_running_loop().time() + timeout
        address = await self._resolve_address(deadline)
        async with asyncio.timeout_at(deadline):
            async with self._central.connect_lock:
                connection = await self._create_connection(address)
            self._attach(connection)
            try:
                peer = self._require_peer("connect")
                with _bleak_errors("connect"):
                    if self._mtu_request is not None:
                        await peer.request_mtu(self._mtu_request)
                    self.services = await self._discover(peer)
                if pair:
                    await self.pair()
            except BaseException:
                await self._drop_silently()
                raise

    async def _resolve_address(self, deadline: float) -> hci.Address:
        """The address to connect to; for a bare address string, wait until it is seen advertising."""
        if self._bumble_address is not None:
            return hci.Address(self._bumble_address)
        wanted = self.address.upper()
        found: asyncio.Future[Advertisement] = asyncio.get_running_loop().create_future()

        def on_advertisement(advertisement: Advertisement) -> None:
            if not found.done() and advertisement.address.to_string(False) == wanted:
                found.set_result(advertisement)

        token = await self._central.start_scan(on_advertisement)
        try:
            async with asyncio.timeout_at(deadline):
                advertisement = await found
        except TimeoutError:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found") from None
        finally:
            await self._central.stop_scan(token)
        if self._device_name is None:
            self._device_name = advertisement_data(advertisement).local_name
        return advertisement.address

    async def _create_connection(self, address: hci.Address) -> Connection:
        device = self._central.device
        try:
            with _bleak_errors("connect"):
                connection = await device.connect(address, timeout=None)
        except asyncio.CancelledError:
            await self._central.abandon_pending_connection()
            raise
        if device.connections.get(connection.handle) is not connection:
            raise BleakError(f"{self.address}: Disconnected during connection setup")
        return connection

    def _attach(self, connection: Connection) -> None:
        self._connection = connection
        self._peer = Peer(connection)
        self._disconnecting = False
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)

    def _on_disconnection(self, reason: int) -> None:
        _log.debug("%s disconnected, reason 0x%02X", self.address, reason)
        self._connection = None
        self._peer = None
        self._notify_callbacks.clear()
        if not self._disconnecting and self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def _drop_silently(self) -> None:
        """Tear a half-made connection down without calling the disconnected callback."""
        connection = self._connection
        self._disconnecting = True
        if connection is not None:
            await disconnect_quietly(connection)
        self._connection = None
        self._peer = None

    async def disconnect(self) -> None:
        """Disconnect (no disconnected callback for this one). No-op when not connected."""
        await self._drop_silently()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        """Pair over the current connection (bumble's default pairing configuration)."""
        connection = self._require_connection("pair")
        with _bleak_errors("pair"):
            await connection.pair()

    async def unpair(self) -> None:
        """Not supported by the simulator."""
        raise BleakError("unpair is not supported by the bumble backend")

    # -- services ----------------------------------------------------------------------------------------------

    async def _discover(self, peer: Peer) -> BleakGATTServiceCollection:
        services = await peer.discover_services(self._service_filter or ())  # all, or only the wanted ones
        for service in services:
            await service.discover_characteristics()
            for characteristic in service.characteristics:
                await peer.discover_descriptors(characteristic)
        collection = BleakGATTServiceCollection()
        for service in services:
            bleak_service = BleakGATTService(service, service.handle, bleak_uuid(service.uuid))
            collection.add_service(bleak_service)
            for characteristic in service.characteristics:
                bleak_characteristic = BleakGATTCharacteristic(
                    characteristic,
                    characteristic.handle,
                    bleak_uuid(characteristic.uuid),
                    sorted(gatt_char_props_to_strs(int(characteristic.properties))),
                    self._max_write_without_response_size,
                    bleak_service,
                )
                collection.add_characteristic(bleak_characteristic)
                for descriptor in characteristic.descriptors:
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            descriptor, descriptor.handle, bleak_uuid(descriptor.type), bleak_characteristic
                        )
                    )
        return collection

    def _max_write_without_response_size(self) -> int:
        return self.mtu_size - 3

    # -- I/O -----------------------------------------------------------------------------------------------------

    def _require_connection(self, operation: str) -> Connection:
        if self._connection is None:
            raise BleakError(f"{operation}: Not connected")
        return self._connection

    def _require_peer(self, operation: str) -> Peer:
        if self._peer is None:
            raise BleakError(f"{operation}: Not connected")
        return self._peer

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a characteristic value (``use_cached``: the last value read or notified, if any)."""
        return await self._read(characteristic.handle, use_cached, "read_gatt_char")

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        """Read a descriptor value."""
        return await self._read(descriptor.handle, use_cached, "read_gatt_descriptor")

    async def _read(self, handle: int, use_cached: bool, operation: str) -> bytearray:
        peer = self._require_peer(operation)
        if use_cached and (cached := peer.gatt_client.cached_values.get(handle)) is not None:
            return bytearray(cached[1])
        with _bleak_errors(operation):
            return bytearray(await peer.read_value(handle))

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool) -> None:
        """Write a characteristic value, with or without response."""
        peer = self._require_peer("write_gatt_char")
        with _bleak_errors("write_gatt_char"):
            await peer.write_value(characteristic.handle, bytes(data), with_response=response)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        """Write a descriptor value (bleak itself refuses the CCCD: use start_notify)."""
        peer = self._require_peer("write_gatt_descriptor")
        with _bleak_errors("write_gatt_descriptor"):
            await peer.write_value(descriptor.handle, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Subscribe (notifications preferred over indications); bumble writes the CCCD."""
        peer = self._require_peer("start_notify")
        proxy = cast("CharacteristicProxy[bytes]", characteristic.obj)

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        previous = self._notify_callbacks.pop(characteristic.handle, None)
        with _bleak_errors("start_notify"):
            if previous is not None:
                await peer.unsubscribe(proxy, previous)
            self._notify_callbacks[characteristic.handle] = on_value
            await peer.subscribe(proxy, on_value, prefer_notify=True)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        """Unsubscribe; the CCCD is cleared when the last subscriber goes."""
        peer = self._require_peer("stop_notify")
        proxy = cast("CharacteristicProxy[bytes]", characteristic.obj)
        subscriber = self._notify_callbacks.pop(characteristic.handle, None)
        with _bleak_errors("stop_notify"):
            await peer.gatt_client.unsubscribe(proxy, subscriber, force=subscriber is None)


class SimBleakClient(BleakClient):
    """A ``BleakClient`` that uses :class:`BumbleClient` unless told otherwise.

    For APIs that take a client class rather than a backend, like
    ``bleak_retry_connector.establish_connection(SimBleakClient, device, name)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("backend", BumbleClient)
        super().__init__(*args, **kwargs)
