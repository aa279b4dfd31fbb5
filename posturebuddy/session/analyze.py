"""Batch analysis of a whole recording (or of sample arrays, e.g. from a CSV): episodes, prompts, breaks, time in
each posture state and a timeline, with exactly the events the streaming :class:`PostureEngine` produces.

Pipeline (``docs/engine.md``, section "Analyze"):

1. **decode**: the recording's raw packets through :class:`~posturebuddy.session.decoding.PacketDecoder` (the
   decoders of a live session) into :class:`~posturebuddy.motion.orientation.SampleArrays`; samples earlier than
   the latest accepted one are dropped, as the engine drops them;
2. **ticks**: where the data pauses for more than :data:`REPLAY_TICK_PERIOD_S`, ticks are inserted every
   :data:`REPLAY_TICK_PERIOD_S` after the last sample, as a live session ticks the engine while the link is
   quiet (:func:`replay_ticks`); :func:`stream_events` does the same for the streaming engine;
3. **orientation**: :func:`~posturebuddy.motion.orientation.estimate_tilt_batch` (vectorised except the AHRS);
4. **activity**: :class:`~posturebuddy.motion.activity.ActivityClassifier` over every row (a recursion, so a
   loop, through its frame-free :meth:`~posturebuddy.motion.activity.ActivityClassifier.run_codes`, or the same
   loop compiled with numba when it is installed: :func:`~posturebuddy.motion.activity.activity_codes_compiled`);
5. **reference**: the ``--calibrate`` span, else the recording's own calibration(s), else an automatic upright
   estimate (:func:`~posturebuddy.motion.calibration.auto_upright` over still seated rows), else what a live run
   would have captured; :attr:`AnalysisResult.reference_source` says which;
6. **angles**: :func:`~posturebuddy.motion.calibration.posture_angles_batch` (vectorised);
7. **judging**: the detector and the coach over the rows the engine judges (the first of each
   ``judge_period_s`` bin of sample time, see :mod:`posturebuddy.session.engine`).

Nobody answers prompts in a batch: a prompt stays open until it expires or completes itself (a sit-tall prompt
when the wearer sits up, a break prompt when a break is seen).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from posturebuddy.devices import TagFamily, get_family
from posturebuddy.model import (
    Activity,
    PostureClass,
    Prompt,
    PromptOutcome,
    RawPacket,
    Sample,
    StreamStarted,
)
from posturebuddy.model.events import Event
from posturebuddy.motion.activity import ActivityClassifier, activity_codes_compiled, oriented_rows
from posturebuddy.motion.calibration import (
    CalibrationError,
    CalibrationMethod,
    ForwardMethod,
    SlipDetector,
    SlipRows,
    UprightCapture,
    UprightReference,
    UprightRefiner,
    auto_upright,
    posture_angles_batch,
    span_upright,
    usable_forward_hint,
)
from posturebuddy.motion.orientation import SampleArrays, TiltSeries, estimate_tilt_batch
from posturebuddy.posture import Coach, PostureDetector
from posturebuddy.posture.episode import Episode
from posturebuddy.posture.events import (
    BreakCredited,
    BreakEnded,
    BreakKind,
    BreakStarted,
    EpisodeEnded,
    PromptAnswered,
    PromptRaised,
)
from posturebuddy.session.calibration_store import RECORDING_KEY, accel_calibration_from_json
from posturebuddy.session.decoding import DecodeStats, PacketDecoder, SampleBatch
from posturebuddy.session.engine import (
    AUTO_HOW,
    DEFAULT_FORWARD_HINT,
    REFINED_HOW,
    REPLAY_TICK_PERIOD_S,
    EngineSettings,
    PostureEngine,
    pause_ticks,
    relearn_capture,
    with_accel_calibration,
)
from posturebuddy.session.recording import RecordingDamageWarning, RecordingMetadata, open_recording

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_G = TypeVar("_G", bound=np.generic)


ACTIVITIES: tuple[Activity, ...] = tuple(Activity)
"""Activity codes of :attr:`Timeline.activity` (index into this tuple)."""
POSTURE_CLASSES: tuple[PostureClass, ...] = tuple(PostureClass)
"""Posture class codes of :attr:`Timeline.instant` and :attr:`Timeline.state` (index into this tuple)."""

Progress = Callable[[str, float], None]
"""Called with a stage name (``decode``, ``orientation``, ``activity``, ``judge``) and its progress 0..1."""


class ReferenceSource:
    """Where the upright reference of an analysis came from (values of :attr:`AnalysisResult.reference_source`)."""

    GIVEN = "given"
    SPAN = "span"
    RECORDING = "recording"
    AUTO = "auto"
    CAPTURE = "capture"
    NONE = "none"


REFERENCE_WORDS: dict[str, str] = {
    ReferenceSource.GIVEN: "the reference passed in",
    ReferenceSource.SPAN: "the --calibrate span",
    ReferenceSource.RECORDING: "the recording's own calibration",
    ReferenceSource.AUTO: "an automatic upright estimate (the most common still seated posture)",
    ReferenceSource.CAPTURE: "a live-style capture (the first 5 s of still sitting)",
    ReferenceSource.NONE: "none: no upright posture could be found, so posture was not judged",
}
"""How each reference source is described to the user."""


# ----------------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class PromptSummary:
    """A prompt the coach raised, and how it closed (``None``: still open at the end of the data)."""

    prompt: Prompt
    outcome: PromptOutcome | None
    outcome_s: float | None


@dataclass(frozen=True, slots=True)
class BreakSummary:
    """A break the coach saw.

    Attributes:
        start_s: when the wearer got up (or the data stopped), seconds.
        kind: on the wearer's feet, or away (no data for ``away_break_s``).
        started_s: when the coach recognised it as a break (``BreakStarted``), seconds.
        credited_s: when it was credited (``BreakCredited``), seconds; ``None`` if it never counted.
        end_s: when the wearer was back (seated again), seconds; ``None`` if the data ended first.
    """

    start_s: float
    kind: BreakKind
    started_s: float
    credited_s: float | None
    end_s: float | None

    @property
    def credited(self) -> bool:
        """Whether the break counted (restarted the sitting clock)."""
        return self.credited_s is not None


@dataclass(frozen=True, slots=True)
class Timeline:
    """Per judged row (at most ``1 / judge_period_s`` rows per second of data): what the engine saw.

    Attributes:
        t_s: sample time, seconds.
        flexion_deg, lateral_deg: posture angles (NaN where posture had no angles).
        instant: the row's posture class code (index into :data:`POSTURE_CLASSES`).
        state: the sustained state code (index into :data:`POSTURE_CLASSES`).
        activity: the activity code (index into :data:`ACTIVITIES`).
        up_tag: gravity direction ("up") in the tag frame, shape (N, 3) (NaN without tilt).
        motion_energy: the orientation stage's motion score (0 without tilt).
    """

    t_s: FloatArray
    flexion_deg: FloatArray
    lateral_deg: FloatArray
    instant: npt.NDArray[np.int8]
    state: npt.NDArray[np.int8]
    activity: npt.NDArray[np.int8]
    up_tag: FloatArray
    motion_energy: FloatArray

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


TIMELINE_COLUMNS: tuple[str, ...] = (
    "t_s",
    "flexion_deg",
    "lateral_deg",
    "instant",
    "state",
    "activity",
    "up_x",
    "up_y",
    "up_z",
    "motion_energy",
)
"""Columns of :func:`write_timeline_csv`."""


@dataclass(frozen=True, slots=True)
class AnalysisResult:
    """What :func:`analyze_recording` / :func:`analyze_samples` found.

    Attributes:
        source: the file analysed (or ``"samples"``).
        family_id: tag family, ``""`` if unknown (CSV input).
        start_s, end_s: first and last sample time, seconds (NaN without samples).
        samples: samples analysed (after dropping out-of-order ones).
        dropped_samples: samples dropped because their time ran backwards.
        reference: the upright reference in use (the first, if the recording has several).
        references: every reference used, as ``(t_s, reference)``: each applies from sample time ``t_s`` (the first
            from the start) until the next.
        reference_source: a :class:`ReferenceSource` value.
        reference_note: why that reference (or why not another), one sentence.
        episodes: posture episodes, in start order (an episode still open at the end has ``end_s`` ``None``).
        prompts: prompts raised, with their outcomes.
        breaks: breaks seen.
        time_in_state_s: seconds in each sustained posture state (``PostureClass`` values), over the judged
            time; gaps longer than the coach's ``max_step_s`` count as ``away``.
        time_in_activity_s: seconds in each activity, the same way.
        events: every event of the detector and coach, in order (plus ``CalibrationChanged`` is *not* included).
        decode: decoding counters (``None`` for sample input).
        warnings: problems met (a damaged recording read up to the damage, a failed automatic reference...).
        timeline: per judged row arrays, if asked for.
        stage_s: wall time of each stage, seconds.
    """

    source: str
    family_id: str
    start_s: float
    end_s: float
    samples: int
    dropped_samples: int
    reference: UprightReference | None
    reference_source: str
    reference_note: str
    episodes: tuple[Episode, ...]
    prompts: tuple[PromptSummary, ...]
    breaks: tuple[BreakSummary, ...]
    time_in_state_s: dict[str, float]
    time_in_activity_s: dict[str, float]
    events: tuple[Event, ...]
    decode: DecodeStats | None = None
    warnings: tuple[str, ...] = ()
    timeline: Timeline | None = None
    stage_s: dict[str, float] = field(default_factory=dict)
    references: tuple[tuple[float, UprightReference], ...] = ()

    @property
    def duration_s(self) -> float:
        """``end_s - start_s``, seconds (0 without samples)."""
        return 0.0 if not self.samples else self.end_s - self.start_s

    def state_share(self) -> dict[str, float]:
        """Share (0..1) of the judged time in each sustained state."""
        total = sum(self.time_in_state_s.values())
        return {k: (v / total if total > 0 else 0.0) for k, v in self.time_in_state_s.items()}

    def counts(self) -> dict[str, int]:
        """Episodes by kind, prompts by kind, breaks (credited and all)."""
        out: dict[str, int] = {"episodes": len(self.episodes)}
        for ep in self.episodes:
            key = f"episodes_{ep.kind.value}"
            out[key] = out.get(key, 0) + 1
        out["prompts"] = len(self.prompts)
        for p in self.prompts:
            key = f"prompts_{p.prompt.kind.value}"
            out[key] = out.get(key, 0) + 1
        out["breaks"] = len(self.breaks)
        out["breaks_credited"] = sum(1 for b in self.breaks if b.credited)
        return out

    def to_json(self) -> dict[str, object]:
        """A JSON-ready summary (no events, no timeline arrays)."""
        ref = self.reference
        return {
            "source": self.source,
            "family": self.family_id,
            "start_s": _finite_or_none(self.start_s),
            "end_s": _finite_or_none(self.end_s),
            "duration_s": self.duration_s,
            "samples": self.samples,
            "dropped_samples": self.dropped_samples,
            "reference": {
                "source": self.reference_source,
                "note": self.reference_note,
                "up_tag": list(ref.up_tag) if ref else None,
                "forward_tag": list(ref.forward_tag) if ref else None,
                "method": str(ref.method) if ref else None,
                "forward_method": str(ref.forward_method) if ref else None,
            },
            "episodes": [
                {
                    "kind": ep.kind.value,
                    "start_s": ep.start_s,
                    "confirmed_s": ep.confirmed_s,
                    "end_s": ep.end_s,
                    "duration_s": ep.duration_s,
                    "peak_flexion_deg": ep.peak_flexion_deg,
                    "mean_flexion_deg": ep.mean_flexion_deg,
                    "peak_lateral_deg": ep.peak_lateral_deg,
                }
                for ep in self.episodes
            ],
            "prompts": [
                {
                    "id": p.prompt.prompt_id,
                    "kind": p.prompt.kind.value,
                    "t_s": p.prompt.t_s,
                    "reason": p.prompt.reason,
                    "outcome": None if p.outcome is None else p.outcome.value,
                    "outcome_s": p.outcome_s,
                }
                for p in self.prompts
            ],
            "breaks": [
                {
                    "start_s": b.start_s,
                    "kind": b.kind.value,
                    "started_s": b.started_s,
                    "credited_s": b.credited_s,
                    "end_s": b.end_s,
                }
                for b in self.breaks
            ],
            "time_in_state_s": self.time_in_state_s,
            "state_share": self.state_share(),
            "time_in_activity_s": self.time_in_activity_s,
            "counts": self.counts(),
            "decode": None
            if self.decode is None
            else {
                "packets": self.decode.packets,
                "samples": self.decode.samples,
                "rejected": self.decode.rejected,
                "lost_by_sequence": self.decode.lost_by_sequence,
            },
            "warnings": list(self.warnings),
            "stage_s": self.stage_s,
        }


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


# ----------------------------------------------------------------------------------------------- decoding


@dataclass(frozen=True, slots=True)
class DecodedInput:
    """Packets decoded into sample arrays.

    Attributes:
        arrays: the samples (in arrival order, all of them); a field no packet carried is an all-NaN read-only
            view.
        family: the tag family (learnt from a ``StreamStarted`` marker or given).
        stats: the decoder's counters.
    """

    arrays: SampleArrays
    family: TagFamily | None
    stats: DecodeStats


BATCH_RUN = 32768
"""Largest run of packets decoded in one go by the vectorised path."""


def decode_items(
    items: Iterable[RawPacket | StreamStarted],
    family: TagFamily | None = None,
    *,
    total: int | None = None,
    progress: Progress | None = None,
    vectorised: bool = True,
) -> DecodedInput:
    """Decode packets (and stream markers) with :class:`PacketDecoder` into :class:`SampleArrays`.

    With ``vectorised`` (default), runs of fixed-size frames of a family with a vectorised decoder (the PostureBuddy
    Tag's motion frames) are decoded in one go (:meth:`PacketDecoder.feed_batch`); everything else, and any run it
    declines, one packet at a time. Both give the same samples (tested)."""
    decoder = PacketDecoder(family)
    chunks: list[SampleBatch] = []
    samples: list[Sample] = []
    run: list[RawPacket] = []
    feed = decoder.feed
    step = max(1, (total or 0) // 100)

    def flush_samples() -> None:
        if samples:
            chunks.append(_batch_from_samples(samples))
            samples.clear()

    def feed_one(item: RawPacket | StreamStarted) -> None:
        samples.extend(out for out in feed(item) if type(out) is Sample)

    def flush_run() -> None:
        if not run:
            return
        batch = decoder.feed_batch(run)
        if batch is None:
            for packet in run:
                feed_one(packet)
        else:
            flush_samples()
            chunks.append(batch)
        run.clear()

    char = decoder.batch_characteristic() if vectorised else None
    # Characteristic strings seen, and whether each is ``char`` (one ``lower()`` per distinct string).
    is_char: dict[str, bool] = {}
    append = run.append
    for k, item in enumerate(items):
        if progress is not None and total and k % step == 0:
            progress("decode", k / total)
        if char is not None and isinstance(item, RawPacket):
            uuid = item.char_uuid
            batchable = is_char.get(uuid)
            if batchable is None:
                batchable = is_char[uuid] = uuid.lower() == char
            if batchable:
                append(item)
                if len(run) >= BATCH_RUN:
                    flush_run()
                continue
        flush_run()
        feed_one(item)
        if vectorised and isinstance(item, StreamStarted):
            char = decoder.batch_characteristic()
            is_char.clear()
    flush_run()
    flush_samples()
    if progress is not None:
        progress("decode", 1.0)
    return DecodedInput(_concat_batches(chunks), decoder.family, decoder.stats)


def _batch_from_samples(samples: Sequence[Sample]) -> SampleBatch:
    n = len(samples)
    t = np.fromiter((s.t_s for s in samples), dtype=np.float64, count=n)

    def column(values: list[object], width: int) -> FloatArray | None:
        if all(v is None for v in values):
            return None
        nan = (math.nan,) * width
        return np.array([nan if v is None else v for v in values], dtype=np.float64).reshape(n, width)

    return SampleBatch(
        t,
        accel_g=column([s.accel_g for s in samples], 3),
        gyro_dps=column([s.gyro_dps for s in samples], 3),
        quat_wxyz=column([s.quat_wxyz for s in samples], 4),
        gravity_g=column([s.gravity_g for s in samples], 3),
    )


def _concat_batches(chunks: Sequence[SampleBatch]) -> SampleArrays:
    if not chunks:
        return SampleArrays.create(np.zeros(0))
    t = np.concatenate([c.t_s for c in chunks])

    def column(name: str, width: int) -> FloatArray:
        values = [getattr(c, name) for c in chunks]
        if all(v is None for v in values):
            # A field the tag never sent: an all-NaN read-only view (no memory), not an (N, width) array.
            return np.broadcast_to(np.float64(np.nan), (t.shape[0], width))
        return np.concatenate(
            [np.full((c.t_s.shape[0], width), np.nan) if v is None else v for c, v in zip(chunks, values, strict=True)]
        )

    return SampleArrays.create(
        t,
        accel_g=column("accel_g", 3),
        gyro_dps=column("gyro_dps", 3),
        quat_wxyz=column("quat_wxyz", 4),
        gravity_g=column("gravity_g", 3),
    )


# ----------------------------------------------------------------------------------------------- ticks


def accepted_rows(t_s: FloatArray) -> BoolArray:
    """Samples the engine accepts: those not earlier than every sample before them (time never runs back)."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.size == 0:
        return np.zeros(0, dtype=bool)
    if t.size > 1 and bool(np.all(t[1:] >= t[:-1])):
        return np.ones(t.size, dtype=bool)  # non-decreasing (so no NaN): every sample is accepted
    prev = np.empty_like(t)
    prev[0] = -np.inf
    prev[1:] = np.fmax.accumulate(t)[:-1]
    ok: BoolArray = t >= prev
    return ok


def replay_ticks(t_s: FloatArray, period_s: float = REPLAY_TICK_PERIOD_S) -> FloatArray:
    """Tick times for the pauses in non-decreasing sample times ``t_s``: ``t[i] + k * period_s`` (k = 1, 2, ...)
    while before ``t[i + 1]``, wherever ``t[i + 1] - t[i] > period_s``. The streaming twin is
    :func:`stream_events`."""
    t = np.asarray(t_s, dtype=np.float64)
    if t.size < 2:
        return np.zeros(0)
    gaps = np.flatnonzero(np.diff(t) > period_s)
    ticks: list[float] = []
    for i in gaps.tolist():
        ticks.extend(tick for _, tick in pause_ticks(float(t[i]), float(t[i + 1]), period_s=period_s))
    return np.asarray(ticks, dtype=np.float64)


def stream_events(
    items: Iterable[object],
    engine: PostureEngine,
    *,
    tick_period_s: float = REPLAY_TICK_PERIOD_S,
    references: Sequence[tuple[float, UprightReference]] = (),
) -> list[Event]:
    """Replay decoded items through the streaming ``engine`` as :func:`analyze_samples` does in batch: ticks in
    the pauses (see :func:`replay_ticks`), and each of ``references`` set before the first sample at or after
    its time (the first one should be given to the engine up front)."""
    events: list[Event] = []
    last: float | None = None
    pending = sorted(references, key=lambda r: r[0])
    k_ref = 0
    for item in items:
        if isinstance(item, Sample):
            t = item.t_s
            if last is not None and t - last > tick_period_s:
                for _, tick in pause_ticks(last, t, period_s=tick_period_s):
                    events.extend(engine.tick(tick))
            while k_ref < len(pending) and pending[k_ref][0] <= t:
                engine.set_reference(pending[k_ref][1], how="recording")
                k_ref += 1
            if last is None or t >= last:
                last = t
        events.extend(engine.feed(item))
    return events


# ----------------------------------------------------------------------------------------------- reference


def reference_from_record(
    gravity_up: Sequence[float], forward: Sequence[float] | None, family: TagFamily | None, t_s: float
) -> UprightReference:
    """An :class:`UprightReference` from a stored calibration (forward from the record, else the family's)."""
    hint: Sequence[float] = forward if forward is not None else _forward_hint(family)
    return UprightReference.create(
        tuple(gravity_up),
        usable_forward_hint(tuple(gravity_up), tuple(hint)),
        t_s=t_s,
        method=CalibrationMethod.CAPTURE,
        forward_method=ForwardMethod.MOUNTING,
    )


def _forward_hint(family: TagFamily | None) -> tuple[float, float, float]:
    if family is not None and family.forward_axis:
        a = family.forward_axis
        return (float(a[0]), float(a[1]), float(a[2]))
    return DEFAULT_FORWARD_HINT


def _angle_between_deg(a: UprightReference, b: UprightReference) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, float(np.dot(a.up_tag, b.up_tag))))))


