"""``posturebuddy export FILE --csv OUT | --parquet OUT``: a recording's decoded samples and events, for your own tools.

Two tables are written for each format asked for: the **samples** at ``OUT`` and the **events** beside it at
``OUT.events.csv`` / ``OUT.events.parquet`` (``session.csv`` -> ``session.events.csv``).

Samples, one row per decoded sample, in arrival order:

* ``t_s``: sample time, POSIX seconds (float64, written in full so nothing is rounded away);
* the fields the tag family sends, in the tag frame: ``accel_{x,y,z}_g`` (specific force, g), ``gyro_{x,y,z}_dps``
  (deg/s), ``quat_{w,x,y,z}`` (tag -> earth), ``gravity_{x,y,z}_g``; a field no sample carries has no column, a
  value one sample lacks is empty (CSV) or null (Parquet);
* unless ``--no-posture``, what the engine judged at that moment (its latest 10-Hz judgement, from the batch
  analysis that gives the live engine's events): ``flexion_deg`` (forward +), ``lateral_deg`` (right +),
  ``posture`` (the sustained :class:`~posturebuddy.model.PostureClass`) and ``activity``.

The column names are ones ``posturebuddy import`` recognises, so an exported CSV imports again with the same
samples.

Events, one row each, by time: ``t_s``, ``end_s`` (null if none), ``kind`` (``episode``, ``prompt``,
``calibration``, ``link:<kind>``, ``truth:<kind>``), ``label`` (posture class, prompt kind, method, detail,
truth label), ``value`` (peak flexion in degrees for an episode, the count of a link event) and
``detail_json`` (the rest as a JSON object).

Files are written under a temporary name and renamed when complete. Parquet needs pyarrow
(``pip install 'posturebuddy[parquet]'``), imported only when asked for.

Exit codes (as :mod:`posturebuddy.cli`): 0 written (a damaged recording is exported up to the damage, with a
warning); 1 the recording cannot be read or a file cannot be written; 2 bad usage (no output named, an output
that would overwrite the recording).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import math
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from rich.console import Console

from posturebuddy.commands.analyze import stage_progress
from posturebuddy.config import Settings
from posturebuddy.devices import TagFamily, get_family
from posturebuddy.motion.calibration import CalibrationError, UprightReference
from posturebuddy.session.analyze import (
    ACTIVITIES,
    POSTURE_CLASSES,
    Progress,
    analyze_samples,
    decode_items,
    reference_from_record,
)
from posturebuddy.session.engine import EngineSettings, engine_settings
from posturebuddy.session.recording import RecordingDamageWarning, RecordingError, RecordingReader, open_recording

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
PROG = "posturebuddy export"

PROGRESS_MIN_BYTES = 4_000_000
"""Recordings at least this big (about half an hour at 50 Hz) get a progress bar on a terminal."""
PARQUET_HINT = "Parquet needs pyarrow: pip install 'posturebuddy[parquet]'"
FORMATS = ("csv", "parquet")
_STAGES = ("decode", "orientation", "activity", "judge", "write")

FloatArray = npt.NDArray[np.float64]

SAMPLE_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("accel_g", ("accel_x_g", "accel_y_g", "accel_z_g")),
    ("gyro_dps", ("gyro_x_dps", "gyro_y_dps", "gyro_z_dps")),
    ("quat_wxyz", ("quat_w", "quat_x", "quat_y", "quat_z")),
    ("gravity_g", ("gravity_x_g", "gravity_y_g", "gravity_z_g")),
)
""":class:`~posturebuddy.motion.orientation.SampleArrays` fields and their export columns."""
POSTURE_COLUMNS = ("flexion_deg", "lateral_deg", "posture", "activity")
EVENT_COLUMNS = ("t_s", "end_s", "kind", "label", "value", "detail_json")


class ExportError(ValueError):
    """Bad usage or an output that cannot be written; one line."""


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of the events table (see the module docstring); times in seconds."""

    t_s: float
    end_s: float | None
    kind: str
    label: str
    value: float | None
    detail: dict[str, object]


