"""Behaviour segments: what the virtual wearer does, one time-parameterised segment at a time.

Each segment kind has a parameter table (:data:`KINDS`) used by the scenario loader for validation and defaults,
and a generator that writes its part of the motion into a :class:`Canvas`.

Composition rules
-----------------
* **Baseline posture** (trunk flexion/lateral/axial, neck flexion, heading, hip position) is carried from one
  segment to the next. Each segment ramps the baseline from where the previous one left it to its own target with
  a quintic smootherstep (zero slope and curvature at both ends), so orientation, angular rate and acceleration
  are continuous across segment edges. Ramps never outlast their segment.
* **Additive motion** (fidgets, reaches, typing micro-motion, gait oscillation, standing weight shifts) is added
  on top of the baseline inside the segment, faded in and out at the segment edges.
* **Global processes** (breathing, slow postural wander) run through the whole recording (see ``simulate``).
* The ground-truth posture class is judged on the **baseline** angles (the posture the wearer holds), not on
  breathing, sway or fidgets; fidgets, reaches, transitions and walking are labelled ``moving``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from posturebuddy.model import Activity, PostureClass
from simulators.wearer import quat
from simulators.wearer.body import DEG, Pose, WearerParams
from simulators.wearer.signals import band_noise, envelope, plateau, ramp

FloatArray = npt.NDArray[np.float64]

POSTURE_CLASSES: Final[tuple[str, ...]] = tuple(c.value for c in PostureClass)
"""Posture class names, indexed by the codes in :attr:`Canvas.posture_code` / ``GroundTruth.posture_code``."""
ACTIVITIES: Final[tuple[str, ...]] = tuple(a.value for a in Activity)
"""Activity names, indexed by the activity codes."""

P_UPRIGHT = POSTURE_CLASSES.index(PostureClass.UPRIGHT.value)
P_MOVING = POSTURE_CLASSES.index(PostureClass.MOVING.value)
P_AWAY = POSTURE_CLASSES.index(PostureClass.AWAY.value)
A_STILL = ACTIVITIES.index(Activity.STILL.value)
A_FIDGET = ACTIVITIES.index(Activity.FIDGET.value)
A_STS = ACTIVITIES.index(Activity.SIT_TO_STAND.value)
A_STANDING = ACTIVITIES.index(Activity.STANDING.value)
A_WALKING = ACTIVITIES.index(Activity.WALKING.value)
A_NO_DATA = ACTIVITIES.index(Activity.NO_DATA.value)

DESK_HEIGHT_M = 0.74

ParamValue = float | bool


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One segment parameter.

    Attributes:
        default: the default value; ``None`` means the key is required.
        lo: smallest allowed value (numbers only).
        hi: largest allowed value (numbers only).
        is_bool: the value is a boolean flag (no ranges).
        doc: one line for the README and error messages.
    """

    default: float | bool | None
    lo: float = -np.inf
    hi: float = np.inf
    is_bool: bool = False
    doc: str = ""


@dataclass(frozen=True, slots=True)
class KindSpec:
    """A behaviour kind: its parameters, the posture it needs and the posture it leaves.

    Attributes:
        params: parameter table.
        needs: "seated", "standing" or "any".
        leaves: "seated", "standing" or "same".
        doc: one-line description.
    """

    params: Mapping[str, ParamSpec]
    needs: str
    leaves: str
    doc: str


def _seated_params(
    flexion: float,
    lateral: float,
    axial: float,
    neck: float,
    ramp_s: float,
    typing: bool,
    fidgets: float,
    reaches: float,
) -> dict[str, ParamSpec]:
    return {
        "duration_s": ParamSpec(None, 0.5, 86400.0, doc="segment length, s"),
        "flexion_deg": ParamSpec(flexion, -45.0, 60.0, doc="trunk flexion target (+ forward), deg"),
        "lateral_deg": ParamSpec(lateral, -30.0, 30.0, doc="trunk lateral lean target (+ right), deg"),
        "axial_deg": ParamSpec(axial, -45.0, 45.0, doc="trunk axial twist target (+ chest left), deg"),
        "neck_flexion_deg": ParamSpec(neck, -20.0, 60.0, doc="neck flexion target (forward head), deg"),
        "ramp_s": ParamSpec(ramp_s, 0.0, 7200.0, doc="time to reach the targets from the previous posture, s"),
        "typing": ParamSpec(typing, is_bool=True, doc="typing/mousing micro-motion"),
        "typing_level": ParamSpec(1.0, 0.0, 5.0, doc="scale of the typing micro-motion"),
        "fidgets_per_min": ParamSpec(fidgets, 0.0, 30.0, doc="mean rate of fidgets (shifts, stretches, twists)"),
        "reaches_per_hour": ParamSpec(reaches, 0.0, 600.0, doc="mean rate of reaches (large, brief excursions)"),
    }


_DUR = ParamSpec(None, 0.5, 86400.0, doc="segment length, s")

