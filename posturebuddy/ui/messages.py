"""Textual messages of the dashboard: past-tense facts the app posts when the session's stream says so.

The app drains the session's event stream on its redraw timer and turns the few discrete facts the screens
react to into these messages (tests assert on them with ``run_test(message_hook=...)``). High-rate items
(samples, engine snapshots) never become messages: they only update the view state the timer draws.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from posturebuddy.model import ConnectionState, Prompt, PromptKind, PromptOutcome
from posturebuddy.motion.calibration import UprightReference


@dataclass
class SessionStarted(Message):
    """The session is running (the simulator or the link is set up)."""

    label: str


@dataclass
class SessionEnded(Message):
    """The session finished: ``status`` 0, or 1 after a link error (``error``: one sentence)."""

    status: int
    error: str | None


@dataclass
class SessionFailed(Message):
    """The session could not start or crashed; ``error`` is one sentence for the user."""

    error: str


@dataclass
class ConnectionChanged(Message):
    """The link moved to ``state`` (``detail``: why, in plain words)."""

    state: ConnectionState
    detail: str


@dataclass
class PromptOpened(Message):
    """The coach raised ``prompt``; the prompt screen is showing it."""

    prompt: Prompt


@dataclass
class PromptClosed(Message):
    """A prompt closed: answered by the wearer, expired, or completed by the tag."""

    prompt_id: int
    kind: PromptKind
    outcome: PromptOutcome


@dataclass
class CalibrationFinished(Message):
    """A new upright reference is in use (``how``: "wizard", "auto capture"...; ``near``: learned again close to
    the one before, see :class:`~posturebuddy.session.engine.CalibrationChanged`)."""

    how: str
    spread_deg: float
    duration_s: float
    near: bool = False


@dataclass
class TagSlipped(Message):
    """The tag seems to have shifted on the back: the engine is re-learning the upright by itself
    (``relearning``), or recalibrating is suggested."""

    relearning: bool = False


@dataclass
class PromptAnswerChosen(Message):
    """The wearer chose Done, Snooze or Skip on the prompt screen (the app passes it to the session)."""

    prompt_id: int
    outcome: PromptOutcome


@dataclass
class LeanFinished(Message):
    """The wizard's lean-forward step gave a forward direction: use this reference (the app asks the session)."""

    reference: UprightReference


@dataclass
class CalibrationRequested(Message):
    """The wearer started an upright capture in the calibration wizard (the app asks the session)."""
