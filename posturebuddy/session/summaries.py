"""Per-minute summaries: what happened in each wall-clock minute of a session, small enough to keep forever.

A :class:`MinuteSummarizer` is fed, in order, what the streaming engine publishes (:class:`EngineSnapshot` every
``snapshot_period_s`` of sample time, episode, prompt and break events) and produces
:class:`~posturebuddy.session.recording.MinuteSummary` rows, one per minute of sample time (``minute_start_s`` a
multiple of 60 s of POSIX time, so minutes line up with the local clock in every time zone with whole-minute
offsets). The live recorder (:class:`~posturebuddy.session.live.SessionRecorder`) feeds it as the session runs;
:func:`summarize_analysis` feeds the same class from a batch :class:`~posturebuddy.session.analyze.AnalysisResult`,
so a recording made without summaries is summarised after the fact with the numbers a live run would have
written (tested).

How time is counted (all seconds of sample time):

* Between two consecutive snapshots, the time ``[t_prev, t)`` belongs to the *earlier* snapshot's state, split at
  minute boundaries. A step longer than ``max_step_s`` (the coach's: the process was asleep, nothing was
  judged) is **no data**.
* A snapshot whose activity is ``no_data`` (the link is down and the engine is ticking) counts as **no data**
  too, and nothing else. Otherwise its time goes to its sustained posture state (one ``posture_s`` class) and to
  its activity: ``sitting_s`` (still, fidget), ``standing_s`` (standing, sit-to-stand) or ``walking_s``. So
  ``sum(posture_s) + no_data_s`` is the minute's covered time and ``away`` is time *with* data but with the tag
  off the body (lying on the desk).
* Counts go to the minute of their own time: an episode to the minute it **started** (``episode.start_s``, which
  is earlier than the event that confirms it: the row of an earlier minute is then written again), a prompt to
  the minute it was raised, an outcome (done, snoozed...) and a credited break to the minute they happened.

``detail`` (the row's JSON object) holds what the fixed columns do not: episodes and prompts by kind, prompt
outcomes, the spans of credited breaks that ended in the minute, seated flexion statistics for the report's
graph, and the unbroken sitting clock (seated time since the last credited break: its largest value in the
minute and its value at the end), from which history finds the longest unbroken sitting.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from posturebuddy.model import Activity, PostureClass, PromptOutcome
from posturebuddy.posture.events import BreakCredited, BreakEnded, EpisodeStarted, PromptAnswered, PromptRaised
from posturebuddy.session.analyze import ACTIVITIES, POSTURE_CLASSES, AnalysisResult
from posturebuddy.session.engine import EngineSettings, EngineSnapshot, judge_bin
from posturebuddy.session.recording import MinuteSummary

MINUTE_S = 60.0
"""Length of a summary minute, seconds."""

SEATED: frozenset[Activity] = frozenset({Activity.STILL, Activity.FIDGET})
"""Activities counted as sitting (the coach's seated activities)."""
ON_FEET_STANDING: frozenset[Activity] = frozenset({Activity.STANDING, Activity.SIT_TO_STAND})
"""Activities counted as standing."""

DONE_OUTCOMES: frozenset[str] = frozenset({PromptOutcome.DONE.value, PromptOutcome.AUTO_COMPLETED.value})
"""Outcomes counted in ``prompts_done``."""

ANGLE_DIGITS = 2
"""Decimals kept of the flexion statistics in ``detail`` (hundredths of a degree)."""

# Keys of MinuteSummary.detail (the format leaves the object free; these are ours, documented in docs/reports.md).
EPISODES_BY_KIND = "episodes_by_kind"
PROMPTS_BY_KIND = "prompts_by_kind"
OUTCOMES = "outcomes"
BREAK_SPANS = "break_spans"
FLEXION_MEAN = "flexion_mean_deg"
FLEXION_P10 = "flexion_p10_deg"
FLEXION_P90 = "flexion_p90_deg"
LATERAL_MEAN = "lateral_mean_deg"
STREAK_MAX = "sitting_streak_max_s"
STREAK_END = "sitting_streak_end_s"


@dataclass(slots=True)
class _Minute:
    """One minute being summed (mutable; :meth:`summary` freezes it)."""

    start_s: float
    posture_s: dict[PostureClass, float] = field(default_factory=dict)
    no_data_s: float = 0.0
    sitting_s: float = 0.0
    standing_s: float = 0.0
    walking_s: float = 0.0
    episodes: dict[str, int] = field(default_factory=dict)
    prompts: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, int] = field(default_factory=dict)
    breaks: int = 0
    break_spans: list[list[object]] = field(default_factory=list)
    flexion: list[float] = field(default_factory=list)
    lateral: list[float] = field(default_factory=list)
    flexion_stats: dict[str, float] | None = None
    streak_max_s: float = 0.0
    streak_end_s: float = 0.0

    def _stats(self) -> dict[str, float]:
        """Seated angle statistics of the rows so far (empty without seated angles)."""
        stats: dict[str, float] = {}
        if self.flexion:
            p10, p90 = np.percentile(np.asarray(self.flexion, dtype=np.float64), (10.0, 90.0))
            stats[FLEXION_MEAN] = round(math.fsum(self.flexion) / len(self.flexion), ANGLE_DIGITS)
            stats[FLEXION_P10] = round(float(p10), ANGLE_DIGITS)
            stats[FLEXION_P90] = round(float(p90), ANGLE_DIGITS)
            stats[LATERAL_MEAN] = round(math.fsum(self.lateral) / len(self.lateral), ANGLE_DIGITS)
        return stats

    def finish(self) -> None:
        """Reduce the seated angles to their statistics (the minute will get no more time)."""
        if self.flexion_stats is None:
            self.flexion_stats = self._stats()
            self.flexion.clear()
            self.lateral.clear()

    def summary(self) -> MinuteSummary:
        """The row as it stands (an open minute: its statistics so far)."""
        detail: dict[str, object] = {}
        if self.episodes:
            detail[EPISODES_BY_KIND] = dict(sorted(self.episodes.items()))
        if self.prompts:
            detail[PROMPTS_BY_KIND] = dict(sorted(self.prompts.items()))
        if self.outcomes:
            detail[OUTCOMES] = dict(sorted(self.outcomes.items()))
        if self.break_spans:
            detail[BREAK_SPANS] = [list(span) for span in self.break_spans]
        stats = self.flexion_stats if self.flexion_stats is not None else self._stats()
        detail.update(stats)
        if self.streak_max_s > 0.0:
            detail[STREAK_MAX] = round(self.streak_max_s, 3)
        detail[STREAK_END] = round(self.streak_end_s, 3)
        return MinuteSummary(
            minute_start_s=self.start_s,
            posture_s={cls: s for cls, s in self.posture_s.items() if s > 0.0},
            no_data_s=self.no_data_s,
            sitting_s=self.sitting_s,
            standing_s=self.standing_s,
            walking_s=self.walking_s,
            episodes=sum(self.episodes.values()),
            prompts=sum(self.prompts.values()),
            prompts_done=sum(n for k, n in self.outcomes.items() if k in DONE_OUTCOMES),
            breaks=self.breaks,
            detail=detail,
        )


