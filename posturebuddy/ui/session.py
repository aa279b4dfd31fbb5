"""What the dashboard needs of a session, and how it gets one.

The app is written against :class:`DashboardSession`, the part of
:class:`~posturebuddy.session.live.LiveSession` it uses (an event bus, ``run``, the user actions and a read-only
look at the link and the engine). Tests drive the app with a scripted fake that publishes chosen events, and
with the real ``LiveSession`` over the simulator.

A :data:`SessionFactory` is an async context manager factory: the app enters it inside its own event loop (in
an owned worker), so everything that must be created in the running loop (the simulator's bumble stack, bleak
objects) is, and leaves it after the session has stopped (the simulator's radio is torn down there).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from posturebuddy.devices import NudgePattern, TagFamily
from posturebuddy.link.scan import BleBackend, FoundDevice
from posturebuddy.model import ConnectionState, PromptOutcome
from posturebuddy.motion.calibration import UprightReference
from posturebuddy.posture import CoachState
from posturebuddy.session.bus import EventBus
from posturebuddy.session.engine import EngineSettings
from posturebuddy.session.replay import ReplayStatus


class SessionLink(Protocol):
    """The link, read-only: state, the tag found, the BLE backend (for the tag picker's scan)."""

    @property
    def state(self) -> ConnectionState:
        """Where the link is."""
        ...

    @property
    def found(self) -> FoundDevice | None:
        """The tag found by the latest scan."""
        ...

    @property
    def backend(self) -> BleBackend:
        """The BLE backend the session uses."""
        ...

    @property
    def family(self) -> TagFamily | None:
        """The tag's family, once found."""
        ...


class SessionEngine(Protocol):
    """The engine, read-only: its settings (thresholds for the gauge) and the coach's state."""

    @property
    def settings(self) -> EngineSettings:
        """The engine's settings."""
        ...

    @property
    def coach_state(self) -> CoachState:
        """The coach's current state."""
        ...


class DashboardSession(Protocol):
    """The part of :class:`~posturebuddy.session.live.LiveSession` the dashboard uses."""

    @property
    def bus(self) -> EventBus:
        """The session's event stream."""
        ...

    @property
    def link(self) -> SessionLink:
        """The link to the tag."""
        ...

    @property
    def engine(self) -> SessionEngine:
        """The posture engine."""
        ...

    @property
    def error(self) -> str | None:
        """One sentence after a link error, else ``None``."""
        ...

    async def run(self, stop: asyncio.Event, *, duration_s: float | None = None) -> int:
        """Run until ``stop`` is set; 0, or 1 after a link error."""
        ...

    def answer(self, prompt_id: int, outcome: PromptOutcome) -> None:
        """Done / Snooze / Skip on a prompt."""
        ...

    def calibrate(self) -> None:
        """Start a guided upright capture."""
        ...

    def use_reference(self, reference: UprightReference, how: str) -> None:
        """Judge posture against ``reference`` from now on (the wizard's lean step refines the forward direction)."""
        ...

    def set_quiet(self, quiet: bool) -> None:
        """Quiet mode on or off."""
        ...

    async def nudge(self, pattern: NudgePattern = NudgePattern.GENTLE) -> bool:
        """Buzz/beep/flash the tag if it can."""
        ...


SessionFactory = Callable[[], AbstractAsyncContextManager[DashboardSession]]
"""Makes the session inside the app's running loop (see the module docstring)."""


class ReplayControls(Protocol):
    """What the replay bar and its keys need of a replay (:class:`~posturebuddy.session.replay.ReplaySession`)."""

    @property
    def status(self) -> ReplayStatus:
        """Where the replay is."""
        ...

    def toggle_pause(self) -> bool:
        """Pause or play; returns whether it is now paused."""
        ...

    def faster(self) -> float | None:
        """The next speed up; returns it (``None``: as fast as possible)."""
        ...

    def slower(self) -> float | None:
        """The next speed down; returns it."""
        ...

    def seek_by(self, seconds: float) -> None:
        """Move by ``seconds`` of recording (negative: back)."""
        ...

    def seek_to(self, t_s: float) -> None:
        """Move to host time ``t_s`` (seconds since the epoch)."""
        ...