@dataclass(slots=True)
class ExportTables:
    """What an export writes.

    Attributes:
        numeric: sample columns of floats (``t_s`` first), each shape (N,), NaN where a sample lacks the value.
        labels: sample columns of strings (``posture``, ``activity``), ``""`` where unknown.
        events: the events table's rows, by time.
        warnings: damage met while reading, analysis notes.
    """

    numeric: dict[str, FloatArray]
    labels: dict[str, list[str]]
    events: list[EventRow]
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Number of samples."""
        return int(self.numeric["t_s"].shape[0])

    def columns(self) -> list[str]:
        """Sample column names in file order."""
        order = ["t_s", *(c for _, cols in SAMPLE_FIELDS for c in cols), *POSTURE_COLUMNS]
        present = set(self.numeric) | set(self.labels)
        return [c for c in order if c in present]


# ---------------------------------------------------------------------------------------------------- reading


def events_path(out: Path) -> Path:
    """``session.csv`` -> ``session.events.csv`` (the events table beside the samples)."""
    return out.with_name(f"{out.stem}.events{out.suffix}")


def build_tables(
    reader: RecordingReader,
    family: TagFamily,
    *,
    settings: EngineSettings | None = None,
    posture: bool = True,
    progress: Progress | None = None,
) -> ExportTables:
    """Decode ``reader``'s packets (and, with ``posture``, judge them as ``analyze`` does) into export tables."""
    decoded = decode_items(reader.iter_stream(), family, total=reader.packet_count(), progress=progress)
    arrays = decoded.arrays
    numeric: dict[str, FloatArray] = {"t_s": np.asarray(arrays.t_s, dtype=np.float64)}
    for name, cols in SAMPLE_FIELDS:
        values = np.asarray(getattr(arrays, name), dtype=np.float64)
        if values.shape[0] and np.any(np.isfinite(values)):
            for k, col in enumerate(cols):
                numeric[col] = values[:, k]
    labels: dict[str, list[str]] = {}
    notes: list[str] = []
    if posture and numeric["t_s"].shape[0]:
        refs: list[tuple[float, UprightReference]] = []
        for cal in reader.calibrations():
            with contextlib.suppress(CalibrationError, ValueError):
                refs.append((cal.t_s, reference_from_record(cal.gravity_up_g, cal.forward_axis, family, cal.t_s)))
        result = analyze_samples(
            arrays, family=family, settings=settings, references=refs, timeline=True, progress=progress
        )
        notes.extend(result.warnings)
        tl = result.timeline
        assert tl is not None
        t = numeric["t_s"]
        at = np.searchsorted(tl.t_s, t, side="right") - 1
        known = at >= 0
        row = np.where(known, at, 0)
        nan = np.full(t.shape[0], np.nan)
        numeric["flexion_deg"] = np.where(known, tl.flexion_deg[row], nan) if len(tl) else nan
        numeric["lateral_deg"] = np.where(known, tl.lateral_deg[row], nan) if len(tl) else nan
        names_p = [p.value for p in POSTURE_CLASSES]
        names_a = [a.value for a in ACTIVITIES]
        if len(tl):
            state = tl.state[row].tolist()
            act = tl.activity[row].tolist()
            ok = known.tolist()
            labels["posture"] = [names_p[s] if k else "" for s, k in zip(state, ok, strict=True)]
            labels["activity"] = [names_a[a] if k else "" for a, k in zip(act, ok, strict=True)]
        else:
            labels["posture"] = labels["activity"] = [""] * t.shape[0]
    return ExportTables(numeric, labels, recorded_events(reader), notes)


def recorded_events(reader: RecordingReader) -> list[EventRow]:
    """Everything the recording keeps on its time line, as :class:`EventRow` (sorted by time)."""
    rows: list[EventRow] = [
        EventRow(
            cal.t_s,
            None,
            "calibration",
            cal.method,
            None,
            {"gravity_up_g": list(cal.gravity_up_g), "forward_axis": cal.forward_axis, **cal.detail},
        )
        for cal in reader.calibrations()
    ]
    for ev in reader.link_events():
        start, end = (ev.start_s, ev.t_s) if ev.start_s is not None else (ev.t_s, None)
        count = None if ev.count is None else float(ev.count)
        rows.append(EventRow(start, end, f"link:{ev.kind}", ev.detail, count, dict(ev.data)))
    for ep in reader.episodes():
        detail: dict[str, object] = {
            "peak_total_deg": ep.peak_total_deg,
            "peak_lateral_deg": ep.peak_lateral_deg,
            "mean_total_deg": ep.mean_total_deg,
            "alerted": ep.alerted,
            **ep.detail,
        }
        rows.append(EventRow(ep.start_s, ep.end_s, "episode", str(ep.posture_class), ep.peak_flexion_deg, detail))
    rows.extend(
        EventRow(
            pr.raised_s,
            pr.outcome_s,
            "prompt",
            str(pr.kind),
            None,
            {
                "prompt_id": pr.prompt_id,
                "reason": pr.reason,
                "outcome": None if pr.outcome is None else str(pr.outcome),
                "nudge": pr.nudge,
                "details": [list(d) for d in pr.details],
            },
        )
        for pr in reader.prompts()
    )
    rows.extend(
        EventRow(seg.start_s, seg.end_s, f"truth:{seg.kind}", seg.label, None, dict(seg.data))
        for seg in reader.truth_segments()
    )
    rows.sort(key=lambda r: r.t_s)
    return rows


