"""``posturebuddy sessions list|show N``: the recordings in the recordings directory.

``list`` prints a table (or JSON with ``--json``) of every ``*.pbrec`` file in the recordings directory
(:func:`posturebuddy.config.recordings_dir`): file, day and start time, duration, tag, the history figures of the
recording (upright share, episodes, prompts done of raised, breaks, longest unbroken sitting; see
docs/reports.md) and the scenario of simulated ones. The figures come from the recording's minute summaries, which
the live recorder writes as it goes, so listing stays cheap; a recording without them (simulated, imported, or
older) shows ``-`` and is never analysed by ``list``. A file that cannot be read is listed with its error; it never
stops the listing. ``show N`` prints the metadata, counts and figures of the N-th recording of the list;
``show N --analyze`` computes the figures of a recording without summaries with the batch engine (and caches them
into the file, as ``posturebuddy report`` does).
``delete N`` removes the N-th recording (and its ``-wal``/``-shm`` files) after asking, unless ``--yes``;
``export N OUT`` writes it as ``posturebuddy export`` does, the format from OUT's suffix (``.csv``,
``.parquet``). ``list`` first applies retention (:mod:`posturebuddy.session.retention`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from posturebuddy.config import Settings, recordings_dir
from posturebuddy.model import PromptOutcome
from posturebuddy.report.layout import duration_text, share_text
from posturebuddy.session.history import Figures, SummarySource
from posturebuddy.session.recording import (
    MinuteSummary,
    RecordingDamageWarning,
    RecordingError,
    SourceKind,
    open_recording,
)
from posturebuddy.session.summaries import MINUTE_S

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
PROG = "posturebuddy sessions"


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """One recording file as the list shows it (``error`` set: the file could not be read, the rest is empty)."""

    path: Path
    start_s: float | None = None
    end_s: float | None = None
    tag_family: str = ""
    tag_name: str = ""
    tag_address: str = ""
    source_kind: str = ""
    scenario: str = ""
    packets: int = 0
    episodes: int = 0
    prompts: int = 0
    calibrations: int = 0
    closed: bool = True
    session_id: str = ""
    app_version: str = ""
    format_version: str = ""
    damage: list[str] = field(default_factory=list)
    error: str = ""
    figures: Figures | None = None
    """History figures from the minute summaries (``None``: the recording holds none)."""
    summary_minutes: int = 0
    """Minute summaries in the recording (or computed by ``show --analyze``)."""
    figures_source: str = ""
    """Where ``figures`` came from: a :class:`~posturebuddy.session.history.SummarySource` value ("" if none)."""
    figures_note: str = ""
    """What happened when the figures were computed (``show --analyze``), "" if nothing to say."""

    @property
    def duration_s(self) -> float | None:
        """Seconds from the first to the last packet (``None`` without packets)."""
        return None if self.start_s is None or self.end_s is None else self.end_s - self.start_s

    def to_json(self, number: int) -> dict[str, object]:
        """A JSON-ready record (times as POSIX seconds and local ISO 8601)."""
        return {
            "number": number,
            "file": str(self.path),
            "start_s": self.start_s,
            "start_local": _iso(self.start_s),
            "end_s": self.end_s,
            "duration_s": self.duration_s,
            "tag_family": self.tag_family,
            "tag_name": self.tag_name,
            "tag_address": self.tag_address,
            "source_kind": self.source_kind,
            "scenario": self.scenario or None,
            "packets": self.packets,
            "episodes": self.episodes,
            "prompts": self.prompts,
            "calibrations": self.calibrations,
            "closed": self.closed,
            "session_id": self.session_id,
            "app_version": self.app_version,
            "format_version": self.format_version,
            "damage": self.damage,
            "error": self.error or None,
            "summary_minutes": self.summary_minutes,
            "figures_source": self.figures_source or None,
            "figures": None if self.figures is None else self.figures.to_json(),
        }


def _iso(t_s: float | None) -> str | None:
    if t_s is None or not math.isfinite(t_s):
        return None
    return dt.datetime.fromtimestamp(t_s, tz=dt.UTC).astimezone().isoformat(timespec="seconds")


def read_session(path: Path) -> SessionInfo:
    """What :func:`list_sessions` shows of one file; never raises for a bad file (``error`` says why)."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RecordingDamageWarning)
            with open_recording(path) as reader:
                meta = reader.metadata
                span = reader.time_range()
                packets = reader.packet_count()
                episodes = len(reader.episodes())
                prompts = len(reader.prompts())
                calibrations = len(reader.calibrations())
                minutes = reader.minute_summaries()
                damage = [d.message for d in reader.damage]
    except (RecordingError, OSError) as exc:
        return SessionInfo(path, error=" ".join(str(exc).split()))
    except Exception as exc:  # noqa: BLE001 - a listing must survive any one bad file
        return SessionInfo(path, error=f"cannot be read: {type(exc).__name__}: {exc}")
    if not damage:
        damage = [str(w.message) for w in caught if issubclass(w.category, RecordingDamageWarning)]
    scenario = meta.extra.get("scenario") if str(meta.source_kind) == SourceKind.SIMULATED.value else None
    version = meta.format_version
    start_s, end_s = span if span else (meta.created_s, None)
    if span is None and minutes:  # no packets (retention trimmed them): the minutes summarised say when
        start_s, end_s = minutes[0].minute_start_s, minutes[-1].minute_start_s + MINUTE_S
    return SessionInfo(
        path,
        start_s=start_s,
        end_s=end_s,
        tag_family=meta.tag_family,
        tag_name=meta.tag_name,
        tag_address=meta.tag_address,
        source_kind=str(meta.source_kind),
        scenario=scenario if isinstance(scenario, str) else "",
        packets=packets,
        episodes=episodes,
        prompts=prompts,
        calibrations=calibrations,
        closed=meta.closed_s is not None,
        session_id=meta.session_id,
        app_version=meta.app_version,
        format_version="" if version is None else f"{version[0]}.{version[1]}",
        damage=damage,
        figures=figures_of(minutes),
        summary_minutes=len(minutes),
        figures_source=SummarySource.RECORDED if minutes else "",
    )


