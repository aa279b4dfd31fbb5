"""``posturebuddy replay FILE``: a recording fed back through a live session's decoders and engine.

Without ``--headless`` the recording plays in the dashboard (:func:`replay_app`): the panels of a live session,
a replay bar (file, date, time of day, progress, speed, paused), and keys to pause, change speed and seek. The
session behind it is :class:`~posturebuddy.session.replay.ReplaySession`, which reaches the events printed here
whatever the speeds and seeks on the way.

With ``--headless``:

The recording's raw packets go through :class:`~posturebuddy.session.decoding.PacketDecoder` and
:class:`~posturebuddy.session.engine.PostureEngine` exactly as in a live session; the loop is analyze's streaming
twin, :func:`~posturebuddy.session.analyze.stream_events` (ticks through the pauses in the data, the recording's
own calibrations applied when they took effect). Every decoded item and engine event is printed as one JSON line
(as ``run --headless`` does; engine snapshots are left out), in the order a live session publishes them: the
decoded item, then the events it caused.

Pacing: items are printed at ``--speed`` times real time, measured on their *sample* time (which is never
changed); the command sleeps on wall time between items. ``--speed max`` does not sleep at all.

``--start`` differs in one way between the two: headless, the engine starts fresh at the start point (the
calibration in effect there is applied up front); in the dashboard the engine runs fast over everything before
it, so what follows is exactly what a full replay shows.

Exit codes (as :mod:`posturebuddy.cli`): 0 replayed (also a damaged recording, up to the damage: headless with one
warning line on stderr saying where, in the dashboard on its replay bar); 1 the file is not a usable recording (one
line says why); 2 bad usage (also the dashboard without a terminal: use ``--headless``).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import math
import sys
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, TextIO

from posturebuddy.config import Settings
from posturebuddy.devices import TagFamily, get_family
from posturebuddy.model import RawPacket, StreamStarted
from posturebuddy.model.events import Event
from posturebuddy.motion.calibration import UprightReference
from posturebuddy.session.analyze import recording_engine_settings, stream_events
from posturebuddy.session.decoding import PacketDecoder
from posturebuddy.session.engine import EngineSettings, EngineSnapshot, PostureEngine, engine_settings
from posturebuddy.session.jsonl import to_json_line
from posturebuddy.session.recording import RecordingDamageWarning, RecordingError, RecordingReader, open_recording
from posturebuddy.session.replay import ReplaySession, recorded_references

if TYPE_CHECKING:
    from posturebuddy.ui.app import PostureBuddyApp

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
PROG = "posturebuddy replay"


class UsageError(ValueError):
    """Bad command-line input; one line."""


def parse_speed(text: str) -> float | None:
    """``--speed``: a positive multiple of real time, or ``max`` (``None``: as fast as possible)."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = math.nan
    if not (math.isfinite(speed) and speed > 0.0):
        raise UsageError(f"--speed {text!r}: expected a positive number (1 = real time) or 'max'")
    return speed


def parse_start(text: str, first_s: float) -> float:
    """``--start`` -> sample time in seconds.

    ``HH:MM`` (or ``HH:MM:SS``) is a local time of day on the day of the recording's first packet; a plain number
    is seconds from the first packet."""
    if ":" in text:
        parts = text.split(":")
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            h, m = int(parts[0]), int(parts[1])
            s = float(parts[2]) if len(parts) == 3 else 0.0
            if not (0 <= h < 24 and 0 <= m < 60 and 0.0 <= s < 60.0):
                raise ValueError
        except ValueError:
            raise UsageError(f"--start {text!r}: expected HH:MM (time of day) or seconds from the start") from None
        day = dt.datetime.fromtimestamp(first_s, tz=dt.UTC).astimezone()
        midnight = day.replace(hour=0, minute=0, second=0, microsecond=0)
        return (midnight + dt.timedelta(hours=h, minutes=m, seconds=s)).timestamp()
    try:
        offset = float(text)
    except ValueError:
        offset = math.nan
    if not (math.isfinite(offset) and offset >= 0.0):
        raise UsageError(f"--start {text!r}: expected HH:MM (time of day) or seconds from the start")
    return first_s + offset


