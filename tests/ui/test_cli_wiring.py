"""`posturebuddy run` and `posturebuddy demo` build the dashboard with make_app (the app itself is not run here)."""

from __future__ import annotations

import contextlib

import pytest

from posturebuddy.cli import main
from posturebuddy.ui.app import PostureBuddyApp


@pytest.fixture
def launched(monkeypatch: pytest.MonkeyPatch) -> list[PostureBuddyApp]:
    apps: list[PostureBuddyApp] = []

    def fake_run(self: PostureBuddyApp, *args: object, **kwargs: object) -> None:
        apps.append(self)

    monkeypatch.setattr(PostureBuddyApp, "run", fake_run)
    return apps


def test_run_without_headless_opens_the_dashboard(launched: list[PostureBuddyApp]) -> None:
    assert main(["run", "--address", "C4:A2:11:00:10:01", "--no-record"]) == 0
    (app,) = launched
    assert app.label == "live: C4:A2:11:00:10:01"
    assert app.can_write_config


def test_demo_without_headless_opens_the_dashboard(launched: list[PostureBuddyApp]) -> None:
    assert main(["demo", "--speed", "20", "--scenario", "good_day", "--duration", "3"]) == 0
    (app,) = launched
    assert app.label == "demo: good_day x20"
    assert not app.can_write_config  # the demo's virtual tag is not one to keep
    assert app.duration_s == 3.0


@pytest.mark.asyncio
async def test_the_run_factory_makes_a_live_session_on_the_system_backend() -> None:
    from posturebuddy.commands.run import link_options, live_session_factory
    from posturebuddy.config import Settings
    from posturebuddy.session.live import LiveSession

    settings = Settings()
    factory = live_session_factory(settings, link_options(settings), record=False)
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(factory())
        assert isinstance(session, LiveSession)
        assert session.link.backend.label == "system"
        assert session.engine.settings.detector.slouch_deg == settings.detection.slouch_deg
