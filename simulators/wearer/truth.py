"""Ground truth for scoring a posture engine against a simulated recording.

All times in this module are on the recording's ``t_s`` clock (simulated POSIX seconds, the clock the engine
runs on), so detected episodes and prompts can be compared with the truth directly.

Posture labels (per sample) use the simulator's own definition, judged on the **held (baseline) posture**, not
on breathing, sway or fidgets:

* ``moving`` during fidgets, reaches, quick posture changes, sit-to-stand / stand-to-sit and walking;
* ``away`` while the tag is off the body or out of range;
* otherwise, relative to the upright seated reference: ``slouch`` if trunk flexion >= 10 deg; ``leaning_back`` if
  trunk flexion <= -8 deg; ``forward_head`` if neck flexion >= 15 deg; ``side_lean`` if |lateral| >= 8 deg;
  else ``upright`` (first match wins).

**Should-alert episodes** are runs of ``slouch`` or ``forward_head`` lasting at least ``min_alert_s`` (default
60 s), where short ``moving`` interruptions (<= ``bridge_s``, default 10 s) between two parts of the same class are
bridged: a wearer who slouches, reaches for a mug and slouches again has not corrected their posture. Runs shorter
than the minimum are in :meth:`GroundTruth.bad_posture_runs` (a grey zone, depending on the engine's dwell
setting); everything else is posture that must not alert.

Activity labels (:class:`posturebuddy.model.Activity` values): ``still`` (seated, incl. typing), ``fidget``,
``sit_to_stand`` (used for both directions: the enum has no separate stand-to-sit value), ``standing``,
``walking``, ``no_data``. A tag lying on the desk is ``still`` with posture ``away``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from simulators.wearer import quat
from simulators.wearer.behaviours import ACTIVITIES, P_AWAY, P_MOVING, P_UPRIGHT, POSTURE_CLASSES, Canvas, Motion
from simulators.wearer.body import WearerParams, reference_up_in_tag
from simulators.wearer.scenario import ResolvedSegment

FloatArray = npt.NDArray[np.float64]

SLOUCH_FLEXION_DEG: Final = 10.0
LEANING_BACK_FLEXION_DEG: Final = -8.0
FORWARD_HEAD_NECK_DEG: Final = 15.0
SIDE_LEAN_DEG: Final = 8.0
DEFAULT_MIN_ALERT_S: Final = 60.0
DEFAULT_BRIDGE_S: Final = 10.0
ALERT_CLASSES: Final = ("slouch", "forward_head")


@dataclass(frozen=True, slots=True)
class Episode:
    """A run of one posture class.

    Attributes:
        posture: a :class:`posturebuddy.model.PostureClass` value.
        start_s: first sample time (t_s clock).
        end_s: time just after the last sample (t_s clock).
    """

    posture: str
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Break:
    """A break from sitting: stand up, (maybe) walk, sit down.

    Attributes:
        stand_s: start of the sit-to-stand.
        walk_start_s: start of the first walk in the break, or None if the wearer only stood.
        sit_s: end of the stand-to-sit, or None if the recording ends first.
        walking_s: total walking time in the break, seconds.
        out_of_range_s: time in the break with no data (walked out of radio range), seconds.
    """

    stand_s: float
    walk_start_s: float | None
    sit_s: float | None
    walking_s: float
    out_of_range_s: float


@dataclass(frozen=True, slots=True)
class TruthSegment:
    """A behaviour segment on the t_s clock (``end_s`` clipped to the end of the recording)."""

    kind: str
    start_s: float
    end_s: float
    params: dict[str, float | bool]
    where: str


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """Everything that really happened in a simulated recording. Arrays have one row per sample.

    Attributes:
        posture_code: (N,) int8 index into ``posture_classes``.
        posture_classes: posture class names (:class:`posturebuddy.model.PostureClass` values).
        activity_code: (N,) int8 index into ``activities``.
        activities: activity names (:class:`posturebuddy.model.Activity` values).
        trunk_flexion_deg: (N,) true trunk flexion vs the upright seated reference (+ forward), incl. sway,
            fidgets and gait.
        trunk_lateral_deg: (N,) true trunk lateral lean (+ right).
        trunk_axial_deg: (N,) true trunk axial twist (+ chest left).
        neck_flexion_deg: (N,) true neck (forward head) flexion.
        tag_flexion_deg: (N,) tilt of the tag's gravity direction vs an ideal upright calibration with the mount in
            effect, in the tag's sagittal plane (+ forward): what a perfect engine would report. NaN while off.
        tag_lateral_deg: (N,) the same in the frontal plane (+ right).
        tag_total_deg: (N,) total angle between the current and the reference gravity direction.
        held_flexion_deg: (N,) the held (baseline) trunk flexion the labels are judged on.
        held_neck_deg: (N,) the held neck flexion.
        alert_episodes: should-alert episodes (see module docstring).
        min_alert_s: minimum length used for ``alert_episodes``.
        breaks: breaks from sitting.
        segments: the resolved timeline.
        motions: transient motions (fidgets, reaches, weight shifts, tag handling).
    """

    t_s: FloatArray
    posture_code: npt.NDArray[np.int8]
    posture_classes: tuple[str, ...]
    activity_code: npt.NDArray[np.int8]
    activities: tuple[str, ...]
    trunk_flexion_deg: FloatArray
    trunk_lateral_deg: FloatArray
    trunk_axial_deg: FloatArray
    neck_flexion_deg: FloatArray
    tag_flexion_deg: FloatArray
    tag_lateral_deg: FloatArray
    tag_total_deg: FloatArray
    held_flexion_deg: FloatArray
    held_neck_deg: FloatArray
    alert_episodes: tuple[Episode, ...]
    min_alert_s: float
    breaks: tuple[Break, ...]
    segments: tuple[TruthSegment, ...]
    motions: tuple[Motion, ...]

    def posture_labels(self) -> npt.NDArray[np.str_]:
        """(N,) posture class names per sample."""
        return np.asarray(self.posture_classes)[self.posture_code]

    def activity_labels(self) -> npt.NDArray[np.str_]:
        """(N,) activity names per sample."""
        return np.asarray(self.activities)[self.activity_code]

    def runs(self) -> list[Episode]:
        """Every run of a constant posture class, in time order."""
        return _runs(self.t_s, self.posture_code)

    def episodes(
        self, min_duration_s: float = DEFAULT_MIN_ALERT_S, bridge_s: float = DEFAULT_BRIDGE_S
    ) -> list[Episode]:
        """Should-alert episodes for another dwell time or bridging rule (see module docstring)."""
        return _alert_episodes(self.t_s, self.posture_code, min_duration_s, bridge_s)

    def product_episodes(self, thresholds: ProductThresholds | None = None) -> list[ProductEpisode]:
        """Should-alert episodes by the product's own definition (default: the product's default settings), from
        the true tag tilt: see :func:`product_alert_episodes`. Grey ones are flagged."""
        th = thresholds if thresholds is not None else ProductThresholds.from_detector()
        return product_alert_episodes(self.t_s, self.tag_flexion_deg, self.posture_code, th)

    def bad_posture_runs(self, bridge_s: float = DEFAULT_BRIDGE_S) -> list[Episode]:
        """All slouch / forward-head runs, however short (bridged as for the episodes)."""
        return _alert_episodes(self.t_s, self.posture_code, 0.0, bridge_s)


def classify(held_flexion: FloatArray, held_lateral: FloatArray, held_neck: FloatArray) -> npt.NDArray[np.int8]:
    """Posture codes from held angles (degrees), before moving/away overrides."""
    code = np.full(held_flexion.shape, P_UPRIGHT, dtype=np.int8)
    order = [
        ("side_lean", np.abs(held_lateral) >= SIDE_LEAN_DEG),
        ("forward_head", held_neck >= FORWARD_HEAD_NECK_DEG),
        ("leaning_back", held_flexion <= LEANING_BACK_FLEXION_DEG),
        ("slouch", held_flexion >= SLOUCH_FLEXION_DEG),
    ]
    for name, mask in order:  # later entries win
        code[mask] = POSTURE_CLASSES.index(name)
    return code


def _runs(t_s: FloatArray, code: npt.NDArray[np.int8]) -> list[Episode]:
    n = code.shape[0]
    if n == 0:
        return []
    dt_end = float(t_s[-1] - t_s[-2]) if n > 1 else 0.0
    edges = np.flatnonzero(np.diff(code)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [n]))
    out = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        end_t = float(t_s[e]) if e < n else float(t_s[-1]) + dt_end
        out.append(Episode(POSTURE_CLASSES[int(code[s])], float(t_s[s]), end_t))
    return out


def _alert_episodes(t_s: FloatArray, code: npt.NDArray[np.int8], min_s: float, bridge_s: float) -> list[Episode]:
    runs = _runs(t_s, code)
    merged: list[Episode] = []
    i = 0
    moving = POSTURE_CLASSES[P_MOVING]
    while i < len(runs):
        r = runs[i]
        if r.posture not in ALERT_CLASSES:
            i += 1
            continue
        start, end = r.start_s, r.end_s
        j = i + 1
        while (
            j + 1 < len(runs)
            and runs[j].posture == moving
            and runs[j].duration_s <= bridge_s
            and runs[j + 1].posture == r.posture
        ):
            end = runs[j + 1].end_s
            j += 2
        merged.append(Episode(r.posture, start, end))
        i = j
    return [e for e in merged if e.duration_s >= min_s]


def _breaks(segments: Sequence[TruthSegment]) -> tuple[Break, ...]:
    out: list[Break] = []
    open_: dict[str, float | None] | None = None
    walking = 0.0
    oor = 0.0
    for seg in segments:
        if seg.kind == "stand_up":
            open_ = {"stand": seg.start_s, "walk": None}
            walking = 0.0
            oor = 0.0
        elif open_ is not None and seg.kind == "walk":
            if open_["walk"] is None:
                open_["walk"] = seg.start_s
            walking += seg.end_s - seg.start_s
        elif open_ is not None and seg.kind == "out_of_range":
            oor += seg.end_s - seg.start_s
        elif open_ is not None and seg.kind == "sit_down":
            stand = open_["stand"]
            assert stand is not None
            out.append(Break(stand, open_["walk"], seg.end_s, walking, oor))
            open_ = None
    if open_ is not None:
        stand = open_["stand"]
        assert stand is not None
        out.append(Break(stand, open_["walk"], None, walking, oor))
    return tuple(out)


def tag_angles(
    q_tag: FloatArray, mis_deg: FloatArray, wearer: WearerParams
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Flexion, lateral and total tilt (degrees) of the tag vs an ideal upright calibration, per sample.

    Args:
        q_tag: (4, N) tag -> earth quaternion rows.
        mis_deg: (N, 3) mount misalignment in effect.
        wearer: body parameters.

    Returns:
        (N,) flexion (+ forward), lateral (+ right) and total angles, degrees.
    """
    up = quat.rows_up_in_child(q_tag)
    u = reference_up_in_tag(mis_deg, wearer)
    # Right axis: the tag's x axis made perpendicular to the reference up direction; back = right x up.
    r = -u[0] * u
    r[0] += 1.0
    r /= np.sqrt(np.einsum("in,in->n", r, r))
    b = np.stack((r[1] * u[2] - r[2] * u[1], r[2] * u[0] - r[0] * u[2], r[0] * u[1] - r[1] * u[0]))
    gu = np.einsum("in,in->n", up, u)
    gb = np.einsum("in,in->n", up, b)
    gr = np.einsum("in,in->n", up, r)
    flex = np.degrees(np.arctan2(gb, gu))
    lat = np.degrees(np.arctan2(-gr, gu))
    total = np.degrees(np.arccos(np.clip(gu, -1.0, 1.0)))
    return flex, lat, total


