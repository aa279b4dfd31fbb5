"""Real-data checks of the orientation stage.

* BROAD (Laidig et al., Data 6(7):72, 2021, https://doi.org/10.3390/data6070072, CC BY 4.0): inclination
  RMSE against optical ground truth on trials 05 and 16, scored as in BROAD's ``broad_utils.py``.
* x-io Technologies' Fusion example recording (MIT): our AHRS path against plain ``imufusion`` run as in
  Fusion's advanced example, to catch unit and axis mistakes.

The data live in ``shared/data`` beside the repository and are never copied into it; the tests skip if it
is absent.
"""

from __future__ import annotations

from pathlib import Path

import imufusion
import numpy as np
import pytest

from posturebuddy.motion import AhrsSettings, OrientationSettings, SampleArrays, estimate_tilt_batch, up_to_quat
from posturebuddy.motion.evaluation import (
    BROAD_TRIAL_FILES,
    PUBLISHED_INCLINATION_RMSE_DEG,
    BroadTrial,
    evaluate_trial,
    inclination_error_quat_deg,
    inclination_error_up_deg,
    load_broad_trial,
)

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BROAD_DIR = SHARED_DATA / "broad"
XIO_CSV = SHARED_DATA / "xio_fusion_example" / "sensor_data.csv"

# Regression bounds, not tuned to the fixture: the BROAD authors' Madgwick with one parameter set for all
# 39 trials (published, full rate) plus 0.5 degrees for our 95 Hz decimated copy and float32 arithmetic.
# Our defaults measure well below (0.36 and 1.51 degrees, see docs/orientation.md); crossing the bound
# means we became worse than a plain, published, untuned-per-trial Madgwick.
MARGIN_DEG = 0.5
# Tilt change between rest periods: the quantity calibrated posture angles rest on. 1 degree is a tenth of
# the smallest posture threshold the detector will use; measured 0.07-0.08 degrees.
REST_TO_REST_BOUND_DEG = 1.0


@pytest.fixture(scope="module", params=sorted(BROAD_TRIAL_FILES))
def broad_trial(request: pytest.FixtureRequest) -> BroadTrial:
    name: str = request.param
    path = BROAD_DIR / BROAD_TRIAL_FILES[name]
    if not path.exists():
        pytest.skip(f"BROAD data not found at {path} (shared/data/broad beside the repository)")
    return load_broad_trial(path, name)


def test_broad_inclination_rmse_below_published_madgwick(broad_trial: BroadTrial) -> None:
    score, series = evaluate_trial(broad_trial, OrientationSettings())
    bound = PUBLISHED_INCLINATION_RMSE_DEG[broad_trial.name]["madgwick"] + MARGIN_DEG
    print(f"BROAD {broad_trial.name}: inclination RMSE {score.inclination_rmse_deg:.3f} deg (bound {bound})")
    assert score.inclination_rmse_deg < bound
    assert score.tilt_change.rest_to_rest_rmse_deg < REST_TO_REST_BOUND_DEG
    assert score.tilt_change.rest_to_movement_rmse_deg < bound
    assert np.all(series.valid)


def test_broad_both_inclination_formulas_agree(broad_trial: BroadTrial) -> None:
    """BROAD's ``2 acos(sqrt(w^2 + z^2))`` of ``q_est q_ref^-1`` equals the angle between up vectors."""
    score, series = evaluate_trial(broad_trial)
    assert score.inclination_rmse_quat_deg == pytest.approx(score.inclination_rmse_deg, abs=1e-6)
    # with an arbitrary heading in the estimate too (the 6D estimate has none of its own)
    rows = broad_trial.scored
    q_est = up_to_quat(series.up_tag[rows])
    angle = np.linspace(0, 4 * np.pi, q_est.shape[0])
    heading = np.column_stack((np.cos(angle / 2), 0 * angle, 0 * angle, np.sin(angle / 2)))
    w1, z1 = heading[:, 0], heading[:, 3]
    w2, x2, y2, z2 = q_est.T
    q_headed = np.column_stack((w1 * w2 - z1 * z2, w1 * x2 - z1 * y2, w1 * y2 + z1 * x2, w1 * z2 + z1 * w2))
    err_quat = inclination_error_quat_deg(q_headed, broad_trial.ref_quat_wxyz[rows])
    err_up = inclination_error_up_deg(series.up_tag[rows], broad_trial.ref_quat_wxyz[rows])
    np.testing.assert_allclose(err_quat, err_up, atol=1e-5)


