"""``posturebuddy replay FILE`` in the dashboard: a real recording (made here from a short scenario) through the
real ReplaySession and engine, driven with the Pilot: pause, seek, speed, a recorded prompt, damage, quitting."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.message import Message
from textual.pilot import Pilot
from ui_support import of_type

from posturebuddy.cli import main
from posturebuddy.commands.replay import replay_app
from posturebuddy.config import Settings
from posturebuddy.model import PromptKind
from posturebuddy.session.recording import RecordingDamageWarning, open_recording
from posturebuddy.session.replay import ReplayStatus
from posturebuddy.ui.app import PostureBuddyApp
from posturebuddy.ui.messages import PromptOpened
from posturebuddy.ui.screens.calibration import CalibrationScreen
from posturebuddy.ui.screens.prompt import PromptScreen
from posturebuddy.ui.screens.replay import ReplayScreen
from posturebuddy.ui.widgets.replay_bar import ReplayBar
from simulators.record import record

SCENARIO = Path(__file__).parent / "scenarios" / "quick_forward_head.toml"
"""Seven minutes: upright, then head forward; the chin-tuck prompt comes about 100 s in."""


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "forward_head.pbrec"
    record(path, str(SCENARIO), "posturebuddy", rate_hz=25.0)
    return path


def status_of(app: PostureBuddyApp) -> ReplayStatus:
    screen = app.dashboard
    assert isinstance(screen, ReplayScreen)
    return screen.controls.status


def bar_text(app: PostureBuddyApp) -> str:
    return app.dashboard.query_one(ReplayBar).text


def into(app: PostureBuddyApp) -> float:
    """Seconds into the recording the replay clock is."""
    return status_of(app).elapsed_s


async def until(pilot: Pilot[None], what: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


def footer_keys(app: PostureBuddyApp) -> dict[str, str]:
    """What the footer shows: key as displayed -> description."""
    shown = {}
    for active in app.screen.active_bindings.values():
        binding = active.binding
        if binding.show and active.enabled:
            shown[binding.key_display or binding.key] = binding.description
    return shown


@pytest.mark.asyncio
async def test_pause_seek_speed_a_recorded_prompt_and_quit(recording: Path) -> None:
    messages: list[Message] = []
    with open_recording(recording) as reader:
        app = replay_app(reader, Settings(), speed=60.0)
        async with app.run_test(size=(80, 24), message_hook=messages.append) as pilot:
            assert app.title.startswith("Replay of forward_head.pbrec (")
            keys = footer_keys(app)
            for key in ("space", "+/-", "←/→", "⇧←/→", "Home/End", "q"):
                assert key in keys, keys
            await until(pilot, lambda: into(app) > 5.0)
            assert "▶ 60x" in bar_text(app)

            await pilot.press("space")  # pause: the replay clock stands still
            held = into(app)
            await pilot.pause(0.3)
            assert into(app) == held
            assert "paused 60x" in bar_text(app)

            await pilot.press("right")  # seek one minute forward (paused: lands exactly)
            await until(pilot, lambda: status_of(app).seeking_to_s is None)
            assert into(app) == pytest.approx(held + 60.0, abs=1e-6)
            await pilot.press("left", "left")  # two minutes back: from the start again, to before where it was
            await until(pilot, lambda: status_of(app).seeking_to_s is None)
            assert into(app) == pytest.approx(max(0.0, held - 60.0), abs=1e-6)
            await pilot.press("shift+right")  # ten minutes: past the end of a seven-minute recording
            await until(pilot, lambda: status_of(app).finished)
            assert into(app) == pytest.approx(status_of(app).total_s)
            await pilot.press("home")
            await until(pilot, lambda: status_of(app).seeking_to_s is None)
            assert into(app) == 0.0

            await pilot.press("plus")
            assert status_of(app).speed is None
            await pilot.press("minus", "minus")
            assert status_of(app).speed == 10.0
            await pilot.pause(0.15)
            assert "paused 10x" in bar_text(app)

            # The chin-tuck prompt of the recording (about 100 s in): seek close, play, and it opens.
            await pilot.press("right")
            await until(pilot, lambda: status_of(app).seeking_to_s is None)
            await pilot.press("plus", "space")  # 60x, play
            await until(pilot, lambda: bool(of_type(messages, PromptOpened)), timeout_s=15.0)
            assert [m.prompt.kind for m in of_type(messages, PromptOpened)] == [PromptKind.CHIN_TUCK]
            await until(pilot, lambda: isinstance(app.screen, PromptScreen))
            await pilot.press("space")  # the replay's keys work under the prompt too
            assert status_of(app).paused
            await pilot.press("x")  # answering only closes it: the replay shows what happened
            await until(pilot, lambda: app.screen is app.dashboard)
            snapshot = app.view.snapshot
            assert snapshot is not None
            assert snapshot.coach.skipped_today == 0  # the answer did not reach the engine

            await pilot.press("c")  # no calibration in a replay: a message instead of the wizard
            await pilot.pause(0.1)
            assert not isinstance(app.screen, CalibrationScreen)
            assert any("Calibrating needs" in n.message for n in app._notifications)

            await pilot.press("q")
            await until(pilot, lambda: not app.is_running or app.session_done)
    assert app.return_code == 0


@pytest.mark.asyncio
async def test_a_truncated_recording_says_where_it_is_damaged(recording: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.pbrec"
    data = recording.read_bytes()  # noqa: ASYNC240 (a small file, before the app starts)
    cut.write_bytes(data[: int(len(data) * 0.6) | 1])
    with pytest.warns(RecordingDamageWarning):  # (the command catches the one opening gives)
        reader = open_recording(cut)
    with reader:
        app = replay_app(reader, Settings(), speed=None)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: status_of(app).finished)
            await pilot.pause(0.3)
            text = bar_text(app)
            assert "Damaged recording: readable up to packet #" in text
            assert "the replay ends there" in text
            assert 0.0 < into(app) < 7 * 60.0 - 30.0
            assert any("packet #" in n.message for n in app._notifications)
            await pilot.press("q")
            await until(pilot, lambda: not app.is_running or app.session_done)
    assert app.return_code == 0


@pytest.mark.parametrize("content", [b"just some text\n", b"SQLite format 3\x00" + b"\x00" * 200])
def test_a_file_that_is_not_a_recording_is_one_line_before_any_dashboard(
    content: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "notes.pbrec"
    path.write_bytes(content)
    assert main(["replay", str(path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("posturebuddy replay: error:")
