"""Recording format: round trips, batching, permissions, errors, versions, seek, retention, export."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from recording_support import (
    ACCEL_CHAR_UUID,
    BATTERY_CHAR_UUID,
    T0_S,
    FakeClock,
    WriterFactory,
    default_metadata,
    make_packet,
    write_recording,
)

from posturebuddy.model import (
    BatteryLevel,
    BatteryRead,
    ConnectionState,
    ConnectionStateChanged,
    GapDetected,
    LinkStatsUpdated,
    NudgeSent,
    PacketRejected,
    PostureClass,
    Prompt,
    PromptKind,
    PromptOutcome,
    RawPacket,
)
from posturebuddy.session.recording import (
    EXPORT_COLUMNS,
    FORMAT_MAJOR,
    FORMAT_MINOR,
    CalibrationRecord,
    EpisodeRecord,
    LinkEventKind,
    LinkEventRecord,
    MinuteSummary,
    PacketRecord,
    PromptRecord,
    RecordingError,
    RecordingVersionError,
    RecordingWriter,
    SourceKind,
    TruthKind,
    TruthSegment,
    iter_export_rows,
    link_event_record,
    migrate_recording,
    open_recording,
    trim_raw_packets,
)
from posturebuddy.session.recording_schema import APPLICATION_ID, MINUTE_POSTURE_COLUMNS

# Wire constants re-declared here on purpose: a change to them is a format change.
PBRC_APPLICATION_ID = 0x50425243
USER_VERSION_1_0 = 1000


def rows_in_file(path: Path, table: str = "packets") -> int:
    """Rows committed to ``table``, as a separate connection sees them."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        connection.close()


# ----------------------------------------------------------------------------------------------------------------
# Round trip


def test_wire_constants() -> None:
    assert APPLICATION_ID == PBRC_APPLICATION_ID
    assert (FORMAT_MAJOR, FORMAT_MINOR) == (1, 0)


def test_every_posture_class_has_a_minute_summary_column() -> None:
    assert set(MINUTE_POSTURE_COLUMNS) == set(PostureClass)


