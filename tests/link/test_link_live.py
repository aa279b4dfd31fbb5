"""``run --headless`` end to end against each virtual tag, through bleak's public API.

The tags are the simulator's byte-exact virtual tags on a real BLE host stack (bumble); only the radio is
virtual (there is none on CI machines). The app side is exactly what ``posturebuddy run --headless`` runs:
the connection supervisor (bleak + bleak-retry-connector), the decoding stage and the JSON-lines output.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import pytest_asyncio

from posturebuddy.commands.run import stream_json_lines
from posturebuddy.devices import NudgePattern, get_family
from posturebuddy.link.backoff import Backoff
from posturebuddy.link.scan import BleBackend, scan
from posturebuddy.link.supervisor import LinkOptions, TagLink
from simulators.ble.backend import BumbleClient, BumbleScanner
from simulators.ble.stack import VirtualAir, set_default_central
from simulators.tags import make_virtual_tag
from simulators.tags.base import VirtualTag
from simulators.wearer import simulate

SIM = BleBackend(scanner=BumbleScanner, client=BumbleClient, label="simulator")
SPEED = 20.0
FAMILIES = ("posturebuddy", "thingy52", "witmotion", "sensortag", "microbit")
QUATERNION_FAMILIES = {"posturebuddy", "thingy52", "witmotion"}
FAST_BACKOFF = Backoff(initial_s=0.01, factor=2.0, max_s=0.05, jitter=0.2)


@dataclass
class Rig:
    """One virtual tag on the air, and what ``run --headless`` printed about it."""

    air: VirtualAir
    tag: VirtualTag
    family_id: str
    out: io.StringIO = field(default_factory=io.StringIO)
    link: TagLink | None = None

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.getvalue().splitlines()]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["type"] == kind]

    def states(self) -> list[str]:
        return [r["state"] for r in self.of_type("ConnectionStateChanged")]


async def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def scaled_clock() -> Callable[[], float]:
    start = time.monotonic()
    return lambda: 1_800_000_000.0 + (time.monotonic() - start) * SPEED


@pytest_asyncio.fixture(params=FAMILIES)
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    family = str(request.param)
    recording = simulate("good_day", device=family, duration_s=60, seed=7)
    async with VirtualAir() as air:
        set_default_central(await air.add_central())
        try:
            tag = await air.add_peripheral(make_virtual_tag(family, recording, speed=SPEED))
            yield Rig(air, tag, family)
        finally:
            set_default_central(None)


async def start_streaming(rig: Rig, options: LinkOptions) -> tuple[asyncio.Task[int], asyncio.Event]:
    stop = asyncio.Event()

    def keep(link: TagLink) -> None:
        rig.link = link

    task = asyncio.create_task(stream_json_lines(options, SIM, rig.out, clock=scaled_clock(), stop=stop, on_link=keep))
    await wait_until(lambda: "streaming" in rig.states())
    return task, stop


def angle_deg(q1: np.ndarray, q2: np.ndarray) -> float:
    dot = abs(float(np.dot(q1 / np.linalg.norm(q1), q2 / np.linalg.norm(q2))))
    return math.degrees(2.0 * math.acos(min(1.0, dot)))


@pytest.mark.asyncio
async def test_scan_finds_the_tag_as_its_family(rig: Rig) -> None:
    found = await scan(0.2, SIM)
    assert [f.info.family for f in found] == [rig.family_id]


@pytest.mark.asyncio
async def test_headless_stream_matches_ground_truth_and_writes_take_effect(rig: Rig) -> None:
    family = get_family(rig.family_id)
    wanted_rate = {"posturebuddy": 25.0, "thingy52": 20.0, "witmotion": 50.0, "sensortag": 5.0, "microbit": 12.5}
    options = LinkOptions(family_id=None, sample_rate_hz=wanted_rate[family.family_id], backoff=FAST_BACKOFF)
    task, stop = await start_streaming(rig, options)
    await wait_until(lambda: len(rig.of_type("Sample")) >= 20)

    # the rate write reached the tag (every requested rate here is one the family supports exactly)
    await wait_until(lambda: rig.tag.rate_hz == pytest.approx(wanted_rate[family.family_id]))
    assert rig.tag.rate_hz != pytest.approx(type(rig.tag).default_rate_hz)
    # a nudge: tags that can nudge log a cue; the others report that they cannot
    assert rig.link is not None
    sent = await rig.link.nudge(NudgePattern.GENTLE)
    assert sent is family.capabilities.can_nudge
    if sent:
        assert rig.tag.cues
    stop.set()
    assert await task == 0

    assert rig.states()[:3] == ["scanning", "connecting", "streaming"]
    assert rig.states()[-1] == "stopped"
    assert not rig.of_type("PacketRejected")
    samples = rig.of_type("Sample")
    recording = rig.tag.recording
    motion_uuid = family.notify_uuids[0]
    frames = [f for f in rig.tag.sent if f.char_uuid == motion_uuid]
    if family.family_id in QUATERNION_FAMILIES:
        decoded = [s for s in samples if s["quat_wxyz"] is not None]
        assert len(decoded) >= 10
        for sample, frame in zip(decoded, frames, strict=False):
            truth = np.asarray(recording.quat_wxyz[frame.index])
            assert angle_deg(np.asarray(sample["quat_wxyz"]), truth) < 0.5
    else:
        decoded = [s for s in samples if s["accel_g"] is not None]
        assert len(decoded) >= 10
        for sample, frame in zip(decoded, frames, strict=False):
            truth = np.asarray(recording.accel_g[frame.index])
            assert np.allclose(sample["accel_g"], truth, atol=0.02)


@pytest.mark.asyncio
async def test_ten_disconnects_in_a_row_resume_by_themselves_with_gaps_reported(rig: Rig) -> None:
    options = LinkOptions(backoff=FAST_BACKOFF, scan_timeout_s=2.0)
    task, stop = await start_streaming(rig, options)
    for n in range(1, 11):
        await wait_until(lambda: rig.link is not None and rig.link.connected)
        before = len(rig.of_type("Sample"))
        await rig.tag.drop_connection()
        await wait_until(lambda n=n: len(rig.of_type("GapDetected")) >= n)  # type: ignore[misc]
        await wait_until(lambda before=before: len(rig.of_type("Sample")) > before + 2)  # type: ignore[misc]
    stop.set()
    assert await task == 0
    gaps = [g for g in rig.of_type("GapDetected") if g["reason"] == "link down"]
    assert len(gaps) == 10
    assert all(g["t_s"] > g["start_s"] for g in gaps)
    assert rig.states().count("streaming") == 11
    unexpected = [r for r in rig.of_type("ConnectionStateChanged") if r["state"] == "reconnecting"]
    assert len(unexpected) >= 10
    assert all(r["expected"] is False for r in unexpected)
    assert rig.link is not None
    assert rig.link.stats.unexpected_disconnects == 10
