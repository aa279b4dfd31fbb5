"""``posturebuddy analyze FILE``: episodes, prompts, breaks and time in each posture, for a whole file at once.

FILE is a PostureBuddy recording (``*.pbrec``) or a CSV of raw IMU data (see
:mod:`posturebuddy.session.csv_input` for the columns it recognises). The work is
:mod:`posturebuddy.session.analyze`; this module picks the input, draws a progress bar on a terminal, and
prints a summary (rich), JSON (``--json``) and a per-row timeline CSV (``--timeline``).

Exit codes (as :mod:`posturebuddy.cli`): 0 analysed (also a damaged recording, read up to the damage, with a
warning); 1 the file cannot be analysed (one line says why); 2 bad usage (``--calibrate`` not ``START:END``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

from posturebuddy.config import Settings
from posturebuddy.session.analyze import (
    REFERENCE_WORDS,
    AnalysisResult,
    Progress,
    analyze_recording,
    analyze_samples,
    write_timeline_csv,
)
from posturebuddy.session.csv_input import CsvInputError, CsvOptions, looks_like_csv, parse_columns, read_imu_csv
from posturebuddy.session.engine import engine_settings
from posturebuddy.session.recording import RecordingError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
PROG = "posturebuddy analyze"

SQLITE_MAGIC = b"SQLite format 3\x00"
PROGRESS_MIN_BYTES = 8_000_000
"""Files at least this big (about an hour of a 50-Hz recording) get a progress bar on a terminal."""
_STAGES = ("decode", "orientation", "activity", "judge")
_STATE_ORDER = ("upright", "leaning_back", "forward_head", "slouch", "side_lean", "moving", "away")


class UsageError(ValueError):
    """Bad command-line input; one line."""


def parse_span(text: str) -> tuple[float, float]:
    """``"START:END"`` in seconds from the first sample -> ``(start, end)``.

    Raises:
        UsageError: not two numbers, or END not after START.
    """
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        start, end = float(parts[0]), float(parts[1])
    except ValueError:
        raise UsageError(f"--calibrate {text!r}: expected START:END in seconds from the start, e.g. 0:10") from None
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        raise UsageError(f"--calibrate {text!r}: END must be after START (seconds from the start)")
    return start, end


def csv_options(args: argparse.Namespace) -> CsvOptions:
    """The CSV options from the command line."""
    return CsvOptions(
        time_col=args.time_col,
        rate_hz=args.rate,
        accel_cols=parse_columns(args.accel_cols, "--accel-cols") if args.accel_cols else None,
        accel_unit=args.accel_unit,
        accel_scale=args.accel_scale,
        gyro_cols=parse_columns(args.gyro_cols, "--gyro-cols") if args.gyro_cols else None,
        gyro_unit=args.gyro_unit,
    )


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


@contextmanager
def stage_progress(
    enabled: bool, console: Console | None = None, stages: tuple[str, ...] = _STAGES
) -> Iterator[Progress | None]:
    """A rich progress bar with one line per stage of the batch path (``None`` when not enabled; on stderr unless
    another ``console`` is given). Shared by ``analyze`` and ``export``."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console if console is not None else Console(stderr=True),
        transient=True,
    ) as bar:
        tasks = {stage: bar.add_task(stage, total=1.0) for stage in stages}

        def update(stage: str, done: float) -> None:
            task = tasks.get(stage)
            if task is not None:
                bar.update(task, completed=done)

        yield update


