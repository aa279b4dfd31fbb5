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

import numpy as np
import numpy.typing as npt

from posturebuddy.devices import TagFamily, get_family
from posturebuddy.model import (
    Activity,
    PostureAngles,
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
from posturebuddy.session.decoding import DecodeStats, PacketDecoder, SampleBatch
from posturebuddy.session.engine import (
    DEFAULT_FORWARD_HINT,
    REPLAY_TICK_PERIOD_S,
    EngineSettings,
    PostureEngine,
    pause_ticks,
)
from posturebuddy.session.recording import RecordingDamageWarning, open_recording

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


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
        arrays: the samples (in arrival order, all of them).
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
    for k, item in enumerate(items):
        if char is not None and type(item) is RawPacket and item.char_uuid.lower() == char:
            run.append(item)
            if len(run) >= BATCH_RUN:
                flush_run()
        else:
            flush_run()
            feed_one(item)
            if vectorised and isinstance(item, StreamStarted):
                char = decoder.batch_characteristic()
        if progress is not None and total and k % step == 0:
            progress("decode", k / total)
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

    def column(name: str, width: int) -> FloatArray | None:
        values = [getattr(c, name) for c in chunks]
        if all(v is None for v in values):
            return None
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


def _capture_reference(
    series: TiltSeries,
    is_sample: BoolArray,
    settings: EngineSettings,
    family: TagFamily | None,
    still: BoolArray,
) -> list[tuple[int, UprightReference]]:
    """What the live engine's automatic capture would give: ``(row, reference)`` for the row the capture completes
    on and, if the refinement completes, for the row of the refined reference (``still``: rows the activity stage
    calls still). Runs the engine's own :class:`UprightCapture` and :class:`UprightRefiner` over the rows, in the
    engine's order (the refiner is fed from the sample after the capture)."""
    capture = UprightCapture(settings=settings.capture)
    t = series.t_s
    valid = series.valid
    rows = np.flatnonzero(is_sample).tolist()
    out: list[tuple[int, UprightReference]] = []
    refiner: UprightRefiner | None = None
    still_l = still.tolist()
    for k, i in enumerate(rows):
        est = series.estimate(i) if valid[i] else None
        capture.update(est, float(t[i]))
        captured = capture.captured
        if captured is not None:
            ref = UprightReference.create(
                captured.up_tag,
                usable_forward_hint(captured.up_tag, _forward_hint(family)),
                t_s=float(t[i]),
                method=CalibrationMethod.CAPTURE,
                forward_method=ForwardMethod.MOUNTING,
                spread_deg=captured.spread_deg,
                duration_s=captured.duration_s,
            )
            out.append((i, ref))
            if settings.refine.still_s > 0.0:
                refiner = UprightRefiner(ref, settings.refine)
            rest = rows[k + 1 :]
            break
    else:
        return out
    if refiner is None:
        return out
    for i in rest:
        est = series.estimate(i) if valid[i] else None
        refined = refiner.update(est, still_l[i], float(t[i]))
        if refined is not None:
            out.append((i, refined))
        if refiner.finished:
            break
    return out


# ----------------------------------------------------------------------------------------------- analysis


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
        settings: engine settings (defaults: the config defaults).
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
    dropped = int(np.count_nonzero(~keep))
    t_samples = t_all[keep]
    ticks = replay_ticks(t_samples)
    n_s, n_k = t_samples.shape[0], ticks.shape[0]
    n = n_s + n_k
    # Merge: a tick lies strictly between two samples, so a stable sort by time keeps samples first on ties.
    t_rows = np.concatenate((t_samples, ticks))
    order = np.argsort(t_rows, kind="stable")
    t_rows = t_rows[order]
    is_sample = order < n_s
    src = np.where(is_sample, order, 0)

    def rows(values: FloatArray) -> FloatArray:
        out = np.full((n, values.shape[1]), np.nan)
        out[is_sample] = values[keep][src[is_sample]]
        return out

    merged = SampleArrays(
        t_rows, rows(arrays.accel_g), rows(arrays.gyro_dps), rows(arrays.quat_wxyz), rows(arrays.gravity_g)
    )
    # Orientation over the samples only (ticks carry nothing); expanded onto all rows below.
    sample_data = SampleArrays(
        t_samples, arrays.accel_g[keep], arrays.gyro_dps[keep], arrays.quat_wxyz[keep], arrays.gravity_g[keep]
    )
    tilt_s = estimate_tilt_batch(sample_data, st.orientation)
    tilt = _expand_tilt(tilt_s, is_sample, src, t_rows)
    if progress is not None:
        progress("orientation", 1.0)
    stage["orientation"] = time.perf_counter() - clock
    clock = time.perf_counter()

    activity = _activity_codes(merged, tilt, is_sample, st, progress)
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
            segments = captured
            ref_source = ReferenceSource.CAPTURE
            first, ref0 = captured[0]
            note = f"captured {ref0.duration_s:.0f} s of still sitting at {t_rows[first] - t_rows[0]:.0f} s"
            if len(captured) > 1:
                row, refined = captured[1]
                moved = math.degrees(math.acos(max(-1.0, min(1.0, float(np.dot(refined.up_tag, ref0.up_tag))))))
                note += f", refined by {refined.duration_s - ref0.duration_s:.0f} s of still sitting near it at "
                note += f"{t_rows[row] - t_rows[0]:.0f} s ({moved:.2f} deg)"

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
        flexion[sl] = np.where(ok, ang.flexion_deg, np.nan)
        lateral[sl] = np.where(ok, ang.lateral_deg, np.nan)
        total[sl] = np.where(ok, ang.total_deg, np.nan)
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
    )


