"""The tag's constant sensor errors (recorded, imposed for "the same physical tag") and the off-body six-face
calibration scenario (``tag_pose`` segments)."""

from __future__ import annotations

import dataclasses
import tomllib

import numpy as np
import numpy.typing as npt
import pytest

from simulators.record import simulate_for
from simulators.wearer import (
    ScenarioError,
    SensorErrors,
    SimulatedRecording,
    get_profile,
    load_scenario,
    parse_scenario,
    simulate,
)

FloatArray = npt.NDArray[np.float64]
_DEVICE_STREAM = 3
"""Index of the device stream among the seed sequences :func:`simulators.wearer.simulate` spawns."""
_STREAMS = 5

FACE_AXES = {"+x": (0, 1.0), "-x": (0, -1.0), "+y": (1, 1.0), "-y": (1, -1.0), "+z": (2, 1.0), "-z": (2, -1.0)}


def _arrays(rec: SimulatedRecording) -> list[npt.NDArray[np.generic]]:
    return [rec.t_s, rec.t_true_s, rec.quat_wxyz, rec.accel_g, rec.gyro_dps, rec.mag_ut, rec.present]


def _same(a: npt.NDArray[np.generic], b: npt.NDArray[np.generic]) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


# -- sensor errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("device", ["microbit", "posturebuddy"])
def test_sensor_errors_are_the_ones_drawn_from_the_seed(device: str) -> None:
    """Recorded errors are exactly the draws of the device stream, in the original order (scale, bias, ...)."""
    rec = simulate("slouchy_afternoon", device=device, seed=4, duration_s=20.0)
    prof = get_profile(device)
    rng = np.random.default_rng(np.random.SeedSequence(4).spawn(_STREAMS)[_DEVICE_STREAM])
    scale = 1.0 + rng.normal(0.0, prof.accel_scale_std, size=3)
    bias = rng.normal(0.0, prof.accel_bias_std_g, size=3)
    errors = rec.sensor_errors
    assert errors.accel_scale == tuple(scale.tolist())
    assert errors.accel_bias_g == tuple(bias.tolist())
    assert errors.accel_scale != (1.0, 1.0, 1.0)
    assert (np.asarray(errors.gyro_bias_dps) != 0.0).any() == prof.has_gyro
    assert errors.clock_ppm != 0.0
    # What the samples show: a still, upright tag reads scale * true + bias (to the noise).
    still = slice(0, int(4 * rec.rate_hz))
    ideal = simulate("slouchy_afternoon", device="ideal", rate_hz=rec.rate_hz, seed=4, duration_s=20.0)
    expected = ideal.accel_g[still] * np.asarray(scale) + np.asarray(bias)
    assert np.abs(rec.accel_g[still].mean(axis=0) - expected.mean(axis=0)).max() < 0.003


def test_override_with_own_errors_is_bit_for_bit_the_same() -> None:
    rec = simulate("stands_and_walks", device="witmotion", seed=2, duration_s=30.0)
    again = simulate("stands_and_walks", device="witmotion", seed=2, duration_s=30.0, sensor_errors=rec.sensor_errors)
    assert again.sensor_errors == rec.sensor_errors
    assert all(_same(a, b) for a, b in zip(_arrays(rec), _arrays(again), strict=True))


def test_override_changes_only_the_constant_errors() -> None:
    """The seed's draws are still consumed, so the noise, the gyro bias walk, the jitter and the motion are those
    the seed gives anyway; only the imposed constants differ."""
    base = simulate("fidgety_upright", device="posturebuddy", seed=1, duration_s=30.0)
    tag = SensorErrors(
        accel_scale=(1.02, 0.98, 1.01),
        accel_bias_g=(0.03, -0.02, 0.01),
        gyro_bias_dps=base.sensor_errors.gyro_bias_dps,
        mag_hard_iron_ut=base.sensor_errors.mag_hard_iron_ut,
        clock_ppm=base.sensor_errors.clock_ppm,
    )
    other = simulate("fidgety_upright", device="posturebuddy", seed=1, duration_s=30.0, sensor_errors=tag)
    assert other.sensor_errors == tag
    for name in ("t_s", "t_true_s", "quat_wxyz", "gyro_dps", "mag_ut", "present"):
        assert _same(getattr(base, name), getattr(other, name)), name
    # accel = scale * true + bias + noise, the same noise: the difference is the constants' (to rounding).
    truth = simulate("fidgety_upright", device="ideal", rate_hz=base.rate_hz, seed=1, duration_s=30.0).accel_g
    delta = truth * (np.asarray(tag.accel_scale) - np.asarray(base.sensor_errors.accel_scale))
    delta += np.asarray(tag.accel_bias_g) - np.asarray(base.sensor_errors.accel_bias_g)
    assert np.abs((other.accel_g - base.accel_g) - delta).max() < 0.002


def test_same_tag_in_another_scenario() -> None:
    """A second recording (another scenario and seed) with the first one's tag carries the same errors."""
    first = simulate_for("slouchy_afternoon", "microbit", seed=1, duration_s=10.0)
    second = simulate_for("six_faces", "microbit", seed=9, sensor_errors=first.sensor_errors)
    assert second.sensor_errors == first.sensor_errors
    assert simulate_for("six_faces", "microbit", seed=9).sensor_errors != first.sensor_errors


def test_sensor_errors_are_validated() -> None:
    with pytest.raises(ValueError, match="accel_scale"):
        SensorErrors(accel_scale=(1.0, 3.0, 1.0))
    with pytest.raises(ValueError, match="accel_bias_g"):
        SensorErrors(accel_bias_g=(0.0, float("nan"), 0.0))