def _capture_reference(
    series: TiltSeries,
    is_sample: BoolArray,
    settings: EngineSettings,
    family: TagFamily | None,
    still: BoolArray,
) -> list[tuple[int, UprightReference, str]]:
    """What the live engine's automatic capture would give: ``(row, reference, how)`` (``how`` as the engine's
    ``CalibrationChanged``: "auto capture" or "auto capture refined") for the row the capture completes on and for
    the row of each refined reference the refinement gives (``still``: rows the activity stage calls
    still); with ``settings.relearn_after_slip``, the same again after each slip the engine's
    :class:`SlipDetector` would find, and after each put-back it would find (a capture near the old upright,
    ``settings.relearn_near_deg``). Runs the engine's own :class:`UprightCapture`, :class:`UprightRefiner` and
    :class:`SlipDetector` over the sample rows in the engine's order: refiner, then capture, then slip detector
    (on valid, settled estimates, against the reference in use); a refiner is fed from the sample after its
    capture, a new capture from the sample after the slip."""
    t = series.t_s
    valid = series.valid
    initialising = series.initialising
    out: list[tuple[int, UprightReference, str]] = []
    capture: UprightCapture | None = UprightCapture(settings=settings.capture)
    refiner: UprightRefiner | None = None
    slip: SlipDetector | None = None
    anchor: UprightReference | None = None  # as the engine's: the last reference not learned near another
    refining_near = False
    track_slips = settings.relearn_after_slip  # every reference here is automatic, so a slip means re-learning
    hint = _forward_hint(family)
    sample_rows = np.flatnonzero(is_sample)
    # Where only the slip detector runs (most of a day) it is fed in bulk (SlipDetector.feed_rows) from the
    # valid, settled rows: no TiltEstimate per row.
    settled = sample_rows[(valid & ~initialising)[sample_rows]]
    slip_rows: SlipRows | None = None  # gathered on first use
    pos = 0
    while pos < len(sample_rows):
        if capture is None and refiner is None and slip is not None:  # the slip detector alone: in bulk
            if slip_rows is None:
                slip_rows = SlipRows(t, series.up_tag, series.motion_energy, settled)
            k, event = slip.feed_rows(slip_rows, int(np.searchsorted(settled, sample_rows[pos])))
            if k == len(settled):
                break
            capture = relearn_capture(event, slip.pop_put_back(), anchor, settings)
            # the next capture starts on the next sample
            pos = int(np.searchsorted(sample_rows, settled[k], side="right"))
            continue
        i = int(sample_rows[pos])
        pos += 1
        est = series.estimate(i) if valid[i] else None
        t_i = float(t[i])
        if refiner is not None:
            refined = refiner.update(est, bool(still[i]), t_i)
            if refined is not None:
                out.append((i, refined, REFINED_HOW))
                slip = SlipDetector(refined) if track_slips else None
                if not refining_near:
                    anchor = refined
            if refiner.finished:
                refiner = None
        if capture is not None:
            capture.update(est, t_i)
            captured = capture.captured
            if captured is not None:
                refining_near = capture.near is not None
                capture = None
                ref = captured.reference(hint, t_i)
                if not refining_near:
                    anchor = ref
                out.append((i, ref, AUTO_HOW))
                slip = SlipDetector(ref) if track_slips else None
                refiner = UprightRefiner(ref, settings.refine) if settings.refine.still_s > 0.0 else None
        if slip is not None:
            if est is not None and not initialising[i]:
                # The old reference stays in use until the new capture completes; after a slip the detector keeps
                # its event, so it finds nothing more until then.
                event = slip.update(est)
                new_capture = relearn_capture(event, slip.pop_put_back(), anchor, settings)
                if new_capture is not None:
                    capture, refiner = new_capture, None
        elif capture is None and refiner is None:
            break
    return out