# ---------------------------------------------------------------------------------------------------- writing


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that becomes ``path`` if the block completes (removed otherwise)."""
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _cell(value: float) -> str:
    return "" if not math.isfinite(value) else repr(value)


def _json(detail: dict[str, object]) -> str:
    def clean(value: object) -> object:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {str(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(detail), separators=(",", ":"), allow_nan=False, default=str)


def write_csv(tables: ExportTables, out: Path, progress: Progress | None = None) -> tuple[Path, Path]:
    """Write the samples to ``out`` and the events to :func:`events_path`; returns both paths."""
    columns = tables.columns()
    n = tables.rows
    with _replacing(out) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(columns)
        chunk = 50_000
        for c0 in range(0, n, chunk):
            c1 = min(n, c0 + chunk)
            cols: list[list[str]] = []
            for name in columns:
                if name in tables.labels:
                    cols.append(tables.labels[name][c0:c1])
                else:
                    cols.append([_cell(v) for v in tables.numeric[name][c0:c1].tolist()])
            writer.writerows(zip(*cols, strict=True))
            if progress is not None:
                progress("write", c1 / max(n, 1))
    ev_out = events_path(out)
    with _replacing(ev_out) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(EVENT_COLUMNS)
        for e in tables.events:
            writer.writerow(
                (
                    repr(e.t_s),
                    "" if e.end_s is None else repr(e.end_s),
                    e.kind,
                    e.label,
                    "" if e.value is None or not math.isfinite(e.value) else repr(e.value),
                    _json(e.detail),
                )
            )
    return out, ev_out


def write_parquet(tables: ExportTables, out: Path, progress: Progress | None = None) -> tuple[Path, Path]:
    """Write the samples to ``out`` and the events to :func:`events_path` as Parquet; returns both paths.

    Raises:
        ExportError: pyarrow is not installed (the message says how to install it).
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ExportError(f"cannot write {out}: {PARQUET_HINT}") from None
    arrays: dict[str, object] = {}
    for name in tables.columns():
        if name in tables.labels:
            arrays[name] = pa.array(tables.labels[name], type=pa.string()).dictionary_encode()
        else:
            values = tables.numeric[name]
            arrays[name] = pa.array(values, type=pa.float64(), mask=~np.isfinite(values))
    samples = pa.table(arrays)
    with _replacing(out) as tmp:
        pq.write_table(samples, tmp)
    if progress is not None:
        progress("write", 1.0)
    ev = tables.events
    events = pa.table(
        {
            "t_s": pa.array([e.t_s for e in ev], type=pa.float64()),
            "end_s": pa.array([e.end_s for e in ev], type=pa.float64()),
            "kind": pa.array([e.kind for e in ev], type=pa.string()),
            "label": pa.array([e.label for e in ev], type=pa.string()),
            "value": pa.array(
                [None if e.value is None or not math.isfinite(e.value) else e.value for e in ev], type=pa.float64()
            ),
            "detail_json": pa.array([_json(e.detail) for e in ev], type=pa.string()),
        }
    )
    ev_out = events_path(out)
    with _replacing(ev_out) as tmp:
        pq.write_table(events, tmp)
    return out, ev_out


# ---------------------------------------------------------------------------------------------------- command


@dataclass(frozen=True, slots=True)
class ExportDone:
    """What :func:`export_recording` wrote: (format, samples path, events path) per output, and the counts."""

    written: list[tuple[str, Path, Path]]
    samples: int
    events: int
    warnings: list[str]