# -- the six-face scenario ---------------------------------------------------------------------------------------


def _still_means(rec: SimulatedRecording, margin_s: float = 0.5) -> list[tuple[FloatArray, FloatArray]]:
    """(mean accel, max |gyro|) of each tag_pose segment after its turn."""
    out = []
    t = rec.truth.t_s
    for seg in rec.truth.segments:
        i0 = int(np.searchsorted(t, seg.start_s + float(seg.params["turn_s"]) + margin_s))
        i1 = int(np.searchsorted(t, seg.end_s - margin_s))
        out.append((rec.accel_g[i0:i1].mean(axis=0), np.abs(rec.gyro_dps[i0:i1]).max(axis=0)))
    return out


def _face(mean: FloatArray) -> tuple[str, float]:
    """The face (axis pointing up) of a still reading and its angle off that axis, degrees."""
    axis = int(np.argmax(np.abs(mean)))
    name = ("+" if mean[axis] > 0 else "-") + "xyz"[axis]
    off = float(np.degrees(np.arccos(abs(mean[axis]) / np.linalg.norm(mean))))
    return name, off


@pytest.mark.parametrize("seed", [None, 1, 2])
def test_six_faces_rests_on_each_face_in_turn(seed: int | None) -> None:
    rec = simulate("six_faces", device="ideal", rate_hz=25.0, seed=seed)
    sc = rec.scenario
    assert sc.off_body
    assert 50.0 <= rec.duration_s <= 70.0
    kinds = [s.kind for s in rec.truth.segments]
    assert kinds == ["tag_pose"] * 6
    faces = []
    for mean, gyro_max in _still_means(rec):
        name, off = _face(mean)
        faces.append(name)
        assert off < 3.0  # an uneven desk, not a tilted tag
        assert abs(float(np.linalg.norm(mean)) - 1.0) < 1e-3  # at rest: gravity alone
        assert gyro_max.max() < 5.0  # still (small hand wobble at most)
    assert faces == ["+z", "+x", "+y", "-z", "-x", "-y"]
    # The turns: real rotation rates of a hand turning the tag over an edge, no jumps.
    rate = np.linalg.norm(rec.gyro_dps, axis=1)
    assert 30.0 < rate.max() < 300.0
    assert np.abs(np.diff(rec.accel_g, axis=0)).max() < 0.2
    # The tag is never worn: no posture truth, no alerts, no breaks.
    assert set(rec.truth.posture_labels().tolist()) == {"away"}
    assert set(rec.truth.activity_labels().tolist()) == {"still", "fidget"}
    assert not rec.truth.alert_episodes
    assert not rec.truth.breaks
    assert np.isnan(rec.truth.tag_flexion_deg).all()


def test_six_faces_on_a_noisy_tag_shows_its_errors() -> None:
    """On a micro:bit the face readings are scale * (+-1) + bias: the six faces pin the errors down."""
    rec = simulate_for("six_faces", "microbit")
    errors = rec.sensor_errors
    means = {_face(m)[0]: m for m, _ in _still_means(rec)}
    for axis in range(3):
        up, down = means["+" + "xyz"[axis]][axis], means["-" + "xyz"[axis]][axis]
        assert (up + down) / 2.0 == pytest.approx(errors.accel_bias_g[axis], abs=0.004)
        assert (up - down) / 2.0 == pytest.approx(errors.accel_scale[axis], abs=0.004)


def test_tag_pose_after_worn_takes_the_tag_off() -> None:
    text = """
seed = 3
[[timeline]]
kind = "upright"
duration_s = 20
[[timeline]]
kind = "tag_pose"
duration_s = 10
up_z = -1
turn_s = 3
"""
    rec = simulate(parse_scenario(tomllib.loads(text)), device="ideal", rate_hz=25.0)
    t = rec.truth.t_s - rec.truth.t_s[0]
    labels = rec.truth.posture_labels()
    assert (labels[t < 19.0] != "away").all()
    assert (labels[t >= 20.0] == "away").all()
    last = rec.accel_g[t > 25.0].mean(axis=0)
    assert _face(last)[0] == "-z"
    assert np.abs(np.diff(rec.quat_wxyz, axis=0)).max() < 0.05  # taken off smoothly


BAD_TAG_POSE = [
    (
        'seed = 1\n[[timeline]]\nkind = "tag_pose"\nduration_s = 5\n[[timeline]]\nkind = "upright"\nduration_s = 9\n',
        "timeline[1] (upright): the tag is off the body",
    ),
    ('seed = 1\n[[timeline]]\nkind = "tag_pose"\nduration_s = 5\nup_z = 0\n', "all 0"),
    ('seed = 1\n[[timeline]]\nkind = "tag_pose"\nduration_s = 3\nturn_s = [2, 4]\n', "at least turn_s + 0.5"),
    ('seed = 1\n[[timeline]]\nkind = "tag_pose"\nduration_s = 5\nup_x = 2\n', "key 'up_x'"),
]


@pytest.mark.parametrize(("text", "needle"), BAD_TAG_POSE)
def test_bad_tag_pose_names_the_problem(text: str, needle: str) -> None:
    with pytest.raises(ScenarioError, match=r"^bad\.toml") as info:
        parse_scenario(tomllib.loads(text), source="bad.toml")
    assert needle in str(info.value)


def test_worn_scenarios_are_not_off_body() -> None:
    assert not load_scenario("slouchy_afternoon").off_body
    assert not load_scenario("workday_8h").off_body
    assert dataclasses.replace(load_scenario("six_faces"), description="x").off_body
