"""History: daily and weekly figures across the recordings directory, from per-minute summaries.

Each recording holds one row per minute (:mod:`posturebuddy.session.summaries`), written live by the recorder.
A recording without them (made by an older PostureBuddy, by the simulator, or imported) is analysed once
(:func:`~posturebuddy.session.analyze.analyze_recording`, the batch engine, seconds per recorded hour) and the
rows it gives are **cached back** into the file's ``minute_summaries`` table, so the next report reads them in
milliseconds. Only a recording that was closed cleanly and whose table is empty is written to; the write is one
transaction that adds rows and changes nothing else, so nothing already recorded can be lost. Minute rows
outlive the raw packets (retention keeps them forever), so history keeps working after the packets are trimmed.

Days are calendar days in the user's local time zone (``tz``; the system's by default): a minute belongs to the
day on whose local date it starts. Two recordings covering the same minute (copies of one file, or two tags at
once) are not counted twice: the row with more covered time is kept.

Figures (:class:`Figures`), all times in seconds:

* **upright share**: upright time over *judged* time (time in a posture class the detector judges: upright,
  forward head, slouch, leaning back, side lean; not ``moving`` or ``away``);
* **episodes** by kind (counted in the minute they started), **prompts** raised and their outcomes (done,
  snoozed, skipped, expired, auto-completed), **breaks** credited;
* **longest unbroken sitting**: the largest seated time between two credited breaks (the summaries' sitting
  clock; it restarts with each recording);
* **recorded time**: minutes covered by a recording, with or without data; **no data**: of that, time with the
  link down.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from posturebuddy.model import PostureClass, PromptOutcome
from posturebuddy.session.analyze import analyze_recording
from posturebuddy.session.engine import EngineSettings
from posturebuddy.session.recording import (
    MinuteSummary,
    RecordingDamageWarning,
    RecordingError,
    open_recording,
)
from posturebuddy.session.recording_schema import MINUTE_POSTURE_COLUMNS
from posturebuddy.session.summaries import (
    EPISODES_BY_KIND,
    MINUTE_S,
    OUTCOMES,
    PROMPTS_BY_KIND,
    STREAK_MAX,
    summarize_analysis,
)

JUDGED_CLASSES: tuple[PostureClass, ...] = (
    PostureClass.UPRIGHT,
    PostureClass.LEANING_BACK,
    PostureClass.FORWARD_HEAD,
    PostureClass.SLOUCH,
    PostureClass.SIDE_LEAN,
)
"""Posture classes in which posture was judged (the denominator of the upright share)."""

OUTCOME_NAMES: tuple[str, ...] = tuple(o.value for o in PromptOutcome)
"""Prompt outcomes, in the order reports list them."""

RECORDING_GLOB = "*.pbrec"

_APPLICATION_ID = 0x50425243
_SUPPORTED_MAJOR = 1

AnalyzeProgress = Callable[[Path, int, int, float], None]
"""Called while recordings without summaries are analysed: (file, its number from 1, how many, progress 0..1)."""


class SummarySource:
    """Where a recording's minute rows came from (values of :attr:`RecordingMinutes.source`)."""

    RECORDED = "recorded"
    """Written by the live recorder, or cached by an earlier analysis."""
    ANALYSED = "analysed"
    """Computed now by the batch engine (and cached back if possible)."""
    NONE = "none"
    """None available (unreadable, or nothing to analyse); ``note`` says why."""


@dataclass(frozen=True, slots=True)
class RecordingEntry:
    """One recording file as history sees it before reading its rows.

    Attributes:
        path: the file.
        session_id: the recording's session id ("" if unknown).
        start_s, end_s: first and last host time of its packets, POSIX seconds (from the summaries when the
            packets were trimmed); ``None`` when it holds neither.
        summaries: rows already in the file.
        closed: the writer closed it cleanly.
        source_kind: ``live``, ``simulated`` or ``imported``.
        error: why the file cannot be read ("" if it can).
    """

    path: Path
    session_id: str = ""
    start_s: float | None = None
    end_s: float | None = None
    summaries: int = 0
    closed: bool = False
    source_kind: str = ""
    error: str = ""

    def overlaps(self, start_s: float, end_s: float) -> bool:
        """Whether the recording has data in ``[start_s, end_s)``, POSIX seconds."""
        if self.start_s is None or self.end_s is None:
            return False
        return self.start_s < end_s and self.end_s >= start_s


