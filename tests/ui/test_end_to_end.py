"""The whole product: the dashboard over a real LiveSession, connected over the simulator's BLE stack (bumble)
to a virtual tag played by a simulated wearer at high speed. Short test-only scenarios live in
tests/ui/scenarios/."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.message import Message
from textual.pilot import Pilot
from ui_support import of_type

from posturebuddy.commands.demo import open_demo_session
from posturebuddy.config import Settings
from posturebuddy.model import ConnectionState, PromptKind, PromptOutcome
from posturebuddy.posture.settings import CoachPolicy
from posturebuddy.session.engine import EngineSettings
from posturebuddy.session.live import LiveSession
from posturebuddy.ui.app import PostureBuddyApp, make_app
from posturebuddy.ui.messages import CalibrationFinished, ConnectionChanged, PromptClosed, PromptOpened
from posturebuddy.ui.screens.calibration import CalibrationScreen
from posturebuddy.ui.screens.prompt import PromptScreen
from simulators.tags.base import VirtualTag

SCENARIOS = Path(__file__).parent / "scenarios"
RATE_HZ = 25.0
"""A lower rate than the demo's 50 Hz keeps the simulator's CPU cost down at high speed; every stage works the
same at 25 Hz. At 25x a 40 ms stall of a loaded machine's event loop is a full second of simulated time; the
tag's own clock (DeviceTimeAligner) keeps the samples evenly spaced through such stalls."""


def demo_app(
    scenario: str, speed: float, tmp_path: Path, *, engine: EngineSettings | None = None, tags: list[VirtualTag]
) -> PostureBuddyApp:
    def factory() -> contextlib.AbstractAsyncContextManager[LiveSession]:
        return open_demo_session(
            scenario=SCENARIOS / f"{scenario}.toml", speed=speed, engine=engine, rate_hz=RATE_HZ, on_tag=tags.append
        )

    return make_app(factory, Settings(), config_file=tmp_path / "config.toml", can_write_config=False)


async def until(pilot: Pilot[None], what: Callable[[], bool], timeout_s: float = 30.0) -> None:
    """Let the app run (its own redraw timer drains the stream) until ``what`` holds."""
    deadline = time.monotonic() + timeout_s
    while not what():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


async def quit_cleanly(app: PostureBuddyApp, pilot: Pilot[None]) -> None:
    await pilot.press("q")
    await until(pilot, lambda: not app.is_running or app.session_done, 10.0)


@pytest.mark.asyncio
async def test_a_simulated_slouch_leads_to_a_chin_tuck_prompt_then_disconnect_and_reconnect_show(
    tmp_path: Path,
) -> None:
    messages: list[Message] = []
    tags: list[VirtualTag] = []
    app = demo_app("quick_forward_head", 25.0, tmp_path, tags=tags)
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await until(pilot, lambda: bool(of_type(messages, PromptOpened)))
        assert [m.prompt.kind for m in of_type(messages, PromptOpened)] == [PromptKind.CHIN_TUCK]
        screen = app.screen
        assert isinstance(screen, PromptScreen)
        assert screen.prompt.kind is PromptKind.CHIN_TUCK
        assert [m.how for m in of_type(messages, CalibrationFinished)] == ["auto capture"]
        await pilot.press("x")
        await until(pilot, lambda: bool(of_type(messages, PromptClosed)))
        assert [m.outcome for m in of_type(messages, PromptClosed)] == [PromptOutcome.SKIPPED]
        assert app.screen is app.dashboard
        assert app.view.snapshot is not None
        assert app.view.snapshot.coach.skipped_today == 1

        await tags[0].drop_connection()  # the tag drops the link: the dashboard says so, then reconnects
        states = lambda: [m.state for m in of_type(messages, ConnectionChanged)]  # noqa: E731
        await until(pilot, lambda: ConnectionState.RECONNECTING in states())
        await until(pilot, lambda: states()[-1] is ConnectionState.STREAMING)
        assert states().count(ConnectionState.STREAMING) == 2
        await quit_cleanly(app, pilot)
    assert app.return_code == 0
    assert app.session is not None
    assert app.session.link.state is ConnectionState.STOPPED


@pytest.mark.asyncio
async def test_a_break_prompt_completes_when_the_simulated_wearer_walks(tmp_path: Path) -> None:
    engine = EngineSettings(coach=CoachPolicy(sitting_limit_s=60.0, min_break_s=20.0))
    messages: list[Message] = []
    app = demo_app("quick_break", 25.0, tmp_path, engine=engine, tags=[])
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await until(pilot, lambda: bool(of_type(messages, PromptOpened)))
        assert [m.prompt.kind for m in of_type(messages, PromptOpened)] == [PromptKind.BREAK]
        assert isinstance(app.screen, PromptScreen)
        await until(pilot, lambda: bool(of_type(messages, PromptClosed)))
        assert [(m.kind, m.outcome) for m in of_type(messages, PromptClosed)] == [
            (PromptKind.BREAK, PromptOutcome.AUTO_COMPLETED)
        ]
        assert app.screen is app.dashboard
        await until(pilot, lambda: app.view.snapshot is not None and app.view.snapshot.coach.breaks_today == 1)
        await quit_cleanly(app, pilot)
    assert app.return_code == 0


@pytest.mark.asyncio
async def test_calibration_with_the_wizard_over_the_simulator(tmp_path: Path) -> None:
    messages: list[Message] = []
    app = demo_app("quick_upright", 10.0, tmp_path, tags=[])
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await until(pilot, lambda: bool(of_type(messages, CalibrationFinished)))  # the automatic one
        await pilot.press("c")
        assert isinstance(app.screen, CalibrationScreen)
        await pilot.press("enter")
        await until(pilot, lambda: [m.how for m in of_type(messages, CalibrationFinished)][-1] == "wizard")
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, CalibrationScreen)
        assert "Upright posture saved" in screen.result_text
        await pilot.press("enter")
        assert app.screen is app.dashboard
        await quit_cleanly(app, pilot)
    assert app.return_code == 0
