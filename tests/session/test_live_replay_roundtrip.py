"""Done when (issue #7): a real live session recorded over the simulator's BLE stack replays to the same episodes
and prompts. The LiveSession connects through bleak's public API to a virtual tag on bumble, played by a simulated
wearer whose head drifts forward (tests/ui/scenarios/quick_forward_head.toml) at high speed; the recording it
writes is then replayed through the same decoders and engine (``replay_recording``) and analysed in batch."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from posturebuddy.commands.demo import open_demo_session
from posturebuddy.commands.replay import replay_recording
from posturebuddy.devices import get_family
from posturebuddy.posture.events import EpisodeEnded, EpisodeStarted, PromptRaised
from posturebuddy.session.analyze import analyze_recording
from posturebuddy.session.engine import EngineSettings
from posturebuddy.session.recording import open_recording
from simulators.tags.base import VirtualTag

SCENARIO = Path(__file__).resolve().parents[1] / "ui" / "scenarios" / "quick_forward_head.toml"
RATE_HZ = 25.0
SPEED = 80.0
"""Simulated seconds per wall second: the 7-minute scenario plays in about 5 s. The tag's own clock keeps the
sample times even through event-loop stalls (DeviceTimeAligner), so the speed does not change what is seen."""
SCENARIO_S = 420.0
SAMPLE_S = 1.0 / RATE_HZ


async def _record_live(path: Path, drop_after_wall_s: float | None = None) -> list[object]:
    """Run a live session over the simulator until the scenario has played; return what it published. With
    ``drop_after_wall_s``, the tag drops the link once then (the session reconnects, as after a radio dropout)."""
    seen: list[object] = []
    tags: list[VirtualTag] = []
    async with open_demo_session(
        scenario=SCENARIO,
        speed=SPEED,
        rate_hz=RATE_HZ,
        engine=EngineSettings(),
        recording_path=path,
        on_tag=tags.append,
    ) as session:
        subscription = session.bus.subscribe("test")

        async def pump() -> None:
            seen.extend(
                [item async for item in subscription if isinstance(item, EpisodeStarted | EpisodeEnded | PromptRaised)]
            )

        async def drop() -> None:
            if drop_after_wall_s is not None:
                await asyncio.sleep(drop_after_wall_s)
                await tags[0].drop_connection()

        task = asyncio.create_task(pump())
        dropper = asyncio.create_task(drop())
        status = await session.run(asyncio.Event(), duration_s=SCENARIO_S / SPEED + 1.0)
        await task
        await dropper
        assert session.link.stats.connects == (1 if drop_after_wall_s is None else 2)
        assert status == 0
        assert session.internal_errors == 0
    return seen


def _episodes(items: list[object]) -> list[tuple[str, float, float | None]]:
    return [
        (str(e.episode.kind), e.episode.start_s, e.episode.end_s)
        for e in items
        if isinstance(e, EpisodeEnded | EpisodeStarted)
    ]


@pytest.mark.asyncio
@pytest.mark.parametrize("drop_after_wall_s", [None, 2.0], ids=["one_connection", "dropped_and_reconnected"])
async def test_a_recorded_live_session_replays_to_the_same_episodes_and_prompts(
    tmp_path: Path, drop_after_wall_s: float | None
) -> None:
    """With a dropout too: the replay restarts the decoders where the live session reconnected."""
    path = tmp_path / "live.pbrec"
    live = await _record_live(path, drop_after_wall_s)
    live_prompts = [(str(e.prompt.kind), e.prompt.t_s) for e in live if isinstance(e, PromptRaised)]
    live_episodes = _episodes(live)
    # The scenario must have given something to compare: a forward-head episode and its chin-tuck prompt.
    assert [k for k, _ in live_prompts] == ["chin_tuck"]
    assert any(kind == "forward_head" for kind, _, _ in live_episodes)

    with open_recording(path) as reader:
        assert reader.metadata.closed_s is not None
        stored_prompts = [(str(p.kind), p.raised_s) for p in reader.prompts()]
        stored_episodes = [(str(e.posture_class), e.start_s) for e in reader.episodes()]
        out = io.StringIO()
        replay_recording(reader, out, settings=EngineSettings(), family=get_family(reader.metadata.tag_family))
    assert stored_prompts == live_prompts
    assert stored_episodes == [(k, s) for k, s, end in live_episodes if end is None]

    replayed = [json.loads(line) for line in out.getvalue().splitlines()]
    replay_prompts = [(r["prompt"]["kind"], r["prompt"]["t_s"]) for r in replayed if r["type"] == "PromptRaised"]
    replay_episodes = [
        (r["episode"]["kind"], r["episode"]["start_s"], r["episode"]["end_s"])
        for r in replayed
        if r["type"] in ("EpisodeStarted", "EpisodeEnded")
    ]
    assert [k for k, _ in replay_prompts] == [k for k, _ in live_prompts]
    for (_, t_live), (_, t_replay) in zip(live_prompts, replay_prompts, strict=True):
        assert t_replay == pytest.approx(t_live, abs=SAMPLE_S)
    assert [k for k, _, _ in replay_episodes] == [k for k, _, _ in live_episodes]
    for (_, s_live, e_live), (_, s_replay, e_replay) in zip(live_episodes, replay_episodes, strict=True):
        assert s_replay == pytest.approx(s_live, abs=SAMPLE_S)
        assert (e_replay is None) == (e_live is None)
        if e_live is not None:
            assert e_replay == pytest.approx(e_live, abs=SAMPLE_S)

    # The batch analysis of the same file agrees too.
    result = analyze_recording(path)
    assert [(str(p.prompt.kind)) for p in result.prompts] == [k for k, _ in live_prompts]
    for summary, (_, t_live) in zip(result.prompts, live_prompts, strict=True):
        assert summary.prompt.t_s == pytest.approx(t_live, abs=SAMPLE_S)
    starts = sorted({(k, s) for k, s, _ in live_episodes}, key=lambda ks: ks[1])
    assert [str(ep.kind) for ep in result.episodes] == [k for k, _ in starts]
    for ep, (_, s_live) in zip(result.episodes, starts, strict=True):
        assert ep.start_s == pytest.approx(s_live, abs=SAMPLE_S)