@dataclass(frozen=True, slots=True)
class RecordingMinutes:
    """A recording's minute rows and where they came from."""

    entry: RecordingEntry
    rows: tuple[MinuteSummary, ...]
    source: str
    cached: bool = False
    note: str = ""


@dataclass(slots=True)
class Figures:
    """What happened over some minutes (a day, a week). Times in seconds.

    Attributes:
        minutes: the rows summed (for a day: its timeline), by minute.
        recordings: how many recordings contributed.
        posture_s: seconds in each posture class (``PostureClass`` values).
        no_data_s, sitting_s, standing_s, walking_s: seconds without data, and by activity.
        episodes: episodes started, by kind.
        prompts: prompts raised, by kind.
        outcomes: prompt outcomes, by outcome.
        breaks: breaks credited.
        longest_sitting_s: the longest unbroken sitting seen.
    """

    minutes: list[MinuteSummary] = field(default_factory=list)
    recordings: int = 0
    posture_s: dict[str, float] = field(default_factory=dict)
    no_data_s: float = 0.0
    sitting_s: float = 0.0
    standing_s: float = 0.0
    walking_s: float = 0.0
    episodes: dict[str, int] = field(default_factory=dict)
    prompts: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    breaks: int = 0
    longest_sitting_s: float = 0.0

    def add(self, row: MinuteSummary) -> None:
        """Count one minute row in."""
        self.minutes.append(row)
        for cls, seconds in row.posture_s.items():
            key = str(cls)
            self.posture_s[key] = self.posture_s.get(key, 0.0) + seconds
        self.no_data_s += row.no_data_s
        self.sitting_s += row.sitting_s
        self.standing_s += row.standing_s
        self.walking_s += row.walking_s
        self.breaks += row.breaks
        detail = row.detail
        _merge_counts(self.episodes, detail.get(EPISODES_BY_KIND), row.episodes, "unknown")
        _merge_counts(self.prompts, detail.get(PROMPTS_BY_KIND), row.prompts, "unknown")
        _merge_counts(self.outcomes, detail.get(OUTCOMES), row.prompts_done, PromptOutcome.DONE.value)
        streak = detail.get(STREAK_MAX)
        if isinstance(streak, int | float) and math.isfinite(streak):
            self.longest_sitting_s = max(self.longest_sitting_s, float(streak))

    def merge(self, other: Figures) -> None:
        """Add another span's figures (a week's totals from its days)."""
        for row in other.minutes:
            self.add(row)
        self.recordings += other.recordings

    @property
    def data_s(self) -> float:
        """Seconds with data (in any posture class)."""
        return sum(self.posture_s.values())

    @property
    def recorded_s(self) -> float:
        """Seconds covered by recordings: with data or without."""
        return self.data_s + self.no_data_s

    @property
    def judged_s(self) -> float:
        """Seconds in which posture was judged (:data:`JUDGED_CLASSES`)."""
        return sum(self.posture_s.get(c.value, 0.0) for c in JUDGED_CLASSES)

    @property
    def upright_share(self) -> float | None:
        """Upright time over judged time, 0..1 (``None`` when nothing was judged)."""
        judged = self.judged_s
        return self.posture_s.get(PostureClass.UPRIGHT.value, 0.0) / judged if judged > 0.0 else None

    @property
    def episode_count(self) -> int:
        """Episodes of every kind."""
        return sum(self.episodes.values())

    @property
    def prompt_count(self) -> int:
        """Prompts of every kind."""
        return sum(self.prompts.values())

    @property
    def prompts_completed(self) -> int:
        """Prompts the wearer did: answered "done", or completed by the posture or break itself."""
        return self.outcomes.get(PromptOutcome.DONE.value, 0) + self.outcomes.get(PromptOutcome.AUTO_COMPLETED.value, 0)

    @property
    def empty(self) -> bool:
        """No recorded minute at all."""
        return not self.minutes

    def to_json(self) -> dict[str, object]:
        """JSON-ready figures (no minute rows)."""
        share = self.upright_share
        return {
            "recordings": self.recordings,
            "recorded_s": round(self.recorded_s, 1),
            "no_data_s": round(self.no_data_s, 1),
            "judged_s": round(self.judged_s, 1),
            "upright_share": None if share is None else round(share, 4),
            "posture_s": {k: round(v, 1) for k, v in sorted(self.posture_s.items())},
            "sitting_s": round(self.sitting_s, 1),
            "standing_s": round(self.standing_s, 1),
            "walking_s": round(self.walking_s, 1),
            "episodes": dict(sorted(self.episodes.items())),
            "prompts": dict(sorted(self.prompts.items())),
            "outcomes": {name: self.outcomes.get(name, 0) for name in OUTCOME_NAMES},
            "breaks": self.breaks,
            "longest_sitting_s": round(self.longest_sitting_s, 1),
        }