# ----------------------------------------------------------------------------------------------- analysis


def recording_engine_settings(
    settings: EngineSettings, metadata: RecordingMetadata
) -> tuple[EngineSettings, str | None]:
    """``settings`` with the accelerometer correction the recording was made with (its metadata's
    ``extra["accel_calibration"]``, written by a live session whose tag had a six-face calibration), so replay and
    analyze judge the same corrected angles the live session did. A recording without one (older files, tags
    never calibrated) gets ``settings`` unchanged.

    Returns:
        The settings, and a note for the user when the recorded correction cannot be read (it is then not used).
    """
    value = metadata.extra.get(RECORDING_KEY) if isinstance(metadata.extra, dict) else None
    if value is None:
        return settings, None
    try:
        calibration = accel_calibration_from_json(value)
    except ValueError as exc:
        return settings, f"the recording's accelerometer calibration is not usable ({exc}); raw readings are used"
    return with_accel_calibration(settings, calibration), None


def analyze_recording(
    path: str | Path,
    *,
    settings: EngineSettings | None = None,
    calibrate: tuple[float, float] | None = None,
    use_recorded_calibration: bool = True,
    timeline: bool = False,
    progress: Progress | None = None,
) -> AnalysisResult:
    """Analyse a recording (see the module docstring).

    Args:
        path: the ``.pbrec`` file.
        settings: engine settings (defaults: the config defaults); the accelerometer correction the recording
            carries (a tag's six-face calibration) is applied on top (:func:`recording_engine_settings`).
        calibrate: ``(start, end)`` seconds from the first sample: take the upright reference from this span.
        use_recorded_calibration: use the recording's own calibration(s) when no span is given.
        timeline: also return the per-row :class:`Timeline`.
        progress: progress callback.

    Raises:
        RecordingError: not a recording (the message says why). A damaged recording is read up to the damage,
            with a warning in :attr:`AnalysisResult.warnings`.
    """
    t0 = time.perf_counter()
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecordingDamageWarning)
        reader = open_recording(path)
    with reader, warnings.catch_warnings(record=True) as caught_more:
        warnings.simplefilter("always", RecordingDamageWarning)
        family_id = reader.metadata.tag_family
        settings, accel_note = recording_engine_settings(settings or EngineSettings(), reader.metadata)
        if accel_note is not None:
            notes.append(accel_note)
        try:
            family: TagFamily | None = get_family(family_id)
        except KeyError:
            family = None
            notes.append(f"unknown tag family {family_id!r}: its packets cannot be decoded")
        total = reader.packet_count()
        decoded = decode_items(reader.iter_stream(), family, total=total, progress=progress)
        calibrations = reader.calibrations() if use_recorded_calibration else []
    notes.extend(str(w.message) for w in [*caught, *caught_more] if issubclass(w.category, RecordingDamageWarning))
    refs: list[tuple[float, UprightReference]] = []
    for cal in calibrations:
        try:
            refs.append((cal.t_s, reference_from_record(cal.gravity_up_g, cal.forward_axis, decoded.family, cal.t_s)))
        except (CalibrationError, ValueError) as exc:
            notes.append(f"calibration at {cal.t_s:.3f} s not usable: {exc}")
    decode_s = time.perf_counter() - t0
    result = analyze_samples(
        decoded.arrays,
        family=decoded.family,
        settings=settings,
        calibrate=calibrate,
        references=refs,
        timeline=timeline,
        progress=progress,
        source=str(path),
        notes=notes,
        decode=decoded.stats,
    )
    result.stage_s["decode"] = decode_s
    return result


