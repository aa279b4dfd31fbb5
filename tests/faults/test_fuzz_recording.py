"""Fuzzing the recording reader with damaged copies of a *real* recording, and of an unclosed one's WAL.

tests/session/test_recording_fuzz.py damages a small synthetic file (counting packets). Here the file is a real
recording of the simulator's PostureBuddy Tag (``simulators.record``: genuine motion frames, info and battery
reads, ground truth), and the questions are the user's: does ``posturebuddy analyze`` of a damaged file give a
result or one clear line (never a traceback or a hang), and does a crash-time WAL with flipped or missing bytes
read back as exact packets? Reproduce a failure with the printed ``--hypothesis-seed`` or ``@reproduce_failure``
blob (fuzz_support.py).
"""

from __future__ import annotations

import functools
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzz_support import EXAMPLES, FUZZ
from hypothesis import given, settings
from hypothesis import strategies as st

from posturebuddy.cli import main
from posturebuddy.session.recording import (
    LinkEventKind,
    LinkEventRecord,
    RecordingDamageWarning,
    RecordingError,
    RecordingWriter,
    iter_export_rows,
    open_recording,
)
from simulators.record import record

SCENARIO = Path(__file__).resolve().parents[1] / "ui" / "scenarios" / "quick_forward_head.toml"


@functools.cache
def real_recording() -> bytes:
    """Two simulated minutes of the PostureBuddy Tag at 25 Hz, written by ``python -m simulators record``'s code."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "real.pbrec"
        record(path, str(SCENARIO), "posturebuddy", rate_hz=25.0, duration_s=120.0)
        return path.read_bytes()


@functools.cache
def unclosed_recording() -> tuple[bytes, bytes, tuple[tuple[float, str, bytes], ...]]:
    """(main file, its WAL, the packets committed) of a recording caught mid-session, as kill -9 leaves it."""
    with tempfile.TemporaryDirectory() as directory:
        source = Path(directory) / "real.pbrec"
        source.write_bytes(real_recording())
        with open_recording(source) as reader:
            packets = list(reader.iter_packets())
            metadata = reader.metadata
        path = Path(directory) / "open.pbrec"
        writer = RecordingWriter(path, metadata, max_pending=200)
        for i, packet in enumerate(packets):
            writer.append_packet(packet)
            if i % 500 == 0:
                writer.append_link_event(LinkEventRecord(packet.t_host_s, LinkEventKind.NOTE, f"note {i}"))
        writer.flush()
        main_bytes, wal_bytes = path.read_bytes(), Path(f"{path}-wal").read_bytes()
        writer.close()
    committed = tuple((p.t_host_s, p.char_uuid, p.data) for p in packets)
    return main_bytes, wal_bytes, committed


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


def fresh(scratch: Path, data: bytes, wal: bytes | None = None) -> Path:
    path = scratch / "damaged.pbrec"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(data)
    if wal is not None:
        Path(f"{path}-wal").write_bytes(wal)
    return path


@st.composite
def damage(draw: st.DrawFn, data: bytes) -> bytes:
    """Up to 6 edits (a flipped bit, a byte set to 0x00/0xff, a zeroed 512-byte block), then maybe a cut."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(out) - 1))
        how = draw(st.sampled_from(["flip", "zero", "ones", "block"]))
        if how == "flip":
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif how == "block":
            out[at : at + 512] = bytes(len(out[at : at + 512]))
        else:
            out[at] = 0 if how == "zero" else 0xFF
    if draw(st.booleans()):
        del out[draw(st.integers(1, len(out))) :]
    return bytes(out)


def read_all(path: Path) -> None:
    """Everything the reader offers; only RecordingError (and damage warnings) may come out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingDamageWarning)
        try:
            with open_recording(path) as reader:
                _ = reader.metadata, reader.characteristics
                sum(1 for _ in reader.iter_packet_records())
                sum(1 for _ in iter_export_rows(reader))
                reader.packet_count()
                reader.time_range()
                reader.link_events()
                reader.truth_segments()
                reader.episodes()
                reader.prompts()
                reader.calibrations()
                reader.minute_summaries()
                reader.check()
        except RecordingError as exc:
            message = str(exc)
        else:
            return
    assert message.strip(), "a RecordingError must say what is wrong"


@FUZZ
@given(data=st.data())
def test_a_damaged_real_recording_reads_or_raises_recording_error(scratch: Path, data: st.DataObject) -> None:
    read_all(fresh(scratch, data.draw(damage(real_recording()))))


@settings(FUZZ, max_examples=max(10, EXAMPLES // 4))
@given(data=st.data())
def test_analyze_of_a_damaged_real_recording_gives_a_result_or_one_clear_line(
    scratch: Path, data: st.DataObject, capsys: pytest.CaptureFixture[str]
) -> None:
    path = fresh(scratch, data.draw(damage(real_recording())))
    capsys.readouterr()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingDamageWarning)
        status = main(["analyze", str(path), "--json"])
    out, err = capsys.readouterr()
    assert status in (0, 1), err
    if status == 1:
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
    else:
        assert out.strip()


@st.composite
def wal_damage(draw: st.DrawFn, wal: bytes) -> bytes:
    """The WAL with flipped bits in frame data or headers, or cut (a crash mid-append)."""
    out = bytearray(wal)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(out) - 1))
        out[at] ^= 1 << draw(st.integers(0, 7))
    if draw(st.booleans()):
        del out[draw(st.integers(0, len(out))) :]
    return bytes(out)


@FUZZ
@given(data=st.data())
def test_a_damaged_wal_reads_back_exact_packets_or_raises_recording_error(scratch: Path, data: st.DataObject) -> None:
    main_bytes, wal, committed = unclosed_recording()
    path = fresh(scratch, main_bytes, data.draw(wal_damage(wal)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingDamageWarning)
        try:
            with open_recording(path) as reader:
                packets = list(reader.iter_packet_records())
                assert reader.packet_count() == len(packets)
        except RecordingError:
            return
    # SQLite checksums every WAL frame: damage ends the log there, it never turns into wrong packets
    for p in packets:
        assert (p.t_host_s, p.char_uuid, p.data) == committed[p.packet_id - 1]


def test_the_undamaged_copies_read_completely(scratch: Path) -> None:
    """The corpora are sound (else the fuzzing above proves little)."""
    main_bytes, wal, committed = unclosed_recording()
    with open_recording(fresh(scratch, main_bytes, wal)) as reader:
        assert reader.packet_count() == len(committed) > 2500
        assert reader.metadata.closed_s is None
    with open_recording(fresh(scratch, real_recording())) as reader:
        assert reader.check() == []
        assert reader.truth_segments()
        shutil.copy(reader.path, scratch / "keep.pbrec")
    assert main(["analyze", str(scratch / "keep.pbrec")]) == 0
