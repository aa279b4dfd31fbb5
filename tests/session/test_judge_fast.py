"""The batch analysis' shortcuts change nothing.

The judge: skipping quiet rows, and the frame-free detector and coach steps, give exactly what stepping every row
through the public ``update`` methods gives. ``_judge(..., skip_quiet=False)`` steps every judged row; the default
jumps over runs of still, upright sitting while the detector and the coach are settled. Both are also compared
with a plain loop over :meth:`PostureDetector.update` and :meth:`Coach.update` (frames and :class:`PostureAngles`,
as the streaming engine calls them), on synthetic days that take every branch: long upright stretches crossing the
sitting limit (a break falls due inside a quiet run), slouch and forward-head episodes with prompts, fidgets,
walks, standing, missing data, pauses longer than ``max_step_s``, repeated times, working hours and a local day
boundary. Also: merging ticks into the samples' time line, and the activity stage's oriented rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
import pytest

from posturebuddy.model import Activity, PostureAngles, PostureClass
from posturebuddy.model.events import Event
from posturebuddy.motion import SampleArrays, TiltSeries, estimate_tilt_batch, up_to_quat
from posturebuddy.motion.activity import ORIENTED_SOURCES, oriented_rows
from posturebuddy.posture import Coach, PostureDetector
from posturebuddy.posture.episode import Episode
from posturebuddy.posture.settings import CoachPolicy, DetectorSettings
from posturebuddy.session.analyze import (
    ACTIVITIES,
    POSTURE_CLASSES,
    _expand_tilt,
    _judge,
    _judged_rows,
    _Spread,
    accepted_rows,
    merge_rows,
    replay_ticks,
)
from posturebuddy.session.engine import EngineSettings

FloatArray = npt.NDArray[np.float64]

STILL = ACTIVITIES.index(Activity.STILL)
KINDS = ("upright", "upright", "upright", "slouch", "forward", "fidget", "walk", "stand", "nodata", "lean")


@dataclass
class Day:
    """Judge inputs per row (see ``_judge``)."""

    t: FloatArray
    has_angles: npt.NDArray[np.bool_]
    flexion: FloatArray
    lateral: FloatArray
    total: FloatArray
    activity: npt.NDArray[np.int8]
    energy: FloatArray

    def head(self, m: int) -> Day:
        """The first ``m`` rows."""
        return Day(*(getattr(self, f.name)[:m] for f in fields(self)))

    def judge(self, st: EngineSettings, *, skip_quiet: bool = True) -> Judged:
        """``_judge`` over these rows with ``st``'s judge period."""
        judged = _judged_rows(self.t, st.judge_period_s)
        return _judge(
            self.t,
            judged,
            self.has_angles,
            self.flexion,
            self.lateral,
            self.total,
            self.activity,
            self.energy,
            st,
            None,
            skip_quiet=skip_quiet,
        )


Judged = tuple[list[Event], npt.NDArray[np.int8], npt.NDArray[np.int8], Episode | None]


def synthetic_day(seed: int, minutes: float, rate_hz: float = 10.0) -> Day:
    """Rows at ``rate_hz`` through segments of random kinds and lengths, with pauses and repeated times."""
    rng = np.random.default_rng(seed)
    t_list: list[float] = []
    kind_list: list[str] = []
    t = 1_767_600_000.0 + rng.uniform(0.0, 86_400.0)
    end = t + 60.0 * minutes
    while t < end:
        kind = KINDS[int(rng.integers(len(KINDS)))]
        length = float(rng.choice([5.0, 40.0, 200.0, 900.0, 2400.0]))
        n = int(length * rate_hz)
        times = t + np.arange(n) / rate_hz
        t_list.extend(times.tolist())
        kind_list.extend([kind] * n)
        t = float(times[-1]) + 1.0 / rate_hz
        if rng.random() < 0.15:
            t += float(rng.choice([3.0, 12.0, 400.0]))  # pauses, some longer than max_step_s and away_break_s
    t_arr = np.array(t_list)
    dup: npt.NDArray[np.bool_] = rng.random((t_arr.shape[0],)) < 0.002
    t_arr[1:][dup[1:]] = t_arr[:-1][dup[1:]]  # repeated times
    kinds = np.array(kind_list)
    n = t_arr.shape[0]
    flexion: FloatArray = rng.normal(0.0, 2.5, (n,))
    lateral: FloatArray = rng.normal(0.0, 2.5, (n,))
    flexion[kinds == "slouch"] += 20.0
    flexion[kinds == "forward"] += 11.0
    flexion[kinds == "lean"] -= 12.0
    flexion[rng.random(n) < 0.002] = 90.0  # off the body
    total = np.hypot(flexion, lateral)
    has_angles = kinds != "nodata"
    has_angles &= rng.random(n) > 0.001
    activity = np.full(n, STILL, dtype=np.int8)
    for kind, act in (
        ("fidget", Activity.FIDGET),
        ("walk", Activity.WALKING),
        ("stand", Activity.STANDING),
        ("nodata", Activity.NO_DATA),
    ):
        activity[kinds == kind] = ACTIVITIES.index(act)
    blips = rng.random(n) < 0.003
    activity[blips] = ACTIVITIES.index(Activity.FIDGET)
    energy = np.abs(rng.normal(0.2, 0.2, n))
    energy[rng.random(n) < 0.003] = 1.5
    energy[rng.random(n) < 0.001] = np.nan
    return Day(
        t=t_arr,
        has_angles=has_angles,
        flexion=np.where(has_angles, flexion, np.nan),
        lateral=np.where(has_angles, lateral, np.nan),
        total=np.where(has_angles, total, np.nan),
        activity=activity,
        energy=energy,
    )


