"""Orientation stage: the direction of gravity ("up") in the tag frame, and how much the tag is moving.

Posture needs tilt only, so the output of this stage is ``up_tag``: the unit vector, in the tag frame,
that points away from the earth. It is the direction an accelerometer at rest reads (``+1 g`` on the up
axis, see :mod:`posturebuddy.model`). Heading is never needed and never estimated.

Four sources of tilt, chosen per sample from what the samples carry (best first):

``quaternion``
    the tag's own orientation ``q`` (tag -> earth, ``v_earth = q v_tag q^-1``, earth z up). Up in the
    tag frame is ``q^-1 (0, 0, 1) q = R(q)^T e_z``, the third *row* of ``R(q)``:
    ``(2(xz - wy), 2(yz + wx), w^2 - x^2 - y^2 + z^2)``.
``gravity``
    the tag's own gravity estimate (``Sample.gravity_g``), normalised.
``ahrs``
    raw accelerometer + gyroscope through x-io Technologies' Fusion AHRS (``imufusion``), with
    gyroscope-bias correction (``imufusion.Bias``) and acceleration rejection. The sample period is
    taken from the sample timestamps before every update.
``accel``
    accelerometer only (e.g. BBC micro:bit): a first-order low-pass of the accelerometer vector with
    time constant ``accel_time_constant_s`` (dt-aware: ``alpha = 1 - exp(-dt / tau)``), normalised.

Source selection: a source is *available* at a sample if a sample carrying it arrived no more than
``source_timeout_s`` ago. The best available source is *active*. Samples that carry the active source
update the tilt; other samples (e.g. the accelerometer-only packets of a Thingy:52 whose tilt comes from
its quaternion packets) hold the last tilt but still update the motion measures. When a source becomes
active again after another one was, or after a gap longer than ``max_gap_s``, its state is
re-initialised (``restarted``).

Timestamps: ``dt`` of a stream is measured from the latest time seen on that stream. A duplicate or
backwards timestamp (``dt <= 0``) changes no filter state (the AHRS is not updated, the low-pass weight
is 0); a jump forward beyond ``max_gap_s`` re-initialises that stream.

Motion measures (all first-order low-passes with time constant ``motion_time_constant_s``, dt-aware,
restarted after gaps):

``motion_g``
    smoothed ``|accel - up_tag|`` in g: the size of the non-gravity (linear) acceleration.
``rotation_dps``
    smoothed angular speed in deg/s: ``|gyro - bias|`` where a gyroscope is present, otherwise the
    rotation angle between consecutive tag quaternions divided by ``dt``.
``motion_energy``
    one dimensionless number, ``max(motion_g / motion_ref_g, rotation_dps / motion_ref_dps)``; about 1
    at the edge of deliberate movement, well below 1 at rest (0 until anything is known).

The streaming :class:`TiltEstimator` and the batch :func:`estimate_tilt_batch` implement the same
maths; the batch is vectorised except for the AHRS recursion and agrees with the streaming output to
rounding (``tests/motion/test_orientation.py`` proves it).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import imufusion
import numpy as np
import numpy.typing as npt

from posturebuddy.model import Sample, Vec3

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

_MIN_NORM = 1e-6
"""Accelerometer, gravity and quaternion vectors shorter than this are treated as absent (a zero vector is
how some decoders say "no reading"); gyroscope readings only need to be finite."""
_DEFAULT_RATE_HZ = 100.0
"""Rate assumed for the AHRS until the timestamps have told the real one."""
_RATE_WINDOW = 32
"""Number of sample periods whose median re-estimates the AHRS sample rate."""
_RATE_TOLERANCE = 0.1
"""Relative change of the estimated rate that makes the AHRS settings be re-applied."""
_ACQ_MAX_TILT_DEG = 2.0
"""Gyro-offset acquisition: the accelerometer direction may move this much over the steady window, degrees."""
_CHUNK_TIME_CONSTANTS = 300.0
"""Span of one vectorised low-pass chunk in time constants (keeps ``exp`` far from overflow)."""


class TiltSource(enum.StrEnum):
    """Where a tilt estimate came from (best first in selection order)."""

    QUATERNION = "quaternion"
    GRAVITY = "gravity"
    AHRS = "ahrs"
    ACCEL = "accel"


# Rank of each source: the index into per-source tables. Higher is preferred.
_ACCEL, _AHRS, _GRAVITY, _QUATERNION = 0, 1, 2, 3
_SOURCES: tuple[TiltSource, ...] = (TiltSource.ACCEL, TiltSource.AHRS, TiltSource.GRAVITY, TiltSource.QUATERNION)
_NO_SOURCE = -1


def _require(condition: bool, owner: str, name: str, value: object, allowed: str) -> None:
    if not condition:
        raise ValueError(f"{owner}.{name} = {value!r} is not allowed: must be {allowed}")


@dataclass(frozen=True, slots=True)
class AhrsSettings:
    """Settings of the raw accel + gyro path (x-io Fusion AHRS through ``imufusion``).

    Attributes:
        gain: Fusion's complementary-filter gain (dimensionless; 0.5 is x-io's default). Lower trusts the
            gyroscope longer; higher follows the accelerometer faster.
        acceleration_rejection_deg: the accelerometer is ignored while its direction disagrees with the
            filter's gravity by more than this many degrees. 0 disables rejection.
        rejection_timeout_s: after this long of (mostly) rejected accelerometer the filter gives up rejecting
            and recovers onto the accelerometer (Fusion's "recovery trigger period"). 0 disables rejection.
            20 s, not x-io's 5 s: a worn tag sees sustained disturbance (carrying, walking, bumps) and a short
            timeout makes the filter lock onto a disturbed accelerometer (see ``docs/orientation.md``).
        gyro_range_dps: full-scale range of the gyroscope, degrees per second; a reading near it restarts the
            filter softly (overrange recovery). 0 disables the check.
        sample_rate_hz: nominal sample rate for Fusion's sample-count based timings (startup ramp, rejection
            timeout, bias period). ``None`` estimates it from the timestamps (median of recent periods).
        gyro_bias_correction: run ``imufusion.Bias`` (learns the gyroscope offset while it reads below
            ``bias_threshold_dps`` for ``bias_period_s``).
        bias_threshold_dps: the gyroscope counts as still below this rate on every axis, degrees per second.
        bias_period_s: how long it must be still before the offset is learnt, seconds.
    """

    gain: float = 0.5
    acceleration_rejection_deg: float = 10.0
    rejection_timeout_s: float = 20.0
    gyro_range_dps: float = 2000.0
    sample_rate_hz: float | None = None
    gyro_bias_correction: bool = True
    bias_threshold_dps: float = 3.0
    bias_period_s: float = 3.0

    def __post_init__(self) -> None:
        own = "AhrsSettings"
        _require(math.isfinite(self.gain) and self.gain >= 0.0, own, "gain", self.gain, "a number >= 0")
        _require(
            0.0 <= self.acceleration_rejection_deg <= 180.0,
            own,
            "acceleration_rejection_deg",
            self.acceleration_rejection_deg,
            "0..180 degrees (0 disables)",
        )
        _require(
            math.isfinite(self.rejection_timeout_s) and self.rejection_timeout_s >= 0.0,
            own,
            "rejection_timeout_s",
            self.rejection_timeout_s,
            "seconds >= 0 (0 disables rejection)",
        )
        _require(
            math.isfinite(self.gyro_range_dps) and self.gyro_range_dps >= 0.0,
            own,
            "gyro_range_dps",
            self.gyro_range_dps,
            "degrees per second >= 0 (0 disables)",
        )
        _require(
            self.sample_rate_hz is None or (math.isfinite(self.sample_rate_hz) and self.sample_rate_hz > 0.0),
            own,
            "sample_rate_hz",
            self.sample_rate_hz,
            "None (estimate) or a rate > 0 Hz",
        )
        _require(
            math.isfinite(self.bias_threshold_dps) and self.bias_threshold_dps > 0.0,
            own,
            "bias_threshold_dps",
            self.bias_threshold_dps,
            "degrees per second > 0",
        )
        _require(
            math.isfinite(self.bias_period_s) and self.bias_period_s > 0.0,
            own,
            "bias_period_s",
            self.bias_period_s,
            "seconds > 0",
        )


@dataclass(frozen=True, slots=True)
class AccelCalibration:
    """A fixed per-axis correction of the accelerometer: ``corrected = (raw - bias_g) / scale``, per tag axis.

    Why: an accelerometer-only tag takes its tilt from the direction of the raw accelerometer, so the
    sensor's own zero-g offset and per-axis sensitivity error bend every angle. To first order a flexion
    ``a`` in the plane of the tag axes ``f`` (forward) and ``u`` (up) reads ``a (1 + s_f - s_u - b_u)``
    (``s``: relative sensitivity error, ``b``: offset in g); consumer MEMS parts have offsets of tens of mg
    and sensitivity errors of a few per cent, so the angles read 3-5 % small or large. The upright reference
    is captured with the same error, which cancels at upright but not away from it (0.5-1 deg at a 15-deg
    threshold; on a slow slouch of 0.15-0.3 deg/s that is seconds of dwell delay). Estimate it with
    :func:`fit_accel_calibration`.

    Attributes:
        bias_g: zero-g offset per tag axis, g.
        scale: sensitivity per tag axis relative to nominal (dimensionless, 1 = exact).
    """

    bias_g: Vec3 = (0.0, 0.0, 0.0)
    scale: Vec3 = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        own = "AccelCalibration"
        _require(
            len(self.bias_g) == 3 and all(math.isfinite(b) and abs(b) < 0.5 for b in self.bias_g),
            own,
            "bias_g",
            self.bias_g,
            "three finite offsets below 0.5 g",
        )
        _require(
            len(self.scale) == 3 and all(math.isfinite(k) and 0.5 < k < 2.0 for k in self.scale),
            own,
            "scale",
            self.scale,
            "three sensitivities between 0.5 and 2",
        )

    def apply(self, accel_g: Vec3) -> Vec3:
        """Correct one reading (g); the same IEEE operations as :meth:`apply_rows`."""
        b, k = self.bias_g, self.scale
        return ((accel_g[0] - b[0]) / k[0], (accel_g[1] - b[1]) / k[1], (accel_g[2] - b[2]) / k[2])

    def apply_rows(self, accel_g: FloatArray) -> FloatArray:
        """Correct readings of shape (N, 3), g (NaN rows stay NaN)."""
        out: FloatArray = (accel_g - np.asarray(self.bias_g)) / np.asarray(self.scale)
        return out


@dataclass(frozen=True, slots=True)
class OrientationSettings:
    """Settings of the orientation stage.

    Attributes:
        ahrs: settings of the raw accel + gyro path.
        accel_time_constant_s: time constant of the accelerometer-only low-pass, seconds. Posture changes over
            seconds to minutes, so 0.5 s of lag costs nothing, and it attenuates walking-cadence (~2 Hz)
            acceleration about sixfold. See ``docs/orientation.md`` for the measured trade-off.
        motion_time_constant_s: time constant of the motion measures' smoothing, seconds.
        max_gap_s: a stream whose timestamps jump forward by more than this is re-initialised, seconds.
        source_timeout_s: a source counts as available this long after the last sample that carried it,
            seconds.
        motion_ref_g: linear acceleration that scores 1 in ``motion_energy``, g.
        motion_ref_dps: angular speed that scores 1 in ``motion_energy``, degrees per second.
        accel_calibration: correction applied to every accelerometer reading before anything else uses it
            (tilt of the ``accel`` and ``ahrs`` sources, motion measures), or ``None`` for the raw readings.
            For the tag it was estimated on (see :class:`AccelCalibration`).
    """

    ahrs: AhrsSettings = field(default_factory=AhrsSettings)
    accel_time_constant_s: float = 0.5
    motion_time_constant_s: float = 0.5
    max_gap_s: float = 0.5
    source_timeout_s: float = 1.0
    motion_ref_g: float = 0.05
    motion_ref_dps: float = 10.0
    accel_calibration: AccelCalibration | None = None

    def __post_init__(self) -> None:
        own = "OrientationSettings"
        for name in (
            "accel_time_constant_s",
            "motion_time_constant_s",
            "max_gap_s",
            "source_timeout_s",
            "motion_ref_g",
            "motion_ref_dps",
        ):
            value = getattr(self, name)
            _require(math.isfinite(value) and value > 0.0, own, name, value, "a number > 0")


@dataclass(frozen=True, slots=True)
class TiltEstimate:
    """The orientation stage's output for one sample.

    Attributes:
        t_s: sample time, seconds.
        up_tag: unit vector in the tag frame pointing up (the direction the accelerometer reads at rest).
        source: which source the tilt came from (held from an earlier sample if this one did not carry it).
        motion_energy: dimensionless movement score, see the module docstring (about 1 = deliberate movement).
        motion_g: smoothed ``|accel - up_tag|``, g (NaN until an accelerometer sample has been seen).
        rotation_dps: smoothed angular speed, degrees per second (NaN until known).
        accel_rejected: AHRS: the accelerometer was ignored at this update (acceleration rejection).
        recovering: AHRS: acceleration-rejection timeout or gyroscope-overrange recovery is in progress.
        initialising: the source's filter has just been (re)initialised: AHRS startup ramp, or the
            accelerometer low-pass within one time constant of its restart. Tilt is less certain.
        restarted: this sample (re)initialised the source's state (first sample, source switch or gap).
    """

    t_s: float
    up_tag: Vec3
    source: TiltSource
    motion_energy: float
    motion_g: float
    rotation_dps: float
    accel_rejected: bool = False
    recovering: bool = False
    initialising: bool = False
    restarted: bool = False


# ---------------------------------------------------------------------------------------------
# Conversions (vectorised)


def quat_to_up(quat_wxyz: npt.ArrayLike) -> FloatArray:
    """Up direction in the tag frame from tag -> earth quaternions (earth z up).

    Args:
        quat_wxyz: quaternions ``(w, x, y, z)``, shape (4,) or (N, 4); normalised here.

    Returns:
        Unit up vectors in the tag frame, shape (3,) or (N, 3): the third row of ``R(q)``.
    """
    q = np.asarray(quat_wxyz, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack((2.0 * (x * z - w * y), 2.0 * (y * z + w * x), w * w - x * x - y * y + z * z), axis=-1)


def up_to_quat(up_tag: npt.ArrayLike) -> FloatArray:
    """The zero-heading tag -> earth quaternion whose up direction is ``up_tag``.

    The shortest rotation that takes ``up_tag`` onto earth z: ``q = normalise(1 + u_z, u x e_z)``
    ``= normalise(1 + u_z, u_y, -u_x, 0)``; for ``u`` pointing straight down, 180 degrees about x.

    Args:
        up_tag: up vectors in the tag frame, shape (3,) or (N, 3); normalised here.

    Returns:
        Quaternions ``(w, x, y, z)``, shape (4,) or (N, 4).
    """
    u = np.asarray(up_tag, dtype=np.float64)
    u = u / np.linalg.norm(u, axis=-1, keepdims=True)
    q = np.stack((1.0 + u[..., 2], u[..., 1], -u[..., 0], np.zeros_like(u[..., 0])), axis=-1)
    norm = np.linalg.norm(q, axis=-1, keepdims=True)
    flipped = norm[..., 0] < 1e-9
    q = q / np.where(norm < 1e-9, 1.0, norm)
    q[flipped] = (0.0, 1.0, 0.0, 0.0)
    return q


def tilt_angle_deg(up_a: npt.ArrayLike, up_b: npt.ArrayLike) -> FloatArray:
    """Angle between two up directions, degrees (``atan2(|a x b|, a . b)``, accurate near 0).

    Args:
        up_a: vectors, shape (3,) or (N, 3) (need not be unit length).
        up_b: vectors, broadcastable against ``up_a``.

    Returns:
        Angles in degrees, shape () or (N,).
    """
    a = np.asarray(up_a, dtype=np.float64)
    b = np.asarray(up_b, dtype=np.float64)
    cross = np.linalg.norm(np.cross(a, b), axis=-1)
    dot = np.sum(a * b, axis=-1)
    angle: FloatArray = np.degrees(np.arctan2(cross, dot))
    return angle


def _quat_rotation_angle_deg(q_prev: FloatArray, q_next: FloatArray) -> FloatArray:
    """Rotation angle between unit quaternions, degrees: ``2 atan2(|v|, |w|)`` of ``q_prev^-1 q_next``.

    Shapes: (N, 4), (N, 4) -> (N,). Computed in blocks of rows (elementwise, so the same values as in one go),
    whose temporaries stay in the cache.
    """
    out = np.empty(q_prev.shape[0])
    for b0, b1 in _blocks(q_prev.shape[0]):
        a, b = q_prev[b0:b1], q_next[b0:b1]
        w1, x1, y1, z1 = a[:, 0], -a[:, 1], -a[:, 2], -a[:, 3]
        w2, x2, y2, z2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
        w = w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2
        x = w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2
        y = w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2
        z = w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2
        out[b0:b1] = np.degrees(2.0 * np.arctan2(np.sqrt(x * x + y * y + z * z), np.abs(w)))
    return out


_BLOCK_ROWS = 16_384
"""Rows per block of the blockwise batch helpers (a few hundred kB of temporaries: they stay in the cache)."""


def _blocks(n: int) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` of consecutive blocks of at most ``_BLOCK_ROWS`` rows covering ``n`` rows."""
    for start in range(0, n, _BLOCK_ROWS):
        yield start, min(n, start + _BLOCK_ROWS)


