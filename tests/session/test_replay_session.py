"""ReplaySession: a recording replayed for the dashboard reaches the events of ``replay --headless --speed max``
whatever the speeds, pauses and seeks on the way; pausing holds the replay clock; damage is reported, not raised."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from posturebuddy.cli import main
from posturebuddy.config import load_settings
from posturebuddy.devices import get_family
from posturebuddy.model import ConnectionStateChanged, Sample, StreamStarted
from posturebuddy.session.engine import EngineSnapshot, engine_settings
from posturebuddy.session.jsonl import to_json_line
from posturebuddy.session.recording import RecordingDamageWarning, RecordingReader, open_recording
from posturebuddy.session.replay import SPEEDS, ReplayRestarted, ReplaySession, step_speed
from simulators.record import record

SCENARIO = Path(__file__).parents[1] / "ui" / "scenarios" / "quick_forward_head.toml"
"""Seven minutes: automatic calibration, a forward-head episode with its chin-tuck prompt (~100 s in)."""
POSTURE_EVENTS = {"EpisodeStarted", "EpisodeEnded", "PromptRaised", "PromptAnswered", "CalibrationChanged"}
SESSION_OWN = (StreamStarted, ConnectionStateChanged, ReplayRestarted, EngineSnapshot, Sample)
"""What the replay publishes that ``replay --headless`` does not print (its own markers, snapshots) or that a
seek leaves out (samples)."""

Control = Callable[[ReplaySession], Awaitable[None]]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "forward_head.pbrec"
    record(path, str(SCENARIO), "posturebuddy", rate_hz=25.0)
    return path


@pytest.fixture(scope="module")
def headless(recording: Path) -> list[str]:
    """``replay --headless --speed max``: its events (not samples) as JSON lines."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["replay", str(recording), "--headless", "--speed", "max"]) == 0
    lines = [
        line for line in out.getvalue().splitlines() if json.loads(line)["type"] not in ("Sample", "StreamStarted")
    ]
    assert {json.loads(line)["type"] for line in lines} >= POSTURE_EVENTS
    return lines


def new_session(reader: RecordingReader, **kwargs: object) -> ReplaySession:
    offset = dt.datetime.now().astimezone().utcoffset()  # as the command: working hours are local
    settings = engine_settings(load_settings(None), utc_offset_s=0.0 if offset is None else offset.total_seconds())
    return ReplaySession(reader, get_family(reader.metadata.tag_family), settings, **kwargs)  # type: ignore[arg-type]


