"""The fault rig: a real LiveSession, recording to a real file, against a virtual PostureBuddy Tag on the
simulator's bumble stack, with faults injected at the tag on a schedule of sample time.

Only the radio is virtual (bumble's in-process controller: there is no Bluetooth hardware here). Everything
from bleak's public API up (the link supervisor, bleak-retry-connector, the decoding stage, the engine, the
event bus, the SQLite recorder) is the product's own code.

After a run, :func:`check_run` compares what the session received with what the recording holds and asserts the
invariants listed in docs/faults.md. Faults come from :func:`scripted_schedule` (the same every run) or
:func:`random_schedule` (seeded; the seed is printed and is in the assertion messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import math
import os
import random
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from firmware_protocol import MOTION_CHAR_UUID
from posturebuddy.commands.demo import DEMO_ADDRESS, scaled_clock, simulator_backend
from posturebuddy.devices import DecodeError, get_family
from posturebuddy.link.backoff import Backoff
from posturebuddy.link.sequence import SequenceTracker
from posturebuddy.link.supervisor import LinkOptions
from posturebuddy.model import ConnectionState, ConnectionStateChanged, GapDetected, RawPacket, Sample, TagStatus
from posturebuddy.session.engine import EngineSnapshot
from posturebuddy.session.live import LiveSession, is_droppable
from posturebuddy.session.recording import LinkEventKind, open_recording
from posturebuddy.session.recording_records import SourceKind
from simulators.ble.peripheral import bit_flipped, truncated
from simulators.ble.stack import VirtualAir, set_default_central
from simulators.tags import make_virtual_tag
from simulators.tags.base import VirtualTag
from simulators.wearer import load_scenario, simulate

RATE_HZ = 25.0
"""The stream rate: tests/ui/test_end_to_end.py explains why 25 Hz rather than the demo's 50 Hz at high speed."""
MOTION = MOTION_CHAR_UUID.lower()
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
BIN_WALL_S = 1.0
"""The responsiveness check counts samples and snapshots per ``speed * BIN_WALL_S`` simulated seconds."""


# ------------------------------------------------------------------------------------------------ faults


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault at ``at_s`` simulated seconds after the session started.

    kinds: ``drop`` (the tag drops the link), ``refuse_drop`` (drop, and refuse ``n`` reconnections), ``loss``
    (the next ``n`` notifications are lost), ``truncate`` (the next ``n`` are cut to ``arg`` bytes), ``flip``
    (the next ``n`` get byte ``arg`` XOR-ed with 0x5A), ``pad`` (the next ``n`` get ``arg`` junk bytes
    appended), ``vanish`` (out of range, no advertising, for ``hold_s``), ``battery`` (low battery for
    ``hold_s``, then empty: the tag dies; it is recharged ``hold_s`` later).
    """

    at_s: float
    kind: str
    n: int = 1
    arg: int = 0
    hold_s: float = 0.0


CUTTING = ("drop", "refuse_drop", "vanish")
"""Faults that end the connection if there is one (a drop while the link is reconnecting does nothing)."""


def padded(extra: int) -> Callable[[bytes], bytes]:
    """A mutator appending ``extra`` junk bytes (an over-long notification)."""

    def mutate(payload: bytes) -> bytes:
        return payload + bytes((0xA5 + i) & 0xFF for i in range(extra))

    return mutate


def scripted_schedule(duration_s: float) -> list[Fault]:
    """Every kind of fault once or twice, spread over ``duration_s`` simulated seconds, the last 10 % quiet."""
    kinds: list[Fault] = [
        Fault(0, "loss", n=5),
        Fault(0, "truncate", n=3, arg=7),
        Fault(0, "drop"),
        Fault(0, "flip", n=4, arg=19),
        Fault(0, "truncate", n=1, arg=0),  # an empty notification
        Fault(0, "pad", n=2, arg=9),
        Fault(0, "vanish", hold_s=90.0),
        Fault(0, "loss", n=40),
        Fault(0, "refuse_drop", n=2),
        Fault(0, "battery", hold_s=60.0),
        Fault(0, "flip", n=2, arg=12),
        Fault(0, "drop"),
    ]
    step = 0.85 * duration_s / (len(kinds) + 1)
    return [Fault(step * (i + 1), f.kind, f.n, f.arg, f.hold_s) for i, f in enumerate(kinds)]


def random_schedule(seed: int, duration_s: float, *, per_hour: float = 14.0) -> list[Fault]:
    """A seeded random schedule: about ``per_hour`` faults per simulated hour, none in the last 10 %."""
    rng = random.Random(seed)
    faults: list[Fault] = []
    t = rng.expovariate(per_hour / 3600.0)
    while t < 0.88 * duration_s:
        kind = rng.choices(
            ["drop", "refuse_drop", "loss", "truncate", "flip", "pad", "vanish", "battery"],
            weights=[4, 1, 4, 3, 2, 1, 2, 1],
        )[0]
        if kind == "loss":
            fault = Fault(t, kind, n=rng.choice([1, 2, 5, 25, 100]))
        elif kind == "truncate":
            fault = Fault(t, kind, n=rng.randint(1, 4), arg=rng.randint(0, 19))
        elif kind == "flip":
            fault = Fault(t, kind, n=rng.randint(1, 4), arg=rng.randint(4, 19))  # not the seq or clock bytes
        elif kind == "pad":
            fault = Fault(t, kind, n=rng.randint(1, 3), arg=rng.randint(1, 40))
        elif kind == "refuse_drop":
            fault = Fault(t, kind, n=rng.randint(1, 3))
        elif kind == "vanish":
            fault = Fault(t, kind, hold_s=rng.uniform(10.0, 600.0))
        elif kind == "battery":
            fault = Fault(t, kind, hold_s=rng.uniform(30.0, 300.0))
        else:
            fault = Fault(t, kind)
        faults.append(fault)
        t += fault.hold_s * (2 if kind == "battery" else 1) + rng.expovariate(per_hour / 3600.0) + 5.0
    return faults


# ------------------------------------------------------------------------------------------------ the run


@dataclass
class Probe:
    """What a bus subscriber saw, and what the loop's exception handler caught."""

    snapshots_t: list[float] = field(default_factory=list)
    samples: int = 0
    bin_s: float = 1.0
    samples_per_bin: dict[int, int] = field(default_factory=dict)
    """Samples seen per ``bin_s`` of sample time (bins, not a list of times: the probe must not grow much)."""
    low_battery_seen: bool = False
    states: list[ConnectionState] = field(default_factory=list)
    state_times: list[tuple[float, str]] = field(default_factory=list)
    gaps: list[GapDetected] = field(default_factory=list)
    max_wall_silence_s: float = 0.0
    loop_errors: list[str] = field(default_factory=list)
    rss_mb: list[tuple[float, float]] = field(default_factory=list)
    """(simulated seconds since start, resident set size MB), sampled every wall second."""


