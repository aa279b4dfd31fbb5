"""Calibration: the wearer's upright reference, and posture angles relative to it.

Everything here is pure (stdlib, numpy, :mod:`posturebuddy.model`, :mod:`posturebuddy.motion.orientation`) and
runs on sample time.

The reference
=============

An :class:`UprightReference` holds two unit vectors in the **tag frame**:

``up_tag`` (``u0``)
    the direction of "up" (the accelerometer's rest reading, see :mod:`posturebuddy.motion.orientation`) while the
    wearer sits upright.
``forward_tag`` (``f``)
    the wearer's forward direction, perpendicular to ``u0``. From it: ``back = -f`` and
    ``right = f x u0`` (body axes forward ``x``, left ``y``, up ``z`` are right-handed, so
    ``f x u0 = x x z = -y`` = the wearer's right).

Where the forward direction comes from (``forward_method``):

``lean``
    the wearer leans forward a little after the upright capture (:class:`LeanCapture`). Leaning forward rotates
    the tag forward, so *up, seen from the tag, tips towards the wearer's back*: ``u1 = cos(a) u0 + sin(a) back``.
    Hence ``back = normalise(u1 - (u1 . u0) u0)`` and ``f = -back``. The lean must be at least ``min_lean_deg``
    (default 5 deg, about ten times the still-time noise of the up vector) and the path of the up vector from
    ``u0`` to ``u1`` must stay close to one plane (a plain forward bend, not a twist-and-side-bend).
``mounting``
    the tag family's documented forward axis (``TagFamily.forward_axis``), made perpendicular to ``u0``:
    ``f = normalise(a - (a . u0) u0)``. Refused if ``a`` is within 30 deg of ``u0`` (the tag is not worn as
    documented).
``data``
    estimated from a recording (:func:`auto_upright` without a forward axis): the axis along which the large
    excursions of movement happen (bending to stand up, reaching), signed so that most of that excursion lies
    forward. See :func:`auto_upright` for its failure modes.

Angles (derivation of the signs)
================================

For a current up vector ``u`` (unit, tag frame):

* **flexion** ``= atan2(u . back, u . u0)``. Flexing forward by ``a`` tips the tag's top forward; up, seen from
  the tag, tips back by the same angle: ``u = cos(a) u0 + sin(a) back``, so ``atan2(u . back, u . u0) = a > 0``.
  Leaning back gives ``u . back < 0``: negative flexion.
* **lateral** ``= atan2(-(u . right), u . u0)``. Leaning to the right by ``b`` tips the tag's top to the right;
  up, seen from the tag, tips to the wearer's left: ``u = cos(b) u0 - sin(b) right``, so the angle is ``+b``.
* **total** ``= angle(u, u0)`` (``atan2(|u x u0|, u . u0)``, accurate near 0).

Flexion and lateral are each measured in their own plane (sagittal: ``u0, back``; frontal: ``u0, right``), the
convention of :class:`~posturebuddy.model.PostureAngles` and of the wearer simulator's ground truth.

Captures, automatic references and slips
========================================

* :class:`UprightCapture` averages the up vector over a few seconds of sitting still and refuses (restarts,
  with a reason a UI can show) while the wearer moves.
* :class:`LeanCapture` derives the forward direction from a small forward lean.
* :func:`auto_upright` estimates the reference from a whole recording (robust mode of still-period up vectors);
  :func:`span_upright` from a span the user names (``analyze --calibrate START:END``).
* :class:`SlipDetector` notices that the tag was taken off or shifted and now sits differently on the back,
  and suggests recalibrating.
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from functools import reduce
from itertools import compress

import numpy as np
import numpy.typing as npt

from posturebuddy.model import PostureAngles, Vec3
from posturebuddy.motion.orientation import TiltEstimate, TiltSeries

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
VecLike = Sequence[float] | FloatArray
"""A 3-vector: a tuple/list of floats or a numpy array of shape (3,)."""

_PERP_TOLERANCE = 1e-6
"""Largest ``|forward . up|`` and unit-norm error an :class:`UprightReference` accepts."""
_MIN_FORWARD_PROJECTION = math.sin(math.radians(30.0))
"""A forward axis within 30 deg of up cannot give a forward direction: ``|a - (a.u)u| = sin(angle)``."""


class CalibrationError(ValueError):
    """A reference cannot be formed (not enough still data, a lean too small, a forward axis along up...).

    The message says what is wrong in words a user can act on.
    """


class CalibrationMethod(enum.StrEnum):
    """Where the upright ``up_tag`` of a reference came from."""

    CAPTURE = "capture"
    """A live "sit upright" capture (:class:`UprightCapture`)."""
    AUTO = "auto"
    """Estimated from a whole recording (:func:`auto_upright`)."""
    SPAN = "span"
    """Averaged over a span the user named (:func:`span_upright`)."""


class ForwardMethod(enum.StrEnum):
    """Where the forward direction of a reference came from."""

    LEAN = "lean"
    """A "lean forward a little" capture (:class:`LeanCapture`)."""
    MOUNTING = "mounting"
    """The tag family's documented forward axis, made perpendicular to up."""
    DATA = "data"
    """Estimated from the movement in a recording (:func:`auto_upright` without a forward axis)."""


# ---------------------------------------------------------------------------------------------
# Small vector helpers (plain floats for the streaming path)


def _dot(a: VecLike, b: VecLike) -> float:
    return float(a[0] * b[0] + a[1] * b[1] + a[2] * b[2])


def _cross(a: VecLike, b: VecLike) -> Vec3:
    return (
        float(a[1] * b[2] - a[2] * b[1]),
        float(a[2] * b[0] - a[0] * b[2]),
        float(a[0] * b[1] - a[1] * b[0]),
    )


def _norm(a: VecLike) -> float:
    return math.sqrt(float(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]))


def _unit(a: VecLike) -> Vec3:
    n = _norm(a)
    if not (n > 0.0 and math.isfinite(n)):
        raise CalibrationError(f"vector {tuple(a)!r} has no direction")
    return (float(a[0]) / n, float(a[1]) / n, float(a[2]) / n)


def _angle_deg(a: VecLike, b: VecLike) -> float:
    return math.degrees(math.atan2(_norm(_cross(a, b)), _dot(a, b)))


def _reject(v: VecLike, u: VecLike) -> Vec3:
    """The part of ``v`` perpendicular to unit ``u``."""
    d = _dot(v, u)
    return (float(v[0] - d * u[0]), float(v[1] - d * u[1]), float(v[2] - d * u[2]))


# ---------------------------------------------------------------------------------------------
# The reference and the angles


@dataclass(frozen=True, slots=True)
class UprightReference:
    """The wearer's calibrated upright posture, in the tag frame.

    Attributes:
        up_tag: unit up vector while sitting upright.
        forward_tag: unit vector, perpendicular to ``up_tag``, pointing in the wearer's forward direction.
        t_s: sample time the reference was formed (end of the capture or span), seconds.
        method: where ``up_tag`` came from.
        forward_method: where ``forward_tag`` came from.
        spread_deg: RMS angle of the averaged up vectors around ``up_tag``, degrees (how still the wearer was).
        duration_s: how much (still) time the reference was averaged over, seconds.
        lean_deg: size of the forward lean used for ``forward_tag``, degrees (``lean`` only, else ``None``).
        support: for ``auto``: the fraction of still time that lies within the mode's radius (0..1); 1 otherwise.
    """

    up_tag: Vec3
    forward_tag: Vec3
    t_s: float
    method: CalibrationMethod
    forward_method: ForwardMethod
    spread_deg: float = 0.0
    duration_s: float = 0.0
    lean_deg: float | None = None
    support: float = 1.0

    def __post_init__(self) -> None:
        for name in ("up_tag", "forward_tag"):
            v = getattr(self, name)
            if len(v) != 3 or not all(math.isfinite(x) for x in v) or abs(_norm(v) - 1.0) > _PERP_TOLERANCE:
                raise ValueError(f"UprightReference.{name} = {v!r} is not allowed: must be a finite unit 3-vector")
        if abs(_dot(self.up_tag, self.forward_tag)) > _PERP_TOLERANCE:
            raise ValueError(
                f"UprightReference.forward_tag = {self.forward_tag!r} is not allowed: must be perpendicular to up_tag"
            )

    @staticmethod
    def create(
        up_tag: VecLike,
        forward_hint: VecLike,
        *,
        t_s: float,
        method: CalibrationMethod,
        forward_method: ForwardMethod,
        spread_deg: float = 0.0,
        duration_s: float = 0.0,
        lean_deg: float | None = None,
        support: float = 1.0,
    ) -> UprightReference:
        """Build a reference from any up vector and a forward hint (made perpendicular to up here).

        Raises:
            CalibrationError: the forward hint lies within 30 deg of up (no usable forward direction).
        """
        u = _unit(up_tag)
        return UprightReference(
            up_tag=u,
            forward_tag=forward_from_mounting(u, forward_hint),
            t_s=float(t_s),
            method=method,
            forward_method=forward_method,
            spread_deg=float(spread_deg),
            duration_s=float(duration_s),
            lean_deg=lean_deg,
            support=float(support),
        )

    @property
    def back_tag(self) -> Vec3:
        """The wearer's backward direction in the tag frame (``-forward_tag``)."""
        f = self.forward_tag
        return (-f[0], -f[1], -f[2])

    @property
    def right_tag(self) -> Vec3:
        """The wearer's right in the tag frame: ``forward x up``."""
        return _unit(_cross(self.forward_tag, self.up_tag))


