"""Serve a virtual tag on a bumble transport: ``python -m simulators serve``.

Two ways to attach the tag, chosen by the transport's scheme:

* **On a controller** (``usb``, ``pyusb``, ``serial``, ``hci-socket``, ``vhci``, ``tcp-client``, ``unix``...):
  the tag's bumble host drives that controller, e.g. a USB Bluetooth dongle, so a phone (nRF Connect) or a real
  BlueZ machine sees the tag over the radio.
* **For a host elsewhere** (``tcp-server``, ``unix-server``, ``ws-server``; ``vhci`` and ``pty``, where the
  kernel's BlueZ is the host): the tag sits on an in-process virtual air, and a second virtual controller of that
  air is served as HCI on the transport. An app attaches its own bumble host with ``tcp-client:127.0.0.1:PORT``
  (or ``unix:PATH``) and finds the tag there; with ``vhci`` the local BlueZ gets a new adapter that sees it.

  bumble's server transports do not report a lost client, and its virtual controller ignores ``HCI_Reset``, so
  an app that is killed would leave the tag connected, silent and not advertising (research notes, pitfall 8).
  A **watchdog** checks the served socket every :data:`WATCHDOG_PERIOD_S`: when the tag is connected but no
  client is attached (its socket closed), or a new client replaced the one that connected, the tag's link is
  dropped, so it advertises again for the next app.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bumble import hci
from bumble.device import Device
from bumble.transport import open_transport
from bumble.transport.common import Transport

from posturebuddy.devices import get_family
from simulators.ble.stack import (
    DEFAULT_ADVERTISING_INTERVAL_MS,
    ControllerOnTransport,
    VirtualAir,
    close_transport,
    quiet_bumble_logging,
)
from simulators.record import simulate_for, virtual_address
from simulators.tags import VirtualTag, make_virtual_tag

__all__ = [
    "DOC_SECTION",
    "SERVER_SCHEMES",
    "WATCHDOG_PERIOD_S",
    "ServeError",
    "ServeOptions",
    "Served",
    "explain_transport_error",
    "serve",
    "transport_scheme",
]

DOC_SECTION = "docs/simulator.md, section 'Running a virtual tag for a phone or BlueZ over a USB dongle'"
SERVER_SCHEMES = frozenset({"tcp-server", "unix-server"})
"""Socket servers a bumble host in another process attaches to (the tag gets the watchdog there)."""
HOST_SIDE_SCHEMES = SERVER_SCHEMES | {"ws-server", "vhci", "pty"}
"""Transports whose other end is a *host* (an app, or the kernel's BlueZ for ``vhci`` / a ``btattach``-ed
``pty``): the tag stays on an in-process virtual air and a second virtual controller is served there."""
KNOWN_SCHEMES = frozenset(
    {
        "serial",
        "udp",
        "tcp-client",
        "tcp-server",
        "ws-client",
        "ws-server",
        "pty",
        "file",
        "vhci",
        "hci-socket",
        "usb",
        "pyusb",
        "android-emulator",
        "android-netsim",
        "unix",
        "unix-client",
        "unix-server",
    }
)
"""bumble 0.0.236's transport schemes."""
WATCHDOG_PERIOD_S = 0.25
"""How often the watchdog looks at the served socket."""
POWER_ON_TIMEOUT_S = 10.0
"""How long a controller may take to answer the reset and set-up commands."""
REAL_RADIO_ADVERTISING_INTERVAL_MS = 100.0
"""Advertising interval on a real controller (phones scan fine at this rate; 20 ms floods the air)."""


class ServeError(Exception):
    """The tag could not be served; the message is one sentence that says how to fix it."""


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """What ``serve`` runs.

    Attributes:
        scenario: scenario name or file.
        device: tag family id.
        transport: bumble transport moniker (``usb:0``, ``tcp-server:_:9001``...).
        speed: simulated seconds per wall second.
        seed: scenario seed (default: the scenario's own).
        rate_hz: simulation rate (default: the family's default); the app still chooses the stream rate.
        duration_s: cut the scenario (the tag loops over what is simulated).
        name: advertised name (default: the family's).
        address: static random address (default: derived from device, scenario and seed).
        advertising_interval_ms: advertising interval (default: 20 ms on a virtual air, 100 ms on a radio).
    """

    scenario: str
    device: str
    transport: str
    speed: float = 1.0
    seed: int | None = None
    rate_hz: float | None = None
    duration_s: float | None = None
    name: str | None = None
    address: str | None = None
    advertising_interval_ms: float | None = None


