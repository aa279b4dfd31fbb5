"""The history screen: today and the past days, from the minute summaries in the recordings directory.

What it shows
    One row per local calendar day, today first (:data:`HISTORY_DAYS` days): recorded time, upright share with a
    small bar, episodes, prompts done of raised, breaks credited and the longest unbroken sitting. Today includes
    the session being recorded right now: its recorder writes the minute in progress at every flush (about once a
    second), so each refresh (``r``, or every :data:`REFRESH_S` seconds) shows it as it stands. Under the table:
    the totals of the days shown, with prompt outcomes.

How it reads
    In a thread worker (:func:`read_history`, over :func:`posturebuddy.session.history.load_history`), so the
    dashboard keeps drawing; the table shows a loading indicator meanwhile. Only minute summaries are read, which
    takes milliseconds per recording. A recording without summaries (made by the simulator, imported, or by an
    older PostureBuddy) would need the batch engine (seconds per recorded hour): the screen counts such files and
    ``a`` analyses them, with progress, caching the result into each file as ``posturebuddy report`` does.

What never happens
    A damaged or foreign file in the folder gets one line saying so and the rest still shows; an error while
    reading becomes a line on the screen, never a crash of the dashboard.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Static
from textual.worker import Worker, WorkerState

from posturebuddy.model import PromptOutcome
from posturebuddy.session.engine import EngineSettings
from posturebuddy.session.history import (
    DayFigures,
    Figures,
    History,
    RecordingEntry,
    day_bounds,
    load_history,
    local_zone,
    scan_recordings,
)
from posturebuddy.ui.screens.info import InfoScreen

HISTORY_DAYS = 14
"""Days shown: today and the 13 before it."""
REFRESH_S = 30.0
"""While the screen is open it reads the history again this often, seconds (today's session grows)."""
BAR_CELLS = 5
"""Width of the upright-share bar, terminal cells."""
MAX_PROBLEM_LINES = 3
"""Files with a problem named one per line; more are counted on one extra line."""
WORKER_GROUP = "history-load"

AnalyseProgress = Callable[[str, int, int, float], None]
"""Told how analysing recordings without summaries advances: (file name, its number from 1, how many, 0..1)."""


# ------------------------------------------------------------------------------------------------ reading


@dataclass(frozen=True, slots=True)
class HistoryLoad:
    """What one read of the recordings directory gave.

    Attributes:
        directory: the recordings directory read.
        history: the figures of each day, today first.
        files: recording files found (readable or not).
        unsummarised: readable recordings in the days shown that hold no minute summaries and were not
            analysed (``a`` analyses them).
    """

    directory: Path
    history: History
    files: int
    unsummarised: tuple[str, ...] = ()

    @property
    def days(self) -> tuple[DayFigures, ...]:
        """The days, today first."""
        return self.history.days

    @property
    def has_data(self) -> bool:
        """At least one day shown has a recorded minute."""
        return any(not day.figures.empty for day in self.history.days)


def history_days(today: dt.date, count: int = HISTORY_DAYS) -> tuple[dt.date, ...]:
    """``today`` and the ``count - 1`` days before it, today first."""
    return tuple(today - dt.timedelta(days=k) for k in range(count))


def read_history(
    directory: Path,
    days: Sequence[dt.date],
    *,
    tz: dt.tzinfo,
    analyse: bool = False,
    settings: EngineSettings | None = None,
    progress: AnalyseProgress | None = None,
) -> HistoryLoad:
    """Figures for ``days`` from ``directory``: from minute summaries only, unless ``analyse``.

    Without ``analyse``, recordings that hold no summaries are left out (and named in
    :attr:`HistoryLoad.unsummarised`); with it they are analysed by the batch engine and the rows cached into
    each file that was closed cleanly. Runs in a worker thread: blocking, never touches the UI."""
    entries = scan_recordings(directory)
    bounds = [day_bounds(day, tz) for day in days]

    def in_range(entry: RecordingEntry) -> bool:
        return any(entry.overlaps(a, b) for a, b in bounds)

    pending = [e for e in entries if not e.error and not e.summaries and e.start_s is not None and in_range(e)]
    used = entries if analyse else [e for e in entries if e not in pending]
    hook = None
    if progress is not None:

        def hook(path: Path, number: int, count: int, fraction: float) -> None:
            progress(path.name, number, count, fraction)

    history = load_history(directory, days, tz=tz, settings=settings, progress=hook, entries=used)
    unsummarised = () if analyse else tuple(e.path.name for e in pending)
    return HistoryLoad(directory, history, len(entries), unsummarised)


# ------------------------------------------------------------------------------------------------ text


def day_label(day: dt.date, today: dt.date) -> str:
    """``Today``, ``Yesterday`` or e.g. ``Mon 03 Nov``."""
    if day == today:
        return "Today"
    if day == today - dt.timedelta(days=1):
        return "Yesterday"
    return day.strftime("%a %d %b")


def span_text(seconds: float) -> str:
    """A time span for the table: ``-`` for none, ``45 s``, ``12 min`` or ``3 h 05``."""
    if not math.isfinite(seconds) or seconds <= 0.0:
        return "-"
    if seconds < 60.0:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60.0)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d}"