def build_truth(
    *,
    canvas: Canvas,
    held_flexion: FloatArray,
    held_lateral: FloatArray,
    held_neck: FloatArray,
    true_flexion: FloatArray,
    true_lateral: FloatArray,
    true_axial: FloatArray,
    true_neck: FloatArray,
    tag_flexion: FloatArray,
    tag_lateral: FloatArray,
    tag_total: FloatArray,
    worn: FloatArray,
    segments: Sequence[ResolvedSegment],
    t_s: FloatArray,
    start_epoch_s: float,
    clock_scale: float,
    total_s: float,
    min_alert_s: float = DEFAULT_MIN_ALERT_S,
) -> GroundTruth:
    """Assemble the ground truth from the behaviours' canvas and the kinematics.

    ``tag_*`` are the (N,) angles from :func:`tag_angles` (set to NaN here where ``worn`` < 1).

    ``clock_scale`` maps time since the start onto the t_s clock (``t = start + tau * clock_scale``).
    """
    code = classify(held_flexion, held_lateral, held_neck)
    code[canvas.moving] = P_MOVING
    code[canvas.away] = P_AWAY
    flex, lat, total = tag_flexion, tag_lateral, tag_total
    off = worn < 1.0
    for arr in (flex, lat, total):
        arr[off] = np.nan

    def clock(tau: float) -> float:
        return start_epoch_s + tau * clock_scale

    segs = tuple(
        TruthSegment(s.kind, clock(s.start_s), clock(min(s.end_s, total_s)), dict(s.params), s.where) for s in segments
    )
    motions = tuple(Motion(m.kind, clock(m.start_s), clock(m.end_s)) for m in canvas.motions)
    return GroundTruth(
        t_s=t_s,
        posture_code=code,
        posture_classes=POSTURE_CLASSES,
        activity_code=canvas.activity.copy(),
        activities=ACTIVITIES,
        trunk_flexion_deg=true_flexion,
        trunk_lateral_deg=true_lateral,
        trunk_axial_deg=true_axial,
        neck_flexion_deg=true_neck,
        tag_flexion_deg=flex,
        tag_lateral_deg=lat,
        tag_total_deg=total,
        held_flexion_deg=held_flexion,
        held_neck_deg=held_neck,
        alert_episodes=tuple(_alert_episodes(t_s, code, min_alert_s, DEFAULT_BRIDGE_S)),
        min_alert_s=min_alert_s,
        breaks=_breaks(segs),
        segments=segs,
        motions=motions,
    )


