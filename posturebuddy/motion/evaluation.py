"""Accuracy evaluation of the orientation stage against BROAD's optical ground truth.

BROAD: D. Laidig, M. Caruso, A. Cereatti, T. Seel, *BROAD - A Benchmark for Robust Inertial Orientation
Estimation*, Data 6(7):72, 2021, https://doi.org/10.3390/data6070072 (data CC BY 4.0,
https://github.com/dlaidig/broad). The project keeps a 95.238 Hz subset of trials 05 and 16 in
``shared/data/broad`` (see its README); nothing here copies it.

Scoring follows BROAD's ``example_code/broad_utils.py``: ``q_err = q_est * q_ref^-1`` (earth frame),
inclination error ``2 acos(sqrt(w^2 + z^2))`` of ``q_err``, RMSE over rows with ``movement == 1`` and a
valid (non-NaN) reference. For a tilt-only estimate the same number is the angle between the estimated
and the reference up vectors in the sensor frame (``cos = up_est . up_ref``, because
``R_err e_z . e_z = (R_est^T e_z) . (R_ref^T e_z)``); both are computed so a test can check they agree.

Posture needs tilt *relative to a calibrated upright*, so :func:`tilt_change_errors` also scores the
change of tilt against a rest period, the way calibration then monitoring would use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from posturebuddy.motion.orientation import (
    OrientationSettings,
    SampleArrays,
    TiltSeries,
    estimate_tilt_batch,
    quat_to_up,
    tilt_angle_deg,
    up_to_quat,
)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

STANDARD_GRAVITY_MPS2 = 9.80665
"""m/s^2 per g (BROAD's accelerometer is in m/s^2, the project's in g)."""

BROAD_TRIAL_FILES: dict[str, str] = {
    "05": "05_undisturbed_slow_rotation_with_breaks_B.csv",
    "16": "16_undisturbed_fast_translation_B.csv",
}
"""The BROAD trials kept in ``shared/data/broad``, by trial number."""

PUBLISHED_INCLINATION_RMSE_DEG: dict[str, dict[str, float]] = {
    "05": {"madgwick": 0.72, "mahony": 0.78},
    "16": {"madgwick": 3.09, "mahony": 10.01},
}
"""BROAD authors' full-rate results with one parameter set for all trials (Madgwick beta=0.12, Mahony
Kp=0.74 Ki=0.0012), from ``shared/data/broad/README.md``."""

MIN_REST_S = 1.0
"""Shortest ``movement == 0`` run that counts as a rest period for the tilt-change score, seconds."""


@dataclass(frozen=True, slots=True)
class BroadTrial:
    """One BROAD trial in project units.

    Attributes:
        name: trial number, e.g. ``"05"``.
        t_s: time since the start, seconds, shape (N,).
        accel_g: specific force in g, shape (N, 3).
        gyro_dps: angular rate in degrees per second, shape (N, 3).
        ref_quat_wxyz: optical reference, sensor -> ENU earth, NaN rows where markers were lost, shape (N, 4).
        movement: BROAD's movement-phase mask, shape (N,).
    """

    name: str
    t_s: FloatArray
    accel_g: FloatArray
    gyro_dps: FloatArray
    ref_quat_wxyz: FloatArray
    movement: BoolArray

    @property
    def ref_valid(self) -> BoolArray:
        """Rows with a reference orientation, shape (N,)."""
        valid: BoolArray = np.all(np.isfinite(self.ref_quat_wxyz), axis=1)
        return valid

    @property
    def scored(self) -> BoolArray:
        """Rows BROAD scores: movement phase with a valid reference, shape (N,)."""
        scored: BoolArray = self.movement & self.ref_valid
        return scored

    def sample_arrays(self) -> SampleArrays:
        """The trial as orientation-stage input (accelerometer and gyroscope only: a 6D problem)."""
        return SampleArrays.create(self.t_s, accel_g=self.accel_g, gyro_dps=self.gyro_dps)


def load_broad_trial(path: Path, name: str = "") -> BroadTrial:
    """Read one ``shared/data/broad/*.csv`` file and convert m/s^2 -> g and rad/s -> deg/s."""
    with path.open(encoding="utf-8") as handle:
        header = handle.readline().strip().split(",")
    table: FloatArray = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)

    def cols(*names: str) -> FloatArray:
        return table[:, [header.index(n) for n in names]]

    return BroadTrial(
        name=name or path.name[:2],
        t_s=cols("t_s")[:, 0],
        accel_g=cols("acc_x_mps2", "acc_y_mps2", "acc_z_mps2") / STANDARD_GRAVITY_MPS2,
        gyro_dps=np.degrees(cols("gyr_x_radps", "gyr_y_radps", "gyr_z_radps")),
        ref_quat_wxyz=cols("ref_qw", "ref_qx", "ref_qy", "ref_qz"),
        movement=cols("movement")[:, 0] > 0.5,
    )


def _quat_multiply(a: FloatArray, b: FloatArray) -> FloatArray:
    """Hamilton product of (N, 4) quaternion arrays."""
    w1, x1, y1, z1 = a[:, 0], a[:, 1], a[:, 2], a[:, 3]
    w2, x2, y2, z2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    return np.column_stack(
        (
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        )
    )


def inclination_error_quat_deg(q_est: FloatArray, q_ref: FloatArray) -> FloatArray:
    """BROAD's inclination error ``2 acos(sqrt(w^2 + z^2))`` of ``q_est * q_ref^-1``, degrees.

    Args:
        q_est: estimated tag -> earth quaternions (any heading), shape (N, 4).
        q_ref: reference quaternions, shape (N, 4) (NaN rows give NaN).

    Returns:
        Errors in degrees, shape (N,).
    """
    ref_inv = q_ref * np.array([1.0, -1.0, -1.0, -1.0])
    err = _quat_multiply(q_est, ref_inv)
    err = err / np.linalg.norm(err, axis=1, keepdims=True)
    wz = np.sqrt(np.clip(err[:, 0] ** 2 + err[:, 3] ** 2, 0.0, 1.0))
    out: FloatArray = np.degrees(2.0 * np.arccos(wz))
    return out


def inclination_error_up_deg(up_est: FloatArray, q_ref: FloatArray) -> FloatArray:
    """Angle between estimated and reference up vectors in the sensor frame, degrees, shape (N,)."""
    return tilt_angle_deg(up_est, quat_to_up(q_ref))


def rmse(values: FloatArray) -> float:
    """Root mean square of the finite values (NaN if none)."""
    finite = values[np.isfinite(values)]
    return float(np.sqrt(np.mean(finite**2))) if finite.size else math.nan


@dataclass(frozen=True, slots=True)
class TiltChangeScore:
    """Error of tilt *changes* relative to rest periods (what calibrated posture angles depend on).

    Attributes:
        rest_to_movement_rmse_deg: RMSE over movement rows of ``angle(up(t1), up0) - angle_ref(...)``, where
            ``up0`` is the mean up of the latest rest period before ``t1`` (estimate and reference each).
        rest_to_rest_rmse_deg: RMSE of the tilt change between consecutive rest periods.
        rest_periods: number of rest periods found.
        movement_rows: number of movement rows scored.
    """

    rest_to_movement_rmse_deg: float
    rest_to_rest_rmse_deg: float
    rest_periods: int
    movement_rows: int


def _rest_periods(trial: BroadTrial) -> list[tuple[int, int]]:
    """Runs of ``movement == 0`` at least :data:`MIN_REST_S` long, as (start, stop) row slices."""
    still = (~trial.movement).astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], still, [0]))))
    periods = []
    for start, stop in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if trial.t_s[stop - 1] - trial.t_s[start] >= MIN_REST_S and trial.ref_valid[start:stop].any():
            periods.append((start, stop))
    return periods


def _mean_up(up: FloatArray) -> FloatArray:
    finite = up[np.all(np.isfinite(up), axis=1)]
    mean = finite.mean(axis=0)
    unit: FloatArray = mean / np.linalg.norm(mean)
    return unit


def tilt_change_errors(up_est: FloatArray, trial: BroadTrial) -> TiltChangeScore:
    """Score tilt changes relative to rest periods (the README's "change in tilt" error).

    For each rest period (``movement == 0`` for at least :data:`MIN_REST_S`), the mean up vector of the
    estimate and of the reference is the "calibrated" reference ``up0``. Every scored movement row after it
    (until the next rest period) contributes ``angle(up_est, up0_est) - angle(up_ref, up0_ref)``; every pair
    of consecutive rest periods contributes the difference of their tilt changes.

    Args:
        up_est: estimated up vectors in the sensor frame, shape (N, 3).
        trial: the BROAD trial.
    """
    up_ref = quat_to_up(np.where(trial.ref_valid[:, None], trial.ref_quat_wxyz, np.nan))
    periods = _rest_periods(trial)
    movement_errors: list[FloatArray] = []
    rest_errors: list[float] = []
    previous: tuple[FloatArray, FloatArray] | None = None
    for i, (start, stop) in enumerate(periods):
        est0 = _mean_up(up_est[start:stop])
        ref0 = _mean_up(up_ref[start:stop])
        if previous is not None:
            change_est = float(tilt_angle_deg(est0, previous[0]))
            change_ref = float(tilt_angle_deg(ref0, previous[1]))
            rest_errors.append(change_est - change_ref)
        previous = (est0, ref0)
        end = periods[i + 1][0] if i + 1 < len(periods) else len(trial.t_s)
        rows = np.arange(stop, end)
        rows = rows[trial.scored[rows]]
        movement_errors.append(tilt_angle_deg(up_est[rows], est0) - tilt_angle_deg(up_ref[rows], ref0))
    moving = np.concatenate(movement_errors) if movement_errors else np.empty(0)
    return TiltChangeScore(
        rest_to_movement_rmse_deg=rmse(moving),
        rest_to_rest_rmse_deg=rmse(np.asarray(rest_errors)),
        rest_periods=len(periods),
        movement_rows=int(moving.size),
    )


@dataclass(frozen=True, slots=True)
class TrialScore:
    """Accuracy of one run on one trial, degrees.

    Attributes:
        trial: trial number.
        inclination_rmse_deg: BROAD inclination RMSE from up vectors (movement rows, valid reference).
        inclination_rmse_quat_deg: the same from BROAD's quaternion formula (zero-heading quaternion built
            from the estimated up vector); must equal the previous to rounding.
        tilt_change: tilt-change errors relative to rest periods.
        accel_rejected_fraction: fraction of scored rows where the AHRS ignored the accelerometer.
    """

    trial: str
    inclination_rmse_deg: float
    inclination_rmse_quat_deg: float
    tilt_change: TiltChangeScore
    accel_rejected_fraction: float


def score_up(up_est: FloatArray, trial: BroadTrial, rejected: BoolArray | None = None) -> TrialScore:
    """Score estimated up vectors (shape (N, 3)) against a trial."""
    rows = trial.scored
    q_ref = trial.ref_quat_wxyz[rows]
    err_up = inclination_error_up_deg(up_est[rows], q_ref)
    err_quat = inclination_error_quat_deg(up_to_quat(up_est[rows]), q_ref)
    return TrialScore(
        trial=trial.name,
        inclination_rmse_deg=rmse(err_up),
        inclination_rmse_quat_deg=rmse(err_quat),
        tilt_change=tilt_change_errors(up_est, trial),
        accel_rejected_fraction=float(np.mean(rejected[rows])) if rejected is not None else math.nan,
    )


def evaluate_trial(trial: BroadTrial, settings: OrientationSettings | None = None) -> tuple[TrialScore, TiltSeries]:
    """Run the batch orientation stage (the AHRS path for BROAD's accel + gyro) and score it."""
    series = estimate_tilt_batch(trial.sample_arrays(), settings)
    return score_up(series.up_tag, trial, series.accel_rejected), series
