"""``posturebuddy demo``: the product against a simulated wearer and a virtual tag, no hardware needed.

A simulated wearer (``simulators.wearer``) moves a byte-exact virtual tag (``simulators.tags``) that runs on a
real BLE host stack in this process (bumble); PostureBuddy finds and connects to it through bleak's public API
exactly as it would to a real tag. Sample time runs ``--speed`` times faster than the wall clock, starting at
the scenario's own date and time, so a 45-minute afternoon plays in a little over 2 minutes at ``--speed 20``.

Until the dashboard lands (issue #6) the demo shows a live summary in the terminal: link, calibration, posture,
activity, sitting time and prompts (or, with ``--headless``, prints JSON lines like ``run --headless``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from posturebuddy.config import Settings
from posturebuddy.link.backoff import Backoff
from posturebuddy.link.scan import BleBackend
from posturebuddy.link.supervisor import LinkOptions
from posturebuddy.model import BatteryRead, ConnectionStateChanged, GapDetected, PacketRejected, Sample
from posturebuddy.posture.events import BreakCredited, EpisodeStarted, PromptRaised
from posturebuddy.session.engine import CalibrationChanged, EngineSnapshot
from posturebuddy.session.live import LiveSession

DEMO_ADDRESS = "F8:00:00:00:00:01"


def simulator_backend() -> BleBackend:
    """The bleak backends of the simulator's BLE stack (imported only when a demo runs)."""
    from simulators.ble.backend import BumbleClient, BumbleScanner

    return BleBackend(scanner=BumbleScanner, client=BumbleClient, label="simulator")


def scaled_clock(start_epoch_s: float, speed: float) -> Callable[[], float]:
    """Sample time that starts at ``start_epoch_s`` now and runs ``speed`` times faster than the wall clock."""
    mono0 = time.monotonic()
    return lambda: start_epoch_s + (time.monotonic() - mono0) * speed


@dataclass
class DemoView:
    """What the live summary shows; updated from the session's event stream, rendered on a timer."""

    scenario: str
    device: str
    speed: float
    state: str = "starting"
    detail: str = ""
    samples: int = 0
    gaps: int = 0
    rejected: int = 0
    battery: str = "?"
    t_s: float | None = None
    snapshot: EngineSnapshot | None = None
    calibration: str = "waiting: sit upright and keep still for 5 s"
    prompts: list[str] = field(default_factory=list)
    episodes: int = 0
    breaks: int = 0

    def take(self, item: object) -> None:
        """Fold one stream item into the view."""
        if isinstance(item, ConnectionStateChanged):
            self.state, self.detail = item.state.value, item.detail
        elif isinstance(item, Sample):
            self.samples += 1
            self.t_s = item.t_s
        elif isinstance(item, EngineSnapshot):
            self.snapshot = item
        elif isinstance(item, CalibrationChanged):
            self.calibration = f"done ({item.how}, {item.reference.duration_s:.0f} s still)"
        elif isinstance(item, PromptRaised):
            when = _clock_text(item.t_s)
            self.prompts = [*self.prompts[-2:], f"{when}  {item.prompt.kind.value}: {item.prompt.reason}"]
        elif isinstance(item, EpisodeStarted):
            self.episodes += 1
        elif isinstance(item, BreakCredited):
            self.breaks += 1
        elif isinstance(item, GapDetected):
            self.gaps += 1
        elif isinstance(item, PacketRejected):
            self.rejected += 1
        elif isinstance(item, BatteryRead):
            level = item.level
            self.battery = f"{level.percent} %" if level.percent is not None else f"{level.voltage_v:.2f} V"

    def render(self) -> Panel:
        """The summary as a rich panel."""
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        table.add_row("link", f"{self.state}  {self.detail}")
        table.add_row("simulated time", f"{_clock_text(self.t_s)}  ({self.speed:g}x)")
        table.add_row("samples", f"{self.samples}  (gaps {self.gaps}, rejected packets {self.rejected})")
        table.add_row("battery", self.battery)
        table.add_row("calibration", self.calibration)
        snap = self.snapshot
        if snap is not None:
            frame = snap.detector
            angle = f"{snap.angles.flexion_deg:+5.1f} deg forward" if snap.angles else "-"
            progress = ""
            if frame.candidate is not None and frame.dwell_progress > 0:
                progress = f"  ({frame.candidate.value} {frame.dwell_progress:.0%} of the way to counting)"
            table.add_row("posture", f"{frame.state.value}{progress}")
            table.add_row("tilt", angle)
            table.add_row("activity", snap.activity.activity.value)
            coach = snap.coach
            left = coach.next_break_in_s
            next_break = "breaks off" if left is None else f"next break in {left / 60:.0f} min"
            table.add_row("sitting", f"{coach.sitting_s / 60:.0f} min unbroken; {next_break}")
        table.add_row("today", f"{self.episodes} episodes, {len(self.prompts)} recent prompts, {self.breaks} breaks")
        body: list[RenderableType] = [table]
        if self.prompts:
            body.append(Text("\n".join(self.prompts), style="yellow"))
        body.append(
            Text("The dashboard arrives with issue #6; this is a live text summary. Ctrl-C stops.", style="dim")
        )
        return Panel(
            Group(*body),
            title=f"PostureBuddy demo: {self.scenario} on a virtual {self.device}",
            title_align="left",
        )


