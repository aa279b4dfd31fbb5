"""Score PostureBuddy's detection against the simulator's ground truth: ``python -m simulators.eval``.

For each scenario, device and seed: simulate the wearer, play the virtual tag offline (the very packets a host
would receive, :func:`simulators.record.iter_packet_batches`), decode and analyse them in batch
(:func:`posturebuddy.session.analyze.analyze_samples`, which gives the streaming engine's events) with the
reference a live session would capture (the first 5 s of still sitting), and compare with the truth.

Scores (times on the host clock; truth times are mapped with :func:`simulators.record.host_clock`):

* **episodes, product definition** (the primary score): detected ``slouch`` / ``forward_head`` episodes against
  the truth's :meth:`~simulators.wearer.truth.GroundTruth.product_episodes`: the *true* tag tilt (noise-free,
  ideal calibration) judged with the product's own thresholds and semantics (``EngineSettings().detector``:
  forward head 8 deg, slouch 15 deg at the tag, hysteresis 3 deg, dwell 30 s, exit 3 s, grace 10 s; see
  :func:`simulators.wearer.truth.product_alert_episodes`). A slowly deepening slouch is a forward-head episode
  first, then a slouch, in the truth as in the product. Episodes whose dwell clock ends within 5 s of the dwell
  are *grey* (an engine with realistic tilt errors may or may not report them). *Matching rule*: a detected
  episode matches a truth episode **of the same kind whose span it overlaps** (any overlap). Recall = truth
  episodes with at least one match / truth episodes. Precision = detected episodes with a match / detected
  episodes, where a detected episode that overlaps only a grey truth episode of its kind counts neither way
  (column ``grey``: how many did). Side-lean episodes are not scored.
* **latency beyond dwell**: for each matched truth episode, the first match's ``confirmed_s`` minus the truth's
  confirmation (truth start + dwell for a posture held beyond its threshold); median and worst.
* **latency beyond the tolerance band** (``lat_tol``, secondary): the dwell clock counts only time at or beyond
  the threshold, so where the true posture hovers within a few tenths of a degree of a threshold, a tilt error of
  that size moves the confirmation by seconds, and no real estimator is free of it. The band is where a perfect
  engine whose tilt were off by ``TOLERANCE_DEG`` (either way) would confirm: the same truth judged with the
  flexion shifted by +-``TOLERANCE_DEG``. The figure is how far the detection falls outside that band (0 inside,
  negative before it, positive after it; after it and no confirmation in the band's late edge: 0). Reported next
  to ``lat_max``, never instead of it; the table's ``lat_tol`` is the value furthest from 0 (early or late,
  with its sign), while ``lat_max`` is the latest.
* **body angles** (secondary, ``F1body``): the same matching against the simulator's physiological labels (trunk
  flexion >= 10 deg slouch, neck >= 15 deg forward head, held >= 60 s; shorter runs grey), and ``F1bany`` with a
  slouch and a forward-head episode counted as one problem posture: how well the default thresholds match the
  body posture.
* **false prompts**: posture prompts raised while no product-definition episode (grey ones included, within
  ``PROMPT_SLACK_S``) is going on; ``prompts``: all posture prompts (none allowed in ``fidgety_upright`` and
  ``leans_back``).
* **breaks**: for each truth break (stand-up to sit-down), the first detected break starting within it (from
  ``BREAK_SLACK_S`` before the stand-up): recognition latency = ``BreakStarted`` time - stand-up. A break of at
  least the coach's ``min_break_s`` on the feet must be credited (``credit`` of ``breaks``); a shorter stand must
  not be (``s_cred`` of ``short``). Detected breaks outside any truth break are false breaks (``fbrk``).

**Accelerometer calibration** (``--accel-cal {auto,on,off}``; ``auto``, the default, is on for accelerometer-only
families such as the micro:bit): as a user of such a tag would, each run first records the guided six-face step
(the ``six_faces`` scenario) **with the same physical tag** (the run's :attr:`SimulatedRecording.sensor_errors`),
plays it through the same virtual tag, packets and decoder as the run, fits the offsets and sensitivities with
:func:`posturebuddy.motion.accel_faces.fit_six_faces` and analyses the run with that correction
(``EngineSettings.orientation.accel_calibration``). Columns ``acal`` (``yes``, ``-`` not asked for, ``FAIL``: the
fit failed and the run was scored without it) and ``fit_mg`` (the fit's ``rms_after_g``, milli-g).

The full table (every shipped scenario x devices x seeds) takes minutes; ``tests/simulators/test_eval.py`` runs
short cuts of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TextIO

import numpy as np
import numpy.typing as npt

from posturebuddy.devices import get_family
from posturebuddy.model import PromptKind
from posturebuddy.motion.accel_faces import fit_six_faces
from posturebuddy.motion.orientation import AccelCalibration, AccelFit
from posturebuddy.session.analyze import AnalysisResult, analyze_samples, decode_items
from posturebuddy.session.engine import EngineSettings
from simulators.record import collect_packets, host_clock, simulate_for
from simulators.wearer import SensorErrors, SimulatedRecording, list_scenarios, load_scenario
from simulators.wearer.truth import ProductThresholds, product_alert_episodes

PROG = "python -m simulators eval"
DEFAULT_DEVICES = ("posturebuddy", "witmotion", "microbit")
DEFAULT_SEEDS = (None, 1, 2)
NO_PROMPT_SCENARIOS = ("fidgety_upright", "leans_back")
ALERT_KINDS = ("slouch", "forward_head")
PROMPT_SLACK_S = 5.0
TOLERANCE_DEG = 0.5
"""Tilt tolerance of the ``lat_tol`` band, degrees: the engine's tilt error on the simulator is 0.1-0.6 deg RMS
(docs/engine.md, "Measured"), so 0.5 deg is what a good engine may be expected to stay within."""
BREAK_SLACK_S = 5.0
ACCEL_CAL_SCENARIO = "six_faces"
"""The scenario of the guided six-face accelerometer calibration (the tag off the body)."""
EXCLUDED_BY_DEFAULT = ("workday_8h", ACCEL_CAL_SCENARIO)
"""Shipped scenarios the default run leaves out: the 8-hour day (too long), the six-face calibration (no posture)."""
ACCEL_CAL_MODES = ("auto", "on", "off")

FloatArray = npt.NDArray[np.float64]


SixFaceFitter = Callable[[FloatArray, FloatArray], AccelFit]
"""``fit(t_s (N,) s, accel_g (N, 3) raw readings in g) -> AccelFit`` (default
:func:`~posturebuddy.motion.accel_faces.fit_six_faces`); raises ``ValueError`` (e.g. ``CalibrationError``) when it
cannot fit."""


@dataclass(frozen=True, slots=True)
class AccelCalScore:
    """The six-face accelerometer calibration of one run.

    Attributes:
        used: the run was analysed with the fitted correction (False: the fit failed; see ``error``).
        rms_after_g: the fit's RMS of ``|corrected| - 1`` over the faces, g (None if it failed).
        bias_g: fitted offsets per tag axis, g (None if it failed).
        scale: fitted sensitivities per tag axis (None if it failed).
        true_bias_g: the tag's true offsets (the simulator's draw), g.
        true_scale: the tag's true sensitivities.
        error: why the fit failed, or None.
    """

    used: bool
    rms_after_g: float | None
    bias_g: tuple[float, float, float] | None
    scale: tuple[float, float, float] | None
    true_bias_g: tuple[float, float, float]
    true_scale: tuple[float, float, float]
    error: str | None = None

    @property
    def bias_error_g(self) -> float | None:
        """Largest per-axis difference between the fitted and the true offsets, g."""
        if self.bias_g is None:
            return None
        return max(abs(a - b) for a, b in zip(self.bias_g, self.true_bias_g, strict=True))

    @property
    def scale_error(self) -> float | None:
        """Largest per-axis difference between the fitted and the true sensitivities (dimensionless)."""
        if self.scale is None:
            return None
        return max(abs(a - b) for a, b in zip(self.scale, self.true_scale, strict=True))


def accel_cal_wanted(device: str, mode: str = "auto") -> bool:
    """Whether a run on ``device`` uses the six-face calibration: ``on``, ``off``, or ``auto`` (accelerometer-only
    families: they take tilt from the raw accelerometer direction, with no gyroscope or on-tag fusion)."""
    if mode not in ACCEL_CAL_MODES:
        raise ValueError(f"accel-cal mode must be one of {', '.join(ACCEL_CAL_MODES)}, got {mode!r}")
    if mode != "auto":
        return mode == "on"
    caps = get_family(device).capabilities
    return caps.accel and not caps.gyro and not caps.quaternion


def six_face_calibration(
    device: str,
    sensor_errors: SensorErrors,
    seed: int | None = None,
    *,
    fitter: SixFaceFitter | None = None,
) -> tuple[AccelCalScore, AccelCalibration | None]:
    """Record the six-face step with the tag whose errors are ``sensor_errors`` and fit its calibration.

    The ``six_faces`` scenario is simulated for ``device`` at the family's default rate (``seed``: the layout and
    noise, default the scenario's own), played through the virtual tag offline and decoded exactly as an eval run
    (:func:`~simulators.record.collect_packets`, :func:`~posturebuddy.session.analyze.decode_items`), and
    ``fitter`` (default :func:`posturebuddy.motion.accel_faces.fit_six_faces`) gets the decoded ``t_s`` (s) and
    raw ``accel_g`` (g, tag frame).

    Returns:
        The score (fit figures against the true errors) and the calibration, or ``None`` if the fit raised
        ``ValueError`` / ``ArithmeticError`` (the score's ``error`` says why).
    """
    fit_fn = fitter if fitter is not None else fit_six_faces
    rec = simulate_for(ACCEL_CAL_SCENARIO, device, seed=seed, sensor_errors=sensor_errors)
    decoded = decode_items(collect_packets(rec, device), get_family(device))
    true_bias, true_scale = sensor_errors.accel_bias_g, sensor_errors.accel_scale
    try:
        fit = fit_fn(decoded.arrays.t_s, decoded.arrays.accel_g)
    except (ValueError, ArithmeticError) as error:
        why = f"{type(error).__name__}: {error}"
        return AccelCalScore(False, None, None, None, true_bias, true_scale, error=why), None
    cal = fit.calibration
    return AccelCalScore(True, float(fit.rms_after_g), cal.bias_g, cal.scale, true_bias, true_scale), cal


@dataclass(frozen=True, slots=True)
class BreakScore:
    """One truth break and what the product made of it (latencies in seconds, ``None``: not seen)."""

    stand_s: float
    on_feet_s: float
    walked: bool
    started_latency_s: float | None
    credited_latency_s: float | None


@dataclass(frozen=True, slots=True)
class EpisodeScore:
    """Detected episodes against one truth definition (see the module docstring)."""

    truth_episodes: int
    detected_episodes: int
    true_positives: int
    matched_truth: int
    grey_zone: int
    latencies_s: tuple[float, ...]
    any_true_positives: int
    any_matched_truth: int
    any_latencies_s: tuple[float, ...]
    band_latencies_s: tuple[float, ...] = ()
    """For each matched truth episode, latency beyond the tolerance band (see the module docstring), seconds."""

    @property
    def precision(self) -> float:
        """Precision (1 when nothing was detected)."""
        scored = self.detected_episodes - self.grey_zone
        return 1.0 if scored <= 0 else self.true_positives / scored

    @property
    def recall(self) -> float:
        """Recall (1 when the truth has no episode)."""
        return 1.0 if self.truth_episodes == 0 else self.matched_truth / self.truth_episodes

    @property
    def f1(self) -> float:
        """F1 of precision and recall."""
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    @property
    def f1_any_kind(self) -> float:
        """F1 when a slouch and a forward-head episode count as the same problem posture."""
        scored = self.detected_episodes - self.grey_zone
        p = 1.0 if scored <= 0 else min(1.0, self.any_true_positives / scored)
        r = 1.0 if self.truth_episodes == 0 else self.any_matched_truth / self.truth_episodes
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    @property
    def max_latency_s(self) -> float | None:
        """Worst latency beyond the truth's confirmation."""
        return max(self.latencies_s) if self.latencies_s else None

    @property
    def max_band_latency_s(self) -> float | None:
        """Worst latency beyond the tolerance band (largest magnitude, with its sign)."""
        return max(self.band_latencies_s, key=abs) if self.band_latencies_s else None


@dataclass(frozen=True, slots=True)
class Score:
    """The scores of one run (see the module docstring). ``product``: against the product-definition truth (the
    primary score); ``body``: against the body-angle truth (how well the default thresholds match the body)."""

    scenario: str
    device: str
    seed: int
    duration_s: float
    product: EpisodeScore
    body: EpisodeScore
    posture_prompts: int
    false_prompts: int
    body_false_prompts: int
    good_sitting_h: float
    breaks: tuple[BreakScore, ...]
    false_breaks: int
    wall_s: float
    notes: tuple[str, ...] = field(default_factory=tuple)
    accel_cal: AccelCalScore | None = None
    """The six-face accelerometer calibration of the run, or None if it was not asked for."""

    # The primary (product-definition) figures, by their old names.
    @property
    def truth_episodes(self) -> int:
        """Product-definition truth episodes (grey ones excluded)."""
        return self.product.truth_episodes

    @property
    def precision(self) -> float:
        """Product-definition precision."""
        return self.product.precision

    @property
    def recall(self) -> float:
        """Product-definition recall."""
        return self.product.recall

    @property
    def f1(self) -> float:
        """Product-definition F1."""
        return self.product.f1

    @property
    def latencies_s(self) -> tuple[float, ...]:
        """Product-definition latencies beyond the truth's confirmation."""
        return self.product.latencies_s

    @property
    def false_prompts_per_h(self) -> float:
        """False posture prompts per hour of good sitting."""
        return self.false_prompts / self.good_sitting_h if self.good_sitting_h > 0 else 0.0

    def worst_break_latency(self, min_on_feet_s: float) -> float | None:
        """Worst recognition latency of the breaks at least ``min_on_feet_s`` long (inf if one was missed)."""
        values = [b.started_latency_s for b in self.breaks if b.on_feet_s >= min_on_feet_s]
        if not values:
            return None
        return math.inf if any(v is None for v in values) else max(v for v in values if v is not None)

    def credited(self, min_on_feet_s: float) -> tuple[int, int, int, int]:
        """(long breaks credited, long breaks, short stands credited, short stands): a stand of at least
        ``min_on_feet_s`` must be credited, a shorter one must not."""
        long_ = [b for b in self.breaks if b.on_feet_s >= min_on_feet_s]
        short = [b for b in self.breaks if b.on_feet_s < min_on_feet_s]
        ok = sum(1 for b in long_ if b.credited_latency_s is not None)
        bad = sum(1 for b in short if b.credited_latency_s is not None)
        return ok, len(long_), bad, len(short)


def run_one(
    scenario: str,
    device: str,
    seed: int | None = None,
    *,
    duration_s: float | None = None,
    settings: EngineSettings | None = None,
    accel_cal: bool = False,
    fitter: SixFaceFitter | None = None,
) -> tuple[Score, AnalysisResult, SimulatedRecording]:
    """Simulate, analyse, score one run.

    With ``accel_cal``, the six-face calibration is recorded first with the run's tag (:func:`six_face_calibration`,
    same seed) and the run is analysed with the fitted correction in ``settings.orientation`` (without it if the
    fit fails; ``Score.accel_cal`` says which).
    """
    st = settings if settings is not None else EngineSettings()
    wall = time.perf_counter()
    rec = simulate_for(scenario, device, seed=seed, duration_s=duration_s)
    family = get_family(device)
    cal_score: AccelCalScore | None = None
    if accel_cal:
        cal_score, cal = six_face_calibration(device, rec.sensor_errors, rec.seed, fitter=fitter)
        if cal is not None:
            st = dataclasses.replace(st, orientation=dataclasses.replace(st.orientation, accel_calibration=cal))
    decoded = decode_items(collect_packets(rec, device), family)
    result = analyze_samples(decoded.arrays, family=family, settings=st, capture_only=True)
    score = score_run(rec, result, st, device, time.perf_counter() - wall)
    if cal_score is not None:
        note = "accel calibration: six faces" if cal_score.used else f"accel calibration failed: {cal_score.error}"
        score = dataclasses.replace(score, accel_cal=cal_score, notes=(*score.notes, note))
    return score, result, rec


Span = tuple[str, float, float, float]
"""(kind, start, end, confirmed) on the host clock."""


def _overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    return a0 < b1 and b0 < a1


def score_episodes(truth: Sequence[Span], grey: Sequence[Span], detected: Sequence[Span]) -> EpisodeScore:
    """Match detected episodes with truth episodes (rules in the module docstring); latency = the first match's
    confirmation - the truth's confirmation."""
    tp = 0
    grey_only = 0
    for kind, s, e, _ in detected:
        if any(k == kind and _overlaps(s, e, ts, te) for k, ts, te, _ in truth):
            tp += 1
        elif any(k == kind and _overlaps(s, e, gs, ge) for k, gs, ge, _ in grey):
            grey_only += 1
    matched = 0
    latencies: list[float] = []
    for alert_kind, ts, te, tc in truth:
        hits = [d for d in detected if d[0] == alert_kind and _overlaps(d[1], d[2], ts, te)]
        if hits:
            matched += 1
            latencies.append(min(h[3] for h in hits) - tc)
    any_tp = sum(1 for _, s, e, _ in detected if any(_overlaps(s, e, ts, te) for _, ts, te, _ in truth))
    any_matched = 0
    any_latencies: list[float] = []
    for _, ts, te, tc in truth:
        hits = [d for d in detected if _overlaps(d[1], d[2], ts, te)]
        if hits:
            any_matched += 1
            any_latencies.append(min(h[3] for h in hits) - tc)
    return EpisodeScore(
        len(truth), len(detected), tp, matched, grey_only, tuple(latencies), any_tp, any_matched, tuple(any_latencies)
    )


def tolerance_band(rec: SimulatedRecording, thresholds: ProductThresholds) -> tuple[list[Span], list[Span]]:
    """The truth's episodes judged with the flexion raised, then lowered, by ``TOLERANCE_DEG`` (host clock): the
    early and the late edge of the tolerance band. Grey runs that never reach their dwell are left out (their
    ``confirmed_s`` is a placeholder)."""
    to_host = host_clock(rec)
    truth = rec.truth
    early, late = (
        [
            (e.posture, to_host(e.start_s), to_host(e.end_s), to_host(e.confirmed_s))
            for e in product_alert_episodes(truth.t_s, truth.tag_flexion_deg + shift, truth.posture_code, thresholds)
            if e.reached_dwell
        ]
        for shift in (TOLERANCE_DEG, -TOLERANCE_DEG)
    )
    return early, late


def band_latencies(
    truth: Sequence[Span], detected: Sequence[Span], early: Sequence[Span], late: Sequence[Span]
) -> tuple[float, ...]:
    """Latency beyond the tolerance band for each matched truth episode (rules in the module docstring).

    Args:
        truth: the truth episodes (not grey), as for :func:`score_episodes`.
        detected: the detected episodes.
        early: the truth judged with the flexion raised by the tolerance (episodes that reach the dwell, grey
            ones too).
        late: the truth judged with the flexion lowered by the tolerance (episodes that reach the dwell, grey
            ones too).
    """
    out: list[float] = []
    for kind, ts, te, tc in truth:
        hits = [d[3] for d in detected if d[0] == kind and _overlaps(d[1], d[2], ts, te)]
        if not hits:
            continue
        found = min(hits)
        c_early = min((c for k, s, e, c in early if k == kind and _overlaps(s, e, ts, te)), default=tc)
        c_late = min((c for k, s, e, c in late if k == kind and _overlaps(s, e, ts, te)), default=math.inf)
        c_early = min(c_early, tc)
        c_late = max(c_late, tc)
        out.append(found - c_late if found > c_late else found - c_early if found < c_early else 0.0)
    return tuple(out)


def score_run(
    rec: SimulatedRecording, result: AnalysisResult, st: EngineSettings, device: str, wall_s: float = 0.0
) -> Score:
    """Compare an analysis with the truth of the recording it was made from."""
    to_host = host_clock(rec)
    truth = rec.truth
    end_data = result.end_s
    detected: list[Span] = [
        (ep.kind.value, ep.start_s, ep.end_s if ep.end_s is not None else end_data, ep.confirmed_s)
        for ep in result.episodes
        if ep.kind.value in ALERT_KINDS
    ]
    # Product definition: the true tag tilt judged by the product's own thresholds (st.detector).
    thresholds = ProductThresholds.from_detector(st.detector)
    product_eps = truth.product_episodes(thresholds)
    p_truth = [
        (e.posture, to_host(e.start_s), to_host(e.end_s), to_host(e.confirmed_s)) for e in product_eps if not e.grey
    ]
    p_grey = [(e.posture, to_host(e.start_s), to_host(e.end_s), to_host(e.confirmed_s)) for e in product_eps if e.grey]
    product = score_episodes(p_truth, p_grey, detected)
    early, late = tolerance_band(rec, thresholds)
    product = dataclasses.replace(product, band_latencies_s=band_latencies(p_truth, detected, early, late))
    # Body angles (secondary): the simulator's physiological labels, held >= min_alert_s; confirmation = start +
    # dwell.
    dwell = st.detector.dwell_s
    b_truth = [
        (e.posture, to_host(e.start_s), to_host(e.end_s), to_host(e.start_s) + dwell) for e in truth.alert_episodes
    ]
    b_grey = [
        (e.posture, to_host(e.start_s), to_host(e.end_s), to_host(e.start_s) + dwell)
        for e in truth.bad_posture_runs()
        if e.duration_s < truth.min_alert_s
    ]
    body = score_episodes(b_truth, b_grey, detected)

    posture_prompts = [p for p in result.prompts if p.prompt.kind in (PromptKind.CHIN_TUCK, PromptKind.SIT_TALL)]

    def false_count(spans: Sequence[tuple[float, float]]) -> int:
        return sum(
            1
            for p in posture_prompts
            if not any(s - PROMPT_SLACK_S <= p.prompt.t_s <= e + PROMPT_SLACK_S for s, e in spans)
        )

    false_prompts = false_count([(s, e) for _, s, e, _ in p_truth + p_grey])
    body_false = false_count([(to_host(e.start_s), to_host(e.end_s)) for e in truth.bad_posture_runs()])
    labels = truth.posture_labels()
    good = float((labels == "upright").sum() + (labels == "leaning_back").sum()) / rec.rate_hz / 3600.0

    breaks: list[BreakScore] = []
    used: set[int] = set()
    last_t = result.end_s
    for b in truth.breaks:
        stand = to_host(b.stand_s)
        sit = to_host(b.sit_s) if b.sit_s is not None else last_t
        on_feet = sit - stand
        hit = next(
            (
                (i, d)
                for i, d in enumerate(result.breaks)
                if i not in used and stand - BREAK_SLACK_S <= d.start_s <= sit and d.kind.value == "on_feet"
            ),
            None,
        )
        if hit is None:
            hit = next(
                (
                    (i, d)
                    for i, d in enumerate(result.breaks)
                    if i not in used and _overlaps(d.start_s, d.end_s or last_t, stand, sit)
                ),
                None,
            )
        if hit is None:
            breaks.append(BreakScore(stand, on_feet, b.walk_start_s is not None, None, None))
            continue
        i, d = hit
        used.add(i)
        breaks.append(
            BreakScore(
                stand,
                on_feet,
                b.walk_start_s is not None,
                d.started_s - stand,
                None if d.credited_s is None else d.credited_s - stand,
            )
        )
    false_breaks = len(result.breaks) - len(used)
    return Score(
        scenario=rec.scenario.name,
        device=device,
        seed=rec.seed,
        duration_s=result.duration_s,
        product=product,
        body=body,
        posture_prompts=len(posture_prompts),
        false_prompts=false_prompts,
        body_false_prompts=body_false,
        good_sitting_h=good,
        breaks=tuple(breaks),
        false_breaks=false_breaks,
        wall_s=wall_s,
        notes=(f"reference: {result.reference_source}",),
    )


def _fmt(value: float | None, spec: str = ".2f") -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "MISSED"
    return format(value, spec)


TABLE_HEADER = (
    f"{'scenario':<22}{'device':<13}{'seed':>5} {'truth':>5}{'grey':>5}{'det':>5}{'P':>6}{'R':>6}{'F1':>6}"
    f"{'lat_med':>8}{'lat_max':>8}{'lat_tol':>8}{'F1any':>6}{'prompts':>8}{'false':>6}{'F1body':>7}{'F1bany':>7}"
    f"{'breaks':>7}{'brk_lat':>8}{'credit':>7}{'short':>6}{'s_cred':>7}{'fbrk':>5}{'acal':>6}{'fit_mg':>7}"
)


def table_row(s: Score, min_break_s: float) -> str:
    """One line of the table."""
    ok, n_long, bad, n_short = s.credited(min_break_s)
    p = s.product
    med = statistics.median(p.latencies_s) if p.latencies_s else None
    n_grey = p.grey_zone
    return (
        f"{s.scenario:<22}{s.device:<13}{s.seed:>5} {p.truth_episodes:>5}{n_grey:>5}{p.detected_episodes:>5}"
        f"{p.precision:>6.2f}{p.recall:>6.2f}{p.f1:>6.2f}{_fmt(med, '.1f'):>8}{_fmt(p.max_latency_s, '.1f'):>8}"
        f"{_fmt(p.max_band_latency_s, '.1f'):>8}{p.f1_any_kind:>6.2f}{s.posture_prompts:>8}{s.false_prompts:>6}"
        f"{s.body.f1:>7.2f}{s.body.f1_any_kind:>7.2f}"
        f"{n_long:>7}{_fmt(s.worst_break_latency(min_break_s), '.1f'):>8}{ok:>7}{n_short:>6}{bad:>7}{s.false_breaks:>5}"
        f"{_accel_cal_cell(s.accel_cal):>6}{_fmt(_mg(s.accel_cal), '.2f'):>7}"
    )


def _accel_cal_cell(cal: AccelCalScore | None) -> str:
    if cal is None:
        return "-"
    return "yes" if cal.used else "FAIL"


def _mg(cal: AccelCalScore | None) -> float | None:
    return None if cal is None or cal.rms_after_g is None else 1000.0 * cal.rms_after_g


def build_parser() -> argparse.ArgumentParser:
    """Arguments of the evaluation."""
    p = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Score episode detection, prompts and breaks against the simulator's ground truth for every\n"
            "scenario x device x seed (see the module docstring of simulators/eval.py for the rules)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--scenario",
        action="append",
        help=f"scenario (repeatable; default: all but {', '.join(EXCLUDED_BY_DEFAULT)})",
    )
    p.add_argument("--device", action="append", help=f"device (repeatable; default: {', '.join(DEFAULT_DEVICES)})")
    p.add_argument("--seed", action="append", type=int, help="seed (repeatable; default: the scenario's own and 1)")
    p.add_argument("--duration", type=float, help="cut each scenario after this many seconds")
    p.add_argument(
        "--accel-cal",
        choices=ACCEL_CAL_MODES,
        default="auto",
        help=(
            "record the six-face accelerometer calibration with each run's tag and analyse the run with it "
            "(default auto: on for accelerometer-only tags, e.g. microbit)"
        ),
    )
    p.add_argument("--json", action="store_true", help="print JSON lines instead of the table")
    return p


