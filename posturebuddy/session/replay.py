"""Replay a recording as a session the dashboard can sit on: play, pause, speed and seek.

:class:`ReplaySession` reads a recording's raw packets and feeds them through the same
:class:`~posturebuddy.session.decoding.PacketDecoder` and :class:`~posturebuddy.session.engine.PostureEngine` a
live session uses, publishing on its :class:`~posturebuddy.session.bus.EventBus` what a live session would: each
decoded item, then the engine events it caused. The loop mirrors analyze's streaming twin
(:func:`~posturebuddy.session.analyze.stream_events`): ticks through pauses in the data, and the recording's own
calibrations (the first one from the start, each later one from its time on). So a replay in the dashboard,
``replay --headless`` and ``analyze`` all reach the same episodes and prompts.

Time
    The replay clock is the recording's *host* time (seconds since the epoch, as ``time_range`` gives it). While
    playing, it advances ``speed`` times faster than the wall clock (1, 2, 10, 60) or, at ``max``, as fast as the
    engine goes; a packet is fed once the replay clock has reached its host time. The engine itself only ever
    sees sample time, so the speed never changes what it decides.

Seeking
    The engine is a state machine (dwell timers, open prompts, sitting time): its state at minute 40 depends on
    every sample before it, so a seek never jumps over data.

    * A seek **forward** runs the engine over the packets up to the target as fast as it can, without pacing.
      Every event is still published, but samples are not and engine snapshots are thinned to one per
      :data:`SEEK_SNAPSHOT_PERIOD_S` of sample time (enough for the dashboard's timeline and figures).
    * A seek **backward** starts again from the first packet with a fresh decoder and engine, publishes
      :class:`ReplayRestarted` (subscribers that fold the stream into a view start afresh), then runs forward to
      the target as above. A long recording takes a while to seek back into; the work is done in slices of
      :data:`CHUNK_BUDGET_S` of wall time so the dashboard stays responsive, and :attr:`ReplayStatus.seeking_to_s`
      says a seek is under way.

    Whatever the path (speeds, pauses, seeks), the events published since the latest :class:`ReplayRestarted` are
    exactly those of a straight run (``tests/session/test_replay_session.py``).

What a replay cannot do
    It has no tag: :meth:`ReplaySession.nudge` does nothing, :meth:`ReplaySession.calibrate` is refused (the
    recording's calibrations are used), quiet mode and prompt answers do not reach the engine (they would change
    what it decides, and a replay shows what happened). The dashboard says so where the user acts.

Damage
    A cut-off or corrupted recording replays up to the damage; :attr:`ReplayStatus.damage` then says where in one
    line (:func:`damage_summary`). The reader's :class:`~posturebuddy.session.recording.RecordingDamageWarning`
    is caught here, so nothing is printed over the dashboard.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from posturebuddy.devices import NudgePattern, TagFamily
from posturebuddy.link.scan import BleBackend, FoundDevice
from posturebuddy.model import (
    ConnectionState,
    ConnectionStateChanged,
    PromptOutcome,
    RawPacket,
    Sample,
    StreamStarted,
)
from posturebuddy.model.events import Event
from posturebuddy.motion.calibration import CalibrationError, UprightReference
from posturebuddy.session.analyze import recording_engine_settings, reference_from_record
from posturebuddy.session.bus import EventBus
from posturebuddy.session.decoding import PacketDecoder
from posturebuddy.session.engine import (
    REPLAY_TICK_PERIOD_S,
    EngineSettings,
    EngineSnapshot,
    PostureEngine,
    pause_ticks,
)
from posturebuddy.session.recording import DamageReport, RecordingDamageWarning, RecordingReader

log = logging.getLogger(__name__)

SPEEDS: tuple[float | None, ...] = (1.0, 2.0, 10.0, 60.0, None)
"""The speeds the dashboard steps through (multiples of real time; ``None``: as fast as possible)."""
SEEK_SNAPSHOT_PERIOD_S = 1.0
"""While seeking, one engine snapshot is published per this much sample time, seconds."""
CHUNK_BUDGET_S = 0.02
"""Wall seconds of decoding and engine work before the replay yields to the event loop."""
BREATHER_S = 0.004
"""Wall seconds the replay sleeps between two slices of work when more is due at once (at ``max`` speed and
while seeking): an idle moment in which the dashboard draws and reads keys."""
MIN_WAIT_S = 0.05
"""Shortest wall-clock wait between two slices while playing, seconds (packets due meanwhile go as a batch)."""
MAX_WAIT_S = 0.25
"""Longest wall-clock wait before the replay looks at its controls again, seconds."""


@dataclass(frozen=True, slots=True)
class ReplayRestarted(Event):
    """The replay went back to the recording's first packet (a backward seek) and runs forward to ``target_s``.

    Everything published before this is superseded: a subscriber that folds the stream into a view (the
    dashboard) starts that view afresh. ``t_s`` and ``target_s`` are host times in seconds."""

    target_s: float


@dataclass(frozen=True, slots=True)
class ReplayStatus:
    """Where a replay is, for the dashboard's replay bar (times are host times, seconds since the epoch).

    Attributes:
        path: the recording.
        first_s: host time of the first packet (``None``: the recording holds none).
        last_s: host time of the last packet the file lists (a damaged file may stop earlier).
        position_s: the replay clock: packets up to this host time have been fed.
        speed: multiple of real time; ``None``: as fast as possible.
        paused: the user paused.
        finished: every readable packet has been fed.
        seeking_to_s: the target of a seek under way, else ``None``.
        damage: one line saying where a damaged recording stops, else ``None``.
    """

    path: Path
    first_s: float | None
    last_s: float | None
    position_s: float | None
    speed: float | None
    paused: bool
    finished: bool
    seeking_to_s: float | None
    damage: str | None

    @property
    def elapsed_s(self) -> float:
        """Seconds from the first packet to the replay clock (0 for an empty recording)."""
        if self.first_s is None or self.position_s is None:
            return 0.0
        return max(0.0, self.position_s - self.first_s)

    @property
    def total_s(self) -> float:
        """Seconds from the first packet to the last (0 for an empty recording)."""
        if self.first_s is None or self.last_s is None:
            return 0.0
        return max(0.0, self.last_s - self.first_s)


def speed_text(speed: float | None) -> str:
    """``"10x"``, ``"0.5x"``, or ``"max"``."""
    return "max" if speed is None else f"{speed:g}x"


def step_speed(speed: float | None, direction: int) -> float | None:
    """The next of :data:`SPEEDS` faster (``direction`` > 0) or slower than ``speed``; stays at either end."""
    order = [math.inf if s is None else s for s in SPEEDS]
    current = math.inf if speed is None else speed
    if direction > 0:
        bigger = [s for s in order if s > current]
        chosen = bigger[0] if bigger else order[-1]
    else:
        smaller = [s for s in order if s < current]
        chosen = smaller[-1] if smaller else order[0]
    return None if math.isinf(chosen) else chosen


def _local_time(t_s: float) -> str:
    return dt.datetime.fromtimestamp(t_s, tz=dt.UTC).astimezone().strftime("%H:%M:%S")


def damage_summary(reports: Sequence[DamageReport], first_s: float | None) -> str | None:
    """One short line for the damage met, or ``None`` for a sound file.

    Where packet reading stopped comes first (packet number, local time, minutes into the recording); a file
    known to be cut off but not yet read that far says only that."""
    for report in reports:
        if report.table != "packets":
            continue
        last_t = report.salvaged_last_t_s if report.salvaged_last_t_s is not None else report.last_good_t_s
        last_id = report.salvaged_last_id if report.salvaged_last_id is not None else report.last_good_id
        if last_t is None or last_id is None:
            return "Damaged recording: no packet could be read."
        into = f", {(last_t - first_s) / 60.0:.1f} min in" if first_s is not None else ""
        where = f"packet #{last_id} at {_local_time(last_t)}{into}"
        return f"Damaged recording: readable up to {where}; the replay ends there."
    for report in reports:
        if report.table == "file":
            return f"Damaged recording: the file is cut off ({report.error}); the replay ends where it does."
    return None


def recorded_references(reader: RecordingReader, family: TagFamily | None) -> list[tuple[float, UprightReference]]:
    """The recording's calibrations as ``(host time, reference)``, oldest first (unusable ones are skipped)."""
    refs: list[tuple[float, UprightReference]] = []
    for cal in reader.calibrations():
        try:
            refs.append((cal.t_s, reference_from_record(cal.gravity_up_g, cal.forward_axis, family, cal.t_s)))
        except (CalibrationError, ValueError):
            continue
    return sorted(refs, key=lambda r: r[0])