def forward_from_mounting(up_tag: VecLike, forward_axis: VecLike) -> Vec3:
    """The documented forward axis made perpendicular to ``up_tag``: ``normalise(a - (a . u) u)``.

    Args:
        up_tag: the upright up vector, tag frame (normalised here).
        forward_axis: ``TagFamily.forward_axis`` (or any forward hint), tag frame.

    Raises:
        CalibrationError: the axis lies within 30 deg of up (or down): the tag is not worn as documented.
    """
    u = _unit(up_tag)
    a = _unit(forward_axis)
    f = _reject(a, u)
    if _norm(f) < _MIN_FORWARD_PROJECTION:
        raise CalibrationError(
            f"the documented forward axis {tuple(round(x, 3) for x in a)} points almost along up "
            f"({_angle_deg(a, u):.0f} deg away): the tag is not worn as its documentation describes; "
            "use the lean-forward calibration step"
        )
    return _unit(f)


def usable_forward_hint(up_tag: VecLike, forward_hint: VecLike) -> Vec3:
    """``forward_hint`` if it can give a forward direction for this ``up_tag``, else the tag axis most nearly
    perpendicular to up (tag frame, unit).

    A tag worn other than its family documents (or a generic IMU, e.g. an imported CSV, lying flat) can have the
    documented forward axis along gravity; the capture must still give a reference, so the posture is judged by
    the size of the tilt. Its forward/backward sign is then a guess: the lean-forward step fixes it.
    """
    u = _unit(up_tag)
    if _norm(_reject(_unit(forward_hint), u)) >= _MIN_FORWARD_PROJECTION:
        return _unit(forward_hint)
    axes: tuple[Vec3, ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    return min(axes, key=lambda a: abs(_dot(a, u)))


@dataclass(frozen=True, slots=True)
class AngleArrays:
    """Batch posture angles, degrees, one row per input (NaN where the input up vector was NaN).

    Attributes:
        flexion_deg: forward (+) / backward (-), shape (N,).
        lateral_deg: right (+) / left (-), shape (N,).
        total_deg: angle to the reference up, >= 0, shape (N,).
    """

    flexion_deg: FloatArray
    lateral_deg: FloatArray
    total_deg: FloatArray


def posture_angles(up_tag: VecLike, reference: UprightReference, t_s: float = math.nan) -> PostureAngles:
    """Flexion, lateral and total angle of one up vector relative to ``reference`` (see the module docstring).

    Args:
        up_tag: current up vector in the tag frame (need not be unit length).
        reference: the calibrated upright.
        t_s: sample time to stamp the result with, seconds.
    """
    u0 = reference.up_tag
    f = reference.forward_tag
    r = _cross(f, u0)
    along = _dot(up_tag, u0)
    flexion = math.degrees(math.atan2(-_dot(up_tag, f), along))
    lateral = math.degrees(math.atan2(-_dot(up_tag, r), along))
    total = math.degrees(math.atan2(_norm(_cross(up_tag, u0)), along))
    return PostureAngles(t_s=float(t_s), flexion_deg=flexion, lateral_deg=lateral, total_deg=total)


def posture_angles_batch(up_tag: npt.ArrayLike, reference: UprightReference) -> AngleArrays:
    """Vectorised :func:`posture_angles`.

    Args:
        up_tag: up vectors in the tag frame, shape (N, 3) (NaN rows give NaN angles).
        reference: the calibrated upright.

    Returns:
        The three angles, each shape (N,).
    """
    up = np.asarray(up_tag, dtype=np.float64).reshape(-1, 3)
    u0 = np.asarray(reference.up_tag)
    f = np.asarray(reference.forward_tag)
    r = np.cross(f, u0)
    along = up @ u0
    flexion = np.degrees(np.arctan2(-(up @ f), along))
    lateral = np.degrees(np.arctan2(-(up @ r), along))
    total = np.degrees(np.arctan2(np.linalg.norm(np.cross(up, u0), axis=1), along))
    return AngleArrays(flexion, lateral, total)


# ---------------------------------------------------------------------------------------------
# Live captures


class CaptureState(enum.StrEnum):
    """Where a capture is."""

    WAITING = "waiting"
    """Not collecting yet: no tilt, the filter is starting, or the wearer is moving (see ``reason``)."""
    CAPTURING = "capturing"
    """Collecting; ``progress`` grows."""
    DONE = "done"
    """Finished; the result is available."""


@dataclass(frozen=True, slots=True)
class CaptureStatus:
    """What a capture says after each sample (for a progress bar and a hint).

    Attributes:
        t_s: sample time, seconds.
        state: see :class:`CaptureState`.
        progress: 0..1.
        reason: a short instruction for the user when the capture is waiting or has just restarted
            (e.g. ``"keep still"``), else ``None``.
        restarted: this sample threw away what had been collected.
    """

    t_s: float
    state: CaptureState
    progress: float
    reason: str | None = None
    restarted: bool = False


@dataclass(frozen=True, slots=True)
class StillCapture:
    """The averaged up vector of a still period.

    Attributes:
        up_tag: unit mean up vector, tag frame.
        t_start_s: first sample time used, seconds.
        t_end_s: last sample time used, seconds.
        spread_deg: RMS angle of the samples around ``up_tag``, degrees.
        samples: number of samples averaged.
        mean_motion_energy: mean ``motion_energy`` of those samples.
    """

    up_tag: Vec3
    t_start_s: float
    t_end_s: float
    spread_deg: float
    samples: int
    mean_motion_energy: float

    @property
    def duration_s(self) -> float:
        """Length of the averaged period, seconds."""
        return self.t_end_s - self.t_start_s

    def reference(self, forward_hint: VecLike, t_s: float) -> UprightReference:
        """This capture as an upright reference made at ``t_s`` (forward: the family's mounting ``forward_hint``,
        made usable and perpendicular to up)."""
        return UprightReference.create(
            self.up_tag,
            usable_forward_hint(self.up_tag, forward_hint),
            t_s=t_s,
            method=CalibrationMethod.CAPTURE,
            forward_method=ForwardMethod.MOUNTING,
            spread_deg=self.spread_deg,
            duration_s=self.duration_s,
        )


class _StillAverager:
    """Running mean of up vectors with spread and motion checks (shared by the two captures)."""

    __slots__ = ("count", "energy", "max_dev_deg", "sq_dev", "sum", "t0", "t_last")

    def __init__(self) -> None:
        self.sum = [0.0, 0.0, 0.0]
        self.count = 0
        self.energy = 0.0
        self.t0 = math.nan
        self.t_last = math.nan
        self.max_dev_deg = 0.0
        self.sq_dev = 0.0

    def add(self, est: TiltEstimate) -> float:
        """Add one estimate; return its angle from the running mean (before it was added), degrees."""
        u = est.up_tag
        dev = 0.0 if self.count == 0 else _angle_deg(u, self.sum)
        if self.count == 0:
            self.t0 = est.t_s
        self.sum[0] += u[0]
        self.sum[1] += u[1]
        self.sum[2] += u[2]
        self.count += 1
        self.energy += est.motion_energy
        self.t_last = est.t_s
        self.max_dev_deg = max(self.max_dev_deg, dev)
        self.sq_dev += dev * dev
        return dev

    def result(self) -> StillCapture:
        return StillCapture(
            up_tag=_unit(self.sum),
            t_start_s=self.t0,
            t_end_s=self.t_last,
            spread_deg=math.sqrt(self.sq_dev / max(self.count - 1, 1)),
            samples=self.count,
            mean_motion_energy=self.energy / max(self.count, 1),
        )


@dataclass(frozen=True, slots=True)
class CaptureSettings:
    """Thresholds of the live captures.

    Attributes:
        duration_s: how long the wearer must hold still, seconds. 5 s: UPRIGHT GO and AirPosture use a few
            seconds (anchors.md section 1a: AirPosture 5 s per step); it spans at least one breath (~4 s), so
            breathing tilt averages out.
        max_motion_energy: larger ``motion_energy`` restarts the capture ("keep still"). ``motion_energy`` is
            about 1 at deliberate movement, but its still-time floor depends on the tag: 0.25-0.6 for calibrated
            6-axis tags, ~0.8 for a micro:bit and ~1.05 for a SensorTag (accelerometer bias and noise enter
            ``motion_g``; measured on the wearer simulator), so 1.5. The spread check catches slow movement.
        max_rotation_dps: larger angular speed restarts the capture, degrees per second.
        max_spread_deg: a sample further than this from the running mean restarts the capture ("keep still"):
            breathing moves the upper back about 0.4 deg and slow sway about 0.6 deg RMS, so 2.5 deg means the
            posture itself changed.
        max_gap_s: a pause in the samples longer than this restarts the capture, seconds.
    """

    duration_s: float = 5.0
    max_motion_energy: float = 1.5
    max_rotation_dps: float = 6.0
    max_spread_deg: float = 2.5
    max_gap_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("duration_s", "max_motion_energy", "max_rotation_dps", "max_spread_deg", "max_gap_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"CaptureSettings.{name} = {value!r} is not allowed: must be a number > 0")


KEEP_STILL = "keep still"
"""The capture's hint when the wearer moves."""
WAITING_FOR_TAG = "waiting for the tag"
"""The capture's hint while no usable tilt arrives."""
NOT_NEAR_EXPECTED = "sit upright as you usually do"
"""The hint of a capture limited to postures near an expected upright (``UprightCapture(near=...)``) while the
wearer keeps still elsewhere."""
NO_LEAN_SEEN = "no forward lean seen: the tag's usual mounting gives the forward direction"
"""The lean step's hint once it has timed out (the upright is kept; the lean is optional)."""


class UprightCapture:
    """Streaming "sit upright and keep still" capture: feed every :class:`TiltEstimate` (or ``None``).

    The up vectors are averaged over ``duration_s`` of stillness. Movement (``motion_energy`` or rotation over
    their limits), a posture change (a sample further than ``max_spread_deg`` from the running mean) or a pause
    in the data restarts the capture; the status then carries a reason for the UI (``"keep still"``).
    Samples from a filter that is still initialising are not counted (the status waits).

    ``duration_s`` and ``max_motion`` are the common knobs; pass ``settings`` for all of them (it then wins).
    ``near=(up_tag, max_deg)`` limits the capture to postures within ``max_deg`` degrees of ``up_tag`` (tag
    frame): a still sample further away counts as not upright and restarts it, e.g. when the upright is learned
    again after the tag was put back on about where it was (:meth:`SlipDetector.pop_put_back`), so that a wearer
    who sits slouched or reclined meanwhile is not taken as upright.
    """

    def __init__(
        self,
        duration_s: float = 5.0,
        max_motion: float = 1.5,
        settings: CaptureSettings | None = None,
        *,
        near: tuple[VecLike, float] | None = None,
    ) -> None:
        base = settings if settings is not None else CaptureSettings()
        self._settings = CaptureSettings(
            duration_s=duration_s if settings is None else base.duration_s,
            max_motion_energy=max_motion if settings is None else base.max_motion_energy,
            max_rotation_dps=base.max_rotation_dps,
            max_spread_deg=base.max_spread_deg,
            max_gap_s=base.max_gap_s,
        )
        self._avg = _StillAverager()
        self._result: StillCapture | None = None
        self._t_last = -math.inf
        if near is not None and not (math.isfinite(near[1]) and near[1] > 0.0):
            raise ValueError(f"UprightCapture near angle {near[1]!r} is not allowed: must be a number > 0 (degrees)")
        self._near: tuple[Vec3, float] | None = None if near is None else (_unit(near[0]), float(near[1]))

    @property
    def settings(self) -> CaptureSettings:
        """The thresholds in use."""
        return self._settings

    @property
    def near(self) -> tuple[Vec3, float] | None:
        """The expected upright (unit, tag frame) and how far from it a captured posture may be, degrees; ``None``:
        any still posture is taken."""
        return self._near

    @property
    def captured(self) -> StillCapture | None:
        """The averaged upright once done, else ``None``."""
        return self._result

    @property
    def done(self) -> bool:
        """True once the capture has finished."""
        return self._result is not None

    def restart(self) -> None:
        """Throw away everything (e.g. the user pressed "calibrate" again)."""
        self._avg = _StillAverager()
        self._result = None

    def update(self, estimate: TiltEstimate | None, t_s: float | None = None) -> CaptureStatus:
        """Feed one estimate (``None``: a sample without a usable tilt, at ``t_s`` if given)."""
        st = self._settings
        if self._result is not None:
            t_done = estimate.t_s if estimate is not None else (t_s if t_s is not None else self._result.t_end_s)
            return CaptureStatus(t_done, CaptureState.DONE, 1.0)
        if estimate is None or estimate.initialising:
            t = estimate.t_s if estimate is not None else (t_s if t_s is not None else self._t_last)
            return self._wait(t, WAITING_FOR_TAG)
        t = estimate.t_s
        gap = t - self._t_last > st.max_gap_s
        self._t_last = max(self._t_last, t)
        moving = estimate.motion_energy > st.max_motion_energy or (
            math.isfinite(estimate.rotation_dps) and estimate.rotation_dps > st.max_rotation_dps
        )
        if moving:
            return self._wait(t, KEEP_STILL)
        if self._near is not None and _angle_deg(estimate.up_tag, self._near[0]) > self._near[1]:
            return self._wait(t, NOT_NEAR_EXPECTED)
        if gap and self._avg.count:
            return self._wait(t, WAITING_FOR_TAG)
        dev = self._avg.add(estimate)
        if dev > st.max_spread_deg:
            self._avg = _StillAverager()
            self._avg.add(estimate)
            return CaptureStatus(t, CaptureState.CAPTURING, 0.0, KEEP_STILL, restarted=True)
        elapsed = t - self._avg.t0
        if elapsed >= st.duration_s:
            self._result = self._avg.result()
            return CaptureStatus(t, CaptureState.DONE, 1.0)
        return CaptureStatus(t, CaptureState.CAPTURING, max(0.0, min(1.0, elapsed / st.duration_s)))

    def _wait(self, t: float, reason: str) -> CaptureStatus:
        restarted = self._avg.count > 0
        if restarted:
            self._avg = _StillAverager()
        return CaptureStatus(t, CaptureState.WAITING, 0.0, reason, restarted=restarted)

    def reference(self, forward_axis: VecLike) -> UprightReference:
        """The reference with the forward direction from the tag family's documented mounting.

        Raises:
            CalibrationError: not done yet, or the forward axis points along up.
        """
        cap = self._result
        if cap is None:
            raise CalibrationError("the upright capture has not finished: sit upright and keep still")
        return UprightReference.create(
            cap.up_tag,
            forward_axis,
            t_s=cap.t_end_s,
            method=CalibrationMethod.CAPTURE,
            forward_method=ForwardMethod.MOUNTING,
            spread_deg=cap.spread_deg,
            duration_s=cap.duration_s,
        )


@dataclass(frozen=True, slots=True)
class RefineSettings:
    """How an automatic capture is refined by the still upright sitting that follows it (:class:`UprightRefiner`).

    Attributes:
        still_s: still time near the captured upright averaged into the first refined reference, seconds. A 5-s
            capture samples the wearer's slow postural sway (~0.5 deg RMS, periods of tens of seconds) at one
            moment, so its error is of that order (0.1-0.5 deg on the simulator); 60 s of still sitting spans
            several sway periods and brings the error to ~0.1-0.2 deg. 0 disables the refinement.
        final_still_s: the averaging goes on to this much still time near the capture and then gives a second,
            final refined reference, seconds (0, the default, or not more than ``still_s``: no second stage).
            Sway is slow enough that a minute's mean still wanders by ~0.1 deg (on the simulator's 8-hour day the
            mean of the first minute of still upright sitting was 0.12 deg off the day's, the first 10 minutes'
            0.01 deg), but ten minutes of averaging also take in the first degrees of every slow slouch that
            drifts through the window: on the simulator it helped the 8-hour day and hurt the slouchy afternoon
            (docs/engine.md), so it is off until a better-founded estimate exists.
        window_deg: only still samples within this angle of the captured upright count, degrees. Sway and
            breathing stay within ~1.5 deg; a slouch, a recline or a reach held still leaves it, and a slow slouch
            passes through it in a few seconds (a bias of at most ~0.2 deg).
        within_s: the refinement gives up if ``still_s`` is not gathered within this long of the capture
            (the wearer never came back to that posture), seconds.
        final_within_s: the second stage gives up (the first refinement stays) if ``final_still_s`` is not
            gathered within this long of the capture, seconds.
        max_motion_energy: a sample with more ``motion_energy`` does not count (as for the capture).
    """

    still_s: float = 60.0
    final_still_s: float = 0.0
    window_deg: float = 2.0
    within_s: float = 900.0
    final_within_s: float = 3600.0
    max_motion_energy: float = 1.5

    def __post_init__(self) -> None:
        for name in ("still_s", "final_still_s"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f"RefineSettings.{name} = {value!r} is not allowed: must be a number >= 0")
        for name in ("window_deg", "within_s", "final_within_s", "max_motion_energy"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f"RefineSettings.{name} = {value!r} is not allowed: must be a number > 0")


class UprightRefiner:
    """Refines an automatic upright capture with the still sitting near it that follows (streaming).

    A capture averages a few seconds, during which the upper back sways slowly (tenths of a degree, over tens of
    seconds): the reference is off by that much, and on a slow slouch (0.1-0.3 deg/s) every 0.1 deg of reference
    error delays the dwell clock by 0.3-1 s. The refiner keeps averaging the up vector over samples the caller
    says are still (the activity stage's ``still``), not initialising, below ``max_motion_energy`` and within
    ``window_deg`` of the captured up vector, each weighted by its sample period (capped at 0.5 s), the capture
    itself weighted by its duration. :meth:`update` returns a refined reference (same method and forward hint,
    ``duration_s`` = capture + still time so far) when ``still_s`` of such time is gathered and again, from the
    same running mean, at ``final_still_s``. It stops (:attr:`finished`) after the last stage, or when a stage is
    not reached in time (``within_s``, ``final_within_s`` from the capture; what was returned before stays).
    The window stays centred on the capture, so no amount of averaging moves the reference further than
    ``window_deg`` from what was captured.

    Only for automatic captures: a capture the wearer asked for (the wizard) is a deliberate posture and is kept.
    """

    def __init__(self, reference: UprightReference, settings: RefineSettings | None = None) -> None:
        self._settings = settings if settings is not None else RefineSettings()
        self._ref = reference
        u = reference.up_tag
        w = max(reference.duration_s, 1e-3)
        self._sum = [u[0] * w, u[1] * w, u[2] * w]
        self._weight = w
        self._still = 0.0
        self._t_prev = -math.inf
        self._cos_window = math.cos(math.radians(self._settings.window_deg))
        st = self._settings
        stages = [st.still_s] if st.still_s > 0.0 else []
        if stages and st.final_still_s > st.still_s:
            stages.append(st.final_still_s)
        self._stages = [(s, st.within_s if k == 0 else st.final_within_s) for k, s in enumerate(stages)]
        self.finished = not self._stages

    @property
    def still_s(self) -> float:
        """Still time gathered so far, seconds."""
        return self._still

    def update(self, estimate: TiltEstimate | None, still: bool, t_s: float) -> UprightReference | None:
        """Feed one sample (``still``: the activity stage says the wearer sits still); returns the refined
        reference on the update that completes it, else ``None``."""
        if self.finished:
            return None
        st = self._settings
        ref = self._ref
        need_s, within_s = self._stages[0]
        if t_s - ref.t_s > within_s:
            self.finished = True
            return None
        if estimate is None or not still or estimate.initialising or not estimate.motion_energy <= st.max_motion_energy:
            self._t_prev = -math.inf
            return None
        up = estimate.up_tag
        u0 = ref.up_tag
        if up[0] * u0[0] + up[1] * u0[1] + up[2] * u0[2] < self._cos_window:
            self._t_prev = -math.inf
            return None
        dt = min(t_s - self._t_prev, 0.5) if math.isfinite(self._t_prev) else 0.0
        self._t_prev = t_s
        if not dt > 0.0:
            return None
        self._sum[0] += up[0] * dt
        self._sum[1] += up[1] * dt
        self._sum[2] += up[2] * dt
        self._weight += dt
        self._still += dt
        if self._still < need_s:
            return None
        self._stages.pop(0)
        self.finished = not self._stages
        return UprightReference.create(
            (self._sum[0], self._sum[1], self._sum[2]),
            ref.forward_tag,
            t_s=t_s,
            method=ref.method,
            forward_method=ref.forward_method,
            spread_deg=ref.spread_deg,
            duration_s=ref.duration_s + self._still,
        )


@dataclass(frozen=True, slots=True)
class LeanResult:
    """The forward direction derived from a forward lean.

    Attributes:
        forward_tag: unit forward direction, perpendicular to the upright up vector.
        lean_deg: angle between the upright and the leaning up vectors, degrees.
        out_of_plane_deg: largest distance of the lean's path from the plane of the lean, degrees.
    """

    forward_tag: Vec3
    lean_deg: float
    out_of_plane_deg: float


def forward_from_lean(
    up_upright: VecLike,
    up_lean: VecLike,
    path: npt.ArrayLike | None = None,
    *,
    min_lean_deg: float = 5.0,
    max_out_of_plane_deg: float = 3.0,
    max_out_of_plane_ratio: float = 0.35,
) -> LeanResult:
    """Forward direction from the change of the up vector when the wearer leans forward.

    ``back = normalise(u1 - (u1 . u0) u0)``, ``forward = -back`` (derivation in the module docstring).

    Args:
        up_upright: ``u0``, the upright up vector (tag frame).
        up_lean: ``u1``, the up vector while leaning forward.
        path: the up vectors seen on the way, shape (M, 3), for the one-plane check (optional).
        min_lean_deg: smaller leans are refused (too close to the noise to give a direction).
        max_out_of_plane_deg: the path may leave the lean's plane by this much, degrees...
        max_out_of_plane_ratio: ...or by this fraction of the lean, whichever is larger.

    Raises:
        CalibrationError: the lean is too small, or it was not a plain forward bend.
    """
    u0 = _unit(up_upright)
    u1 = _unit(up_lean)
    lean = _angle_deg(u0, u1)
    if lean < min_lean_deg:
        raise CalibrationError(
            f"the lean was {lean:.1f} deg: lean forward a little further (at least {min_lean_deg:g})"
        )
    back = _unit(_reject(u1, u0))
    out = 0.0
    if path is not None:
        p = np.asarray(path, dtype=np.float64).reshape(-1, 3)
        p = p[np.all(np.isfinite(p), axis=1)]
        if p.size:
            normal = np.asarray(_unit(_cross(u0, back)))
            p = p / np.linalg.norm(p, axis=1, keepdims=True)
            out = float(np.degrees(np.max(np.abs(np.arcsin(np.clip(p @ normal, -1.0, 1.0))))))
    limit = max(max_out_of_plane_deg, max_out_of_plane_ratio * lean)
    if out > limit:
        raise CalibrationError(
            f"the lean left its plane by {out:.1f} deg (allowed {limit:.1f}): lean straight forward, without "
            "turning or bending sideways"
        )
    return LeanResult(forward_tag=(-back[0], -back[1], -back[2]), lean_deg=lean, out_of_plane_deg=out)


@dataclass(frozen=True, slots=True)
class LeanSettings:
    """Thresholds of :class:`LeanCapture`.

    Attributes:
        min_lean_deg: smallest accepted lean, degrees. 5 deg is about ten times the still-time noise of the up
            vector, so the direction is good to a few degrees, and it is a small, comfortable movement.
        max_lean_deg: larger leans are refused (the wearer is reaching or getting up, not leaning), degrees.
        hold_s: how long the lean must be held still, seconds.
        max_motion_energy: the hold counts only below this ``motion_energy``.
        max_spread_deg: the hold restarts if a sample moves further than this from its running mean, degrees.
        max_out_of_plane_deg: see :func:`forward_from_lean`.
        max_out_of_plane_ratio: see :func:`forward_from_lean`.
        max_disagreement_deg: if an expected forward axis is given (the family's mounting), a lean direction
            further than this from it is refused as "not a forward lean" (e.g. the wearer leant back), degrees.
        timeout_s: give up after this long without a result, seconds.
    """

    min_lean_deg: float = 5.0
    max_lean_deg: float = 40.0
    hold_s: float = 2.0
    max_motion_energy: float = 1.5
    max_spread_deg: float = 2.5
    max_out_of_plane_deg: float = 3.0
    max_out_of_plane_ratio: float = 0.35
    max_disagreement_deg: float = 60.0
    timeout_s: float = 60.0


class LeanCapture:
    """Streaming "now lean forward a little and hold" step after an :class:`UprightCapture`.

    Feed :class:`TiltEstimate` objects. The path of up vectors from the upright is recorded; once the up vector
    has moved at least ``min_lean_deg`` and is held still for ``hold_s``, the forward direction is derived
    (:func:`forward_from_lean`). A lean that is too small, too large, not in one plane or (with an expected
    forward axis) not forward restarts the step with a reason.
    """

    def __init__(
        self,
        upright: StillCapture,
        settings: LeanSettings | None = None,
        expected_forward: VecLike | None = None,
    ) -> None:
        self._upright = upright
        self._settings = settings if settings is not None else LeanSettings()
        self._expected = None if expected_forward is None else forward_from_mounting(upright.up_tag, expected_forward)
        self._path: list[Vec3] = []
        self._hold = _StillAverager()
        self._result: LeanResult | None = None
        self._t0 = math.nan
        self._failed: str | None = None

    @property
    def result(self) -> LeanResult | None:
        """The derived forward direction once done."""
        return self._result

    def update(self, estimate: TiltEstimate | None) -> CaptureStatus:
        """Feed one estimate."""
        st = self._settings
        if self._result is not None:
            t_done = estimate.t_s if estimate is not None else self._upright.t_end_s
            return CaptureStatus(t_done, CaptureState.DONE, 1.0)
        if estimate is None or estimate.initialising:
            t = estimate.t_s if estimate is not None else math.nan
            return CaptureStatus(t, CaptureState.WAITING, 0.0, WAITING_FOR_TAG)
        t = estimate.t_s
        if math.isnan(self._t0):
            self._t0 = t
        if t - self._t0 > st.timeout_s:
            return CaptureStatus(t, CaptureState.WAITING, 0.0, NO_LEAN_SEEN)
        u = estimate.up_tag
        self._path.append(u)
        lean = _angle_deg(self._upright.up_tag, u)
        if lean < st.min_lean_deg:
            restarted = self._hold.count > 0
            if restarted:
                self._hold = _StillAverager()
            return CaptureStatus(t, CaptureState.WAITING, 0.0, "lean forward a little", restarted=restarted)
        if lean > st.max_lean_deg:
            self._hold = _StillAverager()
            return CaptureStatus(t, CaptureState.WAITING, 0.0, "not so far: lean forward just a little")
        if estimate.motion_energy > st.max_motion_energy:
            restarted = self._hold.count > 0
            self._hold = _StillAverager()
            return CaptureStatus(t, CaptureState.CAPTURING, 0.0, KEEP_STILL, restarted=restarted)
        if self._hold.add(estimate) > st.max_spread_deg:
            self._hold = _StillAverager()
            self._hold.add(estimate)
            return CaptureStatus(t, CaptureState.CAPTURING, 0.0, KEEP_STILL, restarted=True)
        held = t - self._hold.t0
        if held < st.hold_s:
            return CaptureStatus(t, CaptureState.CAPTURING, held / st.hold_s)
        try:
            res = forward_from_lean(
                self._upright.up_tag,
                self._hold.result().up_tag,
                np.asarray(self._path),
                min_lean_deg=st.min_lean_deg,
                max_out_of_plane_deg=st.max_out_of_plane_deg,
                max_out_of_plane_ratio=st.max_out_of_plane_ratio,
            )
            if self._expected is not None and _angle_deg(res.forward_tag, self._expected) > st.max_disagreement_deg:
                raise CalibrationError("that was not a forward lean: sit upright, then lean forward a little")
        except CalibrationError as exc:
            self._path = []
            self._hold = _StillAverager()
            return CaptureStatus(t, CaptureState.WAITING, 0.0, str(exc), restarted=True)
        self._result = res
        return CaptureStatus(t, CaptureState.DONE, 1.0)

    def reference(self) -> UprightReference:
        """The reference: the upright capture's up vector with the lean's forward direction.

        Raises:
            CalibrationError: the lean step has not finished.
        """
        res = self._result
        if res is None:
            raise CalibrationError("the lean-forward step has not finished")
        up = self._upright
        return UprightReference(
            up_tag=up.up_tag,
            forward_tag=res.forward_tag,
            t_s=up.t_end_s,
            method=CalibrationMethod.CAPTURE,
            forward_method=ForwardMethod.LEAN,
            spread_deg=up.spread_deg,
            duration_s=up.duration_s,
            lean_deg=res.lean_deg,
        )


# ---------------------------------------------------------------------------------------------
# Batch references: automatic and user-named span


@dataclass(frozen=True, slots=True)
class AutoSettings:
    """Settings of :func:`auto_upright` and :func:`span_upright`.

    Attributes:
        still_energy: rows with ``motion_energy`` below this count as still (the still-time floor is 0.25-1.05
            depending on the tag, see :class:`CaptureSettings`).
        chunk_s: still rows are averaged in chunks of this length first, seconds (beats breathing down).
        min_chunk_fill: a chunk is used if at least this fraction of its rows are still.
        mode_radius_deg: chunks within this angle of a candidate support it, degrees. 5 deg: wider than sway
            and breathing, narrower than the 8-10 deg that separates posture classes.
        min_still_s: less still time than this is refused, seconds.
        max_seeds: number of candidate chunks tried as the mode (evenly spaced; keeps 8-hour days fast).
        forward_min_deg: excursions smaller than this are ignored when the forward direction is estimated.
        forward_max_deg: excursions larger than this (tag off the body) are ignored, degrees.
    """

    still_energy: float = 1.5
    chunk_s: float = 2.0
    min_chunk_fill: float = 0.8
    mode_radius_deg: float = 5.0
    min_still_s: float = 30.0
    max_seeds: int = 400
    forward_min_deg: float = 12.0
    forward_max_deg: float = 60.0


def _still_chunks(
    series: TiltSeries, mask: BoolArray, settings: AutoSettings
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Mean up vector (M, 3), still duration (M,) and end time (M,) of each usable chunk of ``mask`` rows."""
    t = series.t_s
    ok = mask & series.valid & np.all(np.isfinite(series.up_tag), axis=1)
    still = ok & (np.nan_to_num(series.motion_energy, nan=np.inf) < settings.still_energy) & ~series.initialising
    if not np.any(ok):
        return np.zeros((0, 3)), np.zeros(0), np.zeros(0)
    t0 = float(np.min(t[ok]))
    bins = np.floor((t - t0) / settings.chunk_s).astype(np.int64)
    rows = np.flatnonzero(still)
    if rows.size == 0:
        return np.zeros((0, 3)), np.zeros(0), np.zeros(0)
    ok_rows = np.flatnonzero(ok)
    ok_bins, ok_counts = np.unique(bins[ok_rows], return_counts=True)
    b = bins[rows]
    uniq, inv, counts = np.unique(b, return_inverse=True, return_counts=True)
    sums = np.zeros((uniq.size, 3))
    np.add.at(sums, inv, series.up_tag[rows])
    totals = ok_counts[np.searchsorted(ok_bins, uniq)]
    keep = counts >= settings.min_chunk_fill * totals
    keep &= counts >= 2
    vecs = sums[keep] / np.linalg.norm(sums[keep], axis=1, keepdims=True)
    # Duration: rows times the median period.
    period = float(np.median(np.diff(t[ok_rows]))) if ok_rows.size > 1 else settings.chunk_s
    dur = counts[keep].astype(np.float64) * period
    ends = t0 + (uniq[keep].astype(np.float64) + 1.0) * settings.chunk_s
    return vecs, dur, ends


def _robust_mode(vecs: FloatArray, weights: FloatArray, settings: AutoSettings) -> tuple[FloatArray, BoolArray]:
    """The densest direction among unit vectors (M, 3): best seed by weighted support, then mean shift."""
    cos_r = math.cos(math.radians(settings.mode_radius_deg))
    m = vecs.shape[0]
    seeds = vecs[np.unique(np.linspace(0, m - 1, min(m, settings.max_seeds)).round().astype(np.intp))]
    support = ((seeds @ vecs.T) >= cos_r) @ weights
    centre = seeds[int(np.argmax(support))]
    members = np.zeros(m, dtype=bool)
    for _ in range(5):
        members = (vecs @ centre) >= cos_r
        mean = weights[members] @ vecs[members]
        new = mean / np.linalg.norm(mean)
        if float(new @ centre) > math.cos(math.radians(0.01)):
            centre = new
            break
        centre = new
    members = (vecs @ centre) >= cos_r
    return centre, members


def _forward_from_data(series: TiltSeries, mask: BoolArray, up: FloatArray, settings: AutoSettings) -> FloatArray:
    """The axis of the large *moving* excursions from ``up`` (bending to stand up, reaching), signed forward.

    Axial statistics: the tangent-plane direction angle ``phi`` of each excursion is doubled and averaged
    (``mean exp(2i phi)``, weighted by the excursion's angle), which gives the axis whatever the sign; the sign
    is then chosen so that the larger share (weighted by angle squared) of the excursions lies on the forward
    side. People bend forward far more, and further, than backward while moving.
    """
    ok = mask & series.valid & np.all(np.isfinite(series.up_tag), axis=1)
    ok &= np.nan_to_num(series.motion_energy, nan=0.0) >= settings.still_energy
    v = series.up_tag[ok]
    # Tangent-plane basis at up.
    helper = np.array([1.0, 0.0, 0.0]) if abs(up[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = helper - (helper @ up) * up
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(up, e1)
    x = v @ e1
    y = v @ e2
    ang = np.degrees(np.arctan2(np.hypot(x, y), v @ up))
    sel = (ang >= settings.forward_min_deg) & (ang <= settings.forward_max_deg)
    if int(np.count_nonzero(sel)) < 10:
        raise CalibrationError(
            "not enough movement to tell forward from backward: give the tag family's forward axis or calibrate"
        )
    phi = np.arctan2(y[sel], x[sel])
    w = ang[sel]
    axis_angle = 0.5 * math.atan2(float(np.sum(w * np.sin(2 * phi))), float(np.sum(w * np.cos(2 * phi))))
    axis = math.cos(axis_angle) * e1 + math.sin(axis_angle) * e2
    side = np.cos(phi - axis_angle)
    # Up tips towards the *back* when bending forward: the side holding most excursion is "back".
    back_share = float(np.sum(w**2 * (side > 0)))
    fwd_share = float(np.sum(w**2 * (side < 0)))
    back = axis if back_share >= fwd_share else -axis
    forward: FloatArray = -back
    return forward


def auto_upright(
    series: TiltSeries,
    forward_axis: VecLike | None = None,
    *,
    mask: npt.ArrayLike | None = None,
    settings: AutoSettings | None = None,
) -> UprightReference:
    """Estimate the upright reference of a recording that has none: the robust mode of still up vectors.

    Method: rows that are still (``motion_energy`` below ``still_energy``, filter not initialising, inside
    ``mask``) are averaged in ``chunk_s`` chunks; the chunk direction with the most still time within
    ``mode_radius_deg`` is found (evenly spaced seeds, then a few mean-shift steps) and its supporting chunks are
    averaged. The forward direction comes from ``forward_axis`` (the tag family's) or, without one, from the
    movement in the recording (see :func:`_forward_from_data`).

    Failure modes (say so to the user; prefer a capture or ``--calibrate START:END``):

    * the mode is the wearer's *habitual* posture: someone who slouches more than they sit upright gets their
      slouch as "upright" (every angle is then relative to it, and slouch alerts are too late);
    * standing still looks the same to an upper-back tag as sitting upright (within a few degrees), so long
      standing periods join or pull the mode; pass ``mask`` (e.g. seated activity only) to exclude them;
    * a tag lying still on a desk for longer than the wearer sat is a mode too: pass ``mask`` to exclude times
      the tag was off, or check ``support``;
    * a re-stuck tag has two modes; only the larger is found (split the recording at the re-stick);
    * the forward direction from data assumes most large moving excursions are forward bends; a wearer who
      mainly reclines and rarely bends forward gets it backwards (give ``forward_axis``).

    Args:
        series: the orientation stage's output for the recording.
        forward_axis: ``TagFamily.forward_axis`` if known.
        mask: rows allowed to contribute, shape (N,) bool (default: all).
        settings: thresholds.

    Raises:
        CalibrationError: too little still time, or no forward direction can be found.
    """
    st = settings if settings is not None else AutoSettings()
    m = np.ones(len(series), dtype=bool) if mask is None else np.asarray(mask, dtype=bool).reshape(-1)
    vecs, dur, ends = _still_chunks(series, m, st)
    total = float(np.sum(dur))
    if total < st.min_still_s:
        raise CalibrationError(
            f"only {total:.0f} s of still data (need {st.min_still_s:g} s) to estimate the upright posture"
        )
    centre, members = _robust_mode(vecs, dur, st)
    dev = np.degrees(np.arccos(np.clip(vecs[members] @ centre, -1.0, 1.0)))
    spread = float(np.sqrt(np.average(dev**2, weights=dur[members])))
    support = float(np.sum(dur[members]) / total)
    if forward_axis is not None:
        fwd_hint: VecLike = forward_axis
        fmethod = ForwardMethod.MOUNTING
    else:
        fwd_hint = tuple(float(x) for x in _forward_from_data(series, m, centre, st))
        fmethod = ForwardMethod.DATA
    return UprightReference.create(
        tuple(float(x) for x in centre),
        fwd_hint,
        t_s=float(np.max(ends[members])),
        method=CalibrationMethod.AUTO,
        forward_method=fmethod,
        spread_deg=spread,
        duration_s=float(np.sum(dur[members])),
        support=support,
    )


def span_upright(
    series: TiltSeries,
    start_s: float,
    end_s: float,
    forward_axis: VecLike | None = None,
    *,
    settings: AutoSettings | None = None,
) -> UprightReference:
    """The upright reference from a span the user names (``analyze --calibrate START:END``).

    The still rows (``motion_energy`` below ``still_energy``) with ``start_s <= t_s < end_s`` are averaged; if the
    span holds no still row, every valid row in it is. The forward direction is as in :func:`auto_upright`
    (the data-derived one uses the whole recording).

    Raises:
        CalibrationError: the span holds no valid tilt, or ``end_s <= start_s``.
    """
    st = settings if settings is not None else AutoSettings()
    if not end_s > start_s:
        raise CalibrationError(f"the calibration span {start_s}..{end_s} is empty: END must be after START")
    t = series.t_s
    inside = (t >= start_s) & (t < end_s) & series.valid & np.all(np.isfinite(series.up_tag), axis=1)
    if not np.any(inside):
        raise CalibrationError(f"no tilt data between {start_s} and {end_s}")
    still = inside & (np.nan_to_num(series.motion_energy, nan=np.inf) < st.still_energy)
    rows = still if np.count_nonzero(still) >= 2 else inside
    v = series.up_tag[rows]
    centre = np.sum(v, axis=0)
    centre /= np.linalg.norm(centre)
    dev = np.degrees(np.arccos(np.clip(v @ centre, -1.0, 1.0)))
    tr = t[rows]
    if forward_axis is not None:
        fwd_hint: VecLike = forward_axis
        fmethod = ForwardMethod.MOUNTING
    else:
        fwd_hint = tuple(float(x) for x in _forward_from_data(series, np.ones(len(series), dtype=bool), centre, st))
        fmethod = ForwardMethod.DATA
    return UprightReference.create(
        tuple(float(x) for x in centre),
        fwd_hint,
        t_s=float(np.max(tr)),
        method=CalibrationMethod.SPAN,
        forward_method=fmethod,
        spread_deg=float(np.sqrt(np.mean(dev**2))),
        duration_s=float(np.max(tr) - np.min(tr)),
    )


# ---------------------------------------------------------------------------------------------
# Tag slip / re-stick


@dataclass(frozen=True, slots=True)
class SlipSettings:
    """Thresholds of :class:`SlipDetector`.

    Attributes:
        still_energy: samples below this ``motion_energy`` are still (see :class:`CaptureSettings`).
        chunk_s: still samples are averaged in chunks of this length, seconds.
        off_body_deg: a still chunk further than this from the reference up is "off the body" (lying on a desk,
            hanging from a lanyard). 50 deg: a seated or standing wearer does not hold their upper back that far
            from upright while keeping still; a tag lying flat is ~75 deg away (the back inclination is ~15 deg).
        off_body_min_s: still off-body time needed to count as "taken off", seconds.
        extreme_deg: any sample further than this (the tag upside down) counts as handling at once, degrees.
        gap_s: a pause in the data this long counts as possible handling (the tag may have been re-stuck out of
            radio range), seconds.
        slip_deg: after handling, a shift of the upright of at least this much suggests recalibrating. 3 deg:
            the smallest posture thresholds in use are ~3 deg (anchors.md: microposture) and inter-day
            measurement error of neck-worn IMUs is ~3-5 deg (Han et al. 2023, MDC); smaller shifts do not matter.
        confirm_still_s: still, worn time collected after handling before deciding, seconds. Two minutes give the
            wearer time to settle back into their usual posture.
        return_quantile: the shift is the ``return_quantile`` quantile of the per-chunk angles to the reference
            over the confirmation time: a wearer who came back to within ``slip_deg`` of the reference for at
            least this share of the time has no slip ("it came back").
        detect_steps: also check after an abrupt step of the still up vector without other evidence of handling
            (off by default: on the wearer simulator's 8-hour day, quick posture changes into long reclines or
            leans were held long enough to look like slips; handling evidence is what tells a re-stick).
        step_deg: without handling, a change of the still up vector between two still chunks at most
            ``step_max_s`` apart that is at least this large starts a (long) check too, degrees...
        step_max_s: ...seconds.
        step_confirm_s: the still time the step check needs before deciding, seconds. 15 minutes: long enough
            that a recline or a quick slouch comes back; slouch itself comes on over minutes and is not a step.
        max_confirm_s: a check that has not collected enough still time within this long is dropped, seconds.
    """

    still_energy: float = 1.5
    chunk_s: float = 2.0
    off_body_deg: float = 50.0
    off_body_min_s: float = 4.0
    extreme_deg: float = 110.0
    gap_s: float = 10.0
    slip_deg: float = 3.0
    confirm_still_s: float = 120.0
    return_quantile: float = 0.1
    detect_steps: bool = False
    step_deg: float = 4.0
    step_max_s: float = 10.0
    step_confirm_s: float = 900.0
    max_confirm_s: float = 3600.0


class SlipCause(enum.StrEnum):
    """What started a slip check."""

    TAKEN_OFF = "taken_off"
    """The tag lay still far from any body posture (e.g. on the desk), or was turned over."""
    DATA_GAP = "data_gap"
    """No data for a while (the tag may have been handled out of range)."""
    STEP = "step"
    """An abrupt change of the still up vector without other evidence of handling."""
    PUT_ON = "put_on"
    """The reference was remembered from an earlier wearing: the tag may have been put on differently since."""


@dataclass(frozen=True, slots=True)
class SlipEvent:
    """The tag now sits differently on the back: suggest recalibrating.

    Attributes:
        t_s: sample time of the decision, seconds.
        cause: what started the check.
        cause_t_s: when that happened, seconds.
        shift_deg: how far the wearer's still posture now stays from the reference (the ``return_quantile``
            quantile of the per-chunk angles), degrees.
        new_up_tag: the still up vector closest to the old reference during the check (a hint for a new
            reference; a proper capture is better).
        message: a sentence for the UI.
    """

    t_s: float
    cause: SlipCause
    cause_t_s: float
    shift_deg: float
    new_up_tag: Vec3
    message: str


class SlipDetector:
    """Notices that the tag was taken off / re-stuck / shifted and now sits differently; suggests recalibrating.

    Feed every :class:`TiltEstimate` (``None`` for samples without tilt). Still samples are averaged in chunks.
    Evidence of handling (a still off-body chunk, an upside-down sample, a data gap, or an abrupt step of the
    still up vector) starts a *check*: the angles of the following still, worn chunks to the reference are
    collected for ``confirm_still_s`` (``step_confirm_s`` for a plain step), and if even their low quantile
    stays at or above ``slip_deg`` (the posture did not come back) a :class:`SlipEvent` is returned once, and
    :attr:`suggest_recalibration` stays true until :meth:`set_reference`.

    Slouching does not fire it: a slouch comes on over minutes (no step, no handling) and comes back.
    """

    def __init__(self, reference: UprightReference, settings: SlipSettings | None = None) -> None:
        self._settings = settings if settings is not None else SlipSettings()
        self.set_reference(reference)

    @property
    def reference(self) -> UprightReference:
        """The reference the detector compares with."""
        return self._reference

    @property
    def suggest_recalibration(self) -> bool:
        """True after a slip was found, until a new reference is set."""
        return self._event is not None

    @property
    def event(self) -> SlipEvent | None:
        """The slip found (if any) since the reference was set."""
        return self._event

    @property
    def checking(self) -> SlipCause | None:
        """The cause of the check in progress, if any."""
        return self._cause

    def set_reference(self, reference: UprightReference) -> None:
        """Use a new reference (after recalibrating); clears the suggestion and any check."""
        self._reference = reference
        self._u0 = reference.up_tag
        self._event: SlipEvent | None = None
        self._cause: SlipCause | None = None
        self._cause_t = math.nan
        self._angles: list[float] = []
        self._vectors: list[Vec3] = []
        self._off_s = 0.0
        self._t_last = math.nan
        self._chunk_t0 = math.nan
        self._sum = [0.0, 0.0, 0.0]
        self._n = 0
        self._all_still = True
        self._prev_chunk: Vec3 | None = None
        self._prev_chunk_t = -math.inf
        self._put_back: float | None = None

    def pop_put_back(self) -> float | None:
        """After the tag was taken off (:attr:`SlipCause.TAKEN_OFF`), the check that found it back on the body
        *without* a slip (the wearer's still posture comes back to within ``slip_deg`` of the reference): its
        shift, degrees, once (the next call gives ``None``); else ``None``.

        The tag now sits where it was to within a few degrees, but not exactly: a re-stick moves it by a degree or
        two, a constant error of every angle from then on. An automatic reference may be learned again near the
        old one (:class:`UprightCapture` ``near``); a calibration the wearer made is theirs to renew."""
        shift, self._put_back = self._put_back, None
        return shift

    def start_check(self, cause: SlipCause, t_s: float) -> None:
        """Check from sample time ``t_s`` (seconds) as if handling had been seen then, e.g. :attr:`SlipCause.PUT_ON`
        for a reference remembered from an earlier session: the same ``confirm_still_s`` of still, worn time
        decides whether the wearer's posture comes back to the reference."""
        self._start(cause, t_s)

    def update(self, estimate: TiltEstimate | None) -> SlipEvent | None:
        """Feed one estimate; returns a :class:`SlipEvent` on the sample the slip is decided, else ``None``."""
        if estimate is None:
            return None
        u = estimate.up_tag
        return self.update_row(estimate.t_s, u[0], u[1], u[2], estimate.motion_energy, estimate.initialising)

    def update_row(
        self, t: float, ux: float, uy: float, uz: float, motion_energy: float, initialising: bool
    ) -> SlipEvent | None:
        """:meth:`update` from the fields of an estimate (sample time s, up vector in the tag frame, motion
        energy, initialising flag), for batch loops that need not build a :class:`TiltEstimate` per row."""
        if self._event is not None:
            return None
        st = self._settings
        if not math.isnan(self._t_last) and t - self._t_last >= st.gap_s and self._cause is None:
            self._start(SlipCause.DATA_GAP, self._t_last)
        if math.isnan(self._t_last) or t > self._t_last:
            self._t_last = t
        u0 = self._u0
        # Beyond an extreme_deg of 90 or more only with a negative dot product: the cheap test first.
        if (st.extreme_deg < 90.0 or ux * u0[0] + uy * u0[1] + uz * u0[2] < 0.0) and _angle_deg(
            (ux, uy, uz), u0
        ) > st.extreme_deg:
            self._start(SlipCause.TAKEN_OFF, t)
        if math.isnan(self._chunk_t0) or t - self._chunk_t0 >= st.chunk_s or t < self._chunk_t0:
            result = self._close_chunk(t)
            self._chunk_t0 = t
            self._sum = [0.0, 0.0, 0.0]
            self._n = 0
            self._all_still = True
            if result is not None:
                return result
        if motion_energy < st.still_energy and not initialising:
            self._sum[0] += ux
            self._sum[1] += uy
            self._sum[2] += uz
            self._n += 1
        else:
            self._all_still = False
        return None

    def feed_rows(self, rows: SlipRows, start: int) -> tuple[int, SlipEvent | None]:
        """:meth:`update_row` over the rows ``start:`` of ``rows`` (valid, settled rows gathered once for the whole
        input), in bulk between the rows that close a chunk, with the same state and results as row by row. Stops
        at the first row whose update gave a :class:`SlipEvent` or a put-back (:meth:`pop_put_back`): returns its
        position in ``rows`` and the event (``None`` for a put-back); ``(len(rows), None)`` when none did.

        Between two chunk closes nothing can be decided: a data gap (``gap_s`` >= ``chunk_s``) closes a chunk, so
        the rows inside one only add to its sums, unless one lies beyond ``extreme_deg`` (then they go row by row).
        Where a chunk ends is found by a sorted search within each stretch of rows whose time does not go back;
        a row more than 90 deg from the reference by a running count over a window of rows. The sums are added in
        the same order as row by row, so they are equal to the last bit.
        """
        n = len(rows)
        if self._event is not None:
            return n, None  # nothing more is found until the reference changes
        st = self._settings
        t_l, ux, uy, uz, e_l = rows.t, rows.ux, rows.uy, rows.uz, rows.energy
        bulk = st.gap_s >= st.chunk_s and st.extreme_deg >= 90.0  # else every row goes row by row
        still_l, n_still = rows.still(st.still_energy)
        over = _OverCount(rows, self._u0)
        t_arr, back = rows.t_array, rows.backward
        chunk_s = st.chunk_s
        pos = start
        while pos < n:  # an event is returned on the row that finds it, so none is set while this runs
            event = self.update_row(t_l[pos], ux[pos], uy[pos], uz[pos], e_l[pos], False)
            if event is not None or self._put_back is not None:
                return pos, event
            pos += 1
            if not bulk:
                continue
            # Rows pos..hi-1 run forward in time from chunk_t0 on; the next chunk close among them is the first
            # with t - chunk_t0 >= chunk_s (as update_row tests it). A row where time goes back (it may close the
            # chunk by going back past chunk_t0) goes row by row: hi == pos when it is the next one.
            k = int(np.searchsorted(back, pos, side="left"))
            hi = int(back[k]) if k < len(back) else n
            end = _first_reaching(t_arr, t_l, pos, hi, self._chunk_t0, chunk_s)
            if end == pos:
                continue
            if over.any(pos, end):
                for j in range(pos, end):  # rare: the tag turned over
                    self.update_row(t_l[j], ux[j], uy[j], uz[j], e_l[j], False)
            else:
                k = int(n_still[end] - n_still[pos])
                if k < end - pos:
                    self._all_still = False
                if k:  # the same additions, in the same order, as update_row's
                    flags = still_l[pos:end]
                    self._sum[0] = reduce(operator.add, compress(ux[pos:end], flags), self._sum[0])
                    self._sum[1] = reduce(operator.add, compress(uy[pos:end], flags), self._sum[1])
                    self._sum[2] = reduce(operator.add, compress(uz[pos:end], flags), self._sum[2])
                    self._n += k
                last = t_l[end - 1]
                if math.isnan(self._t_last) or last > self._t_last:
                    self._t_last = last
            pos = end
        return n, None

    def _start(self, cause: SlipCause, t: float) -> None:
        if self._cause in (SlipCause.TAKEN_OFF, SlipCause.DATA_GAP) and cause is SlipCause.STEP:
            return
        self._cause = cause
        self._cause_t = t
        self._angles = []
        self._vectors = []

    def _close_chunk(self, t: float) -> SlipEvent | None:
        st = self._settings
        if self._cause is not None and t - self._cause_t > st.max_confirm_s:
            self._cause = None
        if not (self._all_still and self._n >= 3):
            return None
        v = _unit(self._sum)
        angle = _angle_deg(v, self._u0)
        t_chunk = self._chunk_t0
        if angle > st.off_body_deg:
            self._off_s += st.chunk_s
            if self._off_s >= st.off_body_min_s:
                self._start(SlipCause.TAKEN_OFF, t_chunk)
            self._prev_chunk = None
            return None
        self._off_s = 0.0
        prev = self._prev_chunk
        if (
            st.detect_steps
            and self._cause is None
            and prev is not None
            and t_chunk - self._prev_chunk_t <= st.step_max_s + st.chunk_s
            and _angle_deg(prev, v) >= st.step_deg
        ):
            self._start(SlipCause.STEP, t_chunk)
        self._prev_chunk = v
        self._prev_chunk_t = t_chunk
        if self._cause is None:
            return None
        self._angles.append(angle)
        self._vectors.append(v)
        need = st.step_confirm_s if self._cause is SlipCause.STEP else st.confirm_still_s
        if len(self._angles) * st.chunk_s < need:
            return None
        shift = float(np.quantile(np.asarray(self._angles), st.return_quantile))
        cause, cause_t = self._cause, self._cause_t
        self._cause = None
        if shift < st.slip_deg:
            if cause is SlipCause.TAKEN_OFF:
                self._put_back = shift
            return None
        best = self._vectors[int(np.argmin(np.asarray(self._angles)))]
        self._event = SlipEvent(
            t_s=t,
            cause=cause,
            cause_t_s=cause_t,
            shift_deg=shift,
            new_up_tag=best,
            message=(
                f"The tag seems to sit differently on your back since it was {_CAUSE_WORDS[cause]} "
                f"(about {shift:.0f} deg): please recalibrate (sit upright, keep still)."
            ),
        )
        return self._event


def _first_reaching(t: FloatArray, t_l: Sequence[float], lo: int, hi: int, t0: float, span: float) -> int:
    """The first index ``j`` in ``lo..hi-1`` with ``t[j] - t0 >= span`` as floats compute it (``hi`` if none),
    for ``t[lo:hi]`` in non-decreasing order (``t_l``: the same values as a list). A sorted search for
    ``t0 + span``, then corrected by the exact test: the sum and the difference round differently (times near 0,
    a ``span`` that is not a binary fraction)."""
    end = lo + int(np.searchsorted(t[lo:hi], t0 + span))
    while end > lo and t_l[end - 1] - t0 >= span:
        end -= 1
    while end < hi and not t_l[end] - t0 >= span:
        end += 1
    return end


class SlipRows:
    """The columns :meth:`SlipDetector.feed_rows` reads, gathered once from the valid, settled rows of an input
    (batch analysis): sample times (s), up vectors in the tag frame and motion energies, as lists for the row-by-row
    steps and arrays for the searches.

    Args:
        t_s: (N,) sample times of every row, seconds.
        up_tag: (N, 3) up vectors in the tag frame.
        motion_energy: (N,) dimensionless motion energy.
        rows: indices of the valid, settled rows, in the order they are fed.
    """

    __slots__ = ("_energy", "_still", "backward", "energy", "t", "t_array", "up", "ux", "uy", "uz")

    def __init__(
        self, t_s: FloatArray, up_tag: FloatArray, motion_energy: FloatArray, rows: npt.NDArray[np.intp]
    ) -> None:
        self.t_array: FloatArray = np.ascontiguousarray(t_s[rows], dtype=np.float64)
        self.up: FloatArray = np.ascontiguousarray(up_tag[rows], dtype=np.float64)
        energy = self._energy = np.asarray(motion_energy[rows], dtype=np.float64)
        self.t: list[float] = self.t_array.tolist()
        self.ux: list[float] = self.up[:, 0].tolist()
        self.uy: list[float] = self.up[:, 1].tolist()
        self.uz: list[float] = self.up[:, 2].tolist()
        self.energy: list[float] = energy.tolist()
        # Rows whose time is earlier than the row before (rare: a clock step back).
        self.backward: npt.NDArray[np.intp] = np.flatnonzero(self.t_array[1:] < self.t_array[:-1]) + 1
        self._still: dict[float, tuple[list[bool], npt.NDArray[np.intp]]] = {}

    def __len__(self) -> int:
        return len(self.t)

    def still(self, still_energy: float) -> tuple[list[bool], npt.NDArray[np.intp]]:
        """Per row, whether its motion energy is below ``still_energy``; and the running count of such rows
        (``count[j]``: among the first ``j`` rows)."""
        cached = self._still.get(still_energy)
        if cached is None:
            flags = self._energy < still_energy
            count = np.zeros(len(flags) + 1, dtype=np.intp)
            np.cumsum(flags, out=count[1:])
            cached = (flags.tolist(), count)
            self._still[still_energy] = cached
        return cached


class _OverCount:
    """Whether a range of :class:`SlipRows` holds a row more than 90 deg from ``u0`` (negative dot product), from a
    running count over a window of rows, computed again when a range leaves it."""

    _WINDOW = 1 << 16

    def __init__(self, rows: SlipRows, u0: Vec3) -> None:
        self._up = rows.up
        self._u0 = u0
        self._lo = 0
        self._hi = 0
        self._count = np.zeros(1, dtype=np.intp)

    def any(self, lo: int, hi: int) -> bool:
        if lo < self._lo or hi > self._hi:
            up, u0 = self._up, self._u0
            w_hi = min(len(up), max(hi, lo + self._WINDOW))
            block = up[lo:w_hi]
            over = block[:, 0] * u0[0] + block[:, 1] * u0[1] + block[:, 2] * u0[2] < 0.0
            self._count = np.zeros(len(over) + 1, dtype=np.intp)
            np.cumsum(over, out=self._count[1:])
            self._lo, self._hi = lo, w_hi
        return bool(self._count[hi - self._lo] > self._count[lo - self._lo])


_CAUSE_WORDS: dict[SlipCause, str] = {
    SlipCause.TAKEN_OFF: "taken off",
    SlipCause.DATA_GAP: "out of reach",
    SlipCause.STEP: "moved",
    SlipCause.PUT_ON: "last worn",
}
