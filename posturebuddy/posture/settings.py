"""Settings of the posture layer: what the detector and the coach need, in their own units.

The session layer maps the user-facing :mod:`posturebuddy.config` sections onto these classes (minutes become
seconds, ``"09:00-17:30"`` becomes ``(540, 1050)`` with :func:`parse_working_hours`); this package never imports
the config module. Every user-facing default equals the config default, and every number names its source: a
key of ``shared/research/anchors.md`` (e.g. ``[OE]``), or "ours" with the reason.

Internal constants (not in the config file) are fields with defaults too, so tests and power users can change
them, but the session layer normally leaves them alone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MINUTES_PER_DAY = 24 * 60


def _check(ok: bool, owner: str, name: str, value: object, allowed: str) -> None:
    if not ok:
        msg = f"{owner}.{name} = {value!r} is not allowed: expected {allowed}"
        raise ValueError(msg)


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0.0


def _non_negative(value: float) -> bool:
    return math.isfinite(value) and value >= 0.0


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Thresholds and timings of :class:`posturebuddy.posture.detector.PostureDetector`.

    Angles are tilts of the upper back relative to the wearer's calibrated upright posture (see
    :class:`posturebuddy.model.PostureAngles`); times are seconds of sample time.

    Attributes:
        forward_head_deg: forward flexion at which forward head posture begins, degrees. Config default 8:
            inside the 3-10 deg range of trunk trainers (anchors [MP] 3, [AB] 8 enter / 5 exit, [PL1] 10).
        slouch_deg: forward flexion at which slouching begins (must exceed ``forward_head_deg``), degrees.
            Config default 15; the trunk-level threshold above the head-only one, below [OE]'s 20.
        lean_back_deg: backward tilt that counts as leaning back in the chair, degrees (never alerted).
            Config default 8, mirroring ``forward_head_deg``.
        side_lean_deg: sideways tilt that counts as a side lean, degrees. Config default 12, between [PL1]'s
            10 and [OE]'s 20.
        hysteresis_deg: how far back past a threshold the angle must come before the posture class is left,
            degrees. Config default 3, as [AB] (8 enter / 5 exit). The detector never lets the exit angle cross
            zero: the effective hysteresis is at most half of each threshold.
        dwell_s: how long a problem posture must last (time at or beyond its threshold; dips into the hysteresis
            band pause the clock) before it is an episode, seconds. Config default 30:
            longer than trainers' 5-10 s ([U4], [OE], [PJ1]) because false alarms are the first complaint
            (anchors section 4, #1), far shorter than Lumo's recommended 2 min ([L1]).
        exit_s: how long the wearer must be in a better posture before an episode ends (and before a good
            posture becomes the sustained state), seconds. Config default 3; [OE] resets after 1 s, [AP] uses
            a 5-s recovery countdown.
        grace_s: ours. How long posture may go unjudged (the wearer moves or fidgets, the data drops out)
            without ending an episode or restarting a dwell timer, seconds. 10 s covers the fidgets, reaches
            and weight shifts users complain get flagged ([U6], [L1]) and the ~10-s bridge the simulator's
            ground truth uses; [AP] uses a 30-s grace. After it the state becomes ``moving`` or ``away``.
        moving_energy: ours. ``motion_energy`` (dimensionless, see :mod:`posturebuddy.motion.orientation`, about
            1 at the edge of deliberate movement) at or above which posture is not judged.
        off_body_deg: ours. A total tilt this large, degrees, is not a seated posture: the tag is lying on a
            desk, or the wearer is lying down or bending to the floor. Treated like missing data. Reaches to the
            floor in the simulator go to 50 deg; a tag lying flat reads about 90 deg.
        judge_standing: ours. Judge posture while the activity stage says ``standing``. True: people slouch at
            standing desks too, and [R11] puts the seated-vs-standing reference difference at ~2.5 deg.
        onset_lookback_s: ours. When posture stops being judged, whether a problem posture's dwell clock runs on
            through the unjudged time is decided from the judged samples this long before it (seconds), not from
            the last one: the movement measure is smoothed (0.3 s) and crosses its threshold a few tenths of a
            second after a reach or fidget begins, and in those tenths the tilt estimate already moves with the
            movement (an accelerometer-only estimate most, by the push of the reach). On the wearer simulator the
            gate follows the true onset by a median 0.4-0.6 s. 0 decides from the last judged sample. (When an
            earlier unjudged stretch lies within that time, the decision made at its start carries over.)
    """

    forward_head_deg: float = 8.0
    slouch_deg: float = 15.0
    lean_back_deg: float = 8.0
    side_lean_deg: float = 12.0
    hysteresis_deg: float = 3.0
    dwell_s: float = 30.0
    exit_s: float = 3.0
    grace_s: float = 10.0
    moving_energy: float = 1.0
    off_body_deg: float = 70.0
    judge_standing: bool = True
    onset_lookback_s: float = 0.5

    def __post_init__(self) -> None:
        own = "DetectorSettings"
        for name in ("forward_head_deg", "slouch_deg", "lean_back_deg", "side_lean_deg", "dwell_s", "grace_s"):
            value = getattr(self, name)
            _check(_positive(value), own, name, value, "a number > 0")
        for name in ("hysteresis_deg", "exit_s", "onset_lookback_s"):
            value = getattr(self, name)
            _check(_non_negative(value), own, name, value, "a number >= 0")
        _check(
            self.slouch_deg > self.forward_head_deg,
            own,
            "slouch_deg",
            self.slouch_deg,
            f"more than forward_head_deg ({self.forward_head_deg})",
        )
        _check(
            not math.isnan(self.moving_energy) and self.moving_energy > 0.0,
            own,
            "moving_energy",
            self.moving_energy,
            "a number > 0 (inf: never judge by motion energy)",
        )
        _check(
            _positive(self.off_body_deg) and self.off_body_deg > self.slouch_deg,
            own,
            "off_body_deg",
            self.off_body_deg,
            f"a number above slouch_deg ({self.slouch_deg})",
        )