class MinuteSummarizer:
    """Streaming per-minute summaries (see the module docstring). Pure: no clock, no I/O.

    Feed it with :meth:`feed` (anything the engine publishes; what it does not use is passed over) or with
    :meth:`observe` directly; take the rows to write with :meth:`take_changed` and, at the end, :meth:`close`.

    Args:
        max_step_s: snapshots further apart than this, seconds, leave the time between as no data (the coach's
            ``max_step_s``, 10 s by default).
    """

    def __init__(self, *, max_step_s: float = 10.0) -> None:
        if not (math.isfinite(max_step_s) and max_step_s > 0.0):
            msg = f"MinuteSummarizer max_step_s = {max_step_s!r} is not allowed: expected seconds > 0"
            raise ValueError(msg)
        self.max_step_s = max_step_s
        self._minutes: dict[float, _Minute] = {}
        self._dirty: set[float] = set()
        self._last: tuple[float, PostureClass, Activity, float, float] | None = None
        self._open_minute: float | None = None
        self._streak_s = 0.0

    # ------------------------------------------------------------------ input

    def feed(self, item: object) -> None:
        """Take one published item: snapshots move time on, episode/prompt/break events are counted."""
        if isinstance(item, EngineSnapshot):
            angles = item.angles
            self.observe(
                item.t_s,
                item.detector.state,
                item.activity.activity,
                math.nan if angles is None else angles.flexion_deg,
                math.nan if angles is None else angles.lateral_deg,
            )
        elif isinstance(item, EpisodeStarted):
            self._count(self._minute(item.episode.start_s).episodes, str(item.episode.kind))
        elif isinstance(item, PromptRaised):
            self._count(self._minute(item.prompt.t_s).prompts, str(item.prompt.kind))
        elif isinstance(item, PromptAnswered):
            self._count(self._minute(item.t_s).outcomes, str(item.outcome))
        elif isinstance(item, BreakCredited):
            minute = self._minute(item.t_s)
            minute.breaks += 1
            self._streak_s = 0.0
            minute.streak_end_s = 0.0
        elif isinstance(item, BreakEnded) and item.credited:
            end = item.start_s + item.duration_s
            self._minute(item.t_s).break_spans.append(
                [round(item.start_s, 3), round(end, 3), str(item.kind)],
            )

    def observe(
        self,
        t_s: float,
        state: PostureClass,
        activity: Activity,
        flexion_deg: float = math.nan,
        lateral_deg: float = math.nan,
    ) -> None:
        """One snapshot at sample time ``t_s`` (seconds): the time since the previous one goes to *its* state.

        ``flexion_deg``/``lateral_deg`` are the posture angles relative to upright, degrees (NaN without
        angles); they enter the minute's statistics only while seated. A time earlier than the previous
        snapshot's is ignored (time never runs backwards)."""
        if not math.isfinite(t_s):
            return
        last = self._last
        if last is not None:
            t0, st0, act0, _, _ = last
            if t_s < t0:
                return
            self._add_span(t0, t_s, st0, act0)
        self._last = (t_s, state, activity, flexion_deg, lateral_deg)
        minute = self._minute(t_s)
        self._advance_to(minute.start_s)
        if activity in SEATED and math.isfinite(flexion_deg):
            minute.flexion.append(flexion_deg)
            minute.lateral.append(lateral_deg if math.isfinite(lateral_deg) else 0.0)
            self._dirty.add(minute.start_s)

    # ------------------------------------------------------------------ output

    def take_changed(self, *, include_open: bool = False) -> list[MinuteSummary]:
        """Rows changed since the last call, by minute: completed minutes, plus the open (current) minute's row
        so far if ``include_open``. Writing a row again for the same minute replaces it."""
        keys = sorted(k for k in self._dirty if include_open or k != self._open_minute)
        for k in keys:
            self._dirty.discard(k)
        return [self._minutes[k].summary() for k in keys]

    def close(self) -> list[MinuteSummary]:
        """The rows still to write, including the last (partial) minute. The summarizer can go on after it."""
        if self._open_minute is not None:
            self._minutes[self._open_minute].finish()
        return self.take_changed(include_open=True)

    def summaries(self) -> list[MinuteSummary]:
        """Every minute seen so far, by minute (the open one as it stands)."""
        return [self._minutes[k].summary() for k in sorted(self._minutes)]

    # ------------------------------------------------------------------ internals

    def _minute(self, t_s: float) -> _Minute:
        start = math.floor(t_s / MINUTE_S) * MINUTE_S
        minute = self._minutes.get(start)
        if minute is None:
            minute = _Minute(start, streak_end_s=self._streak_s)
            self._minutes[start] = minute
        self._dirty.add(start)
        return minute

    def _advance_to(self, start: float) -> None:
        """Minute ``start`` is now the open one; the one before is complete."""
        if self._open_minute is not None and start > self._open_minute:
            self._minutes[self._open_minute].finish()
        if self._open_minute is None or start > self._open_minute:
            self._open_minute = start

    def _add_span(self, t0: float, t1: float, state: PostureClass, activity: Activity) -> None:
        no_data = activity is Activity.NO_DATA or (t1 - t0) > self.max_step_s
        seated = not no_data and activity in SEATED
        a = t0
        while a < t1:
            minute = self._minute(a)
            b = min(t1, minute.start_s + MINUTE_S)
            dt = b - a
            if no_data:
                minute.no_data_s += dt
            else:
                minute.posture_s[state] = minute.posture_s.get(state, 0.0) + dt
                if seated:
                    minute.sitting_s += dt
                    self._streak_s += dt
                    minute.streak_max_s = max(minute.streak_max_s, self._streak_s)
                elif activity in ON_FEET_STANDING:
                    minute.standing_s += dt
                elif activity is Activity.WALKING:
                    minute.walking_s += dt
            minute.streak_end_s = self._streak_s
            if b >= minute.start_s + MINUTE_S:
                minute.finish()
            a = b

    @staticmethod
    def _count(counts: dict[str, int], key: str) -> None:
        counts[key] = counts.get(key, 0) + 1