# ---------------------------------------------------------------------------------------------
# Product-definition alert episodes


@dataclass(frozen=True, slots=True)
class ProductThresholds:
    """The product's posture rule, in the units of :class:`posturebuddy.posture.settings.DetectorSettings` (tilt of
    the tag vs its upright calibration, degrees; seconds). Build it from the product's own settings with
    :meth:`from_detector` so that truth and product share one definition.

    Attributes:
        forward_head_deg: forward flexion at the tag where forward head begins.
        slouch_deg: forward flexion at the tag where slouching begins.
        hysteresis_deg: a level is left only this far back past its threshold (at most half the threshold).
        dwell_s: time at or beyond the threshold before a posture is an episode.
        exit_s: an episode ends once its level has been left for this long (shorter dips are bridged).
        grace_s: unjudged time (moving, away) up to this long freezes the levels; longer ends them.
        margin_s: runs whose dwell clock ends within this of ``dwell_s`` (either side) are a grey zone: an engine
            with realistic tilt errors may or may not report them, and is scored neither way.
    """

    forward_head_deg: float
    slouch_deg: float
    hysteresis_deg: float
    dwell_s: float
    exit_s: float
    grace_s: float
    margin_s: float = 5.0

    @classmethod
    def from_detector(cls, settings: object | None = None, margin_s: float = 5.0) -> ProductThresholds:
        """From a :class:`posturebuddy.posture.settings.DetectorSettings` (default: the product defaults)."""
        from posturebuddy.posture.settings import DetectorSettings

        s = settings if isinstance(settings, DetectorSettings) else DetectorSettings()
        return cls(s.forward_head_deg, s.slouch_deg, s.hysteresis_deg, s.dwell_s, s.exit_s, s.grace_s, margin_s)


