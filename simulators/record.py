"""Headless recording: a simulated session written as a PostureBuddy recording, much faster than real time.

``python -m simulators record`` lands here. The wearer is simulated (:func:`simulators.wearer.simulate`), then
the family's virtual tag runs **offline** (:meth:`~simulators.tags.base.VirtualTag.run_offline`): no radio, a
simulated clock, and the same code that produces frames over BLE (``take_sample`` / ``send_frames``, the
family encoders, WitMotion's re-framing, the PostureBuddy Tag's ``seq`` / ``time_ms`` / status flags). A
scripted host does what the link supervisor does after connecting:

1. read the family's ``info_uuid`` once (the PostureBuddy Tag's device information),
2. enable notifications on ``notify_uuids``, then write ``start_commands()`` and ``rate_commands(rate)``,
3. write ``poll_commands()`` every ``poll_period_s`` (WitMotion register reads: the tag answers ``55 71``),
4. read ``battery_uuid`` right away and every :data:`BATTERY_READ_PERIOD_S` (the link's default),

and every notification or read reply becomes a :class:`~posturebuddy.model.RawPacket` at host time
``start epoch + tag time``. While the wearer is out of radio range the tag sends nothing and the host's reads
and polls are skipped (no reply could arrive). The ground truth is written next to the packets as truth
segments (see :func:`truth_segments`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import math
import time
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from posturebuddy.devices import GattWrite, TagFamily, get_family
from posturebuddy.model import RawPacket
from posturebuddy.session.recording import (
    RecordingMetadata,
    RecordingWriter,
    SourceKind,
    TruthKind,
    TruthSegment,
)
from simulators.ble.peripheral import AttError
from simulators.tags import TAG_CLASSES, VirtualTag, make_virtual_tag
from simulators.wearer import SensorErrors, SimulatedRecording, load_scenario, simulate
from simulators.wearer.scenario import Scenario

__all__ = [
    "BATTERY_READ_PERIOD_S",
    "BEHAVIOUR_KIND",
    "MOTION_KIND",
    "OUT_OF_RANGE_LABEL",
    "RecordResult",
    "host_clock",
    "iter_packet_batches",
    "record",
    "simulate_for",
    "truth_segments",
    "virtual_address",
]

BATTERY_READ_PERIOD_S = 300.0
"""Seconds between battery reads: the link supervisor's default ``battery_poll_s``."""
BEHAVIOUR_KIND = "behaviour"
"""Truth kind of the scenario's resolved timeline segments (label: the behaviour kind, data: its parameters)."""
MOTION_KIND = "motion"
"""Truth kind of transient motions inside segments (fidget, reach, weight_shift, handling)."""
OUT_OF_RANGE_LABEL = "out_of_range"
"""Label of the ``link`` truth segments where the wearer is out of radio range (no packets)."""

_BATCH_SAMPLES = 4096
_WRITER_MAX_PENDING = 65536
_WRITER_FLUSH_S = 30.0

Progress = Callable[[float], None]
"""Called now and then with the simulated seconds done so far."""


def virtual_address(device: str, scenario: str, seed: int) -> str:
    """A static random address for a recorded tag, stable for the same device, scenario and seed."""
    prefix = getattr(TAG_CLASSES.get(device), "address_prefix", 0xF0)
    digest = zlib.crc32(f"{device}/{scenario}/{seed}".encode()).to_bytes(4, "big")
    return f"{prefix:02X}:5A:" + ":".join(f"{b:02X}" for b in digest)


