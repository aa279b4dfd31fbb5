"""The streaming engine: decoded items in, posture and coaching events out, on sample time only.

Stages, per sample (all pure, from ``motion`` and ``posture``):

1. orientation (:class:`~posturebuddy.motion.TiltEstimator`): up vector in the tag frame, motion energy;
2. calibration: the wearer's upright reference (a stored one, or an automatic "sit upright and keep still"
   capture at the start, with the forward direction from the tag family's documented mounting), then
   :func:`~posturebuddy.motion.calibration.posture_angles`; a slip detector suggests recalibrating;
3. activity (:class:`~posturebuddy.motion.activity.ActivityClassifier`): still, fidget, sit-to-stand,
   standing, walking, no data;
4. detection (:class:`~posturebuddy.posture.PostureDetector`) and coaching (:class:`~posturebuddy.posture.Coach`),
   **judged at most every** ``judge_period_s`` **of sample time** (default 0.1 s): the first item (sample or tick)
   in each ``judge_period_s`` bin of sample time (``floor(t / judge_period_s)``) is judged, the others only feed
   orientation, calibration and activity. Posture changes over seconds, dwell and exit times are tens of
   seconds, so 10 Hz adds at most 0.1 s of latency while costing a fifth of judging every 50-Hz sample; the
   batch analysis (:mod:`posturebuddy.session.analyze`) applies the same rule, so both give the same events.

Time comes only from the samples (and from :meth:`PostureEngine.tick` while the link is down), so a replay at
any speed produces exactly the events of the live run. The engine also emits an :class:`EngineSnapshot` every
``snapshot_period_s`` of sample time for the dashboard, which redraws from the latest one.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from posturebuddy.config import Settings
from posturebuddy.devices import TagFamily, get_family
from posturebuddy.model import Activity, PostureAngles, PromptOutcome, Sample, StreamStarted
from posturebuddy.model.events import Event
from posturebuddy.motion import OrientationSettings, TiltEstimate, TiltEstimator
from posturebuddy.motion.activity import ActivityClassifier, ActivityFrame, ActivitySettings
from posturebuddy.motion.calibration import (
    CaptureSettings,
    CaptureStatus,
    RefineSettings,
    SlipCause,
    SlipDetector,
    SlipEvent,
    UprightCapture,
    UprightReference,
    UprightRefiner,
    posture_angles,
)
from posturebuddy.motion.orientation import AccelCalibration
from posturebuddy.posture import Coach, CoachPolicy, CoachState, DetectorFrame, DetectorSettings, PostureDetector
from posturebuddy.posture.settings import parse_working_hours

AUTO_HOW = "auto capture"
"""``CalibrationChanged.how`` of the engine's own automatic capture (no stored calibration, or re-learning after a
slip of an automatic reference)."""
REFINED_HOW = "auto capture refined"
"""``CalibrationChanged.how`` of an automatic capture refined by the still sitting after it (see
:class:`~posturebuddy.motion.calibration.UprightRefiner`): the UI says nothing, the recording keeps it."""
AUTOMATIC_HOWS = frozenset({AUTO_HOW, REFINED_HOW})
"""The ``how`` of references the engine learned by itself."""

DEFAULT_FORWARD_HINT = (0.0, 0.0, -1.0)
"""Forward hint for a family with no documented mounting: the PostureBuddy profile's (tag +z out of the back)."""


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Everything the engine's stages need (built from the user's settings by :func:`engine_settings`).

    Attributes:
        orientation: tilt estimation.
        activity: activity classification.
        capture: the automatic upright capture.
        refine: the refinement of an automatic capture by the still upright sitting that follows it
            (:class:`~posturebuddy.motion.calibration.UprightRefiner`; ``still_s = 0`` disables it).
        detector: posture detection thresholds and dwell.
        coach: prompt and break policy.
        auto_calibrate: capture the upright reference automatically when none is stored.
        relearn_after_slip: when the slip detector finds that the tag now sits differently and the reference in
            use was learned automatically (not a calibration the wearer made or stored), learn it again the same
            way: capture the next still sitting and refine it. An automatic reference was only ever a guess from
            the first still sitting; putting the tag back on is a new start, and keeping the old guess would judge
            the rest of the session several degrees off. A reference the wearer made is never replaced: the
            dashboard suggests recalibrating instead.
        relearn_near_deg: with ``relearn_after_slip``, also after the tag was taken off and put back on about
            where it was (the slip check found a shift below its ``slip_deg``,
            :meth:`~posturebuddy.motion.calibration.SlipDetector.pop_put_back`), an automatic reference is learned
            again, from still sitting within this many degrees of the old upright only, so that a slouch or a
            recline held still meanwhile is not taken for the new upright. 4 deg: the check's 3 deg plus the
            wearer's still sway (~0.5 deg RMS, docs/engine.md). A re-stick moves the tag by a degree or two
            (2.8 deg on the simulator's 8-hour day), which otherwise stays in every angle for the rest of the
            session. 0 turns this off. Every such learning stays within this limit of the *anchor*: the last
            reference set or learned afresh (not near), so that a run of them cannot walk the upright away
            (:attr:`PostureEngine.learned_near`).
        relearn_min_shift_deg: a put-back whose shift is below this, degrees, is not worth learning again: the
            capture's own error is 0.1-0.5 deg, and a wearer who lay down or bent far over without taking the tag
            off also ends such a check, with a shift of a few tenths of a degree.
        utc_offset_s: local time offset for working hours and "today", seconds.
        snapshot_period_s: sample time between two :class:`EngineSnapshot` events, seconds.
        judge_period_s: posture is judged (detector and coach) on the first item of each bin of this much sample
            time, seconds; 0 judges every item. See the module docstring.
    """

    orientation: OrientationSettings = field(default_factory=OrientationSettings)
    activity: ActivitySettings = field(default_factory=ActivitySettings)
    capture: CaptureSettings = field(default_factory=CaptureSettings)
    refine: RefineSettings = field(default_factory=RefineSettings)
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    coach: CoachPolicy = field(default_factory=CoachPolicy)
    auto_calibrate: bool = True
    relearn_after_slip: bool = True
    relearn_near_deg: float = 4.0
    relearn_min_shift_deg: float = 1.0
    utc_offset_s: float = 0.0
    snapshot_period_s: float = 0.1
    judge_period_s: float = 0.1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.judge_period_s) and self.judge_period_s >= 0.0):
            msg = f"EngineSettings.judge_period_s = {self.judge_period_s!r} is not allowed: expected seconds >= 0"
            raise ValueError(msg)
        if not (math.isfinite(self.relearn_min_shift_deg) and self.relearn_min_shift_deg >= 0.0):
            msg = (
                f"EngineSettings.relearn_min_shift_deg = {self.relearn_min_shift_deg!r} is not allowed: "
                "expected degrees >= 0"
            )
            raise ValueError(msg)
        if not (math.isfinite(self.relearn_near_deg) and self.relearn_near_deg >= 0.0):
            msg = f"EngineSettings.relearn_near_deg = {self.relearn_near_deg!r} is not allowed: expected degrees >= 0"
            raise ValueError(msg)


REPLAY_TICK_PERIOD_S = 1.0
"""Ticks fill pauses in the data every this many seconds of sample time, on one grid for live sessions, replays and
``analyze`` (:func:`pause_ticks`)."""


def pause_ticks(
    last_s: float, until_s: float, *, done: int = 0, period_s: float = REPLAY_TICK_PERIOD_S, inclusive: bool = False
) -> Iterator[tuple[int, float]]:
    """The ticks of a pause in the data, as ``(k, last_s + k * period_s)`` for k = ``done`` + 1, 2, ... while
    before ``until_s`` (or at it, with ``inclusive``). ``last_s`` is the last sample's time, ``done`` how many
    ticks of this pause were already given. A pause gets ticks only where the next sample comes more than
    ``period_s`` after the last one; callers filling a pause before that sample check it (``until_s - last_s >
    period_s``), as :func:`~posturebuddy.session.analyze.replay_ticks` does in batch."""
    k = done + 1
    while (t := last_s + k * period_s) < until_s or (inclusive and t == until_s):
        yield k, t
        k += 1


def judge_bin(t_s: float, period_s: float) -> float:
    """The judging bin of sample time ``t_s``: ``floor(t_s / period_s)`` (``t_s`` itself when ``period_s`` is 0).

    An item is judged when its bin is later than the bin of the last judged item. Batch code uses
    ``np.floor(t / period_s)``, which rounds identically (IEEE division, then floor)."""
    return float(math.floor(t_s / period_s)) if period_s > 0.0 else t_s


def with_accel_calibration(settings: EngineSettings, calibration: AccelCalibration | None) -> EngineSettings:
    """``settings`` with the orientation stage correcting every accelerometer reading by ``calibration`` (``None``:
    raw readings). Used for a tag's stored six-face correction and for the one a recording carries."""
    return replace(settings, orientation=replace(settings.orientation, accel_calibration=calibration))


def engine_settings(settings: Settings, *, utc_offset_s: float = 0.0) -> EngineSettings:
    """Map the user's settings (config file units) onto the engine's stages."""
    d, c, b = settings.detection, settings.coach, settings.breaks
    detector = DetectorSettings(
        forward_head_deg=d.forward_head_deg,
        slouch_deg=d.slouch_deg,
        lean_back_deg=d.lean_back_deg,
        side_lean_deg=d.side_lean_deg,
        hysteresis_deg=d.hysteresis_deg,
        dwell_s=d.dwell_s,
        exit_s=d.exit_s,
    )
    coach = CoachPolicy(
        min_prompt_interval_s=c.min_prompt_interval_min * 60.0,
        posture_snooze_s=c.snooze_min * 60.0,
        nudge_tag=c.nudge_tag,
        quiet=c.quiet,
        working_hours=parse_working_hours(c.working_hours),
        chin_tuck_reps=c.chin_tuck_reps,
        chin_tuck_hold_s=c.chin_tuck_hold_s,
        breaks_enabled=b.enabled,
        sitting_limit_s=b.sitting_limit_min * 60.0,
        min_break_s=b.min_break_s,
        break_snooze_s=b.snooze_min * 60.0,
    )
    return EngineSettings(detector=detector, coach=coach, utc_offset_s=utc_offset_s)


@dataclass(frozen=True, slots=True)
class CalibrationChanged(Event):
    """The engine now judges posture against ``reference`` (``how``: "auto capture", "stored", "wizard"...).

    ``near``: an automatic reference learned again close to the one before (after the tag was put back on, or
    at the start of a session with a remembered one), rather than learned afresh."""

    reference: UprightReference
    how: str
    near: bool = False


@dataclass(frozen=True, slots=True)
class CalibrationProgressed(Event):
    """Progress of an upright capture (for the calibration wizard): state, 0..1, and a hint such as "keep still"."""

    status: CaptureStatus


@dataclass(frozen=True, slots=True)
class TagSlipSuspected(Event):
    """The tag's still-time orientation jumped and stayed: it may have shifted; recalibrating is suggested.

    ``relearning``: the engine is learning the upright again by itself (its reference was automatic, see
    :attr:`EngineSettings.relearn_after_slip`); a ``CalibrationChanged(how="auto capture")`` follows."""

    slip: SlipEvent
    relearning: bool = False


@dataclass(frozen=True, slots=True)
class EngineSnapshot(Event):
    """The engine's state for the dashboard, every ``snapshot_period_s`` of sample time.

    Attributes:
        angles: posture angles relative to upright (``None`` before calibration or without tilt).
        tilt: the latest tilt estimate (``None`` before the first).
        activity: the latest activity frame.
        detector: the latest detector frame.
        coach: the coach's state (sitting time, next break, open prompt, today's counts).
        calibrated: whether a reference is in use.
    """

    angles: PostureAngles | None
    tilt: TiltEstimate | None
    activity: ActivityFrame
    detector: DetectorFrame
    coach: CoachState
    calibrated: bool


def relearn_capture(
    slip: SlipEvent | None,
    put_back_shift_deg: float | None,
    anchor: UprightReference | None,
    settings: EngineSettings,
) -> UprightCapture | None:
    """The capture that learns an automatic reference again after an update of the slip detector (``slip``: the
    event it returned; ``put_back_shift_deg``: its :meth:`~posturebuddy.motion.calibration.SlipDetector.pop_put_back`):
    after a slip, any still posture; after a put-back of at least ``relearn_min_shift_deg``, still posture near the
    anchor only (:func:`near_capture`); else ``None``. The one rule of the engine and of batch analysis."""
    if slip is not None:
        return UprightCapture(settings=settings.capture)
    if put_back_shift_deg is None or put_back_shift_deg < settings.relearn_min_shift_deg:
        return None
    return near_capture(anchor, settings)


def near_capture(anchor: UprightReference | None, settings: EngineSettings) -> UprightCapture | None:
    """A capture of still posture within ``relearn_near_deg`` of ``anchor`` (``None`` without an anchor or with
    the limit 0)."""
    if anchor is None or settings.relearn_near_deg <= 0.0:
        return None
    return UprightCapture(settings=settings.capture, near=(anchor.up_tag, settings.relearn_near_deg))


class PostureEngine:
    """Streaming engine for one tag. Feed it the decoding stage's items in order."""

    def __init__(
        self,
        settings: EngineSettings | None = None,
        *,
        family: TagFamily | None = None,
        reference: UprightReference | None = None,
    ) -> None:
        self.settings = settings or EngineSettings()
        st = self.settings
        self.family = family
        self.reference = reference
        self._tilt = TiltEstimator(st.orientation)
        self._activity = ActivityClassifier(st.activity)
        self._detector = PostureDetector(st.detector)
        self._coach = Coach(st.coach, utc_offset_s=st.utc_offset_s)
        self._slip: SlipDetector | None = SlipDetector(reference) if reference is not None else None
        self._capture: UprightCapture | None = (
            UprightCapture(settings=st.capture) if reference is None and st.auto_calibrate else None
        )
        self._capture_how = AUTO_HOW
        self._refiner: UprightRefiner | None = None
        self._refining_near = False  # the refiner refines a capture learned near the anchor
        self._auto_reference = False
        self._anchor: UprightReference | None = reference  # what learning "near" stays near
        self._last_tilt: TiltEstimate | None = None
        self._last_activity: ActivityFrame | None = None
        self._last_frame: DetectorFrame | None = None
        self._last_angles: PostureAngles | None = None
        self._snapshot_bin = -math.inf
        self._last_t = -math.inf
        self._judged_bin = -math.inf

    # ------------------------------------------------------------------ control

    def calibrate(self, how: str = "wizard") -> None:
        """Start a new upright capture now (the current reference stays in use until it completes)."""
        self._capture = UprightCapture(settings=self.settings.capture)
        self._capture_how = how
        self._refiner = None

    def set_reference(
        self,
        reference: UprightReference,
        how: str = "stored",
        *,
        learned: bool | None = None,
        check_placement: bool = False,
    ) -> list[Event]:
        """Use ``reference`` from now on; a pending automatic capture is no longer needed and stops (a capture the
        wearer asked for goes on). ``learned``: the reference was learned automatically, so a slip may replace it
        (:attr:`EngineSettings.relearn_after_slip`); by default, true for ``how`` "auto capture" and its
        refinement (a remembered reference passes how it was first made). ``check_placement``: the reference was
        made during an earlier wearing (remembered from another session), so the slip detector checks at once
        whether the wearer's still posture comes back to it, as it does after the tag was handled
        (:attr:`~posturebuddy.motion.calibration.SlipCause.PUT_ON`): a tag stuck on a little differently today is
        noticed within the check's still time instead of never. Not used by the live session yet: with the 120-s
        confirmation of a handled tag it also fires on a wearer who starts the day reclined (docs/engine.md)."""
        if self._capture is not None and self._capture_how == AUTO_HOW:
            self._capture = None
        if how != REFINED_HOW:
            self._refiner = None
        self._auto_reference = how in AUTOMATIC_HOWS if learned is None else learned
        self.reference = reference
        self._anchor = reference
        self._slip = SlipDetector(reference)
        if check_placement:
            self._slip.start_check(SlipCause.PUT_ON, reference.t_s)
        return [CalibrationChanged(reference.t_s, reference=reference, how=how)]

    def learn_again_near(self) -> bool:
        """Learn the automatic reference in use again, from still sitting within
        :attr:`EngineSettings.relearn_near_deg` of it only; it stays in use until the new capture completes, which
        is then refined as usual. Meant for a reference remembered from an earlier wearing: a tag is never stuck on
        exactly as the day before, and the limit keeps a wearer who starts the day reclined or slouched from
        teaching that posture (the capture waits until they sit near their old upright).

        Returns whether a capture started: not for a reference the wearer made, without a reference, with
        ``relearn_after_slip`` off or ``relearn_near_deg`` 0, or while a capture the wearer asked for goes on."""
        capture = near_capture(self._anchor, self.settings) if self._may_relearn() else None
        if capture is None:
            return False
        self._start_relearn(capture)
        return True

    def set_accel_calibration(self, calibration: AccelCalibration | None) -> None:
        """Correct every accelerometer reading by ``calibration`` from now on (``None``: use the raw readings).

        The tilt estimator is rebuilt, so its filters start afresh on the next sample with corrected readings only
        (a low-pass holding raw and corrected readings mixed would agree with no batch run). Meant for the moment a
        tag connects, before its first sample; a recording carries the correction so that replay and analyze apply
        it from the start as well."""
        if calibration == self.settings.orientation.accel_calibration:
            return
        self.settings = with_accel_calibration(self.settings, calibration)
        self._tilt = TiltEstimator(self.settings.orientation)

    def answer(self, prompt_id: int, outcome: PromptOutcome, t_s: float) -> list[Event]:
        """The wearer answered a prompt (Done / Skip; Snooze goes to :meth:`snooze`)."""
        if outcome is PromptOutcome.SNOOZED:
            return self.snooze(prompt_id, t_s)
        return list(self._coach.answer(prompt_id, outcome, t_s))

    def snooze(self, prompt_id: int, t_s: float) -> list[Event]:
        """The wearer snoozed a prompt."""
        return list(self._coach.snooze(prompt_id, t_s))

    def set_quiet(self, quiet: bool) -> None:
        """Quiet mode: keep tracking, raise no prompts."""
        self._coach.set_quiet(quiet)

    @property
    def coach_state(self) -> CoachState:
        """The coach's current state."""
        return self._coach.state

    @property
    def learned_near(self) -> bool:
        """Whether the reference in use was learned near an earlier one (:meth:`learn_again_near`, or after a
        put-back) rather than set or learned afresh. Such a reference is not worth remembering for the next
        session: every later "near" learning stays near the earlier one (the anchor), so that a run of them, each
        off by a little, cannot walk the upright away."""
        return self._anchor is not self.reference

    @property
    def slip_check(self) -> SlipCause | None:
        """What started the tag-slip check in progress (``None``: no check is going on)."""
        return self._slip.checking if self._slip is not None else None

    # ------------------------------------------------------------------ input

    def feed(self, item: object) -> list[Event]:
        """Process one item of the decoding stage (samples drive the engine; other items are passed over)."""
        if isinstance(item, Sample):
            return self._sample(item)
        if isinstance(item, StreamStarted) and (self.family is None or self.family.family_id != item.family_id):
            self.family = get_family(item.family_id)
        return []

    def tick(self, t_s: float) -> list[Event]:
        """Let sample time pass without data (the link is down): timers and away-time keep running."""
        if t_s <= self._last_t:
            return []
        self._last_t = t_s
        activity = self._activity.update(t_s, None, None)
        if not self._due(t_s):
            self._last_activity = activity
            return []
        return self._judge(t_s, None, activity, 0.0)

    def _due(self, t: float) -> bool:
        """Whether the item at sample time ``t`` is judged (the first of its ``judge_period_s`` bin)."""
        b = judge_bin(t, self.settings.judge_period_s)
        if b > self._judged_bin:
            self._judged_bin = b
            return True
        return False

    # ------------------------------------------------------------------ stages

    def _sample(self, sample: Sample) -> list[Event]:
        t = sample.t_s
        if t < self._last_t:
            return []  # out-of-order sample: time never runs backwards in the engine
        self._last_t = t
        events: list[Event] = []
        tilt = self._tilt.update(sample)
        if tilt is not None:
            self._last_tilt = tilt
        activity = self._activity.update(t, sample.accel_g, tilt)
        if self._refiner is not None:
            refined = self._refiner.update(tilt, activity.activity is Activity.STILL, t)
            if refined is not None:
                events.extend(self._adopt(refined, REFINED_HOW, near=self._refining_near))
            if self._refiner.finished:
                self._refiner = None
        if self._capture is not None:
            events.extend(self._calibration_step(tilt, t))
        due = self._due(t)
        angles: PostureAngles | None = None
        motion = 0.0
        if tilt is not None:
            motion = tilt.motion_energy
            if self.reference is not None and not tilt.initialising:
                if due:
                    angles = posture_angles(tilt.up_tag, self.reference, t)
                if self._slip is not None:
                    events.extend(self._slip_step(tilt, t))
        if due:
            events.extend(self._judge(t, angles, activity, motion))
        else:
            self._last_activity = activity
        return events

    def _slip_step(self, tilt: TiltEstimate, t: float) -> list[Event]:
        """Feed the slip detector; learn an automatic reference again after a slip or a put-back (the old
        reference stays in use until the new capture completes). A capture the wearer asked for is left alone."""
        slip_detector = self._slip
        assert slip_detector is not None
        slip = slip_detector.update(tilt)
        shift = slip_detector.pop_put_back()
        if slip is None and shift is None:
            return []
        may_relearn = self._may_relearn()
        capture = relearn_capture(slip, shift, self._anchor, self.settings) if may_relearn else None
        if capture is not None:
            self._start_relearn(capture)
        return [] if slip is None else [TagSlipSuspected(t, slip=slip, relearning=may_relearn)]

    def _may_relearn(self) -> bool:
        """The reference in use was learned automatically, re-learning is on, and no capture the wearer asked for
        is going on."""
        return (
            self._auto_reference
            and self.settings.relearn_after_slip
            and (self._capture is None or self._capture_how == AUTO_HOW)
        )

    def _start_relearn(self, capture: UprightCapture) -> None:
        self._capture = capture
        self._capture_how = AUTO_HOW
        self._refiner = None  # refining the old capture would cancel the new one

    def _adopt(self, reference: UprightReference, how: str, *, near: bool) -> list[Event]:
        """Use a reference the engine learned; one learned ``near`` the anchor keeps the anchor."""
        anchor = self._anchor
        events = self.set_reference(reference, how=how)
        if near:
            self._anchor = anchor
            events = [replace(e, near=True) if isinstance(e, CalibrationChanged) else e for e in events]
        return events

    def _calibration_step(self, tilt: TiltEstimate | None, t: float) -> list[Event]:
        capture = self._capture
        assert capture is not None
        status = capture.update(tilt, t)
        events: list[Event] = []
        if self._capture_how != AUTO_HOW:
            events.append(CalibrationProgressed(t, status=status))
        captured = capture.captured
        if captured is not None:
            self._capture = None
            hint = self.family.forward_axis if self.family and self.family.forward_axis else DEFAULT_FORWARD_HINT
            reference = captured.reference(hint, t)
            near = capture.near is not None
            events.extend(self._adopt(reference, self._capture_how, near=near))
            if self._capture_how == AUTO_HOW and self.settings.refine.still_s > 0.0:
                self._refiner = UprightRefiner(reference, self.settings.refine)
                self._refining_near = near
        return events

    def _judge(
        self, t: float, angles: PostureAngles | None, activity: ActivityFrame, motion_energy: float
    ) -> list[Event]:
        frame = self._detector.update(t, angles, activity.activity, motion_energy)
        events: list[Event] = list(frame.events)
        events.extend(self._coach.update(t, frame, activity.activity))
        self._last_activity, self._last_frame, self._last_angles = activity, frame, angles
        snapshot_bin = judge_bin(t, self.settings.snapshot_period_s)
        if snapshot_bin > self._snapshot_bin:  # one per period bin of sample time, like the judging itself
            self._snapshot_bin = snapshot_bin
            events.append(self.snapshot(t))
        return events

    def snapshot(self, t_s: float) -> EngineSnapshot:
        """The engine's state now (for a UI that asks instead of waiting)."""
        activity = self._last_activity or self._activity.update(t_s, None, None)
        frame = self._last_frame or self._detector.update(t_s, None, Activity.NO_DATA, 0.0)
        return EngineSnapshot(
            t_s,
            angles=self._last_angles,
            tilt=self._last_tilt,
            activity=activity,
            detector=frame,
            coach=self._coach.state,
            calibrated=self.reference is not None,
        )
