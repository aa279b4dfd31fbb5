"""The virtual air: bumble virtual controllers on one ``LocalLink``, in this process and this event loop.

Topology (all in the running loop)::

    LocalLink <- Controller("hub") <- Host <- Device     a central, used by the bleak backend
    LocalLink <- Controller("tag") <- Host <- Device     a peripheral, driven by a VirtualPeripheral

Every bumble object binds to the loop that is running when it is created, so everything here that builds one
is a coroutine or must be called from inside the loop (pitfall 1 in the research notes).

A peripheral can also run on a real controller: :func:`open_device_on_transport` opens a bumble transport
(``usb:0``, ``serial:/dev/ttyACM0,1000000``, ``tcp-server:_:9000``...) and puts a Device on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Self, TypeVar

from bleak.exc import BleakError
from bumble import hci
from bumble.controller import Controller
from bumble.device import Advertisement, Connection, Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink, Transport

if TYPE_CHECKING:
    from simulators.ble.peripheral import VirtualPeripheral

__all__ = [
    "DEFAULT_ADVERTISING_INTERVAL_MS",
    "Central",
    "ControllerOnTransport",
    "DeviceOnTransport",
    "VirtualAir",
    "close_transport",
    "disconnect_quietly",
    "get_default_central",
    "open_device_on_transport",
    "quiet_bumble_logging",
    "set_default_central",
]

_log = logging.getLogger(__name__)
_Peripheral = TypeVar("_Peripheral", bound="VirtualPeripheral")

DEFAULT_ADVERTISING_INTERVAL_MS = 20.0
"""bumble's own default is 1000 ms, which makes every scan and connect wait up to a second."""

_DISCONNECT_TIMEOUT_S = 2.0

AdvertisementListener = Callable[[Advertisement], None]


def quiet_bumble_logging(level: int = logging.WARNING) -> None:
    """Raise bumble's log level to at least ``level``: at DEBUG it writes about 11 records per notification.

    A level already set higher (the application may want errors only) is kept.
    """
    logger = logging.getLogger("bumble")
    if logger.getEffectiveLevel() < level:
        logger.setLevel(level)


async def disconnect_quietly(
    connection: Connection, reason: int = hci.HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR
) -> None:
    """Disconnect ``connection`` if it is still up, and wait (bounded) for the link to confirm.

    bumble's own ``disconnect`` waits forever if the connection vanished between our check and the
    controller handling the command, so the wait is capped.
    """
    device = connection.device
    if device.connections.get(connection.handle) is not connection:
        return
    try:
        async with asyncio.timeout(_DISCONNECT_TIMEOUT_S):
            await connection.disconnect(reason)
    except TimeoutError:
        _log.warning("disconnect of %s not confirmed within %.1f s", connection.peer_address, _DISCONNECT_TIMEOUT_S)
    except hci.HCI_Error as error:
        _log.debug("disconnect of %s failed: %s", connection.peer_address, error)


_default_central: Central | None = None


def set_default_central(central: Central | Device | None) -> None:
    """Make ``central`` the one bleak scanners and clients use without a ``central=`` kwarg (None clears it)."""
    global _default_central  # one process-wide default, like the OS default adapter
    _default_central = None if central is None else Central.of(central)


def get_default_central() -> Central:
    """The default central; ``BleakError`` if none is set."""
    if _default_central is None:
        raise BleakError("no bumble central: call simulators.ble.set_default_central() or pass central=")
    return _default_central