def test_round_trip_of_every_record_kind(make_writer: WriterFactory) -> None:
    writer = make_writer()
    packets = [make_packet(i) for i in range(10)] + [RawPacket(T0_S + 0.1, BATTERY_CHAR_UUID, b"\x55")]
    for i, packet in enumerate(packets):
        writer.append_packet(packet, device_time_s=12.5 + i if i % 2 else None)
    calibrations = [
        CalibrationRecord(
            T0_S + 1, (0.01, -0.02, 0.99), (1.0, 0.0, 0.0), "guided", {"samples": 150, "spread_deg": 1.5}
        ),
        CalibrationRecord(T0_S + 2, (0.1, 0.0, 0.98)),
    ]
    for calibration in calibrations:
        writer.append_calibration(calibration)
    events = [
        ConnectionStateChanged(
            T0_S + 3, ConnectionState.RECONNECTING, "C0:FF:EE:00:00:01", "link lost", expected=False
        ),
        GapDetected(T0_S + 4, start_s=T0_S + 3, lost_packets=50, reason="disconnected"),
        PacketRejected(T0_S + 4.5, ACCEL_CHAR_UUID, "length 3, expected 20"),
        BatteryRead(T0_S + 5, BatteryLevel(T0_S + 5, 87, 3.9)),
        NudgeSent(T0_S + 6, "gentle", ok=True),
        LinkStatsUpdated(T0_S + 7, received=500, dropped_queue_full=0, rejected=1, lost_by_sequence=50, rate_hz=49.9),
    ]
    for event in events:
        writer.append_link_event(link_event_record(event))
    writer.append_link_event(LinkEventRecord(T0_S + 8, "custom_kind", "from a newer writer"))
    open_episode = EpisodeRecord(PostureClass.SLOUCH, T0_S + 10, episode_id=1)
    closed_episode = EpisodeRecord(
        PostureClass.SLOUCH, T0_S + 10, T0_S + 70, 31.5, 28.0, -3.5, 22.25, alerted=True, episode_id=1
    )
    other_episode = EpisodeRecord(PostureClass.FORWARD_HEAD, T0_S + 80, T0_S + 90, 18.0, detail={"note": "short"})
    writer.append_episode(open_episode)
    writer.flush()
    writer.append_episode(closed_episode)  # replaces the open version
    writer.append_episode(other_episode)
    prompt = Prompt(1, PromptKind.SIT_TALL, T0_S + 70, "slouched for 60 s", nudge=True, details=(("angle", "31"),))
    writer.append_prompt(prompt)
    writer.append_prompt_outcome(1, PromptOutcome.DONE, T0_S + 75)
    writer.append_prompt(PromptRecord(2, PromptKind.BREAK, T0_S + 100, "sitting for 50 min"))
    minute = MinuteSummary(
        T0_S + 60,
        {PostureClass.UPRIGHT: 30.0, PostureClass.SLOUCH: 25.5, PostureClass.MOVING: 4.5},
        no_data_s=0.0,
        sitting_s=55.5,
        standing_s=4.5,
        walking_s=0.0,
        episodes=1,
        prompts=1,
        prompts_done=1,
        breaks=0,
        detail={"mean_flexion_deg": 12.0},
    )
    writer.append_minute_summary(minute)
    truth = [
        TruthSegment(T0_S, T0_S + 10, TruthKind.POSTURE, "upright"),
        TruthSegment(T0_S + 10, T0_S + 70, TruthKind.POSTURE, "slouch", {"flexion_deg": 30.0}),
        TruthSegment(T0_S + 70, T0_S + 70, TruthKind.ALERT, "slouch", {"tolerance_s": 5}),
        TruthSegment(T0_S + 100, T0_S + 400, TruthKind.BREAK, "walk"),
    ]
    writer.append_truth_segments(truth)
    writer.update_extra({"faults": ["drop_5s"]})
    writer.close()

    with open_recording(writer.path) as reader:
        meta = reader.metadata
        assert meta.tag_family == "posturebuddy"
        assert meta.source_kind is SourceKind.SIMULATED
        assert (meta.tag_address, meta.tag_name, meta.sample_rate_hz) == ("C0:FF:EE:00:00:01", "PB-Tag", 50.0)
        assert meta.created_s == T0_S - 5.0
        assert meta.closed_s == T0_S - 5.0
        assert meta.extra == {"scenario": "office_day", "seed": 7, "faults": ["drop_5s"]}
        assert meta.format_version == (1, 0) == reader.format_version
        assert meta.session_id == writer.metadata.session_id
        assert len(meta.session_id) == 32
        assert meta.app_version
        assert meta.host_time_regressions == 1  # the battery packet is earlier than packet 9
        assert reader.characteristics == {0: ACCEL_CHAR_UUID, 1: BATTERY_CHAR_UUID}

        assert list(reader.iter_packets()) == packets
        records = list(reader.iter_packet_records())
        assert records[1] == PacketRecord(2, packets[1].t_host_s, ACCEL_CHAR_UUID, packets[1].data, 13.5)
        assert records[0].t_device_s is None
        assert reader.packet_count() == 11
        assert reader.time_range() == (T0_S, packets[9].t_host_s)

        assert [c.calibration_id for c in reader.calibrations()] == [1, 2]
        assert [(c.t_s, c.gravity_up_g, c.forward_axis, c.method, c.detail) for c in reader.calibrations()] == [
            (c.t_s, c.gravity_up_g, c.forward_axis, c.method, c.detail) for c in calibrations
        ]

        link_events = reader.link_events()
        assert [e.kind for e in link_events] == [*list(LinkEventKind)[:6], "custom_kind"]
        assert link_events[0].detail == "reconnecting"
        assert link_events[0].data == {"address": "C0:FF:EE:00:00:01", "reason": "link lost", "expected": False}
        assert (link_events[1].start_s, link_events[1].count, link_events[1].detail) == (T0_S + 3, 50, "disconnected")
        assert link_events[3].count == 87
        assert link_events[3].data == {"voltage_v": 3.9}
        assert link_events[5].data["rate_hz"] == 49.9

        episodes = reader.episodes()
        assert episodes == [closed_episode, dataclasses.replace(other_episode, episode_id=2)]
        assert episodes[0].duration_s == 60.0

        prompts = reader.prompts()
        assert prompts[0] == PromptRecord(
            1,
            PromptKind.SIT_TALL,
            T0_S + 70,
            "slouched for 60 s",
            True,
            PromptOutcome.DONE,
            T0_S + 75,
            (("angle", "31"),),
        )
        assert prompts[1] == PromptRecord(2, PromptKind.BREAK, T0_S + 100, "sitting for 50 min")

        assert reader.minute_summaries() == [minute]
        assert [(s.start_s, s.end_s, s.kind, s.label, s.data) for s in reader.truth_segments()] == [
            (s.start_s, s.end_s, s.kind, s.label, s.data) for s in truth
        ]
        assert [s.label for s in reader.truth_segments(TruthKind.BREAK)] == ["walk"]
        assert reader.check() == []
        assert reader.damage == []


