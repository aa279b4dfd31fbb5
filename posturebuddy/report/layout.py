"""What every report format shares: the states drawn, their colours and words, and a day cut into bins.

A day's timeline is drawn from its minute rows (:class:`~posturebuddy.session.recording.MinuteSummary`): each
bin of ``bin_min`` minutes takes the *dominant* state of its minutes (the state with the most seconds), where
the states are the posture classes, "up and about" (the detector's ``moving``: walking, standing, fidgeting) and
"no data". Minutes without any row are "not recorded". Times are local clock times in the history's zone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from posturebuddy.model import PostureClass
from posturebuddy.session.history import DayFigures, Figures
from posturebuddy.session.recording import MinuteSummary
from posturebuddy.session.summaries import BREAK_SPANS, FLEXION_MEAN, FLEXION_P10, FLEXION_P90, MINUTE_S

NO_DATA = "no_data"
"""Timeline state: a recording was running but no data arrived (link down)."""
NOT_RECORDED = "not_recorded"
"""Timeline state: no recording covered the time."""


@dataclass(frozen=True, slots=True)
class StateStyle:
    """How one timeline state is drawn: its key, words for people, a fill colour and a terminal colour."""

    key: str
    label: str
    colour: str
    terminal: str
    char: str


STATES: tuple[StateStyle, ...] = (
    StateStyle(PostureClass.UPRIGHT.value, "upright", "#3a9a5b", "green", "█"),
    StateStyle(PostureClass.LEANING_BACK.value, "leaning back", "#8fd0a8", "pale_green3", "█"),
    StateStyle(PostureClass.FORWARD_HEAD.value, "forward head", "#f0a04b", "orange1", "█"),
    StateStyle(PostureClass.SLOUCH.value, "slouching", "#d9534f", "red3", "█"),
    StateStyle(PostureClass.SIDE_LEAN.value, "side lean", "#9b7fc7", "medium_purple", "█"),
    StateStyle(PostureClass.MOVING.value, "up and about", "#5b9bd5", "steel_blue1", "█"),
    StateStyle(PostureClass.AWAY.value, "tag off", "#b8b8b8", "grey62", "▒"),
    StateStyle(NO_DATA, "no data", "#e3e3e3", "grey35", "░"),
    StateStyle(NOT_RECORDED, "not recorded", "#ffffff", "grey19", "·"),
)
"""Every timeline state, in legend order."""

STYLE: dict[str, StateStyle] = {s.key: s for s in STATES}

BREAK_COLOUR = "#2b6cb0"
PROMPT_COLOUR = "#444444"
FLEXION_COLOUR = "#33475b"
NOT_MEDICAL = (
    "PostureBuddy coaches habits. It is not a medical device and gives no medical advice; if you have pain that "
    "does not settle, numbness, tingling or weakness, see a professional."
)


def dominant_state(rows: Sequence[MinuteSummary]) -> str:
    """The state with the most seconds over ``rows`` (:data:`NOT_RECORDED` without rows or seconds)."""
    totals: dict[str, float] = {}
    for row in rows:
        for cls, seconds in row.posture_s.items():
            totals[str(cls)] = totals.get(str(cls), 0.0) + seconds
        if row.no_data_s > 0.0:
            totals[NO_DATA] = totals.get(NO_DATA, 0.0) + row.no_data_s
    if not totals:
        return NOT_RECORDED
    order = {s.key: i for i, s in enumerate(STATES)}
    return max(totals.items(), key=lambda kv: (kv[1], -order.get(kv[0], 99)))[0]


@dataclass(frozen=True, slots=True)
class DayPlan:
    """A day laid out for drawing.

    Attributes:
        day: the local date.
        tz: the time zone of the clock times.
        start_s, end_s: the span drawn, POSIX seconds (whole local hours around the recorded minutes).
        bin_min: minutes per timeline bin.
        bins: the dominant state of each bin, from ``start_s``.
        minute_t_s: start of each recorded minute, POSIX seconds (for the flexion curve).
        flexion_mean_deg, flexion_p10_deg, flexion_p90_deg: seated flexion of each minute, degrees (NaN without).
        breaks: credited breaks as ``(start_s, end_s)``, POSIX seconds.
        prompt_t_s: minutes in which prompts were raised, POSIX seconds (one entry per prompt).
        figures: the day's figures.
    """

    day: dt.date
    tz: dt.tzinfo
    start_s: float
    end_s: float
    bin_min: int
    bins: tuple[str, ...]
    minute_t_s: tuple[float, ...]
    flexion_mean_deg: tuple[float, ...]
    flexion_p10_deg: tuple[float, ...]
    flexion_p90_deg: tuple[float, ...]
    breaks: tuple[tuple[float, float], ...]
    prompt_t_s: tuple[float, ...]
    figures: Figures

    def clock(self, t_s: float, fmt: str = "%H:%M") -> str:
        """Local clock time of ``t_s``."""
        return dt.datetime.fromtimestamp(t_s, tz=dt.UTC).astimezone(self.tz).strftime(fmt)

    def hours(self) -> list[float]:
        """POSIX seconds of each whole local hour in the span."""
        out: list[float] = []
        t = self.start_s
        while t <= self.end_s + 1e-6:
            out.append(t)
            t += 3600.0
        return out


def _detail_float(row: MinuteSummary, key: str) -> float:
    value = row.detail.get(key)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan


def plan_day(day: DayFigures, tz: dt.tzinfo, *, bin_min: int = 5) -> DayPlan | None:
    """Lay ``day`` out (``None`` when it has no recorded minute). The span runs from the local hour before the
    first recorded minute to the hour after the last; ``bin_min`` must divide 60."""
    rows = day.figures.minutes
    if not rows:
        return None
    first, last = rows[0].minute_start_s, rows[-1].minute_start_s + MINUTE_S
    start = math.floor(first / 3600.0) * 3600.0
    end = math.ceil(last / 3600.0) * 3600.0
    start, end = max(start, day.start_s), min(max(end, start + 3600.0), day.end_s)
    by_minute = {r.minute_start_s: r for r in rows}
    bin_s = bin_min * MINUTE_S
    n_bins = max(1, math.ceil((end - start) / bin_s))
    bins = []
    for b in range(n_bins):
        t0 = start + b * bin_s
        members = [by_minute[t] for t in (t0 + k * MINUTE_S for k in range(bin_min)) if t in by_minute]
        bins.append(dominant_state(members))
    breaks: list[tuple[float, float]] = []
    prompts: list[float] = []
    for row in rows:
        spans = row.detail.get(BREAK_SPANS)
        if isinstance(spans, list):
            breaks.extend(
                (float(span[0]), float(span[1]))
                for span in spans
                if isinstance(span, list) and len(span) >= 2 and all(isinstance(v, int | float) for v in span[:2])
            )
        prompts.extend([row.minute_start_s] * row.prompts)
    return DayPlan(
        day=day.day,
        tz=tz,
        start_s=start,
        end_s=end,
        bin_min=bin_min,
        bins=tuple(bins),
        minute_t_s=tuple(r.minute_start_s for r in rows),
        flexion_mean_deg=tuple(_detail_float(r, FLEXION_MEAN) for r in rows),
        flexion_p10_deg=tuple(_detail_float(r, FLEXION_P10) for r in rows),
        flexion_p90_deg=tuple(_detail_float(r, FLEXION_P90) for r in rows),
        breaks=tuple(sorted(breaks)),
        prompt_t_s=tuple(prompts),
        figures=day.figures,
    )


def duration_text(seconds: float) -> str:
    """``3 h 05 min``, ``42 min``, ``50 s``."""
    if not math.isfinite(seconds) or seconds <= 0.0:
        return "0 min"
    if seconds < 60.0:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60.0)
    h, m = divmod(minutes, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def share_text(share: float | None) -> str:
    """``72 %`` or ``-`` when nothing was judged."""
    return "-" if share is None else f"{share * 100:.0f} %"


def headline(figures: Figures) -> str:
    """One line of the main figures, for titles."""
    return (
        f"upright {share_text(figures.upright_share)} of judged time · {figures.episode_count} episodes · "
        f"{figures.prompt_count} prompts · {figures.breaks} breaks · longest sitting "
        f"{duration_text(figures.longest_sitting_s)}"
    )