def analyze_samples(
    arrays: SampleArrays,
    *,
    family: TagFamily | None = None,
    settings: EngineSettings | None = None,
    reference: UprightReference | None = None,
    calibrate: tuple[float, float] | None = None,
    references: Sequence[tuple[float, UprightReference]] = (),
    capture_only: bool = False,
    timeline: bool = False,
    progress: Progress | None = None,
    source: str = "samples",
    notes: Sequence[str] = (),
    decode: DecodeStats | None = None,
) -> AnalysisResult:
    """Analyse sample arrays in batch; the same episodes and prompts as the streaming engine fed the same samples
    (with :func:`stream_events`'s ticks) and the same reference.

    Reference, first that applies: ``reference``; the ``calibrate`` span (seconds from the first sample);
    ``references`` (``(t_s, reference)`` pairs, e.g. a recording's calibrations: the first applies from the
    start, each later one from its time on); an automatic estimate (:func:`auto_upright` over still seated rows);
    what the live engine's capture would give (posture judged only from then on). ``capture_only`` skips
    straight to the capture, as a live session without a stored calibration does.
    """
    st = settings if settings is not None else EngineSettings()
    stage: dict[str, float] = {}
    notes_out = list(notes)
    clock = time.perf_counter()

    # Accepted samples, plus ticks through the pauses.
    t_all = np.asarray(arrays.t_s, dtype=np.float64)
    keep = accepted_rows(t_all)
    dropped = int(keep.shape[0] - np.count_nonzero(keep))
    if dropped:
        kept = np.flatnonzero(keep)
        t_samples = t_all[kept]
        sample_data = SampleArrays(
            t_samples, arrays.accel_g[kept], arrays.gyro_dps[kept], arrays.quat_wxyz[kept], arrays.gravity_g[kept]
        )
    else:  # nothing dropped (the usual case): no copies
        t_samples = t_all
        sample_data = SampleArrays(t_all, arrays.accel_g, arrays.gyro_dps, arrays.quat_wxyz, arrays.gravity_g)
    ticks = replay_ticks(t_samples)
    n_s = t_samples.shape[0]
    t_rows, is_sample, sample_pos = merge_rows(t_samples, ticks)
    n = t_rows.shape[0]
    # Orientation over the samples only (ticks carry nothing); expanded onto all rows below.
    tilt_s = estimate_tilt_batch(sample_data, st.orientation)
    spread = None if sample_pos is None else _Spread.of(sample_pos, n)
    tilt = _expand_tilt(tilt_s, spread, t_rows)
    accel_rows = _expand_rows(np.asarray(sample_data.accel_g, dtype=np.float64), spread, np.nan)
    if progress is not None:
        progress("orientation", 1.0)
    stage["orientation"] = time.perf_counter() - clock
    clock = time.perf_counter()

    activity = _activity_codes(t_rows, accel_rows, tilt, is_sample, st, progress)
    stage["activity"] = time.perf_counter() - clock
    clock = time.perf_counter()

    # Reference.
    ref_source = ReferenceSource.NONE
    note = ""
    segments: list[tuple[int, UprightReference]] = []  # (first row, reference)
    if reference is not None:
        segments = [(0, reference)]
        ref_source, note = ReferenceSource.GIVEN, "reference given by the caller"
    elif calibrate is not None and n_s:
        start, end = calibrate
        t0 = float(t_samples[0])
        try:
            ref = span_upright(tilt_s, t0 + start, t0 + end, _forward_hint(family) if family else None)
            segments = [(0, ref)]
            ref_source = ReferenceSource.SPAN
            note = f"upright averaged over {start:g}..{end:g} s from the start ({ref.spread_deg:.1f} deg spread)"
        except CalibrationError as exc:
            notes_out.append(f"--calibrate {start:g}:{end:g}: {exc}")
    if not segments and references and not capture_only:
        ordered = sorted(references, key=lambda r: r[0])
        segments = [(0, ordered[0][1])]
        for t_ref, ref in ordered[1:]:
            segments.append((int(np.searchsorted(t_rows, t_ref, side="left")), ref))
        ref_source = ReferenceSource.RECORDING
        note = f"{len(ordered)} calibration(s) stored in the recording"
    if not segments and not capture_only and n_s:
        still_seated = activity[is_sample] == ACTIVITIES.index(Activity.STILL)
        try:
            ref = auto_upright(tilt_s, _forward_hint(family) if family else None, mask=still_seated)
            segments = [(0, ref)]
            ref_source = ReferenceSource.AUTO
            note = (
                f"most common still seated posture: {ref.support:.0%} of still time within 5 deg of it; "
                "if you slouched most of the time it is your slouch, so prefer --calibrate"
            )
        except CalibrationError as exc:
            notes_out.append(f"automatic upright estimate failed: {exc}")
    if not segments:
        captured = _capture_reference(tilt, is_sample, st, family, activity == ACTIVITIES.index(Activity.STILL))
        if captured:
            segments = [(row, ref) for row, ref, _ in captured]
            ref_source = ReferenceSource.CAPTURE
            first, base, _ = captured[0]
            note = f"captured {base.duration_s:.0f} s of still sitting at {t_rows[first] - t_rows[0]:.0f} s"
            previous = base
            for row, ref, how in captured[1:]:
                at_s = t_rows[row] - t_rows[0]
                if how == REFINED_HOW:
                    note += f", refined by {ref.duration_s - base.duration_s:.0f} s of still sitting near it at "
                    note += f"{at_s:.0f} s ({_angle_between_deg(ref, base):.2f} deg)"
                else:  # a new capture: the tag had moved
                    note += f"; the tag moved, so re-learned from {ref.duration_s:.0f} s of still sitting at "
                    note += f"{at_s:.0f} s ({_angle_between_deg(ref, previous):.1f} deg from the one before)"
                    base = ref
                previous = ref

    if not segments:
        note = "no still seated posture found to use as upright"
    flexion = np.full(n, np.nan)
    lateral = np.full(n, np.nan)
    total = np.full(n, np.nan)
    usable = tilt.valid & ~tilt.initialising & is_sample
    for k, (first, ref) in enumerate(segments):
        last = segments[k + 1][0] if k + 1 < len(segments) else n
        sl = slice(first, last)
        ang = posture_angles_batch(tilt.up_tag[sl], ref)
        ok = usable[sl]
        # NaN where not usable: the arrays start all NaN and the segments do not overlap.
        np.copyto(flexion[sl], ang.flexion_deg, where=ok)
        np.copyto(lateral[sl], ang.lateral_deg, where=ok)
        np.copyto(total[sl], ang.total_deg, where=ok)
    has_angles = np.zeros(n, dtype=bool)
    if segments:
        has_angles[segments[0][0] :] = usable[segments[0][0] :]
    stage["reference"] = time.perf_counter() - clock
    clock = time.perf_counter()

    # Judging.
    judged = _judged_rows(t_rows, st.judge_period_s)
    # Every sample with a tilt passes its motion energy, with or without angles; ticks pass 0 (as the engine).
    energy = np.where(tilt.valid & is_sample, np.nan_to_num(tilt.motion_energy, nan=0.0), 0.0)
    events, instant, state, last_frame_episode = _judge(
        t_rows, judged, has_angles, flexion, lateral, total, activity, energy, st, progress
    )
    stage["judge"] = time.perf_counter() - clock

    # Summaries.
    jt = t_rows[judged]
    time_state = _time_in(jt, state, POSTURE_CLASSES, st.coach.max_step_s, PostureClass.AWAY.value)
    time_act = _time_in(jt, activity[judged], ACTIVITIES, st.coach.max_step_s, Activity.NO_DATA.value)
    episodes = _episodes(events, last_frame_episode)
    prompts = _prompts(events)
    breaks = _breaks(events)
    tl: Timeline | None = None
    if timeline:
        tl = Timeline(
            t_s=jt,
            flexion_deg=flexion[judged],
            lateral_deg=lateral[judged],
            instant=instant,
            state=state,
            activity=activity[judged],
            up_tag=tilt.up_tag[judged],
            motion_energy=energy[judged],
        )
    return AnalysisResult(
        source=source,
        family_id=family.family_id if family is not None else "",
        start_s=float(t_samples[0]) if n_s else math.nan,
        end_s=float(t_samples[-1]) if n_s else math.nan,
        samples=n_s,
        dropped_samples=dropped,
        reference=segments[0][1] if segments else None,
        reference_source=ref_source,
        reference_note=note,
        episodes=episodes,
        prompts=prompts,
        breaks=breaks,
        time_in_state_s=time_state,
        time_in_activity_s=time_act,
        events=tuple(events),
        decode=decode,
        warnings=tuple(notes_out),
        timeline=tl,
        stage_s=stage,
        references=tuple((float(t_rows[first]), ref) for first, ref in segments),
    )