def figures_of(rows: list[MinuteSummary]) -> Figures | None:
    """The history figures of one recording's minute rows (``None`` without rows)."""
    if not rows:
        return None
    figures = Figures(recordings=1)
    for row in rows:
        figures.add(row)
    return figures


def analyze_session(info: SessionInfo, settings: Settings) -> SessionInfo:
    """``info`` with figures computed by the batch engine if the recording holds no minute summaries (cached into
    the file when it was closed cleanly, as ``posturebuddy report`` does); unchanged otherwise. Seconds per
    recorded hour."""
    from posturebuddy.session.engine import engine_settings
    from posturebuddy.session.history import read_entry, recording_minutes

    if info.error or info.figures is not None:
        return info
    offset = dt.datetime.now().astimezone().utcoffset()
    st = engine_settings(settings, utc_offset_s=0.0 if offset is None else offset.total_seconds())
    minutes = recording_minutes(read_entry(info.path), settings=st)
    note = minutes.note
    if minutes.source == SummarySource.ANALYSED:
        note = "; ".join(x for x in ("cached into the file" if minutes.cached else "", note) if x)
    return dataclasses.replace(
        info,
        figures=figures_of(list(minutes.rows)),
        summary_minutes=len(minutes.rows),
        figures_source=minutes.source if minutes.rows else "",
        figures_note=note,
    )


def list_sessions(directory: Path) -> list[SessionInfo]:
    """Every ``*.pbrec`` file in ``directory``, oldest first (unreadable files last, by name)."""
    if not directory.is_dir():
        return []
    infos = [read_session(p) for p in sorted(directory.glob("*.pbrec")) if not p.is_dir()]
    return sorted(infos, key=lambda i: (i.error != "", i.start_s if i.start_s is not None else math.inf, i.path.name))


def _day_and_time(t_s: float | None) -> str:
    if t_s is None or not math.isfinite(t_s):
        return "-"
    return dt.datetime.fromtimestamp(t_s, tz=dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}"


