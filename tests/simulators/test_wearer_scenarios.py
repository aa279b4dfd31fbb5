"""Scenario files: every shipped scenario loads, simulates and meets its own expectations; bad files fail loudly."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from simulators.wearer import ScenarioError, list_scenarios, load_scenario, parse_scenario, simulate

SHIPPED = list_scenarios()

REQUIRED = {
    "good_day",
    "slouchy_afternoon",
    "forward_head_reading",
    "forgets_breaks",
    "fidgety_upright",
    "leans_back",
    "stands_and_walks",
    "workday_8h",
    "six_faces",
}


def test_required_scenarios_are_shipped() -> None:
    assert set(SHIPPED) >= REQUIRED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_loads_and_simulates_briefly(name: str) -> None:
    sc = load_scenario(name)
    assert sc.description.strip()
    assert sc.duration_s is not None
    if name == "workday_8h":
        assert sc.duration_s == 8 * 3600
    elif sc.off_body:  # a calibration step with the tag off the body (six_faces): about a minute
        assert 30.0 <= sc.duration_s <= 300.0
    else:
        assert 120.0 <= sc.duration_s <= 3600.0
    rec = simulate(sc, duration_s=90.0)
    assert rec.n == int(min(90.0, sc.duration_s) * rec.rate_hz)
    assert np.isfinite(rec.accel_g[rec.present]).all()


def test_only_the_calibration_scenario_is_off_body() -> None:
    """Off-body scenarios have no posture truth: the eval and posture scoring leave them out."""
    assert [name for name in SHIPPED if load_scenario(name).off_body] == ["six_faces"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_scenario_truth_meets_expectations(name: str) -> None:
    """Simulated over its whole length (at a low rate, ideal sensor, for speed)."""
    sc = load_scenario(name)
    rec = simulate(sc, device="ideal", rate_hz=5.0 if name == "workday_8h" else 10.0)
    assert rec.duration_s == pytest.approx(sc.duration_s, abs=0.2)
    tr = rec.truth
    exp = sc.expect
    if exp.alert_episodes is not None:
        lo, hi = exp.alert_episodes
        assert lo <= len(tr.alert_episodes) <= hi, [(e.posture, e.duration_s) for e in tr.alert_episodes]
    if exp.breaks is not None:
        lo, hi = exp.breaks
        assert lo <= len(tr.breaks) <= hi


def test_workday_has_everything() -> None:
    sc = load_scenario("workday_8h")
    rec = simulate(sc, device="ideal", rate_hz=2.0)
    kinds = {s.kind for s in rec.truth.segments}
    assert {
        "upright",
        "slouch",
        "forward_head",
        "lean_back",
        "side_lean",
        "walk",
        "tag_removed",
        "out_of_range",
    } <= kinds
    postures = {e.posture for e in rec.truth.alert_episodes}
    assert postures == {"slouch", "forward_head"}


def test_scenario_file_on_disk_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "mine.toml"
    p.write_text('seed = 1\n[[timeline]]\nkind = "upright"\nduration_s = 30\n')
    sc = load_scenario(p)
    assert sc.name == "mine"
    assert simulate(sc).n == 1500


def test_unknown_scenario_name() -> None:
    with pytest.raises(FileNotFoundError, match="good_day"):
        load_scenario("no_such_scenario")


GOOD_SEGMENT = '[[timeline]]\nkind = "upright"\nduration_s = 60\n'

BAD_FILES = [
    ("seed = 1\ndurration_s = 10\n" + GOOD_SEGMENT, "unknown key 'durration_s'"),
    (GOOD_SEGMENT, "missing key 'seed'"),
    ("seed = -3\n" + GOOD_SEGMENT, "key 'seed'"),
    ('seed = 1\nstart = "monday"\n' + GOOD_SEGMENT, "key 'start'"),
    ("seed = 1\n", "missing key 'timeline'"),
    ('seed = 1\n[[timeline]]\nkind = "slouching"\nduration_s = 5\n', "key 'kind'"),
    ("seed = 1\n[[timeline]]\nduration_s = 5\n", "missing key 'kind'"),
    ('seed = 1\n[[timeline]]\nkind = "upright"\n', "timeline[0] (upright): missing key 'duration_s'"),
    ('seed = 1\n[[timeline]]\nkind = "upright"\nduration_s = "long"\n', "key 'duration_s'"),
    ('seed = 1\n[[timeline]]\nkind = "upright"\nduration_s = [90, 30]\n', "low > high"),
    ('seed = 1\n[[timeline]]\nkind = "slouch"\nduration_s = 60\nflexion_deg = 95\n', "key 'flexion_deg'"),
    ('seed = 1\n[[timeline]]\nkind = "slouch"\nduration_s = 60\nflexon_deg = 9\n', "unknown key 'flexon_deg'"),
    ('seed = 1\n[[timeline]]\nkind = "upright"\nduration_s = 60\ntyping = 1\n', "key 'typing'"),
    ('seed = 1\n[[timeline]]\nkind = "walk"\nduration_s = 60\n', "timeline[0] (walk): the wearer is seated"),
    (
        'seed = 1\n[[timeline]]\nkind = "stand_up"\n[[timeline]]\nkind = "upright"\nduration_s = 9\n',
        "timeline[1] (upright): the wearer is standing",
    ),
    ("seed = 1\nduration_s = 600\n" + GOOD_SEGMENT, "key 'duration_s'"),
    ('seed = 1\n[[timeline]]\nrepeat = 0\n[[timeline.segments]]\nkind = "upright"\nduration_s = 5\n', "key 'repeat'"),
    ("seed = 1\n[[timeline]]\nrepeat = 2\n", "missing key 'segments'"),
    ("seed = 1\n[mount]\nmisalignment_deg = [1, 2]\n" + GOOD_SEGMENT, "[mount] key 'misalignment_deg'"),
    ("seed = 1\n[wearer]\nneck_coupling = 2.0\n" + GOOD_SEGMENT, "[wearer]: key 'neck_coupling'"),
    ("seed = 1\n[wearer]\nheight_m = 2.0\n" + GOOD_SEGMENT, "unknown key 'height_m'"),
    ("seed = 1\n[expect]\nbreaks = [3, 1]\n" + GOOD_SEGMENT, "[expect] key 'breaks'"),
    ("seed = 1\n[magnetic]\ndip_deg = 120\n" + GOOD_SEGMENT, "[magnetic] key 'dip_deg'"),
    (
        'seed = 1\n[[timeline]]\nkind = "tag_removed"\nduration_s = 60\nput_back = false\n' + GOOD_SEGMENT,
        "key 'put_back'",
    ),
    ('seed = 1\n[[timeline]]\nkind = "tag_removed"\nduration_s = 5\n', "key 'duration_s' must be at least"),
]


@pytest.mark.parametrize(("text", "needle"), BAD_FILES)
def test_bad_scenario_names_the_key(text: str, needle: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(tomllib.loads(text), source="bad.toml")
    msg = str(info.value)
    assert needle in msg
    assert msg.startswith("bad.toml")


def test_invalid_toml_is_a_scenario_error(tmp_path: Path) -> None:
    p = tmp_path / "broken.toml"
    p.write_text("seed = = 1\n")
    with pytest.raises(ScenarioError, match=r"broken\.toml: not valid TOML"):
        load_scenario(p)


def test_blocks_repeat_with_fresh_random_values() -> None:
    sc = parse_scenario(
        tomllib.loads(
            'seed = 2\n[[timeline]]\nrepeat = 4\n[[timeline.segments]]\nkind = "upright"\nduration_s = [10, 20]\n'
        )
    )
    rec = simulate(sc, device="ideal", rate_hz=5.0)
    durs = [s.end_s - s.start_s for s in rec.truth.segments]
    assert len(durs) == 4
    assert len(set(np.round(durs, 6).tolist())) == 4
    assert all(10.0 <= d <= 20.0 for d in durs)
