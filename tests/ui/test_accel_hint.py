"""An accelerometer-only tag without a six-face calibration gets one hint to run ``calibrate --accel``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from ui_fakes import FakeSession
from ui_support import settle, started

from posturebuddy.devices import get_family
from posturebuddy.motion.orientation import AccelCalibration
from posturebuddy.session.engine import EngineSettings
from posturebuddy.ui.app import PostureBuddyApp

Build = Callable[..., PostureBuddyApp]


async def _hints(build: Build, session: FakeSession) -> list[str]:
    app = build()
    app.ACCEL_HINT_DELAY_S = 0.05  # (the instance's own delay, so the test is short)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        await pilot.pause(0.3)
        await settle(pilot)
        texts = [str(n.message) for n in app._notifications]  # (Textual keeps no public list)
    return [t for t in texts if "calibrate --accel" in t]


@pytest.mark.asyncio
async def test_an_uncalibrated_accelerometer_only_tag_gets_the_hint(build: Build, session: FakeSession) -> None:
    session.link.family = get_family("microbit")
    assert len(await _hints(build, session)) == 1


@pytest.mark.asyncio
async def test_a_tag_with_a_gyroscope_gets_no_hint(build: Build, session: FakeSession) -> None:
    session.link.family = get_family("witmotion")
    assert await _hints(build, session) == []


@pytest.mark.asyncio
async def test_a_calibrated_accelerometer_only_tag_gets_no_hint(build: Build, session: FakeSession) -> None:
    session.link.family = get_family("microbit")
    st = EngineSettings()
    cal = AccelCalibration(bias_g=(0.01, -0.02, 0.0), scale=(1.01, 0.99, 1.0))
    session.engine.settings = dataclasses.replace(
        st, orientation=dataclasses.replace(st.orientation, accel_calibration=cal)
    )
    assert await _hints(build, session) == []