@dataclass
class RunResult:
    """Everything :func:`check_run` needs."""

    label: str
    session: LiveSession
    tag: VirtualTag
    path: Path
    status: int
    probe: Probe
    faults: list[Fault]
    applied: list[str]
    sim_s: float
    wall_s: float


def rss_mb() -> float:
    """This process's resident set size in MB (Linux /proc)."""
    with open("/proc/self/statm", encoding="ascii") as file:  # noqa: PTH123
        return int(file.read().split()[1]) * PAGE_BYTES / 1e6


@contextlib.asynccontextmanager
async def faulted_session(
    scenario: str | Path, *, speed: float, recording: Path, seed: int | None = None
) -> AsyncIterator[tuple[LiveSession, VirtualTag]]:
    """``open_demo_session`` with a recording: the same wiring, plus ``recording_path``.

    (``posturebuddy.commands.demo.open_demo_session`` takes no recording path; see docs/faults.md.)
    """
    loaded = load_scenario(scenario)
    simulated = await asyncio.to_thread(simulate, loaded, "posturebuddy", RATE_HZ, seed)
    options = LinkOptions(
        address=DEMO_ADDRESS,
        family_id="posturebuddy",
        sample_rate_hz=RATE_HZ,
        scan_timeout_s=5.0,
        backoff=Backoff(initial_s=0.2, factor=2.0, max_s=2.0),
    )
    async with VirtualAir() as air:
        set_default_central(await air.add_central())
        try:
            tag = make_virtual_tag("posturebuddy", simulated, speed=speed, address=DEMO_ADDRESS)
            await air.add_peripheral(tag)
            session = LiveSession(
                options,
                simulator_backend(),
                clock=scaled_clock(loaded.start_epoch_s, speed),
                recording_path=recording,
                source_kind=SourceKind.SIMULATED,
                extra_metadata={"scenario": loaded.name, "speed": speed, "fault_suite": True},
            )
            yield session, tag
        finally:
            set_default_central(None)


async def _sleep_sim(session: LiveSession, speed: float, until_s: float) -> None:
    """Sleep until the session's sample clock reads ``until_s``."""
    while (left := until_s - session.clock()) > 0:  # noqa: ASYNC110 (waits on a clock, not on an event)
        await asyncio.sleep(min(left / speed, 0.5))


