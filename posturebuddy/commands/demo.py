"""``posturebuddy demo``: the product against a simulated wearer and a virtual tag, no hardware needed.

A simulated wearer (``simulators.wearer``) moves a byte-exact virtual tag (``simulators.tags``) that runs on a
real BLE host stack in this process (bumble); PostureBuddy finds and connects to it through bleak's public API
exactly as it would to a real tag. Sample time runs ``--speed`` times faster than the wall clock, starting at
the scenario's own date and time, so a 45-minute afternoon plays in a little over 2 minutes at ``--speed 20``.

The demo shows the dashboard (:mod:`posturebuddy.ui`), built by the same ``make_app`` as ``posturebuddy run``
over :func:`open_demo_session`; with ``--headless`` it prints JSON lines like ``run --headless``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from posturebuddy.config import Settings
from posturebuddy.link.backoff import Backoff
from posturebuddy.link.scan import BleBackend
from posturebuddy.link.supervisor import LinkOptions
from posturebuddy.session.engine import EngineSettings, engine_settings
from posturebuddy.session.live import LiveSession
from posturebuddy.session.recording_records import SourceKind

if TYPE_CHECKING:
    from simulators.tags.base import VirtualTag

DEMO_ADDRESS = "F8:00:00:00:00:01"


def simulator_backend() -> BleBackend:
    """The bleak backends of the simulator's BLE stack (imported only when a demo runs)."""
    from simulators.ble.backend import BumbleClient, BumbleScanner

    return BleBackend(scanner=BumbleScanner, client=BumbleClient, label="simulator")


def scaled_clock(start_epoch_s: float, speed: float) -> Callable[[], float]:
    """Sample time that starts at ``start_epoch_s`` now and runs ``speed`` times faster than the wall clock."""
    mono0 = time.monotonic()
    return lambda: start_epoch_s + (time.monotonic() - mono0) * speed


@contextlib.asynccontextmanager
async def open_demo_session(
    *,
    scenario: str | Path,
    device: str = "posturebuddy",
    speed: float = 1.0,
    seed: int | None = None,
    engine: EngineSettings | None = None,
    rate_hz: float = 50.0,
    on_tag: Callable[[VirtualTag], None] | None = None,
    recording_path: Path | None = None,
) -> AsyncIterator[LiveSession]:
    """A live session connected (once ``run``) to a virtual tag played by a simulated wearer.

    Enter it inside the running event loop (the bumble stack is created here) and ``await session.run(stop)``
    inside the ``async with``; leaving it tears the virtual radio down. The dashboard enters it in its worker.

    Args:
        scenario: a shipped scenario's name or a scenario file.
        device: the tag family to emulate.
        speed: simulated seconds per wall second.
        seed: overrides the scenario's seed.
        engine: engine settings (default: the built-in defaults).
        rate_hz: the sample rate to simulate and ask for.
        on_tag: called with the virtual tag once it is on the air (tests use it to inject faults).
        recording_path: record the session to this new file (``None``: do not record; the demo itself does
            not record).
    """
    from simulators.ble.stack import VirtualAir, set_default_central
    from simulators.tags import make_virtual_tag
    from simulators.wearer import load_scenario, simulate

    loaded = load_scenario(scenario)
    recording = await asyncio.to_thread(simulate, loaded, device, rate_hz, seed)
    clock = scaled_clock(loaded.start_epoch_s, speed)
    options = LinkOptions(
        address=DEMO_ADDRESS,
        family_id=device,
        sample_rate_hz=rate_hz,
        backoff=Backoff(initial_s=0.2, factor=2.0, max_s=5.0),
    )
    async with VirtualAir() as air:
        set_default_central(await air.add_central())
        try:
            tag = make_virtual_tag(device, recording, speed=speed, address=DEMO_ADDRESS)
            await air.add_peripheral(tag)
            if on_tag is not None:
                on_tag(tag)
            yield LiveSession(
                options,
                simulator_backend(),
                engine_settings=engine,
                clock=clock,
                source_kind=SourceKind.SIMULATED,
                extra_metadata={"scenario": loaded.name, "speed": speed},
                recording_path=recording_path,
            )
        finally:
            set_default_central(None)


async def run_demo(
    *,
    scenario: str,
    device: str,
    speed: float,
    seed: int | None,
    out: TextIO,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Headless demo: simulate, serve the virtual tag, connect and print JSON lines until stopped."""
    from posturebuddy.commands.run import stream_json_lines
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
            return await stream_json_lines(
                options, simulator_backend(), out, clock=clock, duration_s=duration_s, stop=stop
            )
        finally:
            set_default_central(None)


async def _until_interrupted(args: argparse.Namespace) -> int:
    from posturebuddy.commands.run import install_stop_signals

    stop = asyncio.Event()
    install_stop_signals(stop)
    return await run_demo(
        scenario=args.scenario,
        device=args.device,
        speed=args.speed,
        seed=args.seed,
        out=sys.stdout,
        duration_s=args.duration,
        stop=stop,
    )


def demo_app_factory(
    args: argparse.Namespace, settings: Settings
) -> Callable[[], contextlib.AbstractAsyncContextManager[LiveSession]]:
    """The session factory the dashboard enters for ``posturebuddy demo`` (the user's detection and coaching
    settings apply; the tag is always the virtual one)."""
    engine = engine_settings(settings)

    def factory() -> contextlib.AbstractAsyncContextManager[LiveSession]:
        return open_demo_session(
            scenario=args.scenario, device=args.device, speed=args.speed, seed=args.seed, engine=engine
        )

    return factory


def run_dashboard_demo(args: argparse.Namespace, settings: Settings) -> int:
    """The dashboard against the virtual tag; returns the exit status."""
    from posturebuddy.ui.app import make_app

    app = make_app(
        demo_app_factory(args, settings),
        settings,
        label=f"demo: {args.scenario} x{args.speed:g}",
        can_write_config=False,
        duration_s=args.duration,
    )
    app.run()
    return app.return_code or 0


def demo_command(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point for ``posturebuddy demo``."""
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
    if args.headless:
        return asyncio.run(_until_interrupted(args))
    return run_dashboard_demo(args, settings)