KINDS: Final[Mapping[str, KindSpec]] = {
    "upright": KindSpec(_seated_params(0.0, 0.0, 0.0, 0.0, 4.0, True, 0.3, 4.0), "seated", "same", "sitting upright"),
    "slouch": KindSpec(
        _seated_params(18.0, 0.0, 0.0, 8.0, 180.0, True, 0.15, 2.0),
        "seated",
        "same",
        "gradual slouch drift: trunk flexion ramps to the target over ramp_s",
    ),
    "forward_head": KindSpec(
        _seated_params(3.0, 0.0, 0.0, 25.0, 40.0, False, 0.1, 1.0),
        "seated",
        "same",
        "forward-head episode: neck flexes, trunk stays near upright",
    ),
    "lean_back": KindSpec(
        _seated_params(-20.0, 0.0, 0.0, 10.0, 4.0, False, 0.2, 1.0),
        "seated",
        "same",
        "reclining against the backrest (neck flexes a little to keep the eyes on the screen)",
    ),
    "side_lean": KindSpec(
        _seated_params(2.0, 12.0, 0.0, 0.0, 4.0, True, 0.2, 1.0),
        "seated",
        "same",
        "leaning on one armrest",
    ),
    "fidget": KindSpec(
        {
            "duration_s": ParamSpec(3.0, 0.8, 20.0, doc="fidget length, s"),
            "amplitude_deg": ParamSpec(6.0, 0.5, 30.0, doc="peak excursion, deg"),
        },
        "any",
        "same",
        "one short shift that returns to the previous posture",
    ),
    "reach": KindSpec(
        {
            "duration_s": ParamSpec(5.0, 1.5, 30.0, doc="reach length including the return, s"),
            "flexion_deg": ParamSpec(35.0, -30.0, 70.0, doc="peak extra trunk flexion, deg"),
            "lateral_deg": ParamSpec(8.0, -40.0, 40.0, doc="peak extra lateral lean, deg"),
            "axial_deg": ParamSpec(25.0, -60.0, 60.0, doc="peak extra axial twist, deg"),
        },
        "seated",
        "same",
        "one large, brief excursion (grabbing something from a drawer or the floor) that returns",
    ),
    "stand_up": KindSpec(
        {
            "duration_s": ParamSpec(2.5, 1.2, 8.0, doc="sit-to-stand length, s"),
            "lean_deg": ParamSpec(32.0, 5.0, 60.0, doc="peak forward trunk swing, deg"),
        },
        "seated",
        "standing",
        "sit-to-stand: forward trunk swing, then the hips rise",
    ),
    "stand": KindSpec(
        {
            "duration_s": _DUR,
            "weight_shifts_per_min": ParamSpec(2.0, 0.0, 30.0, doc="mean rate of weight shifts"),
            "flexion_deg": ParamSpec(0.0, -20.0, 45.0, doc="extra trunk flexion while standing, deg"),
            "neck_flexion_deg": ParamSpec(0.0, -20.0, 60.0, doc="neck flexion while standing, deg"),
        },
        "standing",
        "same",
        "standing still with postural sway and weight shifts",
    ),
    "walk": KindSpec(
        {
            "duration_s": _DUR,
            "cadence_hz": ParamSpec(1.8, 1.2, 2.5, doc="steps per second"),
            "speed_m_s": ParamSpec(1.2, 0.3, 2.0, doc="walking speed, m/s"),
            "lean_deg": ParamSpec(4.0, -5.0, 20.0, doc="forward trunk lean while walking, deg"),
            "bounce_m": ParamSpec(0.02, 0.0, 0.06, doc="vertical bounce amplitude per step, m"),
            "turn_deg": ParamSpec(180.0, -360.0, 360.0, doc="turn made at turn_at (e.g. at the coffee machine)"),
            "turn_at": ParamSpec(0.5, 0.0, 1.0, doc="where in the walk the turn happens (fraction)"),
            "end_turn_deg": ParamSpec(180.0, -360.0, 360.0, doc="turn at the end (turning to sit down)"),
        },
        "standing",
        "same",
        "walking with step bounce, trunk sway and turns",
    ),
    "sit_down": KindSpec(
        {
            "duration_s": ParamSpec(2.5, 1.2, 8.0, doc="stand-to-sit length, s"),
            "lean_deg": ParamSpec(25.0, 5.0, 60.0, doc="peak forward trunk swing, deg"),
        },
        "standing",
        "seated",
        "stand-to-sit: forward trunk swing while the hips lower",
    ),
    "tag_removed": KindSpec(
        {
            "duration_s": _DUR,
            "handling_s": ParamSpec(4.0, 1.0, 20.0, doc="time to take the tag off (and to put it back on), s"),
            "put_back": ParamSpec(True, is_bool=True, doc="put the tag back on at the end (else it stays on the desk)"),
        },
        "any",
        "same",
        "tag taken off and left flat on the desk (no motion), then put back on",
    ),
    "tag_pose": KindSpec(
        {
            "duration_s": _DUR,
            "up_x": ParamSpec(0.0, -1.0, 1.0, doc="tag x component of the direction that ends up pointing up"),
            "up_y": ParamSpec(0.0, -1.0, 1.0, doc="tag y component of the up direction"),
            "up_z": ParamSpec(1.0, -1.0, 1.0, doc="tag z component of the up direction (normalised with x, y)"),
            "yaw_deg": ParamSpec(0.0, -360.0, 360.0, doc="turn of the pose about the vertical, deg"),
            "tilt_deg": ParamSpec(1.0, 0.0, 10.0, doc="largest random tilt off the nominal pose (uneven desk), deg"),
            "turn_s": ParamSpec(3.0, 0.0, 20.0, doc="time to turn from the previous pose (or take the tag off), s"),
            "tremor_deg": ParamSpec(0.0, 0.0, 3.0, doc="RMS wobble of a hand holding the tag (0: untouched), deg"),
            "lift_m": ParamSpec(0.05, 0.0, 0.5, doc="how high the hand lifts the tag while turning it, m"),
        },
        "any",
        "same",
        "tag off the body, held or laid in one orientation (one face of an accelerometer calibration)",
    ),
    "out_of_range": KindSpec(
        {"duration_s": _DUR},
        "any",
        "same",
        "no data reaches the host (the wearer took the tag out of radio range)",
    ),
}


