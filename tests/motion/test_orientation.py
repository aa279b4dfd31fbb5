"""Orientation stage on synthetic ground truth: conventions, each tilt source, gaps, partial samples,
and streaming == batch."""

from __future__ import annotations

import math

import numpy as np
import pytest

from posturebuddy.model import Sample
from posturebuddy.motion import (
    AhrsSettings,
    OrientationSettings,
    SampleArrays,
    TiltEstimate,
    TiltEstimator,
    TiltSource,
    estimate_tilt_batch,
    quat_to_up,
    tilt_angle_deg,
    up_to_quat,
)

RATE_HZ = 100.0


def rotation_matrix(q: np.ndarray) -> np.ndarray:
    """Textbook R(q) for a unit (w, x, y, z) quaternion, written out independently of the code under test."""
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def heading_quat(deg: float) -> np.ndarray:
    h = math.radians(deg) / 2
    return np.array([math.cos(h), 0.0, 0.0, math.sin(h)])


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    w1, x1, y1, z1 = a
    w2, x2, y2, z2 = b
    return np.array(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ]
    )


def tilted_up(angle_deg: float, azimuth_deg: float) -> np.ndarray:
    """Up vector tilted ``angle_deg`` from tag +z towards the azimuth in the tag's x-y plane."""
    a, b = math.radians(angle_deg), math.radians(azimuth_deg)
    return np.array([math.sin(a) * math.cos(b), math.sin(a) * math.sin(b), math.cos(a)])


def run(samples: list[Sample], settings: OrientationSettings | None = None) -> list[TiltEstimate | None]:
    est = TiltEstimator(settings)
    return [est.update(s) for s in samples]


def static_raw(
    up: np.ndarray,
    seconds: float,
    *,
    rng: np.random.Generator,
    gyro_bias_dps: float = 0.5,
    t0: float = 0.0,
    with_gyro: bool = True,
) -> list[Sample]:
    n = int(seconds * RATE_HZ)
    out = []
    for i in range(n):
        accel = up + rng.normal(0.0, 0.01, 3)
        gyro = np.full(3, gyro_bias_dps) + rng.normal(0.0, 0.2, 3)
        out.append(Sample(t_s=t0 + i / RATE_HZ, accel_g=tuple(accel), gyro_dps=tuple(gyro) if with_gyro else None))
    return out


# --- conventions --------------------------------------------------------------------------------


def test_quat_to_up_is_q_inverse_applied_to_earth_z() -> None:
    rng = np.random.default_rng(7)
    q = rng.normal(size=(200, 4))
    up = quat_to_up(q)
    for qi, ui in zip(q, up, strict=True):
        np.testing.assert_allclose(rotation_matrix(qi).T @ np.array([0.0, 0.0, 1.0]), ui, atol=1e-12)
        # and the tag-frame up is carried onto earth z by q
        np.testing.assert_allclose(rotation_matrix(qi) @ ui, [0.0, 0.0, 1.0], atol=1e-12)


def test_up_to_quat_round_trip_and_heading_independence() -> None:
    rng = np.random.default_rng(8)
    up = rng.normal(size=(100, 3))
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    np.testing.assert_allclose(quat_to_up(up_to_quat(up)), up, atol=1e-12)
    np.testing.assert_allclose(quat_to_up(up_to_quat([0.0, 0.0, -1.0])), [0.0, 0.0, -1.0], atol=1e-12)
    # a rotation about earth z (heading) does not change the tilt
    q = up_to_quat(up[0])
    np.testing.assert_allclose(quat_to_up(quat_mul(heading_quat(73.0), q)), up[0], atol=1e-12)


def test_tilt_angle_deg() -> None:
    assert float(tilt_angle_deg([0, 0, 1], [0, 0, 1])) == pytest.approx(0.0, abs=1e-12)
    assert float(tilt_angle_deg([0, 0, 1], [0, 1, 1])) == pytest.approx(45.0)
    assert float(tilt_angle_deg([0, 0, 1], [0, 0, -2])) == pytest.approx(180.0)


# --- each source at known static tilts ----------------------------------------------------------