def _merge_counts(into: dict[str, int], by_kind: object, total: int, fallback: str) -> None:
    """Add a row's counts by kind; a row without the breakdown (written by another tool) adds ``total`` to
    ``fallback``."""
    if isinstance(by_kind, dict):
        for key, value in by_kind.items():
            if isinstance(value, int) and value > 0:
                into[str(key)] = into.get(str(key), 0) + value
    elif total > 0:
        into[fallback] = into.get(fallback, 0) + total


@dataclass(frozen=True, slots=True)
class DayFigures:
    """One local calendar day: its figures and the recordings behind them."""

    day: dt.date
    start_s: float
    end_s: float
    figures: Figures
    recordings: tuple[RecordingMinutes, ...] = ()


# ------------------------------------------------------------------------------------------------ days


def local_zone() -> dt.tzinfo:
    """The system's local time zone."""
    zone = dt.datetime.now().astimezone().tzinfo
    return zone if zone is not None else dt.UTC


def day_bounds(day: dt.date, tz: dt.tzinfo) -> tuple[float, float]:
    """POSIX seconds of local midnight starting ``day`` and the next (23 or 25 h apart across a DST change)."""
    start = dt.datetime.combine(day, dt.time(0, 0), tzinfo=tz).timestamp()
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=tz).timestamp()
    return start, end


def local_day(t_s: float, tz: dt.tzinfo) -> dt.date:
    """The local date of POSIX time ``t_s``, seconds."""
    return dt.datetime.fromtimestamp(t_s, tz=dt.UTC).astimezone(tz).date()


def parse_day(text: str) -> dt.date:
    """``YYYY-MM-DD`` (also ``today`` and ``yesterday``) to a date.

    Raises:
        ValueError: with a message saying what is expected.
    """
    word = text.strip().lower()
    today = dt.datetime.now().astimezone().date()
    if word == "today":
        return today
    if word == "yesterday":
        return today - dt.timedelta(days=1)
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        msg = f"--day {text!r} is not a date: write it as YYYY-MM-DD (e.g. 2026-01-05), 'today' or 'yesterday'"
        raise ValueError(msg) from None


def parse_week(text: str) -> tuple[dt.date, ...]:
    """An ISO week ``YYYY-Www`` (e.g. ``2026-W02``; also ``this`` and ``last``) to its seven dates, Monday first.

    Raises:
        ValueError: with a message saying what is expected.
    """
    word = text.strip().lower()
    today = dt.datetime.now().astimezone().date()
    if word in ("this", "last"):
        monday = today - dt.timedelta(days=today.weekday()) - dt.timedelta(days=7 if word == "last" else 0)
        return tuple(monday + dt.timedelta(days=i) for i in range(7))
    try:
        year_s, week_s = word.split("-w")
        monday = dt.date.fromisocalendar(int(year_s), int(week_s), 1)
    except ValueError:
        msg = (
            f"--week {text!r} is not an ISO week: write it as YYYY-Www (e.g. 2026-W02, the week of 5 January 2026), "
            "'this' or 'last'"
        )
        raise ValueError(msg) from None
    return tuple(monday + dt.timedelta(days=i) for i in range(7))


# ------------------------------------------------------------------------------------------------ files


def scan_recordings(directory: Path) -> list[RecordingEntry]:
    """Every ``*.pbrec`` in ``directory`` with its time span (cheap: two packet reads and a row count each).

    A file that cannot be read is listed with its ``error``; it never stops the scan."""
    if not directory.is_dir():
        return []
    return [read_entry(p) for p in sorted(directory.glob(RECORDING_GLOB)) if p.is_file()]