@dataclass(slots=True)
class Carry:
    """Baseline state handed from one segment to the next."""

    flexion: float = 0.0
    lateral: float = 0.0
    axial: float = 0.0
    neck: float = 0.0
    heading: float = 0.0
    hip: FloatArray = field(default_factory=lambda: np.zeros(3))
    standing: bool = False
    mis: FloatArray = field(default_factory=lambda: np.zeros(3))
    tag_on: bool = True
    off_q: FloatArray | None = None
    off_m: FloatArray | None = None


@dataclass(frozen=True, slots=True)
class Motion:
    """One transient motion inside a segment (for the truth's event list).

    Attributes:
        kind: "fidget", "reach", "weight_shift", "handling".
        start_s: start, seconds from the recording start.
        end_s: end, seconds from the recording start.
    """

    kind: str
    start_s: float
    end_s: float


@dataclass(slots=True)
class Canvas:
    """Everything the behaviours write: baseline pose, additive motion and per-sample labels.

    Attributes:
        rate_hz: sample rate.
        tau_s: (N,) sample times from the recording start.
        pose: baseline channels (plus hip, heading, tag-off state).
        add_flexion_deg, add_lateral_deg, add_axial_deg, add_neck_deg: (N,) additive angles.
        add_hip_m: (N, 3) additive hip displacement (gait bounce, shuffles).
        moving: (N,) samples whose posture is not judged because the wearer is moving.
        away: (N,) samples where the tag is not on the wearer or not heard.
        present: (N,) samples that reach the host.
        activity: (N,) activity codes (index into :data:`ACTIVITIES`).
        motions: transient motions, in time order per segment.
    """

    rate_hz: float
    tau_s: FloatArray
    pose: Pose
    add_flexion_deg: FloatArray
    add_lateral_deg: FloatArray
    add_axial_deg: FloatArray
    add_neck_deg: FloatArray
    add_hip_m: FloatArray
    moving: npt.NDArray[np.bool_]
    away: npt.NDArray[np.bool_]
    present: npt.NDArray[np.bool_]
    activity: npt.NDArray[np.int8]
    motions: list[Motion]

    @classmethod
    def empty(cls, n: int, rate_hz: float) -> Canvas:
        """A canvas of n samples at ``rate_hz``."""
        z = np.zeros(n, dtype=np.float64)
        return cls(
            rate_hz=rate_hz,
            tau_s=np.arange(n, dtype=np.float64) / rate_hz,
            pose=Pose.zeros(n),
            add_flexion_deg=z.copy(),
            add_lateral_deg=z.copy(),
            add_axial_deg=z.copy(),
            add_neck_deg=z.copy(),
            add_hip_m=np.zeros((n, 3)),
            moving=np.zeros(n, dtype=np.bool_),
            away=np.zeros(n, dtype=np.bool_),
            present=np.ones(n, dtype=np.bool_),
            activity=np.full(n, A_STILL, dtype=np.int8),
            motions=[],
        )

    def release_motion(self) -> None:
        """Drop the arrays only the kinematics needs (frees memory before the truth is assembled).

        Kept: the held angles, ``worn``, ``mis_deg`` and the labels.
        """
        empty = np.zeros(0)
        self.add_flexion_deg = self.add_lateral_deg = self.add_axial_deg = self.add_neck_deg = empty
        self.add_hip_m = np.zeros((0, 3))
        p = self.pose
        p.axial_deg = p.heading_deg = p.breath = p.lift_m = empty
        p.hip_m = p.desk_m = np.zeros((0, 3))
        p.desk_q = np.zeros((0, 4))

    def index_range(self, start_s: float, end_s: float) -> slice:
        """Slice of the samples with ``start_s <= tau < end_s``."""
        i0 = int(np.searchsorted(self.tau_s, start_s, side="left"))
        i1 = int(np.searchsorted(self.tau_s, end_s, side="left"))
        return slice(i0, i1)


@dataclass(frozen=True, slots=True)
class SegmentContext:
    """What a generator needs: where it is, its parameters, the wearer and its own random stream."""

    canvas: Canvas
    start_s: float
    end_s: float
    params: Mapping[str, ParamValue]
    wearer: WearerParams
    rng: np.random.Generator
    remount_jitter_deg: float

    @property
    def sl(self) -> slice:
        """This segment's sample slice."""
        return self.canvas.index_range(self.start_s, self.end_s)

    @property
    def duration_s(self) -> float:
        """Segment length, s."""
        return self.end_s - self.start_s

    def num(self, key: str) -> float:
        """A numeric parameter."""
        return float(self.params[key])

    def flag(self, key: str) -> bool:
        """A boolean parameter."""
        return bool(self.params[key])