@dataclass(slots=True)
class Served:
    """A running tag, handed to ``on_ready``.

    Attributes:
        tag: the virtual tag.
        transport: the transport moniker.
        for_app: True if the transport serves a virtual controller to a host elsewhere (an app in another
            process, or the kernel for ``vhci``); the watchdog runs on ``tcp-server`` / ``unix-server``.
        watchdog_drops: links the watchdog dropped because the app's socket closed.
    """

    tag: VirtualTag
    transport: str
    for_app: bool
    watchdog_drops: int = 0


def transport_scheme(spec: str) -> str:
    """The scheme of a transport moniker (``usb`` for ``usb:0``, ``vhci`` for ``vhci``)."""
    return spec.split(":", 1)[0].strip().lower()


def explain_transport_error(spec: str, error: BaseException) -> str:
    """One sentence for a transport that did not open: what is wrong and how to fix it."""
    scheme = transport_scheme(spec)
    detail = str(error).strip() or type(error).__name__
    if scheme in ("usb", "pyusb"):
        return (
            f"no USB Bluetooth dongle found for '{spec}' (or it is in use by the kernel's btusb driver): plug one in, "
            "run 'sudo hciconfig hci0 down' or stop bluetoothd, and check the udev permission rule, "
            f"see {DOC_SECTION} ({detail})"
        )
    if scheme == "hci-socket":
        return (
            f"cannot open the kernel HCI socket '{spec}' ({detail}): this needs Linux, root or CAP_NET_RAW, and the "
            f"adapter down ('sudo hciconfig hci0 down'), see {DOC_SECTION}"
        )
    if scheme == "vhci":
        return (
            f"cannot open /dev/vhci ({detail}): load the module with 'sudo modprobe hci_vhci' and run with access to "
            "/dev/vhci (root, or a udev rule), on a machine whose BlueZ should see the tag"
        )
    if scheme == "serial":
        return (
            f"cannot open the serial port of '{spec}' ({detail}): check the device path and baud rate "
            "(serial:/dev/ttyACM0,1000000) and that your user may use it (the dialout group)"
        )
    if scheme in ("tcp-client", "unix", "unix-client", "ws-client"):
        return (
            f"nothing answers at '{spec}' ({detail}): start the controller side first, e.g. "
            "'python -m simulators serve ... --transport tcp-server:_:9001' or a bumble controller app"
        )
    if scheme in SERVER_SCHEMES or scheme == "ws-server":
        return f"cannot listen on '{spec}' ({detail}): the port or socket path is in use or invalid; choose another one"
    return f"cannot open transport '{spec}' ({detail}); see 'python -m simulators serve --help' for the forms"


async def _open(spec: str) -> Transport:
    scheme = transport_scheme(spec)
    if scheme not in KNOWN_SCHEMES:
        known = ", ".join(sorted(KNOWN_SCHEMES))
        raise ServeError(f"unknown transport '{spec}': the scheme must be one of {known} (e.g. usb:0)")
    try:
        return await open_transport(spec)
    except asyncio.CancelledError:
        raise
    except Exception as error:
        raise ServeError(explain_transport_error(spec, error)) from error


def _client_of(transport: Transport) -> object | None:
    """The accepted client connection of a bumble server transport (None while no client is attached)."""
    client: Any = getattr(transport.sink, "transport", None)
    return client if client is not None else None


async def _watchdog(served: Served, transport: Transport, out: Callable[[str], None]) -> None:
    """Drop the tag's links when the app's socket goes away (bumble's server transports do not say so).

    Every :data:`WATCHDOG_PERIOD_S` it looks at the served socket's accepted client. The tag's link is orphaned
    when no client is attached while the tag is connected (only the served controller can connect to it), or
    when a new client replaced the one that made the link. Either way the link is dropped with a supervision
    timeout, and the tag advertises again.
    """
    attached: object | None = None
    while True:
        await asyncio.sleep(WATCHDOG_PERIOD_S)
        client = _client_of(transport)
        replaced = attached is not None and client is not attached
        orphaned = client is None and served.tag.is_connected
        if replaced or orphaned:
            parser = getattr(transport.source, "parser", None)
            if parser is not None and hasattr(parser, "reset"):
                parser.reset()  # a half-received packet of the dead app must not prefix the next app's bytes
            if served.tag.is_connected:
                served.watchdog_drops += 1
                await served.tag.drop_connection(hci.HCI_CONNECTION_TIMEOUT_ERROR)
                out("watchdog: the app's socket closed; dropped its link to the tag, which advertises again")
            else:
                out("the app's socket closed")
        if client is not None and client is not attached:
            out("an app attached to the served controller")
        attached = client


async def _monitor(served: Served, out: Callable[[str], None]) -> None:
    """Print connection and streaming changes."""
    tag = served.tag
    connected = streaming = False
    while True:
        await asyncio.sleep(0.2)
        if tag.is_connected != connected:
            connected = tag.is_connected
            peer = ""
            if connected and tag.link is not None:
                peer = f" from {tag.link.peer_address}"
            out(f"central connected{peer}" if connected else "central disconnected; advertising again")
        if tag.is_streaming != streaming:
            streaming = tag.is_streaming
            out(f"streaming at {tag.rate_hz:g} Hz" if streaming else "stream stopped")


