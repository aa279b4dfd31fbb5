"""A live session: link -> recorder (raw) -> decoding -> engine -> event bus (and recorder, events).

:class:`LiveSession` owns every task of a running session and is what the dashboard, the demo and
``run --headless`` sit on. Each item (link events, decoded samples, engine events) is published on
:attr:`LiveSession.bus` in order; subscribers (the UI, a JSON printer) read from there. User actions (answer a
prompt, snooze, calibrate, nudge, quiet) are methods here; they run on sample time like everything else.

Recording: raw packets are appended as they arrive (the writer batches them and flushes at least every
second), together with link events, calibrations, episodes and prompts with their outcomes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from posturebuddy import __version__
from posturebuddy.devices import NudgePattern
from posturebuddy.link.errors import LinkError
from posturebuddy.link.scan import BleBackend
from posturebuddy.link.supervisor import LinkOptions, TagLink, monotonic_wall_clock
from posturebuddy.model import (
    BatteryRead,
    ConnectionState,
    ConnectionStateChanged,
    GapDetected,
    NudgeSent,
    PacketRejected,
    PromptOutcome,
    RawPacket,
    Sample,
    StreamStarted,
)
from posturebuddy.model.events import Event
from posturebuddy.motion.calibration import UprightReference
from posturebuddy.posture.events import EpisodeEnded, EpisodeStarted, PromptAnswered, PromptRaised
from posturebuddy.session.bus import EventBus
from posturebuddy.session.calibration_store import RECORDING_KEY, CalibrationStore, accel_calibration_json
from posturebuddy.session.decoding import PacketDecoder
from posturebuddy.session.engine import (
    AUTOMATIC_HOWS,
    REPLAY_TICK_PERIOD_S,
    CalibrationChanged,
    EngineSettings,
    EngineSnapshot,
    PostureEngine,
    pause_ticks,
)
from posturebuddy.session.recording import (
    CalibrationRecord,
    EpisodeRecord,
    RecordingMetadata,
    RecordingWriter,
    SourceKind,
    link_event_record,
)
from posturebuddy.session.summaries import MinuteSummarizer

log = logging.getLogger(__name__)

MAX_LOGGED_ERRORS = 20
"""Tracebacks logged per session for items that failed to process (then only counted)."""

TICK_PERIOD_S = 1.0
"""Wall seconds between checks for a pause in the data (link down) and between recorder flush checks."""
SILENT_TAG_S = 2.0
"""A tag that stays connected but sends nothing for this many wall seconds is treated like a link that is down."""
TICK_GRACE_S = 2.0
"""Ticks stay behind the clock by what it showed this many *wall* seconds ago, so that samples still on their way
(a host stall, a burst after a busy moment) are not overtaken by a tick (the engine drops samples older than its
time). Counted in wall seconds, it holds for an accelerated simulation as for a real tag."""


def is_droppable(item: object) -> bool:
    """High-rate items a slow subscriber may lose (state changes are never dropped)."""
    return isinstance(item, Sample | EngineSnapshot)


class SessionRecorder:
    """Writes a session's raw packets and its events into the recording format, with per-minute summaries.

    Summaries (:class:`~posturebuddy.session.summaries.MinuteSummarizer`, fed with every event including the
    engine's snapshots) are appended as each minute completes and, for the minute in progress, at every
    :meth:`maybe_flush`, so they reach the file with the batches (at least once a second); :meth:`close`
    writes the last, partial minute.
    """

    def __init__(self, writer: RecordingWriter, *, max_step_s: float = 10.0) -> None:
        self.writer = writer
        self.summarizer = MinuteSummarizer(max_step_s=max_step_s)
        self._episode_ids: dict[tuple[str, float], int] = {}
        self.failed: str | None = None

    def packet(self, packet: RawPacket) -> None:
        """Append one raw packet."""
        self._guard(self.writer.append_packet, packet)

    def event(self, event: object) -> None:
        """Append what the recording format keeps of an event (snapshots feed only the minute summaries)."""
        self.summarizer.feed(event)
        if isinstance(event, EngineSnapshot):
            self._summaries(include_open=False)
        elif isinstance(event, ConnectionStateChanged | GapDetected | PacketRejected | BatteryRead | NudgeSent):
            self._guard(self.writer.append_link_event, link_event_record(event))
        elif isinstance(event, CalibrationChanged):
            ref = event.reference
            calibration = CalibrationRecord(
                t_s=event.t_s,
                gravity_up_g=ref.up_tag,
                forward_axis=ref.forward_tag,
                method=f"{ref.method}/{ref.forward_method}",
                detail={
                    "how": event.how,
                    "spread_deg": ref.spread_deg,
                    "duration_s": ref.duration_s,
                    "near": event.near,
                },
            )
            self._guard(self.writer.append_calibration, calibration)
        elif isinstance(event, EpisodeStarted | EpisodeEnded):
            ep = event.episode
            key = (str(ep.kind), ep.start_s)
            episode_id = self._episode_ids.setdefault(key, len(self._episode_ids) + 1)
            episode = EpisodeRecord(
                posture_class=ep.kind,
                start_s=ep.start_s,
                end_s=ep.end_s,
                peak_flexion_deg=ep.peak_flexion_deg,
                peak_lateral_deg=ep.peak_lateral_deg,
                alerted=True,
                detail={"confirmed_s": ep.confirmed_s, "mean_flexion_deg": ep.mean_flexion_deg},
                episode_id=episode_id,
            )
            self._guard(self.writer.append_episode, episode)
        elif isinstance(event, PromptRaised):
            self._guard(self.writer.append_prompt, event.prompt)
        elif isinstance(event, PromptAnswered):
            self._guard(self.writer.append_prompt_outcome, event.prompt_id, event.outcome, event.t_s)

    def maybe_flush(self) -> None:
        """Write the pending batch if it is due (at least once a second), with the minute in progress."""
        self._summaries(include_open=True)
        self._guard(self.writer.maybe_flush)

    def close(self) -> None:
        """Write the last minute's summary, flush everything and close the file.

        After a failure (disk full...) the writer still gets one last try at writing what it holds and is closed
        either way, so the file is left consistent and no connection stays open."""
        if self.failed is None:
            for row in self.summarizer.close():
                self._guard(self.writer.append_minute_summary, row)
            self._guard(self.writer.close)
            return
        try:
            self.writer.close()
        except Exception as exc:  # noqa: BLE001 (still failing: what was written before the failure stays)
            log.warning("the recording could not be completed (%s); what was written before stays readable", exc)

    def _summaries(self, *, include_open: bool) -> None:
        """Append the minute summaries that changed (completed minutes; the open one too if asked)."""
        if self.failed is None:
            for row in self.summarizer.take_changed(include_open=include_open):
                self._guard(self.writer.append_minute_summary, row)

    def _guard(self, fn: Callable[..., object], *args: object) -> None:
        """A full disk or a read-only directory must not stop the session: log once, keep coaching."""
        if self.failed is not None:
            return
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 (disk full, read-only, sqlite3 errors: recording is best effort)
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        self.failed = f"recording stopped: {exc}"
        log.error("%s; the session goes on without recording", self.failed)


class LiveSession:
    """One running session. Create it inside the event loop, then ``await run(stop)``."""

    def __init__(
        self,
        options: LinkOptions,
        backend: BleBackend,
        *,
        engine_settings: EngineSettings | None = None,
        clock: Callable[[], float] | None = None,
        recording_path: Path | None = None,
        source_kind: SourceKind = SourceKind.LIVE,
        extra_metadata: dict[str, object] | None = None,
        calibrations: CalibrationStore | None = None,
    ) -> None:
        """``calibrations``: where upright references are remembered per tag (``None``: nothing is remembered,
        as in the demo, whose simulated wearer changes from run to run)."""
        self.clock = clock or monotonic_wall_clock()
        self.bus = EventBus()
        self.link = TagLink(options, backend, self._on_link_event, clock=self.clock)
        self.decoder = PacketDecoder()
        self.engine = PostureEngine(engine_settings)
        self.recorder: SessionRecorder | None = None
        self._recording_path = recording_path
        self._source_kind = source_kind
        self._extra = dict(extra_metadata or {})
        self._last_item_wall = time.monotonic()
        self.calibrations = calibrations
        self._last_sample_t: float | None = None
        self._ticks_since_sample = 0
        self._clock_marks: collections.deque[tuple[float, float]] = collections.deque()
        """(monotonic wall time, session clock) at each tick check: what the clock showed TICK_GRACE_S ago."""
        self._tag: StreamStarted | None = None
        self.error: str | None = None
        self.internal_errors = 0
        """Items whose processing raised (logged, skipped): a bug, never a reason to stop coaching."""

    # ------------------------------------------------------------------ user actions

    def answer(self, prompt_id: int, outcome: PromptOutcome) -> None:
        """Done / Skip / Snooze on a prompt."""
        self._publish_all(self.engine.answer(prompt_id, outcome, self.clock()))

    def calibrate(self) -> None:
        """Start a guided upright capture (progress arrives as ``CalibrationProgressed`` events)."""
        self.engine.calibrate("wizard")

    def use_reference(self, reference: UprightReference, how: str) -> None:
        """Judge posture against ``reference`` from now on (and remember it for this tag unless ``how`` is
        "stored")."""
        self._publish_all(self.engine.set_reference(reference, how=how))

    @property
    def tag(self) -> StreamStarted | None:
        """The tag of the current (or last) connection, once it has streamed."""
        return self._tag

    def set_quiet(self, quiet: bool) -> None:
        """Quiet mode on or off."""
        self.engine.set_quiet(quiet)

    async def nudge(self, pattern: NudgePattern = NudgePattern.GENTLE) -> bool:
        """Buzz/beep/flash the tag if it can."""
        return await self.link.nudge(pattern)

    # ------------------------------------------------------------------ running

    async def run(self, stop: asyncio.Event, *, duration_s: float | None = None) -> int:
        """Run until ``stop`` is set (or ``duration_s`` wall seconds pass). Returns 0, or 1 after a link error."""
        link_task = asyncio.create_task(self.link.run(), name="session-link")
        consume_task = asyncio.create_task(self._consume(), name="session-consume")
        tick_task = asyncio.create_task(self._tick(), name="session-tick")
        stop_task = asyncio.create_task(stop.wait(), name="session-stop")
        await asyncio.wait({link_task, stop_task}, timeout=duration_s, return_when=asyncio.FIRST_COMPLETED)
        await self.link.stop()
        status = 0
        try:
            await link_task
        except LinkError as exc:
            self.error = str(exc)
            status = 1
        finally:
            for packet in self.link.packets.drain():
                self._handle(packet)
            for task in (consume_task, tick_task, stop_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self.recorder is not None:
                self.recorder.close()
            self.bus.close()
        return status

    async def _consume(self) -> None:
        while True:
            packet = await self.link.packets.get()
            try:
                self._handle(packet)
            except Exception:  # a bug in one stage must not silently stop the whole session
                self.internal_errors += 1
                if self.internal_errors <= MAX_LOGGED_ERRORS:
                    log.exception("processing a packet failed; the session goes on")

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_PERIOD_S)
            if self.recorder is not None:
                self.recorder.maybe_flush()
            now_wall = time.monotonic()
            marks = self._clock_marks
            marks.append((now_wall, self.clock()))
            while len(marks) > 1 and marks[1][0] <= now_wall - TICK_GRACE_S:
                marks.popleft()  # keep the newest mark that is at least TICK_GRACE_S old, and the ones after it
            quiet_wall_s = now_wall - self._last_item_wall
            if self.link.state is ConnectionState.STREAMING and quiet_wall_s < SILENT_TAG_S:
                continue  # data is flowing (perhaps held up a moment): sample time moves the engine
            if marks[0][0] > now_wall - TICK_GRACE_S:
                continue  # the session has not run TICK_GRACE_S yet
            try:
                self._publish_all(self._ticks_until(marks[0][1]))
            except Exception:  # same policy as _consume
                self.internal_errors += 1
                if self.internal_errors <= MAX_LOGGED_ERRORS:
                    log.exception("an engine tick failed; the session goes on")

    def _engine_time(self) -> float:
        """The latest sample time the engine has seen, ticks included (it drops anything older)."""
        if self._last_sample_t is None:
            return -math.inf
        return self._last_sample_t + self._ticks_since_sample * REPLAY_TICK_PERIOD_S

    def _ticks_until(self, t_end_s: float, *, before: bool = False) -> list[Event]:
        """Tick the engine through a pause in the data on the grid a replay uses (:func:`pause_ticks`), up to
        ``t_end_s`` (``before``: strictly before it, for the sample that ends the pause)."""
        last = self._last_sample_t
        if last is None:
            return []
        events: list[Event] = []
        for k, t in pause_ticks(last, t_end_s, done=self._ticks_since_sample, inclusive=not before):
            events.extend(self.engine.tick(t))
            self._ticks_since_sample = k
        return events

    def _handle(self, item: RawPacket | StreamStarted) -> None:
        self._last_item_wall = time.monotonic()
        if isinstance(item, StreamStarted):
            self._recall_accel_calibration(item)
            self._start_recording(item)
            self._recall_calibration(item)
        elif self.recorder is not None:
            self.recorder.packet(item)
        for decoded in self.decoder.feed(item):
            if isinstance(decoded, Sample) and decoded.t_s >= self._engine_time():
                last = self._last_sample_t
                if last is not None and decoded.t_s - last > REPLAY_TICK_PERIOD_S:
                    # the rest of a pause's ticks first (those the clock-driven ticks had not reached), exactly as
                    # a replay of the recording ticks it (analyze.stream_events): live and replay agree
                    self._publish_all(self._ticks_until(decoded.t_s, before=True))
                self._last_sample_t = decoded.t_s
                self._ticks_since_sample = 0
            self._publish(decoded)
            self._publish_all(self.engine.feed(decoded))

    def _start_recording(self, marker: StreamStarted) -> None:
        if self._recording_path is None or self.recorder is not None:
            return
        extra = dict(self._extra)
        accel = self.engine.settings.orientation.accel_calibration
        if accel is not None:  # replay and analyze of the recording apply the same correction
            extra[RECORDING_KEY] = accel_calibration_json(accel)
        metadata = RecordingMetadata(
            tag_family=marker.family_id,
            source_kind=self._source_kind,
            tag_address=marker.address,
            tag_name=marker.name,
            sample_rate_hz=self.link.options.sample_rate_hz,
            app_version=__version__,
            extra=extra,
        )
        try:
            self.recorder = SessionRecorder(RecordingWriter(self._recording_path, metadata))
        except Exception as exc:  # noqa: BLE001 (an unwritable directory must not stop the coaching)
            log.error("cannot record to %s: %s; the session goes on without recording", self._recording_path, exc)
            self._recording_path = None

    def _recall_accel_calibration(self, marker: StreamStarted) -> None:
        """A tag connected: correct its accelerometer readings by its remembered six-face calibration, if any.

        Runs before the recording starts (its metadata carries the correction) and before the tag's first sample
        (the engine's tilt filters restart with corrected readings). A tag without a stored correction keeps
        what the engine settings say (by default the raw readings)."""
        if self.calibrations is None:
            return
        stored = self.calibrations.get_accel(marker.address, marker.family_id)
        if stored is None or stored.calibration == self.engine.settings.orientation.accel_calibration:
            return
        if self.recorder is not None:
            # the recording already says which correction applies; changing it mid-file would make replay differ
            log.warning(
                "a different accelerometer calibration for %s is ignored until the next session", marker.address
            )
            return
        log.info("correcting the accelerometer of %s by its six-face calibration", marker.address)
        self.engine.set_accel_calibration(stored.calibration)

    @property
    def accel_calibrated(self) -> bool:
        """Whether the engine corrects the tag's accelerometer readings (a six-face calibration is in use)."""
        return self.engine.settings.orientation.accel_calibration is not None

    def _recall_calibration(self, marker: StreamStarted) -> None:
        """A tag connected: judge posture against its remembered reference, if any (re-stamped to now)."""
        self._tag = marker
        if self.calibrations is None or self.engine.reference is not None:
            return
        stored = self.calibrations.get(marker.address, marker.family_id)
        if stored is not None:
            log.info("using the calibration remembered for %s (%s)", marker.address, stored.how)
            ref = replace(stored.reference, t_s=marker.t_s)
            learned = stored.how in AUTOMATIC_HOWS  # an automatic one from an earlier session may be re-learned
            self._publish_all(self.engine.set_reference(ref, how="stored", learned=learned))
            # Today's placement: an automatic reference is learned again from the first still sitting near it (a
            # re-stick moves the tag a degree or two; the limit passes over a wearer who starts reclined). The
            # slip check at once (check_placement) is not used: with no evidence of handling it would take a
            # long recline for a re-stick (docs/engine.md, "Checking a remembered reference").
            if learned:
                self.engine.learn_again_near()

    def _remember_calibration(self, event: CalibrationChanged) -> None:
        """A new reference was made on this tag: remember it for the next session."""
        if self.calibrations is None or self._tag is None or event.how == "stored" or event.near:
            return  # one learned near the remembered one: the remembered one stays the anchor (learned_near)
        try:
            self.calibrations.save(self._tag.address, self._tag.family_id, event.reference, event.how)
        except OSError as exc:  # the coaching goes on; the next session calibrates again
            log.warning("cannot remember the calibration in %s: %s", self.calibrations.path, exc)

    def _on_link_event(self, event: Event) -> None:
        self._publish(event)

    def _publish_all(self, events: list[Event]) -> None:
        for event in events:
            self._publish(event)

    def _publish(self, item: object) -> None:
        if isinstance(item, CalibrationChanged):
            self._remember_calibration(item)
        if self.recorder is not None and not isinstance(item, Sample):
            self.recorder.event(item)
        self.bus.publish(item)
