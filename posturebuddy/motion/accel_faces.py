"""The six-face accelerometer calibration: lay the tag on each of its faces, hold it still, fit offset and gain.

Pure (stdlib, numpy, :mod:`posturebuddy.model`, :mod:`posturebuddy.motion`); runs on sample time.

Why six faces
=============

An accelerometer-only tag takes its tilt from the direction of the raw reading, so the sensor's zero-g offset
and per-axis sensitivity error bend every posture angle by a few per cent (see
:class:`~posturebuddy.motion.orientation.AccelCalibration`). At rest the corrected reading must be exactly 1 g
long whatever the orientation; :func:`~posturebuddy.motion.orientation.fit_accel_calibration` finds the offsets
and sensitivities that make it so. A worn tag only visits a small cap of orientations, where the offset along
"up" and the sensitivity along it cannot be told apart. With the tag resting on each of its six faces in turn,
every axis is seen at about +1 g and -1 g: ``(r+ - r-) / 2`` is its sensitivity and ``(r+ + r-) / 2`` its offset,
so all six numbers are determined (to well under 1 mg with a few seconds per face).

Frames and units: readings are in the **tag frame**, in g (what :class:`~posturebuddy.model.Sample` carries in
``accel_g``, before any correction); times are **sample time** in seconds. Face ``"+x"`` means the tag's +x axis
points up: the reading is about ``(+1, 0, 0)`` g.

How a face is captured
======================

Each reading is classified:

* **no data**: ``None`` or non-finite; a gap of more than ``max_gap_s`` between readings abandons the hold.
* **moving**: ``| |a| - 1 g |`` above ``magnitude_tol_g`` (the tag is being carried or turned).
* **between faces**: no axis reads at least ``min_axis_g`` (the tag is on an edge or held at an angle).
* **on a face**: otherwise the face is the axis with the largest reading and its sign.

A *hold* starts with the first reading on a face that is not yet done. Each following reading must be on the
same face and within ``still_g`` (vector distance) of the running mean of the hold; anything else restarts the
hold (from that reading, if it is itself on a new face). After ``hold_s`` of sample time the hold is complete:
its readings, averaged over consecutive ``chunk_s`` chunks, are the face's data (``floor(hold_s / chunk_s)``
chunk means, 6 with the defaults, 36 over the six faces; the fit needs at least 10).

Thresholds and why:

* ``still_g = 0.02`` g. The accelerometers of these tags (MMA8653 / LSM303AGR class, 10-bit at +-2 g) read a
  resting tag with a few mg of noise per axis at 50 Hz (the micro:bit's part: about 3.5 mg RMS, plus 3.9-mg
  steps), i.e. about 6 mg RMS as a vector; 20 mg is more than five times the per-axis figure, so a tag at rest on
  a table never trips it, while picking the tag up, a bump or a hand that holds it swings it by tens of mg.
* ``magnitude_tol_g = 0.15`` g. A raw reading at rest may be off 1 g by the sensor's own errors (offsets up to
  ~0.1 g and sensitivity errors of a few % on consumer parts): the test only has to reject obvious movement.
* ``min_axis_g = 0.85`` g: within about 30 deg of lying flat on a face. The fit does not need the tag to be
  exactly flat (the model holds in any orientation); the face only labels the data, so that all six are seen.
* ``max_rms_after_g = 0.005`` g: after the correction, the chunk means must be 1 g long to this RMS. On a tag at
  rest they are to about 1 mg (chunk means of 25 readings with a few mg of noise; the sensor's cross-axis
  sensitivity adds well under 1 mg for a tag a few degrees off flat). Six faces fix six parameters, so what the
  residual catches is readings that changed *within* a hold (a tag carried along slowly, a surface that moves).

A face already done is not captured again: laying the tag on it again changes nothing (the status says it is
done and which faces are left), so a fumbled turn cannot spoil a face that was captured well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from posturebuddy.model import Vec3
from posturebuddy.motion.calibration import CalibrationError
from posturebuddy.motion.orientation import AccelFit, fit_accel_calibration

FloatArray = npt.NDArray[np.float64]

FACES: tuple[str, ...] = ("+x", "-x", "+y", "-y", "+z", "-z")
"""The six faces, named by the tag axis that points up while the tag rests on it (the reading is ~ +1 g on it)."""

HINT_NO_DATA = "no data from the tag"
HINT_KEEP_STILL = "keep still"
HINT_MOVING = "lay the tag down flat and let go"
HINT_DONE = "done"


def _require(condition: bool, name: str, value: object, allowed: str) -> None:
    if not condition:
        raise ValueError(f"SixFaceSettings.{name} = {value!r} is not allowed: must be {allowed}")


@dataclass(frozen=True, slots=True)
class SixFaceSettings:
    """Settings of the six-face capture (see the module docstring for why these values).

    Attributes:
        hold_s: still time needed on a face, seconds of sample time.
        chunk_s: the readings of a hold are averaged over chunks of this long, seconds; each chunk mean is one
            input of the fit.
        still_g: largest distance of a reading from the running mean of the hold, g (vector distance).
        magnitude_tol_g: largest difference of ``|reading|`` from 1 g for the tag to count as resting, g.
        min_axis_g: the up axis must read at least this much, g.
        max_gap_s: a pause in the readings longer than this abandons the hold, seconds.
        max_rms_after_g: the fit is refused if the corrected chunk means are further than this from 1 g
            (RMS), g.
    """

    hold_s: float = 3.0
    chunk_s: float = 0.5
    still_g: float = 0.02
    magnitude_tol_g: float = 0.15
    min_axis_g: float = 0.85
    max_gap_s: float = 0.5
    max_rms_after_g: float = 0.005

    def __post_init__(self) -> None:
        def positive(name: str) -> float:
            value = getattr(self, name)
            ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value > 0
            _require(ok, name, value, "a finite number > 0")
            return float(value)

        hold = positive("hold_s")
        chunk = positive("chunk_s")
        for name in ("still_g", "magnitude_tol_g", "max_gap_s", "max_rms_after_g"):
            positive(name)
        _require(chunk <= hold, "chunk_s", self.chunk_s, f"at most hold_s ({self.hold_s} s)")
        _require(self.magnitude_tol_g < 0.5, "magnitude_tol_g", self.magnitude_tol_g, "below 0.5 g")
        axis = self.min_axis_g
        ok = isinstance(axis, int | float) and not isinstance(axis, bool) and 1.0 / math.sqrt(2.0) < axis < 1.0
        _require(ok, "min_axis_g", axis, "between 0.71 g (45 deg off a face) and 1 g")

    @property
    def chunks_per_face(self) -> int:
        """Chunk means a completed hold gives: ``floor(hold_s / chunk_s)``."""
        return max(1, math.floor(self.hold_s / self.chunk_s + 1e-9))


@dataclass(frozen=True, slots=True)
class FaceStatus:
    """Where the six-face step is, for a UI.

    Attributes:
        done: faces captured so far, in :data:`FACES` order.
        current: the face the tag lies on now (``None``: moving, between faces or no data).
        progress: 0..1 of the current face's hold (1 on a face already done, 0 without a face).
        hint: one short line for the user.
        complete: all six faces are captured.
    """

    done: tuple[str, ...]
    current: str | None
    progress: float
    hint: str
    complete: bool


def face_of(accel_g: Vec3, settings: SixFaceSettings) -> str | None:
    """The face a resting tag lies on from one reading (tag frame, g), or ``None`` (moving or on an edge)."""
    x, y, z = accel_g
    magnitude = math.sqrt(x * x + y * y + z * z)
    if not abs(magnitude - 1.0) <= settings.magnitude_tol_g:
        return None
    axis = max(range(3), key=lambda i: abs(accel_g[i]))
    value = accel_g[axis]
    if abs(value) < settings.min_axis_g:
        return None
    return ("+" if value > 0 else "-") + "xyz"[axis]


def _left_text(done: set[str]) -> str:
    return ", ".join(f for f in FACES if f not in done)


class SixFaceCapture:
    """Streaming six-face capture: feed every reading with :meth:`update`; :meth:`fit` when complete.

    Readings arriving with a sample time not after the previous one are ignored (they would change no state a
    hold could trust); non-finite readings count as no data.
    """

    def __init__(self, settings: SixFaceSettings | None = None) -> None:
        self.settings = settings or SixFaceSettings()
        self._chunks: dict[str, list[Vec3]] = {}
        self._last_t: float | None = None
        # the hold in progress
        self._face: str | None = None
        self._t0 = 0.0
        self._sum = [0.0, 0.0, 0.0]
        self._count = 0
        self._chunk_sums: list[list[float]] = []
        self._chunk_counts: list[int] = []
        self._status = FaceStatus((), None, 0.0, f"lay the tag flat on a face: {_left_text(set())} left", False)

    # ------------------------------------------------------------------ results

    @property
    def status(self) -> FaceStatus:
        """The status after the latest :meth:`update`."""
        return self._status

    @property
    def chunks(self) -> dict[str, tuple[Vec3, ...]]:
        """The chunk means captured per face (raw readings, tag frame, g)."""
        return {face: tuple(self._chunks[face]) for face in FACES if face in self._chunks}

    def fit(self) -> AccelFit:
        """Fit the offsets and sensitivities to the captured faces.

        Raises:
            CalibrationError: faces are missing, or the readings do not fit a tag at rest (too large a residual
                or an implausible correction); the message says which and what to do.
        """
        missing = [f for f in FACES if f not in self._chunks]
        if missing:
            raise CalibrationError(
                f"faces not captured yet: {', '.join(missing)}; lay the tag on each of them and hold it still for "
                f"{self.settings.hold_s:g} s"
            )
        means = np.array([m for face in FACES for m in self._chunks[face]], dtype=np.float64)
        try:
            result = fit_accel_calibration(means)
        except ValueError as exc:  # an implausible correction (offset >= 0.5 g...) or too few chunks
            raise CalibrationError(
                f"the readings do not fit an accelerometer at rest ({exc}): the tag moved or was not resting flat"
            ) from exc
        limit = self.settings.max_rms_after_g
        if not result.rms_after_g <= limit:
            raise CalibrationError(
                f"the corrected readings are {result.rms_after_g * 1000:.1f} mg off 1 g (RMS; at most "
                f"{limit * 1000:.0f} mg is expected): the tag moved or was not resting flat; run the step again"
            )
        return result

    # ------------------------------------------------------------------ input

    def update(self, t_s: float, accel_g: tuple[float, float, float] | None) -> FaceStatus:
        """Feed one reading: sample time ``t_s`` (seconds) and the raw accelerometer (tag frame, g) or ``None``.

        Never raises on odd input: non-finite times are ignored, non-finite readings count as no data.
        """
        try:
            t = float(t_s)
        except (TypeError, ValueError):
            return self._status
        if not math.isfinite(t) or (self._last_t is not None and t <= self._last_t):
            return self._status
        reading = _finite3(accel_g)
        if reading is None:
            if self._last_t is None or t - self._last_t > self.settings.max_gap_s:
                self._abandon()
                self._status = self._make_status(None, 0.0, HINT_NO_DATA)
            return self._status
        gap = self._last_t is not None and t - self._last_t > self.settings.max_gap_s
        self._last_t = t
        if gap:
            self._abandon()
        face = face_of(reading, self.settings)
        if face is None:
            self._abandon()
            self._status = self._make_status(None, 0.0, self._between_hint(reading))
            return self._status
        if face in self._chunks:
            self._abandon()
            hint = HINT_DONE if self._complete else f"{face} is done; turn the tag onto a new face: {self._left} left"
            self._status = self._make_status(face, 1.0, hint)
            return self._status
        if self._face != face or not self._is_still(reading):
            self._start(face, t)
        self._add(reading, t)
        elapsed = t - self._t0
        if elapsed >= self.settings.hold_s:
            self._finish()
            hint = HINT_DONE if self._complete else f"got {face}; turn the tag onto a new face: {self._left} left"
            self._status = self._make_status(face, 1.0, hint)
            return self._status
        self._status = self._make_status(face, min(1.0, max(0.0, elapsed / self.settings.hold_s)), HINT_KEEP_STILL)
        return self._status

    # ------------------------------------------------------------------ internals

    @property
    def _complete(self) -> bool:
        return len(self._chunks) == len(FACES)

    @property
    def _left(self) -> str:
        return _left_text(set(self._chunks))

    def _between_hint(self, reading: Vec3) -> str:
        x, y, z = reading
        if abs(math.sqrt(x * x + y * y + z * z) - 1.0) > self.settings.magnitude_tol_g:
            return HINT_MOVING if not self._complete else HINT_DONE
        return HINT_DONE if self._complete else f"lay the tag flat on one face ({self._left} left)"

    def _make_status(self, current: str | None, progress: float, hint: str) -> FaceStatus:
        done = tuple(f for f in FACES if f in self._chunks)
        return FaceStatus(done, current, progress, hint, len(done) == len(FACES))

    def _abandon(self) -> None:
        self._face = None
        self._count = 0

    def _start(self, face: str, t: float) -> None:
        self._face = face
        self._t0 = t
        self._sum = [0.0, 0.0, 0.0]
        self._count = 0
        self._chunk_sums = []
        self._chunk_counts = []

    def _is_still(self, reading: Vec3) -> bool:
        if self._count == 0:
            return True
        n = self._count
        dx = reading[0] - self._sum[0] / n
        dy = reading[1] - self._sum[1] / n
        dz = reading[2] - self._sum[2] / n
        return math.sqrt(dx * dx + dy * dy + dz * dz) <= self.settings.still_g

    def _add(self, reading: Vec3, t: float) -> None:
        elapsed = t - self._t0
        if elapsed >= self.settings.hold_s:
            return  # the reading that completes the hold belongs to no chunk of it
        index = min(int(elapsed / self.settings.chunk_s), self.settings.chunks_per_face - 1)
        while len(self._chunk_sums) <= index:
            self._chunk_sums.append([0.0, 0.0, 0.0])
            self._chunk_counts.append(0)
        chunk = self._chunk_sums[index]
        for axis in range(3):
            chunk[axis] += reading[axis]
            self._sum[axis] += reading[axis]
        self._chunk_counts[index] += 1
        self._count += 1

    def _finish(self) -> None:
        face = self._face
        assert face is not None
        means: list[Vec3] = [
            (s[0] / n, s[1] / n, s[2] / n) for s, n in zip(self._chunk_sums, self._chunk_counts, strict=True) if n > 0
        ]
        self._abandon()
        if means:
            self._chunks[face] = means


def _finite3(value: object) -> Vec3 | None:
    if value is None:
        return None
    try:
        x, y, z = (float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError, OverflowError):
        return None
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)):
        return None
    return (x, y, z)


def fit_six_faces(t_s: FloatArray, accel_g: FloatArray, settings: SixFaceSettings | None = None) -> AccelFit:
    """Batch form: feed rows ``(t_s[i], accel_g[i])`` through a :class:`SixFaceCapture` and fit.

    Args:
        t_s: sample times, seconds, shape (N,), in order.
        accel_g: raw readings, tag frame, g, shape (N, 3); a row with a NaN is "no data".
        settings: capture settings.

    Raises:
        ValueError: the shapes do not match.
        CalibrationError: see :meth:`SixFaceCapture.fit`.
    """
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    a = np.asarray(accel_g, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 3 or a.shape[0] != t.shape[0]:
        raise ValueError(f"fit_six_faces: expected t_s of shape (N,) and accel_g of (N, 3), got {t.shape}, {a.shape}")
    capture = SixFaceCapture(settings)
    finite = np.isfinite(a).sum(axis=1) == 3
    valid: list[bool] = [bool(v) for v in np.asarray(finite).tolist()]
    for ti, row, ok in zip(t.tolist(), a.tolist(), valid, strict=True):
        capture.update(ti, (row[0], row[1], row[2]) if ok else None)
    return capture.fit()
