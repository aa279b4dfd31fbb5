"""``posturebuddy report [--day D | --week W] [--html FILE] [--png FILE]``: a day's or a week's figures.

The figures come from :mod:`posturebuddy.session.history` (per-minute summaries of every recording in the
recordings directory; recordings without them are analysed once, with a progress bar, and the summaries are
cached back into the file unless ``--no-cache``). The terminal gets a table and a small text timeline of the
day; ``--html`` writes one self-contained page with an inline SVG (:mod:`posturebuddy.report.html`), ``--png`` a
picture drawn with matplotlib (:mod:`posturebuddy.report.png`, the ``report`` extra).

Exit codes (as :mod:`posturebuddy.cli`): 0 reported (also "no recordings that day" when no file was asked
for); 1 no recordings for a file to show, a file could not be written, or matplotlib is missing for ``--png``;
2 bad usage (a date or week that does not parse).
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from posturebuddy.config import Settings, recordings_dir
from posturebuddy.report.html import day_html, figures_rows, week_html
from posturebuddy.report.layout import (
    NOT_MEDICAL,
    NOT_RECORDED,
    STATES,
    STYLE,
    DayPlan,
    duration_text,
    plan_day,
    share_text,
)
from posturebuddy.session.engine import engine_settings
from posturebuddy.session.history import (
    AnalyzeProgress,
    DayFigures,
    Figures,
    History,
    load_history,
    local_zone,
    parse_day,
    parse_week,
    scan_recordings,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
PROG = "posturebuddy report"

BIN_CHOICES_MIN = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)
"""Minutes per character of the terminal timeline (divisors of 60), the smallest that fits is used."""


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command; returns the exit code."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    out = Console(highlight=False)
    tz = local_zone()
    try:
        if getattr(args, "week", None):
            days: tuple[dt.date, ...] = parse_week(args.week)
            weekly = True
        else:
            days = (parse_day(args.day) if getattr(args, "day", None) else dt.datetime.now(tz).date(),)
            weekly = False
    except ValueError as exc:
        err.print(f"{PROG}: {exc}", markup=False)
        return EXIT_USAGE
    html_path: Path | None = getattr(args, "html", None)
    png_path: Path | None = getattr(args, "png", None)
    for option, target in (("--html", html_path), ("--png", png_path)):
        if target is not None and target.is_dir():
            err.print(f"{PROG}: {option} {target} is a directory; give a file name such as report.html", markup=False)
            return EXIT_USAGE
    directory = recordings_dir(settings)
    offset = dt.datetime.now(tz).utcoffset()
    st = engine_settings(settings, utc_offset_s=0.0 if offset is None else offset.total_seconds())
    entries = scan_recordings(directory)
    with _progress(err) as progress:
        history = load_history(
            directory,
            days,
            tz=tz,
            settings=st,
            cache=not getattr(args, "no_cache", False),
            progress=progress,
            entries=entries,
        )
    for name, problem in history.problems:
        err.print(f"{PROG}: {name}: {problem}", markup=False)
    if history.analysed:
        cached = f", summaries cached in {history.cached}" if history.cached else ""
        err.print(f"analysed {history.analysed} recording(s) without summaries{cached}", markup=False)
    totals = history.totals()
    label = _week_label(days) if weekly else _day_label(days[0])
    if totals.empty:
        where = f"{directory}" if entries else f"{directory} (it holds no recordings yet)"
        out.print(
            f"No recordings for {label} in {where}. Record a session with 'posturebuddy run', or see what a day "
            "looks like with 'posturebuddy demo'.",
            markup=False,
        )
        if html_path is not None or png_path is not None:
            err.print(f"{PROG}: nothing to draw, so no file was written", markup=False)
            return EXIT_FAILED
        return EXIT_OK
    plans = [plan_day(day, tz) for day in history.days]
    if weekly:
        _print_week(out, label, history)
    else:
        _print_day(out, label, history.days[0])
    out.print(f"[dim]{escape(NOT_MEDICAL)}[/]")
    d = settings.detection
    thresholds = {"forward_head_deg": d.forward_head_deg, "slouch_deg": d.slouch_deg, "lean_back_deg": d.lean_back_deg}
    status = EXIT_OK
    if html_path is not None:
        if weekly:
            page = week_html(f"PostureBuddy: {label}", history.days, plans, totals)
        else:
            plan = plans[0]
            assert plan is not None
            page = day_html(plan, **thresholds)
        status = max(status, _write(err, html_path, lambda p: p.write_text(page, encoding="utf-8")))
    if png_path is not None:
        status = max(status, _write_png(err, png_path, label, history, plans, thresholds, weekly=weekly))
    return status


def _write(err: Console, path: Path, write: object) -> int:
    try:
        write(path)  # type: ignore[operator]
    except OSError as exc:
        err.print(f"{PROG}: cannot write {path}: {exc.strerror or exc}", markup=False)
        return EXIT_FAILED
    err.print(f"wrote {path}", markup=False)
    return EXIT_OK


def _write_png(
    err: Console,
    path: Path,
    label: str,
    history: History,
    plans: Sequence[DayPlan | None],
    thresholds: dict[str, float],
    *,
    weekly: bool,
) -> int:
    try:
        from posturebuddy.report.png import PngUnavailableError, day_png, week_png
    except ImportError as exc:  # pragma: no cover - the module itself imports nothing optional
        err.print(f"{PROG}: --png: {exc}", markup=False)
        return EXIT_FAILED
    try:
        if weekly:
            return _write(err, path, lambda p: week_png(history.days, p, title=f"PostureBuddy · {label}"))
        plan = plans[0]
        assert plan is not None
        return _write(err, path, lambda p: day_png(plan, p, **thresholds))
    except PngUnavailableError as exc:
        err.print(f"{PROG}: --png: {exc}", markup=False)
        return EXIT_FAILED


# ------------------------------------------------------------------------------------------------ terminal


def _day_label(day: dt.date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _week_label(days: Sequence[dt.date]) -> str:
    year, week, _ = days[0].isocalendar()
    return f"week {year}-W{week:02d} ({days[0]:%d %b} - {days[-1]:%d %b %Y})"


def _print_day(out: Console, label: str, day: DayFigures) -> None:
    f = day.figures
    table = Table(title=f"{label}: {f.recordings} recording(s)", title_justify="left", show_header=False, box=None)
    table.add_column("what", style="bold")
    table.add_column("value")
    for what, value in figures_rows(f):
        table.add_row(what, value)
    out.print(table)
    out.print()
    for line in timeline_lines(day, out.width, tz=None):
        out.print(line)


def timeline_lines(day: DayFigures, width: int, *, tz: dt.tzinfo | None) -> list[Text]:
    """The day's text timeline: an hour ruler, one coloured character per bin, and a legend."""
    zone = tz if tz is not None else local_zone()
    usable = max(24, width - 2)
    plan: DayPlan | None = None
    for bin_min in BIN_CHOICES_MIN:
        plan = plan_day(day, zone, bin_min=bin_min)
        if plan is None or len(plan.bins) <= usable:
            break
    if plan is None:
        return []
    n = len(plan.bins)
    ruler = [" "] * (n + 6)
    per_hour = 60 // plan.bin_min
    step_h = 1
    while per_hour * step_h < 6:
        step_h += 1
    for k, t in enumerate(plan.hours()):
        if k % step_h:
            continue
        pos = k * per_hour
        text = plan.clock(t)
        if pos + len(text) <= len(ruler):
            ruler[pos : pos + len(text)] = list(text)
    bar = Text()
    for state in plan.bins:
        style = STYLE[state]
        bar.append(style.char, style=style.terminal)
    legend = Text("")
    present = set(plan.bins)
    for style in STATES:
        if style.key in present and style.key != NOT_RECORDED:
            legend.append(style.char * 2, style=style.terminal)
            legend.append(f" {style.label}   ")
    legend.append(f"(one mark = {plan.bin_min} min)", style="dim")
    return [Text("".join(ruler).rstrip(), style="dim"), bar, legend]