async def until(what: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def play(session: ReplaySession, control: Control | None = None) -> list[object]:
    """Run ``session`` (``control`` drives it, else until the end); everything it published, in order."""
    subscription = session.bus.subscribe("test")  # nothing droppable: every item is kept
    stop = asyncio.Event()
    runner = asyncio.create_task(session.run(stop))
    if control is not None:
        await control(session)
    await until(lambda: session.status.finished and session.status.seeking_to_s is None)
    stop.set()
    assert await runner == 0
    return subscription.drain()


def final_pass(items: list[object]) -> list[str]:
    """The events since the latest restart, as the headless command prints them."""
    restarts = [k for k, item in enumerate(items) if isinstance(item, ReplayRestarted)]
    tail = items[restarts[-1] + 1 :] if restarts else items
    return [to_json_line(item) for item in tail if not isinstance(item, SESSION_OWN)]


def cut_copy(path: Path, out: Path, share: float = 0.6) -> Path:
    """A copy of the first ``share`` of ``path``'s bytes, as an interrupted copy leaves it."""
    data = path.read_bytes()
    out.write_bytes(data[: int(len(data) * share) | 1])
    return out


def fast_clock(factor: float) -> Callable[[], float]:
    """A wall clock running ``factor`` times faster than the real one (so 60x plays at 60 * factor)."""
    t0 = time.monotonic()
    return lambda: t0 + (time.monotonic() - t0) * factor


@pytest.mark.asyncio
async def test_a_straight_run_at_max_speed_gives_the_headless_events(recording: Path, headless: list[str]) -> None:
    with open_recording(recording) as reader:
        items = await play(new_session(reader, speed=None))
    assert final_pass(items) == headless
    assert not any(isinstance(item, ReplayRestarted) for item in items)
    assert sum(isinstance(item, Sample) for item in items) == 420 * 25  # every sample published while playing


@pytest.mark.asyncio
async def test_speeds_pauses_and_seeks_both_ways_do_not_change_the_events(recording: Path, headless: list[str]) -> None:
    positions: list[float] = []

    async def control(session: ReplaySession) -> None:
        status = session.status
        assert status.first_s is not None
        first = status.first_s

        def at(seconds: float) -> bool:
            position = session.status.position_s
            return position is not None and position >= first + seconds

        await until(lambda: at(40.0))
        before = session.status.position_s
        assert before is not None
        session.seek_by(+90.0)  # forward while playing, over the start of the episode
        await until(lambda: session.status.seeking_to_s is None)
        position = session.status.position_s
        assert position is not None
        assert before + 90.0 <= position <= before + 95.0  # (it plays on at 100x once there)
        await until(lambda: at(200.0))
        session.pause()
        held = session.status.position_s
        await asyncio.sleep(0.1)
        assert session.status.position_s == held  # paused: the replay clock stands still
        session.seek_by(-150.0)  # backward while paused: a restart, then a fast run to 150 s before
        await until(lambda: session.status.seeking_to_s is None)
        position = session.status.position_s
        assert position is not None
        assert held is not None
        positions.append(held - position)
        assert session.status.paused
        assert session.faster() == 10.0 * 6  # 10x (the fixture) -> 60x
        session.resume()
        await until(lambda: at(300.0))
        session.set_speed(None)

    with open_recording(recording) as reader:
        items = await play(new_session(reader, speed=10.0, clock=fast_clock(10.0)), control)
    assert positions == [pytest.approx(150.0, abs=0.5)]
    restarts = [k for k, item in enumerate(items) if isinstance(item, ReplayRestarted)]
    assert len(restarts) == 1
    assert final_pass(items) == headless
    # The first pass, up to the restart, published a prefix of the same events (the seek forward skipped none).
    first_pass = [to_json_line(i) for i in items[: restarts[0]] if not isinstance(i, SESSION_OWN)]
    assert first_pass == headless[: len(first_pass)]
    assert any('"PromptRaised"' in line for line in first_pass)


@pytest.mark.asyncio
async def test_starting_part_way_runs_the_engine_over_the_beginning(recording: Path, headless: list[str]) -> None:
    with open_recording(recording) as reader:
        span = reader.time_range()
        assert span is not None
        session = new_session(reader, speed=None, start_s=span[0] + 250.0)
        assert session.status.seeking_to_s == pytest.approx(span[0] + 250.0)
        items = await play(session)
    assert final_pass(items) == headless
    # The seek published no samples and about one snapshot a second; playing from 250 s on published them all.
    samples = [item.t_s for item in items if isinstance(item, Sample)]
    assert min(samples) > span[0] + 249.0
    early_snapshots = [i for i in items if isinstance(i, EngineSnapshot) and i.t_s < span[0] + 249.0]
    assert 200 <= len(early_snapshots) <= 260


@pytest.mark.asyncio
async def test_playing_at_a_speed_follows_the_wall_clock(recording: Path) -> None:
    with open_recording(recording) as reader:
        session = new_session(reader, speed=60.0)
        first = session.status.first_s
        assert first is not None
        stop = asyncio.Event()
        runner = asyncio.create_task(session.run(stop))
        await asyncio.sleep(0.5)
        position = session.status.position_s
        assert position is not None
        assert 15.0 <= position - first <= 45.0  # 0.5 s at 60x is 30 s of recording (a loaded machine lags)
        assert not session.status.finished
        stop.set()
        await runner


def test_speed_steps() -> None:
    assert SPEEDS == (1.0, 2.0, 10.0, 60.0, None)
    assert [step_speed(s, +1) for s in SPEEDS] == [2.0, 10.0, 60.0, None, None]
    assert [step_speed(s, -1) for s in SPEEDS] == [1.0, 1.0, 2.0, 10.0, 60.0]
    assert step_speed(5.0, +1) == 10.0
    assert step_speed(5.0, -1) == 2.0
    assert step_speed(0.5, -1) == 1.0  # a speed below the list goes up to its first on either key...
    assert step_speed(0.5, +1) == 1.0


@pytest.mark.asyncio
async def test_a_cut_off_recording_replays_up_to_the_damage_and_says_where(recording: Path, tmp_path: Path) -> None:
    cut = cut_copy(recording, tmp_path / "cut.pbrec")
    with pytest.warns(RecordingDamageWarning):  # opening reports the cut (the command catches it)
        reader = open_recording(cut)
    with reader:
        session = new_session(reader, speed=None)
        assert session.status.damage is not None  # known from the start: the file is cut off
        items = await play(session)  # no warning escapes (warnings are errors in this suite)
        status = session.status
    assert status.damage is not None
    assert "packet #" in status.damage
    assert "the replay ends there" in status.damage
    samples = [item for item in items if isinstance(item, Sample)]
    assert 0 < len(samples) < 420 * 25
    assert status.position_s == pytest.approx(samples[-1].t_s, abs=0.5)
    assert status.last_s == status.position_s  # the readable end: seeks stay within it
    assert session.damage_warnings