def run_analyze(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command; returns the exit code."""
    path: Path = args.file
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        span = parse_span(args.calibrate) if args.calibrate else None
        options = csv_options(args)
    except (UsageError, CsvInputError) as exc:
        err.print(f"{PROG}: error: {exc}", markup=False)
        return EXIT_USAGE
    if not path.exists():
        err.print(f"{PROG}: error: {path}: no such file", markup=False)
        return EXIT_FAILED
    if path.is_dir():
        err.print(f"{PROG}: error: {path}: is a directory, not a recording or CSV file", markup=False)
        return EXIT_FAILED
    st = engine_settings(settings, utc_offset_s=_utc_offset())
    size = path.stat().st_size
    show_progress = sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES
    csv_columns: dict[str, str] | None = None
    try:
        with stage_progress(show_progress) as progress:
            if _is_sqlite(path):
                result = analyze_recording(
                    path, settings=st, calibrate=span, timeline=args.timeline is not None, progress=progress
                )
            elif looks_like_csv(path):
                data = read_imu_csv(path, options)
                csv_columns = data.columns
                result = analyze_samples(
                    data.arrays,
                    settings=st,
                    calibrate=span,
                    timeline=args.timeline is not None,
                    progress=progress,
                    source=str(path),
                    notes=data.warnings,
                )
            else:
                err.print(
                    f"{PROG}: error: {path}: neither a PostureBuddy recording nor a CSV of IMU data "
                    "(a recording is an SQLite file; a CSV needs a header row)",
                    markup=False,
                )
                return EXIT_FAILED
    except (RecordingError, CsvInputError) as exc:
        err.print(f"{PROG}: error: {exc}", markup=False)
        return EXIT_FAILED
    for warning in result.warnings:
        err.print(f"{PROG}: warning: {warning}", markup=False)
    if args.timeline is not None and result.timeline is not None:
        try:
            rows = write_timeline_csv(result.timeline, args.timeline)
        except OSError as exc:
            err.print(f"{PROG}: error: cannot write {args.timeline}: {exc.strerror or exc}", markup=False)
            return EXIT_FAILED
        err.print(f"wrote {args.timeline}: {rows:,} rows", markup=False)
    if args.json:
        doc = result.to_json()
        if csv_columns is not None:
            doc["csv_columns"] = csv_columns
        print(json.dumps(doc, indent=2, allow_nan=False, default=_json_default))
    else:
        print_summary(result, Console(highlight=False), csv_columns)
    return EXIT_OK


def _json_default(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {value!r}")


def _utc_offset() -> float:
    offset = dt.datetime.now().astimezone().utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def _clock(start: float) -> Callable[[float | None], str]:
    """Formats a time as a local clock time for epoch times, else as an offset from the start."""
    epoch = start > 1e8

    def fmt(t: float | None) -> str:
        if t is None or not math.isfinite(t):
            return "-"
        if epoch:
            return dt.datetime.fromtimestamp(t, tz=dt.UTC).astimezone().strftime("%H:%M:%S")
        return _duration(t - start, sign=True)

    return fmt


def _duration(seconds: float, *, sign: bool = False) -> str:
    s = round(seconds)
    prefix = "+" if sign else ""
    h, rest = divmod(abs(s), 3600)
    m, sec = divmod(rest, 60)
    return f"{prefix}{h}:{m:02d}:{sec:02d}" if h else f"{prefix}{m}:{sec:02d}"


def print_summary(result: AnalysisResult, console: Console, csv_columns: dict[str, str] | None = None) -> None:
    """The terminal summary."""
    clock = _clock(result.start_s)
    what = result.family_id or "CSV"
    console.print(
        f"[bold]{result.source}[/]  {what}, {_duration(result.duration_s)} of data, {result.samples:,} samples"
        + (f" ({result.dropped_samples} out of order, dropped)" if result.dropped_samples else "")
    )
    if csv_columns:
        console.print(f"columns: time {csv_columns['time']}; accel {csv_columns['accel']}; gyro {csv_columns['gyro']}")
    console.print(f"upright reference: [bold]{REFERENCE_WORDS[result.reference_source]}[/]")
    if result.reference_note:
        console.print(f"  {result.reference_note}", markup=False)

    share = result.state_share()
    table = Table(title="time in each posture", title_justify="left", box=None, pad_edge=False)
    table.add_column("state")
    table.add_column("time", justify="right")
    table.add_column("share", justify="right")
    table.add_column("")
    for name in _STATE_ORDER:
        seconds = result.time_in_state_s.get(name, 0.0)
        if seconds <= 0.0:
            continue
        bar = "█" * max(1, round(30 * share[name]))
        colour = (
            "green" if name in ("upright", "leaning_back") else "red" if name in ("slouch", "forward_head") else "dim"
        )
        table.add_row(name.replace("_", " "), _duration(seconds), f"{share[name]:.0%}", f"[{colour}]{bar}[/]")
    console.print(table)

    if result.episodes:
        t = Table(title=f"episodes ({len(result.episodes)})", title_justify="left")
        for col in ("start", "kind", "duration", "noticed after", "peak flexion"):
            t.add_column(col, justify="left" if col in ("start", "kind") else "right")
        for ep in result.episodes:
            duration = ep.duration_s
            t.add_row(
                clock(ep.start_s),
                ep.kind.value.replace("_", " "),
                "open" if duration is None else _duration(duration),
                _duration(ep.confirmed_s - ep.start_s),
                f"{ep.peak_flexion_deg:.0f}°",
            )
        console.print(t)
    else:
        console.print("episodes: none")
    if result.prompts:
        t = Table(title=f"prompts ({len(result.prompts)}; nobody answers in an analysis)", title_justify="left")
        for col in ("time", "kind", "reason", "closed"):
            t.add_column(col)
        for p in result.prompts:
            closed = "open" if p.outcome is None else f"{p.outcome.value.replace('_', ' ')} {clock(p.outcome_s)}"
            t.add_row(clock(p.prompt.t_s), p.prompt.kind.value.replace("_", " "), p.prompt.reason, closed)
        console.print(t)
    else:
        console.print("prompts: none")
    if result.breaks:
        t = Table(title=f"breaks ({len(result.breaks)})", title_justify="left")
        for col in ("start", "kind", "duration", "counted"):
            t.add_column(col)
        for b in result.breaks:
            lasted = "-" if b.end_s is None else _duration(b.end_s - b.start_s)
            counted = "yes" if b.credited else "no (too short)"
            t.add_row(clock(b.start_s), b.kind.value.replace("_", " "), lasted, counted)
        console.print(t)
    else:
        console.print("breaks: none")
