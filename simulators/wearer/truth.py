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
