"""Exercise library, red flags, disclaimer and guided sets."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posturebuddy.posture import DISCLAIMER, EXERCISES, EXERCISES_BY_ID, RED_FLAGS, guided_set
from posturebuddy.posture.exercises import (
    CHIN_TUCK,
    CHIN_TUCK_LYING,
    CHIN_TUCK_SEATED,
    CHIN_TUCK_WALL,
    OPEN_BOOK,
    default_rest_s,
)


def test_library_is_complete_and_well_formed() -> None:
    ids = [e.id for e in EXERCISES]
    assert len(ids) == len(set(ids))
    assert set(EXERCISES_BY_ID) == set(ids)
    for wanted in (
        "chin_tuck",
        "chin_tuck_seated",
        "chin_tuck_wall",
        "chin_tuck_lying",
        "thoracic_extension_chair",
        "open_book",
        "shoulder_blade_squeeze",
        "reach_overhead",
    ):
        assert wanted in EXERCISES_BY_ID
    for e in EXERCISES:
        assert e.steps
        assert all(s.endswith(".") and s[0].isupper() for s in e.steps), e.id
        assert e.cue
        assert e.release
        assert e.feel
        assert e.stop_if
        assert e.sources
        assert e.dosing.source
        assert e.dosing.how_often
        assert e.variation_of is None or e.variation_of in EXERCISES_BY_ID


def test_chin_tuck_dosing_follows_the_anchors() -> None:
    assert (CHIN_TUCK.dosing.reps, CHIN_TUCK.dosing.hold_s) == (10, 10.0)
    assert "[C1]" in CHIN_TUCK.dosing.source
    assert (CHIN_TUCK_SEATED.dosing.reps, CHIN_TUCK_SEATED.dosing.hold_s) == (10, 2.0)
    assert "[C3]" in CHIN_TUCK_SEATED.dosing.source
    assert "[C2]" in CHIN_TUCK_LYING.dosing.source
    assert "towel" in " ".join(CHIN_TUCK_LYING.steps)
    assert "seeds/000" in CHIN_TUCK_WALL.dosing.source
    for variation in (CHIN_TUCK_SEATED, CHIN_TUCK_WALL, CHIN_TUCK_LYING):
        assert variation.variation_of == CHIN_TUCK.id


def test_red_flags_are_plain_sentences_backed_by_the_seeds() -> None:
    assert len(RED_FLAGS) >= 6
    assert all(f.endswith(".") and f[0].isupper() for f in RED_FLAGS)
    text = " ".join(RED_FLAGS).lower()
    for phrase in ("numbness", "bladder", "fall", "night", "fever", "legs"):
        assert phrase in text
    # Not in the seed articles, so not claimed here (see the module's comments).
    for absent in ("chest pain", "weight loss", "shortness of breath"):
        assert absent not in text


def test_disclaimer_says_not_medical_advice() -> None:
    assert "not a medical device" in DISCLAIMER
    assert "medical advice" in DISCLAIMER


def test_guided_set_timing() -> None:
    steps = list(guided_set(CHIN_TUCK, reps=3, hold_s=5.0, rest_s=4.0, get_ready_s=5.0))
    assert [(s.t_offset_s, s.rep) for s in steps] == [
        (0.0, 0),
        (5.0, 1),
        (10.0, 1),
        (14.0, 2),
        (19.0, 2),
        (23.0, 3),
        (28.0, 3),
        (28.0, 0),
    ]
    assert steps[0].instruction.startswith("Chin tuck: 3 x 5-second holds.")
    assert steps[1].instruction == f"1/3: {CHIN_TUCK.cue} Hold 5 s."
    assert steps[2].instruction == CHIN_TUCK.release
    assert steps[-1].instruction.startswith("Set complete")


def test_guided_set_one_sided_exercise_does_both_sides() -> None:
    steps = list(guided_set(OPEN_BOOK, reps=2, hold_s=3.0))
    sides = [s.side for s in steps if s.rep]
    assert sides == ["left"] * 4 + ["right"] * 4
    assert "on each side" in steps[0].instruction
    assert steps[-1].t_offset_s == pytest.approx(5.0 + 4 * 3.0 + 3 * default_rest_s(3.0))


def test_default_rest() -> None:
    assert default_rest_s(10.0) == 10.0  # [C2]: 10-s hold, 10-s rest
    assert default_rest_s(1.0) == 2.0
    assert default_rest_s(15.0) == 10.0


@pytest.mark.parametrize(
    ("reps", "hold_s", "rest_s"), [(0, 5.0, None), (3, 0.0, None), (3, math.nan, None), (3, 5.0, -1.0)]
)
def test_guided_set_rejects_bad_arguments(reps: int, hold_s: float, rest_s: float | None) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        list(guided_set(CHIN_TUCK, reps, hold_s, rest_s=rest_s))


@given(st.integers(1, 20), st.floats(0.5, 15.0), st.sampled_from(EXERCISES))
def test_guided_set_is_ordered_and_counts_every_rep(reps: int, hold_s: float, exercise: object) -> None:
    from posturebuddy.posture import Exercise

    assert isinstance(exercise, Exercise)
    steps = list(guided_set(exercise, reps, hold_s))
    times = [s.t_offset_s for s in steps]
    assert times == sorted(times)
    sides = 2 if exercise.per_side else 1
    assert len(steps) == 2 + 2 * reps * sides
    assert max(s.rep for s in steps) == reps
    assert list(guided_set(exercise, reps, hold_s)) == steps  # pure