def _tag(info: SessionInfo) -> str:
    return f"{info.tag_family}/{info.tag_name}" if info.tag_name else info.tag_family


def _note(info: SessionInfo) -> str:
    if info.error:
        return info.error
    notes = []
    if info.scenario:
        notes.append(f"simulated: {info.scenario}")
    elif info.source_kind and info.source_kind != SourceKind.LIVE.value:
        notes.append(info.source_kind)
    if info.damage:
        notes.append("damaged: read up to the damage")
    elif not info.closed:
        notes.append("not closed (still recording, or it stopped abruptly)")
    return "; ".join(notes)


def figure_cells(info: SessionInfo) -> tuple[str, str, str, str, str]:
    """The list's figure columns (upright, episodes, prompts done/raised, breaks, longest sitting); ``-`` each for
    a recording without minute summaries."""
    f = info.figures
    if f is None:
        return ("-", "-", "-", "-", "-")
    return (
        share_text(f.upright_share),
        str(f.episode_count),
        f"{f.prompts_completed}/{f.prompt_count}",
        str(f.breaks),
        duration_text(f.longest_sitting_s) if f.longest_sitting_s > 0.0 else "-",
    )


def _short_error(info: SessionInfo) -> str:
    """The first clause of a file's error, without its directory (the table's title names it); ``show N`` has
    the whole message."""
    text = info.error.replace(f"{info.path.parent}{os.sep}", "").removeprefix(f"{info.path.name} ")
    for stop in (" (", ". "):
        cut = text.find(stop)
        if cut > 0:
            text = text[:cut]
    return text


NARROW_LIST_COLUMNS = 100
"""Below this terminal width ``sessions list`` shortens its headers and leaves the note column to ``show``."""
WIDE_LIST_COLUMNS = 130
"""Terminal columns from which ``sessions list`` also shows the tag (``show N`` always does)."""


def print_table(infos: list[SessionInfo], directory: Path, console: Console) -> None:
    """The ``sessions list`` table: one row per recording with its figures from the minute summaries (the tag
    column only in a terminal of :data:`WIDE_LIST_COLUMNS` columns or more)."""
    wide = console.width >= WIDE_LIST_COLUMNS
    narrow = console.width < NARROW_LIST_COLUMNS  # an 80-column terminal: short headers, the note in 'show'
    table = Table(title=f"recordings in {directory}", title_justify="left", padding=(0, 1 if wide else 0))
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("file", no_wrap=True, ratio=None)
    table.add_column("start", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    if wide:
        table.add_column("tag")
    heads = (
        ("up", "ep.", "prompts", "brk", "sit")
        if narrow
        else ("upright", "episodes", "prompts", "breaks", "longest sit")
    )
    for col in heads:
        table.add_column(col, justify="right", no_wrap=True)
    if not narrow:
        table.add_column("scenario / note", min_width=12)
    for number, info in enumerate(infos, 1):
        tag = [escape(_tag(info) or "-")] if wide else []
        if info.error:
            dashes = ["-"] * 8
            cells = [str(number), escape(info.path.name), "-", "-", *tag, *dashes[:5]]
            table.add_row(*cells, *([] if narrow else [f"[red]{escape(_short_error(info))}[/]"]))
            continue
        table.add_row(
            str(number),
            escape(info.path.name),
            _day_and_time(info.start_s),
            _duration(info.duration_s),
            *tag,
            *figure_cells(info),
            *([] if narrow else [escape(_note(info))]),
        )
    console.print(table)
    if narrow:
        console.print(
            "up: upright share; ep.: episodes; prompts: done/raised; brk: breaks; sit: the longest unbroken "
            "sitting; 'sessions show N' gives the scenario, notes and errors",
            markup=False,
            style="dim",
        )
    else:
        console.print("prompts: done/raised; longest sit: the longest unbroken sitting", markup=False, style="dim")
    if any(not i.error and i.figures is None for i in infos):
        console.print(
            "-: no minute summaries in the recording yet ('sessions show N --analyze' or 'posturebuddy report' "
            "computes them)",
            markup=False,
            style="dim",
        )


def figure_rows(info: SessionInfo) -> list[tuple[str, str]]:
    """The ``show`` lines of the history figures (or why there are none)."""
    f = info.figures
    if f is None:
        why = info.figures_note or "add --analyze to compute them (seconds per recorded hour)"
        return [("figures", f"none: the recording holds no minute summaries; {why}")]
    source = {
        SummarySource.RECORDED: "stored in the recording",
        SummarySource.ANALYSED: "computed now by the batch engine",
    }.get(info.figures_source, info.figures_source)
    if info.figures_note:
        source += f" ({info.figures_note})"
    judged = duration_text(f.judged_s) if f.judged_s > 0.0 else "nothing"
    episodes = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in sorted(f.episodes.items()))
    outcomes = [f"{f.outcomes[o.value]} {o.value.replace('_', '-')}" for o in PromptOutcome if f.outcomes.get(o.value)]
    prompts = f"{f.prompt_count} raised" + (f": {', '.join(outcomes)}" if outcomes else "")
    return [
        ("minute summaries", f"{info.summary_minutes} ({source})"),
        ("recorded time", f"{duration_text(f.recorded_s)} (no data {duration_text(f.no_data_s)})"),
        ("upright share", f"{share_text(f.upright_share)} of {judged} judged"),
        ("episodes", f"{f.episode_count}" + (f" ({episodes})" if episodes else "")),
        ("prompts", prompts),
        ("breaks", str(f.breaks)),
        ("longest sitting", duration_text(f.longest_sitting_s) if f.longest_sitting_s > 0.0 else "-"),
    ]