def default_scenarios() -> list[str]:
    """The scenarios a run without ``--scenario`` scores: every shipped one but :data:`EXCLUDED_BY_DEFAULT` and any
    that keeps the tag off the body (:attr:`~simulators.wearer.Scenario.off_body`: no posture to score)."""
    return [s for s in list_scenarios() if s not in EXCLUDED_BY_DEFAULT and not load_scenario(s).off_body]


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the evaluation and write the table (or JSON lines) to ``out`` (default stdout); exit 0."""
    args = build_parser().parse_args(argv)
    stream = out if out is not None else sys.stdout
    scenarios = args.scenario or default_scenarios()
    devices = args.device or list(DEFAULT_DEVICES)
    seeds: list[int | None] = list(args.seed) if args.seed else list(DEFAULT_SEEDS)
    st = EngineSettings()
    if not args.json:
        stream.write(TABLE_HEADER + "\n")
    for scenario in scenarios:
        for device in devices:
            for seed in seeds:
                cal = accel_cal_wanted(device, args.accel_cal)
                score, _, _ = run_one(scenario, device, seed, duration_s=args.duration, settings=st, accel_cal=cal)
                if args.json:
                    doc = asdict(score)
                    doc.update(
                        precision=score.precision,
                        recall=score.recall,
                        f1=score.f1,
                        f1_any=score.product.f1_any_kind,
                        f1_body=score.body.f1,
                        f1_body_any=score.body.f1_any_kind,
                        accel_cal_used=score.accel_cal is not None and score.accel_cal.used,
                        accel_cal_rms_after_g=None if score.accel_cal is None else score.accel_cal.rms_after_g,
                    )
                    stream.write(json.dumps(doc, default=str) + "\n")
                else:
                    stream.write(table_row(score, st.coach.min_break_s) + "\n")
                stream.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