@dataclass(frozen=True, slots=True)
class CoachPolicy:
    """How and how often :class:`posturebuddy.posture.coach.Coach` prompts. Times in seconds of sample time.

    Attributes:
        min_prompt_interval_s: least time between two posture prompts, seconds. Config default 10 min: nagging
            is the third complaint (anchors section 4, #3).
        posture_snooze_s: how long Snooze silences posture prompts, seconds. Config default 10 min.
        nudge_tag: ask the tag to buzz/beep/flash with each prompt. Config default on ([U1], [L1], [A1] all
            vibrate).
        quiet: start in quiet mode (track and record, no prompts), as Workrave's quiet mode ([WR6]).
        working_hours: prompt only between these local times, ``(start_min, end_min)`` in minutes after local
            midnight, end exclusive; ``end < start`` wraps past midnight; ``start == end`` means all day.
            ``None``: any time. Config default empty (any time); users asked for it ([ST-i342]).
        chin_tuck_reps: repetitions in a guided chin-tuck set. Config default 8, on the way to [C1]'s 10.
        chin_tuck_hold_s: hold per chin tuck, seconds. Config default 5; [C1] builds up to 10-s holds.
        breaks_enabled: prompt for breaks. Config default on.
        sitting_limit_s: unbroken sitting before a break prompt, seconds. Config default 45 min, Workrave's rest
            break interval ([WR1]).
        min_break_s: time on one's feet that counts as a break, seconds. Config default 60.
        break_snooze_s: how long Snooze postpones a break prompt, seconds. Config default 5 min (Stretchly
            postpones a long break by 5 min, [ST1]).
        posture_prompt_expiry_s: ours. An unanswered posture prompt expires after this long, seconds: time to
            read it and play a guided set (8 x 5 s holds with rests is about 1.5 min).
        break_prompt_expiry_s: ours. An unanswered break prompt expires after this long, seconds; it then counts
            like a snooze (asked again after ``break_snooze_s``).
        max_break_prompts: break prompts per unbroken sitting stretch, at most (Workrave prompts up to 3 times
            before a break, [WR1]). After that the coach stays silent until a break or a skip.
        away_break_s: no data (tag off or out of range) for this long counts as a break, seconds. 5 min, the
            idle time at which Stretchly pauses its break timers ([ST1]); a lunch with the tag on the desk
            counts, a 30-s radio dropout does not.
        sit_back_s: ours. Seated activity this long ends a time on one's feet, seconds (shorter seated readings
            inside a walk are the activity stage's mistakes).
        max_step_s: ours. Updates further apart than this, seconds, mean the link was down: the time between is
            treated as no data, never as sitting.
        day_start_min: the "today" counters restart at this local time, minutes after midnight (Workrave's day
            starts at 04:00, [WR1]).
        side_lean_prompts: ours. Also prompt (sit tall) for side-lean episodes. Off: leaning on an armrest or
            to a bag is a classic false alarm ([L1], [L3]).
    """

    min_prompt_interval_s: float = 600.0
    posture_snooze_s: float = 600.0
    nudge_tag: bool = True
    quiet: bool = False
    working_hours: tuple[int, int] | None = None
    chin_tuck_reps: int = 8
    chin_tuck_hold_s: float = 5.0
    breaks_enabled: bool = True
    sitting_limit_s: float = 2700.0
    min_break_s: float = 60.0
    break_snooze_s: float = 300.0
    posture_prompt_expiry_s: float = 180.0
    break_prompt_expiry_s: float = 600.0
    max_break_prompts: int = 3
    away_break_s: float = 300.0
    sit_back_s: float = 10.0
    max_step_s: float = 10.0
    day_start_min: int = 240
    side_lean_prompts: bool = False

    def __post_init__(self) -> None:
        own = "CoachPolicy"
        for name in (
            "min_prompt_interval_s",
            "posture_snooze_s",
            "chin_tuck_hold_s",
            "sitting_limit_s",
            "min_break_s",
            "break_snooze_s",
            "posture_prompt_expiry_s",
            "break_prompt_expiry_s",
            "away_break_s",
            "max_step_s",
        ):
            value = getattr(self, name)
            _check(_positive(value), own, name, value, "a number > 0")
        _check(_non_negative(self.sit_back_s), own, "sit_back_s", self.sit_back_s, "a number >= 0")
        _check(self.chin_tuck_reps >= 1, own, "chin_tuck_reps", self.chin_tuck_reps, "a whole number >= 1")
        _check(self.max_break_prompts >= 1, own, "max_break_prompts", self.max_break_prompts, "a whole number >= 1")
        _check(
            0 <= self.day_start_min < MINUTES_PER_DAY,
            own,
            "day_start_min",
            self.day_start_min,
            "minutes after midnight, 0..1439",
        )
        if self.working_hours is not None:
            start, end = self.working_hours
            _check(
                0 <= start < MINUTES_PER_DAY and 0 <= end < MINUTES_PER_DAY,
                own,
                "working_hours",
                self.working_hours,
                "(start_min, end_min), each 0..1439, or None",
            )


