"""The recording format: one SQLite file per session of one tag. Writer, reader, retention and export.

Every part of PostureBuddy that stores or reads a session uses this module: the live recorder, the
simulator's headless ``record``, replay, ``analyze``, history and export. ``docs/recording-format.md``
describes the file (tables, units, versions, durability, size); the SQL is in
:mod:`posturebuddy.session.recording_schema` and the record types in
:mod:`posturebuddy.session.recording_records` (all re-exported here).

Write::

    with RecordingWriter(path, RecordingMetadata(tag_family="pbtag", source_kind=SourceKind.LIVE)) as rec:
        rec.append_packet(packet)         # buffered; written in one transaction at least every second
        rec.maybe_flush()                 # call from a timer too, so a quiet link still gets flushed

Read::

    with open_recording(path) as rec:
        for packet in rec.iter_packets(start_s=t0):
            ...

This module imports only the standard library and :mod:`posturebuddy.model` (no asyncio, no Textual).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import json
import math
import os
import sqlite3
import stat
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Final, Self, TypeVar

from posturebuddy import __version__
from posturebuddy.devices import UnknownFamilyError, get_family
from posturebuddy.model import (
    ConnectionState,
    PostureClass,
    Prompt,
    PromptKind,
    PromptOutcome,
    RawPacket,
    StreamStarted,
)
from posturebuddy.session.recording_records import (
    CalibrationRecord,
    DamageReport,
    EpisodeRecord,
    LinkEventKind,
    LinkEventRecord,
    MinuteSummary,
    PacketRecord,
    PromptRecord,
    RecordingDamageWarning,
    RecordingError,
    RecordingMetadata,
    RecordingVersionError,
    SourceKind,
    TruthKind,
    TruthSegment,
    link_event_record,
)
from posturebuddy.session.recording_salvage import PacketRow, salvage_packet_rows
from posturebuddy.session.recording_schema import (
    APPLICATION_ID,
    FORMAT_MAJOR,
    FORMAT_MINOR,
    MIGRATIONS,
    MINUTE_POSTURE_COLUMNS,
    RECORDING_SUFFIX,
    REQUIRED_META_KEYS,
    REQUIRED_TABLES,
    SCHEMA_SQL,
    SQLITE_HEADER,
    SQLITE_HEADER_SIZE,
    split_user_version,
    user_version,
)

__all__ = [
    "EXPORT_COLUMNS",
    "FORMAT_MAJOR",
    "FORMAT_MINOR",
    "RECORDING_SUFFIX",
    "CalibrationRecord",
    "DamageReport",
    "EpisodeRecord",
    "LinkEventKind",
    "LinkEventRecord",
    "MinuteSummary",
    "PacketRecord",
    "PromptRecord",
    "RecordingDamageWarning",
    "RecordingError",
    "RecordingMetadata",
    "RecordingReader",
    "RecordingVersionError",
    "RecordingWriter",
    "SourceKind",
    "TrimResult",
    "TruthKind",
    "TruthSegment",
    "iter_export_rows",
    "link_event_record",
    "migrate_recording",
    "open_recording",
    "trim_raw_packets",
]

FLUSH_INTERVAL_S: Final = 1.0
"""Default longest time, in seconds, a buffered record waits before it is written."""

MAX_PENDING_RECORDS: Final = 8192
"""Default number of buffered packets (or other records) that forces a flush regardless of time."""

BUSY_TIMEOUT_MS: Final = 5000
"""How long a connection waits for another one's write lock, in milliseconds."""

SECONDS_PER_DAY: Final = 86400.0

EXPORT_COLUMNS: Final = ("packet_id", "t_host_s", "t_device_s", "char_uuid", "data_hex")
"""Column names of the rows produced by :func:`iter_export_rows`, in order."""

_INSERT_PACKET: Final = "INSERT INTO packets (t_host_s, char_id, data, t_device_s) VALUES (?, ?, ?, ?)"
_INSERT_CHAR: Final = "INSERT INTO characteristics (char_id, uuid) VALUES (?, ?)"
_UPSERT_META: Final = "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
_INSERT_CALIBRATION: Final = (
    "INSERT INTO calibrations (t_s, gravity_up_x_g, gravity_up_y_g, gravity_up_z_g, forward_x, forward_y,"
    " forward_z, method, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_LINK_EVENT: Final = (
    "INSERT INTO link_events (t_s, kind, detail, start_s, count, data_json) VALUES (?, ?, ?, ?, ?, ?)"
)
_UPSERT_EPISODE: Final = (
    "INSERT OR REPLACE INTO episodes (episode_id, posture_class, start_s, end_s, peak_total_deg, peak_flexion_deg,"
    " peak_lateral_deg, mean_total_deg, alerted, detail_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPSERT_PROMPT: Final = (
    "INSERT OR REPLACE INTO prompts (prompt_id, kind, raised_s, reason, nudge, outcome, outcome_s, details_json)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_PROMPT_OUTCOME: Final = "UPDATE prompts SET outcome = ?, outcome_s = ? WHERE prompt_id = ?"
_MINUTE_COLUMNS: Final = (
    "minute_start_s",
    *MINUTE_POSTURE_COLUMNS.values(),
    "no_data_s",
    "sitting_s",
    "standing_s",
    "walking_s",
    "episodes",
    "prompts",
    "prompts_done",
    "breaks",
    "detail_json",
)
# The column names are fixed constants of the format (no outside input reaches these strings).
_MINUTE_COLUMN_LIST: Final = ", ".join(_MINUTE_COLUMNS)
_MINUTE_PLACEHOLDERS: Final = ", ".join("?" for _ in _MINUTE_COLUMNS)
_UPSERT_MINUTE: Final = (
    f"INSERT OR REPLACE INTO minute_summaries ({_MINUTE_COLUMN_LIST}) VALUES ({_MINUTE_PLACEHOLDERS})"  # noqa: S608
)
_SELECT_MINUTES: Final = f"SELECT {_MINUTE_COLUMN_LIST} FROM minute_summaries ORDER BY minute_start_s"  # noqa: S608
_INSERT_TRUTH: Final = "INSERT INTO truth_segments (start_s, end_s, kind, label, data_json) VALUES (?, ?, ?, ?, ?)"

_E = TypeVar("_E", bound=enum.StrEnum)
_T = TypeVar("_T")

Clock = Callable[[], float]
"""A clock returning seconds."""


# --------------------------------------------------------------------------------------------------------------
# Small helpers


def _one_line(exc: BaseException) -> str:
    """An exception's text on one line (SQLite quotes schema SQL, newlines included, in some of its errors)."""
    return " ".join(str(exc).split())


def _finite(value: float, name: str) -> float:
    """``value`` as a float, or ``ValueError`` if it is NaN or infinite (SQLite would store NaN as NULL)."""
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number of seconds or degrees, got {value!r}")
    return number


def _optional_finite(value: float | None, name: str) -> float | None:
    return None if value is None else _finite(value, name)


def _dump_json(value: object, name: str) -> str:
    """Compact JSON text; ``ValueError`` for values JSON cannot hold (NaN, sets, objects...)."""
    try:
        return json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} is not JSON-serialisable: {_one_line(exc)}") from exc