def _hump(u: FloatArray) -> FloatArray:
    """sin^4 bump on u in [0, 1] (0 outside); C2 at both ends, peak 1 at u = 0.5."""
    s = np.where((u > 0.0) & (u < 1.0), np.sin(np.pi * np.clip(u, 0.0, 1.0)), 0.0)
    s2 = s * s
    out: FloatArray = s2 * s2
    return out


def _ramp_channel(tau: FloatArray, c0: float, target: float, ramp_s: float) -> FloatArray:
    return c0 + (target - c0) * ramp(tau, 0.0, ramp_s)


def _fill_common(ctx: SegmentContext, carry: Carry) -> tuple[slice, FloatArray]:
    """Hold the carried baseline over the segment and return (slice, segment-relative times)."""
    c = ctx.canvas
    sl = ctx.sl
    tau = c.tau_s[sl] - ctx.start_s
    p = c.pose
    p.flexion_deg[sl] = carry.flexion
    p.lateral_deg[sl] = carry.lateral
    p.axial_deg[sl] = carry.axial
    p.neck_deg[sl] = carry.neck
    p.heading_deg[sl] = carry.heading
    p.hip_m[sl] = carry.hip
    p.mis_deg[sl] = carry.mis
    return sl, tau


def _add_pulse(
    ctx: SegmentContext,
    t0: float,
    rise: float,
    hold: float,
    fall: float,
    amp: tuple[float, float, float, float],
    hip_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
    kind: str = "fidget",
    label: bool = True,
) -> None:
    """Add one smooth out-and-back excursion starting ``t0`` seconds into the segment."""
    c = ctx.canvas
    start = ctx.start_s + t0
    end = start + rise + hold + fall
    sl = c.index_range(start, end)
    if sl.stop <= sl.start:
        return
    shape = plateau(c.tau_s[sl], start, rise, hold, fall)
    c.add_flexion_deg[sl] += amp[0] * shape
    c.add_lateral_deg[sl] += amp[1] * shape
    c.add_axial_deg[sl] += amp[2] * shape
    c.add_neck_deg[sl] += amp[3] * shape
    if any(hip_m):
        h = np.radians(c.pose.heading_deg[sl])
        fwd = np.stack((np.cos(h), np.sin(h), np.zeros_like(h)), axis=1)
        left = np.stack((-np.sin(h), np.cos(h), np.zeros_like(h)), axis=1)
        c.add_hip_m[sl] += shape[:, None] * (hip_m[0] * fwd + hip_m[1] * left)
        c.add_hip_m[sl, 2] += shape * hip_m[2]
    if label:
        c.moving[sl] = True
        c.activity[sl] = A_FIDGET
    c.motions.append(Motion(kind, start, end))


def _random_fidget(ctx: SegmentContext, t0: float, dur: float, scale: float) -> None:
    """One fidget of a random type lasting ``dur`` seconds."""
    rng = ctx.rng
    sign = 1.0 if rng.random() < 0.5 else -1.0
    kind = int(rng.integers(0, 4))
    rise = dur * rng.uniform(0.25, 0.4)
    fall = dur * rng.uniform(0.25, 0.4)
    hold = max(dur - rise - fall, 0.0)
    a = scale
    if kind == 0:  # shift in the seat: lateral + a little twist, hips slide
        amp = (rng.normal(0.0, 0.3 * a), sign * a, rng.normal(0.0, 0.5 * a), 0.0)
        hip = (rng.normal(0.0, 0.02), sign * rng.uniform(0.01, 0.04), 0.0)
    elif kind == 1:  # stretch: extension, shoulders back
        amp = (-a * rng.uniform(1.0, 2.0), rng.normal(0.0, 0.3 * a), 0.0, -a * rng.uniform(0.5, 1.5))
        hip = (0.0, 0.0, 0.0)
    elif kind == 2:  # look around / turn to a colleague
        amp = (rng.normal(0.0, 0.3 * a), rng.normal(0.0, 0.3 * a), sign * a * rng.uniform(1.5, 3.0), 0.0)
        hip = (0.0, 0.0, 0.0)
    else:  # lean in to the screen, scratch, adjust
        amp = (a * rng.uniform(0.8, 1.5), rng.normal(0.0, 0.3 * a), rng.normal(0.0, 0.5 * a), a * rng.uniform(0.5, 1.5))
        hip = (rng.normal(0.0, 0.015), 0.0, 0.0)
    _add_pulse(ctx, t0, rise, hold, fall, amp, hip, kind="fidget")


def _random_reach(ctx: SegmentContext, t0: float, dur: float, flex: float, lat: float, axial: float) -> None:
    """One reach: quick out, short hold, back."""
    rise = dur * 0.3
    fall = dur * 0.35
    hold = dur - rise - fall
    _add_pulse(ctx, t0, rise, hold, fall, (flex, lat, axial, 0.4 * flex), (0.05, 0.0, 0.0), kind="reach")