class _Pipeline:
    """One pass over the recording: a packet iterator, a decoder, an engine, and :func:`stream_events`' rules
    for ticks and recorded calibrations, one packet at a time (so the pass can stop and go on)."""

    def __init__(
        self,
        packets: Iterator[RawPacket | StreamStarted],
        settings: EngineSettings,
        family: TagFamily,
        references: Sequence[tuple[float, UprightReference]],
    ) -> None:
        self.packets = packets
        self.decoder = PacketDecoder(family)
        self.engine = PostureEngine(settings, family=family, reference=references[0][1] if references else None)
        self._later = list(references[1:])
        self._next_ref = 0
        self._last_sample_s: float | None = None
        self.pending: RawPacket | StreamStarted | None = None
        self.exhausted = False

    def peek(self) -> RawPacket | StreamStarted | None:
        """The next packet, without feeding it (``None`` at the end)."""
        if self.pending is None and not self.exhausted:
            self.pending = next(self.packets, None)
            self.exhausted = self.pending is None
        return self.pending

    def feed_next(self, out: Callable[[object], None]) -> None:
        """Feed the peeked packet; hand every published item to ``out``, in a live session's order."""
        packet = self.peek()
        if packet is None:
            return
        self.pending = None
        for item in self.decoder.feed(packet):
            self._item(item, out)

    def _item(self, item: object, out: Callable[[object], None]) -> None:
        engine = self.engine
        if isinstance(item, Sample):
            t = item.t_s
            last = self._last_sample_s
            if last is not None and t - last > REPLAY_TICK_PERIOD_S:
                for _, tick in pause_ticks(last, t):
                    for event in engine.tick(tick):
                        out(event)
            while self._next_ref < len(self._later) and self._later[self._next_ref][0] <= t:
                for event in engine.set_reference(self._later[self._next_ref][1], how="recording"):
                    out(event)
                self._next_ref += 1
            if last is None or t >= last:
                self._last_sample_s = t
        out(item)
        for event in engine.feed(item):
            out(event)