def _load_object(text: object) -> dict[str, object]:
    """A JSON object from a TEXT column; ``ValueError`` if it is not one."""
    if not isinstance(text, str):
        raise ValueError(f"expected JSON text, found {type(text).__name__}")
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, found {type(value).__name__}")
    return value


def _enum_or_str(enum_type: type[_E], value: object) -> _E | str:
    """The enum member for ``value``, or ``value`` itself if it is a string this version does not know."""
    if not isinstance(value, str):
        raise ValueError(f"expected text for {enum_type.__name__}, found {type(value).__name__}")
    try:
        return enum_type(value)
    except ValueError:
        return value


def _as_float(value: object) -> float:
    if type(value) is float or type(value) is int:
        return float(value)
    raise ValueError(f"expected a number, found {type(value).__name__}")


def _as_optional_float(value: object) -> float | None:
    return None if value is None else _as_float(value)


def _as_int(value: object) -> int:
    if type(value) is int:
        return value
    raise ValueError(f"expected an integer, found {type(value).__name__}")


def _as_optional_int(value: object) -> int | None:
    return None if value is None else _as_int(value)


def _as_str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(f"expected text, found {type(value).__name__}")


def _format_time(t_s: float | None) -> str:
    """``t_s`` as seconds plus, when plausible as epoch seconds, an ISO UTC time, for messages."""
    if t_s is None:
        return "unknown time"
    try:
        iso = dt.datetime.fromtimestamp(t_s, tz=dt.UTC).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        return f"{t_s:.6f} s"
    return f"{t_s:.6f} s ({iso})"


def _make_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents, each with mode 0700 (existing ones are left alone)."""
    missing: list[Path] = []
    while not directory.is_dir():
        missing.append(directory)
        if directory.parent == directory:
            break
        directory = directory.parent
    for new in reversed(missing):
        new.mkdir(mode=0o700, exist_ok=True)
        new.chmod(0o700)


# --------------------------------------------------------------------------------------------------------------
# Opening and validating files (shared by the reader, retention and migration)


@dataclass(frozen=True, slots=True)
class _Opened:
    connection: sqlite3.Connection
    version: tuple[int, int]
    tables: frozenset[str]
    meta: dict[str, str]
    cut_off: tuple[int, int] | None
    """``(actual_bytes, declared_bytes)`` when the file is shorter than its header says, else ``None``."""


def _check_file(path: Path) -> tuple[int, int] | None:
    """Refuse, with a specific message, anything that cannot be an SQLite database.

    Returns:
        ``(actual_bytes, declared_bytes)`` if the file is shorter than the size its header declares (it was cut
        off, e.g. by an interrupted copy), else ``None``.
    """
    shown = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise RecordingError(
            f"No recording at {shown}: the file does not exist. Check the path; recordings are files ending "
            f"in {RECORDING_SUFFIX}.",
            path=shown,
        ) from None
    except OSError as exc:
        raise RecordingError(f"Cannot open recording {shown}: {exc.strerror or exc}.", path=shown) from exc
    if stat.S_ISDIR(info.st_mode):
        raise RecordingError(
            f"{shown} is a directory, not a recording. Give the path of a {RECORDING_SUFFIX} file inside it.",
            path=shown,
        )
    if not stat.S_ISREG(info.st_mode):
        raise RecordingError(f"{shown} is not a regular file, so it cannot be a recording.", path=shown)
    if info.st_size == 0:
        raise RecordingError(
            f"{shown} is empty (0 bytes): nothing was ever written to it, so it holds no session. "
            "It was probably created by a recorder that stopped before it started; it can be deleted.",
            path=shown,
        )
    try:
        with path.open("rb") as file:
            head = file.read(SQLITE_HEADER_SIZE)
    except OSError as exc:
        raise RecordingError(
            f"Cannot read recording {shown}: {exc.strerror or exc}. Check the file's permissions.", path=shown
        ) from exc
    if len(head) < len(SQLITE_HEADER) or not head.startswith(SQLITE_HEADER):
        raise RecordingError(
            f"{shown} is not a PostureBuddy recording: it is not an SQLite database (it starts with "
            f"{head[:16].hex(' ')}). Check that you gave the right file; recordings are SQLite files ending "
            f"in {RECORDING_SUFFIX}.",
            path=shown,
        )
    if len(head) < SQLITE_HEADER_SIZE:
        raise RecordingError(
            f"{shown} is cut off after {len(head)} bytes, before the end of the database header: nothing in it "
            "can be read. Restore it from a backup if you have one.",
            path=shown,
        )
    # Header fields (https://www.sqlite.org/fileformat.html#the_database_header): page size at 16 (1 = 65536),
    # change counter at 24, page count at 28, valid only if "version-valid-for" at 92 equals the change counter.
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    declared = int.from_bytes(head[28:32], "big") * page_size
    if head[24:28] == head[92:96] and declared > info.st_size:
        return info.st_size, declared
    return None


def _strict_text(raw: bytes) -> str:
    """TEXT column decoder: invalid UTF-8 (only corruption produces it) becomes an SQLite data error."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise sqlite3.DataError(f"invalid UTF-8 text ({exc.reason} at byte {exc.start})") from None


def _connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    uri = path.resolve().as_uri() + ("?mode=ro" if readonly else "?mode=rw")
    connection = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    connection.text_factory = _strict_text
    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return connection


def _open_validated(path: Path, *, readonly: bool) -> _Opened:
    """Open ``path`` and check it is a recording this version can read; ``RecordingError`` otherwise.

    A file cut off short of the size its header declares is refused by SQLite as "malformed" unless the
    connection sets ``writable_schema``; a read-only connection may (it cannot write anything), so readers get
    the part that is there. Writers (retention, migration) never touch such a file.
    """
    shown = str(path)
    cut_off = _check_file(path)
    if cut_off is not None and not readonly:
        raise RecordingError(
            f"{shown} is a damaged recording (cut off at {cut_off[0]} of {cut_off[1]} bytes); it is left as it is. "
            "It can still be read.",
            path=shown,
        )
    try:
        connection = _connect(path, readonly=readonly)
        if cut_off is not None:
            connection.execute("PRAGMA writable_schema = ON")
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        raise RecordingError(
            f"Cannot open recording {shown}: {_one_line(exc)}. Check that the file and its directory are readable.",
            path=shown,
        ) from exc
    try:
        return replace(_validate(connection, path), cut_off=cut_off)
    except BaseException:
        connection.close()
        raise