def _poisson_times(
    ctx: SegmentContext, rate_per_s: float, dur_lo: float, dur_hi: float, margin: float
) -> list[tuple[float, float]]:
    """Non-overlapping (start, duration) pairs of a Poisson process inside the segment, away from its edges."""
    usable = ctx.duration_s - 2.0 * margin
    if rate_per_s <= 0.0 or usable <= dur_hi:
        return []
    rng = ctx.rng
    n = int(rng.poisson(rate_per_s * usable))
    starts = np.sort(rng.uniform(margin, margin + usable - dur_hi, size=n))
    durs = rng.uniform(dur_lo, dur_hi, size=n)
    out: list[tuple[float, float]] = []
    busy_until = -np.inf
    for s, d in zip(starts.tolist(), durs.tolist(), strict=True):
        if s >= busy_until + 1.0:
            out.append((s, d))
            busy_until = s + d
    return out


def _typing(ctx: SegmentContext, sl: slice, level: float) -> None:
    """Bursty, small 0.5-4 Hz motion of the upper back from typing and mousing."""
    c = ctx.canvas
    n = sl.stop - sl.start
    if n < 8 or level <= 0.0:
        return
    rng = ctx.rng
    noise = band_noise(n, c.rate_hz, 0.5, 4.0, rng, channels=4)
    # Bursts: on for 4-30 s, off for 1-10 s.
    tau = c.tau_s[sl] - ctx.start_s
    env = np.zeros(n)
    t = float(rng.uniform(0.0, 5.0))
    while t < ctx.duration_s:
        on = float(rng.uniform(4.0, 30.0))
        env += plateau(tau, t, 0.5, max(on - 1.0, 0.0), 0.5)
        t += on + float(rng.uniform(1.0, 10.0))
    env = np.minimum(env, 1.0) * envelope(n, c.rate_hz, 1.0)
    # Sizes chosen so the upper back sees ~0.005-0.01 g RMS of extra acceleration while typing.
    c.add_flexion_deg[sl] += level * 0.02 * env * noise[:, 0]
    c.add_lateral_deg[sl] += level * 0.03 * env * noise[:, 1]
    c.add_axial_deg[sl] += level * 0.05 * env * noise[:, 2]
    c.add_hip_m[sl, 1] += level * 0.00015 * env * noise[:, 3]


def gen_seated(ctx: SegmentContext, carry: Carry) -> None:
    """upright / slouch / forward_head / lean_back / side_lean: ramp to targets, add typing, fidgets, reaches."""
    c = ctx.canvas
    sl, tau = _fill_common(ctx, carry)
    ramp_s = min(ctx.num("ramp_s"), ctx.duration_s)
    targets = {
        "flexion": ctx.num("flexion_deg"),
        "lateral": ctx.num("lateral_deg"),
        "axial": ctx.num("axial_deg"),
        "neck": ctx.num("neck_flexion_deg"),
    }
    p = c.pose
    p.flexion_deg[sl] = _ramp_channel(tau, carry.flexion, targets["flexion"], ramp_s)
    p.lateral_deg[sl] = _ramp_channel(tau, carry.lateral, targets["lateral"], ramp_s)
    p.axial_deg[sl] = _ramp_channel(tau, carry.axial, targets["axial"], ramp_s)
    p.neck_deg[sl] = _ramp_channel(tau, carry.neck, targets["neck"], ramp_s)
    # Settling into a new posture (other than a slow drift) is a visible movement.
    big_change = max(abs(targets["flexion"] - carry.flexion), abs(targets["lateral"] - carry.lateral)) > 5.0
    if big_change and ramp_s <= 10.0:
        ms = c.index_range(ctx.start_s, ctx.start_s + ramp_s)
        c.moving[ms] = True
        c.activity[ms] = A_FIDGET
        c.motions.append(Motion("posture_change", ctx.start_s, ctx.start_s + ramp_s))
    if ctx.flag("typing"):
        _typing(ctx, sl, ctx.num("typing_level"))
    fid = _poisson_times(
        ctx, ctx.num("fidgets_per_min") / 60.0, 1.5, 5.0, margin=max(ramp_s if ramp_s <= 10 else 2.0, 2.0)
    )
    for t0, d in fid:
        _random_fidget(ctx, t0, d, float(ctx.rng.uniform(3.0, 8.0)))
    reaches = _poisson_times(ctx, ctx.num("reaches_per_hour") / 3600.0, 3.0, 7.0, margin=3.0)
    for t0, d in reaches:
        sign = 1.0 if ctx.rng.random() < 0.5 else -1.0
        flex = float(ctx.rng.uniform(20.0, 45.0))
        _random_reach(
            ctx, t0, d, flex, sign * float(ctx.rng.uniform(3.0, 12.0)), sign * float(ctx.rng.uniform(10.0, 30.0))
        )
    carry.flexion, carry.lateral, carry.axial, carry.neck = (
        targets["flexion"],
        targets["lateral"],
        targets["axial"],
        targets["neck"],
    )


def gen_fidget(ctx: SegmentContext, carry: Carry) -> None:
    """One explicit fidget over the whole segment."""
    _fill_common(ctx, carry)
    if carry.standing:
        ctx.canvas.activity[ctx.sl] = A_STANDING
    _random_fidget(ctx, 0.0, ctx.duration_s, ctx.num("amplitude_deg"))