# ---------------------------------------------------------------------------------------------
# Scalar helpers for the streaming path (plain floats are faster than numpy for one sample)


def _usable3(v: Sequence[float] | None, *, nonzero: bool = True) -> Vec3 | None:
    if v is None:
        return None
    x, y, z = float(v[0]), float(v[1]), float(v[2])
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return None
    if nonzero and math.sqrt(x * x + y * y + z * z) <= _MIN_NORM:
        return None
    return (x, y, z)


def _usable_quat(q: Sequence[float] | None) -> tuple[float, float, float, float] | None:
    if q is None:
        return None
    w, x, y, z = float(q[0]), float(q[1]), float(q[2]), float(q[3])
    if not (math.isfinite(w) and math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return None
    n = math.sqrt(w * w + x * x + y * y + z * z)
    if n <= _MIN_NORM:
        return None
    return (w / n, x / n, y / n, z / n)


def _unit(v: Sequence[float]) -> Vec3:
    n = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    return (v[0] / n, v[1] / n, v[2] / n)


def _quat_up_scalar(q: tuple[float, float, float, float]) -> Vec3:
    w, x, y, z = q
    return (2.0 * (x * z - w * y), 2.0 * (y * z + w * x), w * w - x * x - y * y + z * z)


def _quat_angle_deg_scalar(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w1, x1, y1, z1 = a[0], -a[1], -a[2], -a[3]
    w2, x2, y2, z2 = b
    w = w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2
    x = w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2
    y = w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2
    z = w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2
    return math.degrees(2.0 * math.atan2(math.sqrt(x * x + y * y + z * z), abs(w)))


def _dist3(a: Sequence[float], b: Sequence[float]) -> float:
    dx, dy, dz = a[0] - b[0], a[1] - b[1], a[2] - b[2]
    return math.sqrt(dx * dx + dy * dy + dz * dz)


class _Smoother:
    """First-order low-pass of a scalar, dt-aware, restarted after a gap (streaming twin of ``_lowpass``)."""

    __slots__ = ("max_gap_s", "t_max", "tau_s", "value")

    def __init__(self, tau_s: float, max_gap_s: float) -> None:
        self.tau_s = tau_s
        self.max_gap_s = max_gap_s
        self.value = math.nan
        self.t_max = -math.inf

    def update(self, t: float, x: float) -> None:
        dt = t - self.t_max
        if dt > self.max_gap_s:
            self.value = x
        elif dt > 0.0:
            self.value += -math.expm1(-dt / self.tau_s) * (x - self.value)
        if t > self.t_max:
            self.t_max = t


# ---------------------------------------------------------------------------------------------
# The AHRS path (shared by streaming and batch, so both make exactly the same imufusion calls)


@dataclass(frozen=True, slots=True)
class _AhrsOut:
    up: Vec3
    accel_rejected: bool
    recovering: bool
    initialising: bool
    restarted: bool


class _BiasAcquirer:
    """Coarse gyroscope-offset acquisition for offsets that ``imufusion.Bias`` cannot see.

    Fusion's offset tracker only learns while the *corrected* rate is below ``bias_threshold_dps`` on every
    axis, so a raw offset beyond it (uncalibrated tags: the MPU-9250 in the SensorTag has a +-5 dps zero-rate
    tolerance) is never learnt, the AHRS tilts by ~offset / gain and ``rotation_dps`` never drops. This watches
    the corrected rate: when it has been steady (every axis within ``bias_threshold_dps`` of where it started)
    for ``bias_period_s`` while the accelerometer's direction stayed put (within ``_ACQ_MAX_TILT_DEG``: the
    tag did not tilt, so a steady rate that large is offset, not turning), yet its mean is beyond the
    threshold, the mean is the missing offset: it is handed to ``Bias`` (which then refines it as usual).
    """

    __slots__ = ("_a0", "_count", "_g0", "_settings", "_sum", "_t0")

    def __init__(self, settings: AhrsSettings) -> None:
        self._settings = settings
        self._t0 = math.nan
        self._a0: Vec3 = (0.0, 0.0, 0.0)
        self._g0: Vec3 = (0.0, 0.0, 0.0)
        self._sum = [0.0, 0.0, 0.0]
        self._count = 0

    def reset(self) -> None:
        self._t0 = math.nan
        self._count = 0

    def _start(self, t: float, g: Vec3, a: Vec3) -> None:
        self._t0 = t
        self._g0 = g
        self._a0 = a
        self._sum = [g[0], g[1], g[2]]
        self._count = 1

    def update(self, t: float, gyro: FloatArray, accel: FloatArray, offset: Vec3) -> Vec3 | None:
        """One sample (raw gyro in dps, accel in g); returns a new offset to apply, or ``None``."""
        s = self._settings
        g = (float(gyro[0]) - offset[0], float(gyro[1]) - offset[1], float(gyro[2]) - offset[2])
        a = (float(accel[0]), float(accel[1]), float(accel[2]))
        if self._count == 0:
            self._start(t, g, a)
            return None
        g0 = self._g0
        steady = max(abs(g[0] - g0[0]), abs(g[1] - g0[1]), abs(g[2] - g0[2])) <= s.bias_threshold_dps
        a0 = self._a0
        cross = (a0[1] * a[2] - a0[2] * a[1], a0[2] * a[0] - a0[0] * a[2], a0[0] * a[1] - a0[1] * a[0])
        dot = a0[0] * a[0] + a0[1] * a[1] + a0[2] * a[2]
        tilt = math.degrees(math.atan2(math.sqrt(cross[0] ** 2 + cross[1] ** 2 + cross[2] ** 2), dot))
        if not steady or tilt > _ACQ_MAX_TILT_DEG:
            self._start(t, g, a)
            return None
        self._sum[0] += g[0]
        self._sum[1] += g[1]
        self._sum[2] += g[2]
        self._count += 1
        if t - self._t0 < s.bias_period_s:
            return None
        n = self._count
        mean = (self._sum[0] / n, self._sum[1] / n, self._sum[2] / n)
        self.reset()
        if max(abs(mean[0]), abs(mean[1]), abs(mean[2])) <= s.bias_threshold_dps:
            return None  # within Fusion's own reach
        return (offset[0] + mean[0], offset[1] + mean[1], offset[2] + mean[2])


class _AhrsCore:
    """imufusion Ahrs + Bias with timestamp-driven sample periods, gap restarts and rate estimation."""

    __slots__ = (
        "_acq",
        "_ahrs",
        "_bias",
        "_dts",
        "_max_gap_s",
        "_rate_hz",
        "_settings",
        "_started",
        "_t_max",
        "offset",
    )

    def __init__(self, settings: AhrsSettings, max_gap_s: float) -> None:
        self._settings = settings
        self._max_gap_s = max_gap_s
        self._ahrs = imufusion.Ahrs()
        self._bias = imufusion.Bias() if settings.gyro_bias_correction else None
        self._rate_hz = settings.sample_rate_hz if settings.sample_rate_hz is not None else _DEFAULT_RATE_HZ
        self._dts: list[float] = []
        self._t_max = -math.inf
        self._started = False
        self.offset: Vec3 = (0.0, 0.0, 0.0)
        """Current gyroscope offset (bias) estimate, degrees per second."""
        self._acq = _BiasAcquirer(settings)
        self._configure(self._rate_hz)

    def _configure(self, rate_hz: float) -> None:
        s = self._settings
        self._rate_hz = rate_hz
        self._ahrs.set_settings(
            imufusion.AhrsSettings(
                sample_rate=rate_hz,
                convention=imufusion.CONVENTION_NWU,  # z up; heading is irrelevant to tilt
                gain=s.gain,
                gyroscope_range=s.gyro_range_dps,
                acceleration_rejection=s.acceleration_rejection_deg,
                magnetic_rejection=0.0,
                rejection_timeout=s.rejection_timeout_s,
            )
        )
        if self._bias is not None:
            self._bias.set_settings(
                imufusion.BiasSettings(
                    sample_rate=rate_hz,
                    stationary_threshold=s.bias_threshold_dps,
                    stationary_period=s.bias_period_s,
                )
            )

    def _track_rate(self, dt: float) -> None:
        if self._settings.sample_rate_hz is not None:
            return
        dts = self._dts
        dts.append(dt)
        if len(dts) >= _RATE_WINDOW:
            dts.sort()
            rate = 1.0 / dts[_RATE_WINDOW // 2]
            dts.clear()
            if abs(rate / self._rate_hz - 1.0) > _RATE_TOLERANCE:
                self._configure(rate)

    def step(self, t: float, gyro: FloatArray, accel: FloatArray, force_restart: bool) -> _AhrsOut:
        """One sample (gyro in dps, accel in g, both usable). Restarts on request, first use or a gap."""
        dt = t - self._t_max
        if t > self._t_max:
            self._t_max = t
        ahrs = self._ahrs
        restarted = force_restart or not self._started or dt > self._max_gap_s
        if restarted:
            # Start from the accelerometer's tilt (zero heading) rather than identity: the startup ramp then
            # only has to confirm it. The startup ramp (and its accepting every accelerometer sample) is kept.
            ahrs.restart()
            ahrs.set_quaternion(up_to_quat(accel))
            self._started = True
            self._acq.reset()
        elif dt > 0.0:
            self._track_rate(dt)
            ahrs.set_sample_period(dt)
            if self._bias is not None:
                shift = self._acq.update(t, gyro, accel, self.offset)
                if shift is not None:
                    self._bias.set_offset(np.array(shift))
                corrected = self._bias.update(gyro)
                offset = self._bias.get_offset()
                self.offset = (float(offset[0]), float(offset[1]), float(offset[2]))
                ahrs.update_no_magnetometer(corrected, accel)
            else:
                ahrs.update_no_magnetometer(gyro, accel)
        g = ahrs.get_gravity()
        states = ahrs.get_internal_states()
        flags = ahrs.get_flags()
        return _AhrsOut(
            up=_unit((float(g[0]), float(g[1]), float(g[2]))),
            accel_rejected=bool(states.accelerometer_ignored),
            recovering=bool(flags.acceleration_recovery or flags.overrange_recovery),
            initialising=bool(flags.startup),
            restarted=restarted,
        )


# ---------------------------------------------------------------------------------------------
# Streaming


class TiltEstimator:
    """Streaming orientation stage: feed :class:`~posturebuddy.model.Sample` objects in time order.

    ``update`` returns ``None`` until some sample has given a tilt, then one :class:`TiltEstimate` per
    sample. Not thread-safe; one instance per tag.
    """

    def __init__(self, settings: OrientationSettings | None = None) -> None:
        self._settings = settings if settings is not None else OrientationSettings()
        self.reset()

    @property
    def settings(self) -> OrientationSettings:
        """The settings this estimator runs with."""
        return self._settings

    def reset(self) -> None:
        """Forget everything (e.g. a different tag was connected)."""
        st = self._settings
        self._last_seen: list[float | None] = [None, None, None, None]
        self._needs_restart = [True, True, True, True]
        self._src_t_max = [-math.inf] * 4
        self._core = _AhrsCore(st.ahrs, st.max_gap_s)
        self._lp: Vec3 = (0.0, 0.0, 0.0)
        self._lp_t0 = 0.0
        self._q_last: tuple[float, float, float, float] | None = None
        self._q_t_max = -math.inf
        self._motion = _Smoother(st.motion_time_constant_s, st.max_gap_s)
        self._accel_lp: Vec3 = (0.0, 0.0, 0.0)
        self._accel_lp_t_max = -math.inf
        self._rotation = _Smoother(st.motion_time_constant_s, st.max_gap_s)
        self._up: Vec3 | None = None
        self._source = _NO_SOURCE
        self._flags = (False, False, False)  # accel_rejected, recovering, initialising

    def update(self, sample: Sample) -> TiltEstimate | None:
        """Process one sample; return the current estimate (``None`` while no tilt is known yet)."""
        st = self._settings
        t = float(sample.t_s)
        accel = _usable3(sample.accel_g)
        if accel is not None and st.accel_calibration is not None:
            accel = st.accel_calibration.apply(accel)
        gyro = _usable3(sample.gyro_dps, nonzero=False)  # a still gyroscope legitimately reads zero
        quat = _usable_quat(sample.quat_wxyz)
        grav = _usable3(sample.gravity_g)
        caps = (accel is not None, accel is not None and gyro is not None, grav is not None, quat is not None)

        last_seen = self._last_seen
        for rank in range(4):
            if caps[rank]:
                last_seen[rank] = t
        active = _NO_SOURCE
        for rank in (_QUATERNION, _GRAVITY, _AHRS, _ACCEL):
            seen = last_seen[rank]
            if seen is not None and t - seen <= st.source_timeout_s:
                active = rank
                break
        needs_restart = self._needs_restart
        for rank in range(4):
            if rank != active:
                needs_restart[rank] = True

        restarted = False
        if active != _NO_SOURCE and caps[active]:
            dt = t - self._src_t_max[active]
            if t > self._src_t_max[active]:
                self._src_t_max[active] = t
            restart = needs_restart[active] or dt > st.max_gap_s
            switched = needs_restart[active]
            needs_restart[active] = False
            if active == _QUATERNION:
                assert quat is not None
                self._up = _quat_up_scalar(quat)
                self._flags = (False, False, False)
                restarted = restart
            elif active == _GRAVITY:
                assert grav is not None
                self._up = _unit(grav)
                self._flags = (False, False, False)
                restarted = restart
            elif active == _AHRS:
                assert gyro is not None
                assert accel is not None
                out = self._core.step(t, np.array(gyro), np.array(accel), switched)
                self._up = out.up
                self._flags = (out.accel_rejected, out.recovering, out.initialising)
                restarted = out.restarted
            else:
                assert accel is not None
                if restart:
                    self._lp = accel
                    self._lp_t0 = self._src_t_max[_ACCEL]
                elif dt > 0.0:
                    alpha = -math.expm1(-dt / st.accel_time_constant_s)
                    lp = self._lp
                    self._lp = (
                        lp[0] + alpha * (accel[0] - lp[0]),
                        lp[1] + alpha * (accel[1] - lp[1]),
                        lp[2] + alpha * (accel[2] - lp[2]),
                    )
                lp = self._lp
                norm = math.sqrt(lp[0] * lp[0] + lp[1] * lp[1] + lp[2] * lp[2])
                self._up = (lp[0] / norm, lp[1] / norm, lp[2] / norm) if norm > _MIN_NORM else _unit(accel)
                initialising = self._src_t_max[_ACCEL] - self._lp_t0 < st.accel_time_constant_s
                self._flags = (False, False, initialising)
                restarted = restart
            self._source = active

        # Motion measures.
        rotation_in: float | None = None
        if gyro is not None:
            rotation_in = _dist3(gyro, self._core.offset)
        if quat is not None:
            if gyro is None and self._q_last is not None:
                dtq = t - self._q_t_max
                if 0.0 < dtq <= st.max_gap_s:
                    rotation_in = _quat_angle_deg_scalar(self._q_last, quat) / dtq
            self._q_last = quat
            if t > self._q_t_max:
                self._q_t_max = t
        if rotation_in is not None:
            self._rotation.update(t, rotation_in)
        up = self._up
        if up is None:
            return None
        if accel is not None:
            # High-pass: deviation of accel from its own low-pass, so a constant bias or scale error cancels.
            dt = t - self._accel_lp_t_max
            if dt > st.max_gap_s:
                self._accel_lp = accel
            elif dt > 0.0:
                alpha = -math.expm1(-dt / st.accel_time_constant_s)
                lp = self._accel_lp
                self._accel_lp = (
                    lp[0] + alpha * (accel[0] - lp[0]),
                    lp[1] + alpha * (accel[1] - lp[1]),
                    lp[2] + alpha * (accel[2] - lp[2]),
                )
            if t > self._accel_lp_t_max:
                self._accel_lp_t_max = t
            self._motion.update(t, _dist3(accel, self._accel_lp))
        motion_g = self._motion.value
        rotation_dps = self._rotation.value
        energy = max(
            0.0 if math.isnan(motion_g) else motion_g / st.motion_ref_g,
            0.0 if math.isnan(rotation_dps) else rotation_dps / st.motion_ref_dps,
        )
        rejected, recovering, initialising = self._flags
        return TiltEstimate(
            t_s=t,
            up_tag=up,
            source=_SOURCES[self._source],
            motion_energy=energy,
            motion_g=motion_g,
            rotation_dps=rotation_dps,
            accel_rejected=rejected,
            recovering=recovering,
            initialising=initialising,
            restarted=restarted,
        )


# ---------------------------------------------------------------------------------------------
# Batch


@dataclass(frozen=True, slots=True)
class SampleArrays:
    """A run of samples as arrays; NaN rows mean "this sample does not carry that field".

    Attributes:
        t_s: sample times, seconds, shape (N,).
        accel_g: specific force in g, shape (N, 3).
        gyro_dps: angular rate in degrees per second, shape (N, 3).
        quat_wxyz: tag -> earth quaternions, shape (N, 4).
        gravity_g: the tag's own gravity estimate in g, shape (N, 3).
    """

    t_s: FloatArray
    accel_g: FloatArray
    gyro_dps: FloatArray
    quat_wxyz: FloatArray
    gravity_g: FloatArray

    @staticmethod
    def create(
        t_s: npt.ArrayLike,
        *,
        accel_g: npt.ArrayLike | None = None,
        gyro_dps: npt.ArrayLike | None = None,
        quat_wxyz: npt.ArrayLike | None = None,
        gravity_g: npt.ArrayLike | None = None,
    ) -> SampleArrays:
        """Build from whichever arrays a tag provides; missing ones become all-NaN.

        Args:
            t_s: times, shape (N,).
            accel_g: shape (N, 3) or ``None``.
            gyro_dps: shape (N, 3) or ``None``.
            quat_wxyz: shape (N, 4) or ``None``.
            gravity_g: shape (N, 3) or ``None``.
        """
        t = np.asarray(t_s, dtype=np.float64).reshape(-1)
        n = t.shape[0]

        def column(values: npt.ArrayLike | None, width: int, name: str) -> FloatArray:
            if values is None:
                return np.full((n, width), np.nan)
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape != (n, width):
                raise ValueError(f"{name} must have shape ({n}, {width}), got {arr.shape}")
            return arr

        return SampleArrays(
            t,
            column(accel_g, 3, "accel_g"),
            column(gyro_dps, 3, "gyro_dps"),
            column(quat_wxyz, 4, "quat_wxyz"),
            column(gravity_g, 3, "gravity_g"),
        )

    @staticmethod
    def from_samples(samples: Iterable[Sample]) -> SampleArrays:
        """Pack :class:`~posturebuddy.model.Sample` objects into arrays (absent fields -> NaN)."""
        rows = list(samples)
        n = len(rows)
        t = np.fromiter((s.t_s for s in rows), dtype=np.float64, count=n)
        nan3 = (math.nan, math.nan, math.nan)
        nan4 = (math.nan, math.nan, math.nan, math.nan)
        accel = np.array([s.accel_g if s.accel_g is not None else nan3 for s in rows], dtype=np.float64)
        gyro = np.array([s.gyro_dps if s.gyro_dps is not None else nan3 for s in rows], dtype=np.float64)
        quat = np.array([s.quat_wxyz if s.quat_wxyz is not None else nan4 for s in rows], dtype=np.float64)
        grav = np.array([s.gravity_g if s.gravity_g is not None else nan3 for s in rows], dtype=np.float64)
        return SampleArrays.create(
            t,
            accel_g=accel.reshape(n, 3),
            gyro_dps=gyro.reshape(n, 3),
            quat_wxyz=quat.reshape(n, 4),
            gravity_g=grav.reshape(n, 3),
        )


@dataclass(frozen=True, slots=True)
class TiltSeries:
    """Batch output: one row per input sample (the arrays twin of :class:`TiltEstimate`).

    Attributes:
        t_s: shape (N,).
        valid: a tilt is known at this row (the streaming estimator returned an estimate), shape (N,).
        up_tag: unit up vectors in the tag frame, NaN where not valid, shape (N, 3).
        source: source rank per row (0 accel, 1 ahrs, 2 gravity, 3 quaternion, -1 none), shape (N,).
        motion_energy, motion_g, rotation_dps: as in :class:`TiltEstimate`, shape (N,).
        accel_rejected, recovering, initialising, restarted: flags, shape (N,).
    """

    t_s: FloatArray
    valid: BoolArray
    up_tag: FloatArray
    source: IntArray
    motion_energy: FloatArray
    motion_g: FloatArray
    rotation_dps: FloatArray
    accel_rejected: BoolArray
    recovering: BoolArray
    initialising: BoolArray
    restarted: BoolArray

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def estimate(self, index: int) -> TiltEstimate | None:
        """Row ``index`` as the streaming estimator would have returned it."""
        if not self.valid[index]:
            return None
        up = self.up_tag[index]
        return TiltEstimate(
            t_s=float(self.t_s[index]),
            up_tag=(float(up[0]), float(up[1]), float(up[2])),
            source=_SOURCES[int(self.source[index])],
            motion_energy=float(self.motion_energy[index]),
            motion_g=float(self.motion_g[index]),
            rotation_dps=float(self.rotation_dps[index]),
            accel_rejected=bool(self.accel_rejected[index]),
            recovering=bool(self.recovering[index]),
            initialising=bool(self.initialising[index]),
            restarted=bool(self.restarted[index]),
        )


def _row_norm(values: FloatArray) -> FloatArray:
    """Euclidean norm of each row, shape (N, k) -> (N,): exactly ``np.linalg.norm(values, axis=1)`` (which is
    ``sqrt(add.reduce(x * x, axis=1))``), in blocks of rows so that the squares never fill an (N, k) array."""
    out = np.empty(values.shape[0])
    for b0, b1 in _blocks(values.shape[0]):
        v = values[b0:b1]
        np.add.reduce(v * v, axis=1, out=out[b0:b1])
    return np.sqrt(out, out=out)


def _finite_rows(values: FloatArray) -> BoolArray:
    """Rows that are all finite; (N, k) -> (N,)."""
    n = values.shape[0]
    if n and np.isnan(values[:, 0]).all():
        return np.zeros(n, dtype=bool)  # a field the tag does not send
    finite = np.empty(n, dtype=bool)
    for b0, b1 in _blocks(n):
        np.logical_and.reduce(np.isfinite(values[b0:b1]), axis=1, out=finite[b0:b1])
    return finite


def _usable_rows(values: FloatArray, norm: FloatArray | None = None) -> BoolArray:
    """Rows that are all finite with a norm above ``_MIN_NORM``; (N, k) -> (N,).

    ``norm``: the rows' norms if already known (:func:`_row_norm`)."""
    finite = _finite_rows(values)
    if not finite.any():
        return finite
    # Rows that are not finite are masked out below whatever their norm, so the norm is taken unmasked.
    norm = _row_norm(values) if norm is None else norm
    usable: BoolArray = finite & (norm > _MIN_NORM)
    return usable


Index = IntArray | slice
"""Rows of a batch: their indices, or a slice when they are contiguous (indexing with it is a view, no copy)."""


def _index(mask: BoolArray) -> Index:
    """The rows where ``mask`` holds, as a slice when they are contiguous, else as indices."""
    n = mask.shape[0]
    count = int(np.count_nonzero(mask))
    if count == n:
        return slice(0, n)
    if count == 0:
        return slice(0, 0)
    first = int(np.argmax(mask))
    if bool(mask[first : first + count].all()):
        return slice(first, first + count)
    return np.flatnonzero(mask)


def _size(rows: Index, n: int) -> int:
    """How many rows ``rows`` selects out of ``n``."""
    if isinstance(rows, slice):
        start, stop, _ = rows.indices(n)
        return max(0, stop - start)
    return int(rows.shape[0])


def _indices(rows: Index, n: int) -> IntArray:
    """``rows`` as indices."""
    return np.arange(n)[rows] if isinstance(rows, slice) else rows


def _last_index(mask: BoolArray) -> IntArray:
    """For each row, the index of the latest row at or before it where ``mask`` holds (-1 if none)."""
    idx = np.where(mask, np.arange(mask.shape[0]), -1)
    return np.maximum.accumulate(idx) if idx.size else idx


def _previous_max(t: FloatArray) -> FloatArray:
    """Running maximum of ``t`` over the *previous* rows (-inf for the first), shape (M,) -> (M,)."""
    prev = np.empty_like(t)
    if t.size:
        prev[0] = -np.inf
        prev[1:] = np.maximum.accumulate(t)[:-1]
    return prev


def _lowpass(t_max: FloatArray, x: FloatArray, start: BoolArray, tau_s: float) -> FloatArray:
    """Vectorised dt-aware first-order low-pass with restarts (batch twin of the streaming recursions).

    ``y[k] = x[k]`` where ``start[k]``, else ``y[k] = y[k-1] + alpha_k (x[k] - y[k-1])`` with
    ``alpha_k = 1 - exp(-(t_max[k] - t_max[k-1]) / tau)``. Unrolled within a chunk of constant restart:
    ``y[n] = exp(-(T_n - T_0)/tau) (y[0] + sum_k alpha_k exp((T_k - T_0)/tau) x[k])``; chunks span at most
    ``_CHUNK_TIME_CONSTANTS`` time constants so the exponentials stay finite.

    Args:
        t_max: running-maximum time of each row, non-decreasing, shape (M,).
        x: inputs, shape (M, d).
        start: restart rows (``start[0]`` must be true), shape (M,).
        tau_s: time constant, seconds.

    Returns:
        Filtered values, shape (M, d).
    """
    m = t_max.shape[0]
    y = np.empty_like(x)
    if m == 0:
        return y
    alpha = np.zeros(m)
    alpha[1:] = -np.expm1(-(t_max[1:] - t_max[:-1]) / tau_s)
    starts = np.flatnonzero(start)
    ends = np.append(starts[1:], m)
    for seg_start, seg_end in zip(starts.tolist(), ends.tolist(), strict=True):
        c0 = seg_start
        while c0 < seg_end:
            y[c0] = x[c0] if c0 == seg_start else y[c0 - 1] + alpha[c0] * (x[c0] - y[c0 - 1])
            limit = t_max[c0] + _CHUNK_TIME_CONSTANTS * tau_s
            c1 = min(seg_end, max(c0 + 1, int(np.searchsorted(t_max, limit, side="right"))))
            if c1 > c0 + 1:
                growth = np.exp((t_max[c0 + 1 : c1] - t_max[c0]) / tau_s)[:, None]
                acc = np.cumsum(alpha[c0 + 1 : c1, None] * growth * x[c0 + 1 : c1], axis=0)
                y[c0 + 1 : c1] = (y[c0] + acc) / growth
            c0 = c1
    return y


class _Times:
    """The sample times and their running maxima, computed once for the stages that run over every row."""

    def __init__(self, t: FloatArray) -> None:
        self.t = t
        self.n = t.shape[0]
        self._prev: FloatArray | None = None
        self._t_max: FloatArray | None = None

    def prev(self, rows: Index) -> FloatArray:
        """:func:`_previous_max` of ``t[rows]``."""
        if isinstance(rows, slice) and rows.indices(self.n)[:2] == (0, self.n):
            if self._prev is None:
                self._prev = _previous_max(self.t)
            return self._prev
        return _previous_max(self.t[rows])

    def t_max(self, rows: Index, prev: FloatArray) -> FloatArray:
        """``np.maximum(prev, t[rows])`` (``prev`` from :meth:`prev` of the same rows)."""
        if isinstance(rows, slice) and rows.indices(self.n)[:2] == (0, self.n):
            if self._t_max is None:
                self._t_max = np.maximum(prev, self.t)
            return self._t_max
        return np.maximum(prev, self.t[rows])


def _smooth_rows(times: _Times, rows: Index, x: FloatArray, tau_s: float, max_gap_s: float) -> FloatArray:
    """Smooth scalar inputs ``x`` given at ``rows`` and hold the value on the other rows (NaN before any).

    Batch twin of :class:`_Smoother`. Returns shape (n,).
    """
    t, n = times.t, times.n
    if _size(rows, n) == 0:
        return np.full(n, np.nan)
    t_sub = t[rows]
    prev = times.prev(rows)
    start = (t_sub - prev) > max_gap_s
    smoothed = _lowpass(times.t_max(rows, prev), x[:, None], start, tau_s)[:, 0]
    if isinstance(rows, slice) and rows.indices(n)[1] == n and np.isfinite(smoothed).all():
        # Every row from the first on is smoothed, and finite: each holds its own value, NaN before.
        first = rows.indices(n)[0]
        if first == 0:
            return smoothed
        out = np.empty(n)
        out[:first] = np.nan
        out[first:] = smoothed
        return out
    out = np.full(n, np.nan)
    out[rows] = smoothed
    last = _last_index(np.isfinite(out))
    return np.where(last >= 0, out[np.maximum(last, 0)], np.nan)


def _switch_restarts(active: IntArray, rows: Index, rank: int) -> BoolArray:
    """For the rows that drive source ``rank``: does it need a restart because another source (or none)
    was active since its previous driving row (or because there is none)? Shape (len(rows),)."""
    if isinstance(rows, slice):  # consecutive rows, all of this source: only the first restarts
        first = np.zeros(_size(rows, active.shape[0]), dtype=bool)
        first[:1] = True
        return first
    other = np.cumsum(active != rank)
    prev = np.concatenate(([-1], rows[:-1])) if rows.size else rows
    other_before = np.where(prev >= 0, other[np.maximum(prev, 0)], 0)
    return (prev < 0) | (other[rows] - other_before > 0)


def _quat_up_rows(quat: FloatArray, out: FloatArray) -> None:
    """:func:`quat_to_up` of quaternions ``quat`` (N, 4) written into ``out`` (N, 3): the same operations, in
    blocks of rows whose temporaries stay in the cache."""
    for b0, b1 in _blocks(quat.shape[0]):
        q = quat[b0:b1]
        q = q / np.linalg.norm(q, axis=-1, keepdims=True)
        w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
        o = out[b0:b1]
        o[:, 0] = 2.0 * (x * z - w * y)
        o[:, 1] = 2.0 * (y * z + w * x)
        o[:, 2] = w * w - x * x - y * y + z * z


def _quat_rotation_rate(
    quat: FloatArray, q_rows: Index, times: _Times, has_g: BoolArray, max_gap_s: float, rotation_in: FloatArray
) -> None:
    """Rotation rate between consecutive quaternion rows ``q_rows``, degrees per second, written into
    ``rotation_in`` where the step is positive, at most ``max_gap_s`` and the row has no gyroscope."""
    t, n = times.t, times.n
    t_q = t[q_rows]
    dtq = t_q - times.prev(q_rows)
    dt_next = dtq[1:]
    ok = (dt_next > 0.0) & (dt_next <= max_gap_s)
    if isinstance(q_rows, slice):
        start, stop, _ = q_rows.indices(n)
        angle = _quat_rotation_angle_deg(quat[start : stop - 1], quat[start + 1 : stop])
        if has_g.any():
            ok &= ~has_g[start + 1 : stop]
        if ok.all():
            np.divide(angle, dt_next, out=angle)
            rotation_in[start + 1 : stop] = angle
            return
        rows = _indices(q_rows, n)
    else:
        rows = q_rows
        angle = _quat_rotation_angle_deg(quat[rows[:-1]], quat[rows[1:]])
        ok &= ~has_g[rows[1:]]
    rotation_in[rows[1:][ok]] = angle[ok] / dt_next[ok]


def estimate_tilt_batch(data: SampleArrays, settings: OrientationSettings | None = None) -> TiltSeries:
    """Run the orientation stage over a whole recording; the same result as :class:`TiltEstimator`.

    Vectorised with numpy except the AHRS, which is a recursion and loops over imufusion (the same calls
    the streaming path makes). Rows that drive no source, sources no row uses and holds over rows that all
    drive are skipped rather than computed (an 8-hour day of quaternions is mostly one source throughout);
    ``tests/motion/test_tilt_batch_exact.py`` checks the result bit for bit against the straightforward form.

    Args:
        data: the samples as arrays (see :class:`SampleArrays`), N rows in arrival order.
        settings: orientation settings (defaults if ``None``).

    Returns:
        One row per input sample.
    """
    st = settings if settings is not None else OrientationSettings()
    t = data.t_s
    n = t.shape[0]
    times = _Times(t)
    accel, gyro, grav = data.accel_g, data.gyro_dps, data.gravity_g
    has_a = _usable_rows(accel)
    if st.accel_calibration is not None:
        accel = st.accel_calibration.apply_rows(accel)
    has_g = _finite_rows(gyro)  # a still gyroscope legitimately reads zero
    has_grav = _usable_rows(grav)
    # Unit quaternions on usable rows, NaN elsewhere: one norm serves the check and the normalisation.
    q_in = np.asarray(data.quat_wxyz, dtype=np.float64)
    q_norm = _row_norm(q_in)
    has_q = _usable_rows(q_in, q_norm)
    quat = q_in / (q_norm if has_q.all() else np.where(has_q, q_norm, np.nan))[:, None]
    del q_norm
    caps = {_ACCEL: has_a, _AHRS: has_a & has_g, _GRAVITY: has_grav, _QUATERNION: has_q}
    ranks = (_QUATERNION, _GRAVITY, _AHRS, _ACCEL)

    # Active source per row: the best one seen within source_timeout_s.
    active = np.full(n, _NO_SOURCE, dtype=np.intp)
    for rank in ranks:
        cap = caps[rank]
        if not cap.any():
            continue  # never seen: recent nowhere
        if cap.all():  # seen on every row: the latest sighting is the row itself, t - t is 0 (NaN if not finite)
            recent = np.isfinite(t) & (st.source_timeout_s >= 0.0)
        else:
            last = _last_index(cap)
            recent = (last >= 0) & (t - t[np.maximum(last, 0)] <= st.source_timeout_s)
        active = np.where((active == _NO_SOURCE) & recent, rank, active)
        if not (active == _NO_SOURCE).any():
            break  # every row has a source: lower ranks change nothing
    drive = np.zeros(n, dtype=bool)
    for rank in ranks:
        drive |= (active == rank) & caps[rank]

    up = np.full((n, 3), np.nan)
    rejected = np.zeros(n, dtype=bool)
    recovering = np.zeros(n, dtype=bool)
    initialising = np.zeros(n, dtype=bool)
    restarted = np.zeros(n, dtype=bool)
    offsets: FloatArray | None = None  # AHRS gyroscope offsets, NaN off the AHRS rows

    for rank in ranks:
        rows = _index(drive & (active == rank))
        if _size(rows, n) == 0:
            continue
        switch = _switch_restarts(active, rows, rank)
        t_sub = t[rows]
        prev = times.prev(rows)
        restart = switch | ((t_sub - prev) > st.max_gap_s)
        if rank == _QUATERNION:
            if isinstance(rows, slice):
                _quat_up_rows(quat[rows], up[rows])
            else:
                up_q = np.empty((rows.size, 3))
                _quat_up_rows(quat[rows], up_q)
                up[rows] = up_q
            restarted[rows] = restart
        elif rank == _GRAVITY:
            g = grav[rows]
            up[rows] = g / _row_norm(g)[:, None]
            restarted[rows] = restart
        elif rank == _ACCEL:
            t_max = times.t_max(rows, prev)
            a = accel[rows]
            lp = _lowpass(t_max, a, restart, st.accel_time_constant_s)
            norm = np.linalg.norm(lp, axis=1, keepdims=True)
            fallback = a / np.linalg.norm(a, axis=1, keepdims=True)
            up[rows] = np.where(norm > _MIN_NORM, lp / np.where(norm > _MIN_NORM, norm, 1.0), fallback)
            seg_t0 = t_max[_last_index(restart)]
            initialising[rows] = (t_max - seg_t0) < st.accel_time_constant_s
            restarted[rows] = restart
        else:
            offsets = np.full((n, 3), np.nan)
            core = _AhrsCore(st.ahrs, st.max_gap_s)
            row_list = _indices(rows, n).tolist()
            g_rows = np.array(gyro[rows])  # copies: the AHRS gets rows of its own, never the caller's arrays
            a_rows = np.array(accel[rows])
            for k, (row, force) in enumerate(zip(row_list, switch.tolist(), strict=True)):
                out = core.step(float(t[row]), g_rows[k], a_rows[k], force)
                up[row] = out.up
                rejected[row] = out.accel_rejected
                recovering[row] = out.recovering
                initialising[row] = out.initialising
                restarted[row] = out.restarted
                offsets[row] = core.offset

    # Hold tilt and flags on rows that do not drive the active source.
    if drive.all():  # every row drives: each holds its own
        held = drive
        source = active
    else:
        last_drive = _last_index(drive)
        held = last_drive >= 0
        src = np.maximum(last_drive, 0)
        up = np.where(held[:, None], up[src], np.nan)
        source = np.where(held, active[src], _NO_SOURCE)
        rejected = held & rejected[src]
        recovering = held & recovering[src]
        initialising = held & initialising[src]
        restarted = drive & restarted

    # Rotation: |gyro - current bias| where a gyro is present, else quaternion rate.
    rotation_in = np.full(n, np.nan)
    if has_g.any():
        if offsets is None:
            offset_now: FloatArray | float = 0.0
        else:
            last_off = _last_index(np.isfinite(offsets[:, 0]))
            offset_now = np.where(last_off[:, None] >= 0, offsets[np.maximum(last_off, 0)], 0.0)[has_g]
        rotation_in[has_g] = _row_norm(gyro[has_g] - offset_now)
    q_rows = _index(has_q)
    if _size(q_rows, n) > 1:
        _quat_rotation_rate(quat, q_rows, times, has_g, st.max_gap_s, rotation_in)
    del quat
    rot_rows = _index(np.isfinite(rotation_in))
    rotation = _smooth_rows(times, rot_rows, rotation_in[rot_rows], st.motion_time_constant_s, st.max_gap_s)
    del rotation_in

    motion_rows = _index(has_a & held)
    t_motion = t[motion_rows]
    prev_motion = times.prev(motion_rows)
    accel_m = accel[motion_rows]
    diff = _lowpass(
        times.t_max(motion_rows, prev_motion),
        accel_m,
        (t_motion - prev_motion) > st.max_gap_s,
        st.accel_time_constant_s,
    )
    np.subtract(accel_m, diff, out=diff)  # accel - low-passed accel
    motion_in = _row_norm(diff)
    del diff
    motion = _smooth_rows(times, motion_rows, motion_in, st.motion_time_constant_s, st.max_gap_s)
    all_held = bool(held.all())
    if not all_held:
        motion = np.where(held, motion, np.nan)
    rotation_out = rotation if all_held else np.where(held, rotation, np.nan)
    energy = np.nan_to_num(motion / st.motion_ref_g, nan=0.0, copy=False)
    np.maximum(energy, np.nan_to_num(rotation_out / st.motion_ref_dps, nan=0.0, copy=False), out=energy)
    return TiltSeries(
        t_s=t.copy(),
        valid=held,
        up_tag=up,
        source=source.astype(np.intp),
        motion_energy=energy if all_held else np.where(held, energy, np.nan),
        motion_g=motion,
        rotation_dps=rotation_out,
        accel_rejected=rejected,
        recovering=recovering,
        initialising=initialising,
        restarted=restarted,
    )


# ---------------------------------------------------------------------------------------------
# Accelerometer calibration from still time


@dataclass(frozen=True, slots=True)
class AccelFit:
    """The result of :func:`fit_accel_calibration`.

    Attributes:
        calibration: the estimated correction.
        chunks: still chunks used.
        spread_deg: largest angle between a chunk's direction and the chunks' mean direction, degrees (how
            much of the sphere the data covered: a worn tag covers a cap of some tens of degrees).
        rms_before_g: RMS of ``|a| - 1`` over the chunks with the raw readings, g.
        rms_after_g: the same after the correction, g.
    """

    calibration: AccelCalibration
    chunks: int
    spread_deg: float
    rms_before_g: float
    rms_after_g: float


def still_accel_means(
    data: SampleArrays,
    tilt: TiltSeries,
    *,
    chunk_s: float = 2.0,
    max_energy: float = 0.5,
    min_still_share: float = 0.8,
) -> FloatArray:
    """Mean raw accelerometer reading of each still chunk of a recording, g, shape (K, 3).

    A chunk is ``chunk_s`` seconds of sample time; it counts if at least ``min_still_share`` of its
    accelerometer rows are still (valid tilt, not initialising, ``motion_energy`` below ``max_energy``); its
    still rows are averaged. At rest the accelerometer reads gravity alone, 1 g, whatever the orientation.

    Args:
        data: the samples (raw readings, before any :class:`AccelCalibration`).
        tilt: the orientation stage's output for ``data`` (row for row).
        chunk_s: chunk length, seconds.
        max_energy: ``motion_energy`` below which a row is still (dimensionless).
        min_still_share: share of still rows a chunk needs (0..1).
    """
    t = data.t_s
    has_a = _usable_rows(data.accel_g)
    if not has_a.any():
        return np.empty((0, 3))
    with np.errstate(invalid="ignore"):
        still = has_a & tilt.valid & ~tilt.initialising & (tilt.motion_energy < max_energy)
    chunk = np.floor((t - t[has_a][0]) / chunk_s).astype(np.int64)
    rows = np.flatnonzero(has_a)
    ids, inverse = np.unique(chunk[rows], return_inverse=True)
    n_rows = np.bincount(inverse, minlength=ids.shape[0])
    n_still = np.bincount(inverse, weights=still[rows].astype(np.float64), minlength=ids.shape[0])
    keep = (n_still >= min_still_share * n_rows) & (n_still > 0)
    sums = np.zeros((ids.shape[0], 3))
    still_rows = still[rows]
    for axis in range(3):
        sums[:, axis] = np.bincount(
            inverse[still_rows], weights=data.accel_g[rows[still_rows], axis], minlength=ids.shape[0]
        )
    means: FloatArray = sums[keep] / n_still[keep, None]
    return means


def fit_accel_calibration(
    accel_means_g: npt.ArrayLike,
    *,
    bias_std_g: float = 0.05,
    scale_std: float = 0.03,
    magnitude_std_g: float = 0.002,
    min_chunks: int = 10,
) -> AccelFit:
    """Estimate an accelerometer's offsets and sensitivities from still readings (``|corrected| = 1 g``).

    Model: ``raw = diag(scale) up + bias`` with ``|up| = 1``. Regularised Gauss-Newton on the six
    parameters: the residuals ``|(raw - bias) / scale| - 1`` weighted by ``1 / magnitude_std_g``, plus the
    prior ``bias ~ N(0, bias_std_g)``, ``scale - 1 ~ N(0, scale_std)`` (datasheet-scale figures for consumer
    MEMS parts). The prior matters: a worn tag only visits a cap of orientations, on which the magnitude
    cannot separate the offset along "up" from the sensitivity along it (``b cos a`` and ``s cos^2 a`` look
    alike for small ``a``); what the data cannot tell stays near nominal instead of being fitted to noise.
    Readings covering the whole sphere (the tag turned onto each face) determine all six.

    Args:
        accel_means_g: still-time mean readings, g, shape (K, 3) (see :func:`still_accel_means`).
        bias_std_g: prior standard deviation of each offset, g.
        scale_std: prior standard deviation of each relative sensitivity error (dimensionless).
        magnitude_std_g: expected scatter of a chunk's magnitude about the model, g (noise, rounding, sway).
        min_chunks: fewer chunks than this raise ``ValueError``.

    Returns:
        The correction and fit figures.

    Raises:
        ValueError: too few usable chunks, or non-positive standard deviations.
    """
    m = np.asarray(accel_means_g, dtype=np.float64).reshape(-1, 3)
    m = m[_usable_rows(m)]
    for name, value in (("bias_std_g", bias_std_g), ("scale_std", scale_std), ("magnitude_std_g", magnitude_std_g)):
        _require(math.isfinite(value) and value > 0.0, "fit_accel_calibration", name, value, "a number > 0")
    if m.shape[0] < min_chunks:
        raise ValueError(f"fit_accel_calibration: {m.shape[0]} still chunks, need at least {min_chunks}")
    prior_w = np.array([1.0 / bias_std_g] * 3 + [1.0 / scale_std] * 3)
    p = np.zeros(6)  # bias (3), scale - 1 (3)
    for _ in range(50):
        bias, scale = p[:3], 1.0 + p[3:]
        u = (m - bias) / scale
        norm = np.linalg.norm(u, axis=1)
        direction = u / norm[:, None]
        jac = np.empty((m.shape[0], 6))
        jac[:, :3] = -direction / scale
        jac[:, 3:] = -direction * u / scale
        lhs = np.vstack((jac / magnitude_std_g, np.diag(prior_w)))
        rhs = np.concatenate((-(norm - 1.0) / magnitude_std_g, -prior_w * p))
        step = np.linalg.lstsq(lhs, rhs, rcond=None)[0]
        p = p + step
        if float(np.max(np.abs(step))) < 1e-9:
            break
    bias, scale = p[:3], 1.0 + p[3:]
    cal = AccelCalibration(
        bias_g=(float(bias[0]), float(bias[1]), float(bias[2])),
        scale=(float(scale[0]), float(scale[1]), float(scale[2])),
    )
    mean_dir = m.mean(axis=0)
    spread = float(np.max(tilt_angle_deg(m, mean_dir)))
    before = float(np.sqrt(np.mean((np.linalg.norm(m, axis=1) - 1.0) ** 2)))
    after = float(np.sqrt(np.mean((np.linalg.norm(cal.apply_rows(m), axis=1) - 1.0) ** 2)))
    return AccelFit(cal, int(m.shape[0]), spread, before, after)