def _local(t_s: float) -> str:
    return dt.datetime.fromtimestamp(t_s, tz=dt.UTC).astimezone().strftime("%H:%M:%S")


def _utc_offset() -> float:
    offset = dt.datetime.now().astimezone().utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


class Pacer:
    """Sleeps on wall time so that items come out ``speed`` times faster than their sample time advanced.

    ``speed`` ``None``: never sleeps. Items whose time is not after the latest one are not delayed."""

    def __init__(
        self,
        speed: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        before_sleep: Callable[[], None] | None = None,
    ) -> None:
        self.speed = speed
        self._clock = clock
        self._sleep = sleep
        self._before_sleep = before_sleep
        self._anchor: tuple[float, float] | None = None  # (sample time, wall time) of the first item

    def wait(self, t_s: float | None) -> None:
        """Wait until the item at sample time ``t_s`` is due (``None``: an item without a time, due now)."""
        if self.speed is None or t_s is None or not math.isfinite(t_s):
            return
        if self._anchor is None:
            self._anchor = (t_s, self._clock())
            return
        t0, wall0 = self._anchor
        delay = wall0 + (t_s - t0) / self.speed - self._clock()
        if delay > 0.0:
            if self._before_sleep is not None:
                self._before_sleep()
            self._sleep(delay)


class _EmittingEngine(PostureEngine):
    """The engine, handing each decoded item and then the events it caused to ``emit`` as they happen (so
    :func:`stream_events` drives a stream instead of collecting a list: its feed and tick return nothing)."""

    def __init__(
        self,
        settings: EngineSettings,
        emit: Callable[[object], None],
        *,
        family: TagFamily | None,
        reference: UprightReference | None,
    ) -> None:
        super().__init__(settings, family=family, reference=reference)
        self._emit = emit

    def _emit_all(self, events: list[Event]) -> None:
        for event in events:
            self._emit(event)

    def feed(self, item: object) -> list[Event]:
        self._emit(item)
        self._emit_all(super().feed(item))
        return []

    def tick(self, t_s: float) -> list[Event]:
        self._emit_all(super().tick(t_s))
        return []

    def set_reference(
        self,
        reference: UprightReference,
        how: str = "stored",
        *,
        learned: bool | None = None,
        check_placement: bool = False,
    ) -> list[Event]:
        events = super().set_reference(reference, how, learned=learned, check_placement=check_placement)
        if how == "recording":  # a recorded calibration taking effect (the engine's own capture returns its event)
            self._emit_all(events)
        return events


def replay_recording(
    reader: RecordingReader,
    out: TextIO,
    *,
    settings: EngineSettings,
    family: TagFamily,
    start_s: float | None = None,
    pacer: Pacer | None = None,
) -> None:
    """Replay ``reader``'s packets (from host time ``start_s``) as JSON lines on ``out``, paced by ``pacer``."""
    pacer = pacer or Pacer(None)
    settings, note = recording_engine_settings(settings, reader.metadata)
    if note is not None:
        print(f"{PROG}: warning: {note}", file=sys.stderr)
    refs = recorded_references(reader, family)
    # As analyze: the first calibration applies from the start, each later one from its time on. After a seek,
    # the latest one taken before the seek point is the one in effect at the start.
    first = 0
    if start_s is not None:
        first = max([i for i, (t, _) in enumerate(refs) if t <= start_s], default=0)
    up_front = refs[first][1] if refs else None
    later = refs[first + 1 :]

    def emit(item: object) -> None:
        if isinstance(item, EngineSnapshot):
            return
        t = getattr(item, "t_s", None)
        pacer.wait(t if isinstance(t, float) else None)
        out.write(to_json_line(item) + "\n")

    engine = _EmittingEngine(settings, emit, family=family, reference=up_front)
    decoder = PacketDecoder(family)

    def items(packets: Iterator[RawPacket | StreamStarted]) -> Iterator[object]:
        for packet in packets:
            yield from decoder.feed(packet)

    stream_events(items(reader.iter_stream(start_s=start_s)), engine, references=later)
    out.flush()