def _validate(connection: sqlite3.Connection, path: Path) -> _Opened:
    shown = str(path)
    try:
        app_id = int(connection.execute("PRAGMA application_id").fetchone()[0])
        raw_version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        tables = frozenset(
            str(name) for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        )
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        raise RecordingError(
            f"{shown} cannot be read as an SQLite database: {_one_line(exc)}. If it is a recording, its first "
            "pages are damaged and PostureBuddy cannot recover it (the sqlite3 tool's `.recover` command may save some "
            "rows).",
            path=shown,
        ) from exc
    if app_id != APPLICATION_ID:
        what = ", ".join(sorted(tables)[:8]) if tables else "no tables at all"
        raise RecordingError(
            f"{shown} is an SQLite database but not a PostureBuddy recording (application id {app_id:#010x}, "
            f"{what}). Recordings are written by PostureBuddy's recorder and simulator; check that you gave the "
            "right file.",
            path=shown,
        )
    major, minor = split_user_version(raw_version)
    if major > FORMAT_MAJOR:
        raise RecordingVersionError(
            f"{shown} was written by a newer PostureBuddy, in recording format {major}.{minor}; this PostureBuddy "
            f"({__version__}) reads recording format {FORMAT_MAJOR}.x and older. Upgrade PostureBuddy to open it.",
            path=shown,
            found=(major, minor),
            supported_major=FORMAT_MAJOR,
        )
    missing = sorted(REQUIRED_TABLES - tables)
    if major < 1 or missing:
        reason = f"it lacks the tables {', '.join(missing)}" if missing else f"its format version is {raw_version}"
        raise RecordingError(
            f"{shown} is a damaged PostureBuddy recording: {reason}. It was probably never completely created; "
            "it holds no usable session.",
            path=shown,
        )
    try:
        meta = {str(key): str(value) for key, value in connection.execute("SELECT key, value FROM meta")}
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        raise RecordingError(
            f"{shown} is a damaged PostureBuddy recording: its metadata cannot be read ({_one_line(exc)}).", path=shown
        ) from exc
    missing_keys = [key for key in REQUIRED_META_KEYS if key not in meta]
    if missing_keys:
        raise RecordingError(
            f"{shown} is a damaged PostureBuddy recording: its metadata lacks {', '.join(missing_keys)}.", path=shown
        )
    return _Opened(connection=connection, version=(major, minor), tables=tables, meta=meta, cut_off=None)


def _metadata_from_meta(meta: Mapping[str, str], version: tuple[int, int], path: Path) -> RecordingMetadata:
    try:
        rate = meta.get("sample_rate_hz", "")
        closed = meta.get("closed_s", "")
        trimmed = meta.get("raw_trimmed_before_s", "")
        return RecordingMetadata(
            tag_family=meta["tag_family"],
            source_kind=_enum_or_str(SourceKind, meta["source_kind"]),
            tag_address=meta.get("tag_address", ""),
            tag_name=meta.get("tag_name", ""),
            sample_rate_hz=float(rate) if rate else None,
            created_s=float(meta["created_s"]),
            app_version=meta.get("app_version", ""),
            session_id=meta.get("session_id", ""),
            extra=_load_object(meta.get("extra_json", "{}")),
            format_version=version,
            closed_s=float(closed) if closed else None,
            host_time_regressions=int(meta.get("host_time_regressions", "0")),
            raw_trimmed_before_s=float(trimmed) if trimmed else None,
        )
    except (ValueError, KeyError) as exc:
        raise RecordingError(
            f"{path} is a damaged PostureBuddy recording: its metadata is invalid ({_one_line(exc)}).", path=str(path)
        ) from exc


# --------------------------------------------------------------------------------------------------------------
# Writer