def merge_rows(t_samples: FloatArray, ticks: FloatArray) -> tuple[FloatArray, BoolArray, npt.NDArray[np.intp] | None]:
    """Merge non-decreasing sample times and non-decreasing tick times into one time line, samples first on ties
    (the order of a stable sort of ``concatenate((t_samples, ticks))``).

    Returns:
        ``(t_rows, is_sample, sample_pos)``: the merged times, shape (N + K,); which rows are samples; the row of
        each sample, shape (N,), or ``None`` when there are no ticks (row ``i`` is sample ``i``).
    """
    n_s, n_k = t_samples.shape[0], ticks.shape[0]
    if n_k == 0:
        return t_samples, np.ones(n_s, dtype=bool), None
    # Tick k lands after the k ticks before it and the samples at or before it; the samples fill the other rows,
    # in order.
    tick_pos = np.arange(n_k) + np.searchsorted(t_samples, ticks, side="right")
    is_sample = np.ones(n_s + n_k, dtype=bool)
    is_sample[tick_pos] = False
    sample_pos = np.flatnonzero(is_sample)
    t_rows = np.empty(n_s + n_k)
    t_rows[tick_pos] = ticks
    t_rows[sample_pos] = t_samples
    return t_rows, is_sample, sample_pos


@dataclass(frozen=True, slots=True)
class _Spread:
    """Where the samples lie among the rows of a merged time line (:func:`merge_rows`), as runs of consecutive
    rows: per-sample arrays are spread onto the rows with a few slice copies instead of a scatter.

    Attributes:
        n: rows.
        copies: ``(first row, first sample, end sample)`` of each run of samples.
        fills: ``(first row, end row)`` of each run of ticks.
    """

    n: int
    copies: tuple[tuple[int, int, int], ...]
    fills: tuple[tuple[int, int], ...]

    @staticmethod
    def of(sample_pos: npt.NDArray[np.intp], n: int) -> _Spread:
        """From the row of each sample (sorted), out of ``n`` rows."""
        n_s = sample_pos.shape[0]
        breaks = (np.flatnonzero(np.diff(sample_pos) > 1) + 1).tolist()
        starts = [0, *breaks]
        ends = [*breaks, n_s]
        copies = tuple((int(sample_pos[a]), a, b) for a, b in zip(starts, ends, strict=True) if b > a)
        fills: list[tuple[int, int]] = []
        row = 0
        for first, a, b in copies:
            if first > row:
                fills.append((row, first))
            row = first + (b - a)
        if row < n:
            fills.append((row, n))
        return _Spread(n, copies, tuple(fills))