def plain_loop(
    day: Day, judged: npt.NDArray[np.bool_], st: EngineSettings
) -> tuple[list[Event], list[int], list[int], Episode | None]:
    """The detector and the coach through their public ``update`` methods, one row at a time."""
    detector = PostureDetector(st.detector)
    coach = Coach(st.coach, utc_offset_s=st.utc_offset_s)
    events: list[Event] = []
    instants: list[int] = []
    states: list[int] = []
    frame = None
    for i in np.flatnonzero(judged).tolist():
        t = float(day.t[i])
        angles = (
            PostureAngles(t, float(day.flexion[i]), float(day.lateral[i]), float(day.total[i]))
            if day.has_angles[i]
            else None
        )
        act = ACTIVITIES[int(day.activity[i])]
        frame = detector.update(t, angles, act, float(day.energy[i]))
        events.extend(frame.events)
        events.extend(coach.update(t, frame, act))
        instants.append(POSTURE_CLASSES.index(frame.instant))
        states.append(POSTURE_CLASSES.index(frame.state))
    return events, instants, states, frame.episode if frame is not None else None


def assert_same(a: Judged, b: Judged) -> None:
    assert a[0] == b[0]
    assert np.array_equal(a[1], b[1])
    assert np.array_equal(a[2], b[2])
    assert a[3] == b[3]


def judge_both(day: Day, st: EngineSettings) -> None:
    fast = day.judge(st)
    slow = day.judge(st, skip_quiet=False)
    assert_same(fast, slow)
    events, instants, states, episode = plain_loop(day, _judged_rows(day.t, st.judge_period_s), st)
    assert slow[0] == events
    assert slow[1].tolist() == instants
    assert slow[2].tolist() == states
    assert slow[3] == episode
    assert len(events) > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_skipping_quiet_rows_changes_nothing(seed: int) -> None:
    day = synthetic_day(seed, minutes=150.0)
    quick = CoachPolicy(sitting_limit_s=600.0, min_break_s=30.0, min_prompt_interval_s=120.0)
    judge_both(day, EngineSettings(coach=quick))


def test_default_settings_and_every_row_judged() -> None:
    day = synthetic_day(4, minutes=90.0)
    judge_both(day, EngineSettings())
    judge_both(day, EngineSettings(judge_period_s=0.0))


def test_working_hours_day_boundary_and_breaks_disabled() -> None:
    day = synthetic_day(5, minutes=180.0)
    t0 = float(day.t[0])
    # Working hours that open and close during the data, and a local day that starts inside it.
    minute = ((t0 % 86_400.0) / 60.0 + 30.0) % 1440.0
    hours = (int(minute), int(minute + 90.0) % 1440)
    policy = CoachPolicy(working_hours=hours, sitting_limit_s=900.0, day_start_min=(hours[0] + 60) % 1440)
    judge_both(day, EngineSettings(coach=policy))
    judge_both(day, EngineSettings(coach=CoachPolicy(breaks_enabled=False)))
    judge_both(day, EngineSettings(coach=policy, utc_offset_s=3600.0 * 5.5))


def test_hysteresis_edges_and_other_thresholds() -> None:
    day = synthetic_day(6, minutes=120.0)
    # Angles sitting on the thresholds: the quiet test must use the detector's own comparisons.
    day.flexion[::97] = 8.0
    day.flexion[::89] = -8.0
    day.lateral[::83] = 12.0
    day.lateral[::79] = -12.0
    detector = DetectorSettings(forward_head_deg=6.0, slouch_deg=14.0, side_lean_deg=9.0, exit_s=1.0, dwell_s=10.0)
    judge_both(day, EngineSettings(detector=detector, coach=CoachPolicy(sitting_limit_s=700.0)))


@pytest.mark.parametrize("m", [0, 1, 2, 3])
def test_tiny_inputs(m: int) -> None:
    day = synthetic_day(7, minutes=1.0).head(m)
    st = EngineSettings()
    assert_same(day.judge(st), day.judge(st, skip_quiet=False))


