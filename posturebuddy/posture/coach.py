"""The coach: turns detector frames and activity into prompts and break bookkeeping, on sample time.

Posture prompts
    A confirmed forward-head episode raises a ``chin_tuck`` prompt (a guided set of ``chin_tuck_reps`` x
    ``chin_tuck_hold_s``); a slouch episode raises ``sit_tall`` (with the same chin-tuck set as the exercise),
    and so does a forward-head episode if the wearer is already at the slouch level when it is prompted;
    side-lean episodes only when ``side_lean_prompts`` is on. ``nudge`` follows ``nudge_tag``. A posture prompt
    is raised only while the episode is open and its posture is being judged (not mid-fidget), at most once per
    episode (again after a snooze, if the episode outlasts it), never while another prompt is open, in quiet
    mode, outside working hours, within ``min_prompt_interval_s`` of the previous posture prompt, or while
    posture prompts are snoozed. A ``sit_tall`` prompt completes itself (``AUTO_COMPLETED``) when the wearer
    sits up (an episode ends in a good posture); a ``chin_tuck`` prompt asks for the exercise, so it waits for
    an answer.

Sitting clock
    Unbroken sitting grows while the wearer is seated (activity ``still`` or ``fidget``) and the tag is on
    (this sample's class is not ``away``). It pauses, without resetting, while the wearer is up, while data is
    missing, and across updates more than ``max_step_s`` apart (a link outage is never counted as sitting).

Breaks
    Time away from the chair starts with the first sample on one's feet (``sit_to_stand``, ``standing``,
    ``walking``; standing or rising while this sample's class is ``away``, the tag lying off the body, is a tag
    taken off, not a wearer on their feet) or without data (once the wearer has been seen seated: a tag not yet
    worn is not a break), and ends once the wearer has been seen seated again for ``sit_back_s`` (it ends where
    that seated run began). Missing data inside it is bridged: walking out of radio range is still
    a break. It becomes a break (``BreakStarted``) when the tag sees standing or walking (``on_feet``; a
    ``sit_to_stand`` alone, e.g. a shuffle in the chair, is not enough), or when data has been missing for
    ``away_break_s`` (``away``: the tag is off or out of range, say at lunch; a 30-s dropout is not a break).
    It is credited (``BreakCredited``) once an on-feet break has lasted ``min_break_s``, or at once for an away
    break; crediting restarts the sitting clock and completes an open break prompt (``AUTO_COMPLETED``).
    Breaks taken without a prompt count the same (natural breaks). A short stand does not reset the clock.

Break prompts
    ``BreakDue`` is published when sitting reaches the limit; a ``break`` prompt follows when prompting is
    allowed (not quiet, in working hours, no open prompt, the wearer still seated). Snooze postpones it by
    ``break_snooze_s``; an unanswered one expires after ``break_prompt_expiry_s`` and counts as a snooze; at
    most ``max_break_prompts`` are raised per sitting stretch. Skipped (or answered "done" without the tag
    seeing a break) starts a new cycle: the next break is due after another ``sitting_limit_s`` of sitting.

Expiry
    Open prompts nobody answers close as ``EXPIRED`` after ``posture_prompt_expiry_s`` / ``break_prompt_expiry_s``.

Local time
    Working hours and the "today" counters use local time of day derived from ``t_s`` (POSIX seconds) plus a
    UTC offset: a fixed number of seconds, or a function of ``t_s`` (the session can pass one that follows
    daylight saving time). The default, 0, is UTC; tests stay deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from posturebuddy.model import Activity, PostureClass, Prompt, PromptKind, PromptOutcome
from posturebuddy.model.events import Event
from posturebuddy.posture.detector import DetectorFrame
from posturebuddy.posture.episode import Episode
from posturebuddy.posture.events import (
    BreakCredited,
    BreakDue,
    BreakEnded,
    BreakKind,
    BreakStarted,
    EpisodeEnded,
    PromptAnswered,
    PromptRaised,
)
from posturebuddy.posture.exercises import CHIN_TUCK_SEATED, REACH_OVERHEAD
from posturebuddy.posture.settings import CoachPolicy, in_working_hours

SECONDS_PER_DAY = 86_400.0

_ON_FEET = frozenset({Activity.SIT_TO_STAND, Activity.STANDING, Activity.WALKING})
_UP_AND_ABOUT = frozenset({Activity.STANDING, Activity.WALKING})
_SEATED = frozenset({Activity.STILL, Activity.FIDGET})
_NO_DATA = Activity.NO_DATA
_WALKING = Activity.WALKING
_AWAY = PostureClass.AWAY
_POSTURE_PROMPTS: dict[PostureClass, PromptKind] = {
    PostureClass.FORWARD_HEAD: PromptKind.CHIN_TUCK,
    PostureClass.SLOUCH: PromptKind.SIT_TALL,
    PostureClass.SIDE_LEAN: PromptKind.SIT_TALL,
}
_REASONS: dict[PostureClass, str] = {
    PostureClass.FORWARD_HEAD: "Head forward for {d}",
    PostureClass.SLOUCH: "Slouching for {d}",
    PostureClass.SIDE_LEAN: "Leaning to one side for {d}",
}


@dataclass(frozen=True, slots=True)
class CoachState:
    """A snapshot of the coach for the dashboard.

    Attributes:
        t_s: sample time of the latest update, seconds.
        sitting_s: unbroken sitting time, seconds.
        next_break_in_s: sitting time left until the next break is due, seconds (0 when due); ``None`` when
            breaks are disabled.
        open_prompt: the prompt waiting for an answer, if any.
        posture_snoozed_until_s: posture prompts are snoozed until this sample time, seconds, if in the future.
        break_snoozed_until_s: the break prompt is postponed until this sample time, seconds, if in the future.
        quiet: quiet mode is on.
        in_working_hours: the latest update fell within the working hours.
        away_from_chair_s: how long the wearer has been up or away, seconds (``None`` while seated).
        on_break: the current time away from the chair has become a break.
        posture_prompts_today: posture prompts raised since the local day began (``day_start_min``).
        break_prompts_today: break prompts raised today.
        breaks_today: breaks credited today.
        natural_breaks_today: of those, breaks with no prompt in their sitting stretch.
        done_today, snoozed_today, skipped_today, expired_today, auto_completed_today: prompt outcomes today.
    """

    t_s: float
    sitting_s: float
    next_break_in_s: float | None
    open_prompt: Prompt | None
    posture_snoozed_until_s: float | None
    break_snoozed_until_s: float | None
    quiet: bool
    in_working_hours: bool
    away_from_chair_s: float | None
    on_break: bool
    posture_prompts_today: int
    break_prompts_today: int
    breaks_today: int
    natural_breaks_today: int
    done_today: int
    snoozed_today: int
    skipped_today: int
    expired_today: int
    auto_completed_today: int


@dataclass(slots=True)
class _Counts:
    posture_prompts: int = 0
    break_prompts: int = 0
    breaks: int = 0
    natural_breaks: int = 0
    outcomes: dict[PromptOutcome, int] = field(default_factory=dict)


@dataclass(slots=True)
class _AwayFromChair:
    """The wearer is up or away (see "Breaks" in the module docstring)."""

    since: float
    kind: BreakKind | None = None  # set when it became a break
    credited: bool = False
    seated_since: float | None = None


class Coach:
    """Turns detector frames and activity into prompts and break events. Pure: time comes from ``t_s``.

    Args:
        policy: how and how often to prompt (defaults equal the config defaults).
        utc_offset_s: local time minus UTC, seconds: a constant, or a function of ``t_s`` (POSIX seconds).
    """

    def __init__(
        self, policy: CoachPolicy | None = None, *, utc_offset_s: float | Callable[[float], float] = 0.0
    ) -> None:
        self.policy = policy if policy is not None else CoachPolicy()
        self._fixed_offset: float | None = None  # the offset, seconds, when it is a constant
        if callable(utc_offset_s):
            self._utc_offset: Callable[[float], float] = utc_offset_s
        else:
            offset = float(utc_offset_s)
            self._utc_offset = lambda _t: offset
            self._fixed_offset = offset if math.isfinite(offset) else 0.0
        self._max_step_s = self.policy.max_step_s
        self._working_hours = self.policy.working_hours
        self._day_start_s = 60.0 * self.policy.day_start_min
        self._t: float | None = None
        self._quiet = self.policy.quiet
        self._next_id = 1
        self._open: Prompt | None = None
        self._in_hours = True
        # posture prompts
        self._last_posture_prompt: float | None = None
        self._posture_snoozed_until: float | None = None
        self._prompted_key: tuple[PostureClass, float] | None = None
        # sitting and breaks
        self._sitting_s = 0.0
        self._break_at_s = self.policy.sitting_limit_s  # sitting time at which the next break is due
        self._due_published = False
        self._break_prompts = 0  # break prompts raised in this sitting stretch
        self._stretch_prompted = False
        self._break_snoozed_until: float | None = None
        self._away: _AwayFromChair | None = None
        self._seen_seated = False
        """Whether the wearer has been seen seated with the tag on (before that, missing data or a tag off the
        body is "not started yet", not time away from the chair)."""
        self._absent_since: float | None = None
        # today
        self._day: int | None = None
        self._counts = _Counts()

    # ------------------------------------------------------------------------------------------ controls

    def set_quiet(self, quiet: bool) -> None:
        """Quiet mode: keep tracking (sitting clock, breaks, episodes) but raise no prompts. An open prompt
        stays open until answered or expired."""
        self._quiet = quiet

    def answer(self, prompt_id: int, outcome: PromptOutcome, t_s: float) -> list[Event]:
        """The wearer answered the open prompt ``prompt_id`` at sample time ``t_s`` (seconds).

        ``outcome`` is ``DONE`` or ``SKIPPED`` (``SNOOZED`` is passed on to :meth:`snooze`). Answering a prompt
        that is no longer open (already expired, a double click) does nothing and returns no events.

        Raises:
            ValueError: for ``EXPIRED`` or ``AUTO_COMPLETED``, which only the coach decides.
        """
        if outcome == PromptOutcome.SNOOZED:
            return self.snooze(prompt_id, t_s)
        if outcome not in (PromptOutcome.DONE, PromptOutcome.SKIPPED):
            msg = f"answer() takes DONE, SKIPPED or SNOOZED, not {outcome.value}"
            raise ValueError(msg)
        prompt = self._open
        if prompt is None or prompt.prompt_id != prompt_id:
            return []
        t = self._user_time(t_s)
        events: list[Event] = []
        self._close(t, outcome, events)
        if prompt.kind == PromptKind.BREAK:
            self._new_break_cycle()
        return events

    def snooze(self, prompt_id: int, t_s: float) -> list[Event]:
        """Snooze the open prompt ``prompt_id`` at sample time ``t_s`` (seconds).

        A posture prompt silences posture prompts for ``posture_snooze_s`` (the same episode may be prompted
        again after that if it is still going on); a break prompt is asked again after ``break_snooze_s``.
        """
        prompt = self._open
        if prompt is None or prompt.prompt_id != prompt_id:
            return []
        t = self._user_time(t_s)
        events: list[Event] = []
        self._close(t, PromptOutcome.SNOOZED, events)
        if prompt.kind == PromptKind.BREAK:
            self._break_snoozed_until = t + self.policy.break_snooze_s
        else:
            self._posture_snoozed_until = t + self.policy.posture_snooze_s
            self._prompted_key = None
        return events

    # ------------------------------------------------------------------------------------------ state

    @property
    def open_prompt(self) -> Prompt | None:
        """The prompt waiting for an answer, if any."""
        return self._open

    @property
    def state(self) -> CoachState:
        """A snapshot for the dashboard (as of the latest update)."""
        p = self.policy
        t = 0.0 if self._t is None else self._t
        c = self._counts
        away = self._away
        return CoachState(
            t_s=t,
            sitting_s=self._sitting_s,
            next_break_in_s=max(0.0, self._break_at_s - self._sitting_s) if p.breaks_enabled else None,
            open_prompt=self._open,
            posture_snoozed_until_s=_future(self._posture_snoozed_until, t),
            break_snoozed_until_s=_future(self._break_snoozed_until, t),
            quiet=self._quiet,
            in_working_hours=self._in_hours,
            away_from_chair_s=None if away is None else t - away.since,
            on_break=away is not None and away.kind is not None,
            posture_prompts_today=c.posture_prompts,
            break_prompts_today=c.break_prompts,
            breaks_today=c.breaks,
            natural_breaks_today=c.natural_breaks,
            done_today=c.outcomes.get(PromptOutcome.DONE, 0),
            snoozed_today=c.outcomes.get(PromptOutcome.SNOOZED, 0),
            skipped_today=c.outcomes.get(PromptOutcome.SKIPPED, 0),
            expired_today=c.outcomes.get(PromptOutcome.EXPIRED, 0),
            auto_completed_today=c.outcomes.get(PromptOutcome.AUTO_COMPLETED, 0),
        )

    # ------------------------------------------------------------------------------------------ update

    def update(self, t_s: float, frame: DetectorFrame, activity: Activity) -> list[Event]:
        """Advance to sample time ``t_s`` (seconds) with the detector's frame and the activity.

        Returns the events of this update, in order: expiries, break bookkeeping, auto-completions, then at
        most one new prompt.
        """
        events: list[Event] = []
        self.step(t_s, activity, frame.instant, frame.judged, frame.events, lambda: frame.episode, events)
        return events

    def step(
        self,
        t_s: float,
        activity: Activity,
        instant: PostureClass,
        judged: bool,
        detector_events: Sequence[Event],
        episode: Callable[[], Episode | None],
        events: list[Event],
    ) -> None:
        """:meth:`update` with the parts of the detector's frame it reads passed one by one: for batch analysis,
        which does not build frames (:meth:`update` is this with the frame's fields).

        Args:
            t_s: sample time, seconds.
            activity: the activity stage's verdict.
            instant, judged, detector_events: the frame's ``instant``, ``judged`` and ``events``.
            episode: gives the frame's ``episode`` (called only when a posture prompt may be raised), e.g.
                :meth:`~posturebuddy.posture.detector.PostureDetector.open_episode`.
            events: this update's events are appended here, in the order :meth:`update` returns them.
        """
        last = self._t
        t = t_s if math.isfinite(t_s) else (0.0 if last is None else last)
        if last is not None and t < last:
            t = last
        self._t = t
        dt = 0.0 if last is None else t - last
        gap = last is not None and dt > self._max_step_s
        self._local_time(t)
        if self._open is not None:
            self._expire(t, events)
        self._track_breaks(t, last, dt, gap, instant, activity, events)
        if detector_events:
            self._auto_complete_posture(t, detector_events, events)
        self._maybe_break_prompt(t, events)
        if judged:
            self._maybe_posture_prompt(t, instant, episode, events)

    def settled_sitting(self) -> tuple[float, float] | None:
        """If the wearer is settled in the chair as far as the coach knows (seen seated, not up or away, no prompt
        open): ``(sitting_s, limit_s)``, the unbroken sitting time and the sitting time at which a break falls due
        (infinite with breaks disabled), seconds; else ``None``.

        While settled, a judged sample of still sitting (activity ``still``, no episode open) at most
        ``max_step_s`` after the previous update that keeps the sitting time below ``limit_s`` only moves the
        clocks and produces no event: :meth:`skip_sitting` jumps over a run of them (batch analysis)."""
        if self._open is not None or self._away is not None or self._t is None or not self._seen_seated:
            return None
        limit = self._break_at_s if self.policy.breaks_enabled else math.inf
        return self._sitting_s, limit

    def skip_sitting(self, t_s: float, sitting_s: float) -> None:
        """Stand for a run of :meth:`step` calls on samples of still sitting (see :meth:`settled_sitting`), the
        last at sample time ``t_s`` (finite, not earlier than the previous update) with the sitting time then,
        ``sitting_s`` (the previous sitting time plus each step, added in order), seconds."""
        self._t = t_s
        self._sitting_s = sitting_s
        self._absent_since = None
        self._local_time(t_s)

    def _local_time(self, t: float) -> None:
        offset = self._fixed_offset
        if offset is None:
            try:
                offset = float(self._utc_offset(t))
            except (OverflowError, ValueError, OSError):
                offset = 0.0
            if not math.isfinite(offset):
                offset = 0.0
        local = t + offset
        minute = (local % SECONDS_PER_DAY) / 60.0
        self._in_hours = in_working_hours(minute, self._working_hours)
        day = math.floor((local - self._day_start_s) / SECONDS_PER_DAY)
        if day != self._day:
            self._day = day
            self._counts = _Counts()

    # ------------------------------------------------------------------------------------------ prompts

    def _may_prompt(self) -> bool:
        return self._open is None and not self._quiet and self._in_hours

    def _raise(self, t: float, prompt: Prompt, events: list[Event]) -> None:
        self._open = prompt
        self._next_id += 1
        events.append(PromptRaised(t, prompt))

    def _close(self, t: float, outcome: PromptOutcome, events: list[Event]) -> None:
        prompt = self._open
        if prompt is None:
            return
        self._open = None
        outcomes = self._counts.outcomes
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        events.append(PromptAnswered(t, prompt.prompt_id, prompt.kind, outcome))

    def _user_time(self, t_s: float) -> float:
        last = 0.0 if self._t is None else self._t
        return max(t_s, last) if math.isfinite(t_s) else last

    def _expire(self, t: float, events: list[Event]) -> None:
        prompt = self._open
        if prompt is None:
            return
        p = self.policy
        if prompt.kind == PromptKind.BREAK:
            if t - prompt.t_s >= p.break_prompt_expiry_s:
                self._close(t, PromptOutcome.EXPIRED, events)
                self._break_snoozed_until = t + p.break_snooze_s
        elif t - prompt.t_s >= p.posture_prompt_expiry_s:
            self._close(t, PromptOutcome.EXPIRED, events)

    def _auto_complete_posture(self, t: float, detector_events: Sequence[Event], events: list[Event]) -> None:
        prompt = self._open
        if prompt is None or prompt.kind != PromptKind.SIT_TALL:
            return
        # Any episode ending in a good posture will do: the prompted episode may have escalated (forward head
        # to slouch) before the wearer sat up.
        for event in detector_events:
            if isinstance(event, EpisodeEnded) and event.corrected:
                self._close(t, PromptOutcome.AUTO_COMPLETED, events)
                return

    def _maybe_posture_prompt(
        self, t: float, instant: PostureClass, episode: Callable[[], Episode | None], events: list[Event]
    ) -> None:
        """A judged sample: raise a posture prompt if one is due (``episode`` gives the open episode)."""
        p = self.policy
        if self._open is not None or self._quiet or not self._in_hours:  # not self._may_prompt()
            return
        # Guards that need no episode first (they only return early, so their order does not matter).
        if self._last_posture_prompt is not None and t - self._last_posture_prompt < p.min_prompt_interval_s:
            return
        if self._posture_snoozed_until is not None and t < self._posture_snoozed_until:
            return
        ep = episode()
        if ep is None:
            return
        kind = _POSTURE_PROMPTS.get(ep.kind)
        if kind is None or (ep.kind == PostureClass.SIDE_LEAN and not p.side_lean_prompts):
            return
        # A trunk that drifts forward passes the forward-head threshold first, so its forward-head episode is
        # confirmed while the wearer is already slouching: ask for what they are doing now.
        said = PostureClass.SLOUCH if instant == PostureClass.SLOUCH else ep.kind
        if said == PostureClass.SLOUCH:
            kind = PromptKind.SIT_TALL
        key = (ep.kind, ep.start_s)
        if key == self._prompted_key:
            return
        prompt = Prompt(
            prompt_id=self._next_id,
            kind=kind,
            t_s=t,
            reason=_REASONS[said].format(d=format_duration(t - ep.start_s)),
            nudge=p.nudge_tag,
            details=_posture_details(ep, p),
        )
        self._prompted_key = key
        self._last_posture_prompt = t
        self._counts.posture_prompts += 1
        self._raise(t, prompt, events)

    # ------------------------------------------------------------------------------------------ breaks

    def _track_breaks(
        self,
        t: float,
        last: float | None,
        dt: float,
        gap: bool,
        instant: PostureClass,
        activity: Activity,
        events: list[Event],
    ) -> None:
        p = self.policy
        # A tag lying off the body (class away) that the activity stage calls standing is a tag on the desk, not a
        # wearer on their feet; walking (steps) is believed.
        on_feet = activity in _ON_FEET and (instant != _AWAY or activity == _WALKING)
        absent = not on_feet and (activity == _NO_DATA or instant == _AWAY)
        seated = activity in _SEATED and not absent

        if seated:
            self._seen_seated = True
        if gap and last is not None and self._seen_seated:
            # Nothing arrived between the two updates: that time was missing data, never sitting.
            if self._away is None:
                self._away = _AwayFromChair(since=last)
            if self._absent_since is None:
                self._absent_since = last
        elif seated:
            self._sitting_s += dt

        if (absent and self._seen_seated) or on_feet:
            if self._away is None:
                self._away = _AwayFromChair(since=t)
            self._away.seated_since = None
            if absent and self._absent_since is None:
                self._absent_since = t
        away = self._away
        if away is None:
            self._absent_since = None
            return

        if away.kind is None:
            if on_feet and activity in _UP_AND_ABOUT:
                away.kind = BreakKind.ON_FEET
            elif self._absent_since is not None and t - self._absent_since >= p.away_break_s:
                away.kind = BreakKind.AWAY
            if away.kind is not None:
                events.append(BreakStarted(t, away.since, away.kind))
        if not absent:
            self._absent_since = None

        if seated and away.seated_since is None:
            away.seated_since = t
        end = t if away.seated_since is None else away.seated_since
        if away.kind is not None and not away.credited:
            duration = end - away.since
            if away.kind == BreakKind.AWAY or duration >= p.min_break_s:
                self._credit(t, away, duration, events)
        if away.seated_since is not None and t - away.seated_since >= p.sit_back_s:
            if away.kind is not None:
                events.append(BreakEnded(t, away.since, away.seated_since - away.since, away.kind, away.credited))
            self._away = None

    def _credit(self, t: float, away: _AwayFromChair, duration: float, events: list[Event]) -> None:
        assert away.kind is not None
        away.credited = True
        prompted = self._stretch_prompted
        events.append(BreakCredited(t, away.since, duration, away.kind, prompted))
        self._counts.breaks += 1
        if not prompted:
            self._counts.natural_breaks += 1
        self._sitting_s = 0.0
        self._new_break_cycle()
        self._stretch_prompted = False
        if self._open is not None and self._open.kind == PromptKind.BREAK:
            self._close(t, PromptOutcome.AUTO_COMPLETED, events)

    def _new_break_cycle(self) -> None:
        """The next break is due after another ``sitting_limit_s`` of sitting from now."""
        self._break_at_s = self._sitting_s + self.policy.sitting_limit_s
        self._due_published = False
        self._break_prompts = 0
        self._break_snoozed_until = None

    def _maybe_break_prompt(self, t: float, events: list[Event]) -> None:
        p = self.policy
        if not p.breaks_enabled or self._sitting_s < self._break_at_s:
            return
        if not self._due_published:
            self._due_published = True
            events.append(BreakDue(t, self._sitting_s))
        if (
            not self._may_prompt()
            or self._away is not None
            or self._break_prompts >= p.max_break_prompts
            or (self._break_snoozed_until is not None and t < self._break_snoozed_until)
        ):
            return
        prompt = Prompt(
            prompt_id=self._next_id,
            kind=PromptKind.BREAK,
            t_s=t,
            reason=f"Sitting for {format_duration(self._sitting_s)} without a break",
            nudge=p.nudge_tag,
            details=(
                ("sitting_s", f"{self._sitting_s:.0f}"),
                ("min_break_s", f"{p.min_break_s:g}"),
                ("suggestion", "Stand up and walk for a minute or two; the tag will see it."),
                ("exercise", REACH_OVERHEAD.id),
            ),
        )
        self._break_prompts += 1
        self._stretch_prompted = True
        self._counts.break_prompts += 1
        self._raise(t, prompt, events)


def _posture_details(ep: Episode, p: CoachPolicy) -> tuple[tuple[str, str], ...]:
    return (
        ("episode_kind", ep.kind.value),
        ("episode_start_s", f"{ep.start_s:.3f}"),
        ("peak_flexion_deg", f"{ep.peak_flexion_deg:.1f}"),
        ("exercise", CHIN_TUCK_SEATED.id),
        ("reps", str(p.chin_tuck_reps)),
        ("hold_s", f"{p.chin_tuck_hold_s:g}"),
    )


def _future(until: float | None, t: float) -> float | None:
    return until if until is not None and until > t else None


def format_duration(seconds: float) -> str:
    """A short human duration: ``"45 s"``, ``"12 min"``, ``"1 h 5 min"``."""
    s = max(0, round(seconds))
    if s < 120:
        return f"{s} s"
    minutes = s // 60
    if minutes < 120:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest} min" if rest else f"{hours} h"