async def serve(
    options: ServeOptions,
    *,
    stop: asyncio.Event | None = None,
    out: Callable[[str], None] = print,
    on_ready: Callable[[Served], None] | None = None,
) -> Served:
    """Run the virtual tag on ``options.transport`` until ``stop`` is set (forever without one).

    Raises:
        ServeError: the transport cannot be opened or its controller does not answer (one-sentence message).
        KeyError, FileNotFoundError: unknown device or scenario.
    """
    quiet_bumble_logging()
    family = get_family(options.device)
    scheme = transport_scheme(options.transport)
    for_app = scheme in HOST_SIDE_SCHEMES
    stop = stop or asyncio.Event()
    air: VirtualAir | None = None
    exposed: ControllerOnTransport | None = None
    transport: Transport | None = None
    device: Device | None = None
    tag: VirtualTag | None = None
    tasks: list[asyncio.Task[None]] = []
    try:
        if for_app:
            air = VirtualAir(advertising_interval_ms=options.advertising_interval_ms or DEFAULT_ADVERTISING_INTERVAL_MS)
            try:
                exposed = await air.expose_controller(options.transport, name="app")
            except Exception as error:
                raise ServeError(explain_transport_error(options.transport, error)) from error
        else:
            transport = await _open(options.transport)
        out(f"simulating '{options.scenario}' for a {family.display_name} ...")
        rec = simulate_for(
            options.scenario, options.device, rate_hz=options.rate_hz, seed=options.seed, duration_s=options.duration_s
        )
        address = options.address or virtual_address(options.device, rec.scenario.name, rec.seed)
        tag = make_virtual_tag(options.device, rec, name=options.name, address=address, speed=options.speed)
        try:
            tag.advertisement().to_bytes()
        except ValueError as error:
            raise ServeError(
                f"the name '{tag.name}' makes the advertisement too long ({error}); use a shorter --name"
            ) from None
        if air is not None:
            interval = air.advertising_interval_ms
            await air.add_peripheral(tag, address=address)
        else:
            assert transport is not None
            interval = options.advertising_interval_ms or REAL_RADIO_ADVERTISING_INTERVAL_MS
            device = Device.with_hci(tag.name, hci.Address(address), transport.source, transport.sink)
            try:
                async with asyncio.timeout(POWER_ON_TIMEOUT_S):
                    await tag.start(device, advertising_interval_ms=interval)
            except (TimeoutError, hci.HCI_Error) as error:
                raise ServeError(
                    f"the controller on '{options.transport}' did not accept the set-up ({error or 'no answer'}): "
                    "it may need firmware (Realtek: bumble-rtk-fw-download, Intel: bumble-intel-fw-download) or be "
                    f"in use by another program, see {DOC_SECTION}"
                ) from error
        served = Served(tag=tag, transport=options.transport, for_app=for_app)
        service = family.service_uuids[0] if family.service_uuids else "-"
        out(
            f"'{tag.name}' ({address}, {family.display_name}) is advertising on {options.transport} every "
            f"{interval:g} ms, service {service}"
        )
        out(
            f"playing '{rec.scenario.name}' (seed {rec.seed}, {rec.duration_s:g} s, looping) at {options.speed:g}x; "
            "press Ctrl-C to stop"
        )
        if scheme in SERVER_SCHEMES:
            port = options.transport.split(":")[-1]
            client = f"tcp-client:127.0.0.1:{port}" if scheme == "tcp-server" else f"unix:{port}"
            out(f"apps attach a bumble host with '{client}'; a watchdog frees the tag when an app's socket closes")
            assert exposed is not None
            tasks.append(asyncio.create_task(_watchdog(served, exposed.transport, out), name="serve-watchdog"))
        elif scheme == "vhci":
            out("this machine's BlueZ has a new virtual adapter (see 'hciconfig'); scan with it to find the tag")
        tasks.append(asyncio.create_task(_monitor(served, out), name="serve-monitor"))
        if on_ready is not None:
            on_ready(served)
        await stop.wait()
        out(f"stopping: {tag.stats.notifications} notifications sent, {tag.stats.connections} connections")
        return served
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if air is not None:
            await air.close()
        else:
            if tag is not None:
                with contextlib.suppress(Exception):
                    await tag.stop()
            if device is not None and device.powered_on:
                with contextlib.suppress(Exception):
                    await device.power_off()
            if transport is not None:
                with contextlib.suppress(Exception):
                    await close_transport(transport)