def test_merge_rows_is_a_stable_sort() -> None:
    rng = np.random.default_rng(8)
    for _ in range(20):
        t = np.sort(rng.choice(np.arange(0.0, 30.0, 0.5), size=int(rng.integers(0, 40))))
        ticks = np.sort(rng.choice(np.arange(0.0, 30.0, 0.25), size=int(rng.integers(0, 10))))
        t_rows, is_sample, pos = merge_rows(t, ticks)
        both = np.concatenate((t, ticks))
        order = np.argsort(both, kind="stable")
        assert np.array_equal(t_rows, both[order])
        assert np.array_equal(is_sample, order < t.shape[0])
        if pos is not None:
            assert np.array_equal(np.flatnonzero(is_sample), pos)
        else:
            assert ticks.shape[0] == 0
            assert math.isfinite(float(t_rows.sum())) or t_rows.shape[0] == 0


def test_public_streaming_api_is_unchanged_by_the_batch_helpers() -> None:
    """``update`` after ``skip_*`` is not a public promise; but ``settled_*`` never changes state."""
    detector = PostureDetector()
    coach = Coach()
    assert not detector.settled_upright()
    assert coach.settled_sitting() is None
    for k in range(100):
        t = 1000.0 + 0.1 * k
        frame = detector.update(t, PostureAngles(t, 1.0, 0.5, 1.1), Activity.STILL, 0.1)
        coach.update(t, frame, Activity.STILL)
    assert detector.settled_upright()
    assert detector.state is PostureClass.UPRIGHT
    sitting = coach.settled_sitting()
    assert sitting is not None
    assert sitting[0] == pytest.approx(9.9)


def mixed_tilt(seed: int) -> TiltSeries:
    """A tilt series whose rows change source (quaternion, gravity, AHRS, accelerometer) and have gaps."""
    rng = np.random.default_rng(seed)
    n = 3000
    t = np.cumsum(np.where(rng.random(n) < 0.01, 2.0, 0.02))
    up = np.stack((np.sin(0.3 * np.sin(t)), np.full(n, 0.2), np.cos(0.3 * np.sin(t))), axis=1)
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    phase = (np.arange(n) * 4) // n
    accel = np.where((phase != 2)[:, None], up + rng.normal(0.0, 0.03, (n, 3)), np.nan)
    gyro = np.where((phase == 1)[:, None], rng.normal(0.0, 3.0, (n, 3)), np.nan)
    grav = np.where((phase == 3)[:, None], up, np.nan)
    quat = np.where((phase == 2)[:, None], up_to_quat(up), np.nan)
    return estimate_tilt_batch(SampleArrays.create(t, accel_g=accel, gyro_dps=gyro, quat_wxyz=quat, gravity_g=grav))


def plain_oriented_rows(tilt: TiltSeries) -> npt.NDArray[np.bool_]:
    """The definition of ``oriented_rows``, row by row: a valid row whose source's first valid row is oriented."""
    out = np.zeros(len(tilt), dtype=bool)
    for rank in set(tilt.source[tilt.valid].tolist()):
        rows = tilt.valid & (tilt.source == rank)
        est = tilt.estimate(int(np.argmax(rows)))
        if est is not None and est.source in ORIENTED_SOURCES:
            out |= rows
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_oriented_rows_without_sorting(seed: int) -> None:
    tilt = mixed_tilt(seed)
    assert len(set(tilt.source.tolist())) >= 4
    assert np.array_equal(oriented_rows(tilt), plain_oriented_rows(tilt))
    ticks = replay_ticks(tilt.t_s)
    t_rows, is_sample, pos = merge_rows(tilt.t_s, ticks)
    assert pos is not None
    expanded = _expand_tilt(tilt, _Spread.of(pos, t_rows.shape[0]), t_rows)
    for name in TiltSeries.__dataclass_fields__:  # samples' values on their rows, nothing on tick rows
        full, own = getattr(expanded, name), getattr(tilt, name)
        assert np.array_equal(full[pos], own, equal_nan=own.dtype.kind == "f"), name
    assert not expanded.valid[~is_sample].any()
    assert np.isnan(expanded.up_tag[~is_sample]).all()
    assert (expanded.source[~is_sample] == -1).all()
    assert np.array_equal(oriented_rows(expanded), plain_oriented_rows(expanded))
    empty = _expand_tilt(estimate_tilt_batch(SampleArrays.create(np.zeros(0))), None, np.zeros(0))
    assert np.array_equal(oriented_rows(empty), plain_oriented_rows(empty))


def test_accepted_rows_shortcut_for_ordered_times() -> None:
    """Non-decreasing times take a shortcut; the running-maximum rule decides the rest."""

    def by_rule(t: FloatArray) -> list[bool]:
        """Not earlier than the running maximum (NaN-ignoring) of the samples before: the general path."""
        if t.size == 0:
            return []
        prev = np.concatenate(([-math.inf], np.fmax.accumulate(t)[:-1]))
        return [bool(x) for x in (t >= prev).tolist()]

    cases = [
        np.zeros(0),
        np.array([5.0]),
        np.array([math.nan]),
        np.array([1.0, 1.0, 2.0, 3.0]),
        np.array([math.nan, 1.0, 2.0]),
        np.array([1.0, math.nan, 2.0]),
        np.array([1.0, 2.0, 1.5, 3.0]),
        np.array([-math.inf, 0.0, math.inf, math.inf]),
    ]
    for t in cases:
        assert accepted_rows(t).tolist() == by_rule(t)
