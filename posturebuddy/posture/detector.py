"""The posture detector: a pure state machine on sample time.

Feed it one update per sample (and explicit ticks with ``angles=None`` while the link is down); it returns a
:class:`DetectorFrame` with everything it knows, including the events the update produced.

How it decides (all thresholds in :class:`~posturebuddy.posture.settings.DetectorSettings`):

1. **Is posture judged at all?** Not when there are no angles (or they are not finite), the activity stage
   says ``no_data``, the tilt is beyond ``off_body_deg`` (tag on the desk): the instantaneous class is
   ``away``. Not when the wearer moves: activity ``fidget``, ``sit_to_stand`` or ``walking`` (and ``standing``
   unless ``judge_standing``), or ``motion_energy >= moving_energy``: the class is ``moving``.
2. **Instantaneous class** of a judged sample, with hysteresis: a threshold is crossed at its value and
   re-crossed only ``hysteresis_deg`` back. The sagittal level is leaning back / neutral / forward head /
   slouch; sideways is a separate flag. First match wins: slouch, forward head, side lean, leaning back,
   upright.
3. **Runs and the dwell clock.** For each problem kind the detector keeps a run: on from the moment the angle
   crosses the threshold until it comes back past the hysteresis band. The run's dwell clock counts only the
   time the angle is at or beyond the threshold itself: dips into the hysteresis band pause it without
   resetting it, so a wearer sitting right at the threshold is neither re-timed by every noisy dip nor caught
   by one peak while hovering just below (the band is for flicker, not for time). Forward head counts while
   flexion is at the forward-head level *or worse*, so a wearer wavering between 12 and 18 degrees is still
   timed. A run whose dwell clock reaches ``dwell_s`` becomes an
   :class:`~posturebuddy.posture.episode.Episode` (``EpisodeStarted``), starting when the run began.
4. **Episodes end** when their condition has been off for ``exit_s`` (``EpisodeEnded``, ending where it went
   off). A more severe posture takes over a milder episode only after its own full dwell. When an episode
   ends and the wearer is in another problem posture (they never got back to a good one), that posture's
   episode starts at once, where the previous one ended.
5. **Unjudged time (the grace period).** A fidget, a reach or a short dropout freezes the runs: an ongoing
   episode neither ends nor restarts, and a dwell timer keeps running through it (the wearer slouching
   before and after a 4-s reach for a mug has been slouching all along) if the posture was at or beyond its
   threshold just before, judged ``onset_lookback_s`` before the unjudged time began: the movement gate
   closes a few tenths of a second into a movement that already sways the tilt. If posture stays unjudged for
   ``grace_s``, the episode ends where the unjudged time began, the runs are cleared and the state becomes
   ``moving`` or ``away`` (``away`` once data has been missing for ``grace_s``). When judging resumes after a
   short gap, a posture that turned *off* is taken to have ended where the gap began, and one that turned
   *on* to have begun at the first judged sample: unknown time is credited to the wearer.
6. **Sustained state** (``PostureChanged``): the kind of the open episode; otherwise the good posture
   (upright or leaning back) once held for ``exit_s``; otherwise ``moving``/``away`` as in 5. A problem
   posture that has not yet lasted its dwell does not change the state: it is the *candidate*.

Leaning back is a good posture: it never forms an episode. Time never runs backwards: an update earlier than
the previous one is treated as happening at the previous one's time. The detector never raises on odd input.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from posturebuddy.model import Activity, PostureAngles, PostureClass
from posturebuddy.model.events import Event
from posturebuddy.posture.episode import EPISODE_KINDS, SEVERITY, Episode
from posturebuddy.posture.events import EpisodeEnded, EpisodeStarted, PostureChanged
from posturebuddy.posture.settings import DetectorSettings

_GOOD = frozenset({PostureClass.UPRIGHT, PostureClass.LEANING_BACK})
_UNJUDGED = frozenset({PostureClass.MOVING, PostureClass.AWAY})
_AWAY = PostureClass.AWAY
_MOVING = PostureClass.MOVING
_NO_DATA = Activity.NO_DATA
_STANDING = Activity.STANDING
_MOVING_ACTIVITIES = frozenset({Activity.FIDGET, Activity.SIT_TO_STAND, Activity.WALKING})

_MORE_SEVERE: dict[PostureClass, tuple[PostureClass, ...]] = {
    kind: tuple(k for k in EPISODE_KINDS if SEVERITY[k] > SEVERITY[kind]) for kind in EPISODE_KINDS
}

_EPS_S = 1e-6
"""Tolerance on the dwell clock, seconds: sums of sample periods must not miss the dwell by rounding."""

# Sagittal levels.
_BACK, _NEUTRAL, _FORWARD, _SLOUCH = -1, 0, 1, 2


@dataclass(frozen=True, slots=True)
class DetectorFrame:
    """What the detector knows after one update. Exposed whole for the dashboard and for tests.

    Attributes:
        t_s: sample time of the update, seconds (never earlier than the previous frame's).
        instant: this sample's class: a posture class for a judged sample, ``moving`` or ``away`` otherwise.
        state: the sustained posture state (see the module docstring).
        candidate: the class the detector is timing to take over ``state`` (a problem posture toward its
            dwell, a better posture toward ending an episode, a good posture toward becoming the state), or
            ``None``.
        candidate_held_s: how long the candidate has held, seconds: for a problem posture its dwell clock (time at
            or beyond the threshold since the run began), otherwise the time in the better posture; 0 without a
            candidate.
        dwell_progress: ``candidate_held_s`` over the time the candidate needs (``dwell_s`` or ``exit_s``),
            clamped to 0..1; 0 without a candidate.
        episode: the open episode with its running statistics, or ``None``.
        last_episode: the most recently ended episode, or ``None``.
        time_since_upright_s: time since the last judged sample in a good posture (upright or leaning back),
            seconds; 0 while in one; ``None`` if there has been none yet.
        judged: whether this sample's posture was judged.
        unjudged_s: how long posture has gone unjudged (moving, no data) up to this sample, seconds; 0 when
            judged.
        flexion_deg: this sample's flexion, degrees (``None`` without usable angles).
        lateral_deg: this sample's sideways tilt, degrees (``None`` without usable angles).
        events: the events this update produced, in order.
    """

    t_s: float
    instant: PostureClass
    state: PostureClass
    candidate: PostureClass | None
    candidate_held_s: float
    dwell_progress: float
    episode: Episode | None
    last_episode: Episode | None
    time_since_upright_s: float | None
    judged: bool
    unjudged_s: float
    flexion_deg: float | None
    lateral_deg: float | None
    events: tuple[Event, ...] = ()


class _Run:
    """Whether a posture condition holds, since when, and statistics of the samples in which it held."""

    __slots__ = ("above", "active", "changes", "held", "n", "peak_flexion", "peak_lateral", "since", "total")

    def __init__(self) -> None:
        self.active = False  # the condition holds (with hysteresis)
        # The dwell clock runs: the latest judged sample was at or beyond the entry threshold (in unjudged time:
        # the one onset_lookback_s before it began).
        self.above = False
        self.changes: list[tuple[float, bool]] = []  # recent changes of ``above``: (time, new value)
        self.since = 0.0  # when the condition last turned on (or off)
        self.held = 0.0  # time at or beyond the entry threshold since it turned on: the dwell clock
        self.n = 0
        self.total = 0.0
        self.peak_flexion = -math.inf
        self.peak_lateral = 0.0

    def clear(self) -> None:
        self.active = False
        self.above = False
        self.changes.clear()
        self.held = 0.0
        self.reset_stats()

    def set_above(self, t: float, above: bool, keep_s: float) -> None:
        """Set :attr:`above` at time ``t`` and remember the change for :meth:`above_at` calls up to ``keep_s``
        seconds back."""
        if above == self.above:
            return
        self.above = above
        changes = self.changes
        changes.append((t, above))
        while len(changes) > 1 and changes[1][0] <= t - keep_s:
            del changes[0]

    def above_at(self, t: float) -> bool:
        """What :attr:`above` was at time ``t`` (no earlier than ``keep_s`` before the latest change)."""
        changes = self.changes
        for when, value in reversed(changes):
            if when <= t:
                return value
        return not changes[0][1] if changes else self.above

    def reset_stats(self) -> None:
        self.n = 0
        self.total = 0.0
        self.peak_flexion = -math.inf
        self.peak_lateral = 0.0

    def add(self, flexion: float, lateral: float) -> None:
        self.n += 1
        self.total += flexion
        if flexion > self.peak_flexion:
            self.peak_flexion = flexion
        if lateral < 0.0:
            lateral = -lateral
        if lateral > self.peak_lateral:
            self.peak_lateral = lateral


class _OpenEpisode:
    """The mutable open episode; snapshots are :class:`Episode` values."""

    __slots__ = ("confirmed", "kind", "start", "stats")

    def __init__(self, kind: PostureClass, start: float, confirmed: float, source: _Run) -> None:
        self.kind = kind
        self.start = start
        self.confirmed = confirmed
        self.stats = _Run()
        self.stats.n = source.n
        self.stats.total = source.total
        self.stats.peak_flexion = source.peak_flexion
        self.stats.peak_lateral = source.peak_lateral

    def snapshot(self, end: float | None, flexion: float | None) -> Episode:
        st = self.stats
        if st.n == 0:
            fallback = 0.0 if flexion is None else flexion
            return Episode(self.kind, self.start, self.confirmed, end, fallback, fallback, 0.0)
        return Episode(self.kind, self.start, self.confirmed, end, st.peak_flexion, st.total / st.n, st.peak_lateral)


class PostureDetector:
    """Pure posture state machine. See the module docstring for the rules.

    Args:
        settings: thresholds and timings (defaults equal the config defaults).
    """

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings if settings is not None else DetectorSettings()
        s = self.settings
        # Effective hysteresis per threshold: never let an exit angle cross zero.
        self._h_forward = min(s.hysteresis_deg, 0.5 * s.forward_head_deg)
        self._h_slouch = min(s.hysteresis_deg, 0.5 * s.slouch_deg)
        self._h_back = min(s.hysteresis_deg, 0.5 * s.lean_back_deg)
        self._h_side = min(s.hysteresis_deg, 0.5 * s.side_lean_deg)
        self._t: float | None = None
        self._level = _NEUTRAL
        self._side = False
        self._instant: PostureClass | None = None  # last judged class; None after a reset
        self._instant_since = 0.0
        self._runs: dict[PostureClass, _Run] = {k: _Run() for k in EPISODE_KINDS}
        self._slouch_run = self._runs[PostureClass.SLOUCH]
        self._forward_run = self._runs[PostureClass.FORWARD_HEAD]
        self._side_run = self._runs[PostureClass.SIDE_LEAN]
        self._run_list = tuple(self._runs.values())
        self._off_body = s.off_body_deg
        self._judge_standing = s.judge_standing
        self._moving_energy = s.moving_energy
        self._lookback_s = s.onset_lookback_s
        self._last_angles = (math.nan, math.nan)  # flexion and lateral of the latest update, degrees
        self._state = PostureClass.AWAY
        self._episode: _OpenEpisode | None = None
        self._last_episode: Episode | None = None
        self._last_end: float = -math.inf
        self._last_good: float | None = None
        self._gap_start: float | None = None  # first sample of the current unjudged stretch
        self._nodata_start: float | None = None  # first sample of the current no-data stretch
        self._expired = True  # the unjudged stretch outlasted the grace period (or nothing is known yet)
        self._frame: DetectorFrame | None = None

    @property
    def frame(self) -> DetectorFrame | None:
        """The frame returned by the latest update (``None`` before the first)."""
        return self._frame

    @property
    def state(self) -> PostureClass:
        """The sustained posture state."""
        return self._state

    # ------------------------------------------------------------------------------------------- update

    def update(
        self, t_s: float, angles: PostureAngles | None, activity: Activity, motion_energy: float
    ) -> DetectorFrame:
        """Advance to sample time ``t_s`` (seconds) with this sample's angles, activity and motion energy.

        Args:
            t_s: sample time, seconds. Non-finite or earlier than the previous update: the previous time is used.
            angles: the calibrated angles, or ``None`` when there is no usable sample (link down, no
                calibration yet): a "tick".
            activity: the activity stage's verdict for this sample.
            motion_energy: dimensionless movement score (about 1 = deliberate movement); NaN counts as 0.

        Returns:
            The new frame, including the events this update produced.
        """
        events: list[Event] = []
        if angles is None:
            f = lat = total = math.nan
        else:
            f, lat, total = angles.flexion_deg, angles.lateral_deg, angles.total_deg
        instant = self.step(t_s, f, lat, total, activity, motion_energy, events)
        flexion: float | None = None
        lateral: float | None = None
        if math.isfinite(f) and math.isfinite(lat):
            flexion, lateral = f, lat
        frame = self._make_frame(self._t_now, instant, instant not in _UNJUDGED, flexion, lateral, events)
        self._frame = frame
        return frame

    def step(
        self,
        t_s: float,
        flexion_deg: float,
        lateral_deg: float,
        total_deg: float,
        activity: Activity,
        motion_energy: float,
        events: list[Event],
    ) -> PostureClass:
        """:meth:`update` without building a :class:`DetectorFrame`: for batch analysis, which needs only the
        instantaneous class, the state and the events (:meth:`update` is this plus the frame).

        Args:
            t_s: sample time, seconds (as in :meth:`update`).
            flexion_deg, lateral_deg, total_deg: the calibrated angles, degrees; NaN flexion or lateral for no
                usable angles (a tick): the same as ``angles=None`` in :meth:`update`.
            activity: the activity stage's verdict for this sample.
            motion_energy: dimensionless movement score; NaN counts as 0.
            events: the events of this update are appended here, in order.

        Returns:
            This sample's class (``moving`` or ``away`` when posture was not judged). :attr:`state` and
            :meth:`open_episode` give the rest.
        """
        last = self._t
        if last is None:
            t = t_s if math.isfinite(t_s) else 0.0
        elif not math.isfinite(t_s) or t_s < last:
            t = last
        else:
            t = t_s
        self._t = t
        if last is not None and t > last:
            dt = t - last
            for run in self._run_list:
                if run.above:  # at or beyond the threshold when last judged (see _Run.above)
                    run.held += dt
        self._last_angles = (flexion_deg, lateral_deg)
        unjudged = self._unjudged_class(flexion_deg, lateral_deg, total_deg, activity, motion_energy)
        if unjudged is None:
            return self._judge(t, flexion_deg, lateral_deg, events)
        self._hold(t, unjudged, events)
        return unjudged

    def settled_upright(self) -> bool:
        """Whether the detector is settled upright: the latest sample was judged upright, the state is upright, no
        episode is open and no problem posture's run is on, so the sagittal level is neutral with no side lean.

        From there a judged sample whose angles classify as upright without any hysteresis (flexion below both
        ``forward_head_deg`` and ``slouch_deg`` and above ``-lean_back_deg``, sideways tilt below
        ``side_lean_deg``) changes nothing but the clock, the last good time and the latest angles, and
        produces no event: :meth:`skip_upright` jumps over a run of them (batch analysis)."""
        return (
            self._instant is PostureClass.UPRIGHT
            and self._state is PostureClass.UPRIGHT
            and self._episode is None
            and self._level == _NEUTRAL
            and not self._side
            and self._gap_start is None
            and self._nodata_start is None
            and not self._expired
            and self._t is not None
            and not any(run.active or run.above for run in self._run_list)
        )

    def skip_upright(self, t_s: float, flexion_deg: float, lateral_deg: float) -> None:
        """Stand for a run of :meth:`step` calls on judged upright samples (see :meth:`settled_upright`, which must
        hold), the last at sample time ``t_s`` (finite, not earlier than the previous update) with these angles,
        degrees. Leaves the detector exactly as those calls would."""
        self._t = t_s
        self._last_good = t_s
        self._last_angles = (flexion_deg, lateral_deg)

    @property
    def _t_now(self) -> float:
        t = self._t
        assert t is not None
        return t

    def open_episode(self) -> Episode | None:
        """A snapshot of the open episode as of the latest update (what its frame's ``episode`` holds), or
        ``None``."""
        ep = self._episode
        if ep is None:
            return None
        f, lat = self._last_angles
        return ep.snapshot(None, f if math.isfinite(f) and math.isfinite(lat) else None)

    def _unjudged_class(
        self, f: float, lat: float, total: float, activity: Activity, motion_energy: float
    ) -> PostureClass | None:
        """``away``/``moving`` if this sample's posture cannot be judged, else ``None`` (NaN angles: none)."""
        if activity == _NO_DATA or not (math.isfinite(f) and math.isfinite(lat)):
            return _AWAY
        limit = self._off_body
        if abs(f) >= limit or abs(lat) >= limit or total >= limit:  # NaN total compares false
            return _AWAY
        if activity in _MOVING_ACTIVITIES or (activity == _STANDING and not self._judge_standing):
            return _MOVING
        if motion_energy >= self._moving_energy:  # NaN compares false: counts as still
            return _MOVING
        return None

    # ------------------------------------------------------------------------------------- judged samples

    def _classify(self, f: float, lat: float) -> PostureClass:
        s = self.settings
        prev = self._level
        if f >= s.slouch_deg or (prev == _SLOUCH and f >= s.slouch_deg - self._h_slouch):
            level = _SLOUCH
        elif f >= s.forward_head_deg or (prev >= _FORWARD and f >= s.forward_head_deg - self._h_forward):
            level = _FORWARD
        elif f <= -s.lean_back_deg or (prev == _BACK and f <= -s.lean_back_deg + self._h_back):
            level = _BACK
        else:
            level = _NEUTRAL
        self._level = level
        a = abs(lat)
        self._side = a >= s.side_lean_deg or (self._side and a >= s.side_lean_deg - self._h_side)
        if level == _SLOUCH:
            return PostureClass.SLOUCH
        if level == _FORWARD:
            return PostureClass.FORWARD_HEAD
        if self._side:
            return PostureClass.SIDE_LEAN
        if level == _BACK:
            return PostureClass.LEANING_BACK
        return PostureClass.UPRIGHT

    def _judge(self, t: float, f: float, lat: float, events: list[Event]) -> PostureClass:
        s = self.settings
        dwell = s.dwell_s - _EPS_S
        off_t = t if self._gap_start is None else self._gap_start
        self._gap_start = None
        self._nodata_start = None
        self._expired = False

        instant = self._classify(f, lat)
        if instant != self._instant:
            self._instant = instant
            self._instant_since = t
        if instant in _GOOD:
            self._last_good = t

        level = self._level
        for run, on, above in (
            (self._slouch_run, level >= _SLOUCH, f >= s.slouch_deg),
            (self._forward_run, level >= _FORWARD, f >= s.forward_head_deg),
            (self._side_run, self._side, abs(lat) >= s.side_lean_deg),
        ):
            if on != run.active:
                run.active = on
                run.since = t if on else off_t
                run.held = 0.0
                if on:
                    run.reset_stats()
            above = on and above
            if above != run.above:
                run.set_above(t, above, self._lookback_s)
            if on:
                run.add(f, lat)

        ep = self._episode
        if ep is not None:
            own = self._runs[ep.kind]
            if own.active:
                ep.stats.add(f, lat)
            if not own.active and t - own.since >= s.exit_s:
                self._end_episode(t, own.since, instant in _GOOD, f, events)
                if instant not in _GOOD:
                    self._start_episode(t, instant, own.since, f, lat, events)
            else:
                for kind in _MORE_SEVERE[ep.kind]:
                    run = self._runs[kind]
                    if run.active and run.held >= dwell:
                        start = max(run.since, ep.confirmed)
                        self._end_episode(t, start, False, f, events)
                        self._start_episode(t, kind, start, f, lat, events)
                        break
        if self._episode is None:
            for kind in EPISODE_KINDS:
                run = self._runs[kind]
                if run.active and run.held >= dwell:
                    self._start_episode(t, kind, max(run.since, self._last_end), f, lat, events)
                    break
        if self._episode is not None:
            self._set_state(t, self._episode.kind, events)
        elif instant in _GOOD and t - self._instant_since >= s.exit_s:
            self._set_state(t, instant, events)
        return instant

    def _start_episode(
        self, t: float, kind: PostureClass, start: float, f: float, lat: float, events: list[Event]
    ) -> None:
        ep = _OpenEpisode(kind, start, t, self._runs[kind])
        if ep.stats.n == 0:  # statistics were reset when the previous episode ended: start from this sample
            ep.stats.add(f, lat)
        self._episode = ep
        events.append(EpisodeStarted(t, ep.snapshot(None, f)))

    def _end_episode(self, t: float, end: float, corrected: bool, flexion: float | None, events: list[Event]) -> None:
        ep = self._episode
        if ep is None:
            return
        done = ep.snapshot(max(end, ep.start), flexion)
        self._episode = None
        self._last_episode = done
        self._last_end = max(end, ep.start)
        for run in self._runs.values():
            run.reset_stats()
        events.append(EpisodeEnded(t, done, corrected))

    def _set_state(self, t: float, state: PostureClass, events: list[Event]) -> None:
        if state != self._state:
            events.append(PostureChanged(t, self._state, state))
            self._state = state

    # ----------------------------------------------------------------------------------- unjudged samples

    def _hold(self, t: float, why: PostureClass, events: list[Event]) -> None:
        """An unjudged sample: freeze the runs, and give up on them once the grace period has passed."""
        s = self.settings
        if self._gap_start is None:
            self._gap_start = t
            # The movement gate sees a movement a few tenths of a second after it began, while the tilt estimate
            # already moves with it: whether the dwell clock runs on through this unjudged stretch is decided by
            # the judged samples from before the movement began (onset_lookback_s).
            back = t - self._lookback_s
            for run in self._run_list:
                if run.active:
                    run.set_above(t, run.above_at(back), self._lookback_s)
        if why == PostureClass.AWAY:
            if self._nodata_start is None:
                self._nodata_start = t
        else:
            self._nodata_start = None
        if not self._expired and t - self._gap_start >= s.grace_s:
            self._expired = True
            self._end_episode(t, self._gap_start, False, None, events)
            for run in self._runs.values():
                run.clear()
            self._level = _NEUTRAL
            self._side = False
            self._instant = None
        if self._expired:
            away = self._nodata_start is not None and (
                t - self._nodata_start >= s.grace_s or self._state == PostureClass.AWAY
            )
            self._set_state(t, PostureClass.AWAY if away else PostureClass.MOVING, events)

    # -------------------------------------------------------------------------------------------- frames

    def _candidate(self, t: float) -> tuple[PostureClass | None, float, float]:
        s = self.settings
        instant = self._instant
        if instant is None:
            return None, 0.0, 0.0
        ep = self._episode
        if ep is not None:
            own = self._runs[ep.kind]
            if not own.active:
                return instant, t - own.since, _progress(t - own.since, s.exit_s)
            for kind in _MORE_SEVERE[ep.kind]:
                run = self._runs[kind]
                if run.active:
                    return kind, run.held, _progress(run.held, s.dwell_s)
            return None, 0.0, 0.0
        for kind in EPISODE_KINDS:
            run = self._runs[kind]
            if run.active:
                return kind, run.held, _progress(run.held, s.dwell_s)
        if instant != self._state:
            return instant, t - self._instant_since, _progress(t - self._instant_since, s.exit_s)
        return None, 0.0, 0.0

    def _make_frame(
        self,
        t: float,
        instant: PostureClass,
        judged: bool,
        flexion: float | None,
        lateral: float | None,
        events: list[Event],
    ) -> DetectorFrame:
        candidate, held, progress = self._candidate(t)
        ep = self._episode
        return DetectorFrame(
            t_s=t,
            instant=instant,
            state=self._state,
            candidate=candidate,
            candidate_held_s=held,
            dwell_progress=progress,
            episode=None if ep is None else ep.snapshot(None, flexion),
            last_episode=self._last_episode,
            time_since_upright_s=None if self._last_good is None else t - self._last_good,
            judged=judged,
            unjudged_s=0.0 if self._gap_start is None else t - self._gap_start,
            flexion_deg=flexion,
            lateral_deg=lateral,
            events=tuple(events),
        )


def _progress(held_s: float, needed_s: float) -> float:
    if needed_s <= 0.0:
        return 1.0
    return min(1.0, max(0.0, held_s / needed_s))