def test_link_event_record_refuses_other_events() -> None:
    from posturebuddy.model import Event

    with pytest.raises(TypeError, match="not a link-level event"):
        link_event_record(Event(1.0))


def test_an_empty_recording_reads_as_empty(make_writer: WriterFactory) -> None:
    writer = make_writer()
    writer.close()
    with open_recording(writer.path) as reader:
        assert reader.packet_count() == 0
        assert reader.time_range() is None
        assert list(reader.iter_packets(start_s=T0_S)) == []
        assert (reader.episodes(), reader.prompts(), reader.minute_summaries()) == ([], [], [])


def test_metadata_defaults_and_unknown_sample_rate(make_writer: WriterFactory) -> None:
    writer = make_writer(metadata=default_metadata(sample_rate_hz=None, source_kind=SourceKind.LIVE, extra={}))
    writer.close()
    with open_recording(writer.path) as reader:
        assert reader.metadata.sample_rate_hz is None
        assert reader.metadata.source_kind == "live"
        assert reader.metadata.raw_trimmed_before_s is None


# ----------------------------------------------------------------------------------------------------------------
# Batching and flushing


def test_appends_wait_in_memory_until_the_oldest_has_waited_the_flush_interval(
    make_writer: WriterFactory, clock: FakeClock
) -> None:
    writer = make_writer(flush_interval_s=1.0)
    writer.append_packet(make_packet(0))
    clock.advance(0.6)
    writer.append_packet(make_packet(1))
    assert rows_in_file(writer.path) == 0
    assert writer.pending_packets == 2
    clock.advance(0.39)
    assert writer.maybe_flush() is False
    clock.advance(0.01)  # the first packet has now waited 1.0 s
    writer.append_packet(make_packet(2))
    assert rows_in_file(writer.path) == 3
    assert (writer.pending_packets, writer.packets_written) == (0, 3)


def test_the_flush_deadline_starts_with_the_first_pending_record(make_writer: WriterFactory, clock: FakeClock) -> None:
    writer = make_writer(flush_interval_s=1.0)
    clock.advance(50.0)  # a long quiet time must not make the next packet flush on its own
    writer.append_packet(make_packet(0))
    assert rows_in_file(writer.path) == 0
    clock.advance(1.0)
    assert writer.maybe_flush() is True
    assert rows_in_file(writer.path) == 1
    assert writer.maybe_flush() is False  # nothing pending


def test_other_records_are_flushed_by_the_clock_too(make_writer: WriterFactory, clock: FakeClock) -> None:
    writer = make_writer(flush_interval_s=0.5)
    writer.append_link_event(LinkEventRecord(T0_S, LinkEventKind.NOTE, "started"))
    assert rows_in_file(writer.path, "link_events") == 0
    clock.advance(0.5)
    writer.append_episode(EpisodeRecord(PostureClass.SLOUCH, T0_S))
    assert rows_in_file(writer.path, "link_events") == 1
    assert rows_in_file(writer.path, "episodes") == 1