def upright_cell(share: float | None, cells: int = BAR_CELLS) -> Text:
    """The upright share (0..1) as a percentage and a bar of ``cells`` cells; ``-`` when nothing was judged."""
    if share is None or not math.isfinite(share):
        return Text("-")
    share = min(max(share, 0.0), 1.0)
    filled = round(share * cells)
    text = Text(f"{share:4.0%} ")
    text.append("█" * filled, style="green")
    text.append("░" * (cells - filled), style="dim")
    return text


def prompts_text(figures: Figures) -> str:
    """Prompts completed (done or auto-completed) over prompts raised, e.g. ``3/5``; ``-`` for none."""
    raised, done = figures.prompt_count, figures.prompts_completed
    return f"{done}/{raised}" if raised or done else "-"


COLUMNS: tuple[str, ...] = ("day", "recorded", "upright", "episodes", "prompts", "breaks", "longest")
"""The table's column headers: prompts are done/raised; longest is the longest unbroken sitting. The table is
70 cells wide, so it fits the page in an 80-column terminal."""


def day_row(day: DayFigures, today: dt.date) -> tuple[str | Text, ...]:
    """One table row (see :data:`COLUMNS`); a day without recorded minutes shows dashes."""
    f = day.figures
    label = day_label(day.day, today)
    if f.empty:
        return (label, "-", Text("-"), "-", "-", "-", "-")
    return (
        label,
        span_text(f.recorded_s),
        upright_cell(f.upright_share),
        str(f.episode_count),
        prompts_text(f),
        str(f.breaks),
        span_text(f.longest_sitting_s),
    )


def totals_text(load: HistoryLoad) -> Text:
    """The totals of the days shown, with the episodes by kind and the prompts' outcomes."""
    total = load.history.totals()
    text = Text()
    text.append(f"{len(load.days)} days: ", style="bold")
    share = total.upright_share
    parts = [f"{span_text(total.recorded_s)} recorded", "upright " + ("-" if share is None else f"{share:.0%}")]
    if total.episodes:
        kinds = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(total.episodes.items()))
        parts.append(f"{total.episode_count} episodes ({kinds})")
    else:
        parts.append("no episodes")
    outcomes = [
        f"{total.outcomes[o]} {o.replace('_', '-')}" for o in (x.value for x in PromptOutcome) if total.outcomes.get(o)
    ]
    raised = f"{total.prompt_count} prompts"
    parts.append(f"{raised} ({', '.join(outcomes)})" if outcomes else raised)
    parts.append(f"{total.breaks} breaks, longest sitting {span_text(total.longest_sitting_s)}")
    text.append("; ".join(parts))
    return text