def test_broad_reference_frame_matches_accelerometer_at_rest(broad_trial: BroadTrial) -> None:
    """Guards our unit and frame reading of the files: at rest the accelerometer points along reference up."""
    still = (np.linalg.norm(broad_trial.gyro_dps, axis=1) < 1.0) & broad_trial.ref_valid
    err = inclination_error_up_deg(broad_trial.accel_g[still], broad_trial.ref_quat_wxyz[still])
    assert np.median(err) < 1.0
    assert np.median(np.linalg.norm(broad_trial.accel_g[still], axis=1)) == pytest.approx(1.0, abs=0.02)


# --- x-io Fusion example ------------------------------------------------------------------------

XIO_GAIN = 0.5
XIO_REJECTION_DEG = 10.0
XIO_TIMEOUT_S = 5.0
XIO_RANGE_DPS = 2000.0


def xio_data() -> np.ndarray:
    if not XIO_CSV.exists():
        pytest.skip(f"x-io example recording not found at {XIO_CSV}")
    data: np.ndarray = np.genfromtxt(XIO_CSV, delimiter=",", skip_header=1)
    return data


def plain_imufusion_roll_pitch(data: np.ndarray) -> np.ndarray:
    """imufusion used as Fusion's ``advanced_example.py`` uses it (6D: our path ignores the magnetometer)."""
    t, gyro, accel = data[:, 0], data[:, 1:4], data[:, 4:7]
    ahrs = imufusion.Ahrs()
    ahrs.set_settings(
        imufusion.AhrsSettings(
            sample_rate=100.0,
            convention=imufusion.CONVENTION_NWU,
            gain=XIO_GAIN,
            gyroscope_range=XIO_RANGE_DPS,
            acceleration_rejection=XIO_REJECTION_DEG,
            magnetic_rejection=10.0,
            rejection_timeout=XIO_TIMEOUT_S,
        )
    )
    bias = imufusion.Bias()
    bias.set_settings(imufusion.BiasSettings(sample_rate=100.0, stationary_threshold=3.0, stationary_period=3.0))
    periods = np.diff(t, prepend=t[0])
    euler = np.empty((t.shape[0], 3))
    for i in range(t.shape[0]):
        ahrs.set_sample_period(periods[i])
        ahrs.update_no_magnetometer(bias.update(gyro[i]), accel[i])
        euler[i] = imufusion.quaternion_to_euler(ahrs.get_quaternion())
    return euler[:, :2]


def our_roll_pitch(t: np.ndarray, gyro: np.ndarray, accel: np.ndarray) -> np.ndarray:
    settings = OrientationSettings(
        ahrs=AhrsSettings(
            gain=XIO_GAIN,
            acceleration_rejection_deg=XIO_REJECTION_DEG,
            rejection_timeout_s=XIO_TIMEOUT_S,
            gyro_range_dps=XIO_RANGE_DPS,
        )
    )
    up = estimate_tilt_batch(SampleArrays.create(t, accel_g=accel, gyro_dps=gyro), settings).up_tag
    # Fusion's ZYX Euler angles from the third row of R(q): roll = atan2(up_y, up_z), pitch = -asin(up_x)
    roll = np.arctan2(up[:, 1], up[:, 2])
    pitch = -np.arcsin(np.clip(up[:, 0], -1.0, 1.0))
    out: np.ndarray = np.degrees(np.column_stack((roll, pitch)))
    return out


def roll_pitch_difference(ours: np.ndarray, plain: np.ndarray, t: np.ndarray) -> np.ndarray:
    # after Fusion's 3 s startup ramp (ours starts from the accelerometer's tilt, plain from identity),
    # and away from pitch +-90 degrees where roll is undefined
    keep = (t > 5.0) & (np.abs(plain[:, 1]) < 80.0)
    diff = ours[keep] - plain[keep]
    diff[:, 0] = (diff[:, 0] + 180.0) % 360.0 - 180.0
    out: np.ndarray = np.abs(diff)
    return out


def test_xio_example_matches_plain_imufusion() -> None:
    data = xio_data()
    t, gyro, accel = data[:, 0], data[:, 1:4], data[:, 4:7]
    diff = roll_pitch_difference(our_roll_pitch(t, gyro, accel), plain_imufusion_roll_pitch(data), t)
    assert diff.max() < 1.0  # measured about 4e-4 degrees: the same imufusion calls with the same periods


def test_xio_comparison_catches_unit_mistakes() -> None:
    """The regression test has teeth: gyro in rad/s, or accel axes swapped, breaks the agreement."""
    data = xio_data()
    t, gyro, accel = data[:, 0], data[:, 1:4], data[:, 4:7]
    plain = plain_imufusion_roll_pitch(data)
    assert roll_pitch_difference(our_roll_pitch(t, np.radians(gyro), accel), plain, t).max() > 5.0
    assert roll_pitch_difference(our_roll_pitch(t, gyro, accel[:, [1, 0, 2]]), plain, t).max() > 5.0
