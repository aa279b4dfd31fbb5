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


def _reference(forward: ForwardMethod) -> UprightReference:
    return UprightReference.create(
        (0.0, 1.0, 0.0), (0.0, 0.0, -1.0), t_s=T0, method=CalibrationMethod.CAPTURE, forward_method=forward
    )


@pytest.mark.asyncio
async def test_a_remembered_calibration_is_announced(build: Build, session: FakeSession) -> None:
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        reference = _reference(ForwardMethod.LEAN)
        session.publish(CalibrationChanged(T0 + 1, reference=reference, how="stored"))
        await settle(pilot)
        texts = [str(n.message) for n in app._notifications]  # (Textual keeps no public list)
        assert any("remembered upright posture" in t for t in texts), texts


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("near", "toast"),
    [(False, "Learned your upright posture"), (True, "Fine-tuned your upright posture to where the tag sits now")],
)
async def test_an_automatic_calibration_says_whether_it_was_learned_afresh(
    build: Build, session: FakeSession, near: bool, toast: str
) -> None:
    """A reference learned again near the one before (the tag put back on) is not announced as a new one."""
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        reference = _reference(ForwardMethod.MOUNTING)
        session.publish(CalibrationChanged(T0 + 1, reference=reference, how="auto capture", near=near))
        await settle(pilot)
        texts = [str(n.message) for n in app._notifications]  # (Textual keeps no public list)
        assert [t for t in texts if "upright posture" in t] == [next(t for t in texts if toast in t)], texts