def check_outputs(recording: Path, outputs: Sequence[tuple[str, Path]]) -> None:
    """Refuse outputs that would overwrite the recording (or each other) or have no usable directory.

    Raises:
        ExportError: the message names the output and says what to do.
    """
    if not outputs:
        raise ExportError("name at least one output: --csv OUT.csv or --parquet OUT.parquet")
    taken = {recording.resolve()}
    for fmt, out in outputs:
        for path in (out, events_path(out)):
            resolved = path.resolve()
            if resolved in taken:
                what = "the recording itself" if resolved == recording.resolve() else "another output"
                raise ExportError(f"--{fmt} {out}: {path} would overwrite {what}; choose another file name")
            taken.add(resolved)
        if out.is_dir():
            raise ExportError(f"--{fmt} {out}: is a directory; give a file name, e.g. {out / 'session'}.{fmt}")
        if not out.parent.is_dir():
            raise ExportError(f"--{fmt} {out}: the directory {out.parent} does not exist")


def export_recording(
    recording: Path,
    outputs: Sequence[tuple[str, Path]],
    settings: Settings,
    *,
    posture: bool = True,
    progress: Progress | None = None,
) -> ExportDone:
    """Export ``recording`` to each ``(format, path)`` of ``outputs`` (format ``csv`` or ``parquet``).

    Raises:
        ExportError: bad outputs, pyarrow missing, an unknown tag family.
        RecordingError: not a readable recording.
        OSError: an output cannot be written.
    """
    check_outputs(recording, outputs)
    if any(fmt == "parquet" for fmt, _ in outputs):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ExportError(PARQUET_HINT) from None
    st = engine_settings(settings, utc_offset_s=_utc_offset())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecordingDamageWarning)
        with open_recording(recording) as reader:
            family_id = reader.metadata.tag_family
            try:
                family = get_family(family_id)
            except KeyError:
                raise ExportError(
                    f"{recording}: unknown tag family {family_id!r}: its packets cannot be decoded"
                ) from None
            tables = build_tables(reader, family, settings=st, posture=posture, progress=progress)
    damage = [str(w.message) for w in caught if issubclass(w.category, RecordingDamageWarning)]
    written: list[tuple[str, Path, Path]] = []
    for fmt, out in outputs:
        writer = write_csv if fmt == "csv" else write_parquet
        samples_path, events_file = writer(tables, out, progress)
        written.append((fmt, samples_path, events_file))
    return ExportDone(written, tables.rows, len(tables.events), [*damage, *tables.warnings])


def _utc_offset() -> float:
    offset = dt.datetime.now().astimezone().utcoffset()
    return 0.0 if offset is None else offset.total_seconds()


def report(done: ExportDone, console: Console, err: Console, prog: str = PROG) -> None:
    """Print the warnings and what was written."""
    for warning in done.warnings:
        err.print(f"{prog}: warning: {' '.join(warning.split())}", markup=False)
    for fmt, samples_path, events_file in done.written:
        console.print(f"wrote {samples_path} ({done.samples:,} samples, {fmt})", markup=False)
        console.print(f"wrote {events_file} ({done.events:,} events, {fmt})", markup=False)


def run_export(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command; returns the exit code."""
    path: Path = args.file
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    outputs = [(fmt, getattr(args, fmt)) for fmt in FORMATS if getattr(args, fmt) is not None]
    try:
        check_outputs(path, outputs)
    except ExportError as exc:
        err.print(f"{PROG}: error: {exc}", markup=False)
        return EXIT_USAGE
    return run_export_to(path, outputs, settings, posture=not args.no_posture, prog=PROG)


def run_export_to(
    path: Path, outputs: Sequence[tuple[str, Path]], settings: Settings, *, posture: bool, prog: str
) -> int:
    """Export with a progress bar on a terminal and one-line errors; returns the exit code."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    show = sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES
    try:
        with stage_progress(show, err, _STAGES) as progress:
            done = export_recording(path, outputs, settings, posture=posture, progress=progress)
    except (ExportError, RecordingError) as exc:
        err.print(f"{prog}: error: {exc}", markup=False)
        return EXIT_FAILED
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        err.print(f"{prog}: error: cannot write{where}: {exc.strerror or exc}", markup=False)
        return EXIT_FAILED
    report(done, Console(highlight=False), err, prog)
    return EXIT_OK