def gen_reach(ctx: SegmentContext, carry: Carry) -> None:
    """One explicit reach over the whole segment."""
    _fill_common(ctx, carry)
    _random_reach(ctx, 0.0, ctx.duration_s, ctx.num("flexion_deg"), ctx.num("lateral_deg"), ctx.num("axial_deg"))


def _horizontal(heading_deg: FloatArray) -> tuple[FloatArray, FloatArray]:
    h = np.radians(heading_deg)
    fwd = np.stack((np.cos(h), np.sin(h), np.zeros_like(h)), axis=1)
    left = np.stack((-np.sin(h), np.cos(h), np.zeros_like(h)), axis=1)
    return fwd, left


def gen_stand_up(ctx: SegmentContext, carry: Carry) -> None:
    """Sit-to-stand: the trunk swings forward, the hips come forward and rise, the trunk straightens."""
    c = ctx.canvas
    sl, tau = _fill_common(ctx, carry)
    d = ctx.duration_s
    w = ctx.wearer
    p = c.pose
    target = w.standing_flexion_deg
    p.flexion_deg[sl] = _ramp_channel(tau, carry.flexion, target, d) + ctx.num("lean_deg") * _hump(tau / (0.8 * d))
    p.lateral_deg[sl] = _ramp_channel(tau, carry.lateral, 0.0, d)
    p.axial_deg[sl] = _ramp_channel(tau, carry.axial, 0.0, d)
    p.neck_deg[sl] = _ramp_channel(tau, carry.neck, 0.0, d)
    fwd, _ = _horizontal(p.heading_deg[sl])
    rise = w.standing_hip_height_m - w.seated_hip_height_m
    p.hip_m[sl] += 0.20 * ramp(tau, 0.15 * d, 0.45 * d)[:, None] * fwd
    p.hip_m[sl, 2] += rise * ramp(tau, 0.35 * d, 0.5 * d)
    c.moving[sl] = True
    c.activity[sl] = A_STS
    carry.flexion, carry.lateral, carry.axial, carry.neck = target, 0.0, 0.0, 0.0
    carry.hip = carry.hip + 0.20 * fwd[-1] + np.array([0.0, 0.0, rise]) if fwd.size else carry.hip
    carry.standing = True


def gen_sit_down(ctx: SegmentContext, carry: Carry) -> None:
    """Stand-to-sit: the trunk swings forward while the hips move back and down onto the seat."""
    c = ctx.canvas
    sl, tau = _fill_common(ctx, carry)
    d = ctx.duration_s
    w = ctx.wearer
    p = c.pose
    p.flexion_deg[sl] = _ramp_channel(tau, carry.flexion, 0.0, d) + ctx.num("lean_deg") * _hump(
        (tau - 0.1 * d) / (0.8 * d)
    )
    p.lateral_deg[sl] = _ramp_channel(tau, carry.lateral, 0.0, d)
    p.axial_deg[sl] = _ramp_channel(tau, carry.axial, 0.0, d)
    p.neck_deg[sl] = _ramp_channel(tau, carry.neck, 0.0, d)
    fwd, _ = _horizontal(p.heading_deg[sl])
    drop = w.standing_hip_height_m - w.seated_hip_height_m
    p.hip_m[sl] -= 0.15 * ramp(tau, 0.2 * d, 0.6 * d)[:, None] * fwd
    p.hip_m[sl, 2] -= drop * ramp(tau, 0.3 * d, 0.55 * d)
    c.moving[sl] = True
    c.activity[sl] = A_STS
    carry.flexion, carry.lateral, carry.axial, carry.neck = 0.0, 0.0, 0.0, 0.0
    if fwd.size:
        carry.hip = carry.hip - 0.15 * fwd[-1] - np.array([0.0, 0.0, drop])
    carry.standing = False


def gen_stand(ctx: SegmentContext, carry: Carry) -> None:
    """Standing: extra flexion/neck targets, postural sway (global) and weight shifts."""
    c = ctx.canvas
    sl, tau = _fill_common(ctx, carry)
    p = c.pose
    d = ctx.duration_s
    target = ctx.wearer.standing_flexion_deg + ctx.num("flexion_deg")
    p.flexion_deg[sl] = _ramp_channel(tau, carry.flexion, target, min(3.0, d))
    p.neck_deg[sl] = _ramp_channel(tau, carry.neck, ctx.num("neck_flexion_deg"), min(3.0, d))
    c.activity[sl] = A_STANDING
    for t0, dur in _poisson_times(ctx, ctx.num("weight_shifts_per_min") / 60.0, 1.5, 4.0, margin=1.0):
        sign = 1.0 if ctx.rng.random() < 0.5 else -1.0
        amp = (0.0, sign * float(ctx.rng.uniform(1.5, 4.0)), float(ctx.rng.normal(0.0, 2.0)), 0.0)
        _add_pulse(
            ctx, t0, 0.4 * dur, 0.2 * dur, 0.4 * dur, amp, (0.0, sign * 0.03, 0.0), kind="weight_shift", label=False
        )
    carry.flexion, carry.neck = target, ctx.num("neck_flexion_deg")