def _expand_rows(values: npt.NDArray[_G], spread: _Spread | None, fill: float | bool) -> npt.NDArray[_G]:
    """Per-sample ``values`` onto all rows (``fill`` on tick rows); ``values`` itself without ticks."""
    if spread is None:
        return values
    out: npt.NDArray[_G] = np.empty((spread.n, *values.shape[1:]), dtype=values.dtype)
    for first, a, b in spread.copies:
        out[first : first + (b - a)] = values[a:b]
    for a, b in spread.fills:
        out[a:b] = fill
    return out


def _expand_tilt(tilt: TiltSeries, spread: _Spread | None, t_rows: FloatArray) -> TiltSeries:
    """The samples' tilt series on all rows (tick rows: no tilt, as the engine passes none on a tick).

    ``spread``: where the samples lie among the rows (``None``: no ticks, the rows are the samples)."""
    return TiltSeries(
        t_s=t_rows,
        valid=_expand_rows(tilt.valid, spread, False),
        up_tag=_expand_rows(tilt.up_tag, spread, np.nan),
        source=_expand_rows(tilt.source, spread, -1),
        motion_energy=_expand_rows(tilt.motion_energy, spread, np.nan),
        motion_g=_expand_rows(tilt.motion_g, spread, np.nan),
        rotation_dps=_expand_rows(tilt.rotation_dps, spread, np.nan),
        accel_rejected=_expand_rows(tilt.accel_rejected, spread, False),
        recovering=_expand_rows(tilt.recovering, spread, False),
        initialising=_expand_rows(tilt.initialising, spread, False),
        restarted=_expand_rows(tilt.restarted, spread, False),
    )