def arrival_s(item: RawPacket | StreamStarted) -> float:
    """When an item of the recorded stream arrived (a connection's marker: when it began), host seconds."""
    return item.t_host_s if isinstance(item, RawPacket) else item.t_s


class ReplayLink:
    """The replay's stand-in for the link (read-only, as the dashboard sees a link)."""

    def __init__(self, family: TagFamily) -> None:
        self.state = ConnectionState.IDLE
        self.found: FoundDevice | None = None
        self.backend = BleBackend(label="replay (no radio)")
        self.family: TagFamily | None = family


class ReplaySession:
    """A recording replayed as a session (see the module docstring). Create it, then ``await run(stop)``.

    Args:
        reader: the open recording (the caller closes it after ``run`` returns).
        family: the recording's tag family (decodes its packets).
        settings: the engine's settings (use the same as ``replay --headless`` for the same events).
        speed: multiple of real time, or ``None`` for as fast as possible.
        start_s: host time to seek to before playing (the engine runs fast up to it); ``None``: the start.
        paused: start paused.
        clock: the wall clock pacing follows, seconds (tests may pass a faster one).
    """

    def __init__(
        self,
        reader: RecordingReader,
        family: TagFamily,
        settings: EngineSettings,
        *,
        speed: float | None = 1.0,
        start_s: float | None = None,
        paused: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed is not None and not (math.isfinite(speed) and speed > 0.0):
            raise ValueError(f"replay speed {speed!r}: expected a positive multiple of real time, or None for max")
        self.reader = reader
        self.family = family
        self.settings, note = recording_engine_settings(settings, reader.metadata)
        self.bus = EventBus()
        self.link = ReplayLink(family)
        self.error: str | None = None
        self._clock = clock
        self._speed = speed
        self._paused = paused
        self._warnings: list[str] = []
        if note is not None:
            log.warning("%s: %s", reader.path, note)
        self._references = recorded_references(reader, family)
        with self._catching():
            span = reader.time_range()
        self.first_s: float | None = span[0] if span else None
        self.last_s: float | None = span[1] if span else None
        self._pipeline = self._new_pipeline()
        self._now_s: float | None = self.first_s
        self._fed_s: float | None = None  # host time of the latest packet fed to the engine
        self._anchor: tuple[float, float] | None = None  # (replay clock, wall clock) pacing starts from
        self._seek_to: float | None = None
        self._seek_snapshot_due = -math.inf
        self._held_snapshot: EngineSnapshot | None = None
        self._finished = self.first_s is None
        self._wake = asyncio.Event()
        if start_s is not None and self.first_s is not None:
            self.seek_to(start_s)

    # ------------------------------------------------------------------ what the dashboard reads

    @property
    def engine(self) -> PostureEngine:
        """The engine of the current pass (a backward seek starts a new one)."""
        return self._pipeline.engine

    @property
    def status(self) -> ReplayStatus:
        """Where the replay is (see :class:`ReplayStatus`)."""
        return ReplayStatus(
            path=self.reader.path,
            first_s=self.first_s,
            last_s=self.last_s,
            position_s=self._now_s,
            speed=self._speed,
            paused=self._paused,
            finished=self._finished,
            seeking_to_s=self._seek_to,
            damage=damage_summary(self.reader.damage, self.first_s),
        )

    @property
    def damage_warnings(self) -> list[str]:
        """The reader's damage warnings caught so far (full messages, for logs)."""
        return list(self._warnings)

    # ------------------------------------------------------------------ controls

    def pause(self) -> None:
        """Stop the replay clock (a seek under way still completes)."""
        self._paused = True
        self._anchor = None
        self._wake.set()

    def resume(self) -> None:
        """Start the replay clock again (from the start once the end is reached)."""
        if self._finished and self._seek_to is None and self.first_s is not None:
            self.seek_to(self.first_s)
        self._paused = False
        self._anchor = None
        self._wake.set()

    def toggle_pause(self) -> bool:
        """Pause or resume; returns whether the replay is now paused."""
        if self._paused:
            self.resume()
        else:
            self.pause()
        return self._paused

    def set_speed(self, speed: float | None) -> None:
        """Play at ``speed`` times real time from now on (``None``: as fast as possible)."""
        if speed is not None and not (math.isfinite(speed) and speed > 0.0):
            raise ValueError(f"replay speed {speed!r}: expected a positive multiple of real time, or None for max")
        self._speed = speed
        self._anchor = None
        self._wake.set()

    def faster(self) -> float | None:
        """The next speed up in :data:`SPEEDS`; returns it."""
        self.set_speed(step_speed(self._speed, +1))
        return self._speed

    def slower(self) -> float | None:
        """The next speed down in :data:`SPEEDS`; returns it."""
        self.set_speed(step_speed(self._speed, -1))
        return self._speed

    def seek_to(self, t_s: float) -> None:
        """Move the replay clock to host time ``t_s`` (clamped to the recording); see the module docstring."""
        if self.first_s is None or self.last_s is None or not math.isfinite(t_s):
            return
        self._seek_to = min(max(t_s, self.first_s), self.last_s)
        self._anchor = None
        self._wake.set()

    def seek_by(self, seconds: float) -> None:
        """Move the replay clock by ``seconds`` (negative: back) from where it is, or from where a seek under way
        is going (so pressing a seek key twice goes twice as far)."""
        base = self._seek_to if self._seek_to is not None else self._now_s
        if base is not None:
            self.seek_to(base + seconds)

    # ------------------------------------------------------------------ what a replay cannot do

    def answer(self, prompt_id: int, outcome: PromptOutcome) -> None:
        """Answers are not fed to the engine: the replay shows what the recording holds (the prompt just closes)."""

    def calibrate(self) -> None:
        """Refused: a replay has no wearer to capture; the recording's own calibrations are used."""

    def use_reference(self, reference: UprightReference, how: str) -> None:
        """Refused, as :meth:`calibrate`: the recording's own calibrations are used."""

    def set_quiet(self, quiet: bool) -> None:
        """Ignored: quiet mode would change which prompts the engine raises; the replay shows them all."""

    async def nudge(self, pattern: NudgePattern = NudgePattern.GENTLE) -> bool:
        """A replay has no tag: nothing is sent. Returns ``False``."""
        return False

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event, *, duration_s: float | None = None) -> int:
        """Replay until ``stop`` is set (or ``duration_s`` wall seconds pass); the end of the recording does not
        end the session (the user may seek back). Returns 0."""
        loop = asyncio.get_running_loop()
        deadline = None if duration_s is None else loop.time() + duration_s
        stop_task = asyncio.create_task(stop.wait(), name="replay-stop")
        stop_task.add_done_callback(lambda _: self._wake.set())
        meta = self.reader.metadata
        t0 = self.first_s if self.first_s is not None else time.time()
        self.bus.publish(
            StreamStarted(t0, family_id=self.family.family_id, address=meta.tag_address, name=meta.tag_name)
        )
        self._set_link(ConnectionState.STREAMING, t0, f"replaying {self.reader.path.name}")
        try:
            while not stop.is_set() and (deadline is None or loop.time() < deadline):
                self._wake.clear()
                wait = self._step()
                if wait == 0.0:
                    await asyncio.sleep(BREATHER_S)
                    continue
                if deadline is not None:
                    wait = min(MAX_WAIT_S if wait is None else wait, max(0.0, deadline - loop.time()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), MAX_WAIT_S if wait is None else wait)
        finally:
            stop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await stop_task
            self._set_link(ConnectionState.STOPPED, self._now_s or t0, "replay stopped")
            self.bus.close()
        return 0

    def _step(self) -> float | None:
        """One slice of work. Returns the wall seconds to wait (0: more work now; ``None``: until a control)."""
        if self._seek_to is not None:
            return self._seek_slice()
        if self._paused or self._finished:
            return None
        return self._play_slice()

    def _play_slice(self) -> float:
        now = self._clock()
        speed = self._speed
        if self._anchor is None:
            self._anchor = (self._now_s if self._now_s is not None else -math.inf, now)
        anchor_s, anchor_wall = self._anchor
        target = math.inf if speed is None else anchor_s + (now - anchor_wall) * speed
        budget_end = time.perf_counter() + CHUNK_BUDGET_S
        pipeline = self._pipeline
        with self._catching():
            while True:
                packet = pipeline.peek()
                if packet is None:
                    self._reached_end()
                    return 0.0
                if arrival_s(packet) > target:
                    assert speed is not None
                    self._now_s = target if self._now_s is None else max(self._now_s, target)
                    return min(MAX_WAIT_S, max(MIN_WAIT_S, (arrival_s(packet) - target) / speed))
                pipeline.feed_next(self.bus.publish)
                self._fed(arrival_s(packet))
                if time.perf_counter() >= budget_end:
                    return 0.0

    def _seek_slice(self) -> float:
        target = self._seek_to
        assert target is not None
        if self._fed_s is not None and target < self._fed_s:
            self._restart(target)
        budget_end = time.perf_counter() + CHUNK_BUDGET_S
        pipeline = self._pipeline
        with self._catching():
            while True:
                packet = pipeline.peek()
                if packet is None:
                    self._seek_done(self.last_s)
                    self._reached_end()
                    return 0.0
                if arrival_s(packet) > target:
                    self._seek_done(target)
                    return 0.0
                pipeline.feed_next(self._publish_seeking)
                self._fed(arrival_s(packet))
                if time.perf_counter() >= budget_end:
                    return 0.0

    def _publish_seeking(self, item: object) -> None:
        """While seeking: no samples, snapshots thinned, every other item."""
        if isinstance(item, Sample):
            return
        if isinstance(item, EngineSnapshot):
            if item.t_s < self._seek_snapshot_due:
                self._held_snapshot = item
                return
            self._seek_snapshot_due = item.t_s + SEEK_SNAPSHOT_PERIOD_S
            self._held_snapshot = None
        self.bus.publish(item)

    def _seek_done(self, target: float | None) -> None:
        if self._held_snapshot is not None:  # the engine's state where the seek ends, for the gauge
            self.bus.publish(self._held_snapshot)
            self._held_snapshot = None
        self._seek_snapshot_due = -math.inf
        if target is not None:
            self._now_s = target  # (packets up to the target are fed; the replay clock is there)
        self._seek_to = None
        self._anchor = None

    def _restart(self, target: float) -> None:
        self._pipeline = self._new_pipeline()
        self._now_s = self._fed_s = None
        self._finished = False
        self._seek_snapshot_due = -math.inf
        self._held_snapshot = None
        self.bus.publish(ReplayRestarted(self.first_s if self.first_s is not None else target, target_s=target))

    def _fed(self, t_host_s: float) -> None:
        self._fed_s = t_host_s if self._fed_s is None else max(self._fed_s, t_host_s)
        self._now_s = self._fed_s if self._now_s is None else max(self._now_s, self._fed_s)

    def _reached_end(self) -> None:
        self._finished = True
        self._anchor = None
        if self._fed_s is not None:
            self._now_s = self._fed_s
            if self.reader.damage:  # the readable part ends here: seeks stay within it
                self.last_s = self._fed_s

    def _new_pipeline(self) -> _Pipeline:
        return _Pipeline(self._packets(), self.settings, self.family, self._references)

    def _packets(self) -> Iterator[RawPacket | StreamStarted]:
        return self.reader.iter_stream()

    def _set_link(self, state: ConnectionState, t_s: float, detail: str) -> None:
        self.link.state = state
        self.bus.publish(ConnectionStateChanged(t_s, state, address=self.reader.metadata.tag_address, detail=detail))

    @contextlib.contextmanager
    def _catching(self) -> Iterator[None]:
        """Catch the reader's damage warnings (kept in :attr:`damage_warnings`; the status says where)."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RecordingDamageWarning)
            yield
        for w in caught:
            if issubclass(w.category, RecordingDamageWarning):
                message = str(w.message)
                if message not in self._warnings:
                    self._warnings.append(message)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