def print_details(number: int, info: SessionInfo, console: Console) -> None:
    """The ``sessions show N`` text: metadata, counts and the history figures."""
    rows: list[tuple[str, str]] = [("file", str(info.path))]
    if info.error:
        rows.append(("error", info.error))
    else:
        rows += [
            ("start", _iso(info.start_s) or "-"),
            ("end", _iso(info.end_s) or "-"),
            ("duration", _duration(info.duration_s)),
            ("tag", f"{_tag(info)} {info.tag_address}".strip()),
            ("source", info.source_kind + (f" (scenario {info.scenario})" if info.scenario else "")),
            ("packets", f"{info.packets:,}"),
            ("events stored", f"{info.episodes} episodes, {info.prompts} prompts, {info.calibrations} calibrations"),
            ("closed cleanly", "yes" if info.closed else "no"),
            ("session id", info.session_id),
            ("format", f"{info.format_version} (written by PostureBuddy {info.app_version or '?'})"),
        ]
        rows += [("damage", message) for message in info.damage]
        rows += figure_rows(info)
    console.print(f"[bold]session {number}[/]")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        console.print(f"  {key:<{width}}  {value}", markup=False, soft_wrap=True)


def run_sessions(args: argparse.Namespace, settings: Settings) -> int:
    """Run the command; returns the exit code."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    directory = recordings_dir(settings)
    if args.action == "list":
        _retention(directory, settings, err)
    infos = list_sessions(directory)
    if args.action in ("delete", "export"):
        return _delete_or_export(args, settings, infos, directory, err)
    console = Console(highlight=False)
    if args.action == "list":
        if args.json:
            print(json.dumps([info.to_json(n) for n, info in enumerate(infos, 1)], indent=2, allow_nan=False))
        elif not infos:
            console.print(f"no recordings in {directory}", markup=False)
        else:
            print_table(infos, directory, console)
        return EXIT_OK
    # show
    if args.session is None:
        err.print(f"{PROG} show: give the number of a session from 'posturebuddy sessions list'", markup=False)
        return EXIT_USAGE
    try:
        number = int(args.session)
    except ValueError:
        err.print(f"{PROG} show: {args.session!r} is not a session number (see 'sessions list')", markup=False)
        return EXIT_USAGE
    if not 1 <= number <= len(infos):
        err.print(
            f"{PROG} show: no session {number}; {directory} holds {len(infos)} recording(s) (see 'sessions list')",
            markup=False,
        )
        return EXIT_FAILED
    info = infos[number - 1]
    if getattr(args, "analyze", False):
        info = analyze_session(info, settings)
    if args.json:
        print(json.dumps(info.to_json(number), indent=2, allow_nan=False))
    else:
        print_details(number, info, console)
    return EXIT_OK


# ------------------------------------------------------------------------------ delete, export, retention


def _retention(directory: Path, settings: Settings, err: Console) -> None:
    """Apply ``[recording] retention_days`` before listing (see :mod:`posturebuddy.session.retention`)."""
    from posturebuddy.session.retention import apply_retention

    keep = settings.recording.retention_days
    trimmed = apply_retention(directory, keep)
    if trimmed:
        packets = sum(t.deleted_packets for t in trimmed)
        err.print(
            f"retention: deleted {packets:,} raw packets older than {keep} days from {len(trimmed)} recording(s); "
            "their summaries, episodes and prompts are kept ([recording] retention_days)",
            markup=False,
        )


def _pick(args: argparse.Namespace, infos: list[SessionInfo], directory: Path, err: Console) -> SessionInfo | int:
    """The session named by ``args.session`` (a number from the list), or an exit code after a message."""
    action = args.action
    if args.session is None:
        err.print(f"{PROG} {action}: give the number of a session from 'posturebuddy sessions list'", markup=False)
        return EXIT_USAGE
    try:
        number = int(args.session)
    except ValueError:
        err.print(f"{PROG} {action}: {args.session!r} is not a session number (see 'sessions list')", markup=False)
        return EXIT_USAGE
    if not 1 <= number <= len(infos):
        err.print(
            f"{PROG} {action}: no session {number}; {directory} holds {len(infos)} recording(s) (see 'sessions list')",
            markup=False,
        )
        return EXIT_FAILED
    return infos[number - 1]


def _delete_or_export(
    args: argparse.Namespace, settings: Settings, infos: list[SessionInfo], directory: Path, err: Console
) -> int:
    picked = _pick(args, infos, directory, err)
    if isinstance(picked, int):
        return picked
    if args.action == "delete":
        return delete_session(picked, yes=bool(getattr(args, "yes", False)), err=err)
    out: Path | None = args.out
    if out is None:
        err.print(
            f"{PROG} export: give an output file ending in .csv or .parquet, e.g. "
            f"'posturebuddy sessions export {args.session} session.csv'",
            markup=False,
        )
        return EXIT_USAGE
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("csv", "parquet"):
        err.print(
            f"{PROG} export: {out}: the format comes from the suffix, .csv or .parquet (got {out.suffix or 'none'})",
            markup=False,
        )
        return EXIT_USAGE
    from posturebuddy.commands.export import ExportError, check_outputs, run_export_to

    try:
        check_outputs(picked.path, [(fmt, out)])
    except ExportError as exc:
        err.print(f"{PROG} export: error: {exc}", markup=False)
        return EXIT_USAGE
    return run_export_to(picked.path, [(fmt, out)], settings, posture=True, prog=f"{PROG} export")


def delete_session(info: SessionInfo, *, yes: bool, err: Console, ask: Callable[[str], str] = input) -> int:
    """Delete a recording and its ``-wal``/``-shm`` companions, after confirmation unless ``yes``."""
    path = info.path
    if info.error == "" and not info.closed and not yes:
        err.print(f"{path.name} was not closed cleanly: it may still be recording.", markup=False)
    if not yes:
        what = f"{_day_and_time(info.start_s)}, {_duration(info.duration_s)}, {info.packets:,} packets"
        try:
            answer = ask(f"Delete {path} ({what})? This cannot be undone. [y/N] ")
        except (EOFError, OSError):  # no input to read (closed, or not a terminal that can answer)
            answer = ""
            err.print("(no answer: add --yes to delete without asking)", markup=False)
        if answer.strip().lower() not in ("y", "yes"):
            err.print("nothing deleted", markup=False)
            return EXIT_OK
    removed = []
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            p.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            err.print(f"{PROG} delete: error: cannot delete {p}: {exc.strerror or exc}", markup=False)
            return EXIT_FAILED
        removed.append(p.name)
    print(f"deleted {', '.join(removed)}")
    return EXIT_OK
