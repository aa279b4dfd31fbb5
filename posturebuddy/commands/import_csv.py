"""``posturebuddy import FILE.csv``: a CSV of raw IMU data into a recording that analyze, replay and report read.

The work is :func:`posturebuddy.session.importer.import_csv`; this module parses ``--start``, draws a progress
bar on a terminal for big files, and prints what was imported (rows, span, rate, the columns used).

Exit codes (as :mod:`posturebuddy.cli`): 0 imported; 1 the CSV cannot be imported or the recording cannot be
written (one line says why); 2 bad usage (``--start`` not a date, columns not ``X,Y,Z``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from pathlib import Path

from rich.console import Console

from posturebuddy.commands.analyze import csv_options
from posturebuddy.config import Settings
from posturebuddy.session.csv_input import CsvInputError
from posturebuddy.session.engine import engine_settings
from posturebuddy.session.importer import CsvImportError, ImportResult, default_output, import_csv
from posturebuddy.session.recording import RecordingError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
PROG = "posturebuddy import"

PROGRESS_MIN_BYTES = 4_000_000
"""CSVs at least this big (about 50 000 rows) get a progress bar on a terminal."""


def parse_start(text: str) -> float:
    """``--start``: ISO 8601 date and time (local time without a zone) or POSIX seconds -> POSIX seconds.

    Raises:
        ValueError: neither; the message shows what is accepted.
    """
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(value):
            return value
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"--start {text!r}: expected a date and time like 2026-11-20T09:30 (local time; add +01:00 or Z for a "
            "zone) or POSIX seconds"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()
    return when.timestamp()


def _local(t_s: float) -> str:
    return dt.datetime.fromtimestamp(t_s, tz=dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command; returns the exit code."""
    src: Path = args.file
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        options = csv_options(args)
        start_s = parse_start(args.start) if args.start else None
    except (CsvInputError, ValueError) as exc:
        err.print(f"{PROG}: error: {exc}", markup=False)
        return EXIT_USAGE
    if not src.exists():
        err.print(f"{PROG}: error: {src}: no such file", markup=False)
        return EXIT_FAILED
    if src.is_dir():
        err.print(f"{PROG}: error: {src}: is a directory, not a CSV file", markup=False)
        return EXIT_FAILED
    out: Path = args.out if args.out is not None else default_output(src)
    show_progress = sys.stderr.isatty() and src.stat().st_size >= PROGRESS_MIN_BYTES
    try:
        if show_progress:
            result = _import_with_progress(src, out, args, start_s, settings, err)
        else:
            result = import_csv(src, out, options, start_s=start_s, settings=engine_settings(settings))
    except (CsvInputError, CsvImportError, RecordingError) as exc:
        err.print(f"{PROG}: error: {exc}", markup=False)
        return EXIT_FAILED
    except OSError as exc:
        err.print(f"{PROG}: error: {src}: {exc.strerror or exc}", markup=False)
        return EXIT_FAILED
    for warning in result.warnings:
        err.print(f"{PROG}: warning: {warning}", markup=False)
    print_result(result, Console(highlight=False, soft_wrap=True))
    return EXIT_OK


def _import_with_progress(
    src: Path, out: Path, args: argparse.Namespace, start_s: float | None, settings: Settings, err: Console
) -> ImportResult:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:<8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        reading = bar.add_task("read", total=None)
        writing = bar.add_task("write", total=None, visible=False)

        def update(done: int, total: int) -> None:
            bar.update(reading, total=1, completed=1, visible=False)
            bar.update(writing, total=total, completed=done, visible=True)

        return import_csv(
            src, out, csv_options(args), start_s=start_s, settings=engine_settings(settings), progress=update
        )


def print_result(result: ImportResult, console: Console) -> None:
    """What was imported, in a few lines."""
    span = result.end_s - result.start_s
    rate = f"{result.sample_rate_hz:.1f} Hz" if result.sample_rate_hz else "rate unknown"
    console.print(f"wrote [bold]{result.path}[/]", highlight=False)
    console.print(
        f"  {result.samples:,} samples, {span:.1f} s from {_local(result.start_s)} to {_local(result.end_s)}, {rate}",
        markup=False,
    )
    cols = result.columns
    console.print(f"  columns: time {cols['time']}; accel {cols['accel']}; gyro {cols['gyro']}", markup=False)
    if result.time_offset_s:
        console.print(
            f"  times shifted by {result.time_offset_s:+.3f} s to the calendar (give --start to choose when)",
            markup=False,
        )
    console.print(f"  next: posturebuddy analyze {result.path}", markup=False)
