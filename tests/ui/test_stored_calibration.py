"""A remembered calibration is announced when the session starts with it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from ui_fakes import T0, FakeSession
from ui_support import settle, started

from posturebuddy.motion.calibration import CalibrationMethod, ForwardMethod, UprightReference
from posturebuddy.session.engine import CalibrationChanged
from posturebuddy.ui.app import PostureBuddyApp

Build = Callable[..., PostureBuddyApp]


@pytest.mark.asyncio
async def test_a_remembered_calibration_is_announced(build: Build, session: FakeSession) -> None:
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        reference = UprightReference.create(
            (0.0, 1.0, 0.0),
            (0.0, 0.0, -1.0),
            t_s=T0,
            method=CalibrationMethod.CAPTURE,
            forward_method=ForwardMethod.LEAN,
        )
        session.publish(CalibrationChanged(T0 + 1, reference=reference, how="stored"))
        await settle(pilot)
        texts = [str(n.message) for n in app._notifications]  # (Textual keeps no public list)
        assert any("remembered upright posture" in t for t in texts), texts
