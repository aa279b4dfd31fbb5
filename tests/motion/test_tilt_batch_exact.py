"""The optimised :func:`estimate_tilt_batch` gives bit for bit the series of its straightforward form.

The batch orientation stage skips work where it provably changes nothing (every row drives one source, no row
needs holding, a source nobody sends). ``_tilt_batch_reference.reference_tilt_batch`` is a frozen copy of the
function before those shortcuts; both run here on inputs that take every branch (each source alone, sources
switching, unusable rows, gaps, repeated and backward times, one row, no rows) and must agree exactly.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from _tilt_batch_reference import reference_tilt_batch

from posturebuddy.motion import SampleArrays, TiltSeries, estimate_tilt_batch
from posturebuddy.motion.orientation import (
    _BLOCK_ROWS,
    AccelCalibration,
    AhrsSettings,
    OrientationSettings,
    _row_norm,
)

FloatArray = npt.NDArray[np.float64]


def assert_identical(a: TiltSeries, b: TiltSeries) -> None:
    for name in TiltSeries.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert x.shape == y.shape, name
        if x.dtype.kind == "f":
            assert np.array_equal(x.view(np.int64), y.view(np.int64)), name  # the same bits, NaN included
        else:
            assert np.array_equal(x, y), name


def check(data: SampleArrays, settings: OrientationSettings | None = None) -> None:
    assert_identical(estimate_tilt_batch(data, settings), reference_tilt_batch(data, settings))


def up_path(t: FloatArray) -> FloatArray:
    theta = 0.6 * np.sin(0.5 * t)
    up = np.stack((np.sin(theta), np.full_like(t, 0.2), np.cos(theta)), axis=1)
    out: FloatArray = up / np.linalg.norm(up, axis=1, keepdims=True)
    return out


def quats(up: FloatArray, t: FloatArray) -> FloatArray:
    """Tag -> earth quaternions with tilt ``up`` and a turning heading, not quite unit length."""
    u = up
    q = np.stack((1.0 + u[:, 2], u[:, 1], -u[:, 0], np.zeros_like(t)), axis=1)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    h = 0.1 * t
    hq = np.stack((np.cos(h / 2), np.zeros_like(t), np.zeros_like(t), np.sin(h / 2)), axis=1)
    w1, x1, y1, z1 = hq.T
    w2, x2, y2, z2 = q.T
    out = np.stack(
        (
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ),
        axis=1,
    )
    result: FloatArray = out * 1.0001
    return result


def day(seed: int, n: int = 4000, rate_hz: float = 50.0, *, gaps: bool = True) -> tuple[FloatArray, ...]:
    rng = np.random.default_rng(seed)
    dt = np.full(n, 1.0 / rate_hz)
    if gaps:
        r = rng.random(n)
        dt[r < 0.01] = 0.0  # repeated times
        dt[r < 0.004] = -0.02  # backwards
        dt[(r > 0.995)] = 1.5  # gaps longer than max_gap_s
        dt[(r > 0.999)] = 30.0  # longer than the source timeout
    t = np.cumsum(dt) + 1000.0
    up = up_path(t)
    accel = up + rng.normal(0.0, 0.05, (n, 3))
    gyro = rng.normal(0.0, 5.0, (n, 3))
    return t, up, accel, gyro, quats(up, t)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("gaps", [False, True])
def test_each_source_alone(seed: int, gaps: bool) -> None:
    t, up, accel, gyro, quat = day(seed, gaps=gaps)
    settings = OrientationSettings(ahrs=AhrsSettings(gain=0.5))
    check(SampleArrays.create(t, quat_wxyz=quat), settings)
    check(SampleArrays.create(t, quat_wxyz=quat, accel_g=accel), settings)  # the PostureBuddy Tag
    check(SampleArrays.create(t, gravity_g=up, accel_g=accel), settings)
    check(SampleArrays.create(t, accel_g=accel), settings)
    check(SampleArrays.create(t, accel_g=accel, gyro_dps=gyro), settings)


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_sources_switching_with_unusable_rows(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t, up, accel, gyro, quat = day(seed, n=6000)
    n = t.shape[0]
    kind = (np.arange(n) * 7) // n  # phases: raw, accel, quaternion and raw, raw, gravity, accel, raw
    accel = accel.copy()
    gyro = gyro.copy()
    quat = quat.copy()
    grav = up.copy()
    quat[~np.isin(kind, [2])] = np.nan
    quat[(kind == 2) & (rng.random(n) < 0.5)] = np.nan
    grav[kind != 4] = np.nan
    gyro[np.isin(kind, [1, 4, 5])] = np.nan
    accel[(kind == 2) & ~np.isnan(quat[:, 0])] = np.nan
    accel[rng.random(n) < 0.01] = (math.nan, 0.0, 1.0)
    accel[rng.random(n) < 0.005] = 0.0  # a zero vector: no reading
    quat[rng.random(n) < 0.003] = 0.0
    check(SampleArrays.create(t, accel_g=accel, gyro_dps=gyro, quat_wxyz=quat, gravity_g=grav))
    check(
        SampleArrays.create(t, accel_g=accel, gyro_dps=gyro, quat_wxyz=quat, gravity_g=grav),
        OrientationSettings(accel_calibration=AccelCalibration(bias_g=(0.01, -0.02, 0.03), scale=(1.01, 0.99, 1.0))),
    )


def test_quaternion_rows_with_holes_and_gyro() -> None:
    t, _, accel, gyro, quat = day(7, n=2 * _BLOCK_ROWS + 5)
    quat = quat.copy()
    gyro = gyro.copy()
    quat[100:140] = np.nan  # held from the last quaternion, within the source timeout
    quat[500] = (math.inf, 0.0, 0.0, 1.0)
    gyro[: t.shape[0] // 2] = np.nan  # quaternion rate where no gyroscope
    check(SampleArrays.create(t, quat_wxyz=quat, accel_g=accel, gyro_dps=gyro))


@pytest.mark.parametrize("n", [0, 1, 2])
def test_tiny_inputs(n: int) -> None:
    t, up, accel, gyro, quat = day(8, n=max(n, 1), gaps=False)
    t, up, accel, gyro, quat = t[:n], up[:n], accel[:n], gyro[:n], quat[:n]
    check(SampleArrays.create(t, quat_wxyz=quat, accel_g=accel))
    check(SampleArrays.create(t, accel_g=accel, gyro_dps=gyro))
    check(SampleArrays.create(t, gravity_g=up))
    check(SampleArrays.create(t))


def test_nothing_usable() -> None:
    t = np.arange(50) * 0.02
    check(SampleArrays.create(t))
    check(SampleArrays.create(t, accel_g=np.zeros((50, 3)), quat_wxyz=np.full((50, 4), np.nan)))


def test_longer_than_a_block() -> None:
    """Inputs spanning several of the blockwise helpers' blocks (and a partial last one)."""
    n = 2 * _BLOCK_ROWS + 123
    t, up, accel, gyro, quat = day(10, n=n)
    check(SampleArrays.create(t, quat_wxyz=quat, accel_g=accel))
    check(SampleArrays.create(t, gravity_g=up, accel_g=accel, gyro_dps=gyro))


def test_row_norm_is_numpy_norm() -> None:
    rng = np.random.default_rng(9)
    for k in (3, 4):
        values = rng.normal(0.0, 3.0, (2 * _BLOCK_ROWS + 7, k))
        values[::7] = np.nan
        values[::11, 0] = np.inf
        a = _row_norm(values)
        b = np.linalg.norm(values, axis=1)
        assert np.array_equal(a.view(np.int64), b.view(np.int64))
