"""Synthetic sample streams for the posture tests: piecewise segments sampled at a fixed rate.

Times are computed from integer sample counters (``t0 + i / rate``), never by repeated addition, so a segment
boundary falls exactly where the test says.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from posturebuddy.model import Activity, PostureAngles
from posturebuddy.model.events import Event
from posturebuddy.posture import Coach, DetectorFrame, PostureDetector

E = TypeVar("E", bound=Event)

RATE_HZ = 50.0
DT_S = 1.0 / RATE_HZ


@dataclass(frozen=True)
class Seg:
    """``duration_s`` of one posture. ``angles=False`` sends ``None`` angles (no data)."""

    duration_s: float
    flexion_deg: float = 0.0
    lateral_deg: float = 0.0
    activity: Activity = Activity.STILL
    energy: float = 0.0
    angles: bool = True
    noise_deg: float = 0.0


Sample = tuple[float, PostureAngles | None, Activity, float]


def samples(
    segments: Sequence[Seg], *, t0: float = 0.0, rate_hz: float = RATE_HZ, rng: random.Random | None = None
) -> Iterator[Sample]:
    """Yield ``(t_s, angles, activity, motion_energy)`` for consecutive segments."""
    i = 0
    start = 0.0
    for seg in segments:
        end = start + seg.duration_s
        while i / rate_hz < end - 1e-9:
            t = t0 + i / rate_hz
            angles: PostureAngles | None = None
            if seg.angles:
                f, lat = seg.flexion_deg, seg.lateral_deg
                if seg.noise_deg and rng is not None:
                    f += rng.gauss(0.0, seg.noise_deg)
                    lat += rng.gauss(0.0, seg.noise_deg)
                angles = PostureAngles(t, f, lat, (f * f + lat * lat) ** 0.5)
            yield t, angles, seg.activity, seg.energy
            i += 1
        start = end


def run_detector(
    detector: PostureDetector,
    segments: Sequence[Seg],
    *,
    t0: float = 0.0,
    rate_hz: float = RATE_HZ,
    rng: random.Random | None = None,
) -> list[DetectorFrame]:
    """Feed the segments through ``detector``; return every frame."""
    return [detector.update(t, a, act, e) for t, a, act, e in samples(segments, t0=t0, rate_hz=rate_hz, rng=rng)]


def events_in(frames: Sequence[DetectorFrame]) -> list[Event]:
    """All events of the frames, in order."""
    return [e for f in frames for e in f.events]


@dataclass
class Rig:
    """A detector and a coach driven together, collecting the coach's events."""

    detector: PostureDetector
    coach: Coach
    events: list[Event]
    frames: list[DetectorFrame]
    t_s: float = 0.0

    def feed(self, segments: Sequence[Seg], *, rate_hz: float = 5.0, rng: random.Random | None = None) -> list[Event]:
        """Play the segments from the current time; return the coach events they produced."""
        new: list[Event] = []
        end = self.t_s + sum(s.duration_s for s in segments)
        for t, a, act, e in samples(segments, t0=self.t_s, rate_hz=rate_hz, rng=rng):
            frame = self.detector.update(t, a, act, e)
            self.frames.append(frame)
            new.extend(self.coach.update(t, frame, act))
        self.t_s = end
        self.events.extend(new)
        return new


def rig(detector: PostureDetector | None = None, coach: Coach | None = None, *, t0: float = 0.0) -> Rig:
    """A fresh :class:`Rig` starting at ``t0``."""
    return Rig(detector or PostureDetector(), coach or Coach(), [], [], t0)


def of_type(events: Sequence[Event], cls: type[E]) -> list[E]:
    """The events of one type."""
    return [e for e in events if isinstance(e, cls)]