@dataclass(frozen=True, slots=True)
class ProductEpisode:
    """A should-alert episode by the product's definition, from the true tag tilt.

    Attributes:
        posture: ``slouch`` or ``forward_head``.
        start_s: where the posture began (t_s clock), as the product's detector dates it.
        confirmed_s: when a perfect engine confirms it (start + dwell for a posture held beyond its threshold).
        end_s: where it ended.
        grey: the run's dwell clock ended within ``margin_s`` of the dwell (see :class:`ProductThresholds`).
        reached_dwell: a perfect engine does confirm it; ``False`` only for grey runs whose dwell clock stopped
            short of the dwell (``confirmed_s`` then marks where it would have taken over: its start or end).
    """

    posture: str
    start_s: float
    confirmed_s: float
    end_s: float
    grey: bool = False
    reached_dwell: bool = True

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.end_s - self.start_s


def _ffill_events(events: npt.NDArray[np.int8]) -> npt.NDArray[np.int8]:
    """Forward-fill: -1 keeps the previous value (0 before any event)."""
    idx = np.where(events >= 0, np.arange(events.shape[0]), -1)
    last = np.maximum.accumulate(idx) if idx.size else idx
    out = np.where(last >= 0, events[np.maximum(last, 0)], 0)
    return out.astype(np.int8)


