"""Playing a guided exercise set against a clock (pure: the prompt screen asks it where the set is).

:func:`posturebuddy.posture.exercises.guided_set` gives the timed steps; :class:`GuidedSetPlayer` says, for a
number of seconds since the set started, which instruction shows, whether the wearer is holding or resting,
how long the hold has left, and which repetition it is. The screen runs it on the wall clock: a chin tuck takes
real seconds even when a demo plays the wearer's day at 20x.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from posturebuddy.posture.exercises import Exercise, GuidedStep, guided_set


class Phase(enum.StrEnum):
    """Where a guided set is."""

    GET_READY = "get ready"
    HOLD = "hold"
    REST = "rest"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class GuidedPosition:
    """Where the set is at one moment.

    Attributes:
        phase: get ready, hold, rest or done.
        instruction: the instruction to show.
        rep: repetition number from 1 (0 before the first).
        reps: repetitions in the set (per side).
        side: "left"/"right" for one-sided exercises.
        remaining_s: seconds left in this phase (0 when done).
        phase_s: the phase's whole length, seconds (for a countdown bar).
    """

    phase: Phase
    instruction: str
    rep: int
    reps: int
    side: str | None
    remaining_s: float
    phase_s: float

    @property
    def phase_progress(self) -> float:
        """How far through the phase, 0..1."""
        if self.phase_s <= 0:
            return 1.0
        return min(1.0, max(0.0, 1.0 - self.remaining_s / self.phase_s))


class GuidedSetPlayer:
    """A guided set of ``reps`` x ``hold_s`` of ``exercise`` (see the module docstring)."""

    def __init__(self, exercise: Exercise, reps: int, hold_s: float, *, get_ready_s: float = 5.0) -> None:
        self.exercise = exercise
        self.reps = reps
        self.hold_s = hold_s
        self.steps: tuple[GuidedStep, ...] = tuple(guided_set(exercise, reps, hold_s, get_ready_s=get_ready_s))

    @property
    def duration_s(self) -> float:
        """Seconds from the start to "Set complete"."""
        return self.steps[-1].t_offset_s

    def position(self, elapsed_s: float) -> GuidedPosition:
        """Where the set is ``elapsed_s`` seconds after it started."""
        steps = self.steps
        index = 0
        for k, step in enumerate(steps):
            if step.t_offset_s <= elapsed_s:
                index = k
            else:
                break
        step = steps[index]
        if index == len(steps) - 1:
            return GuidedPosition(Phase.DONE, step.instruction, self.reps, self.reps, step.side, 0.0, 0.0)
        following = steps[index + 1]
        phase_s = following.t_offset_s - step.t_offset_s
        remaining = max(0.0, following.t_offset_s - elapsed_s)
        if index == 0:
            phase = Phase.GET_READY
        elif index % 2 == 1:
            phase = Phase.HOLD  # steps alternate: cue (hold starts), release (rest starts)
        else:
            phase = Phase.REST
        return GuidedPosition(phase, step.instruction, step.rep, self.reps, step.side, remaining, phase_s)