def test_max_pending_forces_a_flush(make_writer: WriterFactory) -> None:
    writer = make_writer(max_pending=100)
    for i in range(250):
        writer.append_packet(make_packet(i))
    assert rows_in_file(writer.path) == 200
    writer.flush()
    assert rows_in_file(writer.path) == 250


def test_close_flushes_and_the_context_manager_closes(tmp_path: Path) -> None:
    path = tmp_path / "ctx.pbrec"
    writer = open_writer(path)

    def fail_while_recording() -> None:
        with writer:
            writer.append_packet(make_packet(0))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_while_recording()
    assert writer.closed
    writer.close()  # twice is fine
    assert rows_in_file(path) == 1
    assert not Path(f"{path}-wal").exists()  # a closed recording is one self-contained file
    with pytest.raises(RecordingError, match="closed"):
        writer.append_packet(make_packet(1))
    with pytest.raises(RecordingError, match="closed"):
        writer.append_episode(EpisodeRecord(PostureClass.SLOUCH, T0_S))


def open_writer(path: Path) -> RecordingWriter:
    return RecordingWriter(path, default_metadata(), clock=FakeClock())


def test_bad_values_are_refused_at_append_time(make_writer: WriterFactory) -> None:
    writer = make_writer()
    with pytest.raises(ValueError, match="finite"):
        writer.append_packet(RawPacket(math.nan, ACCEL_CHAR_UUID, b""))
    with pytest.raises(ValueError, match="finite"):
        writer.append_packet(make_packet(0), device_time_s=math.inf)
    with pytest.raises(ValueError, match="finite"):
        writer.append_episode(EpisodeRecord(PostureClass.SLOUCH, T0_S, peak_total_deg=math.nan))
    with pytest.raises(ValueError, match="JSON"):
        writer.append_truth_segment(TruthSegment(T0_S, T0_S, "posture", "x", {"bad": {1, 2}}))
    with pytest.raises(ValueError, match="JSON"):
        writer.append_calibration(CalibrationRecord(T0_S, (0.0, 0.0, 1.0), detail={"x": math.nan}))
    writer.close()
    assert rows_in_file(writer.path) == 0


def test_a_failed_flush_keeps_the_batch_for_the_next_attempt(make_writer: WriterFactory) -> None:
    writer = make_writer()
    writer.append_packet(make_packet(0))
    blocker = sqlite3.connect(writer.path, timeout=0.0)
    blocker.execute("BEGIN IMMEDIATE")  # hold the write lock
    writer._connection.execute("PRAGMA busy_timeout = 0")  # type: ignore[union-attr]
    with pytest.raises(RecordingError, match="kept in memory"):
        writer.flush()
    assert writer.pending_packets == 1
    blocker.rollback()
    blocker.close()
    writer.flush()
    assert rows_in_file(writer.path) == 1


# ----------------------------------------------------------------------------------------------------------------
# Files and permissions


def test_file_is_private_and_its_new_directory_too(tmp_path: Path, clock: FakeClock) -> None:
    old_umask = os.umask(0o022)
    try:
        existing = tmp_path / "existing"
        existing.mkdir()
        existing.chmod(0o755)
        path = existing / "new" / "dir" / "s.pbrec"
        writer = RecordingWriter(path, default_metadata(), clock=clock)
        writer.append_packet(make_packet(0))
        writer.flush()
        assert path.stat().st_mode & 0o777 == 0o600
        for suffix in ("-wal", "-shm"):
            assert Path(f"{path}{suffix}").stat().st_mode & 0o777 == 0o600
        assert path.parent.stat().st_mode & 0o777 == 0o700
        assert path.parent.parent.stat().st_mode & 0o777 == 0o700
        assert existing.stat().st_mode & 0o777 == 0o755  # an existing directory is left as it was
        writer.close()
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old_umask)


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "exists.pbrec"
    path.write_bytes(b"precious")
    with pytest.raises(RecordingError, match="already exists"):
        RecordingWriter(path, default_metadata())
    assert path.read_bytes() == b"precious"