def _activity_codes(
    t_rows: FloatArray,
    acc: FloatArray,
    tilt: TiltSeries,
    is_sample: BoolArray,
    st: EngineSettings,
    progress: Progress | None,
    compiled: bool = True,
) -> npt.NDArray[np.int8]:
    """The activity classifier over every row (ticks included), as the engine runs it.

    Rows are checked here as :meth:`ActivityClassifier.step` checks them (an accelerometer row is used if finite
    and not zero: the same IEEE operations elementwise as the scalar check). With numba installed (and
    ``compiled``), :func:`~posturebuddy.motion.activity.activity_codes_compiled` runs the state machine over the
    arrays in one call; otherwise :meth:`ActivityClassifier.run_codes` in chunks. Both give the same codes."""
    n = t_rows.shape[0]
    sq = acc[:, 0] * acc[:, 0] + acc[:, 1] * acc[:, 1] + acc[:, 2] * acc[:, 2]
    with np.errstate(invalid="ignore"):
        has_acc = np.all(np.isfinite(acc), axis=1) & (sq >= 1e-12) & is_sample
    has_up = tilt.valid & is_sample
    oriented_mask = oriented_rows(tilt) & has_up
    if compiled:
        fast = activity_codes_compiled(t_rows, acc, has_acc, tilt.up_tag, has_up, oriented_mask, st.activity)
        if fast is not None:
            if progress is not None:
                progress("activity", 1.0)
            return fast
    clf = ActivityClassifier(st.activity)
    acc_list: list[tuple[float, float, float] | None] = list(map(tuple, acc.tolist()))
    up_list: list[tuple[float, float, float] | None] = list(map(tuple, tilt.up_tag.tolist()))
    for i in np.flatnonzero(~has_acc).tolist():
        acc_list[i] = None
    for i in np.flatnonzero(~has_up).tolist():
        up_list[i] = None
    oriented = oriented_mask.tolist()
    times = t_rows.tolist()
    codes = np.empty(n, dtype=np.int8)
    chunk = 65536
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        codes[c0:c1] = clf.run_codes(times[c0:c1], acc_list[c0:c1], up_list[c0:c1], oriented[c0:c1])
        if progress is not None:
            progress("activity", c1 / max(n, 1))
    return codes


def _judged_rows(t_rows: FloatArray, period_s: float) -> BoolArray:
    """Rows the engine judges: the first of each ``period_s`` bin (every row when ``period_s`` is 0)."""
    n = t_rows.shape[0]
    if period_s <= 0.0:
        return np.ones(n, dtype=bool)
    bins = np.floor(t_rows / period_s)
    judged = np.ones(n, dtype=bool)
    judged[1:] = bins[1:] > bins[:-1]
    return judged


def _judge(
    t_rows: FloatArray,
    judged: BoolArray,
    has_angles: BoolArray,
    flexion: FloatArray,
    lateral: FloatArray,
    total: FloatArray,
    activity: npt.NDArray[np.int8],
    energy: FloatArray,
    st: EngineSettings,
    progress: Progress | None,
    skip_quiet: bool = True,
) -> tuple[list[Event], npt.NDArray[np.int8], npt.NDArray[np.int8], Episode | None]:
    """The detector and the coach over the judged rows, as the engine runs them: events, instantaneous and
    sustained class codes per judged row, and the episode still open at the end.

    With ``skip_quiet`` (default), runs of quiet rows (still sitting upright, see :func:`_quiet_rows`) met while
    both are settled (:meth:`PostureDetector.settled_upright`, :meth:`Coach.settled_sitting`) are jumped over
    (:meth:`PostureDetector.skip_upright`, :meth:`Coach.skip_sitting`) instead of stepped through one by one: the
    same state, the same (no) events; ``tests/session/test_judge_fast.py`` compares both ways."""
    detector = PostureDetector(st.detector)
    coach = Coach(st.coach, utc_offset_s=st.utc_offset_s)
    idx = np.flatnonzero(judged)
    m = idx.shape[0]
    events: list[Event] = []
    ok = has_angles[idx]
    # No usable angles: NaN flexion and lateral, which the detector takes as ``angles=None``.
    t_j = t_rows[idx]
    f_j = np.where(ok, flexion[idx], np.nan)
    la_j = np.where(ok, lateral[idx], np.nan)
    to_j = np.where(ok, total[idx], np.nan)
    act_j = activity[idx]
    en_j = energy[idx]
    ts = t_j.tolist()
    fl = f_j.tolist()
    la = la_j.tolist()
    to = to_j.tolist()
    acts = [ACTIVITIES[c] for c in act_j.tolist()]
    en = en_j.tolist()
    if skip_quiet and m > 1:
        quiet = _quiet_rows(t_j, f_j, la_j, to_j, act_j, en_j, st)
        not_quiet = np.append(np.flatnonzero(~quiet), m)
        run_end = not_quiet[np.searchsorted(not_quiet, np.arange(m))].tolist()  # end of each row's quiet run
        quiet_l = quiet.tolist()
        steps = np.empty(m)
        steps[0] = 0.0
        np.subtract(t_j[1:], t_j[:-1], out=steps[1:])  # the coach's time step at each row, seconds
    else:
        quiet_l = [False] * m
        run_end = []
        steps = np.zeros(m)
    code_of = {p: i for i, p in enumerate(POSTURE_CLASSES)}
    instants: list[PostureClass] = [PostureClass.AWAY] * m
    states: list[PostureClass] = [PostureClass.AWAY] * m
    d_step = detector.step
    c_step = coach.step
    open_episode = detector.open_episode
    settled_upright = detector.settled_upright
    settled_sitting = coach.settled_sitting
    moving, away, upright = PostureClass.MOVING, PostureClass.AWAY, PostureClass.UPRIGHT
    state = detector.state
    chunk = 65536
    next_report = chunk
    j = 0
    while j < m:
        if quiet_l[j] and j > 0 and settled_upright():
            sitting = settled_sitting()
            if sitting is not None and sitting[0] < sitting[1]:
                e = run_end[j]
                # Sitting time after each row of the run, added in order as the coach adds it.
                clock = np.add.accumulate(np.concatenate(([sitting[0]], steps[j:e])))[1:]
                n_skip = int(np.argmax(clock >= sitting[1])) if clock[-1] >= sitting[1] else e - j
                if n_skip > 0:
                    last = j + n_skip - 1
                    detector.skip_upright(ts[last], fl[last], la[last])
                    coach.skip_sitting(ts[last], float(clock[n_skip - 1]))
                    instants[j : last + 1] = [upright] * n_skip
                    states[j : last + 1] = [upright] * n_skip  # settled upright: the state is upright
                    j = last + 1
                    continue
        t = ts[j]
        act = acts[j]
        k = len(events)
        # The detector's and then the coach's events go straight into ``events``, in the engine's order.
        instant = d_step(t, fl[j], la[j], to[j], act, en[j], events)
        if len(events) > k:
            c_step(t, act, instant, instant is not moving and instant is not away, events[k:], open_episode, events)
            state = detector.state  # the state changes only with a detector event (PostureChanged)
        else:
            c_step(t, act, instant, instant is not moving and instant is not away, (), open_episode, events)
        instants[j] = instant
        states[j] = state
        j += 1
        if progress is not None and j >= next_report:
            progress("judge", j / m)
            next_report += chunk
    if progress is not None:
        progress("judge", 1.0)
    instant_codes = np.fromiter((code_of[p] for p in instants), dtype=np.int8, count=m)
    state_codes = np.fromiter((code_of[p] for p in states), dtype=np.int8, count=m)
    return events, instant_codes, state_codes, open_episode() if m else None