def _print_week(out: Console, label: str, history: History) -> None:
    table = Table(title=label, title_justify="left")
    for name, justify in (
        ("day", "left"),
        ("upright", "right"),
        ("episodes", "right"),
        ("prompts", "right"),
        ("done", "right"),
        ("snoozed", "right"),
        ("breaks", "right"),
        ("longest sitting", "right"),
        ("recorded", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]

    def row(name: str, f: Figures) -> list[str]:
        if f.empty:
            return [name, "[dim]no recordings[/]", "", "", "", "", "", "", ""]
        return [
            name,
            share_text(f.upright_share),
            str(f.episode_count),
            str(f.prompt_count),
            str(f.prompts_completed),
            str(f.outcomes.get("snoozed", 0)),
            str(f.breaks),
            duration_text(f.longest_sitting_s),
            duration_text(f.recorded_s),
        ]

    for day in history.days:
        table.add_row(*row(f"{day.day:%a %d %b}", day.figures))
    table.add_section()
    table.add_row(*row("total", history.totals()), style="bold")
    out.print(table)


@contextmanager
def _progress(err: Console) -> Iterator[AnalyzeProgress]:
    """A rich progress bar on stderr for recordings that must be analysed (shown only when one is)."""
    bar = Progress(
        TextColumn("analysing {task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task: list[TaskID] = []

    def hook(path: Path, number: int, total: int, fraction: float) -> None:
        description = f"{path.name} ({number}/{total})"
        if not task:
            bar.start()
            task.append(bar.add_task(description, total=float(total)))
        bar.update(task[0], completed=(number - 1) + min(max(fraction, 0.0), 1.0), description=description)

    try:
        yield hook
    finally:
        if task:
            bar.stop()