def test_importing_the_recording_module_stays_light() -> None:
    code = (
        "import sys, posturebuddy.session.recording as r; "
        "bad = {'asyncio', 'textual', 'bleak', 'numpy'} & set(sys.modules); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


# ----------------------------------------------------------------------------------------------------------------
# Files that are not recordings


def _sqlite_file(path: Path, *statements: str) -> Path:
    connection = sqlite3.connect(path)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: p, "does not exist", id="missing"),
        pytest.param(lambda p: (p.mkdir(), p)[1], "is a directory", id="directory"),
        pytest.param(lambda p: (p.write_bytes(b""), p)[1], r"is empty \(0 bytes\)", id="empty"),
        pytest.param(
            lambda p: (p.write_bytes(bytes(range(256)) * 8), p)[1], "not an SQLite database", id="random-bytes"
        ),
        pytest.param(lambda p: (p.write_text("t,x\n1,2\n"), p)[1], "not an SQLite database", id="csv-text"),
        pytest.param(lambda p: (p.write_bytes(b"SQLite format 3\x00\x10"), p)[1], "cut off after 17 bytes", id="stub"),
        pytest.param(
            lambda p: _sqlite_file(p, "CREATE TABLE notes (x TEXT)"),
            "SQLite database but not a PostureBuddy recording",
            id="other-sqlite",
        ),
        pytest.param(
            lambda p: _sqlite_file(p, "CREATE TABLE meta (key TEXT, value TEXT)", "CREATE TABLE packets (x)"),
            "not a PostureBuddy recording",
            id="lookalike-without-application-id",
        ),
        pytest.param(
            lambda p: _sqlite_file(p, f"PRAGMA application_id = {PBRC_APPLICATION_ID}", "CREATE TABLE meta (k, v)"),
            "damaged PostureBuddy recording",
            id="unfinished-creation",
        ),
    ],
)
def test_files_that_are_not_recordings_get_a_specific_error(tmp_path: Path, make: object, message: str) -> None:
    path = make(tmp_path / "file.pbrec")  # type: ignore[operator]
    with pytest.raises(RecordingError, match=message) as info:
        open_recording(path)
    assert str(path) in str(info.value)
    assert info.value.path == str(path)


def test_missing_metadata_keys_are_reported(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "r.pbrec", 3)
    _sqlite_file(path, "DELETE FROM meta WHERE key = 'tag_family'")
    with pytest.raises(RecordingError, match="metadata lacks tag_family"):
        open_recording(path)


def test_invalid_metadata_is_reported(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "r.pbrec", 3)
    _sqlite_file(path, "UPDATE meta SET value = 'soon' WHERE key = 'created_s'")
    with pytest.raises(RecordingError, match="metadata is invalid"):
        open_recording(path)


# ----------------------------------------------------------------------------------------------------------------
# Versions


def test_a_newer_major_version_is_refused_with_advice_to_upgrade(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "future.pbrec", 3)
    _sqlite_file(path, "PRAGMA user_version = 2003")
    with pytest.raises(RecordingVersionError, match=r"format 2\.3.*Upgrade PostureBuddy") as info:
        open_recording(path)
    assert info.value.found == (2, 3)
    assert info.value.supported_major == 1
    with pytest.raises(RecordingVersionError):
        trim_raw_packets(path, keep_days=0)


