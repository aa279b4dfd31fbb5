"""Recording durability: kill -9 while writing, and reading files that were cut off."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from recording_support import T0_S, default_metadata, make_packet

from posturebuddy.model import PostureClass
from posturebuddy.session.recording import (
    EpisodeRecord,
    MinuteSummary,
    PacketRecord,
    RecordingDamageWarning,
    RecordingError,
    RecordingReader,
    RecordingWriter,
    open_recording,
    trim_raw_packets,
)

# The child writes packet i = make_packet(i) as fast as it can, flushing every 5 ms, and prints the number of
# packets committed after every flush. The parent kills it with SIGKILL at some point after a target count.
CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from recording_support import default_metadata, make_packet
    from posturebuddy.session.recording import RecordingWriter

    writer = RecordingWriter(sys.argv[1], default_metadata(), flush_interval_s=0.005)
    written = 0
    i = 0
    while True:
        writer.append_packet(make_packet(i))
        i += 1
        if writer.packets_written != written:
            written = writer.packets_written
            print(written, flush=True)
    """
)


@pytest.mark.parametrize("kill_after", [1, 3000, 20000])
def test_kill_9_mid_write_loses_only_the_unflushed_batch(tmp_path: Path, kill_after: int) -> None:
    path = tmp_path / "killed.pbrec"
    acknowledged = 0
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), str(Path(__file__).parent)], stdout=subprocess.PIPE, text=True
    ) as child:
        try:
            assert child.stdout is not None
            for line in child.stdout:
                acknowledged = int(line)
                if acknowledged >= kill_after:
                    break
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL
    assert acknowledged >= kill_after
    assert Path(f"{path}-wal").exists()  # it died with its write-ahead log in use

    with open_recording(path) as reader:
        assert reader.check() == []
        assert reader.metadata.closed_s is None  # it never closed
        count = reader.packet_count()
        assert count >= acknowledged  # everything flushed before the kill is there...
        assert list(reader.iter_packets()) == [make_packet(i) for i in range(count)]  # ...intact and in order
        assert reader.damage == []


# ----------------------------------------------------------------------------------------------------------------
# Cut-off files


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed recording of 20 minutes at 50 Hz (60 000 packets) plus summaries and episodes."""
    path = tmp_path_factory.mktemp("long") / "long.pbrec"
    with RecordingWriter(path, default_metadata(), clock=lambda: 0.0, max_pending=3000) as writer:
        for minute in range(20):
            writer.append_packets(make_packet(i) for i in range(minute * 3000, (minute + 1) * 3000))
            writer.append_minute_summary(MinuteSummary(T0_S + 60 * minute, {PostureClass.UPRIGHT: 60.0}))
            writer.append_episode(EpisodeRecord(PostureClass.SLOUCH, T0_S + 60 * minute + 5, T0_S + 60 * minute + 9))
    return path


@pytest.mark.parametrize("fraction", [0.999, 0.95, 0.8, 0.6, 0.45, 0.3])
def test_a_cut_off_file_is_read_up_to_the_damage_with_a_warning(
    long_recording: Path, tmp_path: Path, fraction: float
) -> None:
    path = tmp_path / "cut.pbrec"
    shutil.copy(long_recording, path)
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.truncate(int(size * fraction) | 1)  # never page-aligned: also a half page at the end

    with pytest.warns(RecordingDamageWarning) as caught:
        packets, reader = _read_packets(path)
    with reader:
        assert f"ends at byte {int(size * fraction) | 1} of {size}" in str(caught[0].message)
        # Whatever was read is exact: packet n is the n-th packet written, in order, none twice...
        ids = [p.packet_id for p in packets]
        assert ids == sorted(set(ids))
        assert all(
            (p.t_host_s, p.data) == (make_packet(p.packet_id - 1).t_host_s, make_packet(p.packet_id - 1).data)
            for p in packets
        )
        # ...and about as much as the part of the file that is left holds (normal reading, then salvage).
        assert len(packets) >= 0.9 * fraction * 60000
        # The warning says where normal reading stopped and how far salvage got.
        packet_reports = [d for d in reader.damage if d.table == "packets"]
        assert len(packet_reports) == 1
        report = packet_reports[0]
        assert report.rows_read + report.salvaged_rows == len(packets)
        if report.rows_read:
            assert report.last_good_id == ids[report.rows_read - 1]
            assert report.last_good_t_s == packets[report.rows_read - 1].t_host_s
            good = packets[report.rows_read - 1]
            assert f"after packet #{good.packet_id} at host time {good.t_host_s:.6f} s" in report.message
        else:
            assert "before its first readable packet" in report.message
        if report.salvaged_rows:
            assert (report.salvaged_last_id, report.salvaged_last_t_s) == (ids[-1], packets[-1].t_host_s)
            assert f"the last at host time {packets[-1].t_host_s:.6f} s" in report.message
        assert any(report.message == str(w.message) for w in caught)
        # The other tables are read defensively too: never an exception, at most a warning.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RecordingDamageWarning)
            summaries = reader.minute_summaries()
            assert all(s.posture_s == {PostureClass.UPRIGHT: 60.0} for s in summaries)
            reader.episodes()
            reader.prompts()
            reader.time_range()
            assert reader.packet_count() == len(packets)
            assert reader.check() != []


def test_a_file_cut_inside_its_first_pages_is_refused(long_recording: Path, tmp_path: Path) -> None:
    path = tmp_path / "stub.pbrec"
    path.write_bytes(long_recording.read_bytes()[:4000])
    with pytest.raises(RecordingError, match="damaged"):
        open_recording(path)


def test_retention_refuses_to_modify_a_cut_off_file(long_recording: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.pbrec"
    path.write_bytes(long_recording.read_bytes()[: long_recording.stat().st_size // 2])
    before = path.read_bytes()
    with pytest.raises(RecordingError, match="cut off"):
        trim_raw_packets(path, keep_days=0)
    assert path.read_bytes() == before


def _read_packets(path: Path) -> tuple[list[PacketRecord], RecordingReader]:
    reader = open_recording(path)
    return list(reader.iter_packet_records()), reader