async def _apply(fault: Fault, session: LiveSession, tag: VirtualTag, speed: float, applied: list[str]) -> None:
    cut = "(cut a link)" if tag.is_connected and fault.kind in CUTTING else ""
    applied.append(f"{fault.at_s:.0f}s {fault.kind} n={fault.n} arg={fault.arg} hold={fault.hold_s:.0f}{cut}")
    if fault.kind == "drop":
        await tag.drop_connection()
    elif fault.kind == "refuse_drop":
        tag.refuse_next_connections(fault.n)
        await tag.drop_connection()
    elif fault.kind == "loss":
        tag.lose_next(fault.n)
    elif fault.kind == "truncate":
        tag.corrupt_next(fault.n, truncated(fault.arg))
    elif fault.kind == "flip":
        tag.corrupt_next(fault.n, bit_flipped(fault.arg, 0x5A))
    elif fault.kind == "pad":
        tag.corrupt_next(fault.n, padded(fault.arg))
    elif fault.kind == "vanish":
        await tag.vanish()
        await _sleep_sim(session, speed, session.clock() + fault.hold_s)
        await tag.reappear()
    elif fault.kind == "battery":
        tag.drain_battery_to(tag.low_battery_pct - 5.0)  # LOW_BATTERY in the status byte from the next frame
        await _sleep_sim(session, speed, session.clock() + fault.hold_s)
        if tag.is_connected:
            applied[-1] += "(cut a link)"
        tag.drain_battery_to(0.0)  # empty: the stream stops, the link drops, the tag stops advertising
        await _sleep_sim(session, speed, session.clock() + fault.hold_s)
        tag.recharge(90.0)
    else:
        raise ValueError(fault.kind)


async def run_with_faults(
    label: str,
    scenario: str | Path,
    faults: Sequence[Fault],
    *,
    tmp_path: Path,
    speed: float,
    sim_s: float,
    seed: int | None = None,
) -> RunResult:
    """Run a session for ``sim_s`` simulated seconds, applying ``faults`` in order; return what happened."""
    loop = asyncio.get_running_loop()
    probe = Probe(bin_s=speed * BIN_WALL_S)
    previous_handler = loop.get_exception_handler()

    def on_loop_error(_loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        probe.loop_errors.append(f"{context.get('message')}: {context.get('exception')!r}")

    loop.set_exception_handler(on_loop_error)
    path = tmp_path / f"{label}.pbrec"
    applied: list[str] = []
    wall0 = time.monotonic()
    try:
        async with faulted_session(scenario, speed=speed, recording=path, seed=seed) as (session, tag):
            t0 = session.clock()
            subscription = session.bus.subscribe("probe", maxsize=100_000, droppable=is_droppable)

            async def consume() -> None:
                last = time.monotonic()
                async for item in subscription:
                    now = time.monotonic()
                    if probe.states and probe.states[-1] is ConnectionState.STREAMING:
                        probe.max_wall_silence_s = max(probe.max_wall_silence_s, now - last)
                    last = now
                    if isinstance(item, EngineSnapshot):
                        probe.snapshots_t.append(item.t_s)
                    elif isinstance(item, Sample):
                        probe.samples += 1
                        b = int(item.t_s // probe.bin_s)
                        probe.samples_per_bin[b] = probe.samples_per_bin.get(b, 0) + 1
                    elif isinstance(item, TagStatus) and item.low_battery:
                        probe.low_battery_seen = True
                    elif isinstance(item, ConnectionStateChanged):
                        probe.states.append(item.state)
                        probe.state_times.append((item.t_s, item.state.value))
                    elif isinstance(item, GapDetected):
                        probe.gaps.append(item)

            async def sample_memory() -> None:
                while True:
                    probe.rss_mb.append((session.clock() - t0, rss_mb()))
                    await asyncio.sleep(1.0)

            async def drive() -> None:
                for fault in faults:
                    await _sleep_sim(session, speed, t0 + fault.at_s)
                    await _apply(fault, session, tag, speed, applied)
                await _sleep_sim(session, speed, t0 + sim_s)
                # end on a streaming link, so every disconnect has had its gap reported
                deadline = time.monotonic() + 30.0
                while not session.link.connected and time.monotonic() < deadline:  # noqa: ASYNC110 (no event for it)
                    await asyncio.sleep(0.1)
                stop.set()

            stop = asyncio.Event()
            tasks = [asyncio.create_task(c) for c in (consume(), sample_memory(), drive())]
            status = await session.run(stop)
            for task in tasks[1:]:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks[1:])
            await asyncio.wait_for(tasks[0], 10.0)
            elapsed_sim = session.clock() - t0
        gc.collect()  # "Task exception was never retrieved" is reported when the task is collected
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous_handler)
    return RunResult(
        label, session, tag, path, status, probe, list(faults), applied, elapsed_sim, time.monotonic() - wall0
    )