_HOURS_RE = re.compile(r"\s*([01]\d|2[0-3]):([0-5]\d)\s*-\s*([01]\d|2[0-3]):([0-5]\d)\s*")


def parse_working_hours(text: str) -> tuple[int, int] | None:
    """Parse the config's ``"HH:MM-HH:MM"`` (24-hour, local time) into ``(start_min, end_min)``.

    An empty string means "any time" and gives ``None``. Raises ``ValueError`` for anything else.

    >>> parse_working_hours("09:00-17:30")
    (540, 1050)
    """
    if not text.strip():
        return None
    match = _HOURS_RE.fullmatch(text)
    if match is None:
        msg = f"working hours {text!r} is not allowed: expected HH:MM-HH:MM in 24-hour time, or empty"
        raise ValueError(msg)
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    return h1 * 60 + m1, h2 * 60 + m2


def in_working_hours(minute_of_day: float, hours: tuple[int, int] | None) -> bool:
    """Whether ``minute_of_day`` (local minutes after midnight, 0 <= m < 1440) lies in ``hours``.

    ``None`` and ``start == end`` mean all day; ``end < start`` wraps past midnight; the end is exclusive.
    """
    if hours is None:
        return True
    start, end = hours
    if start == end:
        return True
    if start < end:
        return start <= minute_of_day < end
    return minute_of_day >= start or minute_of_day < end
