"""``posturebuddy sessions delete|export`` and retention applied to the recordings directory, on real files."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
from rich.console import Console

from posturebuddy.cli import main
from posturebuddy.commands.sessions import delete_session, read_session
from posturebuddy.devices import get_family
from posturebuddy.model import PostureClass, RawPacket
from posturebuddy.session.analyze import decode_items
from posturebuddy.session.recording import (
    EpisodeRecord,
    RecordingMetadata,
    RecordingWriter,
    SourceKind,
    open_recording,
)
from posturebuddy.session.retention import apply_retention
from simulators.record import record

DAY_S = 86400.0
CHAR = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"


@pytest.fixture
def recordings(tmp_path: Path) -> Path:
    directory = tmp_path / "recordings"
    directory.mkdir()
    record(directory / "a.pbrec", "stands_and_walks", "witmotion", duration_s=20, start_epoch_s=1_767_700_000.0)
    record(directory / "b.pbrec", "stands_and_walks", "posturebuddy", duration_s=20, start_epoch_s=1_767_800_000.0)
    return directory


@pytest.fixture
def config(recordings: Path, tmp_path: Path) -> str:
    path = tmp_path / "config.toml"
    path.write_text(f"[recording]\ndirectory = {json.dumps(str(recordings))}\n", encoding="utf-8")
    return str(path)


def test_delete_with_yes_removes_the_file_and_its_companions(
    recordings: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = recordings / "a.pbrec"
    for suffix in ("-wal", "-shm"):
        (recordings / f"a.pbrec{suffix}").write_bytes(b"")
    assert main(["--config", config, "sessions", "delete", "1", "--yes"]) == 0
    assert "deleted a.pbrec, a.pbrec-wal, a.pbrec-shm" in capsys.readouterr().out
    assert sorted(p.name for p in recordings.iterdir()) == ["b.pbrec"]
    assert not target.exists()


def test_delete_asks_and_only_yes_deletes(recordings: Path) -> None:
    info = read_session(recordings / "b.pbrec")
    err = Console(stderr=True)
    questions: list[str] = []

    def no(question: str) -> str:
        questions.append(question)
        return "n"

    assert delete_session(info, yes=False, err=err, ask=no) == 0
    assert (recordings / "b.pbrec").exists()
    assert questions[0].startswith(f"Delete {recordings / 'b.pbrec'} (")
    assert "cannot be undone" in questions[0]
    assert delete_session(info, yes=False, err=err, ask=lambda _: "yes") == 0
    assert not (recordings / "b.pbrec").exists()


def test_delete_a_missing_number_fails_and_deletes_nothing(
    recordings: Path, config: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config, "sessions", "delete", "7", "--yes"]) == 1
    assert "no session 7" in capsys.readouterr().err
    assert main(["--config", config, "sessions", "delete", "one", "--yes"]) == 2
    assert len(list(recordings.iterdir())) == 2


def test_export_takes_the_format_from_the_suffix(
    recordings: Path, config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "walk.csv"
    assert main(["--config", config, "sessions", "export", "2", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with open_recording(recordings / "b.pbrec") as reader:
        samples = decode_items(reader.iter_packets(), get_family("posturebuddy")).stats.samples
        assert len(rows) == samples > 900  # every decoded sample (20 s at 50 Hz), nothing else
    assert {"t_s", "accel_x_g", "quat_w", "flexion_deg", "posture"} <= set(rows[0])
    assert "gyro_x_dps" not in rows[0]  # the tag sends no angular rate: no empty column
    with (tmp_path / "walk.events.csv").open(encoding="utf-8") as fh:
        kinds = {e["kind"] for e in csv.DictReader(fh)}
    assert "truth:activity" in kinds  # the simulator's ground truth goes along
    pq = pytest.importorskip("pyarrow.parquet")
    assert main(["--config", config, "sessions", "export", "2", str(tmp_path / "walk.parquet")]) == 0
    assert pq.read_table(tmp_path / "walk.parquet").num_rows == len(rows)
    assert main(["--config", config, "sessions", "export", "2", str(tmp_path / "walk.xlsx")]) == 2
    assert ".csv or .parquet" in capsys.readouterr().err


def _live_recording(path: Path, first_s: float, minutes: int, *, close: bool = True) -> RecordingWriter:
    """A live-kind recording with one packet a second from ``first_s`` and an episode at its start."""
    meta = RecordingMetadata(tag_family="posturebuddy", source_kind=SourceKind.LIVE, created_s=first_s)
    writer = RecordingWriter(path, meta)
    for k in range(minutes * 60):
        writer.append_packet(RawPacket(first_s + k, CHAR, bytes(20)))
    writer.append_episode(EpisodeRecord(PostureClass.SLOUCH, first_s + 10.0, first_s + 70.0, episode_id=1))
    writer.flush()
    if close:
        writer.close()
    return writer


def test_retention_trims_old_raw_data_and_keeps_the_rest(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    directory = tmp_path / "recordings"
    now = time.time()
    old = directory / "old.pbrec"
    _live_recording(old, now - 40 * DAY_S, 2)
    spanning = directory / "spanning.pbrec"  # straddles the cut-off: only its older part goes
    _live_recording(spanning, now - 30 * DAY_S - 30.0, 1)
    recent = directory / "recent.pbrec"
    _live_recording(recent, now - 2 * DAY_S, 1)
    simulated = directory / "sim.pbrec"  # made just now, although its scenario is dated long ago
    record(simulated, "stands_and_walks", "posturebuddy", duration_s=10, start_epoch_s=1_700_000_000.0)
    busy = directory / "busy.pbrec"  # being written (not closed): never touched
    writer = _live_recording(busy, now - 50 * DAY_S, 1, close=False)
    try:
        sizes = {p.name: p.stat().st_size for p in (recent, simulated)}
        with caplog.at_level("INFO", logger="posturebuddy.session.retention"):
            trimmed = apply_retention(directory, 30, exclude=[recent], now_s=now)
        assert sorted(t.path.name for t in trimmed) == ["old.pbrec", "spanning.pbrec"]
        with open_recording(old) as reader:
            assert reader.packet_count() == 0
            assert len(reader.episodes()) == 1  # summaries and events are kept forever
            assert reader.metadata.raw_trimmed_before_s == pytest.approx(now - 30 * DAY_S)
        with open_recording(spanning) as reader:
            assert reader.packet_count() == 30
        with open_recording(busy) as reader:
            assert reader.packet_count() == 60
        assert {p.name: p.stat().st_size for p in (recent, simulated)} == sizes
        assert "deleted 120 raw packets older than 30 days from old.pbrec" in caplog.text
        # Applied again, there is nothing more to do.
        assert apply_retention(directory, 30, now_s=now) == []
    finally:
        writer.close()


def test_sessions_list_applies_retention(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = tmp_path / "recordings"
    _live_recording(directory / "old.pbrec", time.time() - 100 * DAY_S, 1)
    config = tmp_path / "config.toml"
    config.write_text(f"[recording]\ndirectory = {json.dumps(str(directory))}\nretention_days = 60\n", encoding="utf-8")
    assert main(["--config", str(config), "sessions", "list", "--json"]) == 0
    captured = capsys.readouterr()
    assert "retention: deleted 60 raw packets older than 60 days from 1 recording(s)" in captured.err
    [listed] = json.loads(captured.out)
    assert listed["packets"] == 0
    assert listed["episodes"] == 1