def _damage_line(messages: list[str], reader: RecordingReader | None) -> str | None:
    """One line for the damage met: where packet reading stopped if it did, else the first warning."""
    if reader is not None:
        for report in reader.damage:
            if report.table == "packets":
                return report.message
    return messages[0] if messages else None


def replay_settings(settings: Settings) -> Settings:
    """The user's settings for a replay's dashboard: no terminal bell and no desktop notifications (prompts come
    as fast as the replay runs, and they are not happening now)."""
    return dataclasses.replace(settings, ui=dataclasses.replace(settings.ui, bell=False, desktop_notifications=False))


def replay_app(
    reader: RecordingReader,
    settings: Settings,
    *,
    speed: float | None = 1.0,
    start_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> PostureBuddyApp:
    """The dashboard over a :class:`~posturebuddy.session.replay.ReplaySession` of ``reader`` (the CLI and the
    tests build it here). The caller keeps ``reader`` open while the app runs.

    Args:
        reader: the open recording.
        settings: the user's settings (the engine's thresholds, the theme).
        speed: multiple of real time to start at; ``None``: as fast as possible.
        start_s: host time to start at (seconds since the epoch); ``None``: the first packet.
        clock: the wall clock the replay is paced by, seconds.

    Raises:
        KeyError: the recording's tag family is unknown.
    """
    from posturebuddy.ui.app import make_app

    family = get_family(reader.metadata.tag_family)
    engine = engine_settings(settings, utc_offset_s=_utc_offset())
    session = ReplaySession(reader, family, engine, speed=speed, start_s=start_s, clock=clock)

    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[ReplaySession]:
        yield session

    return make_app(
        factory,
        replay_settings(settings),
        label=f"replay: {reader.path.name}",
        can_write_config=False,
        replay=session,
    )


def run_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command; returns the exit code."""
    try:
        speed = parse_speed(args.speed)
    except UsageError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    reader: RecordingReader | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecordingDamageWarning)
        try:
            reader = open_recording(args.file)
        except RecordingError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        with reader:
            family_id = reader.metadata.tag_family
            try:
                family = get_family(family_id)
            except KeyError:
                print(
                    f"{PROG}: error: {args.file}: unknown tag family {family_id!r}: its packets cannot be decoded",
                    file=sys.stderr,
                )
                return EXIT_FAILED
            start_s: float | None = None
            span = reader.time_range() if args.start is not None or not args.headless else None
            if span is None and (args.start is not None or not args.headless):
                print(f"{PROG}: error: {args.file}: the recording holds no packets", file=sys.stderr)
                return EXIT_FAILED
            if args.start is not None and span is not None:
                try:
                    start_s = parse_start(args.start, span[0])
                except UsageError as exc:
                    print(f"{PROG}: error: {exc}", file=sys.stderr)
                    return EXIT_USAGE
                if start_s > span[1]:
                    print(
                        f"{PROG}: error: --start {args.start} is after the recording ends "
                        f"({_local(span[1])}, {span[1] - span[0]:.0f} s from its start at {_local(span[0])})",
                        file=sys.stderr,
                    )
                    return EXIT_USAGE
            if not args.headless:
                if not (sys.stdin.isatty() and sys.stdout.isatty()):
                    print(
                        f"{PROG}: error: the replay dashboard needs a terminal; use 'posturebuddy replay {args.file} "
                        "--headless' to print the replayed session as JSON lines.",
                        file=sys.stderr,
                    )
                    return EXIT_USAGE
                app = replay_app(reader, settings, speed=speed, start_s=start_s)
                app.run()
                return app.return_code or 0
            st = engine_settings(settings, utc_offset_s=_utc_offset())
            out = sys.stdout
            pacer = Pacer(speed, before_sleep=out.flush)
            replay_recording(reader, out, settings=st, family=family, start_s=start_s, pacer=pacer)
    messages = [str(w.message) for w in caught if issubclass(w.category, RecordingDamageWarning)]
    line = _damage_line(messages, reader)
    if line is not None:
        print(f"{PROG}: warning: {' '.join(line.split())}", file=sys.stderr)
    return EXIT_OK