# ------------------------------------------------------------------------------------------------ checks


@dataclass
class Figures:
    """What :func:`check_run` measured (printed by the tests, copied into docs/faults.md)."""

    label: str
    sim_h: float
    wall_s: float
    faults: int
    packets: int
    connects: int
    unexpected_disconnects: int
    rejected: int
    sequence_gaps: int
    lost_by_sequence: int
    snapshots_per_sim_s: float
    rss_growth_mb: float
    rss_mb_end: float

    def line(self) -> str:
        return (
            f"{self.label}: {self.sim_h:.2f} simulated h in {self.wall_s:.0f} s wall, {self.faults} faults, "
            f"{self.packets} packets recorded, {self.connects} connections "
            f"({self.unexpected_disconnects} unexpected drops), {self.rejected} rejected, "
            f"{self.sequence_gaps} sequence gaps ({self.lost_by_sequence} packets), "
            f"{self.snapshots_per_sim_s:.2f} snapshots per simulated s, RSS growth after warm-up "
            f"{self.rss_growth_mb:+.1f} MB (end {self.rss_mb_end:.0f} MB)"
        )


def _recount_sequence_gaps(path: Path) -> tuple[int, int, int]:
    """From the recording alone: (sequence gaps, packets lost by sequence, rejected motion packets).

    The packets are split into connections at each ``scanning`` link event (a new connection round), and each
    connection's motion frames go through a fresh decoder and sequence tracker, as the live session did.
    """
    family = get_family("posturebuddy")
    with open_recording(path) as reader:
        rounds = sorted(
            e.t_s for e in reader.link_events() if e.kind is LinkEventKind.CONNECTION and e.detail == "scanning"
        )
        packets = list(reader.iter_packets())
    gaps = lost = rejected = 0
    boundary = 0
    decoder = family.make_decoder()
    tracker = SequenceTracker(modulus=family.seq_modulus)
    for packet in packets:
        while boundary < len(rounds) and packet.t_host_s >= rounds[boundary]:
            boundary += 1
            decoder = family.make_decoder()
            tracker = SequenceTracker(modulus=family.seq_modulus)
        if packet.char_uuid.lower() != MOTION:
            continue
        try:
            decoded = decoder.decode(RawPacket(packet.t_host_s, packet.char_uuid, packet.data))
        except DecodeError:
            rejected += 1
            continue
        for item in decoded:
            if isinstance(item, Sample) and item.seq is not None:
                n = tracker.update(item.seq)
                gaps += n > 0
                lost += n
    return gaps, lost, rejected