TILTS = [(0.0, 0.0), (20.0, 0.0), (35.0, 90.0), (60.0, 200.0), (90.0, 45.0), (150.0, 300.0)]


@pytest.mark.parametrize(("angle", "azimuth"), TILTS)
def test_quaternion_source_static(angle: float, azimuth: float) -> None:
    up = tilted_up(angle, azimuth)
    q = quat_mul(heading_quat(123.0), up_to_quat(up))
    out = run([Sample(t_s=i / RATE_HZ, quat_wxyz=tuple(q)) for i in range(10)])
    last = out[-1]
    assert last is not None
    assert last.source is TiltSource.QUATERNION
    np.testing.assert_allclose(last.up_tag, up, atol=1e-12)


@pytest.mark.parametrize(("angle", "azimuth"), TILTS)
def test_gravity_source_static(angle: float, azimuth: float) -> None:
    up = tilted_up(angle, azimuth)
    out = run([Sample(t_s=i / RATE_HZ, gravity_g=tuple(0.98 * up)) for i in range(10)])
    assert out[-1] is not None
    assert out[-1].source is TiltSource.GRAVITY
    np.testing.assert_allclose(out[-1].up_tag, up, atol=1e-12)


@pytest.mark.parametrize(("angle", "azimuth"), TILTS)
def test_ahrs_source_static(angle: float, azimuth: float) -> None:
    up = tilted_up(angle, azimuth)
    # 0.5 dps gyro bias on every axis: uncorrected it would hold the tilt about bias / gain = 1 degree off;
    # imufusion.Bias learns it after 3 s still (0.02 Hz high-pass), so by 20 s the error is small.
    out = run(static_raw(up, 20.0, rng=np.random.default_rng(1)))
    last = out[-1]
    assert last is not None
    assert last.source is TiltSource.AHRS
    assert not last.initialising  # the 3 s startup ramp is over
    assert float(tilt_angle_deg(last.up_tag, up)) < 0.3
    assert last.rotation_dps < 0.6  # |gyro - learnt bias|: noise only


@pytest.mark.parametrize(("angle", "azimuth"), TILTS)
def test_accel_source_static(angle: float, azimuth: float) -> None:
    up = tilted_up(angle, azimuth)
    out = run(static_raw(up, 3.0, rng=np.random.default_rng(2), with_gyro=False))
    last = out[-1]
    assert last is not None
    assert last.source is TiltSource.ACCEL
    assert float(tilt_angle_deg(last.up_tag, up)) < 0.5


# --- a slow rotation ----------------------------------------------------------------------------