def gen_walk(ctx: SegmentContext, carry: Carry) -> None:
    """Walking: forward progression with turns, vertical bounce at the step rate, sway at the stride rate."""
    c = ctx.canvas
    sl, tau = _fill_common(ctx, carry)
    n = sl.stop - sl.start
    if n == 0:
        return
    rng = ctx.rng
    rate = c.rate_hz
    d = ctx.duration_s
    p = c.pose
    env = envelope(n, rate, 1.2)
    # Heading: a turn at turn_at (2 s) and a turn at the end (to sit down), both while still walking slowly.
    turn_s = min(2.0, 0.25 * d)
    t_turn = np.clip(ctx.num("turn_at") * d - 0.5 * turn_s, 0.0, d - turn_s)
    heading = carry.heading + ctx.num("turn_deg") * ramp(tau, t_turn, turn_s)
    heading += ctx.num("end_turn_deg") * ramp(tau, d - turn_s, turn_s)
    p.heading_deg[sl] = heading
    # Step phase with a slowly wandering cadence (about 2 % RMS).
    cadence = ctx.num("cadence_hz") * (1.0 + 0.02 * band_noise(n, rate, 0.0, 0.2, rng)[:, 0])
    phase = 2.0 * np.pi * np.cumsum(cadence) / rate + rng.uniform(0.0, 2.0 * np.pi)
    fwd, left = _horizontal(heading)
    speed = ctx.num("speed_m_s") * env
    p.hip_m[sl] = carry.hip + np.cumsum(speed[:, None] * fwd, axis=0) / rate
    # Gait oscillations (hip/trunk), scaled by the envelope.
    bounce = ctx.num("bounce_m")
    z = -bounce * np.cos(phase) - 0.15 * bounce * np.cos(2.0 * phase + 0.6)
    side = 0.02 * np.sin(0.5 * phase)
    fore = 0.006 * np.sin(phase + 0.3)
    c.add_hip_m[sl, 2] += env * z
    c.add_hip_m[sl] += (env * side)[:, None] * left + (env * fore)[:, None] * fwd
    c.add_flexion_deg[sl] += env * 1.5 * np.sin(phase + 1.0)
    c.add_lateral_deg[sl] += env * 2.5 * np.sin(0.5 * phase + 0.4)
    c.add_axial_deg[sl] += env * 4.0 * np.sin(0.5 * phase - 0.5)
    lean = ctx.num("lean_deg")
    p.flexion_deg[sl] = carry.flexion + lean * plateau(
        tau, 0.0, min(1.5, 0.3 * d), max(d - min(3.0, 0.6 * d), 0.0), min(1.5, 0.3 * d)
    )
    c.moving[sl] = True
    c.activity[sl] = A_WALKING
    carry.heading = float(heading[-1])
    carry.hip = p.hip_m[sl.stop - 1].copy()


def gen_tag_removed(ctx: SegmentContext, carry: Carry) -> None:
    """Tag taken off, laid flat on the desk (outer face up, random yaw), optionally put back on."""
    c = ctx.canvas
    sl, tau = _fill_common(ctx, carry)
    n = sl.stop - sl.start
    if n == 0:
        return
    d = ctx.duration_s
    h = min(ctx.num("handling_s"), 0.45 * d)
    put_back = ctx.flag("put_back")
    p = c.pose
    worn = 1.0 - ramp(tau, 0.0, h)
    lift = 0.12 * _hump(tau / h)
    if put_back:
        worn += ramp(tau, d - h, h)
        lift += 0.12 * _hump((tau - (d - h)) / h)
    p.worn[sl] = worn
    p.lift_m[sl] = lift
    yaw = float(ctx.rng.uniform(0.0, 360.0))
    p.desk_q[sl] = quat.about_axis(2, yaw * DEG)
    fwd, _ = _horizontal(np.array([carry.heading]))
    spot = carry.hip + 0.5 * fwd[0] + np.array([0.0, 0.0, 0.0])
    spot[2] = DESK_HEIGHT_M
    p.desk_m[sl] = spot
    c.away[sl] = True
    handling = (tau < h) | (put_back & (tau >= d - h))
    c.activity[sl] = np.where(handling, A_FIDGET, A_STILL).astype(np.int8)
    c.motions.append(Motion("handling", ctx.start_s, ctx.start_s + h))
    if put_back:
        c.motions.append(Motion("handling", ctx.end_s - h, ctx.end_s))
        new_mis = carry.mis + ctx.rng.normal(0.0, ctx.remount_jitter_deg, size=3)
        p.mis_deg[sl][tau >= 0.5 * d] = new_mis
        carry.mis = new_mis
    else:
        carry.tag_on = False


