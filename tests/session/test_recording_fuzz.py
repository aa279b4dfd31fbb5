"""Whatever bytes a file holds, opening and reading it raises nothing but RecordingError.

Damage may add RecordingDamageWarning (ignored here); it must never escape as sqlite3, struct, JSON, Unicode or
any other exception.
"""

from __future__ import annotations

import functools
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from recording_support import T0_S, default_metadata, make_packet

from posturebuddy.model import PostureClass, PromptKind
from posturebuddy.session.recording import (
    CalibrationRecord,
    EpisodeRecord,
    LinkEventKind,
    LinkEventRecord,
    MinuteSummary,
    PacketRecord,
    PromptRecord,
    RecordingDamageWarning,
    RecordingError,
    RecordingReader,
    RecordingWriter,
    TruthSegment,
    iter_export_rows,
    open_recording,
)

SQLITE_HEADER = b"SQLite format 3\x00"
PAGE_SIZE = 4096


def read_everything(path: Path) -> None:
    """Open ``path`` and read every part of it; only RecordingError may come out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingDamageWarning)
        try:
            with open_recording(path) as reader:
                _ = reader.metadata, reader.characteristics
                for _packet in reader.iter_packets():
                    pass
                list(reader.iter_packet_records(start_s=T0_S + 1.0, end_s=T0_S + 2.0))
                list(iter_export_rows(reader))
                reader.packet_count()
                reader.time_range()
                reader.calibrations()
                reader.link_events()
                reader.episodes()
                reader.prompts()
                reader.minute_summaries()
                reader.truth_segments()
                reader.check()
        except RecordingError:
            pass


@functools.cache
def sample_bytes() -> bytes:
    """A small, complete recording (every table has rows) as bytes."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sample.pbrec"
        _write_sample(path)
        return path.read_bytes()


def _write_sample(path: Path) -> None:
    with RecordingWriter(path, default_metadata(), clock=lambda: 0.0) as writer:
        writer.append_packets(make_packet(i) for i in range(600))
        writer.append_calibration(CalibrationRecord(T0_S, (0.0, 0.1, 0.99), (1.0, 0.0, 0.0), detail={"n": 3}))
        writer.append_link_event(LinkEventRecord(T0_S + 1, LinkEventKind.GAP, "lost", T0_S, 3, {"x": 1}))
        writer.append_episode(EpisodeRecord(PostureClass.SLOUCH, T0_S + 2, T0_S + 5, 30.0, detail={"k": "v"}))
        writer.append_prompt(PromptRecord(1, PromptKind.BREAK, T0_S + 3, "r", details=(("a", "b"),)))
        writer.append_minute_summary(MinuteSummary(T0_S, {PostureClass.UPRIGHT: 60.0}, detail={"d": 1}))
        writer.append_truth_segment(TruthSegment(T0_S, T0_S + 5, "posture", "upright", {"t": 2}))


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def _write(scratch: Path, data: bytes) -> Path:
    path = scratch / "fuzz.pbrec"
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        leftover.unlink(missing_ok=True)
    path.write_bytes(data)
    return path


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.binary(max_size=3 * PAGE_SIZE))
def test_random_bytes_raise_only_recording_error(scratch: Path, data: bytes) -> None:
    path = _write(scratch, data)
    with pytest.raises(RecordingError):
        open_recording(path)


@FUZZ
@given(tail=st.binary(max_size=2 * PAGE_SIZE))
def test_an_sqlite_header_followed_by_noise_raises_only_recording_error(scratch: Path, tail: bytes) -> None:
    read_everything(_write(scratch, SQLITE_HEADER + tail))


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(min_value=0), st.binary(min_size=1, max_size=64)), min_size=1, max_size=8))
def test_a_corrupted_recording_raises_only_recording_error(scratch: Path, edits: list[tuple[int, bytes]]) -> None:
    data = bytearray(sample_bytes())
    for position, patch in edits:
        at = position % len(data)
        data[at : at + len(patch)] = patch[: len(data) - at]
    read_everything(_write(scratch, bytes(data)))


@FUZZ
@given(cut=st.integers(min_value=1))
def test_a_recording_cut_anywhere_raises_only_recording_error(scratch: Path, cut: int) -> None:
    data = sample_bytes()
    read_everything(_write(scratch, data[: cut % len(data)]))


def test_a_page_destroyed_mid_file_is_read_around_with_salvage(tmp_path: Path) -> None:
    path = tmp_path / "holed.pbrec"
    with RecordingWriter(path, default_metadata(), clock=lambda: 0.0, max_pending=5000) as writer:
        writer.append_packets(make_packet(i) for i in range(20000))
    data = bytearray(path.read_bytes())
    middle_page = len(data) // PAGE_SIZE // 3
    data[middle_page * PAGE_SIZE : (middle_page + 1) * PAGE_SIZE] = b"\xa5" * PAGE_SIZE
    path.write_bytes(bytes(data))
    with pytest.warns(RecordingDamageWarning, match=r"stopped after packet #\d+ .* were recovered") as caught:
        packets, reader = _read_packets(path)
    with reader:
        assert all(p.data == make_packet(p.packet_id - 1).data for p in packets)
        assert 19000 < len(packets) < 20000  # one leaf page (~85 packets) is lost, the rest is read
        assert packets[-1].packet_id == 20000
        assert "packet numbers in that span are lost" in str(caught[0].message)


def _read_packets(path: Path) -> tuple[list[PacketRecord], RecordingReader]:
    reader = open_recording(path)
    return list(reader.iter_packet_records()), reader
