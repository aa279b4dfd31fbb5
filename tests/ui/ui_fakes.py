"""A scripted stand-in for LiveSession: the test publishes chosen events on a real EventBus and reads back
what the dashboard asked of the session (answers, calibrations, quiet mode, nudges)."""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from posturebuddy.devices import NudgePattern, TagFamily, get_family
from posturebuddy.link.scan import BleBackend, FoundDevice
from posturebuddy.model import (
    Activity,
    ConnectionState,
    ConnectionStateChanged,
    PostureAngles,
    PostureClass,
    Prompt,
    PromptKind,
    PromptOutcome,
    TagInfo,
)
from posturebuddy.motion.activity import ActivityFrame
from posturebuddy.motion.calibration import UprightReference
from posturebuddy.posture import CoachState, DetectorFrame
from posturebuddy.posture.events import PromptAnswered, PromptRaised
from posturebuddy.session.bus import EventBus
from posturebuddy.session.engine import EngineSettings, EngineSnapshot

T0 = 1_767_621_600.0


def coach_state(t_s: float = T0, **changes: Any) -> CoachState:
    base = CoachState(
        t_s=t_s,
        sitting_s=600.0,
        next_break_in_s=2100.0,
        open_prompt=None,
        posture_snoozed_until_s=None,
        break_snoozed_until_s=None,
        quiet=False,
        in_working_hours=True,
        away_from_chair_s=None,
        on_break=False,
        posture_prompts_today=0,
        break_prompts_today=0,
        breaks_today=0,
        natural_breaks_today=0,
        done_today=0,
        snoozed_today=0,
        skipped_today=0,
        expired_today=0,
        auto_completed_today=0,
    )
    return replace(base, **changes)


def snapshot(
    t_s: float = T0,
    *,
    flexion_deg: float | None = 2.0,
    state: PostureClass = PostureClass.UPRIGHT,
    activity: Activity = Activity.STILL,
    calibrated: bool = True,
    **coach: Any,
) -> EngineSnapshot:
    angles = None if flexion_deg is None else PostureAngles(t_s, flexion_deg, 0.0, abs(flexion_deg))
    frame = DetectorFrame(
        t_s=t_s,
        instant=state,
        state=state,
        candidate=None,
        candidate_held_s=0.0,
        dwell_progress=0.0,
        episode=None,
        last_episode=None,
        time_since_upright_s=0.0,
        judged=True,
        unjudged_s=0.0,
        flexion_deg=flexion_deg,
        lateral_deg=0.0,
    )
    act = ActivityFrame(
        t_s=t_s,
        activity=activity,
        confidence=1.0,
        on_feet=activity in (Activity.STANDING, Activity.WALKING),
        step_cadence_hz=math.nan,
        steps=0,
        movement_g=0.0,
        vertical_velocity_m_s=0.0,
        vertical_displacement_m=0.0,
        swing_deg=0.0,
        tilt_excursion_deg=0.0,
    )
    return EngineSnapshot(
        t_s,
        angles=angles,
        tilt=None,
        activity=act,
        detector=frame,
        coach=coach_state(t_s, **coach),
        calibrated=calibrated,
    )


def chin_tuck_prompt(prompt_id: int = 1, t_s: float = T0, reps: int = 3, hold_s: float = 2.0) -> Prompt:
    return Prompt(
        prompt_id=prompt_id,
        kind=PromptKind.CHIN_TUCK,
        t_s=t_s,
        reason="Head forward for 45 s",
        nudge=True,
        details=(("exercise", "chin_tuck_seated"), ("reps", str(reps)), ("hold_s", f"{hold_s:g}")),
    )


def break_prompt(prompt_id: int = 2, t_s: float = T0) -> Prompt:
    return Prompt(
        prompt_id=prompt_id,
        kind=PromptKind.BREAK,
        t_s=t_s,
        reason="Sitting for 45 min without a break",
        details=(("min_break_s", "60"), ("exercise", "reach_overhead")),
    )


@dataclass
class FakeLink:
    state: ConnectionState = ConnectionState.STREAMING
    found: FoundDevice | None = None
    backend: BleBackend = field(default_factory=lambda: BleBackend(label="fake"))
    family: TagFamily | None = field(default_factory=lambda: get_family("posturebuddy"))


@dataclass
class FakeEngine:
    settings: EngineSettings = field(default_factory=EngineSettings)
    coach_state: CoachState = field(default_factory=coach_state)


class FakeSession:
    """Behaves like LiveSession towards the dashboard; the test drives its event stream."""

    def __init__(self) -> None:
        self.bus = EventBus()
        self.link = FakeLink()
        self.engine = FakeEngine()
        self.error: str | None = None
        self.answers: list[tuple[int, PromptOutcome]] = []
        self.calibrations = 0
        self.references: list[tuple[UprightReference, str]] = []
        self.quiet: list[bool] = []
        self.nudges: list[NudgePattern] = []
        self.open: Prompt | None = None
        self.started = asyncio.Event()
        self.stopped = False
        self.t_s = T0
        self.end_with_error: str | None = None

    def publish(self, *items: object) -> None:
        for item in items:
            if isinstance(item, PromptRaised):
                self.open = item.prompt
            self.bus.publish(item)

    def raise_prompt(self, prompt: Prompt) -> None:
        self.publish(PromptRaised(prompt.t_s, prompt))

    def close_prompt(self, outcome: PromptOutcome) -> None:
        prompt = self.open
        assert prompt is not None
        self.open = None
        self.bus.publish(PromptAnswered(self.t_s, prompt.prompt_id, prompt.kind, outcome))

    async def run(self, stop: asyncio.Event, *, duration_s: float | None = None) -> int:
        self.publish(ConnectionStateChanged(T0, ConnectionState.STREAMING, "F8:00:00:00:00:01", "streaming"))
        self.started.set()
        if self.end_with_error is None:
            await stop.wait()
        self.stopped = True
        self.publish(ConnectionStateChanged(T0, ConnectionState.STOPPED, detail="stopped"))
        self.bus.close()
        if self.end_with_error is not None:
            self.error = self.end_with_error
            return 1
        return 0

    def answer(self, prompt_id: int, outcome: PromptOutcome) -> None:
        self.answers.append((prompt_id, outcome))
        if self.open is not None and self.open.prompt_id == prompt_id:
            self.close_prompt(outcome)

    def calibrate(self) -> None:
        self.calibrations += 1

    def use_reference(self, reference: UprightReference, how: str) -> None:
        self.references.append((reference, how))

    def set_quiet(self, quiet: bool) -> None:
        self.quiet.append(quiet)

    async def nudge(self, pattern: NudgePattern = NudgePattern.GENTLE) -> bool:
        self.nudges.append(pattern)
        return True


def factory_for(session: FakeSession) -> Callable[[], contextlib.AbstractAsyncContextManager[FakeSession]]:
    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[FakeSession]:
        yield session

    return factory


def found_device(address: str = "C4:A2:11:00:10:01", name: str = "PB-Tag", rssi: int = -60) -> FoundDevice:
    from bleak.backends.device import BLEDevice

    family = get_family("posturebuddy")
    info = TagInfo(family=family.family_id, name=name, address=address, rssi_dbm=rssi)
    return FoundDevice(info=info, family=family, device=BLEDevice(address, name, None))