def read_entry(path: Path) -> RecordingEntry:
    """What history needs to know of one file before reading its rows; never raises for a bad file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecordingDamageWarning)
            with open_recording(path) as reader:
                meta = reader.metadata
                span = reader.time_range()
                rows = reader.minute_summaries()
    except (RecordingError, OSError) as exc:
        return RecordingEntry(path, error=" ".join(str(exc).split()))
    except Exception as exc:  # noqa: BLE001 - history must survive any one bad file
        return RecordingEntry(path, error=f"cannot be read: {type(exc).__name__}: {exc}")
    start, end = (span[0], span[1]) if span else (None, None)
    if rows:
        first, last = rows[0].minute_start_s, rows[-1].minute_start_s + MINUTE_S
        start = first if start is None else min(start, first)
        end = last if end is None else max(end, last)
    return RecordingEntry(
        path,
        session_id=meta.session_id,
        start_s=start,
        end_s=end,
        summaries=len(rows),
        closed=meta.closed_s is not None,
        source_kind=str(meta.source_kind),
    )


def recording_minutes(
    entry: RecordingEntry,
    *,
    settings: EngineSettings | None = None,
    cache: bool = True,
    progress: Callable[[float], None] | None = None,
) -> RecordingMinutes:
    """The minute rows of one recording: those stored in it, else computed by the batch engine (and, with
    ``cache``, written back into the file if it was closed cleanly). Never raises for a bad file."""
    if entry.error:
        return RecordingMinutes(entry, (), SummarySource.NONE, note=entry.error)
    try:
        if entry.summaries:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RecordingDamageWarning)
                with open_recording(entry.path) as reader:
                    return RecordingMinutes(entry, tuple(reader.minute_summaries()), SummarySource.RECORDED)
        if entry.start_s is None:
            return RecordingMinutes(entry, (), SummarySource.NONE, note="no packets and no summaries")

        def stage(_name: str, fraction: float) -> None:
            if progress is not None:
                progress(fraction)

        st = settings if settings is not None else EngineSettings()
        result = analyze_recording(entry.path, settings=st, timeline=True, progress=stage)
        rows = tuple(summarize_analysis(result, st))
    except (RecordingError, OSError) as exc:
        return RecordingMinutes(entry, (), SummarySource.NONE, note=" ".join(str(exc).split()))
    note = "; ".join(result.warnings)
    cached = False
    if cache and rows and entry.closed and not result.warnings:
        cached, why = store_minute_summaries(entry.path, rows)
        if not cached:
            note = "; ".join(x for x in (note, f"summaries not cached: {why}") if x)
    return RecordingMinutes(entry, rows, SummarySource.ANALYSED, cached=cached, note=note)


def store_minute_summaries(path: Path, rows: Sequence[MinuteSummary]) -> tuple[bool, str]:
    """Write ``rows`` into the empty ``minute_summaries`` table of the closed recording ``path``.

    One transaction that only inserts rows: it refuses (returns ``(False, why)``) a file that is not a
    recording of format 1.x, one still being written (no ``closed_s``), one that already holds summaries, or one
    it cannot write (read-only). Returns ``(True, "")`` when the rows are in the file."""
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=2.0)
    except sqlite3.Error as exc:
        return False, f"cannot open {path.name} for writing ({exc})"
    try:
        app_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if app_id != _APPLICATION_ID or int(version) // 1000 != _SUPPORTED_MAJOR:
            return False, "not a recording of format 1.x"
        connection.execute("BEGIN IMMEDIATE")
        closed = connection.execute("SELECT value FROM meta WHERE key = 'closed_s'").fetchone()
        existing = connection.execute("SELECT count(*) FROM minute_summaries").fetchone()[0]
        if closed is None or existing:
            connection.execute("ROLLBACK")
            return False, "still being written" if closed is None else "it already holds summaries"
        columns = ["minute_start_s", *MINUTE_POSTURE_COLUMNS.values()]
        columns += ["no_data_s", "sitting_s", "standing_s", "walking_s", "episodes", "prompts", "prompts_done"]
        columns += ["breaks", "detail_json"]
        # Column names are the format's own constants (no outside text reaches the statement).
        sql = f"INSERT INTO minute_summaries ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"  # noqa: S608
        connection.executemany(sql, [_row_params(row) for row in rows])
        connection.execute("COMMIT")
    except (sqlite3.Error, ValueError) as exc:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        return False, f"cannot write {path.name} ({exc})"
    finally:
        connection.close()
    return True, ""


def _row_params(row: MinuteSummary) -> tuple[object, ...]:
    values = [row.minute_start_s, *(row.posture_s.get(cls, 0.0) for cls in MINUTE_POSTURE_COLUMNS)]
    values += [row.no_data_s, row.sitting_s, row.standing_s, row.walking_s]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"minute {row.minute_start_s!r} has a time that is not a finite number")
    detail = json.dumps(row.detail, separators=(",", ":"), allow_nan=False)
    return (*values, row.episodes, row.prompts, row.prompts_done, row.breaks, detail)


# ------------------------------------------------------------------------------------------------ figures


@dataclass(frozen=True, slots=True)
class History:
    """Figures for consecutive days, with what was read and how long it took.

    Attributes:
        days: one entry per day asked for, in order (a day without recordings has empty figures).
        tz: the time zone the days are in.
        analysed: recordings analysed because they had no summaries.
        cached: of those, recordings whose summaries were written back.
        problems: ``(file name, what happened)`` for files that could not be used.
        elapsed_s: wall time taken, seconds.
    """

    days: tuple[DayFigures, ...]
    tz: dt.tzinfo
    analysed: int = 0
    cached: int = 0
    problems: tuple[tuple[str, str], ...] = ()
    elapsed_s: float = 0.0

    def totals(self) -> Figures:
        """All the days together."""
        total = Figures()
        for day in self.days:
            total.merge(day.figures)
        total.recordings = len({r.entry.path for day in self.days for r in day.recordings if r.rows})
        return total


def load_history(
    directory: Path,
    days: Sequence[dt.date],
    *,
    tz: dt.tzinfo | None = None,
    settings: EngineSettings | None = None,
    cache: bool = True,
    progress: AnalyzeProgress | None = None,
    entries: Iterable[RecordingEntry] | None = None,
) -> History:
    """Figures for each of ``days`` (local dates in ``tz``) from the recordings in ``directory``.

    Args:
        directory: the recordings directory.
        days: the dates to report, in order.
        tz: their time zone (default: the system's).
        settings: engine settings for recordings that must be analysed.
        cache: write computed summaries back into closed recordings.
        progress: told how the analysis of recordings without summaries advances.
        entries: the scanned recordings, if already known (default: :func:`scan_recordings`).
    """
    clock = time.perf_counter()
    zone = tz if tz is not None else local_zone()
    bounds = [day_bounds(day, zone) for day in days]
    all_entries = list(entries) if entries is not None else scan_recordings(directory)
    problems = [(e.path.name, e.error) for e in all_entries if e.error]
    wanted = [e for e in all_entries if not e.error and any(e.overlaps(a, b) for a, b in bounds)]
    to_analyse = [e for e in wanted if not e.summaries]
    loaded: list[RecordingMinutes] = []
    analysed = cached = 0
    for entry in wanted:
        hook: Callable[[float], None] | None = None
        if progress is not None and not entry.summaries:
            number = to_analyse.index(entry) + 1

            def hook(fraction: float, entry: RecordingEntry = entry, number: int = number) -> None:
                progress(entry.path, number, len(to_analyse), fraction)

        minutes = recording_minutes(entry, settings=settings, cache=cache, progress=hook)
        if minutes.source == SummarySource.ANALYSED:
            analysed += 1
            cached += int(minutes.cached)
        if minutes.note:
            problems.append((entry.path.name, minutes.note))
        loaded.append(minutes)
    best = _best_rows(loaded)
    out: list[DayFigures] = []
    for day, (start, end) in zip(days, bounds, strict=True):
        figures = Figures()
        contributing: list[RecordingMinutes] = []
        for minutes in loaded:
            rows = [r for r in minutes.rows if start <= r.minute_start_s < end and best.get(r.minute_start_s) is r]
            if rows:
                contributing.append(minutes)
                for row in rows:
                    figures.add(row)
        figures.minutes.sort(key=lambda r: r.minute_start_s)
        figures.recordings = len(contributing)
        out.append(DayFigures(day, start, end, figures, tuple(contributing)))
    return History(tuple(out), zone, analysed, cached, tuple(problems), time.perf_counter() - clock)


def _best_rows(loaded: Sequence[RecordingMinutes]) -> dict[float, MinuteSummary]:
    """For each minute, the row with the most covered time (a minute in two recordings counts once)."""
    best: dict[float, MinuteSummary] = {}
    seen_sessions: set[str] = set()
    for minutes in loaded:
        session = minutes.entry.session_id
        if session and session in seen_sessions:
            continue  # a copy of a file already read
        if session:
            seen_sessions.add(session)
        for row in minutes.rows:
            old = best.get(row.minute_start_s)
            if old is None or _covered(row) > _covered(old):
                best[row.minute_start_s] = row
    return best


def _covered(row: MinuteSummary) -> float:
    return sum(row.posture_s.values()) + row.no_data_s