def _clock_text(t_s: float | None) -> str:
    return datetime.fromtimestamp(t_s, tz=UTC).strftime("%H:%M:%S UTC") if t_s else "-"


async def run_demo(
    *,
    scenario: str,
    device: str,
    speed: float,
    seed: int | None,
    out: TextIO,
    headless: bool,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Simulate, serve the virtual tag, connect to it and run a session until stopped. Returns the exit status."""
    from posturebuddy.commands.run import run_session, stream_json_lines
    from simulators.ble.stack import VirtualAir, set_default_central
    from simulators.tags import make_virtual_tag
    from simulators.wearer import load_scenario, simulate

    stop = stop or asyncio.Event()
    loaded = load_scenario(scenario)
    recording = await asyncio.to_thread(simulate, loaded, device, 50.0, seed)
    clock = scaled_clock(loaded.start_epoch_s, speed)
    options = LinkOptions(
        address=DEMO_ADDRESS,
        family_id=device,
        sample_rate_hz=50.0,
        backoff=Backoff(initial_s=0.2, factor=2.0, max_s=5.0),
    )
    async with VirtualAir() as air:
        set_default_central(await air.add_central())
        try:
            await air.add_peripheral(make_virtual_tag(device, recording, speed=speed, address=DEMO_ADDRESS))
            backend = simulator_backend()
            if headless:
                return await stream_json_lines(options, backend, out, clock=clock, duration_s=duration_s, stop=stop)
            session = LiveSession(options, backend, clock=clock)
            view = DemoView(scenario=scenario, device=device, speed=speed)
            console = Console(file=out)
            with Live(view.render(), console=console, refresh_per_second=4, transient=False) as live:

                async def refresh() -> None:
                    while True:
                        live.update(view.render())
                        await asyncio.sleep(0.25)

                refresher = asyncio.create_task(refresh(), name="demo-view")
                try:
                    return await run_session(
                        session, view.take, stop=stop, duration_s=duration_s, include_snapshots=True
                    )
                finally:
                    refresher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await refresher
                    live.update(view.render())
        finally:
            set_default_central(None)


async def _until_interrupted(args: argparse.Namespace) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return await run_demo(
        scenario=args.scenario,
        device=args.device,
        speed=args.speed,
        seed=args.seed,
        out=sys.stdout,
        headless=args.headless,
        duration_s=args.duration,
        stop=stop,
    )


def demo_command(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point for ``posturebuddy demo``."""
    del settings  # the demo uses its own virtual tag, whatever the configured one
    from simulators.wearer import ScenarioError, list_scenarios, load_scenario

    if not args.speed > 0 or not math.isfinite(args.speed):
        print(f"posturebuddy demo: --speed must be a positive number, not {args.speed}", file=sys.stderr)
        return 2
    try:
        load_scenario(args.scenario)
    except FileNotFoundError:
        known = ", ".join(list_scenarios())
        print(f"posturebuddy demo: no scenario {args.scenario!r}; known: {known}", file=sys.stderr)
        return 2
    except ScenarioError as exc:
        print(f"posturebuddy demo: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_until_interrupted(args))