def check_run(run: RunResult, *, max_rss_growth_mb: float) -> Figures:
    """Assert the suite's invariants (docs/faults.md) on one run; return its figures."""
    session, probe, link = run.session, run.probe, run.session.link
    context = f"[{run.label}] faults applied: {run.applied}"
    # 1. no crash, nothing swallowed
    assert run.status == 0, f"session ended with {run.status}: {session.error} {context}"
    assert probe.loop_errors == [], f"unhandled task exceptions: {probe.loop_errors} {context}"
    assert session.internal_errors == 0, context
    assert session.recorder is not None, context
    assert session.recorder.failed is None, f"{session.recorder.failed} {context}"
    assert link.packets.dropped == 0, f"the notification queue dropped {link.packets.dropped} {context}"
    assert len(run.applied) == len(run.faults), context
    assert link.state is ConnectionState.STOPPED

    with open_recording(run.path) as reader:
        assert reader.check() == [], context
        assert reader.metadata.closed_s is not None
        recorded = reader.packet_count()
        motion_rows = sum(1 for p in reader.iter_packets() if p.char_uuid.lower() == MOTION)
        events = reader.link_events()
    # 2. every notification received is in the recording (and every read reply; the markers are not packets)
    assert motion_rows == link.stats.received, f"{motion_rows} motion rows, {link.stats.received} received {context}"
    assert recorded == link.packets.put_count - link.stats.connects, context
    assert session.decoder.stats.packets == recorded, context

    # 3. gaps are recorded as gaps
    link_down = [e for e in events if e.kind is LinkEventKind.GAP and e.detail == "link down"]
    assert len(link_down) == link.stats.unexpected_disconnects, context
    assert all(e.start_s is not None and e.start_s < e.t_s for e in link_down), context
    seq_gap_rows = [e for e in events if e.kind is LinkEventKind.GAP and e.detail == "sequence gap"]
    gaps, lost, rejected_motion = _recount_sequence_gaps(run.path)
    assert len(seq_gap_rows) == gaps, f"{len(seq_gap_rows)} sequence-gap rows, {gaps} gaps in the packets {context}"
    assert sum(e.count or 0 for e in seq_gap_rows) == lost == session.decoder.stats.lost_by_sequence, context
    rejected_rows = [e for e in events if e.kind is LinkEventKind.PACKET_REJECTED]
    assert len(rejected_rows) == session.decoder.stats.rejected, context
    assert rejected_motion <= len(rejected_rows), context
    connections = sum(1 for e in events if e.kind is LinkEventKind.CONNECTION and e.detail == "streaming")
    assert connections == link.stats.connects, context
    # what was injected shows up: losses as sequence gaps, truncations as rejected packets, drops as reconnects
    injected = {kind: [f for f in run.faults if f.kind == kind] for kind in ("loss", "truncate")}
    if injected["loss"]:
        assert lost >= min(f.n for f in injected["loss"]), context
    if injected["truncate"]:
        assert session.decoder.stats.rejected >= 1, context
    assert link.stats.unexpected_disconnects >= sum("(cut a link)" in a for a in run.applied), context
    if any(f.kind == "battery" for f in run.faults):
        assert probe.low_battery_seen, context
    # the subscriber saw the same gaps the recording holds
    assert len(probe.gaps) == len(link_down) + len(seq_gap_rows), context

    # 5. memory does not grow: compare the second half of the run with the end of the warm-up (first quarter)
    samples = probe.rss_mb
    warm = [mb for t, mb in samples if t <= run.sim_s * 0.25]
    late = [mb for t, mb in samples if t >= run.sim_s * 0.5]
    growth = (max(late) - max(warm)) if warm and late else 0.0
    assert growth < max_rss_growth_mb, f"RSS grew {growth:.1f} MB after warm-up {context}"

    # 4. the bus kept flowing: snapshots all along sample time, never a long silence
    snaps = probe.snapshots_t
    assert snaps == sorted(snaps), context
    per_sim_s = len(snaps) / run.sim_s
    # every stretch of streaming gives snapshots in step with its samples: the engine emits one when a judged
    # sample is >= 0.1 s of sample time after the last one, at 25 Hz every 5th sample (0.2 s)
    bin_s = probe.bin_s
    snaps_per_bin: dict[int, int] = {}
    for t in snaps:
        snaps_per_bin[int(t // bin_s)] = snaps_per_bin.get(int(t // bin_s), 0) + 1
    streaming = {b: n for b, n in probe.samples_per_bin.items() if n >= 0.5 * RATE_HZ * bin_s}
    assert streaming, context
    starved = [(b, n, snaps_per_bin.get(b, 0)) for b, n in streaming.items() if snaps_per_bin.get(b, 0) < 0.12 * n]
    assert not starved, (
        f"{len(starved)} stretches with too few snapshots (bin, samples, snapshots): {starved[:10]} {context}"
    )
    # while the link is down the engine ticks once a wall second: at most ~3 wall seconds between snapshots
    widest, at = max(((b - a, a) for a, b in itertools.pairwise(snaps)), default=(math.inf, 0.0))
    speed = run.tag.speed
    around = [(round(t - at), state) for t, state in probe.state_times if at - 3 * speed <= t <= at + widest + speed]
    assert widest < 3.0 * speed, (
        f"a {widest:.0f} simulated s hole in the snapshots at {at - snaps[0]:.0f} s, link states around it "
        f"(s from the hole's start): {around}; RSS growth {growth:.1f} MB {context}"
    )
    assert probe.max_wall_silence_s < 5.0, f"the bus was silent for {probe.max_wall_silence_s:.1f} s {context}"

    return Figures(
        label=run.label,
        sim_h=run.sim_s / 3600.0,
        wall_s=run.wall_s,
        faults=len(run.faults),
        packets=recorded,
        connects=link.stats.connects,
        unexpected_disconnects=link.stats.unexpected_disconnects,
        rejected=session.decoder.stats.rejected,
        sequence_gaps=gaps,
        lost_by_sequence=lost,
        snapshots_per_sim_s=per_sim_s,
        rss_growth_mb=growth,
        rss_mb_end=samples[-1][1] if samples else 0.0,
    )