def simulate_for(
    scenario: str | Scenario,
    device: str,
    *,
    rate_hz: float | None = None,
    seed: int | None = None,
    duration_s: float | None = None,
    start_epoch_s: float | None = None,
    sensor_errors: SensorErrors | None = None,
) -> SimulatedRecording:
    """Simulate ``scenario`` for ``device`` at ``rate_hz`` (default: the family's default rate).

    ``start_epoch_s`` moves the scenario's calendar start (the motion does not depend on it).
    ``sensor_errors`` imposes the tag's constant errors (e.g. ``other.sensor_errors``: a second recording with
    the same physical tag); see :func:`simulators.wearer.simulate`.

    Raises:
        KeyError: unknown device family.
        FileNotFoundError: unknown scenario.
    """
    family = get_family(device)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if start_epoch_s is not None:
        sc = dataclasses.replace(sc, start_epoch_s=float(start_epoch_s))
    rate = family.default_rate_hz if rate_hz is None else float(rate_hz)
    return simulate(sc, device=device, rate_hz=rate, seed=seed, duration_s=duration_s, sensor_errors=sensor_errors)


# -- packets -----------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Schedule:
    """The scripted host's periodic work, in simulated seconds since power-on."""

    poll_s: float
    battery_s: float
    poll_period_s: float
    battery_period_s: float


async def _write_all(tag: VirtualTag, family: TagFamily, writes: Sequence[GattWrite]) -> None:
    for write in writes:
        try:
            await tag.offline_write(write.char_uuid, write.data)
        except AttError as error:
            raise RuntimeError(
                f"the virtual {family.display_name} rejected {write.data.hex(' ')} on {write.char_uuid} "
                f"(ATT 0x{error.code:02X}): the family's commands and the virtual tag disagree"
            ) from error


async def iter_packet_batches(
    recording: SimulatedRecording,
    device: str,
    *,
    name: str | None = None,
    address: str | None = None,
    battery_period_s: float = BATTERY_READ_PERIOD_S,
    progress: Progress | None = None,
    on_tag: Callable[[VirtualTag], None] | None = None,
) -> AsyncGenerator[list[RawPacket], None]:
    """The packets a host would receive from the virtual ``device`` tag playing ``recording``, in batches.

    Run inside an event loop (WitMotion's register replies are tasks). Host times are the recording's start
    epoch plus the tag's simulated time. ``on_tag`` sees the tag once it is set up (its rate, name, address).
    """
    family = get_family(device)
    tag = make_virtual_tag(device, recording, name=name, address=address, loop=False)
    tag.run_offline(family.notify_uuids)
    epoch = float(recording.t_true_s[0])
    batch: list[RawPacket] = []

    def collect(t_s: float) -> None:
        host = epoch + t_s
        batch.extend(RawPacket(host, uuid, payload) for uuid, payload in tag.take_outbox())

    def read(t_s: float, uuid: str | None) -> None:
        if uuid is not None:
            batch.append(RawPacket(epoch + t_s, uuid.lower(), tag.offline_read(uuid)))

    def in_range(t_s: float) -> bool:
        index = tag.index_at(t_s)
        return index is not None and tag.is_present(index)

    # Connection set-up, as the link supervisor does it (all at t = 0).
    tag.set_offline_time(0.0)
    read(0.0, family.info_uuid)
    streaming = tag.streaming_wanted()
    if streaming:
        tag.on_stream_started()
    await _write_all(tag, family, family.start_commands())
    await _write_all(tag, family, family.rate_commands(recording.rate_hz))
    if tag.streaming_wanted() and not streaming:
        tag.on_stream_started()
    collect(0.0)
    if on_tag is not None:
        on_tag(tag)
    polls = family.poll_commands() if family.poll_period_s > 0 else []
    schedule = _Schedule(
        poll_s=0.0 if polls else math.inf,
        battery_s=0.0 if family.battery_uuid is not None else math.inf,
        poll_period_s=family.poll_period_s,
        battery_period_s=battery_period_s,
    )
    t = 0.0
    count = 0
    while True:
        while schedule.poll_s <= t or schedule.battery_s <= t:
            if schedule.poll_s <= schedule.battery_s:
                event_t, schedule.poll_s = schedule.poll_s, schedule.poll_s + schedule.poll_period_s
                if in_range(event_t):
                    tag.set_offline_time(event_t)
                    await _write_all(tag, family, polls)
                    collect(event_t)
            else:
                event_t, schedule.battery_s = schedule.battery_s, schedule.battery_s + schedule.battery_period_s
                if in_range(event_t):
                    tag.set_offline_time(event_t)
                    read(event_t, family.battery_uuid)
        tag.set_offline_time(t)
        frames = tag.take_sample(t)
        if frames is None:
            break
        if frames:
            await tag.send_frames(frames)
            collect(t)
        t += 1.0 / tag.rate_hz
        count += 1
        if count % _BATCH_SAMPLES == 0:
            if progress is not None:
                progress(t)
            yield batch
            batch = []
    if progress is not None:
        progress(t)
    if batch:
        yield batch


