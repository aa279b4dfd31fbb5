"""``posturebuddy replay --headless``: a recording through a live session's decoder and engine, as JSON lines."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from posturebuddy.cli import main
from posturebuddy.commands.replay import Pacer
from posturebuddy.config import load_settings
from posturebuddy.devices import get_family
from posturebuddy.session.analyze import stream_events
from posturebuddy.session.decoding import PacketDecoder
from posturebuddy.session.engine import EngineSnapshot, PostureEngine, engine_settings
from posturebuddy.session.jsonl import to_json_line
from posturebuddy.session.recording import open_recording
from simulators.record import record

POSTURE_EVENTS = {"EpisodeStarted", "EpisodeEnded", "PromptRaised", "PromptAnswered"}


@pytest.fixture(scope="module")
def slouchy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 10 minutes: the first slouch episode and its prompt come about 350 s in.
    path = tmp_path_factory.mktemp("rec") / "slouchy.pbrec"
    record(path, "slouchy_afternoon", "posturebuddy", duration_s=600)
    return path


def _replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]], str]:
    status = main(["replay", *args])
    captured = capsys.readouterr()
    return status, [json.loads(line) for line in captured.out.splitlines()], captured.err


def _twin(path: Path) -> list[dict[str, object]]:
    """analyze's streaming twin on the same file, as the JSON records replay prints."""
    offset = dt.datetime.now().astimezone().utcoffset()
    settings = engine_settings(load_settings(None), utc_offset_s=0.0 if offset is None else offset.total_seconds())
    with open_recording(path) as reader:
        family = get_family(reader.metadata.tag_family)
        decoder = PacketDecoder(family)
        items = [out for packet in reader.iter_stream() for out in decoder.feed(packet)]
    events = stream_events(items, PostureEngine(settings, family=family))
    return [json.loads(to_json_line(e)) for e in events if not isinstance(e, EngineSnapshot)]


def test_headless_replay_gives_analyzes_streaming_events(slouchy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, err = _replay(capsys, str(slouchy), "--headless", "--speed", "max")
    assert status == 0
    assert err == ""
    twin = _twin(slouchy)
    event_types = {str(e["type"]) for e in twin}
    assert event_types >= POSTURE_EVENTS  # the cut is long enough to hold an episode and a prompt
    # Every engine event, in order and field for field (episodes, prompts, posture changes, calibration).
    assert [line for line in lines if line["type"] in event_types] == twin
    assert not any(line["type"] == "EngineSnapshot" for line in lines)
    # The decoded samples are there too (one per packet at 50 Hz for 10 minutes), with times that never run back.
    samples = [line for line in lines if line["type"] == "Sample"]
    assert len(samples) > 29_000
    times = [float(s["t_s"]) for s in samples]  # type: ignore[arg-type]
    assert times == sorted(times)


def test_start_skips_the_early_part(slouchy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open_recording(slouchy) as reader:
        span = reader.time_range()
    assert span is not None
    first = span[0]
    status, lines, _ = _replay(capsys, str(slouchy), "--headless", "--speed", "max", "--start", "400")
    assert status == 0
    timed = [float(line["t_s"]) for line in lines if "t_s" in line]  # type: ignore[arg-type]
    assert timed
    assert min(timed) >= first + 400
    assert not any(line["type"] == "EpisodeStarted" and float(line["t_s"]) < first + 400 for line in lines)  # type: ignore[arg-type]
    # HH:MM is a local time of day on the recording's day.
    at = dt.datetime.fromtimestamp(first + 420, tz=dt.UTC).astimezone()
    status, lines, _ = _replay(capsys, str(slouchy), "--headless", "--speed", "max", "--start", at.strftime("%H:%M"))
    assert status == 0
    minute = at.replace(second=0, microsecond=0).timestamp()
    assert min(float(line["t_s"]) for line in lines if "t_s" in line) >= minute  # type: ignore[arg-type]
    # After the end, or not a time: bad usage.
    assert main(["replay", str(slouchy), "--headless", "--start", "5000"]) == 2
    assert "after the recording ends" in capsys.readouterr().err
    assert main(["replay", str(slouchy), "--headless", "--start", "noon"]) == 2
    capsys.readouterr()


def test_a_damaged_recording_replays_up_to_the_damage(
    slouchy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.pbrec"
    data = slouchy.read_bytes()
    cut.write_bytes(data[: int(len(data) * 0.6) | 1])
    status, lines, err = _replay(capsys, str(cut), "--headless", "--speed", "max")
    assert status == 0
    samples = [line for line in lines if line["type"] == "Sample"]
    assert 10_000 < len(samples) < 29_000
    assert len(err.splitlines()) == 1
    assert err.startswith("posturebuddy replay: warning:")
    assert "damaged" in err
    assert "packet #" in err


@pytest.mark.parametrize("content", [b"\x00\x01\x02 binary", b"SQLite format 3\x00" + b"\x00" * 200])
def test_a_file_that_is_not_a_recording_fails_in_one_line(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "f.pbrec"
    path.write_bytes(content)
    assert main(["replay", str(path), "--headless"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("posturebuddy replay: error:")


def test_without_headless_it_points_to_headless(slouchy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The dashboard needs a terminal; under pytest there is none (tests/ui/test_replay_dashboard.py drives it).
    assert main(["replay", str(slouchy)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--headless" in err


def test_bad_speed_is_usage(slouchy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for speed in ("0", "-2", "fast"):
        assert main(["replay", str(slouchy), "--headless", "--speed", speed]) == 2
    assert "--speed" in capsys.readouterr().err


def test_pacing_sleeps_on_wall_time_by_sample_time() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(10.0, clock=lambda: now[0], sleep=sleep)
    for t in (1000.0, 1001.0, 1001.0, 1003.0, 1002.0):
        pacer.wait(t)
    assert slept == pytest.approx([0.1, 0.2])
    assert now[0] == pytest.approx(0.3)
    fast = Pacer(None, clock=lambda: now[0], sleep=sleep)
    fast.wait(0.0)
    fast.wait(1e6)
    assert len(slept) == 2
