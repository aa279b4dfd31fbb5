"""Events the posture layer publishes. Names are past-tense facts; ``t_s`` is the sample time (seconds) of the
update that produced the event, which may be later than the fact's own times (``start_s``, ``end_s``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from posturebuddy.model import PostureClass, Prompt, PromptKind, PromptOutcome
from posturebuddy.model.events import Event
from posturebuddy.posture.episode import Episode


class BreakKind(enum.StrEnum):
    """How a break was seen."""

    ON_FEET = "on_feet"
    """The tag saw the wearer stand up, stand or walk."""
    AWAY = "away"
    """No data for a long time: the tag was taken off or left out of range (lunch, a meeting)."""


@dataclass(frozen=True, slots=True)
class PostureChanged(Event):
    """The detector's sustained posture state changed from ``previous`` to ``current``."""

    previous: PostureClass
    current: PostureClass


@dataclass(frozen=True, slots=True)
class EpisodeStarted(Event):
    """A problem posture lasted its dwell time and is now an episode (``episode.end_s`` is ``None``)."""

    episode: Episode


@dataclass(frozen=True, slots=True)
class EpisodeEnded(Event):
    """An episode ended at ``episode.end_s``.

    ``corrected`` is true when the wearer returned to a good posture (upright or leaning back); false when the
    episode gave way to another problem posture, or ended because the wearer moved or went away.
    """

    episode: Episode
    corrected: bool


@dataclass(frozen=True, slots=True)
class PromptRaised(Event):
    """The coach asked the wearer to do something."""

    prompt: Prompt


@dataclass(frozen=True, slots=True)
class PromptAnswered(Event):
    """A prompt was closed: by the wearer (done, snoozed, skipped), by time (expired) or by the tag
    (auto-completed: the break was seen, or the wearer sat tall)."""

    prompt_id: int
    kind: PromptKind
    outcome: PromptOutcome


@dataclass(frozen=True, slots=True)
class BreakDue(Event):
    """Unbroken sitting reached the limit. A fact: whether a prompt follows depends on quiet mode, working
    hours and snoozes. ``sitting_s`` is the unbroken sitting time in seconds."""

    sitting_s: float


@dataclass(frozen=True, slots=True)
class BreakStarted(Event):
    """A break began at ``start_s`` (seconds): the wearer got up (``on_feet``), or has been away long enough to
    count (``away``, published when ``away_break_s`` has passed)."""

    start_s: float
    kind: BreakKind


@dataclass(frozen=True, slots=True)
class BreakCredited(Event):
    """A break counted: the sitting clock restarts from zero.

    Attributes:
        start_s: when the break began, seconds.
        duration_s: how long it had lasted when credited, seconds (at least ``min_break_s`` or
            ``away_break_s``).
        kind: seen on the wearer's feet, or inferred from a long absence.
        prompted: a break prompt was raised during the sitting stretch this break ends (false: a natural
            break, as Workrave calls it).
    """

    start_s: float
    duration_s: float
    kind: BreakKind
    prompted: bool


@dataclass(frozen=True, slots=True)
class BreakEnded(Event):
    """The wearer is back: seated again after ``on_feet`` time, or data returned after an ``away`` break.

    ``duration_s`` is the whole break in seconds; ``credited`` says whether it counted."""

    start_s: float
    duration_s: float
    kind: BreakKind
    credited: bool