class RecordingWriter:
    """Create a recording file and append to it, in batches.

    Appends go to memory and are written in one transaction per batch. A batch is written when its oldest
    record has waited ``flush_interval_s`` (checked by every ``append_*`` call and by :meth:`maybe_flush`),
    when ``max_pending`` packets or other records are waiting, on :meth:`flush` and on :meth:`close`. The file
    is in WAL mode with ``synchronous=NORMAL``: a crash or ``kill -9`` loses at most the batch in memory and
    never corrupts the file (a power cut may also lose the last committed batches, still without corruption).

    Call :meth:`maybe_flush` from a timer as well (every 0.25-0.5 s), so that records appended just before
    the data stops are written even if nothing else is appended.

    Not thread-safe: use one writer from one thread at a time (it may be handed to a worker thread).

    Args:
        path: the file to create; it must not exist. Its directory is created (mode 0700) if missing.
        metadata: what the session is; empty ``created_s``, ``app_version`` and ``session_id`` are filled in.
        clock: monotonic clock in seconds deciding when to flush (injected by tests).
        wall_clock: POSIX time in seconds, for ``created_s`` and ``closed_s``.
        flush_interval_s: longest time a record waits in memory, seconds.
        max_pending: buffered packets (or other records) that force a flush.

    Raises:
        RecordingError: the file exists or cannot be created.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        metadata: RecordingMetadata,
        *,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        max_pending: int = MAX_PENDING_RECORDS,
    ) -> None:
        if flush_interval_s < 0 or max_pending < 1:
            raise ValueError("flush_interval_s must be >= 0 and max_pending >= 1")
        self._path = Path(path)
        self._clock = clock
        self._wall_clock = wall_clock
        self._interval = float(flush_interval_s)
        self._max_pending = max_pending
        self._metadata = replace(
            metadata,
            created_s=metadata.created_s if metadata.created_s is not None else wall_clock(),
            app_version=metadata.app_version or __version__,
            session_id=metadata.session_id or uuid.uuid4().hex,
            format_version=(FORMAT_MAJOR, FORMAT_MINOR),
            closed_s=None,
            host_time_regressions=0,
            raw_trimmed_before_s=None,
        )
        self._char_ids: dict[str, int] = {}
        self._new_chars: list[tuple[int, str]] = []
        self._packets: list[tuple[float, int, bytes, float | None]] = []
        self._ops: list[tuple[str, tuple[object, ...]]] = []
        self._meta_updates: dict[str, str] = {}
        self._deadline: float | None = None
        self._last_t = -math.inf
        self._regressions = 0
        self._packets_written = 0
        self._connection: sqlite3.Connection | None = self._create()

    # -- creation ------------------------------------------------------------------------------------------

    def _create(self) -> sqlite3.Connection:
        path = self._path
        shown = str(path)
        try:
            _make_private_dir(path.parent)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise RecordingError(
                f"Cannot create recording {shown}: the file already exists, and recordings are never overwritten. "
                "Choose another file name, or delete the old file first.",
                path=shown,
            ) from None
        except OSError as exc:
            raise RecordingError(f"Cannot create recording {shown}: {exc.strerror or exc}.", path=shown) from exc
        try:
            os.fchmod(fd, 0o600)
        finally:
            os.close(fd)
        connection: sqlite3.Connection | None = None
        try:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            connection.execute("PRAGMA auto_vacuum = INCREMENTAL")
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RecordingError(f"Cannot create recording {shown}: the file system does not support WAL mode.")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            connection.execute(f"PRAGMA user_version = {user_version(FORMAT_MAJOR, FORMAT_MINOR)}")
            for statement in SCHEMA_SQL.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.executemany(_UPSERT_META, self._initial_meta().items())
            connection.execute("COMMIT")
        except (sqlite3.Error, ValueError, RecordingError) as exc:
            if connection is not None:
                connection.close()
            for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            if isinstance(exc, RecordingError):
                raise
            raise RecordingError(f"Cannot create recording {shown}: {_one_line(exc)}.", path=shown) from exc
        return connection

    def _initial_meta(self) -> dict[str, str]:
        meta = self._metadata
        assert meta.created_s is not None
        return {
            "format_version": f"{FORMAT_MAJOR}.{FORMAT_MINOR}",
            "app_version": meta.app_version,
            "created_s": repr(meta.created_s),
            "created_utc": dt.datetime.fromtimestamp(meta.created_s, tz=dt.UTC).isoformat(timespec="seconds"),
            "session_id": meta.session_id,
            "tag_family": meta.tag_family,
            "tag_address": meta.tag_address,
            "tag_name": meta.tag_name,
            "sample_rate_hz": "" if meta.sample_rate_hz is None else repr(_finite(meta.sample_rate_hz, "rate")),
            "source_kind": str(meta.source_kind),
            "extra_json": _dump_json(dict(meta.extra), "metadata.extra"),
            "host_time_regressions": "0",
        }

    # -- properties ----------------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The recording file."""
        return self._path

    @property
    def metadata(self) -> RecordingMetadata:
        """The metadata as stored (with ``created_s``, ``app_version`` and ``session_id`` filled in)."""
        return self._metadata

    @property
    def packets_written(self) -> int:
        """Packets committed to the file so far."""
        return self._packets_written

    @property
    def pending_packets(self) -> int:
        """Packets appended but not yet written."""
        return len(self._packets)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self._connection is None

    # -- appending -----------------------------------------------------------------------------------------

    def append_packet(self, packet: RawPacket, *, device_time_s: float | None = None) -> None:
        """Buffer one notification (the hot path: a dictionary look-up and a list append).

        Args:
            packet: the notification as it came off the link.
            device_time_s: the tag's own clock in seconds, if the link layer knows it.

        Raises:
            ValueError: ``t_host_s`` (or ``device_time_s``) is NaN or infinite.
            RecordingError: the writer is closed, or a flush this call triggered failed.
        """
        if self._connection is None:
            raise RecordingError(f"Recording {self._path} is closed; nothing more can be appended.")
        t = packet.t_host_s
        if not math.isfinite(t) or (device_time_s is not None and not math.isfinite(device_time_s)):
            raise ValueError(f"packet times must be finite, got t_host_s={t!r}, device_time_s={device_time_s!r}")
        char_id = self._char_ids.get(packet.char_uuid)
        if char_id is None:
            char_id = self._register_char(packet.char_uuid)
        if t < self._last_t:
            self._regressions += 1
            self._meta_updates["host_time_regressions"] = str(self._regressions)
        self._last_t = t
        pending = self._packets
        pending.append((t, char_id, packet.data, device_time_s))
        if self._deadline is None:
            self._deadline = self._clock() + self._interval
        if len(pending) >= self._max_pending or self._clock() >= self._deadline:
            self.flush()

    def append_packets(self, packets: Iterable[RawPacket]) -> None:
        """Buffer many notifications (e.g. from the simulator); flushes as ``append_packet`` does."""
        for packet in packets:
            self.append_packet(packet)

    def _register_char(self, char_uuid: str) -> int:
        char_id = len(self._char_ids)
        self._char_ids[char_uuid] = char_id
        self._new_chars.append((char_id, char_uuid))
        return char_id

    def _append_op(self, sql: str, params: tuple[object, ...]) -> None:
        if self._connection is None:
            raise RecordingError(f"Recording {self._path} is closed; nothing more can be appended.")
        self._ops.append((sql, params))
        if self._deadline is None:
            self._deadline = self._clock() + self._interval
        if len(self._ops) >= self._max_pending or self._clock() >= self._deadline:
            self.flush()

    def append_calibration(self, record: CalibrationRecord) -> None:
        """Buffer a calibration of the upright posture."""
        gravity = tuple(_finite(v, "gravity_up_g") for v in record.gravity_up_g)
        forward = (None, None, None) if record.forward_axis is None else record.forward_axis
        params = (
            _finite(record.t_s, "t_s"),
            *gravity,
            *(_optional_finite(v, "forward_axis") for v in forward),
            record.method,
            _dump_json(record.detail, "detail"),
        )
        self._append_op(_INSERT_CALIBRATION, params)

    def append_link_event(self, event: LinkEventRecord) -> None:
        """Buffer a link event (use :func:`link_event_record` to convert a model event)."""
        params = (
            _finite(event.t_s, "t_s"),
            str(event.kind),
            event.detail,
            _optional_finite(event.start_s, "start_s"),
            event.count,
            _dump_json(event.data, "data"),
        )
        self._append_op(_INSERT_LINK_EVENT, params)

    def append_episode(self, episode: EpisodeRecord) -> None:
        """Buffer a posture episode; one with the same ``episode_id`` already written is replaced."""
        params = (
            episode.episode_id,
            str(episode.posture_class),
            _finite(episode.start_s, "start_s"),
            _optional_finite(episode.end_s, "end_s"),
            _optional_finite(episode.peak_total_deg, "peak_total_deg"),
            _optional_finite(episode.peak_flexion_deg, "peak_flexion_deg"),
            _optional_finite(episode.peak_lateral_deg, "peak_lateral_deg"),
            _optional_finite(episode.mean_total_deg, "mean_total_deg"),
            int(episode.alerted),
            _dump_json(episode.detail, "detail"),
        )
        self._append_op(_UPSERT_EPISODE, params)

    def append_prompt(self, prompt: Prompt | PromptRecord) -> None:
        """Buffer a raised prompt (or a whole record); one with the same ``prompt_id`` is replaced."""
        record = PromptRecord.from_prompt(prompt) if isinstance(prompt, Prompt) else prompt
        params = (
            record.prompt_id,
            str(record.kind),
            _finite(record.raised_s, "raised_s"),
            record.reason,
            int(record.nudge),
            None if record.outcome is None else str(record.outcome),
            _optional_finite(record.outcome_s, "outcome_s"),
            _dump_json([list(pair) for pair in record.details], "details"),
        )
        self._append_op(_UPSERT_PROMPT, params)

    def append_prompt_outcome(self, prompt_id: int, outcome: PromptOutcome | str, t_s: float) -> None:
        """Buffer how prompt ``prompt_id`` (appended before) ended, at sample time ``t_s`` seconds."""
        self._append_op(_UPDATE_PROMPT_OUTCOME, (str(outcome), _finite(t_s, "t_s"), prompt_id))

    def append_minute_summary(self, summary: MinuteSummary) -> None:
        """Buffer a per-minute summary; one for the same ``minute_start_s`` is replaced."""
        unknown = set(summary.posture_s) - set(MINUTE_POSTURE_COLUMNS)
        if unknown:
            raise ValueError(f"posture classes without a summary column: {sorted(map(str, unknown))}")
        params: tuple[object, ...] = (
            _finite(summary.minute_start_s, "minute_start_s"),
            *(_finite(summary.posture_s.get(cls, 0.0), str(cls)) for cls in MINUTE_POSTURE_COLUMNS),
            _finite(summary.no_data_s, "no_data_s"),
            _finite(summary.sitting_s, "sitting_s"),
            _finite(summary.standing_s, "standing_s"),
            _finite(summary.walking_s, "walking_s"),
            summary.episodes,
            summary.prompts,
            summary.prompts_done,
            summary.breaks,
            _dump_json(summary.detail, "detail"),
        )
        self._append_op(_UPSERT_MINUTE, params)

    def append_truth_segment(self, segment: TruthSegment) -> None:
        """Buffer one ground-truth segment (simulated recordings)."""
        params = (
            _finite(segment.start_s, "start_s"),
            _finite(segment.end_s, "end_s"),
            str(segment.kind),
            segment.label,
            _dump_json(segment.data, "data"),
        )
        self._append_op(_INSERT_TRUTH, params)

    def append_truth_segments(self, segments: Iterable[TruthSegment]) -> None:
        """Buffer many ground-truth segments."""
        for segment in segments:
            self.append_truth_segment(segment)

    def update_extra(self, values: Mapping[str, object]) -> None:
        """Merge ``values`` into the free-form metadata (written with the next batch)."""
        if self._connection is None:
            raise RecordingError(f"Recording {self._path} is closed; its metadata can no longer change.")
        extra = {**self._metadata.extra, **values}
        self._meta_updates["extra_json"] = _dump_json(extra, "metadata.extra")
        self._metadata = replace(self._metadata, extra=extra)
        if self._deadline is None:
            self._deadline = self._clock() + self._interval

    # -- flushing ------------------------------------------------------------------------------------------

    def maybe_flush(self) -> bool:
        """Write the buffered records if the oldest has waited ``flush_interval_s``. Returns whether it wrote."""
        if self._deadline is not None and self._clock() >= self._deadline:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        """Write everything buffered, in one transaction.

        Raises:
            RecordingError: the write failed (disk full, file removed...). Nothing of the batch is in the file
                and the batch stays in memory, so a later flush may retry it.
        """
        connection = self._connection
        if connection is None:
            raise RecordingError(f"Recording {self._path} is closed.")
        packets, ops, chars, meta = self._packets, self._ops, self._new_chars, self._meta_updates
        if not (packets or ops or chars or meta):
            self._deadline = None
            return
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                if chars:
                    connection.executemany(_INSERT_CHAR, chars)
                if packets:
                    connection.executemany(_INSERT_PACKET, packets)
                for sql, params in ops:
                    connection.execute(sql, params)
                if meta:
                    connection.executemany(_UPSERT_META, meta.items())
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise RecordingError(
                f"Could not write to recording {self._path}: {_one_line(exc)}. The {len(packets)} packets and "
                f"{len(ops)} other records of this batch are kept in memory for the next attempt.",
                path=str(self._path),
            ) from exc
        self._packets_written += len(packets)
        self._packets = []
        self._ops = []
        self._new_chars = []
        self._meta_updates = {}
        self._deadline = None

    def close(self) -> None:
        """Write what is buffered, mark the file as cleanly closed and close it. Safe to call twice.

        The file is switched back from WAL to a plain rollback journal, so a closed recording is one
        self-contained file that can be copied and opened on read-only media.
        """
        connection = self._connection
        if connection is None:
            return
        try:
            self._meta_updates["closed_s"] = repr(self._wall_clock())
            self.flush()
        finally:
            self._connection = None
            with contextlib.suppress(sqlite3.Error):
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                connection.execute("PRAGMA journal_mode = DELETE")
            connection.close()
        self._metadata = replace(self._metadata, host_time_regressions=self._regressions)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