def pose_quat(up: FloatArray, yaw_deg: float) -> FloatArray:
    """(4,) tag -> earth quaternion that turns the tag direction ``up`` (3,) to earth +z, then yaws by
    ``yaw_deg`` about the vertical.

    The shortest rotation is used (for ``up`` = -z: half a turn about the tag's x axis), so ``up`` = +z with no
    yaw is the tag lying flat, outer face (+z) up, as in ``tag_removed``.
    """
    u = np.asarray(up, dtype=np.float64)
    u = u / np.linalg.norm(u)
    axis = np.array([u[1], -u[0], 0.0])  # u x z
    s = float(np.linalg.norm(axis))
    c = float(u[2])
    if s < 1e-12:
        q = np.array([1.0, 0.0, 0.0, 0.0]) if c > 0.0 else np.array([0.0, 1.0, 0.0, 0.0])
    else:
        half = 0.5 * float(np.arctan2(s, c))
        q = np.concatenate(([np.cos(half)], np.sin(half) * axis / s))
    out: FloatArray = quat.mul(quat.about_axis(2, yaw_deg * DEG), q)
    return out


def gen_tag_pose(ctx: SegmentContext, carry: Carry) -> None:
    """The tag held or laid off the body in one orientation (``up_*``, ``yaw_deg``), tilted at random by up to
    ``tilt_deg`` (an uneven desk), with optional hand wobble.

    The first ``turn_s`` seconds turn the tag smoothly (quintic slerp, lifted by ``lift_m``) from the previous
    ``tag_pose``; a ``tag_pose`` that opens the timeline starts in its pose (the tag is in the hand from the first
    sample); one that follows worn behaviour takes the tag off the back during ``turn_s``. The truth labels the
    whole segment ``away``, activity ``fidget`` while turning and ``still`` afterwards.
    """
    c = ctx.canvas
    sl, tau = _fill_common(ctx, carry)
    rng = ctx.rng
    d = ctx.duration_s
    up = np.array([ctx.num("up_x"), ctx.num("up_y"), ctx.num("up_z")])
    target = pose_quat(up, ctx.num("yaw_deg"))
    # Uneven desk: a tilt about a random horizontal axis, uniform over the disc of radius tilt_deg.
    tilt = ctx.num("tilt_deg") * float(np.sqrt(rng.uniform()))
    azimuth = float(rng.uniform(0.0, 2.0 * np.pi))
    half = 0.5 * tilt * DEG
    q_tilt = np.array([np.cos(half), np.sin(half) * np.cos(azimuth), np.sin(half) * np.sin(azimuth), 0.0])
    target = quat.normalize(quat.mul(q_tilt, target))
    previous = carry.off_q
    first = previous is None and ctx.start_s <= 0.0
    turn = 0.0 if first else min(ctx.num("turn_s"), d)
    if carry.off_m is not None:
        spot = carry.off_m
    else:
        fwd, _ = _horizontal(np.array([carry.heading]))
        spot = carry.hip + 0.5 * fwd[0]
        spot[2] = DESK_HEIGHT_M
    carry.off_q, carry.off_m, carry.tag_on = target, spot, False
    n = sl.stop - sl.start
    if n == 0:
        return
    p = c.pose
    s = ramp(tau, 0.0, turn)
    if previous is not None:
        q = quat.slerp(previous, target, s)
        p.worn[sl] = 0.0
    else:
        q = np.broadcast_to(target, (n, 4)).copy()
        p.worn[sl] = 0.0 if first else 1.0 - s
    tremor = ctx.num("tremor_deg")
    if tremor > 0.0:
        # Slow hand wander (0.2-2 Hz) plus physiological tremor (8-12 Hz), about the tag's own axes, faded in and
        # out so that consecutive poses join smoothly.
        wobble = band_noise(n, c.rate_hz, 0.2, 2.0, rng, channels=3)
        wobble += 0.3 * band_noise(n, c.rate_hz, 8.0, 12.0, rng, channels=3)
        wobble *= (tremor * DEG * envelope(n, c.rate_hz, 0.5))[:, None]
        q_w = quat.mul(
            quat.mul(quat.about_axis(0, wobble[:, 0]), quat.about_axis(1, wobble[:, 1])),
            quat.about_axis(2, wobble[:, 2]),
        )
        q = quat.mul(q, q_w)
    p.desk_q[sl] = q
    p.desk_m[sl] = spot
    if turn > 0.0:
        p.lift_m[sl] = ctx.num("lift_m") * _hump(tau / turn)
        c.motions.append(Motion("handling", ctx.start_s, ctx.start_s + turn))
    c.away[sl] = True
    c.activity[sl] = np.where(tau < turn, A_FIDGET, A_STILL).astype(np.int8)


def gen_out_of_range(ctx: SegmentContext, carry: Carry) -> None:
    """No data: the body holds its posture (nobody sees it), samples are marked not present."""
    c = ctx.canvas
    sl, _ = _fill_common(ctx, carry)
    c.present[sl] = False
    c.away[sl] = True
    c.activity[sl] = A_NO_DATA


GENERATORS: Final[Mapping[str, Callable[[SegmentContext, Carry], None]]] = {
    "upright": gen_seated,
    "slouch": gen_seated,
    "forward_head": gen_seated,
    "lean_back": gen_seated,
    "side_lean": gen_seated,
    "fidget": gen_fidget,
    "reach": gen_reach,
    "stand_up": gen_stand_up,
    "stand": gen_stand,
    "walk": gen_walk,
    "sit_down": gen_sit_down,
    "tag_removed": gen_tag_removed,
    "tag_pose": gen_tag_pose,
    "out_of_range": gen_out_of_range,
}