def slow_roll(rate_dps: float, seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rotation about the tag's x axis from upright: times, true up, gyro (body rate), quaternions."""
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    theta = np.radians(rate_dps * t)
    up = np.column_stack((np.zeros_like(t), np.sin(theta), np.cos(theta)))
    gyro = np.column_stack((np.full_like(t, rate_dps), np.zeros_like(t), np.zeros_like(t)))
    quat = np.column_stack((np.cos(theta / 2), np.sin(theta / 2), np.zeros_like(t), np.zeros_like(t)))
    return t, up, gyro, quat


def test_slow_rotation_each_source() -> None:
    rate = 10.0
    t, up, gyro, quat = slow_roll(rate, 9.0)
    settings = OrientationSettings()
    series = {
        "quaternion": estimate_tilt_batch(SampleArrays.create(t, quat_wxyz=quat), settings),
        "ahrs": estimate_tilt_batch(SampleArrays.create(t, accel_g=up, gyro_dps=gyro), settings),
        "accel": estimate_tilt_batch(SampleArrays.create(t, accel_g=up), settings),
    }
    late = t > 3.0
    err = {k: tilt_angle_deg(s.up_tag, up)[late] for k, s in series.items()}
    assert err["quaternion"].max() < 1e-9
    assert err["ahrs"].max() < 0.5
    # a first-order low-pass lags a ramp by rate * tau
    lag = rate * settings.accel_time_constant_s
    assert err["accel"].max() == pytest.approx(lag, rel=0.1)
    # rotation speed: gyro for the AHRS, quaternion differences for the quaternion source
    assert series["ahrs"].rotation_dps[-1] == pytest.approx(rate, rel=0.05)
    assert series["quaternion"].rotation_dps[-1] == pytest.approx(rate, rel=1e-6)


# --- gaps, duplicates, backwards time -----------------------------------------------------------


@pytest.mark.parametrize("with_gyro", [True, False])
def test_gap_reinitialises_from_the_accelerometer(with_gyro: bool) -> None:
    rng = np.random.default_rng(3)
    up_a, up_b = tilted_up(0.0, 0.0), tilted_up(40.0, 90.0)
    before = static_raw(up_a, 5.0, rng=rng, with_gyro=with_gyro)
    after = static_raw(up_b, 1.0, rng=rng, with_gyro=with_gyro, t0=before[-1].t_s + 3.0)  # 3 s link gap
    out = run(before + after)
    first_after = out[len(before)]
    assert first_after is not None
    assert first_after.restarted
    assert float(tilt_angle_deg(first_after.up_tag, up_b)) < 2.0  # no slow convergence from the old tilt
    assert not any(o is not None and o.restarted for o in out[1 : len(before)])


def test_duplicate_and_backwards_timestamps_change_nothing() -> None:
    rng = np.random.default_rng(4)
    samples = static_raw(tilted_up(30.0, 0.0), 4.0, rng=rng)
    est = TiltEstimator()
    for s in samples:
        est.update(s)
    ref = est.update(Sample(t_s=samples[-1].t_s + 0.01, accel_g=(0.0, 0.0, 1.0), gyro_dps=(0.0, 0.0, 0.0)))
    assert ref is not None
    # the same timestamp again, and one from the past, with a wildly different accelerometer
    dup = est.update(Sample(t_s=ref.t_s, accel_g=(1.0, 0.0, 0.0), gyro_dps=(500.0, 0.0, 0.0)))
    back = est.update(Sample(t_s=ref.t_s - 0.5, accel_g=(1.0, 0.0, 0.0), gyro_dps=(500.0, 0.0, 0.0)))
    assert dup is not None
    assert back is not None
    assert dup.up_tag == ref.up_tag
    assert back.up_tag == ref.up_tag


# --- partial samples (Thingy:52 style) ----------------------------------------------------------


def thingy_stream(seconds: float, quat_until_s: float) -> list[Sample]:
    """Quaternion packets and raw accel+gyro packets as separate samples, quaternions stopping early."""
    rng = np.random.default_rng(5)
    up = tilted_up(25.0, 180.0)
    q = tuple(quat_mul(heading_quat(40.0), up_to_quat(up)))
    out: list[Sample] = []
    for i in range(int(seconds * RATE_HZ)):
        t = i / RATE_HZ
        if t < quat_until_s:
            out.append(Sample(t_s=t, quat_wxyz=q))
        shake = 0.3 * math.sin(2 * math.pi * 3 * t) if 2.0 <= t < 3.0 else 0.0
        accel = up + rng.normal(0.0, 0.01, 3) + np.array([shake, 0.0, 0.0])
        out.append(Sample(t_s=t + 0.002, accel_g=tuple(accel), gyro_dps=tuple(rng.normal(0.0, 0.2, 3))))
    return out


def test_partial_samples_quaternion_drives_tilt_raw_drives_motion() -> None:
    samples = thingy_stream(6.0, quat_until_s=4.0)
    out = run(samples)
    up = tilted_up(25.0, 180.0)

    def at(t: float) -> TiltEstimate | None:
        return min(zip(samples, out, strict=True), key=lambda so: abs(so[0].t_s - t))[1]

    mid = [o for s, o in zip(samples, out, strict=True) if 0.5 < s.t_s < 4.0]
    assert all(o is not None and o.source is TiltSource.QUATERNION for o in mid)
    assert max(float(tilt_angle_deg(o.up_tag, up)) for o in mid if o is not None) < 1e-9
    still, shaking = at(1.502), at(2.802)
    assert still is not None
    assert shaking is not None
    assert still.motion_energy < 0.5 < 1.0 < shaking.motion_energy
    # quaternions stop at 4 s: after source_timeout_s the AHRS takes over, restarting from the accelerometer
    late = [(s.t_s, o) for s, o in zip(samples, out, strict=True) if o is not None and s.t_s > 4.0]
    switched = [t for t, o in late if o.source is TiltSource.AHRS]
    assert switched
    assert switched[0] == pytest.approx(4.0 + 1.0, abs=0.03)
    first = next(o for t, o in late if o.source is TiltSource.AHRS)
    assert first.restarted
    assert float(tilt_angle_deg(late[-1][1].up_tag, up)) < 2.0


def test_nothing_usable_yet_returns_none() -> None:
    est = TiltEstimator()
    assert est.update(Sample(t_s=0.0, gyro_dps=(1.0, 2.0, 3.0))) is None
    assert est.update(Sample(t_s=0.01, accel_g=(0.0, 0.0, 0.0))) is None  # zero vector = absent
    assert est.update(Sample(t_s=0.02, accel_g=(math.nan, 0.0, 1.0))) is None
    assert est.update(Sample(t_s=0.03, accel_g=(0.0, 0.0, 1.0))) is not None


# --- streaming == batch -------------------------------------------------------------------------


def messy_stream(seed: int, n: int = 3000) -> list[Sample]:
    """Every kind of sample in one stream: raw, accel-only, gyro-only, quaternion, gravity, NaN, gaps,
    duplicate and backwards timestamps, and source switches."""
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    t = 0.0
    phase_kind = ["raw", "accel", "quat_and_raw", "raw", "gravity", "accel", "raw"]
    for i in range(n):
        kind = phase_kind[(i * len(phase_kind)) // n]
        r = rng.random()
        dt = 0.01 if r > 0.02 else (0.0 if r > 0.01 else (-0.02 if r > 0.005 else 0.8))
        t += dt
        theta = 0.6 * math.sin(0.5 * t)
        up = np.array([math.sin(theta), 0.2, math.cos(theta)])
        up /= np.linalg.norm(up)
        accel = tuple(up + rng.normal(0.0, 0.05, 3))
        gyro = tuple(rng.normal(0.0, 5.0, 3))
        if kind == "raw":
            sample = Sample(t_s=t, accel_g=accel, gyro_dps=gyro)
        elif kind == "accel":
            sample = Sample(t_s=t, accel_g=accel) if rng.random() > 0.1 else Sample(t_s=t, gyro_dps=gyro)
        elif kind == "gravity":
            sample = Sample(t_s=t, gravity_g=tuple(up), accel_g=accel)
        elif rng.random() < 0.5:
            sample = Sample(t_s=t, quat_wxyz=tuple(quat_mul(heading_quat(t), up_to_quat(up))))
        else:
            sample = Sample(t_s=t, accel_g=accel, gyro_dps=gyro)
        if rng.random() < 0.01:
            sample = Sample(t_s=t, accel_g=(math.nan, 0.0, 1.0), gyro_dps=gyro)
        out.append(sample)
    return out


def assert_same(stream: list[TiltEstimate | None], batch_rows: list[TiltEstimate | None]) -> None:
    assert len(stream) == len(batch_rows)
    for i, (a, b) in enumerate(zip(stream, batch_rows, strict=True)):
        assert (a is None) == (b is None), i
        if a is None or b is None:
            continue
        assert a.source == b.source, i
        assert (a.accel_rejected, a.recovering, a.initialising, a.restarted) == (
            b.accel_rejected,
            b.recovering,
            b.initialising,
            b.restarted,
        ), i
        np.testing.assert_allclose(a.up_tag, b.up_tag, atol=1e-9, err_msg=str(i))
        np.testing.assert_allclose(
            [a.motion_g, a.rotation_dps, a.motion_energy],
            [b.motion_g, b.rotation_dps, b.motion_energy],
            atol=1e-9,
            rtol=1e-9,
            err_msg=str(i),
        )


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_streaming_equals_batch_on_a_messy_stream(seed: int) -> None:
    samples = messy_stream(seed)
    settings = OrientationSettings(ahrs=AhrsSettings(gain=0.5))
    stream = run(samples, settings)
    series = estimate_tilt_batch(SampleArrays.from_samples(samples), settings)
    assert_same(stream, [series.estimate(i) for i in range(len(series))])
    sources = {o.source for o in stream if o is not None}
    assert sources == set(TiltSource)


def test_streaming_equals_batch_long_accel_only() -> None:
    """Long enough that the vectorised low-pass needs several chunks (exp overflow guard)."""
    rng = np.random.default_rng(9)
    n = 60_000
    t = np.arange(n) / 50.0
    accel = np.column_stack((0.1 * np.sin(t), rng.normal(0, 0.05, n), np.ones(n)))
    samples = [Sample(t_s=float(t[i]), accel_g=tuple(accel[i])) for i in range(n)]
    stream = run(samples)
    series = estimate_tilt_batch(SampleArrays.create(t, accel_g=accel))
    idx = np.arange(0, n, 997)
    assert_same([stream[i] for i in idx], [series.estimate(int(i)) for i in idx])


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("factory", "name"),
    [
        (lambda: AhrsSettings(gain=-1.0), "gain"),
        (lambda: AhrsSettings(acceleration_rejection_deg=200.0), "acceleration_rejection_deg"),
        (lambda: AhrsSettings(sample_rate_hz=0.0), "sample_rate_hz"),
        (lambda: OrientationSettings(max_gap_s=0.0), "max_gap_s"),
        (lambda: OrientationSettings(accel_time_constant_s=math.nan), "accel_time_constant_s"),
    ],
)
def test_bad_settings_name_the_key(factory: object, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        factory()  # type: ignore[operator]


def test_ahrs_at_25_hz_with_estimated_rate() -> None:
    rng = np.random.default_rng(6)
    up = tilted_up(45.0, 30.0)
    samples = [
        Sample(
            t_s=i / 25.0 + rng.normal(0, 0.002),
            accel_g=tuple(up + rng.normal(0, 0.01, 3)),
            gyro_dps=tuple(rng.normal(0, 0.2, 3)),
        )
        for i in range(250)
    ]
    out = run(samples)
    assert out[-1] is not None
    assert float(tilt_angle_deg(out[-1].up_tag, up)) < 0.5
    assert not out[-1].initialising  # startup ramp measured in seconds, not in 100 Hz samples


def test_still_motion_floor_is_bias_free() -> None:
    """A biased, scaled accelerometer at rest scores near 0, not ``|bias| / motion_ref_g`` (issue: micro:bit)."""
    rng = np.random.default_rng(5)
    up = np.array([0.3, -0.2, 0.93]) / np.linalg.norm([0.3, -0.2, 0.93])
    bias = np.array([0.03, -0.04, 0.05])
    samples = [Sample(t_s=i / 50.0, accel_g=tuple(1.02 * up + bias + rng.normal(0.0, 0.003, 3))) for i in range(1000)]
    est = TiltEstimator()
    out = [est.update(s) for s in samples]
    energy = [e.motion_energy for e in out[100:] if e is not None]
    assert max(energy) < 0.3
    series = estimate_tilt_batch(SampleArrays.from_samples(samples))
    np.testing.assert_allclose(series.motion_energy[100:], energy, rtol=1e-9, atol=1e-12)


def test_large_gyro_offset_is_acquired() -> None:
    """A 5 dps raw gyro offset (beyond Fusion's 3 dps stationary threshold) is learnt while the tag is still."""
    rng = np.random.default_rng(6)
    offset = np.array([4.5, -5.0, 2.0])
    samples = [
        Sample(
            t_s=i / 10.0,
            accel_g=tuple(np.array([0.0, 0.0, 1.0]) + rng.normal(0.0, 0.002, 3)),
            gyro_dps=tuple(offset + rng.normal(0.0, 0.1, 3)),
        )
        for i in range(300)
    ]
    est = TiltEstimator()
    out = [est.update(s) for s in samples]
    last = out[-1]
    assert last is not None
    assert last.rotation_dps < 1.0
    assert float(tilt_angle_deg(last.up_tag, (0.0, 0.0, 1.0))) < 1.0
    series = estimate_tilt_batch(SampleArrays.from_samples(samples))
    np.testing.assert_allclose(series.rotation_dps[-1], last.rotation_dps, rtol=1e-9)