# --------------------------------------------------------------------------------------------------------------
# Reader


def open_recording(path: str | os.PathLike[str]) -> RecordingReader:
    """Open a recording for reading (read-only). See :class:`RecordingReader`."""
    return RecordingReader(path)


class RecordingReader:
    """Read a recording: metadata, packets in arrival order (optionally from a time), and the other tables.

    The file is opened read-only; it may still be being written by a :class:`RecordingWriter`.

    A damaged file (cut off, or with corrupted pages) is read up to the damage: iteration stops there, a
    :class:`RecordingDamageWarning` names the table and the last good row (packet number and host time for
    packets), and a :class:`DamageReport` is added to :attr:`damage`. Only damage to the file's first pages
    (schema, metadata) makes opening fail.

    Args:
        path: the recording file.

    Raises:
        RecordingError: the file is missing, empty, not an SQLite database, not a PostureBuddy recording,
            or damaged beyond use; :class:`RecordingVersionError` if written in a newer major format.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        opened = _open_validated(self._path, readonly=True)
        self._connection: sqlite3.Connection | None = opened.connection
        self._tables = opened.tables
        self.damage: list[DamageReport] = []
        """Damage found so far while reading (empty for a sound file)."""
        self._salvaged: dict[int, list[PacketRow]] = {}
        try:
            self._metadata = _metadata_from_meta(opened.meta, opened.version, self._path)
            self._chars = self._read_characteristics()
        except BaseException:
            self.close()
            raise
        if opened.cut_off is not None:
            actual, declared = opened.cut_off
            self._report_damage("file", 0, None, None, f"the file ends at byte {actual} of {declared}")

    def _read_characteristics(self) -> dict[int, str]:
        chars: dict[int, str] = {}
        try:
            for char_id, char_uuid in self._conn.execute("SELECT char_id, uuid FROM characteristics"):
                chars[_as_int(char_id)] = _as_str(char_uuid)
        except (sqlite3.Error, ValueError) as exc:
            raise RecordingError(
                f"{self._path} is a damaged PostureBuddy recording: its characteristics table cannot be read "
                f"({_one_line(exc)}).",
                path=str(self._path),
            ) from exc
        return chars

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RecordingError(f"Recording {self._path} is closed.", path=str(self._path))
        return self._connection

    @property
    def path(self) -> Path:
        """The recording file."""
        return self._path

    @property
    def metadata(self) -> RecordingMetadata:
        """What the session is (see :class:`RecordingMetadata`)."""
        return self._metadata

    @property
    def format_version(self) -> tuple[int, int]:
        """``(major, minor)`` recording format version of the file."""
        assert self._metadata.format_version is not None
        return self._metadata.format_version

    @property
    def characteristics(self) -> dict[int, str]:
        """``{char_id: uuid}`` of the characteristics packets came from."""
        return dict(self._chars)

    def close(self) -> None:
        """Close the file. Safe to call twice."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # -- damage --------------------------------------------------------------------------------------------

    def _report_damage(
        self,
        table: str,
        rows_read: int,
        last_id: int | None,
        last_t: float | None,
        error: str,
        salvaged: Sequence[PacketRow] = (),
    ) -> None:
        if table == "file":
            message = (
                f"Recording {self._path} is cut off ({error}), probably by an interrupted copy or a full disk. "
                "It is read up to the damage; tables whose rows lie beyond the cut stop early, with their own "
                "warning."
            )
        else:
            if table == "packets":
                where = (
                    f"after packet #{last_id} at host time {_format_time(last_t)}"
                    if last_id is not None
                    else "before its first readable packet"
                )
            else:
                where = f"after row {last_id} of {table}" if last_id is not None else f"at the start of {table}"
            message = (
                f"Recording {self._path} is damaged: reading {table} stopped {where} ({rows_read} rows read in "
                f"this pass; {error}). The rows before the damage are used; the rest of {table} is skipped. The "
                "file was probably cut off or corrupted on disk."
            )
            if salvaged:
                first_id, last_salvaged_id, last_salvaged_t = salvaged[0][0], salvaged[-1][0], salvaged[-1][1]
                lost = last_salvaged_id - first_id + 1 - len(salvaged)
                message = message.replace(
                    f"the rest of {table} is skipped",
                    f"{len(salvaged)} more packets (#{first_id} to #{last_salvaged_id}, the last at host time "
                    f"{_format_time(last_salvaged_t)}) were recovered from intact pages after the damage"
                    + (f", {lost} packet numbers in that span are lost" if lost else "")
                    + ", the rest is lost",
                )
        report = DamageReport(
            table,
            rows_read,
            last_id,
            last_t,
            error,
            message,
            salvaged_rows=len(salvaged),
            salvaged_last_id=salvaged[-1][0] if salvaged else None,
            salvaged_last_t_s=salvaged[-1][1] if salvaged else None,
        )
        if report not in self.damage:
            self.damage.append(report)
        warnings.warn(message, RecordingDamageWarning, stacklevel=3)

    # -- packets -------------------------------------------------------------------------------------------

    @property
    def _monotonic(self) -> bool:
        return self._metadata.host_time_regressions == 0

    def _first_packet_id_at(self, start_s: float) -> int | None:
        """Binary search (host times are non-decreasing): first packet id with ``t_host_s >= start_s``."""
        conn = self._conn
        # Two queries: SQLite answers a lone min() or max() of the rowid from the B-tree's edge, both at once by a scan.
        low = conn.execute("SELECT min(packet_id) FROM packets").fetchone()[0]
        high = conn.execute("SELECT max(packet_id) FROM packets").fetchone()[0]
        if low is None or high is None:
            return None
        lo, hi = _as_int(low), _as_int(high) + 1
        while lo < hi:
            mid = (lo + hi) // 2
            row = conn.execute(
                "SELECT packet_id, t_host_s FROM packets WHERE packet_id >= ? ORDER BY packet_id LIMIT 1", (mid,)
            ).fetchone()
            if row is None or _as_float(row[1]) >= start_s:
                hi = mid
            else:
                lo = _as_int(row[0]) + 1
        return lo

    def _packet_rows(self, start_s: float | None, end_s: float | None) -> Iterator[PacketRow]:
        """Defensive iteration over packets in arrival order.

        At unreadable rows it reports the damage, then yields what :func:`salvage_packet_rows` recovers from
        the intact pages after it.
        """
        sql = "SELECT packet_id, t_host_s, char_id, data, t_device_s FROM packets"
        params: tuple[float | int, ...] = ()
        low = -math.inf if start_s is None else start_s
        high = math.inf if end_s is None else end_s
        after_id = 0
        if start_s is not None or end_s is not None:
            first_id: int | None = None
            if self._monotonic and start_s is not None:
                with contextlib.suppress(sqlite3.DatabaseError, ValueError):
                    first_id = self._first_packet_id_at(start_s)
            if first_id is not None:
                sql += " WHERE packet_id >= ?"
                params = (first_id,)
                after_id = first_id - 1
            else:
                sql += " WHERE t_host_s >= ? AND t_host_s <= ?"
                params = (low, high)
        sql += " ORDER BY packet_id"
        chars = self._chars
        monotonic = self._monotonic
        rows_read = 0
        last_id: int | None = None
        last_t: float | None = None
        error: str | None = None
        try:
            for packet_id, t, char_id, data, t_device in self._conn.execute(sql, params):
                char_uuid = chars.get(char_id)
                if (
                    char_uuid is None
                    or type(t) is not float
                    or type(data) is not bytes
                    or type(packet_id) is not int
                    or (t_device is not None and type(t_device) is not float)
                    or (last_id is not None and packet_id <= last_id)
                ):
                    error = "the next row is garbled"
                    break
                if t > high:
                    if monotonic:
                        return
                    continue
                yield packet_id, t, char_uuid, data, t_device
                rows_read += 1
                last_id = packet_id
                last_t = t
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            error = str(exc)
        if error is None:
            return
        salvaged = self._salvage(max(after_id, last_id or 0), low, high)
        self._report_damage("packets", rows_read, last_id, last_t, error, salvaged)
        yield from salvaged

    def _salvage(self, after_id: int, low: float, high: float) -> list[PacketRow]:
        """Packets after ``after_id`` with ``low <= t_host_s <= high`` from intact pages (see recording_salvage)."""
        wal = self._path.with_name(self._path.name + "-wal")
        with contextlib.suppress(OSError):
            if wal.stat().st_size > 0:
                return []  # the newest pages are in the log: the main file alone would mislead
        trimmed = self._metadata.raw_trimmed_before_s
        low = low if trimmed is None else max(low, trimmed)
        rows = self._salvaged.get(after_id)
        if rows is None:
            rows = self._salvaged[after_id] = salvage_packet_rows(
                self._path, after_packet_id=after_id, chars=self._chars
            )
        return [row for row in rows if low <= row[1] <= high]

    def iter_packets(self, start_s: float | None = None, end_s: float | None = None) -> Iterator[RawPacket]:
        """The stored notifications, in arrival order (the order the live engine saw them).

        Args:
            start_s: only packets with ``t_host_s >= start_s`` seconds (a seek: binary search, not a scan,
                when host times never went backwards, which is the normal case).
            end_s: only packets with ``t_host_s <= end_s`` seconds.
        """
        for _, t, char_uuid, data, _ in self._packet_rows(start_s, end_s):
            yield RawPacket(t, char_uuid, data)

    def iter_stream(
        self, start_s: float | None = None, end_s: float | None = None
    ) -> Iterator[RawPacket | StreamStarted]:
        """:meth:`iter_packets` with a :class:`~posturebuddy.model.StreamStarted` marker before the first packet
        of each connection, as the live link put them into its packet stream, so that a replay restarts the
        decoders (sequence numbers, the tag's clock, arrival smoothing) where the live session did.

        A new connection is recognised by the recorded "connecting" link event before it (the marker takes its
        time); the first one is marked too. The markers carry the rate asked of the tag, snapped to one the
        family supports, as the live ones did (it seeds the arrival smoothing of tags without a clock).
        """
        meta = self.metadata
        rate_hz = meta.sample_rate_hz
        if rate_hz is not None:
            with contextlib.suppress(UnknownFamilyError):
                rate_hz = get_family(meta.tag_family).capabilities.nearest_rate_hz(rate_hz)
        starts = sorted(
            e.t_s
            for e in self.link_events()
            if e.kind == LinkEventKind.CONNECTION and e.detail == str(ConnectionState.CONNECTING)
        )
        k = 0
        first = True
        for packet in self.iter_packets(start_s, end_s):
            crossed = first
            while k < len(starts) and starts[k] <= packet.t_host_s:
                k += 1
                crossed = True
            if crossed:
                t = starts[k - 1] if k > 0 else packet.t_host_s
                yield StreamStarted(t, meta.tag_family, meta.tag_address, meta.tag_name, rate_hz)
                first = False
            yield packet

    def iter_packet_records(self, start_s: float | None = None, end_s: float | None = None) -> Iterator[PacketRecord]:
        """Like :meth:`iter_packets`, with the packet number and device time of every packet."""
        for packet_id, t, char_uuid, data, t_device in self._packet_rows(start_s, end_s):
            yield PacketRecord(packet_id, t, char_uuid, data, t_device)

    def packet_count(self) -> int:
        """Number of stored packets; for a file known to be damaged, the number of readable ones."""
        if self.damage:
            return sum(1 for _ in self._packet_rows(None, None))
        try:
            return _as_int(self._conn.execute("SELECT count(*) FROM packets").fetchone()[0])
        except (sqlite3.DatabaseError, ValueError):
            return sum(1 for _ in self._packet_rows(None, None))

    def time_range(self) -> tuple[float, float] | None:
        """``(first, last)`` host time of the stored packets in seconds, ``None`` if there are none."""
        if self._monotonic:
            try:
                first = self._conn.execute("SELECT t_host_s FROM packets ORDER BY packet_id LIMIT 1").fetchone()
                last = self._conn.execute("SELECT t_host_s FROM packets ORDER BY packet_id DESC LIMIT 1").fetchone()
                if first is None or last is None:
                    return None
                return _as_float(first[0]), _as_float(last[0])
            except (sqlite3.DatabaseError, ValueError):
                pass
        low, high = math.inf, -math.inf
        for _, t, _, _, _ in self._packet_rows(None, None):
            low = min(low, t)
            high = max(high, t)
        return None if low > high else (low, high)

    # -- other tables --------------------------------------------------------------------------------------

    def _read_table(self, table: str, sql: str, convert: Callable[[tuple[object, ...]], _T]) -> list[_T]:
        """All rows of a small table, up to any damage. The first column of ``sql`` must be the row id."""
        if table not in self._tables:
            return []  # a file of an older minor version without this table
        records: list[_T] = []
        last_id: int | None = None
        try:
            for row in self._conn.execute(sql):
                try:
                    record = convert(row)
                except (ValueError, TypeError, KeyError) as exc:
                    self._report_damage(
                        table, len(records), last_id, None, f"row {row[0]!r} is garbled: {_one_line(exc)}"
                    )
                    break
                records.append(record)
                last_id = row[0] if isinstance(row[0], int) else None
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            self._report_damage(table, len(records), last_id, None, str(exc))
        return records

    def calibrations(self) -> list[CalibrationRecord]:
        """Calibrations of the upright posture, in the order they were made."""

        def convert(row: tuple[object, ...]) -> CalibrationRecord:
            forward = tuple(_as_optional_float(v) for v in row[5:8])
            return CalibrationRecord(
                t_s=_as_float(row[1]),
                gravity_up_g=(_as_float(row[2]), _as_float(row[3]), _as_float(row[4])),
                forward_axis=None if None in forward else (_as_float(row[5]), _as_float(row[6]), _as_float(row[7])),
                method=_as_str(row[8]),
                detail=_load_object(row[9]),
                calibration_id=_as_int(row[0]),
            )

        return self._read_table(
            "calibrations",
            "SELECT calibration_id, t_s, gravity_up_x_g, gravity_up_y_g, gravity_up_z_g, forward_x, forward_y,"
            " forward_z, method, detail_json FROM calibrations ORDER BY calibration_id",
            convert,
        )

    def link_events(self) -> list[LinkEventRecord]:
        """Link events (connection changes, gaps, rejected packets, battery, nudges...), in time order."""

        def convert(row: tuple[object, ...]) -> LinkEventRecord:
            return LinkEventRecord(
                t_s=_as_float(row[1]),
                kind=_enum_or_str(LinkEventKind, row[2]),
                detail=_as_str(row[3]),
                start_s=_as_optional_float(row[4]),
                count=_as_optional_int(row[5]),
                data=_load_object(row[6]),
                event_id=_as_int(row[0]),
            )

        return self._read_table(
            "link_events",
            "SELECT event_id, t_s, kind, detail, start_s, count, data_json FROM link_events ORDER BY t_s, event_id",
            convert,
        )

    def episodes(self) -> list[EpisodeRecord]:
        """Detected posture episodes, by start time."""

        def convert(row: tuple[object, ...]) -> EpisodeRecord:
            return EpisodeRecord(
                posture_class=_enum_or_str(PostureClass, row[1]),
                start_s=_as_float(row[2]),
                end_s=_as_optional_float(row[3]),
                peak_total_deg=_as_optional_float(row[4]),
                peak_flexion_deg=_as_optional_float(row[5]),
                peak_lateral_deg=_as_optional_float(row[6]),
                mean_total_deg=_as_optional_float(row[7]),
                alerted=bool(_as_int(row[8])),
                detail=_load_object(row[9]),
                episode_id=_as_int(row[0]),
            )

        return self._read_table(
            "episodes",
            "SELECT episode_id, posture_class, start_s, end_s, peak_total_deg, peak_flexion_deg, peak_lateral_deg,"
            " mean_total_deg, alerted, detail_json FROM episodes ORDER BY start_s, episode_id",
            convert,
        )

    def prompts(self) -> list[PromptRecord]:
        """Coaching prompts and their outcomes, by prompt id."""

        def convert(row: tuple[object, ...]) -> PromptRecord:
            details = json.loads(_as_str(row[7]))
            if not isinstance(details, list) or not all(
                isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair) for pair in details
            ):
                raise ValueError("details_json is not a list of [key, value] string pairs")
            return PromptRecord(
                prompt_id=_as_int(row[0]),
                kind=_enum_or_str(PromptKind, row[1]),
                raised_s=_as_float(row[2]),
                reason=_as_str(row[3]),
                nudge=bool(_as_int(row[4])),
                outcome=None if row[5] is None else _enum_or_str(PromptOutcome, row[5]),
                outcome_s=_as_optional_float(row[6]),
                details=tuple((key, value) for key, value in details),
            )

        return self._read_table(
            "prompts",
            "SELECT prompt_id, kind, raised_s, reason, nudge, outcome, outcome_s, details_json FROM prompts"
            " ORDER BY prompt_id",
            convert,
        )

    def minute_summaries(self) -> list[MinuteSummary]:
        """Per-minute summaries, by minute."""
        n_classes = len(MINUTE_POSTURE_COLUMNS)

        def convert(row: tuple[object, ...]) -> MinuteSummary:
            values = row[1 : 1 + n_classes]
            posture = {cls: _as_float(value) for cls, value in zip(MINUTE_POSTURE_COLUMNS, values, strict=True)}
            rest = row[1 + n_classes :]
            return MinuteSummary(
                minute_start_s=_as_float(row[0]),
                posture_s={cls: seconds for cls, seconds in posture.items() if seconds},
                no_data_s=_as_float(rest[0]),
                sitting_s=_as_float(rest[1]),
                standing_s=_as_float(rest[2]),
                walking_s=_as_float(rest[3]),
                episodes=_as_int(rest[4]),
                prompts=_as_int(rest[5]),
                prompts_done=_as_int(rest[6]),
                breaks=_as_int(rest[7]),
                detail=_load_object(rest[8]),
            )

        return self._read_table(
            "minute_summaries",
            _SELECT_MINUTES,
            convert,
        )

    def truth_segments(self, kind: TruthKind | str | None = None) -> list[TruthSegment]:
        """Ground-truth segments (simulated recordings), by start time; only those of ``kind`` if given."""

        def convert(row: tuple[object, ...]) -> TruthSegment:
            return TruthSegment(
                start_s=_as_float(row[1]),
                end_s=_as_float(row[2]),
                kind=_enum_or_str(TruthKind, row[3]),
                label=_as_str(row[4]),
                data=_load_object(row[5]),
                segment_id=_as_int(row[0]),
            )

        segments = self._read_table(
            "truth_segments",
            "SELECT segment_id, start_s, end_s, kind, label, data_json FROM truth_segments"
            " ORDER BY start_s, segment_id",
            convert,
        )
        return segments if kind is None else [s for s in segments if s.kind == kind]

    def check(self) -> list[str]:
        """SQLite's ``PRAGMA quick_check``: an empty list for a sound file, else its first 20 problem reports."""
        try:
            rows = [str(row[0]) for row in self._conn.execute("PRAGMA quick_check(20)")]
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            return [str(exc)]
        return [] if rows == ["ok"] else rows


