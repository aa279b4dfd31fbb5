"""Score PostureBuddy's detection against the simulator's ground truth: ``python -m simulators.eval``.

For each scenario, device and seed: simulate the wearer, play the virtual tag offline (the very packets a host
would receive, :func:`simulators.record.iter_packet_batches`), decode and analyse them in batch
(:func:`posturebuddy.session.analyze.analyze_samples`, which gives the streaming engine's events) with the
reference a live session would capture (the first 5 s of still sitting), and compare with the truth.

Scores (times on the host clock; truth times are mapped with :func:`simulators.record.host_clock`):

* **episodes**: detected ``slouch`` / ``forward_head`` episodes against the truth's should-alert episodes
  (held >= ``min_alert_s``, default 60 s, short ``moving`` interruptions bridged). *Matching rule*: a detected
  episode matches a truth episode **of the same kind whose span it overlaps** (any overlap). Recall = truth
  episodes with at least one match / truth episodes. Precision = detected episodes with a match / detected
  episodes, where a detected episode that overlaps only a *grey-zone* truth run of its kind (a bad-posture run
  shorter than ``min_alert_s``, which a 30-s dwell may legitimately catch) counts neither way. Side-lean
  episodes are not scored (the truth has no side-lean alerts and the coach does not prompt them).
* **any kind** (``F1any``, ``latany``): the same with a slouch and a forward-head episode counted as one problem
  posture (an upper-back tag sees a slowly deepening slouch pass the forward-head level first; the product then
  reports forward head, then slouch, where the truth says slouch throughout).
* **latency beyond dwell**: for each matched truth episode, the first match's ``confirmed_s - (truth start +
  dwell_s)``; reported as the median and the worst.
* **false prompts per hour of good sitting**: posture prompts raised while no truth bad-posture run (of any
  kind, any length, within ``PROMPT_SLACK_S``) is going on, per hour of truth ``upright`` + ``leaning_back``.
* **prompts** in the scenarios that must not prompt (``fidgety_upright``, ``leans_back``): all posture prompts.
* **breaks**: for each truth break (stand-up to sit-down), the first detected break starting within it (from
  ``BREAK_SLACK_S`` before the stand-up): recognition latency = ``BreakStarted`` time - stand-up, credit latency
  = ``BreakCredited`` time - stand-up. Breaks the truth says lasted less than the coach's ``min_break_s`` on the
  feet are reported apart (the product does not credit them, by design). Detected breaks outside any truth break
  are false breaks.

The full table (every shipped scenario x devices x seeds) takes minutes; ``tests/simulators/test_eval.py`` runs
short cuts of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TextIO

from posturebuddy.devices import get_family
from posturebuddy.model import PromptKind, RawPacket
from posturebuddy.session.analyze import AnalysisResult, analyze_samples, decode_items
from posturebuddy.session.engine import EngineSettings
from simulators.record import host_clock, iter_packet_batches, simulate_for
from simulators.wearer import SimulatedRecording, list_scenarios

PROG = "python -m simulators eval"
DEFAULT_DEVICES = ("posturebuddy", "witmotion", "microbit")
DEFAULT_SEEDS = (None, 1)
NO_PROMPT_SCENARIOS = ("fidgety_upright", "leans_back")
ALERT_KINDS = ("slouch", "forward_head")
PROMPT_SLACK_S = 5.0
BREAK_SLACK_S = 5.0


@dataclass(frozen=True, slots=True)
class BreakScore:
    """One truth break and what the product made of it (latencies in seconds, ``None``: not seen)."""

    stand_s: float
    on_feet_s: float
    walked: bool
    started_latency_s: float | None
    credited_latency_s: float | None


@dataclass(frozen=True, slots=True)
class Score:
    """The scores of one run (see the module docstring)."""

    scenario: str
    device: str
    seed: int
    duration_s: float
    truth_episodes: int
    detected_episodes: int
    true_positives: int
    matched_truth: int
    grey_zone: int
    latencies_s: tuple[float, ...]
    any_true_positives: int
    any_matched_truth: int
    any_latencies_s: tuple[float, ...]
    posture_prompts: int
    false_prompts: int
    good_sitting_h: float
    breaks: tuple[BreakScore, ...]
    false_breaks: int
    wall_s: float
    notes: tuple[str, ...] = field(default_factory=tuple)

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
        """F1 when a slouch and a forward-head episode count as the same problem posture (see the docstring)."""
        scored = self.detected_episodes - self.grey_zone
        p = 1.0 if scored <= 0 else min(1.0, self.any_true_positives / scored)
        r = 1.0 if self.truth_episodes == 0 else self.any_matched_truth / self.truth_episodes
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    @property
    def false_prompts_per_h(self) -> float:
        """False posture prompts per hour of good sitting."""
        return self.false_prompts / self.good_sitting_h if self.good_sitting_h > 0 else 0.0

    @property
    def max_latency_s(self) -> float | None:
        """Worst latency beyond the dwell."""
        return max(self.latencies_s) if self.latencies_s else None

    def worst_break_latency(self, min_on_feet_s: float) -> float | None:
        """Worst recognition latency of the breaks at least ``min_on_feet_s`` long (inf if one was missed)."""
        values = [b.started_latency_s for b in self.breaks if b.on_feet_s >= min_on_feet_s]
        if not values:
            return None
        return math.inf if any(v is None for v in values) else max(v for v in values if v is not None)


def packets_for(rec: SimulatedRecording, device: str) -> list[RawPacket]:
    """The packets a host receives from ``device`` playing ``rec`` (offline, no radio)."""

    async def collect() -> list[RawPacket]:
        out: list[RawPacket] = []
        async for batch in iter_packet_batches(rec, device):
            out.extend(batch)
        return out

    return asyncio.run(collect())


def run_one(
    scenario: str,
    device: str,
    seed: int | None = None,
    *,
    duration_s: float | None = None,
    settings: EngineSettings | None = None,
) -> tuple[Score, AnalysisResult, SimulatedRecording]:
    """Simulate, analyse, score one run."""
    st = settings if settings is not None else EngineSettings()
    wall = time.perf_counter()
    rec = simulate_for(scenario, device, seed=seed, duration_s=duration_s)
    family = get_family(device)
    decoded = decode_items(packets_for(rec, device), family)
    result = analyze_samples(decoded.arrays, family=family, settings=st, capture_only=True)
    score = score_run(rec, result, st, device, time.perf_counter() - wall)
    return score, result, rec


def score_run(
    rec: SimulatedRecording, result: AnalysisResult, st: EngineSettings, device: str, wall_s: float = 0.0
) -> Score:
    """Compare an analysis with the truth of the recording it was made from."""
    to_host = host_clock(rec)
    truth = rec.truth
    alerts = [(e.posture, to_host(e.start_s), to_host(e.end_s)) for e in truth.alert_episodes]
    grey = [
        (e.posture, to_host(e.start_s), to_host(e.end_s))
        for e in truth.bad_posture_runs()
        if e.duration_s < truth.min_alert_s
    ]
    end_data = result.end_s
    detected = [
        (ep.kind.value, ep.start_s, ep.end_s if ep.end_s is not None else end_data, ep.confirmed_s)
        for ep in result.episodes
        if ep.kind.value in ALERT_KINDS
    ]

    def overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
        return a0 < b1 and b0 < a1

    tp = 0
    grey_only = 0
    for kind, s, e, _ in detected:
        if any(k == kind and overlaps(s, e, ts, te) for k, ts, te in alerts):
            tp += 1
        elif any(k == kind and overlaps(s, e, gs, ge) for k, gs, ge in grey):
            grey_only += 1
    matched = 0
    latencies: list[float] = []
    for alert_kind, ts, te in alerts:
        hits = [d for d in detected if d[0] == alert_kind and overlaps(d[1], d[2], ts, te)]
        if hits:
            matched += 1
            latencies.append(min(h[3] for h in hits) - (ts + st.detector.dwell_s))

    any_tp = sum(1 for _, s, e, _ in detected if any(overlaps(s, e, ts, te) for _, ts, te in alerts))
    any_matched = 0
    any_latencies: list[float] = []
    for _, ts, te in alerts:
        hits = [d for d in detected if overlaps(d[1], d[2], ts, te)]
        if hits:
            any_matched += 1
            any_latencies.append(min(h[3] for h in hits) - (ts + st.detector.dwell_s))

    bad_runs = [(to_host(e.start_s), to_host(e.end_s)) for e in truth.bad_posture_runs()]
    posture_prompts = [p for p in result.prompts if p.prompt.kind in (PromptKind.CHIN_TUCK, PromptKind.SIT_TALL)]
    false_prompts = sum(
        1
        for p in posture_prompts
        if not any(s - PROMPT_SLACK_S <= p.prompt.t_s <= e + PROMPT_SLACK_S for s, e in bad_runs)
    )
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
                    if i not in used and overlaps(d.start_s, d.end_s or last_t, stand, sit)
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
        truth_episodes=len(alerts),
        detected_episodes=len(detected),
        true_positives=tp,
        matched_truth=matched,
        grey_zone=grey_only,
        latencies_s=tuple(latencies),
        any_true_positives=any_tp,
        any_matched_truth=any_matched,
        any_latencies_s=tuple(any_latencies),
        posture_prompts=len(posture_prompts),
        false_prompts=false_prompts,
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
    f"{'scenario':<22}{'device':<13}{'seed':>5} {'truth':>5}{'det':>5}{'P':>6}{'R':>6}{'F1':>6}"
    f"{'lat_med':>8}{'lat_max':>8}{'F1any':>6}{'latany':>7}{'prompts':>8}{'false/h':>8}{'breaks':>7}{'brk_lat':>8}{'short':>6}{'fbrk':>5}"
)


def table_row(s: Score, min_break_s: float) -> str:
    """One line of the table."""
    long_breaks = [b for b in s.breaks if b.on_feet_s >= min_break_s]
    short = len(s.breaks) - len(long_breaks)
    med = statistics.median(s.latencies_s) if s.latencies_s else None
    return (
        f"{s.scenario:<22}{s.device:<13}{s.seed:>5} {s.truth_episodes:>5}{s.detected_episodes:>5}"
        f"{s.precision:>6.2f}{s.recall:>6.2f}{s.f1:>6.2f}{_fmt(med, '.1f'):>8}{_fmt(s.max_latency_s, '.1f'):>8}"
        f"{s.f1_any_kind:>6.2f}{_fmt(max(s.any_latencies_s) if s.any_latencies_s else None, '.1f'):>7}"
        f"{s.posture_prompts:>8}{s.false_prompts_per_h:>8.2f}{len(long_breaks):>7}"
        f"{_fmt(s.worst_break_latency(min_break_s), '.1f'):>8}{short:>6}{s.false_breaks:>5}"
    )


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
    p.add_argument("--scenario", action="append", help="scenario (repeatable; default: all but workday_8h)")
    p.add_argument("--device", action="append", help=f"device (repeatable; default: {', '.join(DEFAULT_DEVICES)})")
    p.add_argument("--seed", action="append", type=int, help="seed (repeatable; default: the scenario's own and 1)")
    p.add_argument("--duration", type=float, help="cut each scenario after this many seconds")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of the table")
    return p


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the evaluation and write the table (or JSON lines) to ``out`` (default stdout); exit 0."""
    args = build_parser().parse_args(argv)
    stream = out if out is not None else sys.stdout
    scenarios = args.scenario or [s for s in list_scenarios() if s != "workday_8h"]
    devices = args.device or list(DEFAULT_DEVICES)
    seeds: list[int | None] = list(args.seed) if args.seed else list(DEFAULT_SEEDS)
    st = EngineSettings()
    if not args.json:
        stream.write(TABLE_HEADER + "\n")
    for scenario in scenarios:
        for device in devices:
            for seed in seeds:
                score, _, _ = run_one(scenario, device, seed, duration_s=args.duration, settings=st)
                if args.json:
                    doc = asdict(score)
                    doc.update(precision=score.precision, recall=score.recall, f1=score.f1, f1_any=score.f1_any_kind)
                    stream.write(json.dumps(doc, default=str) + "\n")
                else:
                    stream.write(table_row(score, st.coach.min_break_s) + "\n")
                stream.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