def _level_runs(
    t: FloatArray,
    dt: FloatArray,
    f: FloatArray,
    judged: npt.NDArray[np.bool_],
    reset: npt.NDArray[np.bool_],
    enter: float,
    leave: float,
    dwell_s: float,
    exit_s: float,
) -> list[tuple[float, float, float, float]]:
    """Runs of "at or beyond ``enter``" with hysteresis (left below ``leave``): (start, confirmed or nan, end, clock)
    where clock is the largest dwell clock of the run; runs whose episode would continue over an off-gap shorter
    than ``exit_s`` are merged (after confirmation)."""
    ev = np.full(f.shape, -1, dtype=np.int8)
    ev[judged & (f < leave)] = 0
    ev[judged & (f >= enter)] = 1
    ev[reset] = 0
    on = _ffill_events(ev) == 1
    ab = np.full(f.shape, -1, dtype=np.int8)
    ab[judged] = (f[judged] >= enter).astype(np.int8)
    above = (_ffill_events(ab) == 1) & on
    n = f.shape[0]
    edges = np.flatnonzero(np.diff(on.astype(np.int8))) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [n]))
    raw: list[tuple[float, float, float, float]] = []
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if not on[s]:
            continue
        clock = np.cumsum(np.where(above[s:e], dt[s:e], 0.0))
        k = int(np.searchsorted(clock, dwell_s - 1e-6))
        # Confirmed on the first judged sample once the clock has run (a clock that fills during a reach
        # confirms when posture is judged again, as in the detector).
        judged_after = np.flatnonzero(judged[s + k : e]) if k < clock.shape[0] else np.empty(0, dtype=np.intp)
        confirmed = float(t[s + k + int(judged_after[0])]) if judged_after.size else math.nan
        last_judged = np.flatnonzero(judged[s:e])
        end = float(t[s + int(last_judged[-1])] + dt[s + int(last_judged[-1])]) if last_judged.size else float(t[s])
        # A run that is never confirmed is worth what its clock held at its last judged sample: the clock may
        # have run on through a final unjudged stretch that no detector can confirm in.
        if math.isnan(confirmed) and last_judged.size:
            held = float(clock[int(last_judged[-1])])
        else:
            held = float(clock[-1]) if clock.size else 0.0
        raw.append((float(t[s]), confirmed, end, held))
    merged: list[tuple[float, float, float, float]] = []
    for run in raw:
        if merged:
            p = merged[-1]
            if not math.isnan(p[1]) and run[0] - p[2] < exit_s:
                merged[-1] = (p[0], p[1], run[2], max(p[3], run[3]))
                continue
        merged.append(run)
    return merged


