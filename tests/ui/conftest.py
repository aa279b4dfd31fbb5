"""Fixtures for the dashboard tests: the app over a scripted fake session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ui_fakes import FakeSession, factory_for
from ui_support import FakeWallClock

from posturebuddy.config import Settings
from posturebuddy.ui.app import PostureBuddyApp, make_app


@pytest.fixture
def session() -> FakeSession:
    return FakeSession()


@pytest.fixture
def wall() -> FakeWallClock:
    return FakeWallClock()


@pytest.fixture
def build(session: FakeSession, wall: FakeWallClock, tmp_path: Path) -> Callable[..., PostureBuddyApp]:
    def _build(settings: Settings | None = None, **kwargs: Any) -> PostureBuddyApp:
        kwargs.setdefault("config_file", tmp_path / "config.toml")
        return make_app(factory_for(session), settings or Settings(), wall_clock=wall, guide_get_ready_s=1.0, **kwargs)

    return _build