# --------------------------------------------------------------------------------------------------------------
# Export, retention, migration


def iter_export_rows(
    reader: RecordingReader, *, start_s: float | None = None, end_s: float | None = None
) -> Iterator[tuple[str, str, str, str, str]]:
    """Packets as text rows for ``csv.writer``; columns are :data:`EXPORT_COLUMNS`.

    Times are seconds with 6 decimals (microseconds); a missing device time is ``""``; the payload is
    lowercase hex without separators.
    """
    for packet_id, t, char_uuid, data, t_device in reader._packet_rows(start_s, end_s):
        yield (str(packet_id), f"{t:.6f}", "" if t_device is None else f"{t_device:.6f}", char_uuid, data.hex())


@dataclass(frozen=True, slots=True)
class TrimResult:
    """What :func:`trim_raw_packets` did to one file.

    Attributes:
        path: the recording.
        cutoff_s: packets with a host time before this (seconds) were deleted.
        deleted_packets: how many.
        remaining_packets: packets left in the file.
        size_before_bytes: file size before, bytes.
        size_after_bytes: file size after, bytes.
    """

    path: Path
    cutoff_s: float
    deleted_packets: int
    remaining_packets: int
    size_before_bytes: int
    size_after_bytes: int


def trim_raw_packets(
    path: str | os.PathLike[str], *, keep_days: float, now_s: float | None = None, vacuum: bool = False
) -> TrimResult:
    """Retention: delete raw packets older than ``keep_days`` days (by host time); keep everything else.

    Calibrations, link events, episodes, prompts, minute summaries and ground truth are kept forever. The meta
    key ``raw_trimmed_before_s`` records the cut-off, so replay can say why early data is missing.

    Args:
        path: the recording.
        keep_days: keep packets from the last ``keep_days`` days (0 deletes all of them).
        now_s: the current POSIX time in seconds (default: ``time.time()``).
        vacuum: rebuild the file with ``VACUUM`` (defragments; needs free space for a copy and no other
            connection). Without it, freed pages are returned to the file system with ``incremental_vacuum``.

    Raises:
        RecordingError: the file is not a recording this version can read, or cannot be written.
    """
    if keep_days < 0 or not math.isfinite(keep_days):
        raise ValueError(f"keep_days must be a finite number >= 0, got {keep_days!r}")
    file_path = Path(path)
    opened = _open_validated(file_path, readonly=False)
    connection = opened.connection
    cutoff = (time.time() if now_s is None else now_s) - keep_days * SECONDS_PER_DAY
    size_before = file_path.stat().st_size
    try:
        connection.execute("BEGIN IMMEDIATE")
        try:
            deleted = connection.execute("DELETE FROM packets WHERE t_host_s < ?", (cutoff,)).rowcount
            if deleted:
                previous = opened.meta.get("raw_trimmed_before_s", "")
                trimmed = max(cutoff, float(previous)) if previous else cutoff
                connection.execute(_UPSERT_META, ("raw_trimmed_before_s", repr(trimmed)))
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        if deleted:
            if vacuum:
                connection.execute("VACUUM")
            else:
                connection.execute("PRAGMA incremental_vacuum")
        remaining = _as_int(connection.execute("SELECT count(*) FROM packets").fetchone()[0])
    except (sqlite3.Error, ValueError) as exc:
        raise RecordingError(f"Could not trim recording {file_path}: {_one_line(exc)}.", path=str(file_path)) from exc
    finally:
        connection.close()
    return TrimResult(file_path, cutoff, deleted, remaining, size_before, file_path.stat().st_size)


def migrate_recording(path: str | os.PathLike[str]) -> tuple[int, int]:
    """Upgrade a recording of an older minor version in place to the newest this version knows.

    Readers do not need this (they read older minor versions as they are); it is for tools that want to
    write to an old file. Returns the ``(major, minor)`` version the file has afterwards.

    Raises:
        RecordingError: not a recording, newer major version, or a migration step failed (the file is left
            unchanged: each step runs in a transaction).
    """
    file_path = Path(path)
    opened = _open_validated(file_path, readonly=False)
    connection = opened.connection
    try:
        current = user_version(*opened.version)
        while current in MIGRATIONS:
            target, step = MIGRATIONS[current]
            connection.execute("BEGIN IMMEDIATE")
            try:
                step(connection)
                connection.execute(f"PRAGMA user_version = {int(target)}")
                major, minor = split_user_version(target)
                connection.execute(_UPSERT_META, ("format_version", f"{major}.{minor}"))
                connection.execute("COMMIT")
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            current = target
    except (sqlite3.Error, UnicodeDecodeError) as exc:
        raise RecordingError(
            f"Could not migrate recording {file_path}: {_one_line(exc)}.", path=str(file_path)
        ) from exc
    finally:
        connection.close()
    return split_user_version(current)