def test_a_newer_minor_version_is_read_and_unknown_values_pass_through(tmp_path: Path) -> None:
    path = tmp_path / "newer.pbrec"
    with open_writer(path) as writer:
        writer.append_packet(make_packet(0))
        writer.append_episode(EpisodeRecord(PostureClass.SLOUCH, T0_S))
    _sqlite_file(
        path,
        f"PRAGMA user_version = {USER_VERSION_1_0 + 4}",
        "CREATE TABLE markers (t_s REAL, text TEXT)",
        "ALTER TABLE episodes ADD COLUMN confidence REAL",
        "INSERT INTO episodes (posture_class, start_s, confidence) VALUES ('twisted', 5.0, 0.9)",
        "INSERT INTO meta VALUES ('future_key', 'x')",
        "UPDATE meta SET value = 'replayed' WHERE key = 'source_kind'",
    )
    with open_recording(path) as reader:
        assert reader.format_version == (1, 4)
        assert reader.metadata.source_kind == "replayed"
        assert [e.posture_class for e in reader.episodes()] == ["twisted", PostureClass.SLOUCH]
        assert reader.packet_count() == 1
    assert migrate_recording(path) == (1, 4)  # nothing to do for a newer minor


def test_an_older_minor_version_without_optional_tables_reads_as_empty(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "older.pbrec", 5)
    _sqlite_file(path, "DROP TABLE truth_segments", "DROP TABLE minute_summaries", "DROP TABLE prompts")
    with open_recording(path) as reader:
        assert (reader.truth_segments(), reader.minute_summaries(), reader.prompts()) == ([], [], [])
        assert reader.packet_count() == 5
    assert migrate_recording(path) == (FORMAT_MAJOR, FORMAT_MINOR)


def test_migration_steps_run_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from posturebuddy.session import recording_schema

    path = write_recording(tmp_path / "old.pbrec", 2)
    _sqlite_file(path, "PRAGMA user_version = 998")  # pretend a "0.998" file existed with a known upgrade path

    def add_column(connection: sqlite3.Connection) -> None:
        connection.execute("ALTER TABLE packets ADD COLUMN flags INTEGER")

    monkeypatch.setitem(recording_schema.MIGRATIONS, 998, (999, add_column))
    monkeypatch.setitem(recording_schema.MIGRATIONS, 999, (1000, lambda connection: None))
    with pytest.raises(RecordingError, match="damaged"):
        open_recording(path)  # major 0 is not a version this reader knows
    _sqlite_file(path, "PRAGMA user_version = 1000")
    monkeypatch.setitem(recording_schema.MIGRATIONS, 1000, (1001, add_column))
    assert migrate_recording(path) == (1, 1)
    with open_recording(path) as reader:
        assert reader.format_version == (1, 1)
        assert reader.packet_count() == 2


# ----------------------------------------------------------------------------------------------------------------
# Seek and time order


def test_seek_by_start_and_end_time(make_writer: WriterFactory) -> None:
    writer = make_writer()
    writer.append_packets(make_packet(i) for i in range(1000))
    writer.close()
    with open_recording(writer.path) as reader:
        window = list(reader.iter_packet_records(start_s=T0_S + 10.0, end_s=T0_S + 10.5))
        assert [r.packet_id for r in window] == list(range(501, 527))
        assert list(reader.iter_packets(start_s=T0_S + 10.001)) == [make_packet(i) for i in range(501, 1000)]
        assert list(reader.iter_packets(start_s=T0_S + 1000)) == []
        assert list(reader.iter_packets(start_s=T0_S - 1000)) == [make_packet(i) for i in range(1000)]
        assert list(reader.iter_packets(end_s=T0_S + 0.05)) == [make_packet(i) for i in range(3)]


def test_host_time_going_backwards_keeps_arrival_order_and_seek_still_filters(make_writer: WriterFactory) -> None:
    writer = make_writer()
    times = [10.0, 11.0, 5.0, 12.0, 6.0, 13.0]  # e.g. the wall clock was stepped back
    packets = [RawPacket(T0_S + t, ACCEL_CHAR_UUID, bytes([i])) for i, t in enumerate(times)]
    writer.append_packets(packets)
    writer.close()
    with open_recording(writer.path) as reader:
        assert reader.metadata.host_time_regressions == 2
        assert list(reader.iter_packets()) == packets
        assert [p.data[0] for p in reader.iter_packets(start_s=T0_S + 10.5)] == [1, 3, 5]
        assert [p.data[0] for p in reader.iter_packets(start_s=T0_S + 5.5, end_s=T0_S + 11.5)] == [0, 1, 4]
        assert reader.time_range() == (T0_S + 5.0, T0_S + 13.0)


