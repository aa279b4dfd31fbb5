"""Prompts on the dashboard, driven by a scripted session: what opens, what the keys answer, what closes them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.message import Message
from textual.widgets import ProgressBar, Static
from ui_fakes import T0, FakeSession, break_prompt, chin_tuck_prompt, snapshot
from ui_support import FakeWallClock, of_type, settle, started

from posturebuddy.devices import NudgePattern
from posturebuddy.model import Prompt, PromptKind, PromptOutcome
from posturebuddy.posture.exercises import DISCLAIMER
from posturebuddy.ui import app as app_module
from posturebuddy.ui.app import PostureBuddyApp
from posturebuddy.ui.guided import Phase
from posturebuddy.ui.messages import PromptAnswerChosen, PromptClosed, PromptOpened
from posturebuddy.ui.screens import prompt as prompt_module
from posturebuddy.ui.screens.prompt import PromptScreen
from posturebuddy.ui.widgets.guided import GuidedSetView

Build = Callable[..., PostureBuddyApp]


@pytest.mark.asyncio
async def test_a_chin_tuck_prompt_opens_the_prompt_screen_and_nudges_the_tag_once(
    build: Build, session: FakeSession
) -> None:
    messages: list[Message] = []
    app = build()
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await started(session, pilot)
        session.raise_prompt(chin_tuck_prompt())
        await settle(pilot)
        opened = of_type(messages, PromptOpened)
        assert [m.prompt.kind for m in opened] == [PromptKind.CHIN_TUCK]
        screen = app.screen
        assert isinstance(screen, PromptScreen)
        assert str(screen.query_one("#prompt-reason", Static).render()) == "Head forward for 45 s"
        assert "3 chin tucks" in str(screen.query_one("#prompt-ask", Static).render())
        assert DISCLAIMER in str(screen.query_one("#disclaimer", Static).render())
        await settle(pilot, rounds=3)  # redraws do not re-open, re-ring or re-nudge
        assert len(of_type(messages, PromptOpened)) == 1
        assert session.nudges == [NudgePattern.GENTLE]
        assert len([s for s in app.screen_stack if isinstance(s, PromptScreen)]) == 1


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("key", "outcome"),
    [
        ("d", PromptOutcome.DONE),
        ("s", PromptOutcome.SNOOZED),
        ("x", PromptOutcome.SKIPPED),
        ("escape", PromptOutcome.SNOOZED),
    ],
)
async def test_done_snooze_skip_keys_answer_the_prompt_and_close_it(
    build: Build, session: FakeSession, key: str, outcome: PromptOutcome
) -> None:
    messages: list[Message] = []
    app = build()
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await started(session, pilot)
        session.raise_prompt(chin_tuck_prompt(prompt_id=7))
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert session.answers == [(7, outcome)]
        assert [(m.prompt_id, m.outcome) for m in of_type(messages, PromptAnswerChosen)] == [(7, outcome)]
        assert [(m.prompt_id, m.outcome) for m in of_type(messages, PromptClosed)] == [(7, outcome)]
        assert app.screen is app.dashboard
        assert app.view.open_prompt is None


@pytest.mark.asyncio
async def test_a_guided_set_counts_reps_and_holds_then_answers_done(
    build: Build, session: FakeSession, wall: FakeWallClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prompt_module, "SET_DONE_LINGER_S", 0.0)
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        session.raise_prompt(chin_tuck_prompt(prompt_id=3, reps=3, hold_s=2.0))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PromptScreen)
        view = screen.query_one("#guide", GuidedSetView)
        assert not view.display
        await pilot.press("enter")
        assert view.display
        assert view.position is not None
        assert view.position.phase is Phase.GET_READY
        wall.now += 1.5  # get ready is 1 s: first hold, 0.5 s in
        screen.tick()
        assert view.position is not None
        assert (view.position.phase, view.position.rep, view.position.reps) == (Phase.HOLD, 1, 3)
        assert "HOLD" in str(view.render())
        assert "rep 1 of 3" in str(view.render())
        wall.now += 2.0  # resting after rep 1
        screen.tick()
        assert view.position is not None
        assert view.position.phase is Phase.REST
        wall.now += 60.0
        screen.tick()
        await settle(pilot)
        assert session.answers == [(3, PromptOutcome.DONE)]
        assert app.screen is app.dashboard


@pytest.mark.asyncio
async def test_a_set_under_way_survives_the_prompt_closing_and_then_does_not_answer(
    build: Build, session: FakeSession, wall: FakeWallClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prompt_module, "SET_DONE_LINGER_S", 0.0)
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        session.raise_prompt(chin_tuck_prompt(prompt_id=4))
        await settle(pilot)
        await pilot.press("enter")
        session.close_prompt(PromptOutcome.EXPIRED)  # the coach closes it mid-set (e.g. the wearer sat tall)
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PromptScreen)
        assert screen.closed_by is PromptOutcome.EXPIRED
        wall.now += 100.0
        screen.tick()
        await settle(pilot)
        assert app.screen is app.dashboard
        assert session.answers == []


@pytest.mark.asyncio
async def test_a_sit_tall_prompt_closes_itself_when_the_tag_sees_the_wearer_sit_tall(
    build: Build, session: FakeSession
) -> None:
    messages: list[Message] = []
    app = build()
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await started(session, pilot)
        session.raise_prompt(Prompt(5, PromptKind.SIT_TALL, T0, "Slouching for 40 s", details=(("reps", "3"),)))
        await settle(pilot)
        assert isinstance(app.screen, PromptScreen)
        session.close_prompt(PromptOutcome.AUTO_COMPLETED)
        await settle(pilot)
        assert [m.outcome for m in of_type(messages, PromptClosed)] == [PromptOutcome.AUTO_COMPLETED]
        assert app.screen is app.dashboard
        assert session.answers == []


@pytest.mark.asyncio
async def test_a_break_prompt_counts_down_while_the_wearer_is_up_and_completes_itself(
    build: Build, session: FakeSession
) -> None:
    messages: list[Message] = []
    app = build()
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await started(session, pilot)
        session.raise_prompt(break_prompt(prompt_id=9))
        session.publish(snapshot(T0, sitting_s=2700.0, next_break_in_s=0.0))
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PromptScreen)
        assert "Waiting for you to stand up" in str(screen.query_one("#break-status", Static).render())
        assert not screen.check_action("start_set", ())  # no guided set on a break
        session.publish(snapshot(T0 + 20, away_from_chair_s=20.0, on_break=True))
        await settle(pilot)
        assert "Up for 20 s; 40 s to go" in str(screen.query_one("#break-status", Static).render())
        assert screen.query_one("#break-progress", ProgressBar).progress == pytest.approx(20.0)
        session.close_prompt(PromptOutcome.AUTO_COMPLETED)
        await settle(pilot)
        assert [(m.kind, m.outcome) for m in of_type(messages, PromptClosed)] == [
            (PromptKind.BREAK, PromptOutcome.AUTO_COMPLETED)
        ]
        assert app.screen is app.dashboard


@pytest.mark.asyncio
async def test_the_bell_rings_once_per_prompt_and_not_when_turned_off(
    build: Build, session: FakeSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    rings: list[int] = []
    monkeypatch.setattr(app_module.PostureBuddyApp, "bell", lambda self: rings.append(1))
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        session.raise_prompt(chin_tuck_prompt(prompt_id=1))
        await settle(pilot, rounds=4)
        assert rings == [1]
