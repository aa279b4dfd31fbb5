"""What the dashboard says when the tag seems to have moved on the back: re-learning, or a suggestion to
recalibrate (the engine decides which, see ``EngineSettings.relearn_after_slip``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from textual.widgets import Static
from ui_fakes import T0, FakeSession, snapshot
from ui_support import settle, started

from posturebuddy.motion.calibration import SlipCause, SlipEvent
from posturebuddy.session.engine import TagSlipSuspected
from posturebuddy.ui.app import PostureBuddyApp

Build = Callable[..., PostureBuddyApp]


def _slip(t_s: float) -> SlipEvent:
    return SlipEvent(t_s, SlipCause.TAKEN_OFF, t_s - 300.0, 6.0, (0.0, 0.97, 0.24), "the tag moved")


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("relearning", "toast", "line"),
    [
        (True, "learning your upright posture again", "re-learning your upright"),
        (False, "press c to recalibrate", "press c to recalibrate"),
    ],
)
async def test_the_slip_notice(build: Build, session: FakeSession, relearning: bool, toast: str, line: str) -> None:
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        session.publish(TagSlipSuspected(T0 + 10, slip=_slip(T0 + 10), relearning=relearning))
        session.publish(snapshot(T0 + 11))
        await settle(pilot)
        texts = [str(n.message) for n in app._notifications]  # (Textual keeps no public list)
        assert any(toast in t for t in texts)
        state = str(app.screen.query_one("#state", Static).render())
        assert line in state