def test_a_reader_sees_flushed_packets_while_the_writer_is_still_open(
    make_writer: WriterFactory, clock: FakeClock
) -> None:
    writer = make_writer()
    writer.append_packets(make_packet(i) for i in range(10))
    clock.advance(1.0)
    writer.maybe_flush()
    writer.append_packet(make_packet(10))  # still in memory
    with open_recording(writer.path) as reader:
        assert reader.packet_count() == 10
        assert reader.metadata.closed_s is None


# ----------------------------------------------------------------------------------------------------------------
# Retention and export


def test_retention_trims_raw_packets_and_keeps_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "old.pbrec"
    with open_writer(path) as writer:
        writer.append_packets(make_packet(i, rate_hz=1 / 60) for i in range(3 * 1440))  # one a minute, 3 days
        writer.append_minute_summary(MinuteSummary(T0_S, {PostureClass.UPRIGHT: 60.0}, sitting_s=60.0))
        writer.append_episode(EpisodeRecord(PostureClass.SLOUCH, T0_S, T0_S + 30))
        writer.append_prompt(PromptRecord(1, PromptKind.SIT_TALL, T0_S + 30))
        writer.append_calibration(CalibrationRecord(T0_S, (0.0, 0.0, 1.0)))
        writer.append_truth_segment(TruthSegment(T0_S, T0_S + 60, TruthKind.POSTURE, "upright"))
    now_s = T0_S + 3 * 86400
    result = trim_raw_packets(path, keep_days=1.0, now_s=now_s)
    assert result.cutoff_s == now_s - 86400
    assert result.deleted_packets + result.remaining_packets == 3 * 1440
    with open_recording(path) as reader:
        assert reader.packet_count() == result.remaining_packets
        first = next(reader.iter_packets())
        assert first.t_host_s >= now_s - 86400
        assert reader.metadata.raw_trimmed_before_s == now_s - 86400
        assert len(reader.minute_summaries()) == len(reader.episodes()) == len(reader.prompts()) == 1
        assert len(reader.calibrations()) == len(reader.truth_segments()) == 1

    result = trim_raw_packets(path, keep_days=0, now_s=now_s + 1e6, vacuum=True)
    assert result.remaining_packets == 0
    assert result.size_after_bytes < result.size_before_bytes
    with open_recording(path) as reader:
        assert reader.packet_count() == 0
        assert len(reader.minute_summaries()) == 1
        assert reader.metadata.raw_trimmed_before_s == now_s + 1e6


def test_retention_with_nothing_to_trim_changes_nothing(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "r.pbrec", 10)
    result = trim_raw_packets(path, keep_days=30, now_s=T0_S)
    assert (result.deleted_packets, result.remaining_packets) == (0, 10)
    with open_recording(path) as reader:
        assert reader.metadata.raw_trimmed_before_s is None
    with pytest.raises(ValueError, match="keep_days"):
        trim_raw_packets(path, keep_days=-1)


def test_export_rows_for_csv(make_writer: WriterFactory) -> None:
    writer = make_writer()
    writer.append_packet(make_packet(0), device_time_s=1.25)
    writer.append_packet(RawPacket(T0_S + 0.000002, BATTERY_CHAR_UUID, b"\x64"))
    writer.close()
    with open_recording(writer.path) as reader:
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\n")
        out.writerow(EXPORT_COLUMNS)
        out.writerows(iter_export_rows(reader))
    assert buffer.getvalue().splitlines() == [
        "packet_id,t_host_s,t_device_s,char_uuid,data_hex",
        f"1,1700000000.000000,1.250000,{ACCEL_CHAR_UUID},{'00000000' * 5}",
        f"2,1700000000.000002,,{BATTERY_CHAR_UUID},64",
    ]