def _quiet_rows(
    t: FloatArray,
    flexion: FloatArray,
    lateral: FloatArray,
    total: FloatArray,
    activity: npt.NDArray[np.int8],
    energy: FloatArray,
    st: EngineSettings,
) -> BoolArray:
    """Judged rows (shape (M,)) that change nothing but the clocks of a settled detector and coach (see
    :meth:`PostureDetector.settled_upright` and :meth:`Coach.settled_sitting`): activity ``still``; finite angles,
    degrees, inside ``off_body_deg``, that classify upright from the neutral level with no hysteresis; motion
    energy below ``moving_energy`` (or NaN, which counts as 0); finite time at most ``max_step_s`` after the
    previous row. The comparisons are the detector's and the coach's own, on the same float values."""
    d = st.detector
    limit = d.off_body_deg
    quiet: BoolArray = activity == ACTIVITIES.index(Activity.STILL)
    with np.errstate(invalid="ignore"):
        quiet &= np.isfinite(flexion) & np.isfinite(lateral)
        quiet &= (np.abs(flexion) < limit) & (np.abs(lateral) < limit) & ~(total >= limit)
        quiet &= ~(energy >= d.moving_energy)
        quiet &= ~(flexion >= d.slouch_deg) & ~(flexion >= d.forward_head_deg) & ~(flexion <= -d.lean_back_deg)
        quiet &= ~(np.abs(lateral) >= d.side_lean_deg)
        quiet &= np.isfinite(t)
        quiet[1:] &= (t[1:] >= t[:-1]) & ~(t[1:] - t[:-1] > st.coach.max_step_s)
    quiet[:1] = False
    return quiet


def _time_in(
    t: FloatArray, code: npt.NDArray[np.int8], names: Sequence[object], max_step_s: float, gap_name: str
) -> dict[str, float]:
    """Seconds per code between consecutive rows (a step longer than ``max_step_s`` counts as ``gap_name``)."""
    out = {str(getattr(name, "value", name)): 0.0 for name in names}
    if t.shape[0] < 2:
        return out
    dt = np.diff(t)
    long = dt > max_step_s
    sums = np.bincount(code[:-1][~long].astype(np.intp), weights=dt[~long], minlength=len(names))
    for i, name in enumerate(names):
        out[str(getattr(name, "value", name))] = float(sums[i])
    out[gap_name] += float(np.sum(dt[long]))
    return out


def _episodes(events: Sequence[Event], open_episode: Episode | None) -> tuple[Episode, ...]:
    done = [e.episode for e in events if isinstance(e, EpisodeEnded)]
    if open_episode is not None:
        done.append(open_episode)
    return tuple(sorted(done, key=lambda ep: (ep.start_s, ep.confirmed_s)))


def _prompts(events: Sequence[Event]) -> tuple[PromptSummary, ...]:
    raised: dict[int, Prompt] = {}
    closed: dict[int, tuple[PromptOutcome, float]] = {}
    for e in events:
        if isinstance(e, PromptRaised):
            raised[e.prompt.prompt_id] = e.prompt
        elif isinstance(e, PromptAnswered):
            closed[e.prompt_id] = (e.outcome, e.t_s)
    out = []
    for pid, prompt in raised.items():
        outcome, at = closed.get(pid, (None, None))
        out.append(PromptSummary(prompt, outcome, at))
    return tuple(out)


def _breaks(events: Sequence[Event]) -> tuple[BreakSummary, ...]:
    out: list[BreakSummary] = []
    current: dict[str, object] | None = None
    for e in events:
        if isinstance(e, BreakStarted):
            current = {"start": e.start_s, "kind": e.kind, "started": e.t_s, "credited": None}
        elif isinstance(e, BreakCredited) and current is not None:
            current["credited"] = e.t_s
        elif isinstance(e, BreakEnded) and current is not None:
            out.append(_break(current, e.start_s + e.duration_s))
            current = None
    if current is not None:
        out.append(_break(current, None))
    return tuple(out)


def _break(d: dict[str, object], end: float | None) -> BreakSummary:
    start, kind, started, credited = d["start"], d["kind"], d["started"], d["credited"]
    assert isinstance(start, float)
    assert isinstance(kind, BreakKind)
    assert isinstance(started, float)
    assert credited is None or isinstance(credited, float)
    return BreakSummary(start, kind, started, credited, end)


def write_timeline_csv(timeline: Timeline, path: str | Path) -> int:
    """Write :data:`TIMELINE_COLUMNS` rows (class and activity names, not codes); returns the number of rows."""
    names_p = [p.value for p in POSTURE_CLASSES]
    names_a = [a.value for a in ACTIVITIES]
    n = len(timeline)
    up = timeline.up_tag

    def fmt(values: FloatArray, digits: int) -> list[str]:
        return ["" if not math.isfinite(v) else f"{v:.{digits}f}" for v in values.tolist()]

    cols = [
        fmt(timeline.t_s, 3),
        fmt(timeline.flexion_deg, 2),
        fmt(timeline.lateral_deg, 2),
        [names_p[c] for c in timeline.instant.tolist()],
        [names_p[c] for c in timeline.state.tolist()],
        [names_a[c] for c in timeline.activity.tolist()],
        fmt(up[:, 0], 5),
        fmt(up[:, 1], 5),
        fmt(up[:, 2], 5),
        fmt(timeline.motion_energy, 3),
    ]
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(TIMELINE_COLUMNS) + "\n")
        fh.writelines(",".join(row) + "\n" for row in zip(*cols, strict=True))
    return n
