"""Posture episodes: a problem posture that lasted at least the dwell time."""

from __future__ import annotations

from dataclasses import dataclass

from posturebuddy.model import PostureClass

EPISODE_KINDS: tuple[PostureClass, ...] = (PostureClass.SLOUCH, PostureClass.FORWARD_HEAD, PostureClass.SIDE_LEAN)
"""The posture classes that form episodes, most severe first. Upright and leaning back are good postures;
moving and away are not judged."""

SEVERITY: dict[PostureClass, int] = {
    PostureClass.SIDE_LEAN: 1,
    PostureClass.FORWARD_HEAD: 2,
    PostureClass.SLOUCH: 3,
}
"""Rank of each episode kind; a more severe posture needs its full dwell to take over a milder episode."""


@dataclass(frozen=True, slots=True)
class Episode:
    """One episode of a problem posture.

    Attributes:
        kind: ``slouch``, ``forward_head`` or ``side_lean``.
        start_s: sample time the posture began, seconds (not when the dwell elapsed). When the wearer moves from
            one problem posture straight into another, the new episode starts where the previous one ended, so
            episodes never overlap.
        confirmed_s: sample time the detector confirmed the episode, seconds: ``start_s + dwell_s`` (to within one
            sample) for a posture held beyond its threshold throughout; later if it dipped into the hysteresis
            band on the way (those dips pause the dwell clock); sooner when the wearer stepped down from a worse
            episode without a good posture in between (the posture had already lasted).
        end_s: sample time the posture ended (the wearer left it, or started moving or went away), seconds;
            ``None`` while the episode is open.
        peak_flexion_deg: largest forward flexion seen in the episode, degrees.
        mean_flexion_deg: mean flexion over the judged samples in which the posture held, degrees.
        peak_lateral_deg: largest sideways tilt (absolute) seen in the episode, degrees.
    """

    kind: PostureClass
    start_s: float
    confirmed_s: float
    end_s: float | None
    peak_flexion_deg: float
    mean_flexion_deg: float
    peak_lateral_deg: float = 0.0

    @property
    def duration_s(self) -> float | None:
        """``end_s - start_s`` in seconds, or ``None`` while open."""
        return None if self.end_s is None else self.end_s - self.start_s
