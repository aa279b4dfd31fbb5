"""Posture layer: the detector state machine, the coach policy and the exercise library.

Pure and fast: imports only the standard library and :mod:`posturebuddy.model`, never reads the wall clock
(all time is sample time ``t_s`` in seconds, passed in), never imports asyncio, bleak or textual.

* :mod:`~posturebuddy.posture.settings`: :class:`DetectorSettings`, :class:`CoachPolicy`.
* :mod:`~posturebuddy.posture.detector`: :class:`PostureDetector` -> :class:`DetectorFrame` per sample.
* :mod:`~posturebuddy.posture.coach`: :class:`Coach` -> prompts and break events.
* :mod:`~posturebuddy.posture.exercises`: exercises, guided sets, red flags, disclaimer.
* :mod:`~posturebuddy.posture.events`: the events both publish.
"""

from __future__ import annotations

from posturebuddy.posture.coach import Coach, CoachState, format_duration
from posturebuddy.posture.detector import DetectorFrame, PostureDetector
from posturebuddy.posture.episode import EPISODE_KINDS, Episode
from posturebuddy.posture.events import (
    BreakCredited,
    BreakDue,
    BreakEnded,
    BreakKind,
    BreakStarted,
    EpisodeEnded,
    EpisodeStarted,
    PostureChanged,
    PromptAnswered,
    PromptRaised,
)
from posturebuddy.posture.exercises import (
    DISCLAIMER,
    EXERCISES,
    EXERCISES_BY_ID,
    RED_FLAGS,
    Dosing,
    Exercise,
    GuidedStep,
    guided_set,
)
from posturebuddy.posture.settings import CoachPolicy, DetectorSettings, in_working_hours, parse_working_hours

__all__ = [
    "DISCLAIMER",
    "EPISODE_KINDS",
    "EXERCISES",
    "EXERCISES_BY_ID",
    "RED_FLAGS",
    "BreakCredited",
    "BreakDue",
    "BreakEnded",
    "BreakKind",
    "BreakStarted",
    "Coach",
    "CoachPolicy",
    "CoachState",
    "DetectorFrame",
    "DetectorSettings",
    "Dosing",
    "Episode",
    "EpisodeEnded",
    "EpisodeStarted",
    "Exercise",
    "GuidedStep",
    "PostureChanged",
    "PostureDetector",
    "PromptAnswered",
    "PromptRaised",
    "format_duration",
    "guided_set",
    "in_working_hours",
    "parse_working_hours",
]
