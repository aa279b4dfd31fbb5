"""Helpers shared by the recording tests: a fake monotonic clock, a deterministic packet stream, files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from posturebuddy.model import RawPacket
from posturebuddy.session.recording import RecordingMetadata, RecordingWriter, SourceKind

ACCEL_CHAR_UUID = "0000fff1-0000-1000-8000-00805f9b34fb"
BATTERY_CHAR_UUID = "00002a19-0000-1000-8000-00805f9b34fb"
T0_S = 1_700_000_000.0
"""Host time of the first test packet: 2023-11-14T22:13:20Z."""


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, start_s: float = 100.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


def make_packet(i: int, *, rate_hz: float = 50.0, char_uuid: str = ACCEL_CHAR_UUID) -> RawPacket:
    """Packet number ``i`` of a deterministic 50 Hz stream with a 20-byte payload that encodes ``i``."""
    return RawPacket(T0_S + i / rate_hz, char_uuid, i.to_bytes(4, "little") * 5)


def default_metadata(**changes: object) -> RecordingMetadata:
    fields: dict[str, object] = {
        "tag_family": "posturebuddy",
        "source_kind": SourceKind.SIMULATED,
        "tag_address": "C0:FF:EE:00:00:01",
        "tag_name": "PB-Tag",
        "sample_rate_hz": 50.0,
        "extra": {"scenario": "office_day", "seed": 7},
    }
    fields.update(changes)
    return RecordingMetadata(**fields)  # type: ignore[arg-type]


WriterFactory = Callable[..., RecordingWriter]


def write_recording(path: Path, n_packets: int, **kwargs: object) -> Path:
    """A closed recording at ``path`` holding packets 0..n-1 of :func:`make_packet`."""
    with RecordingWriter(path, default_metadata(), clock=FakeClock(), **kwargs) as writer:  # type: ignore[arg-type]
        for i in range(n_packets):
            writer.append_packet(make_packet(i))
    return path