def _expand_tilt(tilt: TiltSeries, is_sample: BoolArray, src: npt.NDArray[np.intp], t_rows: FloatArray) -> TiltSeries:
    """The samples' tilt series on all rows (tick rows: no tilt, as the engine passes none on a tick)."""
    n = t_rows.shape[0]

    def put(values: npt.NDArray[np.generic], fill: object) -> npt.NDArray[np.generic]:
        shape = (n, *values.shape[1:])
        out = np.full(shape, fill, dtype=values.dtype)
        out[is_sample] = values[src[is_sample]]
        return out

    return TiltSeries(
        t_s=t_rows,
        valid=put(tilt.valid, False).astype(bool),
        up_tag=put(tilt.up_tag, np.nan).astype(np.float64),
        source=put(tilt.source, -1).astype(np.intp),
        motion_energy=put(tilt.motion_energy, np.nan).astype(np.float64),
        motion_g=put(tilt.motion_g, np.nan).astype(np.float64),
        rotation_dps=put(tilt.rotation_dps, np.nan).astype(np.float64),
        accel_rejected=put(tilt.accel_rejected, False).astype(bool),
        recovering=put(tilt.recovering, False).astype(bool),
        initialising=put(tilt.initialising, False).astype(bool),
        restarted=put(tilt.restarted, False).astype(bool),
    )


def _activity_codes(
    data: SampleArrays,
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
    n = data.t_s.shape[0]
    acc = data.accel_g
    sq = acc[:, 0] * acc[:, 0] + acc[:, 1] * acc[:, 1] + acc[:, 2] * acc[:, 2]
    with np.errstate(invalid="ignore"):
        has_acc = np.all(np.isfinite(acc), axis=1) & (sq >= 1e-12) & is_sample
    has_up = tilt.valid & is_sample
    oriented_mask = oriented_rows(tilt) & has_up
    if compiled:
        fast = activity_codes_compiled(data.t_s, acc, has_acc, tilt.up_tag, has_up, oriented_mask, st.activity)
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
    times = data.t_s.tolist()
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
) -> tuple[list[Event], npt.NDArray[np.int8], npt.NDArray[np.int8], Episode | None]:
    detector = PostureDetector(st.detector)
    coach = Coach(st.coach, utc_offset_s=st.utc_offset_s)
    idx = np.flatnonzero(judged)
    m = idx.shape[0]
    instant = np.empty(m, dtype=np.int8)
    state = np.empty(m, dtype=np.int8)
    events: list[Event] = []
    ts = t_rows[idx].tolist()
    ok = has_angles[idx].tolist()
    fl = flexion[idx].tolist()
    la = lateral[idx].tolist()
    to = total[idx].tolist()
    acts = [ACTIVITIES[c] for c in activity[idx].tolist()]
    en = energy[idx].tolist()
    code_of = {p: i for i, p in enumerate(POSTURE_CLASSES)}
    d_update = detector.update
    c_update = coach.update
    chunk = 65536
    frame = None
    for c0 in range(0, m, chunk):
        c1 = min(m, c0 + chunk)
        for j in range(c0, c1):
            t = ts[j]
            angles = PostureAngles(t, fl[j], la[j], to[j]) if ok[j] else None
            act = acts[j]
            frame = d_update(t, angles, act, en[j])
            if frame.events:
                events.extend(frame.events)
            out = c_update(t, frame, act)
            if out:
                events.extend(out)
            instant[j] = code_of[frame.instant]
            state[j] = code_of[frame.state]
        if progress is not None:
            progress("judge", c1 / max(m, 1))
    open_episode = frame.episode if frame is not None else None
    return events, instant, state, open_episode


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
