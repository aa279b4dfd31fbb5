"""The connection supervisor: find the tag, connect, stream, and keep it that way all day.

One :class:`TagLink` owns the connection to one tag for a whole session. Its :meth:`TagLink.run` loop:

1. **scanning**: find the configured tag (pinned by address if set, so a stranger's tag of the same model is
   ignored) or the first supported one;
2. **connecting**: ``bleak_retry_connector.establish_connection`` (bounded attempts, its own backoff);
3. **streaming**: subscribe to the family's notify characteristics with a handler that only enqueues a
   :class:`~posturebuddy.model.RawPacket` into a bounded drop-oldest queue, write the family's start and rate
   commands, read the device info once, poll registers and the battery in owned tasks;
4. on an **unexpected disconnect**: **reconnecting** after a capped, jittered exponential backoff, then
   back to 1; the time without data is published as a :class:`~posturebuddy.model.GapDetected`.

Unrecoverable problems (no Bluetooth, the pinned address is another model) end ``run`` with a
:class:`~posturebuddy.link.errors.LinkError` whose message is one plain sentence. ``stop`` shuts down in
order: stop polling, stop notifications, disconnect, then the queue is left for the consumer to flush.

Time: every packet is stamped with the injected ``clock`` (live: :func:`monotonic_wall_clock`, epoch seconds that
never step back; a scaled clock for accelerated simulations), which is the sample time the engine runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.exc import BleakBluetoothNotAvailableError, BleakError
from bleak_retry_connector import establish_connection

from posturebuddy.devices import GattWrite, NudgePattern, TagFamily
from posturebuddy.link.backoff import Backoff
from posturebuddy.link.errors import BluetoothUnavailableError, LinkError, TagNotFoundError, WrongModelError, explain
from posturebuddy.link.queue import DropOldestQueue
from posturebuddy.link.scan import BleBackend, FoundDevice, find_tag
from posturebuddy.model import (
    ConnectionState,
    ConnectionStateChanged,
    Event,
    GapDetected,
    NudgeSent,
    RawPacket,
    StreamStarted,
)

log = logging.getLogger(__name__)

GATT_TIMEOUT_S = 10.0
"""Longest wait for one GATT operation (read, write, subscribe). A link that dies mid-operation can leave the
stack waiting forever; this bounds it, and the supervisor treats the timeout as a lost link."""
TEARDOWN_TIMEOUT_S = 2.0
"""Longest wait for each step of the shutdown (stop notifications, disconnect): a stop must always finish."""


@dataclass(frozen=True, slots=True)
class LinkOptions:
    """How to find and keep the tag.

    Attributes:
        address: pinned tag address, or ``None`` for the first supported tag.
        family_id: expected family, or ``None``/``"auto"`` to recognise it.
        sample_rate_hz: rate to ask the tag for (snapped by the family).
        scan_timeout_s: how long one scan looks for the tag.
        connect_attempts: attempts per connection (bleak-retry-connector's ``max_attempts``).
        backoff: waits between reconnection rounds.
        battery_poll_s: seconds between battery reads.
        queue_size: capacity of the notification queue (drop-oldest beyond it).
    """

    address: str | None = None
    family_id: str | None = None
    sample_rate_hz: float = 50.0
    scan_timeout_s: float = 10.0
    connect_attempts: int = 3
    backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=0.5, factor=2.0, max_s=30.0))
    battery_poll_s: float = 300.0
    queue_size: int = 4096


@dataclass(slots=True)
class LinkStats:
    """Counters for the dashboard, the recorder and tests."""

    received: int = 0
    connects: int = 0
    unexpected_disconnects: int = 0
    failed_rounds: int = 0
    writes_failed: int = 0


EventSink = Callable[[Event], None]


def monotonic_wall_clock() -> Callable[[], float]:
    """A clock that reads POSIX epoch seconds but never steps backwards.

    It is anchored to the wall clock once and then advanced by the monotonic clock, so an NTP correction or a
    manual clock change during a session cannot reorder packets (sample time must only move forwards).
    """
    wall0 = time.time()
    mono0 = time.monotonic()
    return lambda: wall0 + (time.monotonic() - mono0)


class TagLink:
    """Owns the connection to one tag. See the module docstring for the lifecycle."""

    def __init__(
        self,
        options: LinkOptions,
        backend: BleBackend,
        on_event: EventSink,
        *,
        clock: Callable[[], float] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.options = options
        self.backend = backend
        self.packets: DropOldestQueue[RawPacket | StreamStarted] = DropOldestQueue(options.queue_size)
        self.stats = LinkStats()
        self.state = ConnectionState.IDLE
        self.found: FoundDevice | None = None
        self._on_event = on_event
        self._clock = clock or monotonic_wall_clock()
        self._rng = rng or random.Random()  # noqa: S311 (jitter, not cryptography)
        self._client: BleakClient | None = None
        self._disconnected = asyncio.Event()
        self._stopping = asyncio.Event()
        self._expect_disconnect = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._gap_start_s: float | None = None
        self._write_lock = asyncio.Lock()

    # ------------------------------------------------------------------ public API

    @property
    def family(self) -> TagFamily | None:
        """The family of the tag found, once found."""
        return self.found.family if self.found else None

    @property
    def connected(self) -> bool:
        """True while streaming."""
        return self.state is ConnectionState.STREAMING

    async def run(self) -> None:
        """Keep the tag connected until :meth:`stop`. Raises :class:`LinkError` on unrecoverable problems."""
        attempt = 0
        try:
            while not self._stopping.is_set():
                try:
                    if not await self._connection_unless_stopped():
                        break
                    attempt = 0
                except (WrongModelError, BluetoothUnavailableError):
                    raise
                except (BleakBluetoothNotAvailableError, FileNotFoundError, PermissionError) as exc:
                    raise BluetoothUnavailableError(explain(exc)) from exc
                except (BleakError, TimeoutError, TagNotFoundError, OSError) as exc:
                    if self._stopping.is_set():
                        break
                    self.stats.failed_rounds += 1
                    advice = explain(exc, address=self.options.address)
                    log.info("link round failed: %s", advice)
                    delay = self.options.backoff.delay_s(attempt, self._rng)
                    attempt += 1
                    self._set_state(
                        ConnectionState.RECONNECTING, f"{advice} Retrying in {delay:.0f} s.", expected=False
                    )
                    await self._wait_or_stop(delay)
                    continue
                if self._stopping.is_set():
                    break
                delay = self.options.backoff.delay_s(0, self._rng)
                self._set_state(ConnectionState.RECONNECTING, "link lost; reconnecting", expected=False)
                await self._wait_or_stop(delay)
        finally:
            await self._teardown()
            self._set_state(ConnectionState.STOPPED, "stopped")

    async def stop(self) -> None:
        """Ask :meth:`run` to finish: stop polling, stop notifications, disconnect."""
        self._stopping.set()
        self._disconnected.set()

    async def write(self, writes: list[GattWrite]) -> bool:
        """Write commands to the tag in order (honouring each write's pause). False if not connected/failed."""
        client = self._client
        if client is None or not client.is_connected:
            return False
        async with self._write_lock:
            try:
                for w in writes:
                    async with asyncio.timeout(GATT_TIMEOUT_S):
                        await client.write_gatt_char(w.char_uuid, w.data, response=w.response)
                    if w.pause_after_s > 0:
                        await asyncio.sleep(w.pause_after_s)
            except (BleakError, TimeoutError, OSError) as exc:
                self.stats.writes_failed += 1
                log.warning("write to the tag failed: %s", exc)
                return False
        return True

    async def nudge(self, pattern: NudgePattern) -> bool:
        """Buzz/beep/flash the tag if it can. Publishes :class:`NudgeSent`; returns whether it was sent."""
        family = self.family
        writes = family.nudge_commands(pattern) if family else []
        if not writes:
            self._emit(NudgeSent(self._clock(), pattern=pattern.value, ok=False, detail="this tag cannot nudge"))
            return False
        ok = await self.write(writes)
        self._emit(NudgeSent(self._clock(), pattern=pattern.value, ok=ok, detail="" if ok else "not connected"))
        return ok

    async def set_rate(self, rate_hz: float) -> bool:
        """Ask the tag for a new sample rate (the family snaps it)."""
        family = self.family
        if family is None:
            return False
        return await self.write(family.rate_commands(rate_hz))

    # ------------------------------------------------------------------ one connection

    async def _connection_unless_stopped(self) -> bool:
        """Run one connection round; a stop cancels it even mid-scan or mid-connect. False if stopped."""
        round_task = asyncio.create_task(self._one_connection(), name="link-round")
        stop_task = asyncio.create_task(self._stopping.wait(), name="link-stop")
        try:
            await asyncio.wait({round_task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_task.cancel()
        if not round_task.done():
            # Stopped while scanning or connecting (bleak-retry-connector may retry for a minute): cancel the
            # round; its own cleanup (teardown) is time-bounded.
            round_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await round_task
            return False
        round_task.result()  # re-raise what the round raised
        return True

    async def _one_connection(self) -> None:
        self._set_state(ConnectionState.SCANNING, "looking for the tag")
        found = await find_tag(
            address=self.options.address,
            family_id=self.options.family_id,
            timeout_s=self.options.scan_timeout_s,
            backend=self.backend,
        )
        self.found = found
        family = found.family
        assert family is not None
        self._set_state(ConnectionState.CONNECTING, f"connecting to {found.info.name or found.info.address}")
        self._disconnected.clear()
        self._expect_disconnect = False
        client = await establish_connection(
            BleakClient,
            found.device,
            found.info.name or found.info.address,
            disconnected_callback=self._on_disconnect,
            max_attempts=self.options.connect_attempts,
            **self.backend.client_kwargs(),
        )
        self._client = client
        self.stats.connects += 1
        try:
            missing = [u for u in family.notify_uuids if client.services.get_characteristic(u) is None]
            if missing:
                raise WrongModelError(
                    f"The tag at {found.info.address} does not offer the {family.display_name} motion data "
                    f"(missing {', '.join(missing)}): check [tag] family, or the tag's firmware."
                )
            self.packets.put_nowait(
                StreamStarted(
                    self._clock(),
                    family_id=family.family_id,
                    address=found.info.address,
                    name=found.info.name,
                    rate_hz=family.capabilities.nearest_rate_hz(self.options.sample_rate_hz),
                )
            )
            await self._read_into_queue(family.info_uuid)
            for uuid in family.notify_uuids:
                async with asyncio.timeout(GATT_TIMEOUT_S):
                    await client.start_notify(uuid, self._on_notify)
            await self.write(family.start_commands())
            await self.write(family.rate_commands(self.options.sample_rate_hz))
            now = self._clock()
            if self._gap_start_s is not None:
                self._emit(GapDetected(now, start_s=self._gap_start_s, reason="link down"))
                self._gap_start_s = None
            self._set_state(ConnectionState.STREAMING, f"streaming from {found.info.name or found.info.address}")
            self._spawn(self._poll_loop(family), "poll")
            self._spawn(self._battery_loop(family), "battery")
            await self._disconnected.wait()
        finally:
            await self._teardown()
        if not self._expect_disconnect and not self._stopping.is_set():
            self.stats.unexpected_disconnects += 1
            self._gap_start_s = self._clock()
            log.warning("the tag disconnected unexpectedly")

    def _on_notify(self, characteristic: BleakGATTCharacteristic, data: bytearray) -> None:
        """bleak's notification callback: only enqueue (never block, never raise)."""
        self.stats.received += 1
        self.packets.put_nowait(RawPacket(self._clock(), characteristic.uuid, bytes(data)))

    def _on_disconnect(self, _client: BleakClient) -> None:
        self._disconnected.set()

    async def _read_into_queue(self, uuid: str | None) -> None:
        client = self._client
        if uuid is None or client is None or client.services.get_characteristic(uuid) is None:
            return
        try:
            async with asyncio.timeout(GATT_TIMEOUT_S):
                data = await client.read_gatt_char(uuid)
        except (BleakError, TimeoutError, OSError) as exc:
            log.info("reading %s failed: %s", uuid, exc)
            return
        self.packets.put_nowait(RawPacket(self._clock(), uuid, bytes(data)))

    async def _poll_loop(self, family: TagFamily) -> None:
        if family.poll_period_s <= 0 or not family.poll_commands():
            return
        while True:
            await self.write(family.poll_commands())
            await asyncio.sleep(family.poll_period_s)

    async def _battery_loop(self, family: TagFamily) -> None:
        if family.battery_uuid is None:
            return
        while True:
            await self._read_into_queue(family.battery_uuid)
            await asyncio.sleep(self.options.battery_poll_s)

    def _spawn(self, coro: object, name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=f"link-{name}")  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _teardown(self) -> None:
        """Stop owned tasks, stop notifications, disconnect. Safe to call twice."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        client, self._client = self._client, None
        if client is None:
            return
        self._expect_disconnect = self._stopping.is_set() or self._expect_disconnect
        family = self.family
        if client.is_connected and family is not None:
            for uuid in family.notify_uuids:
                with contextlib.suppress(BleakError, TimeoutError, OSError, ValueError):
                    async with asyncio.timeout(TEARDOWN_TIMEOUT_S):
                        await client.stop_notify(uuid)
        if client.is_connected:
            self._expect_disconnect = True
            with contextlib.suppress(BleakError, TimeoutError, OSError):
                async with asyncio.timeout(TEARDOWN_TIMEOUT_S):
                    await client.disconnect()

    async def _wait_or_stop(self, delay_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=delay_s)

    # ------------------------------------------------------------------ events

    def _emit(self, event: Event) -> None:
        try:
            self._on_event(event)
        except Exception:  # a broken subscriber must not take the link down
            log.exception("event handler failed for %r", event)

    def _set_state(self, state: ConnectionState, detail: str, *, expected: bool = True) -> None:
        if state is self.state and state is not ConnectionState.RECONNECTING:
            return
        self.state = state
        address = self.found.info.address if self.found else (self.options.address or "")
        log.info("link %s: %s", state.value, detail)
        self._emit(
            ConnectionStateChanged(self._clock(), state=state, address=address, detail=detail, expected=expected)
        )


__all__ = ["LinkError", "LinkOptions", "LinkStats", "TagLink"]
