"""Fixtures shared by the recording tests: a fake monotonic clock and a writer factory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from recording_support import T0_S, FakeClock, WriterFactory, default_metadata

from posturebuddy.session.recording import RecordingWriter


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_writer(tmp_path: Path, clock: FakeClock) -> Iterator[WriterFactory]:
    """Create writers on files under ``tmp_path`` using the fake clock; all are closed at the end."""
    writers: list[RecordingWriter] = []

    def factory(name: str = "session.pbrec", **kwargs: object) -> RecordingWriter:
        metadata = kwargs.pop("metadata", None) or default_metadata()
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("wall_clock", lambda: T0_S - 5.0)
        writer = RecordingWriter(tmp_path / name, metadata, **kwargs)  # type: ignore[arg-type]
        writers.append(writer)
        return writer

    yield factory
    for writer in writers:
        writer.close()
