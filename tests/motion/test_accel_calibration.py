"""Accelerometer offset/sensitivity correction (issue #5, micro:bit latency): applying it in the orientation
stage (streaming == batch) and estimating it from still readings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posturebuddy.model import Sample
from posturebuddy.motion import OrientationSettings, SampleArrays, TiltEstimator, estimate_tilt_batch
from posturebuddy.motion.orientation import (
    AccelCalibration,
    fit_accel_calibration,
    still_accel_means,
    tilt_angle_deg,
)

BIAS = np.array([-0.059, 0.013, 0.030])
SCALE = np.array([0.955, 1.021, 0.986])


def sagittal_up(flexion_deg: float) -> np.ndarray:
    """Up in the tag frame for a flexion that tips it towards tag x (tag z up at 0). With BIAS and SCALE the
    raw angle in this plane reads ``1 + s_x - s_z - b_z`` = 6 % small."""
    a = math.radians(flexion_deg)
    return np.array([math.sin(a), 0.0, math.cos(a)])


def raw(up: np.ndarray) -> np.ndarray:
    """What a sensor with BIAS and SCALE reads at rest (g)."""
    return up * SCALE + BIAS


def six_faces(rng: np.random.Generator, per_face: int = 10) -> np.ndarray:
    """Still means of a tag laid on each of its faces, a few degrees off flat."""
    ups = []
    for axis in range(3):
        for sign in (1.0, -1.0):
            for _ in range(per_face):
                u = np.zeros(3)
                u[axis] = sign
                u += rng.normal(0.0, 0.08, 3)
                ups.append(u / np.linalg.norm(u))
    return np.array([raw(u) for u in ups]) + rng.normal(0.0, 0.0005, (len(ups), 3))


def test_apply_matches_rows_bit_for_bit() -> None:
    cal = AccelCalibration(bias_g=tuple(BIAS), scale=tuple(SCALE))  # type: ignore[arg-type]
    rng = np.random.default_rng(1)
    rows = rng.normal(0.0, 1.0, (50, 3))
    batch = cal.apply_rows(rows)
    for i in range(rows.shape[0]):
        assert cal.apply((float(rows[i, 0]), float(rows[i, 1]), float(rows[i, 2]))) == tuple(batch[i])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [({"bias_g": (0.0, 0.6, 0.0)}, "bias_g"), ({"scale": (1.0, 1.0, 0.0)}, "scale"), ({"scale": (1, 1)}, "scale")],
)
def test_bad_calibration_names_the_key(kwargs: dict[str, object], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        AccelCalibration(**kwargs)  # type: ignore[arg-type]


def test_streaming_equals_batch_with_a_calibration() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    t = np.arange(n) / 50.0
    ups = np.array([sagittal_up(20.0 * math.sin(0.2 * x)) for x in t])
    accel = ups * SCALE + BIAS + rng.normal(0.0, 0.004, (n, 3))
    accel[::97] = np.nan
    gyro = np.where(np.arange(n)[:, None] > n // 2, rng.normal(0.0, 0.3, (n, 3)), np.nan)
    settings = OrientationSettings(accel_calibration=AccelCalibration(tuple(BIAS), tuple(SCALE)))  # type: ignore[arg-type]
    est = TiltEstimator(settings)
    samples = [
        Sample(
            t_s=float(t[i]),
            accel_g=tuple(accel[i]),
            gyro_dps=None if np.isnan(gyro[i, 0]) else tuple(gyro[i]),
        )
        for i in range(n)
    ]
    stream = [est.update(s) for s in samples]
    series = estimate_tilt_batch(SampleArrays.from_samples(samples), settings)
    for i in range(n):
        a, b = stream[i], series.estimate(i)
        assert (a is None) == (b is None)
        if a is None or b is None:
            continue
        assert a.source == b.source
        np.testing.assert_allclose(a.up_tag, b.up_tag, atol=1e-9)
        np.testing.assert_allclose(a.motion_energy, b.motion_energy, atol=1e-9)


def test_calibration_restores_the_angle_of_an_accel_only_tag() -> None:
    """Without the correction, flexion relative to the upright reads several per cent small with these errors;
    with it, exact."""
    settings = OrientationSettings(accel_calibration=AccelCalibration(tuple(BIAS), tuple(SCALE)))  # type: ignore[arg-type]

    def up(flexion: float, st: OrientationSettings | None) -> np.ndarray:
        est = TiltEstimator(st)
        out = None
        for i in range(200):
            out = est.update(Sample(t_s=i / 50.0, accel_g=tuple(raw(sagittal_up(flexion)))))
        assert out is not None
        return np.asarray(out.up_tag)

    for flexion in (10.0, 20.0):
        f_raw = float(tilt_angle_deg(up(flexion, None), up(0.0, None)))
        f_cal = float(tilt_angle_deg(up(flexion, settings), up(0.0, settings)))
        assert abs(f_raw - flexion) > 0.04 * flexion
        assert f_cal == pytest.approx(flexion, abs=1e-6)


def test_fit_from_six_faces_recovers_offsets_and_sensitivities() -> None:
    fit = fit_accel_calibration(six_faces(np.random.default_rng(2)))
    np.testing.assert_allclose(fit.calibration.bias_g, BIAS, atol=1e-3)
    np.testing.assert_allclose(fit.calibration.scale, SCALE, atol=1e-3)
    assert fit.rms_after_g < 1e-3 < fit.rms_before_g
    assert fit.spread_deg > 90.0


def test_fit_from_a_worn_cap_reduces_the_flexion_gain_error() -> None:
    """Only a cap of orientations (sitting, slouching, leaning): not all six parameters are observable, the
    prior keeps the rest near nominal; the flexion gain error must still shrink."""
    rng = np.random.default_rng(3)
    flex = rng.uniform(-10.0, 35.0, 400)
    lat = rng.uniform(-10.0, 10.0, 400)
    ups = []
    for f, s in zip(flex, lat, strict=True):
        u = sagittal_up(float(f))
        b = math.radians(float(s))
        u = np.array([u[0] * math.cos(b), math.sin(b), u[2] * math.cos(b)])
        ups.append(u / np.linalg.norm(u))
    means = np.array([raw(u) for u in ups]) + rng.normal(0.0, 0.0005, (400, 3))
    cal = fit_accel_calibration(means).calibration

    def read(flexion: float, c: AccelCalibration | None) -> np.ndarray:
        m = raw(sagittal_up(flexion))
        return c.apply_rows(m[None, :])[0] if c is not None else m

    err_raw = float(tilt_angle_deg(read(20.0, None), read(0.0, None))) - 20.0
    err_cal = float(tilt_angle_deg(read(20.0, cal), read(0.0, cal))) - 20.0
    assert abs(err_cal) < 0.5 * abs(err_raw)


def test_fit_refuses_too_few_chunks() -> None:
    with pytest.raises(ValueError, match="still chunks"):
        fit_accel_calibration(np.array([[0.0, 0.0, 1.0]] * 3))


def test_still_accel_means_averages_still_chunks_only() -> None:
    rng = np.random.default_rng(4)
    t = np.arange(0.0, 20.0, 0.02)
    accel = np.tile(raw(sagittal_up(10.0)), (t.shape[0], 1)) + rng.normal(0.0, 0.002, (t.shape[0], 3))
    moving = (t >= 8.0) & (t < 12.0)
    accel[moving] += 0.3 * np.sin(2 * math.pi * 2.0 * t[moving])[:, None]
    data = SampleArrays.create(t, accel_g=accel)
    means = still_accel_means(data, estimate_tilt_batch(data))
    assert 4 <= means.shape[0] < 10
    np.testing.assert_allclose(means, np.tile(raw(sagittal_up(10.0)), (means.shape[0], 1)), atol=2e-3)