def problem_lines(load: HistoryLoad) -> list[str]:
    """One line per file that could not be used (at most :data:`MAX_PROBLEM_LINES`, then a count), and one
    for recordings without summaries. The screen shows each on one line, cut with an ellipsis."""
    problems = list(load.history.problems)
    prefix = f"{load.directory}{os.sep}"
    lines = []
    for name, why in problems[:MAX_PROBLEM_LINES]:
        said = why.replace(prefix, "")  # messages name the file by its full path: the directory is shown above
        lines.append(f"⚠ {said}" if said.startswith(name) else f"⚠ {name}: {said}")
    if len(problems) > MAX_PROBLEM_LINES:
        lines.append(f"⚠ and {len(problems) - MAX_PROBLEM_LINES} more files could not be used")
    if load.unsummarised:
        n = len(load.unsummarised)
        files = "recording has" if n == 1 else "recordings have"
        lines.append(
            f"{n} {files} no minute summaries yet ({', '.join(load.unsummarised[:2])}"
            f"{', ...' if n > 2 else ''}): press a to analyse (seconds per recorded hour)"
        )
    return lines


def status_text(load: HistoryLoad, now: dt.datetime) -> str:
    """What was read, from where, and when."""
    if load.files == 0:
        return (
            f"No recordings yet in {load.directory}. Every 'posturebuddy run' session is recorded there, and "
            "today's figures appear here while it runs."
        )
    if not load.has_data:
        return f"No recorded minutes in the last {len(load.days)} days ({load.files} files in {load.directory})."
    used = len({r.entry.path for day in load.days for r in day.recordings})
    return (
        f"{used} of {load.files} recordings in {load.directory}; read {now:%H:%M:%S} in "
        f"{load.history.elapsed_s:.2f} s (r refreshes)"
    )


# ------------------------------------------------------------------------------------------------ screen


class HistoryProgress(Message):
    """Posted from the reading thread while recordings without summaries are analysed."""

    def __init__(self, name: str, number: int, count: int, fraction: float) -> None:
        super().__init__()
        self.name = name
        self.number = number
        self.count = count
        self.fraction = fraction


