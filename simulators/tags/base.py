"""``VirtualTag``: what every virtual tag family shares.

A virtual tag is a :class:`~simulators.ble.peripheral.VirtualPeripheral` that plays a
:class:`~simulators.wearer.simulation.SimulatedRecording` through its family's encoders:

* **Simulated clock.** The tag's clock starts at :meth:`start` and runs at ``speed`` times the wall clock
  (``speed=20``: one wall second is twenty simulated seconds). The wearer keeps living whether or not a central
  listens, so the recording position is ``now_s`` (seconds since power-on), looping at the end by default.
* **Stream.** While :meth:`streaming_wanted` holds (the family decides: subscribed, sensor enabled, ...), one owned
  task samples the recording at the tag's *current* rate, ``rate_hz``: sample ``k`` is taken at simulated time
  ``t_k`` and the recording row nearest ``t_k`` is encoded (sample-and-hold when the tag runs faster than the
  recording). A rate change applies from the next sample. Rows with ``present == False`` are generated but never
  reach the host (the wearer is out of range), so sequence counters still advance.
* **Battery.** A state of charge that drains at ``battery_drain_pct_per_h`` of simulated time (or charges while
  :attr:`charging`); :meth:`drain_battery_to` jumps to a level. At 0 % the tag goes silent: the stream stops, the
  connection drops and it stops advertising until :meth:`recharge`.
* **Logs for tests.** ``cues``: what the tag visibly or audibly did (LED, buzz, tone, identify), as
  ``(t_s, description)``; ``commands``: every host write the tag handled, accepted or not; ``sent``: the logical
  frames handed to the radio with the recording row they came from (bounded deques).

All ``VirtualPeripheral`` faults (``lose_next``, ``corrupt_next``, ``refuse_next_connections``,
``drop_connection``, ``vanish``/``reappear``) keep working.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np
import numpy.typing as npt
from bleak.uuids import normalize_uuid_str
from bumble.device import Connection, Device

from simulators.ble.peripheral import AdvertisementSpec, CharacteristicSpec, VirtualPeripheral
from simulators.ble.stack import DEFAULT_ADVERTISING_INTERVAL_MS
from simulators.wearer.simulation import SimulatedRecording

__all__ = [
    "AD_COMPLETE_LIST_128",
    "AD_COMPLETE_LOCAL_NAME",
    "AD_FLAGS",
    "AD_INCOMPLETE_LIST_16",
    "AD_INCOMPLETE_LIST_128",
    "AD_MANUFACTURER",
    "AD_SHORTENED_LOCAL_NAME",
    "FLAGS_GENERAL_DISCOVERABLE_NO_BREDR",
    "RawAdvertisement",
    "SentFrame",
    "TagOptions",
    "VirtualTag",
    "default_address",
    "fit_advertisement",
    "uuid_le_bytes",
    "vec3",
]

# AD types (Bluetooth SIG Assigned Numbers, "Common Data Types")
AD_FLAGS = 0x01
AD_INCOMPLETE_LIST_16 = 0x02
AD_INCOMPLETE_LIST_128 = 0x06
AD_COMPLETE_LIST_128 = 0x07
AD_SHORTENED_LOCAL_NAME = 0x08
AD_COMPLETE_LOCAL_NAME = 0x09
AD_MANUFACTURER = 0xFF
FLAGS_GENERAL_DISCOVERABLE_NO_BREDR = 0x06
_LEGACY_MAX = 31

_MAX_LAG_WALL_S = 0.25
"""If the stream falls this far behind its schedule (wall seconds), it skips ahead: fresh data beats old."""
_YIELD_EVERY = 32


def vec3(row: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """A recording row as a 3-tuple of floats, NaN (a sensor the tag lacks) as 0."""
    x, y, z = (float(v) if math.isfinite(v) else 0.0 for v in row[:3])
    return (x, y, z)


def uuid_le_bytes(uuid_text: str) -> bytes:
    """A UUID string (16-bit ``"aa80"`` or 128-bit) as it sits in an AD structure: little-endian bytes."""
    hex_digits = uuid_text.replace("-", "")
    return bytes.fromhex(hex_digits)[::-1]


@dataclass(frozen=True, slots=True)
class RawAdvertisement(AdvertisementSpec):
    """Advertising data given as exact AD structures ``(type, payload)``, in order.

    :class:`AdvertisementSpec` only writes *complete* service lists and the complete name; real tags use other
    forms (Thingy:52 an incomplete 128-bit list, the PostureBuddy profile a shortened name), so the tags build
    their bytes here. Still limited to a 31-byte legacy advertisement.
    """

    structures: tuple[tuple[int, bytes], ...] = ()

    def to_bytes(self) -> bytes:
        """The advertising data; ``ValueError`` if it does not fit 31 bytes."""
        data = b"".join(bytes([len(payload) + 1, ad_type]) + payload for ad_type, payload in self.structures)
        if len(data) > _LEGACY_MAX:
            raise ValueError(f"advertising data is {len(data)} bytes, more than {_LEGACY_MAX}")
        return data


def fit_advertisement(
    advertising: Sequence[tuple[int, bytes]], scan_response: Sequence[tuple[int, bytes]]
) -> RawAdvertisement:
    """Advertising data plus whichever scan-response structures still fit in 31 bytes, in order.

    bumble 0.0.236's virtual controller answers a scan request with the advertising data again and ignores the
    scan response a device sets, so what a real tag puts in its scan response (usually the complete name) can
    only reach the central inside the advertising data. Structures that do not fit are left out.
    """
    structures = list(advertising)
    size = sum(len(p) + 2 for _, p in structures)
    for ad_type, payload in scan_response:
        if size + len(payload) + 2 <= _LEGACY_MAX:
            structures.append((ad_type, payload))
            size += len(payload) + 2
    return RawAdvertisement(structures=tuple(structures))


@dataclass(frozen=True, slots=True)
class SentFrame:
    """One logical frame handed to the radio.

    Attributes:
        t_s: simulated tag time of the sample, seconds since power-on.
        index: recording row the frame was encoded from.
        char_uuid: characteristic (normalised 128-bit).
        frame: the encoded frame (before any re-framing into notifications, e.g. WitMotion's split mode).
    """

    t_s: float
    index: int
    char_uuid: str
    frame: bytes


class TagOptions(TypedDict, total=False):
    """The :class:`VirtualTag` options every family accepts (see its Args)."""

    speed: float
    rate_hz: float | None
    loop: bool
    start_offset_s: float
    battery_percent: float
    battery_drain_pct_per_h: float
    battery_charge_pct_per_h: float
    low_battery_pct: float


@dataclass(slots=True)
class _Offline:
    """The state of a tag driven by :meth:`VirtualTag.run_offline` (no radio)."""

    subscribed: frozenset[str]
    att_mtu: int
    specs: dict[str, CharacteristicSpec]
    t_s: float = 0.0
    outbox: list[tuple[str, bytes]] = field(default_factory=list)
    lookup: dict[str, bool] = field(default_factory=dict)
    normalized: dict[str, str] = field(default_factory=dict)


_OFFLINE_SETTLE_S = 5.0
"""How long :meth:`VirtualTag.offline_write` waits for the tasks a write spawned (replies are immediate)."""

_address_counter = itertools.count(1)


def default_address(prefix: int) -> str:
    """A fresh static random address (top two bits set) for a virtual tag of some family."""
    number = next(_address_counter)
    return f"{prefix:02X}:5A:00:00:{(number >> 8) & 0xFF:02X}:{number & 0xFF:02X}"


class VirtualTag(VirtualPeripheral):
    """Base of the virtual tags: recording playback, rate, battery and logs. See the module docstring.

    Args:
        name: advertised / GAP device name.
        recording: what the wearer does and what the IMU measures.
        address: the tag's address (default: a fresh static random one).
        speed: simulated seconds per wall second (>0).
        rate_hz: initial stream rate (the family's power-up default if ``None``).
        loop: replay the recording from the start when it ends (else the tag stops streaming at the end).
        start_offset_s: recording position at power-on, seconds.
        battery_percent: state of charge at power-on.
        battery_drain_pct_per_h: drain per simulated hour while not charging.
        battery_charge_pct_per_h: gain per simulated hour while :attr:`charging`.
        low_battery_pct: at or below this level the tag reports low battery (where its protocol can).
    """

    default_rate_hz: float = 10.0
    address_prefix: int = 0xF8

    def __init__(
        self,
        name: str,
        recording: SimulatedRecording,
        *,
        address: str | None = None,
        speed: float = 1.0,
        rate_hz: float | None = None,
        loop: bool = True,
        start_offset_s: float = 0.0,
        battery_percent: float = 100.0,
        battery_drain_pct_per_h: float = 4.0,
        battery_charge_pct_per_h: float = 60.0,
        low_battery_pct: float = 15.0,
    ) -> None:
        if not speed > 0 or not math.isfinite(speed):
            raise ValueError(f"speed must be a positive number, got {speed}")
        if recording.n < 1:
            raise ValueError("the recording is empty")
        super().__init__(name, address=address or default_address(self.address_prefix))
        self.recording = recording
        self.speed = float(speed)
        self.loop = loop
        self.start_offset_s = float(start_offset_s)
        self._rate_hz = float(rate_hz if rate_hz is not None else self.default_rate_hz)
        self.cues: list[tuple[float, str]] = []
        """What the tag did that a wearer would notice: ``(simulated t_s, description)``."""
        self.commands: deque[tuple[float, str]] = deque(maxlen=2000)
        """Every host write the tag handled, ``(simulated t_s, description)``, including rejected ones."""
        self.sent: deque[SentFrame] = deque(maxlen=20000)
        """The latest logical frames handed to the radio (only while someone is subscribed)."""
        self.samples_generated = 0
        """Samples the stream took (including those lost out of range)."""
        self.battery_drain_pct_per_h = float(battery_drain_pct_per_h)
        self.battery_charge_pct_per_h = float(battery_charge_pct_per_h)
        self.low_battery_pct = float(low_battery_pct)
        self._battery_anchor = (0.0, min(100.0, max(0.0, float(battery_percent))))
        self._charging = False
        self._battery_changed = asyncio.Event()
        self._published_battery: int | None = None
        self.dead = False
        """True while the battery is empty (the tag is silent)."""
        self._wall_anchor: float | None = None
        self._stream_task: asyncio.Task[None] | None = None
        self._rate_changed = False
        self.link: Connection | None = None
        """The current connection, if any."""
        self._offline: _Offline | None = None
        n = recording.n
        self._rec_t = np.asarray(recording.t_true_s, dtype=np.float64) - float(recording.t_true_s[0])
        self._rec_duration_s = n / recording.rate_hz
        self._present = np.asarray(recording.present, dtype=np.bool_)
        self._worn = np.isfinite(np.asarray(recording.truth.tag_flexion_deg, dtype=np.float64))

    # -- clock -------------------------------------------------------------------------------------------------

    def _loop_time(self) -> float:
        return asyncio.get_running_loop().time()

    def now_s(self) -> float:
        """Simulated seconds since power-on (0 before :meth:`start`; the offline clock in :meth:`run_offline`)."""
        if self._offline is not None:
            return self._offline.t_s
        if self._wall_anchor is None:
            return 0.0
        return (self._loop_time() - self._wall_anchor) * self.speed

    def wall_time_at(self, t_s: float) -> float:
        """The event-loop time at which the simulated clock reads ``t_s``."""
        anchor = self._wall_anchor if self._wall_anchor is not None else self._loop_time()
        return anchor + t_s / self.speed

    def index_at(self, t_s: float) -> int | None:
        """The recording row nearest to recording position ``start_offset_s + t_s``; ``None`` past the end."""
        position = self.start_offset_s + t_s
        if self.loop:
            position %= self._rec_duration_s
        index = math.floor(position * self.recording.rate_hz + 0.5)
        if self.loop:
            return index % self.recording.n
        return index if 0 <= index < self.recording.n else None

    def is_present(self, index: int) -> bool:
        """True if the sample reaches the host (the wearer is in range)."""
        return bool(self._present[index])

    def is_worn(self, index: int) -> bool:
        """True if the tag is on the wearer's back at that row (not lying on the desk)."""
        return bool(self._worn[index])

    # -- rate --------------------------------------------------------------------------------------------------

    @property
    def rate_hz(self) -> float:
        """The current stream rate in Hz."""
        return self._rate_hz

    def set_rate_hz(self, rate_hz: float) -> None:
        """Change the stream rate; applies from the next sample."""
        if not rate_hz > 0 or not math.isfinite(rate_hz):
            raise ValueError(f"rate must be positive, got {rate_hz}")
        self._rate_hz = float(rate_hz)
        self._rate_changed = True

    # -- to override -------------------------------------------------------------------------------------------

    def streaming_wanted(self) -> bool:
        """Whether the stream should run now (default: a central subscribed to any notify characteristic)."""
        return any(self.is_subscribed(uuid) for uuid in self.stream_uuids())

    def stream_uuids(self) -> Sequence[str]:
        """The characteristics the stream feeds."""
        return ()

    def sample_frames(self, index: int, t_s: float) -> list[tuple[str, bytes]]:
        """The (characteristic, frame) pairs for recording row ``index`` taken at simulated time ``t_s``."""
        raise NotImplementedError

    async def send_frames(self, frames: list[tuple[str, bytes]]) -> None:
        """Hand frames to the radio (families that re-frame, like WitMotion, override this)."""
        for uuid, frame in frames:
            await self.notify(uuid, frame)

    def on_samples_lost(self, count: int) -> None:
        """``count`` samples were taken but not sent (the stream fell behind, or out of range): counters advance."""

    def on_stream_started(self) -> None:
        """The stream task started (e.g. a central just enabled notifications)."""

    def on_battery_level(self, percent: int) -> None:
        """The integer battery level changed (families with a notifying Battery Level override this)."""

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self, device: Device, *, advertising_interval_ms: float = DEFAULT_ADVERTISING_INTERVAL_MS) -> None:
        """Power on: start the simulated clock and the battery model, then serve and advertise."""
        self._wall_anchor = self._loop_time()
        await super().start(device, advertising_interval_ms=advertising_interval_ms)
        self._published_battery = self.battery_level
        self.spawn(self._battery_watch(), name=f"{self.name}-battery")

    def on_connected(self, connection: Connection) -> None:
        """Remember the link; a dead tag cannot hold a connection."""
        self.link = connection
        if self.dead:
            self.spawn(self.drop_connection())

    def on_disconnected(self, reason: int) -> None:
        """Forget the link and stop streaming."""
        self.link = None
        self.update_streaming()

    def on_subscription_changed(self, char_uuid: str, subscribed: bool) -> None:
        """Start or stop the stream as subscriptions come and go."""
        self.update_streaming()

    @property
    def att_mtu(self) -> int:
        """The ATT MTU of the current link (23 without one; the offline central's in :meth:`run_offline`)."""
        if self._offline is not None:
            return self._offline.att_mtu
        return int(self.link.att_mtu) if self.link is not None else 23

    def now_log(self, description: str, *, cue: bool = False) -> None:
        """Log a handled command (and, with ``cue``, a visible or audible output) at the current simulated time."""
        t_s = self.now_s()
        self.commands.append((t_s, description))
        if cue:
            self.cues.append((t_s, description))

    # -- stream ------------------------------------------------------------------------------------------------

    @property
    def is_streaming(self) -> bool:
        """True while the stream task runs."""
        return self._stream_task is not None and not self._stream_task.done()

    def update_streaming(self) -> None:
        """Start or stop the stream task to match :meth:`streaming_wanted` (and the battery)."""
        wanted = not self.dead and self._wall_anchor is not None and self.streaming_wanted()
        if wanted and not self.is_streaming:
            self._stream_task = self.spawn(self._run_stream(), name=f"{self.name}-stream")
        elif not wanted and self._stream_task is not None:
            self._stream_task.cancel()
            self._stream_task = None

    async def _run_stream(self) -> None:
        loop = asyncio.get_running_loop()
        self.on_stream_started()
        next_t = self.now_s()
        counter = 0
        while True:
            self._rate_changed = False
            delay = self.wall_time_at(next_t) - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -_MAX_LAG_WALL_S:
                behind = self.now_s() - next_t
                skipped = int(behind * self._rate_hz)
                next_t += skipped / self._rate_hz
                if skipped > 0:
                    self.samples_generated += skipped
                    self.on_samples_lost(skipped)
            counter += 1
            if counter % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if self.dead:
                return
            frames = self.take_sample(next_t)
            if frames is None:
                return  # the recording ended and the tag does not loop
            if frames:
                await self.send_frames(frames)
            next_t += 1.0 / self._rate_hz

    def take_sample(self, t_s: float) -> list[tuple[str, bytes]] | None:
        """The stream's work for the sample taken at simulated time ``t_s``, without sending anything.

        Returns the (characteristic, frame) pairs to hand to :meth:`send_frames` (logged in :attr:`sent`), an
        empty list if the wearer is out of range (counters advance), or ``None`` past the end of a recording
        that does not loop. Both the live stream and :meth:`run_offline` sessions go through here.
        """
        index = self.index_at(t_s)
        if index is None:
            return None
        self.samples_generated += 1
        if not self.is_present(index):
            self.on_samples_lost(1)
            return []
        frames = self.sample_frames(index, t_s)
        for uuid, frame in frames:
            if self.is_subscribed(uuid):
                self.sent.append(SentFrame(t_s, index, uuid, frame))
        return frames

    # -- battery -----------------------------------------------------------------------------------------------

    @property
    def charging(self) -> bool:
        """True while the tag is on its charger."""
        return self._charging

    @property
    def battery_percent(self) -> float:
        """The state of charge now, 0..100 (float)."""
        t0, level0 = self._battery_anchor
        rate = self._battery_rate_pct_per_s()
        return min(100.0, max(0.0, level0 + rate * (self.now_s() - t0)))

    @property
    def battery_level(self) -> int:
        """The state of charge as the tag reports it: whole percent, rounded up (0 only when empty)."""
        return min(100, max(0, math.ceil(self.battery_percent - 1e-9)))

    @property
    def low_battery(self) -> bool:
        """True at or below :attr:`low_battery_pct`."""
        return self.battery_percent <= self.low_battery_pct

    def _battery_rate_pct_per_s(self) -> float:
        rate_per_h = self.battery_charge_pct_per_h if self._charging else -self.battery_drain_pct_per_h
        return rate_per_h / 3600.0

    def _reanchor_battery(self, level: float) -> None:
        self._battery_anchor = (self.now_s(), min(100.0, max(0.0, level)))
        self._battery_changed.set()

    def drain_battery_to(self, percent: float) -> None:
        """Fault: the battery jumps to ``percent`` (0 empties it: the tag goes silent)."""
        self._reanchor_battery(percent)
        self.now_log(f"battery set to {percent:g} %")
        self._check_battery()

    def set_charging(self, charging: bool) -> None:
        """Put the tag on (or take it off) its charger."""
        self._reanchor_battery(self.battery_percent)
        self._charging = charging
        self._check_battery()

    def recharge(self, percent: float = 100.0) -> None:
        """Charge to ``percent``; a dead tag comes back (advertises again)."""
        self._reanchor_battery(percent)
        self._check_battery()

    def _check_battery(self) -> None:
        if self._wall_anchor is None:
            return
        level = self.battery_percent
        if level <= 0.0 and not self.dead:
            self.dead = True
            self.update_streaming()
            self.spawn(self.vanish(), name=f"{self.name}-battery-empty")
        elif level > 0.0 and self.dead:
            self.dead = False
            self.spawn(self.reappear(), name=f"{self.name}-battery-back")
        published = self.battery_level
        if published != self._published_battery:
            self._published_battery = published
            self.on_battery_level(published)

    async def _battery_watch(self) -> None:
        """Wake up whenever the integer level changes (to publish it) or the battery empties."""
        while True:
            self._battery_changed.clear()
            self._check_battery()
            rate = self._battery_rate_pct_per_s()
            level = self.battery_percent
            timeout: float | None = None
            if rate < 0 and level > 0:
                step = level - (math.ceil(level - 1e-9) - 1)  # down to the next whole percent
                timeout = max(step / -rate / self.speed, 0.001)
            elif rate > 0 and level < 100:
                step = math.floor(level) + 1 - level
                timeout = max(step / rate / self.speed, 0.001)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._battery_changed.wait()

    # -- offline (no radio) ------------------------------------------------------------------------------------

    def run_offline(self, subscribed: Iterable[str], *, att_mtu: int = 247) -> None:
        """Drive the tag without a radio, e.g. to write a recording headless (``simulators.record``).

        From now on the tag's clock reads :meth:`set_offline_time` instead of the wall clock, the characteristics
        in ``subscribed`` count as enabled by one central whose link has ``att_mtu``, and everything the tag
        would notify (stream frames through :meth:`take_sample` and :meth:`send_frames`, register replies,
        status notifications) lands in an outbox (:meth:`take_outbox`) instead of going on the air. The host's
        writes and reads go through :meth:`offline_write` and :meth:`offline_read`: the same handlers a
        central's ATT requests reach. Call it instead of :meth:`start`, inside a running event loop if a write
        may spawn a task (WitMotion register replies do). The battery drains on the offline clock, but its
        watch task does not run (no battery notifications, and the tag never dies).
        """
        if self._wall_anchor is not None:
            raise RuntimeError(f"{self.name} is started; run_offline replaces start()")
        specs = {normalize_uuid_str(spec.uuid): spec for service in self.services() for spec in service.characteristics}
        for key, spec in specs.items():
            self._values.setdefault(key, bytes(spec.initial))
        wanted = frozenset(normalize_uuid_str(uuid) for uuid in subscribed)
        unknown = wanted - specs.keys()
        if unknown:
            raise KeyError(f"{self.name} has no characteristic {', '.join(sorted(unknown))}")
        self._offline = _Offline(subscribed=wanted, att_mtu=int(att_mtu), specs=specs)

    @property
    def offline(self) -> bool:
        """True after :meth:`run_offline`."""
        return self._offline is not None

    def _offline_state(self) -> _Offline:
        if self._offline is None:
            raise RuntimeError(f"{self.name} is not running offline; call run_offline() first")
        return self._offline

    def set_offline_time(self, t_s: float) -> None:
        """Set the offline clock: simulated seconds since power-on."""
        self._offline_state().t_s = float(t_s)

    def take_outbox(self) -> list[tuple[str, bytes]]:
        """The notifications since the last call, ``(lowercase 128-bit UUID, payload)`` in the order sent."""
        state = self._offline_state()
        out, state.outbox = state.outbox, []
        return out

    async def offline_write(self, char_uuid: str, data: bytes) -> None:
        """A central's write to ``char_uuid``, handled as over the air; waits for the tasks it spawned.

        Raises:
            AttError: the tag rejected the write (as a write with response would see it).
            KeyError: the tag has no such characteristic.
        """
        state = self._offline_state()
        key = normalize_uuid_str(char_uuid)
        spec = state.specs.get(key)
        if spec is None:
            raise KeyError(f"{self.name} has no characteristic {char_uuid}")
        before = set(self._tasks)
        self.stats.writes += 1
        self.writes.append((key, bytes(data)))
        result = spec.on_write(bytes(data)) if spec.on_write is not None else self.on_write(key, bytes(data))
        if result is not None:
            await result
        spawned = self._tasks - before
        if spawned:
            _, pending = await asyncio.wait(spawned, timeout=_OFFLINE_SETTLE_S)
            for task in pending:
                task.cancel()

    def offline_read(self, char_uuid: str) -> bytes:
        """A central's read of ``char_uuid``, handled as over the air.

        Raises:
            AttError: the tag rejected the read.
            KeyError: the tag has no such characteristic.
        """
        state = self._offline_state()
        key = normalize_uuid_str(char_uuid)
        spec = state.specs.get(key)
        if spec is None:
            raise KeyError(f"{self.name} has no characteristic {char_uuid}")
        self.stats.reads += 1
        return spec.on_read() if spec.on_read is not None else self.on_read(key)

    def is_subscribed(self, char_uuid: str) -> bool:
        """True if some connected central has notifications on for ``char_uuid`` (offline: as set up)."""
        state = self._offline
        if state is None:
            return super().is_subscribed(char_uuid)
        known = state.lookup.get(char_uuid)
        if known is None:
            known = state.lookup[char_uuid] = normalize_uuid_str(char_uuid) in state.subscribed
        return known

    async def notify(self, char_uuid: str, payload: bytes) -> bool:
        """Notify ``payload`` (offline: into the outbox, truncated to the link's MTU - 3 as bumble does)."""
        state = self._offline
        if state is None:
            return await super().notify(char_uuid, payload)
        if not self.is_subscribed(char_uuid):
            self.stats.unsubscribed += 1
            return False
        key = state.normalized.get(char_uuid)
        if key is None:
            key = state.normalized[char_uuid] = normalize_uuid_str(char_uuid)
        state.outbox.append((key, bytes(payload[: state.att_mtu - 3])))
        self.stats.notifications += 1
        return True
