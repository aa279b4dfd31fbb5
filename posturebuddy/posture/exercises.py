"""The exercise library, red flags and disclaimer, in the project's own words.

Content follows the seed articles in ``shared/seeds/`` (``000`` sore upper back after bench press: chin tucks
against a wall, thoracic mobilisation, scapular retraction without shrugging; ``001`` upper back pain after
sleeping: open book, shoulder rows, reaching overhead, when to see a doctor; ``002`` back pain after a
workout: warning signs) and the dosing anchors of ``shared/research/anchors.md`` (``[C1]`` build to 10 x 10-s
chin-tuck holds, 2-3 sessions a day; ``[C2]`` 10-s hold + 10-s rest in the lying test position; ``[C3]`` office
variant 2-s retraction x 10, about hourly; ``[C4]`` a caution about what chin tucks change). Where a dose has
no source, the entry says it is ours.

PostureBuddy coaches habits; it is not a medical device (see :data:`DISCLAIMER`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

DISCLAIMER = (
    "PostureBuddy coaches posture and movement habits; it is not a medical device and does not give medical "
    "advice, so if something hurts or worries you, talk to a doctor or physiotherapist."
)

RED_FLAGS: tuple[str, ...] = (
    # seeds/001 (when to see a doctor)
    "Your pain started after an injury, such as a fall or a car accident.",
    # seeds/001 and seeds/002
    "You feel numbness, tingling or weakness in your arms or legs.",
    # seeds/001
    "The pain wakes you up at night.",
    # seeds/001 ("so intense it disrupts your morning activities")
    "The pain is so strong that it gets in the way of your normal day.",
    # seeds/001
    "Back pain comes with a fever, trouble walking, or any loss of bladder or bowel control.",
    # seeds/002 (sharp or stabbing, radiating down one or both legs); seeds/000 (sharp and sudden)
    "The pain is sharp, stabbing or sudden, or it shoots down one or both legs.",
    # seeds/002 (worse after 24-48 h instead of easing; lasting more than a few days)
    "The pain gets worse over a day or two instead of easing, or lasts more than a few days.",
    # seeds/001 (about a month of physical therapy without improvement)
    "It has not improved after about a month of regular exercises.",
)
"""Signs that mean "stop the exercises and see a professional", each backed by a seed article (comments)."""

RED_FLAGS_INTRO = "Stop and see a doctor or physiotherapist if any of these apply:"

ABOUT_THE_EVIDENCE: tuple[str, ...] = (
    # anchors [R8]
    "Feedback from posture sensors has only limited evidence of improving posture, and none yet of easing pain.",
    # anchors [C4]
    "In one study, four weeks of chin-tuck training improved neck function but did not change how far the head "
    "sat forward.",
    # anchors [B1], [B2], [B4]
    "Short, regular breaks from sitting reduce discomfort and fatigue without costing work done.",
)
"""Honest context for the help screen: what the habits can and cannot be expected to do."""


@dataclass(frozen=True, slots=True)
class Dosing:
    """How much and how often.

    Attributes:
        reps: repetitions per set (per side for one-sided exercises), or ``None`` for a timed movement.
        hold_s: hold per repetition, seconds (``None`` where there is no hold).
        sets: sets per session.
        how_often: when to do it, in plain words.
        source: where the numbers come from (a seed file, an anchors key, or "ours").
    """

    reps: int | None
    hold_s: float | None
    sets: int
    how_often: str
    source: str


@dataclass(frozen=True, slots=True)
class Exercise:
    """One exercise, written for a person at a desk.

    Attributes:
        id: stable identifier (used in prompt details and recordings).
        name: short display name.
        summary: one sentence: what it is for.
        steps: how to do it, one plain sentence per step.
        cue: what to say at the start of each repetition of a guided set.
        release: what to say at the end of each hold.
        dosing: the recommended dose and its source.
        feel: what it should feel like.
        stop_if: when to stop (beyond :data:`RED_FLAGS`).
        sources: where the content comes from.
        variation_of: the id of the exercise this varies, if any.
        per_side: done on each side in turn.
    """

    id: str
    name: str
    summary: str
    steps: tuple[str, ...]
    cue: str
    release: str
    dosing: Dosing
    feel: str
    stop_if: tuple[str, ...]
    sources: tuple[str, ...]
    variation_of: str | None = None
    per_side: bool = False


_STOP_NECK = (
    "It hurts, rather than feeling like a gentle stretch or light effort.",
    "You feel dizzy, or numbness or tingling spreads into an arm.",
    "A headache starts or gets worse.",
)

CHIN_TUCK = Exercise(
    id="chin_tuck",
    name="Chin tuck",
    summary="Brings the head back over the shoulders and wakes up the deep muscles at the front of the neck.",
    steps=(
        "Sit or stand tall with your eyes level and your breastbone gently lifted.",
        "Glide your head straight back, as if making a double chin, keeping your eyes on the horizon.",
        "Stop when your ears are over your shoulders; do not tip your head up or down.",
        "Hold, breathing normally, then let your head glide forward to a relaxed position.",
    ),
    cue="Glide your head straight back, chin level, ears over shoulders.",
    release="Relax and let your head come forward a little.",
    dosing=Dosing(
        reps=10,
        hold_s=10.0,
        sets=1,
        how_often="2 to 3 times a day; start with shorter holds (about 5 s) and build up.",
        source="anchors [C1]: build to 10 x 10-s holds, 2-3 sessions a day",
    ),
    feel="A mild stretch at the base of the skull and light effort at the front of the neck.",
    stop_if=_STOP_NECK,
    sources=("seeds/000", "anchors [C1]"),
)

CHIN_TUCK_SEATED = Exercise(
    id="chin_tuck_seated",
    name="Desk chin tuck",
    summary="A quick chin tuck at the desk to reset a head that has drifted towards the screen.",
    steps=(
        "Sit back in your chair with both feet on the floor and your eyes level with the screen.",
        "Glide your head straight back into a double chin without looking down.",
        "Hold briefly, then relax, and repeat.",
    ),
    cue="Chin back, eyes on the screen.",
    release="Relax.",
    dosing=Dosing(
        reps=10,
        hold_s=2.0,
        sets=1,
        how_often="About once an hour while you work.",
        source="anchors [C3]: 2-s retraction x 10, about hourly; longer holds build towards [C1]",
    ),
    feel="Light effort at the front of the neck; the back of the neck lengthens.",
    stop_if=_STOP_NECK,
    sources=("anchors [C3]", "anchors [C1]"),
    variation_of="chin_tuck",
)

CHIN_TUCK_WALL = Exercise(
    id="chin_tuck_wall",
    name="Chin tuck against a wall",
    summary="The wall shows you when your head has come back far enough.",
    steps=(
        "Stand with your back against a wall, heels a few centimetres away from it.",
        "Put a small pillow or a soft ball between the back of your head and the wall.",
        "Keep your chest up and glide your chin back, pressing the back of your head gently into the pillow.",
        "Keep your eyes level: the head moves back, it does not nod.",
        "Hold, then ease off without losing contact with the pillow.",
    ),
    cue="Chin back, press gently into the pillow, chest up.",
    release="Ease off.",
    dosing=Dosing(
        reps=10,
        hold_s=10.0,
        sets=1,
        how_often="Once or twice a day; build towards 1 to 2 sets of 10 to 15 holds of 10 to 15 s.",
        source="seeds/000: hold 10-15 s, 1-2 sets of 10-15; starting dose from anchors [C1]",
    ),
    feel="Steady light effort at the front of the neck; nothing sharp.",
    stop_if=_STOP_NECK,
    sources=("seeds/000", "anchors [C1]"),
    variation_of="chin_tuck",
)

CHIN_TUCK_LYING = Exercise(
    id="chin_tuck_lying",
    name="Lying chin nod on a towel",
    summary="The gentlest version: lying down, the head's weight is supported while the deep neck muscles work.",
    steps=(
        "Lie on your back with your knees bent and a folded towel under your head so your face is level.",
        "Slowly nod as if saying a small 'yes', sliding the back of your head up the towel.",
        "Keep your head resting on the towel; do not lift it or push it down hard.",
        "Hold the nod, then relax fully before the next one.",
    ),
    cue="Small slow nod, head stays on the towel.",
    release="Relax completely.",
    dosing=Dosing(
        reps=10,
        hold_s=10.0,
        sets=1,
        how_often="Once or twice a day, resting as long as you held.",
        source="anchors [C2]: 10-s hold + 10-s rest in the lying position; [C1]: up to 10 x 10 s",
    ),
    feel="A small, precise effort deep at the front of the neck, not the big muscles at the sides.",
    stop_if=_STOP_NECK,
    sources=("anchors [C2]", "anchors [C1]"),
    variation_of="chin_tuck",
)

THORACIC_EXTENSION_CHAIR = Exercise(
    id="thoracic_extension_chair",
    name="Upper-back extension over the chair",
    summary="Arches the upper back the other way after long stretches bent towards the screen.",
    steps=(
        "Sit well back in a chair whose backrest ends around your shoulder blades.",
        "Support your head with your hands, elbows pointing forward.",
        "Breathe in and gently lean back over the top of the backrest, letting your upper back arch.",
        "Go only as far as is comfortable, hold, then come back up slowly.",
    ),
    cue="Lean back over the chair, chest up, head supported.",
    release="Come back up slowly.",
    dosing=Dosing(
        reps=5,
        hold_s=10.0,
        sets=1,
        how_often="At breaks, or whenever your upper back feels stiff.",
        source="seeds/000: hold 10-15 s (bench version); 5 repetitions are ours",
    ),
    feel="A stretch across the chest and a gentle opening in the upper back.",
    stop_if=(
        "It hurts in your back or neck.",
        "Your chair tips or slides: use a stable chair, or skip it.",
    ),
    sources=("seeds/000 (thoracic mobilisation over a bench, adapted to a chair)",),
)

OPEN_BOOK = Exercise(
    id="open_book",
    name="Open book",
    summary="A rotation stretch for the upper back and chest.",
    steps=(
        "Lie on your side with your hips and knees bent and your arms straight out in front, palms together.",
        "Keep your knees together and sweep your top arm up and over to the other side, like opening a book.",
        "Let your head and eyes follow your hand; stop where it is comfortable.",
        "Breathe out in the open position, then bring the arm back.",
    ),
    cue="Open the top arm, eyes follow the hand.",
    release="Bring the arm back.",
    dosing=Dosing(
        reps=6,
        hold_s=3.0,
        sets=1,
        how_often="Morning or evening, or at a long break.",
        source="seeds/001 names the exercise; the dose is ours",
    ),
    feel="A stretch across the chest and a gentle twist through the upper back.",
    stop_if=("It hurts in your back or shoulder.", "Your knees have to come apart to get there: open less."),
    sources=("seeds/001",),
    per_side=True,
)

SHOULDER_BLADE_SQUEEZE = Exercise(
    id="shoulder_blade_squeeze",
    name="Shoulder rows (shoulder-blade squeeze)",
    summary="Works the muscles between the shoulder blades that help hold you upright.",
    steps=(
        "Sit tall with your arms by your sides and your elbows bent.",
        "Draw your elbows back and your shoulder blades back and slightly down, towards your back pockets.",
        "Keep your shoulders away from your ears: it is a squeeze, not a shrug.",
        "Squeeze gently rather than hard, hold, then relax.",
    ),
    cue="Elbows back, shoulder blades back and down, no shrug.",
    release="Relax your shoulders.",
    dosing=Dosing(
        reps=10,
        hold_s=3.0,
        sets=1,
        how_often="A few times a day, for example at each break.",
        source="seeds/001 (shoulder rows), seeds/000 (back and down, not too hard); the dose is ours",
    ),
    feel="Light work between and below the shoulder blades; the front of the shoulders opens.",
    stop_if=(
        "It hurts in your shoulder or neck.",
        "Your upper shoulders ache: you are shrugging or squeezing too hard.",
    ),
    sources=("seeds/001", "seeds/000"),
)

REACH_OVERHEAD = Exercise(
    id="reach_overhead",
    name="Reach overhead",
    summary="A long, breathing stretch that loosens a stiff upper back.",
    steps=(
        "Stand up (or sit tall) with your feet firmly on the floor.",
        "Take a slow, deep breath in and reach both arms up overhead, growing tall.",
        "Keep breathing slowly while you reach, letting your ribs lift.",
        "Lower your arms slowly and relax your shoulders.",
    ),
    cue="Breathe in and reach up tall.",
    release="Lower your arms and breathe out.",
    dosing=Dosing(
        reps=None,
        hold_s=None,
        sets=1,
        how_often="About two minutes of reaching and breathing, first thing in the morning or at a break.",
        source="seeds/001: reach overhead with deep breaths for about two minutes",
    ),
    feel="A stretch along the sides of the trunk and through the upper back.",
    stop_if=("It hurts in your shoulders or back.", "You feel light-headed: lower your arms and breathe normally."),
    sources=("seeds/001",),
)

EXERCISES: tuple[Exercise, ...] = (
    CHIN_TUCK,
    CHIN_TUCK_SEATED,
    CHIN_TUCK_WALL,
    CHIN_TUCK_LYING,
    THORACIC_EXTENSION_CHAIR,
    OPEN_BOOK,
    SHOULDER_BLADE_SQUEEZE,
    REACH_OVERHEAD,
)
"""Every exercise, chin tucks first."""

EXERCISES_BY_ID: dict[str, Exercise] = {e.id: e for e in EXERCISES}


@dataclass(frozen=True, slots=True)
class GuidedStep:
    """One timed instruction of a guided set.

    Attributes:
        t_offset_s: when to show it, seconds after the set starts.
        instruction: what to say.
        rep: repetition number from 1, or 0 for the introduction and the end.
        side: ``"left"``/``"right"`` for one-sided exercises, else ``None``.
    """

    t_offset_s: float
    instruction: str
    rep: int
    side: str | None = None


def default_rest_s(hold_s: float) -> float:
    """Rest between repetitions for a hold of ``hold_s`` seconds: as long as the hold ([C2] rests 10 s after a
    10-s hold), but at least 2 s and at most 10 s."""
    return min(10.0, max(2.0, hold_s))


def guided_set(
    exercise: Exercise,
    reps: int,
    hold_s: float,
    *,
    rest_s: float | None = None,
    get_ready_s: float = 5.0,
) -> Iterator[GuidedStep]:
    """The timed steps of one guided set (pure: the dashboard plays them against its own clock).

    Sequence: an introduction at 0 s; after ``get_ready_s``, for each repetition the exercise's cue, then its
    release after ``hold_s``, then ``rest_s`` of rest; finally "Set complete" right after the last release.
    One-sided exercises do all repetitions on the left, then all on the right.

    Args:
        exercise: what to guide.
        reps: repetitions (per side), at least 1.
        hold_s: hold per repetition, seconds, > 0.
        rest_s: rest between repetitions, seconds (default :func:`default_rest_s`).
        get_ready_s: time to read the introduction and get into position, seconds.

    Raises:
        ValueError: for reps < 1 or a non-positive / non-finite time.
    """
    if reps < 1:
        msg = f"reps = {reps} is not allowed: expected a whole number >= 1"
        raise ValueError(msg)
    if not (math.isfinite(hold_s) and hold_s > 0.0):
        msg = f"hold_s = {hold_s} is not allowed: expected a number of seconds > 0"
        raise ValueError(msg)
    rest = default_rest_s(hold_s) if rest_s is None else rest_s
    if not (math.isfinite(rest) and rest >= 0.0 and math.isfinite(get_ready_s) and get_ready_s >= 0.0):
        msg = f"rest_s = {rest_s} / get_ready_s = {get_ready_s} are not allowed: expected seconds >= 0"
        raise ValueError(msg)
    sides: tuple[str | None, ...] = ("left", "right") if exercise.per_side else (None,)
    per_side = " on each side" if exercise.per_side else ""
    yield GuidedStep(0.0, f"{exercise.name}: {reps} x {hold_s:g}-second holds{per_side}. {exercise.steps[0]}", 0)
    t = get_ready_s
    for s_index, side in enumerate(sides):
        prefix = "" if side is None else f"{side.capitalize()} side. "
        for rep in range(1, reps + 1):
            yield GuidedStep(t, f"{prefix}{rep}/{reps}: {exercise.cue} Hold {hold_s:g} s.", rep, side)
            t += hold_s
            last = rep == reps and s_index == len(sides) - 1
            yield GuidedStep(t, exercise.release, rep, side)
            if not last:
                t += rest
    yield GuidedStep(t, "Set complete. Well done.", 0)