# ------------------------------------------------------------------------------------------------ batch


def snapshot_rows(t_s: Sequence[float] | np.ndarray, period_s: float) -> np.ndarray:
    """Indices of the judged rows ``t_s`` (seconds) on which the streaming engine emits a snapshot: the first
    row of each ``period_s`` bin of sample time later than the last snapshot's (``PostureEngine``'s rule, with
    :func:`~posturebuddy.session.engine.judge_bin`)."""
    times = np.asarray(t_s, dtype=np.float64).tolist()
    picked: list[int] = []
    last_bin = -math.inf
    for i, t in enumerate(times):
        b = judge_bin(t, period_s)
        if b > last_bin:
            last_bin = b
            picked.append(i)
    return np.asarray(picked, dtype=np.intp)


def summarize_analysis(result: AnalysisResult, settings: EngineSettings | None = None) -> list[MinuteSummary]:
    """The minute summaries a live session would have written, from a batch analysis.

    ``result`` must carry its timeline (``analyze_recording(..., timeline=True)``) and ``settings`` must be the
    engine settings the analysis ran with (default: the defaults), for the snapshot period and ``max_step_s``.

    Raises:
        ValueError: the analysis was run without ``timeline=True``.
    """
    st = settings if settings is not None else EngineSettings()
    timeline = result.timeline
    if timeline is None:
        msg = (
            f"the analysis of {result.source} has no timeline, so it cannot be summarised per minute; "
            "run analyze_recording(..., timeline=True)"
        )
        raise ValueError(msg)
    summarizer = MinuteSummarizer(max_step_s=st.coach.max_step_s)
    rows = snapshot_rows(timeline.t_s, st.snapshot_period_s)
    times = timeline.t_s[rows].tolist()
    states = [POSTURE_CLASSES[c] for c in timeline.state[rows].tolist()]
    acts = [ACTIVITIES[c] for c in timeline.activity[rows].tolist()]
    flex = timeline.flexion_deg[rows].tolist()
    lat = timeline.lateral_deg[rows].tolist()
    events = result.events
    k = 0
    n_events = len(events)
    # The engine publishes a judged row's events before that row's snapshot: feed events up to t first.
    for t, state, act, fl, la in zip(times, states, acts, flex, lat, strict=True):
        while k < n_events and events[k].t_s <= t:
            summarizer.feed(events[k])
            k += 1
        summarizer.observe(t, state, act, fl, la)
    for event in events[k:]:
        summarizer.feed(event)
    summarizer.close()
    return summarizer.summaries()


def summaries_by_minute(rows: Iterable[MinuteSummary]) -> dict[float, MinuteSummary]:
    """The last row written for each minute (writing a minute again replaces it, as in the recording)."""
    return {row.minute_start_s: row for row in rows}
