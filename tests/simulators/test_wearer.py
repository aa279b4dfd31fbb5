"""Virtual wearer: determinism, physics consistency, labels and the tag-frame convention."""

from __future__ import annotations

import tomllib

import numpy as np
import numpy.typing as npt
import pytest

from posturebuddy.model import Activity, PostureClass
from simulators.wearer import SimulatedRecording, parse_scenario, simulate, simulation
from simulators.wearer import quat as qm
from simulators.wearer.scenario import Scenario

FloatArray = npt.NDArray[np.float64]


def scenario_from_toml(text: str) -> Scenario:
    return parse_scenario(tomllib.loads(text), source="test.toml")


def quiet_upright(seconds: float = 60.0, extra: str = "") -> Scenario:
    return scenario_from_toml(
        f"""
seed = 5
heading_deg = 40
{extra}
[[timeline]]
kind = "upright"
duration_s = {seconds}
typing = false
fidgets_per_min = 0
reaches_per_hour = 0
"""
    )


def rotate_to_earth(rec: SimulatedRecording, v: FloatArray) -> FloatArray:
    return qm.rotate(rec.quat_wxyz, v)


# --------------------------------------------------------------------------------------------------- determinism


def test_same_seed_gives_bit_identical_arrays() -> None:
    a = simulate("stands_and_walks", duration_s=240.0)
    b = simulate("stands_and_walks", duration_s=240.0)
    for name in ("t_s", "t_true_s", "quat_wxyz", "accel_g", "gyro_dps", "mag_ut", "present"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert np.array_equal(a.truth.posture_code, b.truth.posture_code)
    assert np.array_equal(a.truth.tag_flexion_deg, b.truth.tag_flexion_deg, equal_nan=True)
    assert a.truth.segments == b.truth.segments


def test_different_seeds_differ() -> None:
    a = simulate("fidgety_upright", duration_s=120.0, seed=1)
    b = simulate("fidgety_upright", duration_s=120.0, seed=2)
    assert not np.array_equal(a.accel_g, b.accel_g)
    assert a.truth.segments != b.truth.segments  # randomised durations differ too


def test_motion_does_not_depend_on_device() -> None:
    a = simulate("good_day", device="thingy52", duration_s=60.0)
    b = simulate("good_day", device="witmotion", duration_s=60.0)
    assert np.array_equal(a.quat_wxyz, b.quat_wxyz)
    assert not np.array_equal(a.accel_g, b.accel_g)


# --------------------------------------------------------------------------------------------------- physics


def test_at_rest_accel_is_one_g_along_true_up() -> None:
    rec = simulate(quiet_upright(), device="ideal", rate_hz=50.0)
    mag = np.linalg.norm(rec.accel_g, axis=1)
    assert np.all(np.abs(mag - 1.0) < 0.01)
    up_tag = qm.rotate_inverse(rec.quat_wxyz, np.array([0.0, 0.0, 1.0]))
    cosang = np.einsum("ij,ij->i", up_tag, rec.accel_g / mag[:, None])
    assert np.degrees(np.arccos(np.clip(cosang, -1, 1))).max() < 0.5


def test_noisy_device_at_rest_is_still_about_one_g() -> None:
    rec = simulate(quiet_upright(), device="posturebuddy")
    mag = np.linalg.norm(rec.accel_g, axis=1)
    assert abs(float(np.mean(mag)) - 1.0) < 0.03
    assert float(np.std(mag)) < 0.01


def test_tag_frame_convention_upright() -> None:
    """Upright: +y up the spine (about cos(inclination) g), +z out of the back (back faces slightly up)."""
    sc = quiet_upright(extra="[mount]\nmisalignment_deg = [0.0, 0.0, 0.0]\n[wearer]\nback_inclination_deg = 15.0\n")
    rec = simulate(sc, device="ideal")
    mean = rec.accel_g.mean(axis=0)
    assert mean[1] == pytest.approx(np.cos(np.radians(15.0)), abs=0.02)
    assert mean[2] == pytest.approx(np.sin(np.radians(15.0)), abs=0.02)
    assert abs(mean[0]) < 0.02
    # Tag z (out of the back) points away from where the wearer faces (heading 40 deg).
    back_earth = rotate_to_earth(rec, np.array([0.0, 0.0, 1.0])).mean(axis=0)
    facing = np.array([np.cos(np.radians(40.0)), np.sin(np.radians(40.0)), 0.0])
    assert float(back_earth @ facing) < -0.9
    # Tag x points to the wearer's right.
    right = np.array([np.sin(np.radians(40.0)), -np.cos(np.radians(40.0)), 0.0])
    assert float(rotate_to_earth(rec, np.array([1.0, 0.0, 0.0])).mean(axis=0) @ right) > 0.95


def integrate_gyro(q0: FloatArray, gyro_dps: FloatArray, dt: float) -> FloatArray:
    """Integrate body rates (trapezoid on the rate, exact exponential per step) from q0."""
    w = np.radians(0.5 * (gyro_dps[1:] + gyro_dps[:-1]))
    ang = np.linalg.norm(w, axis=1) * dt
    axis = w / np.maximum(np.linalg.norm(w, axis=1), 1e-12)[:, None]
    dq = np.concatenate((np.cos(0.5 * ang)[:, None], np.sin(0.5 * ang)[:, None] * axis), axis=1)
    q = q0.copy()
    for step in dq:
        q = qm.mul(q, step)
    return q


def test_gyro_integrates_back_to_orientation_change() -> None:
    sc = scenario_from_toml(
        """
seed = 11
[[timeline]]
kind = "upright"
duration_s = 20
fidgets_per_min = 6
reaches_per_hour = 300
[[timeline]]
kind = "stand_up"
[[timeline]]
kind = "walk"
duration_s = 15
[[timeline]]
kind = "sit_down"
[[timeline]]
kind = "reach"
[[timeline]]
kind = "upright"
duration_s = 10
"""
    )
    rec = simulate(sc, device="ideal", rate_hz=100.0)
    dt = 1.0 / rec.rate_hz
    q_end = integrate_gyro(rec.quat_wxyz[0], rec.gyro_dps, dt)
    err = float(np.degrees(qm.angle_between(q_end, rec.quat_wxyz[-1])))
    total_motion = float(np.sum(np.linalg.norm(rec.gyro_dps, axis=1)) * dt)
    assert total_motion > 200.0  # the check is not trivial: hundreds of degrees of rotation
    assert err < 0.5


def test_accel_matches_gravity_plus_second_derivative_of_position() -> None:
    """During walking the vertical specific force oscillates around 1 g with the bounce."""
    sc = scenario_from_toml(
        """
seed = 3
[[timeline]]
kind = "stand_up"
[[timeline]]
kind = "walk"
duration_s = 40
cadence_hz = 1.8
turn_deg = 0
end_turn_deg = 0
"""
    )
    rec = simulate(sc, device="ideal", rate_hz=50.0)
    a_earth = rotate_to_earth(rec, rec.accel_g)
    walking = rec.truth.activity_labels() == Activity.WALKING.value
    vert = a_earth[walking, 2]
    assert float(np.mean(vert)) == pytest.approx(1.0, abs=0.02)
    assert 0.15 < float(np.ptp(vert)) / 2.0 < 0.8  # realistic trunk vertical acceleration while walking


@pytest.mark.parametrize("cadence", [1.7, 2.0])
def test_walking_shows_step_cadence_in_vertical_accel(cadence: float) -> None:
    sc = scenario_from_toml(
        f"""
seed = 21
[[timeline]]
kind = "stand_up"
[[timeline]]
kind = "walk"
duration_s = 60
cadence_hz = {cadence}
"""
    )
    rec = simulate(sc, device="witmotion", rate_hz=50.0)
    walking = rec.truth.activity_labels() == Activity.WALKING.value
    vert = rotate_to_earth(rec, rec.accel_g)[walking, 2]
    vert = vert - vert.mean()
    spec = np.abs(np.fft.rfft(vert * np.hanning(vert.size)))
    freqs = np.fft.rfftfreq(vert.size, 1.0 / rec.rate_hz)
    band = freqs > 0.5
    peak = float(freqs[band][np.argmax(spec[band])])
    assert peak == pytest.approx(cadence, abs=0.1)


def test_transitions_are_smooth() -> None:
    """No steps in orientation: the sample-to-sample rotation stays small everywhere the tag is worn."""
    rec = simulate("stands_and_walks", device="ideal", rate_hz=50.0, duration_s=600.0)
    step = np.degrees(qm.angle_between(rec.quat_wxyz[1:], rec.quat_wxyz[:-1]))
    assert float(step.max()) < 6.0  # < 300 deg/s at 50 Hz
    jerk = np.abs(np.diff(rec.gyro_dps, axis=0)).max()
    assert jerk < 30.0  # gyro changes by < 30 dps per sample


# --------------------------------------------------------------------------------------------------- truth


def test_labels_line_up_with_segments() -> None:
    rec = simulate("stands_and_walks", device="ideal", rate_hz=25.0)
    tr = rec.truth
    act = tr.activity_labels()
    post = tr.posture_labels()
    expected_activity = {
        "walk": Activity.WALKING,
        "stand_up": Activity.SIT_TO_STAND,
        "sit_down": Activity.SIT_TO_STAND,
        "out_of_range": Activity.NO_DATA,
    }
    for seg in tr.segments:
        inside = (rec.t_s >= seg.start_s) & (rec.t_s < seg.end_s)
        assert inside.any(), seg
        if seg.kind in expected_activity:
            assert np.all(act[inside] == expected_activity[seg.kind].value), seg
        if seg.kind in ("walk", "stand_up", "sit_down"):
            assert np.all(post[inside] == PostureClass.MOVING.value)
        if seg.kind == "out_of_range":
            assert np.all(post[inside] == PostureClass.AWAY.value)
            assert not rec.present[inside].any()
            assert np.isnan(rec.accel_g[inside]).all()
        if seg.kind == "stand":
            assert np.all(act[inside] == Activity.STANDING.value)
    assert set(post.tolist()) <= {c.value for c in PostureClass}
    assert set(act.tolist()) <= {a.value for a in Activity}
    assert rec.present[~np.isin(act, [Activity.NO_DATA.value])].all()


def test_breaks_from_segments() -> None:
    rec = simulate("stands_and_walks", device="ideal", rate_hz=10.0)
    breaks = rec.truth.breaks
    assert len(breaks) == 3
    assert breaks[0].walk_start_s is None
    assert all(b.walk_start_s is not None for b in breaks[1:])
    assert breaks[2].out_of_range_s > 0.0
    for b in breaks:
        assert b.sit_s is not None
        assert b.stand_s < b.sit_s
        if b.walk_start_s is not None:
            assert b.stand_s < b.walk_start_s < b.sit_s


def test_slouch_episode_and_true_angles() -> None:
    sc = scenario_from_toml(
        """
seed = 9
[mount]
misalignment_deg = [0.0, 0.0, 0.0]
[[timeline]]
kind = "upright"
duration_s = 60
[[timeline]]
kind = "slouch"
duration_s = 300
flexion_deg = 20
neck_flexion_deg = 10
ramp_s = 60
typing = false
fidgets_per_min = 0
reaches_per_hour = 0
[[timeline]]
kind = "upright"
duration_s = 60
ramp_s = 3
"""
    )
    rec = simulate(sc, device="ideal", rate_hz=25.0)
    tr = rec.truth
    assert [e.posture for e in tr.alert_episodes] == ["slouch"]
    ep = tr.alert_episodes[0]
    t0 = rec.t_s[0]
    # The drift crosses 10 deg about halfway through the 60 s ramp and ends when the correction starts.
    assert 60.0 + 20.0 < ep.start_s - t0 < 60.0 + 40.0
    assert ep.end_s - t0 == pytest.approx(360.0, abs=0.5)
    held = (rec.t_s - t0 > 150.0) & (rec.t_s - t0 < 350.0)
    # The tag sees trunk flexion plus ~30 % of the neck flexion.
    assert np.nanmean(tr.tag_flexion_deg[held]) == pytest.approx(20.0 + 0.3 * 10.0, abs=1.5)
    assert np.mean(tr.trunk_flexion_deg[held]) == pytest.approx(20.0, abs=1.0)
    assert abs(np.nanmean(tr.tag_lateral_deg[held])) < 1.5


@pytest.mark.parametrize(
    ("kind", "params", "label", "sign"),
    [
        ("lean_back", "flexion_deg = -20", PostureClass.LEANING_BACK, -1.0),
        ("side_lean", "lateral_deg = 12", PostureClass.SIDE_LEAN, 1.0),
        ("forward_head", "neck_flexion_deg = 25", PostureClass.FORWARD_HEAD, 1.0),
    ],
)
def test_posture_labels_and_signs(kind: str, params: str, label: PostureClass, sign: float) -> None:
    sc = scenario_from_toml(
        f"""
seed = 4
[[timeline]]
kind = "upright"
duration_s = 20
[[timeline]]
kind = "{kind}"
duration_s = 120
ramp_s = 5
fidgets_per_min = 0
reaches_per_hour = 0
{params}
"""
    )
    rec = simulate(sc, device="ideal", rate_hz=25.0)
    tr = rec.truth
    late = rec.t_s - rec.t_s[0] > 60.0
    assert np.all(tr.posture_labels()[late] == label.value)
    angle = tr.tag_lateral_deg if kind == "side_lean" else tr.tag_flexion_deg
    assert sign * float(np.mean(angle[late])) > 4.0
    if kind == "forward_head":  # a forward head is a much smaller tilt at the tag than a slouch
        assert float(np.mean(angle[late])) < 12.0


def test_tag_removed_lies_flat_and_is_remounted() -> None:
    sc = scenario_from_toml(
        """
seed = 12
[[timeline]]
kind = "upright"
duration_s = 30
[[timeline]]
kind = "tag_removed"
duration_s = 60
handling_s = 4
[[timeline]]
kind = "upright"
duration_s = 30
"""
    )
    rec = simulate(sc, device="ideal", rate_hz=25.0)
    tau = rec.t_s - rec.t_s[0]
    flat = (tau > 40.0) & (tau < 80.0)
    assert np.allclose(rec.accel_g[flat], [0.0, 0.0, 1.0], atol=1e-6)
    assert np.allclose(rec.gyro_dps[flat], 0.0, atol=1e-6)
    assert np.all(rec.truth.posture_labels()[(tau > 30.0) & (tau < 90.0)] == PostureClass.AWAY.value)
    before = rec.accel_g[(tau > 10.0) & (tau < 25.0)].mean(axis=0)
    after = rec.accel_g[(tau > 100.0) & (tau < 115.0)].mean(axis=0)
    assert np.degrees(np.arccos(np.clip(before @ after / np.linalg.norm(before) / np.linalg.norm(after), -1, 1))) > 0.3
    assert rec.present.all()


def test_timestamps_increase_and_follow_rate() -> None:
    rec = simulate("good_day", device="thingy52", rate_hz=25.0, duration_s=60.0)
    assert rec.rate_hz == 25.0
    assert np.all(np.diff(rec.t_s) > 0)
    assert rec.n == 1500
    assert np.allclose(np.diff(rec.t_true_s), 1.0 / 25.0)
    assert rec.t_s[0] == rec.scenario.start_epoch_s


def test_requested_rate_snaps_to_device_rates() -> None:
    rec = simulate("good_day", device="sensortag", rate_hz=50.0, duration_s=30.0)
    assert rec.rate_hz == 10.0
    assert rec.n == 300


def test_chunked_synthesis_equals_whole_array(monkeypatch: pytest.MonkeyPatch) -> None:
    whole = simulate("stands_and_walks", device="ideal", duration_s=300.0)
    monkeypatch.setattr(simulation, "CHUNK_SAMPLES", 997)
    chunked = simulate("stands_and_walks", device="ideal", duration_s=300.0)
    assert np.allclose(whole.quat_wxyz, chunked.quat_wxyz, atol=1e-12)
    assert np.allclose(whole.accel_g, chunked.accel_g, atol=1e-9, equal_nan=True)
    assert np.allclose(whole.gyro_dps, chunked.gyro_dps, atol=1e-9, equal_nan=True)