# -- ground truth ------------------------------------------------------------------------------------------------


def collect_packets(recording: SimulatedRecording, device: str) -> list[RawPacket]:
    """Every packet of :func:`iter_packet_batches` in one list (runs its own event loop: call it outside one)."""

    async def collect() -> list[RawPacket]:
        out: list[RawPacket] = []
        async for batch in iter_packet_batches(recording, device):
            out.extend(batch)
        return out

    return asyncio.run(collect())


def host_clock(recording: SimulatedRecording) -> Callable[[float], float]:
    """Maps a time on the recording's ``t_s`` clock (the truth's) to host time (``t_host_s`` of the packets).

    The wearer model keeps its truth on the tag's drifting clock (``t_s = start + tau * scale``); the virtual
    tag and the host run on true time (``start + tau``), so truth times are rescaled about the start.
    """
    t_s = np.asarray(recording.t_s, dtype=np.float64)
    t_true = np.asarray(recording.t_true_s, dtype=np.float64)
    start_s, start_true = float(t_s[0]), float(t_true[0])
    span = float(t_s[-1] - t_s[0])
    scale = float(t_true[-1] - t_true[0]) / span if span > 0 else 1.0

    def to_host(value: float) -> float:
        return start_true + (value - start_s) * scale

    return to_host


