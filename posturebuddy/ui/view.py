"""The dashboard's view state: everything the screens show, folded from the session's event stream.

Pure Python (no Textual): :class:`DashboardView` takes the items of the session's event stream one by one
(:meth:`DashboardView.take`) and keeps only what the screens draw: the link, the latest engine snapshot, a
bounded timeline of flexion, the calibration's progress, today's figures. Memory is bounded whatever the
session length (the timeline and the event log are fixed-size deques), and nothing here waits or redraws: the
app drains the stream and redraws on a timer.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from posturebuddy.model import (
    BatteryRead,
    ConnectionState,
    ConnectionStateChanged,
    GapDetected,
    PostureClass,
    Prompt,
    StreamStarted,
)
from posturebuddy.model.types import TagStatus
from posturebuddy.motion.calibration import CaptureState, CaptureStatus
from posturebuddy.posture.events import (
    BreakCredited,
    EpisodeEnded,
    EpisodeStarted,
    PromptAnswered,
    PromptRaised,
)
from posturebuddy.session.engine import CalibrationChanged, CalibrationProgressed, EngineSnapshot, TagSlipSuspected

GOOD_POSTURES = frozenset({PostureClass.UPRIGHT, PostureClass.LEANING_BACK})
PROBLEM_POSTURES = frozenset({PostureClass.FORWARD_HEAD, PostureClass.SLOUCH, PostureClass.SIDE_LEAN})

MAX_SHARE_STEP_S = 2.0
"""Snapshots further apart than this (link down) add nothing to the upright share, seconds."""

STATE_WORDS: dict[PostureClass, str] = {
    PostureClass.UPRIGHT: "Sitting upright",
    PostureClass.LEANING_BACK: "Leaning back (fine)",
    PostureClass.FORWARD_HEAD: "Head forward",
    PostureClass.SLOUCH: "Slouching",
    PostureClass.SIDE_LEAN: "Leaning to one side",
    PostureClass.MOVING: "Moving",
    PostureClass.AWAY: "No posture reading",
}
"""The sustained posture state in words."""

CONNECTION_WORDS: dict[ConnectionState, str] = {
    ConnectionState.IDLE: "starting",
    ConnectionState.SCANNING: "looking for the tag",
    ConnectionState.CONNECTING: "connecting",
    ConnectionState.STREAMING: "connected",
    ConnectionState.RECONNECTING: "reconnecting",
    ConnectionState.STOPPED: "stopped",
}


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """Mean flexion over one timeline bucket (``None``: no angles in it) and the posture state at its end."""

    t_s: float
    flexion_deg: float | None
    state: PostureClass


class FlexionTimeline:
    """Flexion averaged over ``bucket_s`` of sample time, the newest ``capacity`` buckets.

    Args:
        bucket_s: sample time per point, seconds.
        capacity: points kept (``bucket_s * capacity`` seconds of history).
    """

    def __init__(self, bucket_s: float = 5.0, capacity: int = 720) -> None:
        self.bucket_s = bucket_s
        self.points: deque[TimelinePoint] = deque(maxlen=capacity)
        self._bucket: int | None = None
        self._sum = 0.0
        self._n = 0
        self._state = PostureClass.AWAY

    def add(self, t_s: float, flexion_deg: float | None, state: PostureClass) -> None:
        """Add one reading at sample time ``t_s``."""
        bucket = math.floor(t_s / self.bucket_s)
        if self._bucket is None:
            self._bucket = bucket
        elif bucket < self._bucket:
            return
        elif bucket > self._bucket:
            self._close()
            # Empty buckets between (link down): a gap, at most one screen's worth.
            missing = min(bucket - self._bucket - 1, self.points.maxlen or 0)
            for k in range(missing):
                t = (bucket - missing + k) * self.bucket_s
                self.points.append(TimelinePoint(t, None, PostureClass.AWAY))
            self._bucket = bucket
        if flexion_deg is not None and math.isfinite(flexion_deg):
            self._sum += flexion_deg
            self._n += 1
        self._state = state

    def _close(self) -> None:
        assert self._bucket is not None
        mean = self._sum / self._n if self._n else None
        self.points.append(TimelinePoint(self._bucket * self.bucket_s, mean, self._state))
        self._sum, self._n = 0.0, 0

    def latest(self, count: int) -> list[TimelinePoint]:
        """The newest ``count`` points, oldest first, including the bucket being filled."""
        current: list[TimelinePoint] = []
        if self._bucket is not None and self._n:
            current = [TimelinePoint(self._bucket * self.bucket_s, self._sum / self._n, self._state)]
        older = max(0, count - len(current))
        tail = list(self.points)[-older:] if older else []
        return tail + current


@dataclass(slots=True)
class LinkView:
    """The link as the status bar shows it."""

    state: ConnectionState = ConnectionState.IDLE
    detail: str = ""
    address: str = ""
    name: str = ""
    family: str = ""
    rssi_dbm: int | None = None
    battery_percent: int | None = None
    battery_voltage_v: float | None = None
    low_battery: bool = False
    charging: bool = False
    gaps: int = 0

    @property
    def words(self) -> str:
        """The state in words."""
        return CONNECTION_WORDS.get(self.state, str(self.state))

    @property
    def battery_text(self) -> str:
        """Battery in words ("87 %", "3.71 V", "?")."""
        if self.battery_percent is not None:
            text = f"{self.battery_percent} %"
        elif self.battery_voltage_v is not None:
            text = f"{self.battery_voltage_v:.2f} V"
        else:
            text = "?"
        if self.charging:
            text += " (charging)"
        elif self.low_battery:
            text += " (low)"
        return text

    @property
    def signal_text(self) -> str:
        """Signal strength in words."""
        rssi = self.rssi_dbm
        if rssi is None:
            return "?"
        quality = "good" if rssi >= -70 else "fair" if rssi >= -85 else "weak"
        return f"{rssi} dBm ({quality})"


@dataclass(slots=True)
class CalibrationView:
    """The calibration wizard's view: the running capture and the latest result."""

    status: CaptureStatus | None = None
    latest: CalibrationChanged | None = None
    changes: int = 0

    @property
    def capturing(self) -> bool:
        """A wizard capture is under way."""
        return self.status is not None and self.status.state is not CaptureState.DONE