def product_alert_episodes(
    t_s: FloatArray, tag_flexion_deg: FloatArray, posture_code: npt.NDArray[np.int8], th: ProductThresholds
) -> list[ProductEpisode]:
    """Slouch / forward-head episodes as the product defines them (:class:`ProductThresholds`), from the true tag
    flexion. A perfect engine with an ideal calibration reports exactly these (grey ones may go either way).

    Semantics (as ``posturebuddy.posture.detector`` documents them): levels with hysteresis; forward head counts
    while the flexion is at the forward-head level *or worse*; the dwell clock counts time at or beyond the
    threshold; unjudged samples (truth ``moving`` / ``away``) freeze the levels for up to ``grace_s``; an episode
    ends once its level has been left for ``exit_s``. Slouch is more severe: its episode takes over an open
    forward-head episode when the slouch run has lasted its own dwell, starting at ``max(slouch start,
    forward-head confirmation)``; a forward-head level left over after a slouch episode continues as a
    forward-head episode at once (if it lasts ``exit_s``). So a slowly deepening slouch is a forward-head episode
    first, then a slouch. An episode is confirmed on a judged sample (a dwell clock that fills while posture is
    not judged confirms on the next judged sample, as in the detector).
    """
    t = np.asarray(t_s, dtype=np.float64)
    n = t.shape[0]
    if n < 2:
        return []
    dt = np.empty(n)
    dt[:-1] = np.diff(t)
    dt[-1] = dt[-2]
    f = np.asarray(tag_flexion_deg, dtype=np.float64)
    judged = (posture_code != P_MOVING) & (posture_code != P_AWAY) & np.isfinite(f)
    # Unjudged stretches longer than grace_s reset the levels (from the sample where grace runs out).
    reset = np.zeros(n, dtype=bool)
    unj_edges = np.flatnonzero(np.diff(judged.astype(np.int8))) + 1
    u_starts = np.concatenate(([0], unj_edges))
    u_ends = np.concatenate((unj_edges, [n]))
    for s, e in zip(u_starts.tolist(), u_ends.tolist(), strict=True):
        if not judged[s]:
            late = np.flatnonzero(t[s:e] - t[s] >= th.grace_s)
            if late.size:
                reset[s + int(late[0]) : e] = True
    h_fh = min(th.hysteresis_deg, 0.5 * th.forward_head_deg)
    h_sl = min(th.hysteresis_deg, 0.5 * th.slouch_deg)
    fh_enter = th.forward_head_deg
    fh_runs = _level_runs(t, dt, f, judged, reset, fh_enter, fh_enter - h_fh, th.dwell_s, th.exit_s)
    sl_runs = _level_runs(t, dt, f, judged, reset, th.slouch_deg, th.slouch_deg - h_sl, th.dwell_s, th.exit_s)
    lo, hi = th.dwell_s - th.margin_s, th.dwell_s + th.margin_s
    out: list[ProductEpisode] = []
    slouches = [r for r in sl_runs if r[3] >= lo]
    for s, c, e, clock in fh_runs:
        if clock < lo:
            continue
        inside = [r for r in slouches if s <= r[0] < e]
        c_fh = c if not math.isnan(c) else e
        cursor, cursor_confirm, first = s, c_fh, True
        for ss, cs, se, sclock in inside:
            start = max(ss, c_fh)
            if math.isnan(cs) or start >= se:  # grey slouch that never took over
                if sclock >= lo:
                    out.append(ProductEpisode("slouch", start, start, se, grey=True, reached_dwell=False))
                continue
            piece_end = start
            if piece_end - cursor > (0.0 if first else th.exit_s):
                grey = first and (clock < hi or ss - s < hi)
                out.append(ProductEpisode("forward_head", cursor, cursor_confirm, piece_end, grey=grey))
            out.append(ProductEpisode("slouch", start, max(cs, c_fh), se, grey=sclock < hi))
            cursor, cursor_confirm, first = se, se, False
        if e - cursor > (0.0 if first else th.exit_s):
            grey = first and clock < hi
            confirmed = not (first and math.isnan(c))
            out.append(
                ProductEpisode(
                    "forward_head", cursor, cursor_confirm if first else cursor, e, grey=grey, reached_dwell=confirmed
                )
            )
    out.sort(key=lambda ep: ep.start_s)
    return out