def _runs(codes: npt.NDArray[np.integer]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    edges = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate(([0], edges)).astype(np.intp)
    ends = np.concatenate((edges, [codes.shape[0]])).astype(np.intp)
    return starts, ends


def _mean_by_run(values: npt.NDArray[np.float64], starts: npt.NDArray[np.intp]) -> list[float | None]:
    finite = np.isfinite(values)
    sums = np.add.reduceat(np.where(finite, values, 0.0), starts)
    counts = np.add.reduceat(finite.astype(np.int64), starts)
    return [round(float(s / c), 3) if c else None for s, c in zip(sums.tolist(), counts.tolist(), strict=True)]


def truth_segments(recording: SimulatedRecording) -> list[TruthSegment]:
    """The recording's ground truth as truth segments, all times on the host clock (``t_host_s``).

    * ``posture``: the per-sample posture class, run-length encoded; data: ``samples`` and the mean true tag
      tilt vs an ideal calibration (``mean_tag_flexion_deg``, ``mean_tag_lateral_deg``; null while off the body).
    * ``activity``: the per-sample activity, run-length encoded; data: ``samples``.
    * ``alert``: the episodes the detector should alert on (label: the posture class); data: ``duration_s``,
      ``min_alert_s``.
    * ``break``: breaks from sitting, from stand-up to sit-down (or the end); label ``walk`` if the wearer walked,
      else ``stand``; data: ``stand_s``, ``walk_start_s``, ``sit_s`` (host times or null), ``walking_s``,
      ``out_of_range_s``.
    * ``link``: spans with no data because the wearer is out of radio range (label ``out_of_range``).
    * ``behaviour``: the scenario's resolved timeline (label: the behaviour kind; data: its drawn parameters and
      ``where``, the scenario position it came from).
    * ``motion``: transient motions (fidget, reach, weight_shift, handling).

    A run's ``end_s`` is the host time just after its last sample, so consecutive runs tile the recording.
    """
    truth = recording.truth
    n = recording.n
    period = 1.0 / recording.rate_hz
    t_row = np.asarray(recording.t_true_s, dtype=np.float64)
    end_host = float(t_row[-1]) + period
    to_host = host_clock(recording)
    out: list[TruthSegment] = []

    def row_time(i: int) -> float:
        return float(t_row[i]) if i < n else end_host

    starts, ends = _runs(truth.posture_code)
    flexion = _mean_by_run(np.asarray(truth.tag_flexion_deg, dtype=np.float64), starts)
    lateral = _mean_by_run(np.asarray(truth.tag_lateral_deg, dtype=np.float64), starts)
    for k, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        label = truth.posture_classes[int(truth.posture_code[s])]
        data = {"samples": e - s, "mean_tag_flexion_deg": flexion[k], "mean_tag_lateral_deg": lateral[k]}
        out.append(TruthSegment(row_time(s), row_time(e), TruthKind.POSTURE, label, data))
    starts, ends = _runs(truth.activity_code)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        label = truth.activities[int(truth.activity_code[s])]
        out.append(TruthSegment(row_time(s), row_time(e), TruthKind.ACTIVITY, label, {"samples": e - s}))
    for episode in truth.alert_episodes:
        start, end = to_host(episode.start_s), to_host(episode.end_s)
        data = {"duration_s": round(end - start, 3), "min_alert_s": truth.min_alert_s}
        out.append(TruthSegment(start, end, TruthKind.ALERT, episode.posture, data))
    for brk in truth.breaks:
        stand = to_host(brk.stand_s)
        walk = None if brk.walk_start_s is None else to_host(brk.walk_start_s)
        sit = None if brk.sit_s is None else to_host(brk.sit_s)
        data = {
            "stand_s": stand,
            "walk_start_s": walk,
            "sit_s": sit,
            "walking_s": round(brk.walking_s, 3),
            "out_of_range_s": round(brk.out_of_range_s, 3),
        }
        label = "walk" if walk is not None else "stand"
        out.append(TruthSegment(stand, sit if sit is not None else end_host, TruthKind.BREAK, label, data))
    present = np.asarray(recording.present, dtype=np.int8)
    starts, ends = _runs(present)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        if not present[s]:
            out.append(TruthSegment(row_time(s), row_time(e), TruthKind.LINK, OUT_OF_RANGE_LABEL, {"samples": e - s}))
    for segment in truth.segments:
        data = {**segment.params, "where": segment.where}
        start, end = to_host(segment.start_s), min(to_host(segment.end_s), end_host)
        out.append(TruthSegment(start, end, BEHAVIOUR_KIND, segment.kind, data))
    out.extend(
        TruthSegment(to_host(motion.start_s), to_host(motion.end_s), MOTION_KIND, motion.kind)
        for motion in truth.motions
    )
    return out


# -- the recording -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What :func:`record` wrote.

    Attributes:
        path: the recording file.
        packets: packets written (notifications and read replies).
        samples: samples the tag took (those out of range included).
        simulated_s: simulated time covered, seconds.
        wall_s: wall time of the whole command (simulation included), seconds.
        simulate_wall_s: wall time of the wearer simulation alone, seconds.
        file_bytes: size of the closed file.
        rate_hz: the tag's stream rate.
        tag_name: the virtual tag's name.
        tag_address: the virtual tag's address.
        truth_segments: truth segments written.
        alert_episodes: should-alert episodes in the truth.
        breaks: breaks in the truth.
    """

    path: Path
    packets: int
    samples: int
    simulated_s: float
    wall_s: float
    simulate_wall_s: float
    file_bytes: int
    rate_hz: float
    tag_name: str
    tag_address: str
    truth_segments: int
    alert_episodes: int
    breaks: int

    @property
    def speedup(self) -> float:
        """Simulated seconds per wall second."""
        return self.simulated_s / self.wall_s if self.wall_s > 0 else math.inf


def _iso(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, tz=dt.UTC).isoformat(timespec="seconds")


async def _next_batch(batches: AsyncIterator[list[RawPacket]]) -> list[RawPacket] | None:
    return await anext(batches, None)


def record(
    out: str | Path,
    scenario: str | Scenario,
    device: str,
    *,
    seed: int | None = None,
    rate_hz: float | None = None,
    duration_s: float | None = None,
    start_epoch_s: float | None = None,
    name: str | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    on_simulated: Callable[[SimulatedRecording], None] | None = None,
    sensor_errors: SensorErrors | None = None,
) -> RecordResult:
    """Simulate, play the virtual tag offline and write a recording to ``out`` (which must not exist).

    Synchronous: the tag runs in a private event loop, so call it from outside any running loop.
    ``on_simulated`` is called once the wearer is simulated (e.g. to size a progress bar); ``sensor_errors``
    imposes the tag's constant errors (see :func:`simulate_for`); the ones used are written to the metadata
    (``extra["sensor_errors"]``). Raises what :func:`simulate_for` and
    :class:`~posturebuddy.session.recording.RecordingWriter` raise.
    """
    wall_start = time.perf_counter()
    rec = simulate_for(
        scenario,
        device,
        rate_hz=rate_hz,
        seed=seed,
        duration_s=duration_s,
        start_epoch_s=start_epoch_s,
        sensor_errors=sensor_errors,
    )
    simulate_wall_s = time.perf_counter() - wall_start
    if on_simulated is not None:
        on_simulated(rec)
    family = get_family(device)
    address = address or virtual_address(device, rec.scenario.name, rec.seed)
    segments = truth_segments(rec)
    epoch = float(rec.t_true_s[0])
    expect = rec.scenario.expect
    extra: dict[str, object] = {
        "generator": "python -m simulators record",
        "scenario": rec.scenario.name,
        "seed": rec.seed,
        "device": device,
        "rate_hz": rec.rate_hz,
        "duration_s": rec.duration_s,
        "start_s": epoch,
        "start_utc": _iso(epoch),
        "expect": {
            "alert_episodes": list(expect.alert_episodes) if expect.alert_episodes is not None else None,
            "breaks": list(expect.breaks) if expect.breaks is not None else None,
            "min_alert_s": expect.min_alert_s,
        },
        "truth": {
            "alert_episodes": len(rec.truth.alert_episodes),
            "breaks": len(rec.truth.breaks),
            "clock": "t_host_s",
        },
        "sensor_errors": dataclasses.asdict(rec.sensor_errors),
    }
    tags: list[VirtualTag] = []
    path = Path(out)
    packets = 0
    with asyncio.Runner() as runner:
        batches = iter_packet_batches(rec, device, name=name, address=address, progress=progress, on_tag=tags.append)
        try:
            # The metadata needs the tag's name and rate, known once it is set up (before the first batch).
            batch = runner.run(_next_batch(batches))
            tag = tags[0]
            metadata = RecordingMetadata(
                tag_family=family.family_id,
                source_kind=SourceKind.SIMULATED,
                tag_address=tag.address or address,
                tag_name=tag.name,
                sample_rate_hz=tag.rate_hz,
                extra=extra,
            )
            with RecordingWriter(
                path, metadata, flush_interval_s=_WRITER_FLUSH_S, max_pending=_WRITER_MAX_PENDING
            ) as writer:
                while batch is not None:
                    writer.append_packets(batch)
                    packets += len(batch)
                    batch = runner.run(_next_batch(batches))
                writer.append_truth_segments(segments)
        finally:
            runner.run(batches.aclose())
    wall_s = time.perf_counter() - wall_start
    return RecordResult(
        path=path,
        packets=packets,
        samples=tag.samples_generated,
        simulated_s=rec.duration_s,
        wall_s=wall_s,
        simulate_wall_s=simulate_wall_s,
        file_bytes=path.stat().st_size,
        rate_hz=tag.rate_hz,
        tag_name=tag.name,
        tag_address=tag.address or address,
        truth_segments=len(segments),
        alert_episodes=len(rec.truth.alert_episodes),
        breaks=len(rec.truth.breaks),
    )