class Central:
    """A bumble Device in the central role, shared by every bleak scanner and client that uses it.

    It owns what a real host stack (BlueZ) would arbitrate between applications:

    - one lock, because a controller can only have one pending LE connection (``COMMAND_DISALLOWED``);
    - reference-counted scanning, so stopping one ``BleakScanner`` does not stop another (pitfall 9).

    Use :meth:`of` to get the one ``Central`` of a Device.
    """

    _registry: ClassVar[weakref.WeakKeyDictionary[Device, Central]] = weakref.WeakKeyDictionary()

    def __init__(self, device: Device, controller: Controller | None = None) -> None:
        if device in Central._registry:
            raise ValueError("this Device already has a Central; use Central.of(device)")
        self.device = device
        self.controller = controller
        self.connect_lock = asyncio.Lock()
        self._scan_lock = asyncio.Lock()
        self._listeners: dict[int, AdvertisementListener] = {}
        self._tokens = itertools.count(1)
        device.on(Device.EVENT_ADVERTISEMENT, self._dispatch)
        Central._registry[device] = self

    @classmethod
    def of(cls, device_or_central: Device | Central) -> Central:
        """The ``Central`` wrapping ``device_or_central`` (created on first use)."""
        if isinstance(device_or_central, Central):
            return device_or_central
        found = cls._registry.get(device_or_central)
        return found if found is not None else cls(device_or_central)

    @property
    def address(self) -> str:
        """The central's own address, as bleak spells addresses."""
        return str(self.device.random_address.to_string(False))

    @property
    def scan_listeners(self) -> int:
        """How many scans are running on this central."""
        return len(self._listeners)

    async def start_scan(self, listener: AdvertisementListener) -> int:
        """Add a listener for advertisements; the first one starts the controller's scan. Returns a token."""
        async with self._scan_lock:
            token = next(self._tokens)
            self._listeners[token] = listener
            if not self.device.is_scanning:
                await self.device.start_scanning(active=True, filter_duplicates=False)
            return token

    async def stop_scan(self, token: int) -> None:
        """Remove a listener; the last one stops the controller's scan."""
        async with self._scan_lock:
            if self._listeners.pop(token, None) is None:
                return
            if not self._listeners and self.device.is_scanning and self.device.powered_on:
                await self.device.stop_scanning()

    async def abandon_pending_connection(self) -> None:
        """Clean up after a connect attempt that was given up (timeout or cancellation).

        A real controller cancels on ``LE_Create_Connection_Cancel``. bumble 0.0.236's virtual controller answers
        that command but keeps the pending connection, which would connect later behind our back and make every
        further connect fail with ``COMMAND_DISALLOWED``, so it is cleared here as well.
        """
        if not self.device.powered_on:
            return
        with contextlib.suppress(hci.HCI_Error):
            await self.device.send_sync_command(hci.HCI_LE_Create_Connection_Cancel_Command())
        if self.controller is not None:
            self.controller.pending_le_connection = None

    def _dispatch(self, advertisement: Advertisement) -> None:
        for listener in list(self._listeners.values()):
            listener(advertisement)

    async def close(self) -> None:
        """Disconnect everything, stop scanning and power off."""
        for connection in list(self.device.connections.values()):
            await disconnect_quietly(connection)
        self._listeners.clear()
        if self.device.powered_on:
            if self.device.is_scanning:
                await self.device.stop_scanning()
            await self.device.power_off()


@dataclass(slots=True)
class DeviceOnTransport:
    """A bumble Device whose controller is behind a real transport (a USB dongle, a UART, a socket)."""

    device: Device
    transport: Transport

    async def close(self) -> None:
        """Power the device off and close the transport."""
        if self.device.powered_on:
            await self.device.power_off()
        await close_transport(self.transport)


@dataclass(slots=True)
class ControllerOnTransport:
    """A virtual controller on the air whose host lives elsewhere, reached over a transport."""

    controller: Controller
    transport: Transport

    async def close(self) -> None:
        """Close the transport (the controller stays on the link, silent)."""
        await close_transport(self.transport)


async def close_transport(transport: Transport) -> None:
    """Close a bumble transport, including what bumble 0.0.236's ``tcp-server`` transport leaves open.

    Its ``close()`` neither closes the listening server nor the accepted connection (a ResourceWarning, an
    error under ``filterwarnings=error``), so both are closed here when present.
    """
    await transport.close()
    accepted: Any = getattr(transport.sink, "transport", None)
    if isinstance(accepted, asyncio.BaseTransport):
        accepted.close()
    server: Any = getattr(transport, "server", None)
    if isinstance(server, asyncio.AbstractServer):
        server.close()
        await server.wait_closed()


async def open_device_on_transport(spec: str, name: str, address: str) -> DeviceOnTransport:
    """Open the bumble transport ``spec`` and create a Device on it (not powered on yet).

    ``spec`` is a bumble transport moniker: ``usb:0``, ``usb:VID:PID``, ``serial:/dev/ttyACM0,1000000``,
    ``hci-socket:0``, ``tcp-client:host:port``, ``tcp-server:_:port``... On Linux the kernel must let go of
    a USB dongle first (``hciconfig hciX down``), and the user needs permission on the device node.
    """
    transport = await open_transport(spec)
    device = Device.with_hci(name, hci.Address(address), transport.source, transport.sink)
    return DeviceOnTransport(device=device, transport=transport)


