"""``posturebuddy calibrate``: teach PostureBuddy your upright posture, in the terminal, and remember it per tag.

Two steps over a live session: "sit upright and keep still" (the engine's upright capture, a few seconds), then,
unless ``--no-lean``, "lean forward a little and hold" (:class:`~posturebuddy.motion.calibration.LeanCapture`),
which tells which way is forward on *your* back instead of trusting the tag family's documented mounting. The
result goes to the calibration store (:mod:`posturebuddy.session.calibration_store`); ``run`` and the dashboard
start with it next time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from posturebuddy.config import Settings, data_dir
from posturebuddy.link.errors import explain
from posturebuddy.link.scan import BleBackend
from posturebuddy.motion.calibration import (
    NO_LEAN_SEEN,
    CalibrationError,
    ForwardMethod,
    LeanCapture,
    StillCapture,
    UprightReference,
)
from posturebuddy.session.calibration_store import CalibrationStore
from posturebuddy.session.engine import CalibrationChanged, CalibrationProgressed, EngineSnapshot, engine_settings
from posturebuddy.session.live import LiveSession

HOW_UPRIGHT = "calibrate command"
HOW_LEAN = "calibrate command (lean)"


@dataclass(frozen=True, slots=True)
class CalibrateOutcome:
    """What a calibration run produced.

    Attributes:
        reference: the reference now in use and stored (``None``: the upright step did not finish).
        lean_done: whether the forward direction came from the wearer's own lean.
        message: one line for the user on what happened (or why not).
    """

    reference: UprightReference | None
    lean_done: bool
    message: str


async def calibrate_session(
    session: LiveSession,
    console: Console,
    *,
    lean: bool = True,
    timeout_s: float = 120.0,
) -> CalibrateOutcome:
    """Run the two steps over ``session`` (not yet running) and stop it afterwards.

    ``timeout_s`` bounds the whole run in wall seconds (finding the tag included).
    """
    stop = asyncio.Event()
    subscription = session.bus.subscribe("calibrate")
    run_task = asyncio.create_task(session.run(stop), name="calibrate-session")
    started = False
    upright: UprightReference | None = None
    lean_capture: LeanCapture | None = None
    lean_done = False
    message = "the tag was not found or sent no data"

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[hint]}"), console=console
    )
    upright_task = progress.add_task("Sit upright and keep still", total=1.0, hint="connecting...", visible=True)
    lean_task = progress.add_task("Lean forward a little, hold", total=1.0, hint="", visible=False)

    async def consume() -> None:
        nonlocal started, upright, lean_capture, lean_done, message
        async for item in subscription:
            if not started and isinstance(item, EngineSnapshot):
                started = True
                session.engine.calibrate(HOW_UPRIGHT)
                progress.update(upright_task, hint="keep still")
            elif isinstance(item, CalibrationProgressed) and upright is None:
                status = item.status
                progress.update(upright_task, completed=status.progress, hint=status.reason or "keep still")
            elif isinstance(item, CalibrationChanged) and item.how == HOW_UPRIGHT:
                upright = item.reference
                progress.update(upright_task, completed=1.0, hint="done")
                message = "upright posture saved"
                if not lean:
                    return
                still = StillCapture(
                    up_tag=upright.up_tag,
                    t_start_s=upright.t_s - upright.duration_s,
                    t_end_s=upright.t_s,
                    spread_deg=upright.spread_deg,
                    samples=0,
                    mean_motion_energy=0.0,
                )
                family = session.link.family
                lean_capture = LeanCapture(still, expected_forward=family.forward_axis if family else None)
                progress.update(lean_task, visible=True, hint="lean forward from the hips, 10-20 deg")
            elif isinstance(item, EngineSnapshot) and lean_capture is not None and item.tilt is not None:
                status = lean_capture.update(item.tilt)
                progress.update(lean_task, completed=status.progress, hint=status.reason or "hold it")
                result = lean_capture.result
                if result is not None:
                    reference = lean_capture.reference()
                    session.use_reference(reference, HOW_LEAN)
                    upright = reference
                    lean_done = True
                    message = f"upright posture and forward direction saved (lean {result.lean_deg:.0f} deg)"
                    progress.update(lean_task, completed=1.0, hint="done: sit upright again")
                    return
                if status.reason == NO_LEAN_SEEN:
                    message = "upright posture saved; no forward lean seen, so the tag's mounting gives forward"
                    return

    with progress:
        consume_task = asyncio.create_task(consume(), name="calibrate-consume")
        done, _ = await asyncio.wait({consume_task, run_task}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            message = (
                "upright posture saved; the lean step timed out, so the tag's mounting gives forward"
                if upright is not None
                else "timed out: sit still and upright with the tag on, then run 'posturebuddy calibrate' again"
            )
    stop.set()
    consume_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await consume_task
    await run_task
    if session.error and upright is None:
        message = session.error
    return CalibrateOutcome(upright, lean_done, message)


async def _calibrate(settings: Settings, args: argparse.Namespace, console: Console) -> int:
    from posturebuddy.commands.run import link_options

    store = CalibrationStore(data_dir())
    options = link_options(settings, address=args.address)
    session = LiveSession(options, BleBackend(), engine_settings=engine_settings(settings), calibrations=store)
    console.print(
        "Put the tag on your upper back as you normally wear it, sit upright (comfortably, not stiffly) "
        "and keep still for a few seconds."
    )
    try:
        outcome = await calibrate_session(session, console, lean=not args.no_lean)
    except Exception as exc:  # noqa: BLE001 (a Bluetooth failure gets its one-sentence explanation)
        console.print(f"[red]posturebuddy calibrate: {explain(exc)}[/]")
        return 1
    if store.problem:
        console.print(f"[yellow]note: {store.problem}[/]")
    ref = outcome.reference
    if ref is None:
        console.print(f"[red]posturebuddy calibrate: {outcome.message}[/]")
        return 1
    tag = session.tag
    console.print(f"[green]{outcome.message}[/] for {(tag.name or tag.address) if tag else 'the tag'}.")
    console.print(
        f"  held still for {ref.duration_s:.1f} s (spread {ref.spread_deg:.1f} deg); forward from "
        f"{'your lean' if outcome.lean_done else 'the tag mounting'}; stored in {store.path}"
    )
    return 0


def _list(store: CalibrationStore, console: Console) -> int:
    entries = store.all()
    if store.problem:
        console.print(f"[yellow]note: {store.problem}[/]")
    if not entries:
        console.print(f"No calibration remembered yet ({store.path}). Run 'posturebuddy calibrate'.")
        return 0
    for stored in entries:
        ref = stored.reference
        when = datetime.fromtimestamp(stored.saved_wall_s).astimezone().strftime("%Y-%m-%d %H:%M")
        forward = "your lean" if ref.forward_method is ForwardMethod.LEAN else f"the {ref.forward_method} direction"
        console.print(f"{stored.address}  {stored.family_id:<13} saved {when} by {stored.how}; forward from {forward}")
    return 0


def _forget(store: CalibrationStore, address: str | None, console: Console) -> int:
    if not address:
        console.print("[red]posturebuddy calibrate: --forget needs the tag: give --address or set [tag] address[/]")
        return 2
    if store.forget(address):
        console.print(f"Forgot the calibration of {address.upper()}; the next session captures your upright anew.")
    else:
        console.print(f"No calibration was remembered for {address.upper()}.")
    return 0


def run_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point for ``posturebuddy calibrate``."""
    console = Console(highlight=False)
    if args.list:
        return _list(CalibrationStore(data_dir()), console)
    if args.forget:
        return _forget(CalibrationStore(data_dir()), args.address or settings.tag.address or None, console)
    try:
        return asyncio.run(_calibrate(settings, args, console))
    except CalibrationError as exc:
        console.print(f"[red]posturebuddy calibrate: {exc}[/]")
        return 1
    except KeyboardInterrupt:
        console.print("calibration cancelled; nothing was changed")
        return 130
