"""The SQL schema of the recording format, its version numbers and its migrations.

``docs/recording-format.md`` documents every table and column; keep the two in step. A change here is a
format change: bump :data:`FORMAT_MINOR` for an additive change (new table, new column with a default, new
meta key, new kind value) and add a migration step; bump :data:`FORMAT_MAJOR` for anything an older reader
would misread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from posturebuddy.model import PostureClass

FORMAT_MAJOR = 1
"""Major version of the recording format written by this code. Readers refuse files with a larger major."""

FORMAT_MINOR = 0
"""Minor version of the recording format written by this code. Minor changes are additive only."""

USER_VERSION_PER_MAJOR = 1000
"""``PRAGMA user_version`` holds ``major * 1000 + minor``."""

APPLICATION_ID = 0x50425243
"""``PRAGMA application_id`` of every recording: the ASCII bytes ``PBRC`` ("PostureBuddy recording")."""

SQLITE_HEADER = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite 3 database file."""

SQLITE_HEADER_SIZE = 100
"""Size of the SQLite database header in bytes; a shorter file cannot be a database."""

RECORDING_SUFFIX = ".pbrec"
"""File name suffix of recordings (the file is an ordinary SQLite 3 database)."""

MINUTE_POSTURE_COLUMNS: dict[PostureClass, str] = {
    PostureClass.UPRIGHT: "upright_s",
    PostureClass.FORWARD_HEAD: "forward_head_s",
    PostureClass.SLOUCH: "slouch_s",
    PostureClass.LEANING_BACK: "leaning_back_s",
    PostureClass.SIDE_LEAN: "side_lean_s",
    PostureClass.MOVING: "moving_s",
    PostureClass.AWAY: "away_s",
}
"""Column of ``minute_summaries`` holding the seconds spent in each posture class.

Fixed by the format, not generated from :class:`~posturebuddy.model.PostureClass`: a new class needs a minor
format bump that adds its column (a test checks that every class has one).
"""

REQUIRED_TABLES = frozenset({"meta", "characteristics", "packets"})
"""Tables every version of the format has. The others may be missing in files of older minor versions."""

REQUIRED_META_KEYS = ("format_version", "created_s", "tag_family", "source_kind")
"""Meta keys every version of the format has."""


def user_version(major: int, minor: int) -> int:
    """The ``PRAGMA user_version`` value for format ``major.minor``."""
    return major * USER_VERSION_PER_MAJOR + minor


def split_user_version(value: int) -> tuple[int, int]:
    """``(major, minor)`` from a ``PRAGMA user_version`` value."""
    return divmod(value, USER_VERSION_PER_MAJOR)


_minute_posture_sql = "\n".join(
    f"    {column:<16} REAL NOT NULL DEFAULT 0," for column in MINUTE_POSTURE_COLUMNS.values()
)

SCHEMA_SQL = f"""
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE characteristics (
    char_id INTEGER PRIMARY KEY,
    uuid    TEXT NOT NULL UNIQUE
);

CREATE TABLE packets (
    packet_id  INTEGER PRIMARY KEY,
    t_host_s   REAL NOT NULL,
    char_id    INTEGER NOT NULL REFERENCES characteristics (char_id),
    data       BLOB NOT NULL,
    t_device_s REAL
);

CREATE TABLE calibrations (
    calibration_id INTEGER PRIMARY KEY,
    t_s            REAL NOT NULL,
    gravity_up_x_g REAL NOT NULL,
    gravity_up_y_g REAL NOT NULL,
    gravity_up_z_g REAL NOT NULL,
    forward_x      REAL,
    forward_y      REAL,
    forward_z      REAL,
    method         TEXT NOT NULL,
    detail_json    TEXT NOT NULL DEFAULT '{{}}'
);

CREATE TABLE link_events (
    event_id  INTEGER PRIMARY KEY,
    t_s       REAL NOT NULL,
    kind      TEXT NOT NULL,
    detail    TEXT NOT NULL DEFAULT '',
    start_s   REAL,
    count     INTEGER,
    data_json TEXT NOT NULL DEFAULT '{{}}'
);

CREATE TABLE episodes (
    episode_id       INTEGER PRIMARY KEY,
    posture_class    TEXT NOT NULL,
    start_s          REAL NOT NULL,
    end_s            REAL,
    peak_total_deg   REAL,
    peak_flexion_deg REAL,
    peak_lateral_deg REAL,
    mean_total_deg   REAL,
    alerted          INTEGER NOT NULL DEFAULT 0,
    detail_json      TEXT NOT NULL DEFAULT '{{}}'
);

CREATE TABLE prompts (
    prompt_id    INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    raised_s     REAL NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    nudge        INTEGER NOT NULL DEFAULT 0,
    outcome      TEXT,
    outcome_s    REAL,
    details_json TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE minute_summaries (
    minute_start_s   REAL PRIMARY KEY,
{_minute_posture_sql}
    no_data_s        REAL NOT NULL DEFAULT 0,
    sitting_s        REAL NOT NULL DEFAULT 0,
    standing_s       REAL NOT NULL DEFAULT 0,
    walking_s        REAL NOT NULL DEFAULT 0,
    episodes         INTEGER NOT NULL DEFAULT 0,
    prompts          INTEGER NOT NULL DEFAULT 0,
    prompts_done     INTEGER NOT NULL DEFAULT 0,
    breaks           INTEGER NOT NULL DEFAULT 0,
    detail_json      TEXT NOT NULL DEFAULT '{{}}'
);

CREATE TABLE truth_segments (
    segment_id INTEGER PRIMARY KEY,
    start_s    REAL NOT NULL,
    end_s      REAL NOT NULL,
    kind       TEXT NOT NULL,
    label      TEXT NOT NULL,
    data_json  TEXT NOT NULL DEFAULT '{{}}'
);
"""
"""DDL of the current format version, run once in the transaction that creates a file."""

Migration = Callable[[sqlite3.Connection], None]
"""One migration step: brings a file from one user_version to the next, inside the caller's transaction."""

MIGRATIONS: dict[int, tuple[int, Migration]] = {}
"""``{from_user_version: (to_user_version, step)}``.

Empty while 1.0 is the only version. A minor bump adds one entry, e.g. for 1.1::

    MIGRATIONS[1000] = (1001, lambda c: c.execute("ALTER TABLE episodes ADD COLUMN source TEXT"))
"""