class VirtualAir:
    """One shared radio medium (a bumble ``LocalLink``) with virtual controllers on it.

    Create it and its devices inside the running loop, one air per test::

        async with VirtualAir() as air:
            hub = await air.add_central()
            tag = await air.add_peripheral(DemoTag())
            set_default_central(hub)
            ...

    Closing the air stops every peripheral and central it made (disconnect, stop advertising, power off).
    """

    def __init__(self, *, advertising_interval_ms: float = DEFAULT_ADVERTISING_INTERVAL_MS, quiet: bool = True) -> None:
        if quiet:
            quiet_bumble_logging()
        self.link: LocalLink = LocalLink()  # type: ignore[no-untyped-call]
        self.advertising_interval_ms = advertising_interval_ms
        self.centrals: list[Central] = []
        self.peripherals: list[VirtualPeripheral] = []
        self._exposed: list[ControllerOnTransport] = []
        self._central_numbers = itertools.count(1)
        self._peripheral_numbers = itertools.count(1)
        self._closed = False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def new_device(self, name: str, address: str) -> tuple[Device, Controller]:
        """A Device on a fresh virtual controller on this air (not powered on). Call inside the loop."""
        controller = Controller(name, link=self.link, public_address=address)
        device = Device(name=name, address=hci.Address(address), host=Host(controller, AsyncPipeSink(controller)))
        return device, controller

    async def add_central(self, name: str | None = None, address: str | None = None) -> Central:
        """A powered-on central (the app's "adapter"). Pass it to ``set_default_central`` or ``central=``."""
        number = next(self._central_numbers)
        device, controller = self.new_device(name or f"hub{number}", address or _address(0xC0, number))
        await device.power_on()
        central = Central(device, controller)
        self.centrals.append(central)
        return central

    async def add_peripheral(self, peripheral: _Peripheral, address: str | None = None) -> _Peripheral:
        """Put ``peripheral`` on the air on its own controller, power it on and start advertising."""
        number = next(self._peripheral_numbers)
        device, _ = self.new_device(peripheral.name, address or peripheral.address or _address(0xF0, number))
        await peripheral.start(device, advertising_interval_ms=self.advertising_interval_ms)
        self.peripherals.append(peripheral)
        return peripheral

    async def expose_controller(
        self, spec: str, name: str = "remote", address: str | None = None
    ) -> ControllerOnTransport:
        """Serve a virtual controller of this air as HCI over ``spec`` (e.g. ``tcp-server:_:9001``).

        Another process attaches a bumble host to it (``tcp-client:127.0.0.1:9001``) and becomes a central or a
        peripheral on this air. Note that bumble's ``tcp-server`` does not report a lost client, so a killed
        remote host leaves its connections up until the peer drops them.
        """
        transport = await open_transport(spec)
        number = next(self._central_numbers)
        controller = Controller(
            name,
            host_source=transport.source,
            host_sink=transport.sink,
            link=self.link,
            public_address=address or _address(0xD0, number),
        )
        exposed = ControllerOnTransport(controller=controller, transport=transport)
        self._exposed.append(exposed)
        return exposed

    async def close(self) -> None:
        """Stop all centrals, then all peripherals made here. Safe to call twice.

        Clients still connected see an unsolicited disconnect (their disconnected callback runs), as when an
        adapter goes away. If the default central is one of ours, the default is cleared.
        """
        if self._closed:
            return
        self._closed = True
        if _default_central in self.centrals:
            set_default_central(None)
        for central in self.centrals:
            await central.close()
        for peripheral in self.peripherals:
            await peripheral.stop()
        for exposed in self._exposed:
            await exposed.close()


def _address(prefix: int, number: int) -> str:
    """A static random address: the two top bits of the first byte must be 1 (``prefix`` >= 0xC0)."""
    return f"{prefix:02X}:00:00:00:{(number >> 8) & 0xFF:02X}:{number & 0xFF:02X}"