class HistoryScreen(InfoScreen):
    """Today and the past days from the session store (see the module docstring).

    Args:
        directory: the recordings directory.
        settings: engine settings for recordings that must be analysed (default: the defaults).
        today: the day shown first (default: today in ``tz``).
        tz: the time zone of the days (default: the system's).
        days: how many days to show.
        refresh_s: seconds between automatic refreshes (``None``: only with ``r``).
    """

    DEFAULT_CSS = """
    HistoryScreen #history-problems {
        max-height: 4;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "reload", "Refresh"),
        Binding("a", "analyse", "Analyse"),
    ]

    def __init__(
        self,
        directory: Path,
        *,
        settings: EngineSettings | None = None,
        today: dt.date | None = None,
        tz: dt.tzinfo | None = None,
        days: int = HISTORY_DAYS,
        refresh_s: float | None = REFRESH_S,
    ) -> None:
        super().__init__(id="history")
        self.directory = directory
        self.engine_settings = settings
        self.tz = tz if tz is not None else local_zone()
        self._today = today
        self.day_count = days
        self.refresh_s = refresh_s
        self.load: HistoryLoad | None = None
        """The last history read (``None`` until the first read ends)."""
        self.error = ""
        """Why the last read failed ("" if it did not)."""
        self.reads = 0
        """Reads finished so far, shown or failed."""
        self._worker: Worker[HistoryLoad] | None = None
        self._timer: Timer | None = None

    @property
    def reading(self) -> bool:
        """A read is under way."""
        return self._worker is not None and not self._worker.is_finished

    def today(self) -> dt.date:
        """The first day shown."""
        return self._today if self._today is not None else dt.datetime.now(self.tz).date()

    def compose(self) -> ComposeResult:
        """Status line, problems, the table of days, totals."""
        with Vertical(id="history-page", classes="page") as page:
            page.border_title = "History"
            yield Static("Reading the recordings...", id="history-status")
            yield Static(id="history-problems")
            table: DataTable[str | Text] = DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
            table.add_columns(*COLUMNS)
            yield table
            yield Static(id="history-totals")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Start reading, and read again every ``refresh_s``."""
        self.query_one("#history-problems", Static).display = False
        self.start_reading(analyse=False)
        if self.refresh_s is not None:
            self._timer = self.set_interval(self.refresh_s, self._refresh_quietly)

    def _refresh_quietly(self) -> None:
        if not self.reading:
            self.start_reading(analyse=False)

    def action_reload(self) -> None:
        """Read the history again (today's session grows while it records)."""
        if self.reading:
            self.notify("Still reading the history.", timeout=2)
            return
        self.start_reading(analyse=False)

    def action_analyse(self) -> None:
        """Analyse the recordings without summaries in the days shown, then show them."""
        if self.reading:
            self.notify("Still reading the history.", timeout=2)
            return
        if self.load is None or not self.load.unsummarised:
            self.notify("Every recording in these days already has its minute summaries.", timeout=3)
            return
        self.start_reading(analyse=True)

    def start_reading(self, *, analyse: bool) -> Worker[HistoryLoad]:
        """Read the history in a thread worker; the table shows a loading indicator until it ends."""
        self.query_one("#history-table", DataTable).loading = True
        if analyse:
            self.query_one("#history-status", Static).update("Analysing recordings without summaries...")
        days = history_days(self.today(), self.day_count)

        def work() -> HistoryLoad:
            return read_history(
                self.directory,
                days,
                tz=self.tz,
                analyse=analyse,
                settings=self.engine_settings,
                progress=self._post_progress if analyse else None,
            )

        self._worker = self.run_worker(
            work, name="history", group=WORKER_GROUP, thread=True, exit_on_error=False, exclusive=False
        )
        return self._worker

    def _post_progress(self, name: str, number: int, count: int, fraction: float) -> None:
        """(Reading thread) pass progress to the screen; ``post_message`` is thread-safe."""
        self.post_message(HistoryProgress(name, number, count, fraction))

    def on_history_progress(self, message: HistoryProgress) -> None:
        """Show how the analysis advances."""
        self.query_one("#history-status", Static).update(
            f"Analysing {message.name} ({message.number} of {message.count}): {message.fraction:.0%}"
        )

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A read ended: show it, or say why it failed (the previous figures stay)."""
        if event.worker is not self._worker or not event.worker.is_finished:
            return
        event.stop()
        self.reads += 1
        self.query_one("#history-table", DataTable).loading = False
        if event.state == WorkerState.SUCCESS and isinstance(event.worker.result, HistoryLoad):
            self.error = ""
            self.show(event.worker.result)
        elif event.state == WorkerState.ERROR:
            exc = event.worker.error
            self.error = f"Could not read the history: {type(exc).__name__}: {exc}"
            self.query_one("#history-status", Static).update(Text(self.error, style="bold red"))

    def show(self, load: HistoryLoad) -> None:
        """Draw a finished read."""
        self.load = load
        today = self.today()
        now = dt.datetime.now(self.tz)
        self.query_one("#history-status", Static).update(status_text(load, now))
        problems = self.query_one("#history-problems", Static)
        lines = problem_lines(load)
        problems.update(Text("\n".join(lines), style="yellow", no_wrap=True, overflow="ellipsis"))
        problems.display = bool(lines)
        table: DataTable[str | Text] = self.query_one("#history-table", DataTable)
        cursor = table.cursor_row
        table.clear()
        if load.has_data:
            for day in load.days:
                table.add_row(*day_row(day, today), key=day.day.isoformat())
            table.move_cursor(row=min(max(cursor, 0), table.row_count - 1))
        totals = self.query_one("#history-totals", Static)
        totals.update(totals_text(load) if load.has_data else "")
        totals.display = load.has_data
