"""Device emulation profiles: quantisation, saturation, missing sensors, noise and bias, profile validation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simulators.wearer import get_profile, load_profiles, simulate
from simulators.wearer.imu import ProfileError, apply_profile

FAMILIES = ("posturebuddy", "thingy52", "witmotion", "sensortag", "microbit")


def test_all_families_have_profiles() -> None:
    assert set(FAMILIES) <= set(load_profiles())


def is_multiple(x: np.ndarray, step: float) -> bool:
    k = x / step
    return bool(np.allclose(k, np.round(k), atol=1e-6))


@pytest.mark.parametrize(
    ("device", "accel_step", "gyro_step"),
    [
        ("thingy52", 1.0 / 1024.0, 1.0 / 32.0),
        ("witmotion", 16.0 / 32768.0, 2000.0 / 32768.0),
        ("sensortag", 8.0 / 32768.0, 500.0 / 65536.0),
        ("microbit", 0.001, None),
    ],
)
def test_outputs_are_quantised_to_the_wire_format(device: str, accel_step: float, gyro_step: float | None) -> None:
    rec = simulate("fidgety_upright", device=device, duration_s=30.0)
    assert is_multiple(rec.accel_g, accel_step)
    if gyro_step is None:
        assert np.isnan(rec.gyro_dps).all()
        assert np.isnan(rec.mag_ut).all()
    else:
        assert is_multiple(rec.gyro_dps, gyro_step)


def test_microbit_accel_has_ten_bit_resolution() -> None:
    rec = simulate("fidgety_upright", device="microbit", duration_s=30.0)
    # Values sit on the 3.9 mg sensor grid, then rounded to milli-g: few distinct values per axis.
    steps = np.diff(np.unique(rec.accel_g[:, 1]))
    assert steps.min() >= 0.003 - 1e-9


@pytest.mark.parametrize(
    ("device", "accel_limit", "gyro_limit"),
    [("microbit", 2.0, None), ("sensortag", 8.0, 250.0), ("thingy52", 2.0, 2000.0), ("witmotion", 16.0, 2000.0)],
)
def test_saturation_at_the_sensor_range(device: str, accel_limit: float, gyro_limit: float | None) -> None:
    prof = get_profile(device)
    n = 200
    big_a = np.tile([[30.0, -30.0, 0.5]], (n, 1))
    big_g = np.tile([[5000.0, -5000.0, 10.0]], (n, 1))
    mag = np.zeros((n, 3))
    a, g, _, _ = apply_profile(prof, big_a, big_g, mag, 50.0, np.random.default_rng(0))
    assert np.all(np.abs(a[:, :2]) <= accel_limit + 1e-9)
    assert np.all(np.abs(a[:, :2]) >= accel_limit - 0.01)
    assert np.all(np.abs(a[:, 2] - 0.5) < 0.2)
    if gyro_limit is not None:
        assert np.all(np.abs(g[:, :2]) <= gyro_limit + 1e-9)
        assert np.all(np.abs(g[:, :2]) >= gyro_limit - 0.1)


def test_ideal_profile_changes_nothing() -> None:
    prof = get_profile("ideal")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 3))
    a, g, m, _ = apply_profile(prof, x, 100 * x, 40 * x, 50.0, np.random.default_rng(2))
    assert np.array_equal(a, x)
    assert np.array_equal(g, 100 * x)
    assert np.array_equal(m, 40 * x)


def test_gyro_bias_and_noise_are_plausible() -> None:
    prof = get_profile("sensortag")
    n = 10 * 60 * 10
    zeros = np.zeros((n, 3))
    _, g, _, _ = apply_profile(prof, zeros, zeros, zeros, 10.0, np.random.default_rng(3))
    bias = g.mean(axis=0)
    assert np.all(np.abs(bias) < 10.0)
    assert np.abs(bias).max() > 0.1  # an uncalibrated MEMS gyro is not zero at rest
    assert 0.01 < float(np.std(g[:, 0] - np.convolve(g[:, 0], np.ones(50) / 50, mode="same"))) < 0.2


def test_magnetometer_sees_the_earth_field() -> None:
    rec = simulate("good_day", device="posturebuddy", duration_s=30.0)
    strength = np.linalg.norm(rec.mag_ut, axis=1)
    assert 35.0 < float(np.median(strength)) < 65.0
    ideal = simulate("good_day", device="ideal", duration_s=30.0)
    assert np.allclose(np.linalg.norm(ideal.mag_ut, axis=1), 50.0, atol=1e-6)


def test_unknown_device() -> None:
    with pytest.raises(ValueError, match="unknown device 'fitbit'"):
        simulate("good_day", device="fitbit", duration_s=5.0)


def test_bad_profile_file_names_the_key(tmp_path: Path) -> None:
    good = (Path(__file__).parents[2] / "simulators" / "wearer" / "profiles.toml").read_text()
    p = tmp_path / "profiles.toml"
    p.write_text(good.replace("accel_range_g = 16.0", 'accel_range_g = "sixteen"'))
    with pytest.raises(ProfileError, match=r"\[witmotion\] key 'accel_range_g'"):
        load_profiles(p)
    p.write_text(good.replace("gyro_range_dps = 250.0", "gyro_range_dps = 250.0\ngyro_rnage_dps = 1.0"))
    with pytest.raises(ProfileError, match=r"\[sensortag\] unknown key 'gyro_rnage_dps'"):
        load_profiles(p)