@dataclass(slots=True)
class DayFigures:
    """Today's figures that the coach does not keep itself (this session's share of upright time, episodes)."""

    upright_s: float = 0.0
    problem_s: float = 0.0
    episodes: int = 0
    corrected: int = 0

    @property
    def upright_share(self) -> float | None:
        """Upright time over judged seated time (0..1), ``None`` before any."""
        total = self.upright_s + self.problem_s
        return self.upright_s / total if total > 0 else None


@dataclass(slots=True)
class DashboardView:
    """Everything the dashboard draws, folded from the event stream (see the module docstring)."""

    timeline: FlexionTimeline = field(default_factory=FlexionTimeline)
    link: LinkView = field(default_factory=LinkView)
    calibration: CalibrationView = field(default_factory=CalibrationView)
    figures: DayFigures = field(default_factory=DayFigures)
    snapshot: EngineSnapshot | None = None
    open_prompt: Prompt | None = None
    slip_suspected: bool = False
    slip_relearning: bool = False
    log: deque[str] = field(default_factory=lambda: deque(maxlen=50))
    items: int = 0
    t_s: float | None = None

    def take(self, item: object) -> None:
        """Fold one item of the session's event stream into the view."""
        self.items += 1
        if isinstance(item, EngineSnapshot):
            self._snapshot(item)
        elif isinstance(item, ConnectionStateChanged):
            self.link.state = item.state
            self.link.detail = item.detail
            if item.address:
                self.link.address = item.address
        elif isinstance(item, StreamStarted):
            self.link.name, self.link.family, self.link.address = item.name, item.family_id, item.address
        elif isinstance(item, BatteryRead):
            self.link.battery_percent = item.level.percent
            self.link.battery_voltage_v = item.level.voltage_v
        elif isinstance(item, TagStatus):
            self.link.low_battery, self.link.charging = item.low_battery, item.charging
        elif isinstance(item, GapDetected):
            self.link.gaps += 1
        elif isinstance(item, CalibrationProgressed):
            self.calibration.status = item.status
        elif isinstance(item, CalibrationChanged):
            self.calibration.latest = item
            self.calibration.changes += 1
            self.calibration.status = None
            self.slip_suspected = False
        elif isinstance(item, TagSlipSuspected):
            self.slip_suspected = True
            self.slip_relearning = item.relearning
        elif isinstance(item, PromptRaised):
            self.open_prompt = item.prompt
        elif isinstance(item, PromptAnswered):
            if self.open_prompt is not None and self.open_prompt.prompt_id == item.prompt_id:
                self.open_prompt = None
        elif isinstance(item, EpisodeStarted):
            self.figures.episodes += 1
        elif isinstance(item, EpisodeEnded):
            self.figures.corrected += int(item.corrected)
        elif isinstance(item, BreakCredited):
            pass  # counted by the coach (breaks_today)

    def _snapshot(self, snap: EngineSnapshot) -> None:
        previous = self.snapshot
        self.snapshot = snap
        self.t_s = snap.t_s
        state = snap.detector.state
        if previous is not None:
            dt = snap.t_s - previous.t_s
            if 0 < dt <= MAX_SHARE_STEP_S:
                if state in GOOD_POSTURES:
                    self.figures.upright_s += dt
                elif state in PROBLEM_POSTURES:
                    self.figures.problem_s += dt
        flexion = snap.angles.flexion_deg if snap.angles is not None else None
        self.timeline.add(snap.t_s, flexion, state)

    # ------------------------------------------------------------------ derived, for the widgets

    @property
    def state_words(self) -> str:
        """The current posture state in one short phrase."""
        snap = self.snapshot
        if snap is None:
            return "Waiting for the tag"
        if not snap.calibrated:
            return "Learning your upright posture: sit tall and keep still"
        coach = snap.coach
        if coach.on_break:
            return "On a break: keep moving"
        words = STATE_WORDS.get(snap.detector.state, str(snap.detector.state))
        frame = snap.detector
        if frame.candidate in PROBLEM_POSTURES and frame.dwell_progress > 0:
            words += f" ({STATE_WORDS[frame.candidate].lower()} {frame.dwell_progress:.0%} of the way to counting)"
        return words
