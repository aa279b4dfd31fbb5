"""``posturebuddy calibrate``: teach PostureBuddy your upright posture, in the terminal, and remember it per tag.

Two steps over a live session: "sit upright and keep still" (the engine's upright capture, a few seconds), then,
unless ``--no-lean``, "lean forward a little and hold" (:class:`~posturebuddy.motion.calibration.LeanCapture`),
which tells which way is forward on *your* back instead of trusting the tag family's documented mounting. The
result goes to the calibration store (:mod:`posturebuddy.session.calibration_store`); ``run`` and the dashboard
start with it next time.

``calibrate --accel`` is a different step, done once per tag, off the body: lay the tag on each of its six faces
in turn and hold it still (:mod:`posturebuddy.motion.accel_faces`); the fitted accelerometer offsets and
sensitivities are stored for the tag and applied to its readings in every later session (and carried into its
recordings, so replay and analyze apply them too). It matters most for accelerometer-only tags (micro:bit),
whose tilt comes straight from the accelerometer. ``--simulate DEVICE`` runs it against a virtual tag.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
from dataclasses import dataclass
from datetime import datetime

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from posturebuddy.config import Settings, data_dir
from posturebuddy.devices import TagFamily, get_family
from posturebuddy.link.errors import explain
from posturebuddy.link.scan import BleBackend
from posturebuddy.model import ConnectionState, ConnectionStateChanged, Sample, StreamStarted
from posturebuddy.motion.accel_faces import FACES, FaceStatus, SixFaceCapture, SixFaceSettings
from posturebuddy.motion.calibration import (
    NO_LEAN_SEEN,
    CalibrationError,
    ForwardMethod,
    LeanCapture,
    StillCapture,
    UprightReference,
)
from posturebuddy.motion.orientation import AccelFit
from posturebuddy.session.calibration_store import CalibrationStore, StoredAccelCalibration
from posturebuddy.session.engine import (
    CalibrationChanged,
    CalibrationProgressed,
    EngineSettings,
    EngineSnapshot,
    engine_settings,
)
from posturebuddy.session.live import LiveSession

HOW_UPRIGHT = "calibrate command"
HOW_LEAN = "calibrate command (lean)"
HOW_ACCEL = "six faces"
ACCEL_TIMEOUT_S = 180.0
"""Wall seconds the six-face step may take, finding the tag included."""
ACCEL_INSTRUCTIONS = (
    "Take the tag off. Lay it flat on a table on each of its six faces in turn, any order; hold each still for "
    "{hold:g} s. A face is named by the tag axis pointing up (+z: the tag's z axis up)."
)


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


async def _wind_down(stop: asyncio.Event, consume_task: asyncio.Task[None], run_task: asyncio.Task[int]) -> None:
    """End a calibration step: stop the session, drop the event consumer, wait for the session to close."""
    stop.set()
    consume_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await consume_task
    await run_task


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
    await _wind_down(stop, consume_task, run_task)
    if session.error and upright is None:
        message = session.error
    return CalibrateOutcome(upright, lean_done, message)


def has_own_orientation(family: TagFamily) -> bool:
    """Whether the family's tilt does not come from the accelerometer alone (a gyroscope or its own quaternion)."""
    caps = family.capabilities
    return caps.gyro or caps.quaternion


@dataclass(frozen=True, slots=True)
class AccelOutcome:
    """What a six-face run produced.

    Attributes:
        fit: the fitted correction (``None``: the step did not finish or the fit was refused).
        stored: what was stored (``None``: nothing was stored; whatever was stored before is unchanged).
        dropped_upright: the tag's stored upright reference was dropped (it was measured uncorrected).
        faces_done: the faces captured, in :data:`~posturebuddy.motion.accel_faces.FACES` order.
        family: the tag's family, once it streamed.
        message: one line for the user on what happened (or why not).
    """

    fit: AccelFit | None
    stored: StoredAccelCalibration | None
    dropped_upright: bool
    faces_done: tuple[str, ...]
    family: TagFamily | None
    message: str


def _face_line(face: str, status: FaceStatus) -> tuple[float, str]:
    """Bar fill and state text of one face's line."""
    if face in status.done:
        return 1.0, "[green]done[/]"
    if status.current == face:
        return status.progress, "keep still..."
    return 0.0, "[dim]to do[/]"


async def calibrate_accel_session(
    session: LiveSession,
    console: Console,
    store: CalibrationStore | None,
    *,
    timeout_s: float = ACCEL_TIMEOUT_S,
    settings: SixFaceSettings | None = None,
) -> AccelOutcome:
    """Run the six-face step over ``session`` (not yet running; it should neither remember nor capture upright
    references: the tag is off the body) and stop it afterwards. On success the correction is saved in ``store``
    (unless ``None``) for the tag's address, dropping its upright reference.

    ``timeout_s`` bounds the whole run in wall seconds (finding the tag included). The readings are the decoded
    samples' raw ``accel_g`` (tag frame, g) on sample time, so the step is the same at any simulation speed.
    """
    capture = SixFaceCapture(settings)
    hold_s = capture.settings.hold_s
    stop = asyncio.Event()
    subscription = session.bus.subscribe("calibrate-accel")
    run_task = asyncio.create_task(session.run(stop), name="calibrate-accel-session")
    state: dict[str, object] = {"message": "the tag was not found or sent no data", "lost": False}
    fit: AccelFit | None = None
    stored: StoredAccelCalibration | None = None
    dropped = False
    family: TagFamily | None = None
    tag: StreamStarted | None = None

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(bar_width=24), TextColumn("{task.fields[state]}"), console=console
    )
    hint_task = progress.add_task("[bold]tag[/]  ", total=1.0, state="connecting...")
    face_tasks: dict[str, TaskID] = {
        face: progress.add_task(f"face {face}", total=1.0, state="[dim]to do[/]") for face in FACES
    }

    def show(status: FaceStatus) -> None:
        for face, task in face_tasks.items():
            done, text = _face_line(face, status)
            progress.update(task, completed=done, state=text)
        progress.update(hint_task, completed=len(status.done) / len(FACES), state=status.hint)

    async def consume() -> None:
        nonlocal fit, stored, dropped, family, tag
        last_hint = ""
        async for item in subscription:
            if isinstance(item, StreamStarted):
                tag = item
                state["lost"] = False
                try:
                    family = get_family(item.family_id)
                except KeyError:
                    state["message"] = f"the tag's family {item.family_id!r} is not known; nothing was stored"
                    return
                if not family.capabilities.accel:
                    state["message"] = (
                        f"the {family.display_name} sends no accelerometer readings, so there is nothing to calibrate"
                    )
                    return
                if has_own_orientation(family) and last_hint == "":
                    progress.console.print(
                        f"note: the {family.display_name} has its own orientation (gyroscope or fusion); this step "
                        "matters most for accelerometer-only tags (micro:bit), but it is stored and applied all the "
                        "same."
                    )
                last_hint = "streaming"
                progress.update(hint_task, state=capture.status.hint)
            elif isinstance(item, ConnectionStateChanged) and tag is not None:
                if item.state in (ConnectionState.RECONNECTING, ConnectionState.SCANNING, ConnectionState.CONNECTING):
                    state["lost"] = True
                    progress.update(
                        hint_task,
                        state="[yellow]the tag went away: waiting for it to come back (faces done are kept)[/]",
                    )
            elif isinstance(item, Sample) and item.accel_g is not None:
                status = capture.update(item.t_s, item.accel_g)
                show(status)
                if status.complete:
                    try:
                        fit = capture.fit()
                    except CalibrationError as exc:
                        state["message"] = f"{exc}; nothing was stored"
                        return
                    if store is not None and tag is not None:
                        dropped = store.get(tag.address) is not None
                        try:
                            stored = store.save_accel(tag.address, tag.family_id, fit, HOW_ACCEL)
                        except OSError as exc:
                            dropped = False
                            state["message"] = f"cannot write {store.path}: {exc.strerror or exc}; nothing was stored"
                            return
                    state["message"] = "accelerometer calibrated"
                    return

    with progress:
        consume_task = asyncio.create_task(consume(), name="calibrate-accel-consume")
        done, _ = await asyncio.wait({consume_task, run_task}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if not done:
            status = capture.status
            have = ", ".join(status.done) or "none"
            missing = ", ".join(f for f in FACES if f not in status.done)
            if tag is None:
                state["message"] = f"timed out after {timeout_s:.0f} s: the tag was not found or sent no data"
            elif state["lost"]:
                state["message"] = (
                    f"the tag went away mid-step and did not come back within {timeout_s:.0f} s (faces done: {have}); "
                    "nothing was stored"
                )
            else:
                state["message"] = (
                    f"timed out after {timeout_s:.0f} s with faces {missing} still to do (done: {have}); nothing was "
                    f"stored: run it again and hold the tag still on each face for {hold_s:g} s"
                )
    await _wind_down(stop, consume_task, run_task)
    if session.error and fit is None:
        state["message"] = f"{session.error}; nothing was stored"
    return AccelOutcome(fit, stored, dropped, capture.status.done, family, str(state["message"]))


def print_accel_result(outcome: AccelOutcome, console: Console, store: CalibrationStore, address: str) -> None:
    """The fitted correction in the units a user can compare with a datasheet (mg, %)."""
    fit = outcome.fit
    assert fit is not None
    cal = fit.calibration
    console.print(
        f"[green]Accelerometer calibrated[/] for {address}"
        + (f" ({outcome.family.display_name})" if outcome.family else "")
        + ":"
    )
    console.print(
        "  offset       " + "   ".join(f"{a} {b * 1000:+6.1f} mg" for a, b in zip("xyz", cal.bias_g, strict=True))
    )
    console.print(
        "  sensitivity  " + "   ".join(f"{a} {(k - 1) * 100:+6.2f} %" for a, k in zip("xyz", cal.scale, strict=True))
    )
    console.print(
        f"  |reading| - 1 g over {fit.chunks} still chunks: {fit.rms_before_g * 1000:.1f} mg RMS before, "
        f"{fit.rms_after_g * 1000:.1f} mg after"
    )
    if outcome.stored is not None:
        console.print(f"  stored in {store.path}; every session with this tag applies it from now on")
    if outcome.dropped_upright:
        console.print(
            "[yellow]The upright posture remembered for this tag was measured with the uncorrected readings and has "
            "been dropped.[/] Put the tag back on and run 'posturebuddy calibrate'."
        )
    else:
        console.print("Next: put the tag back on and run 'posturebuddy calibrate' to teach it your upright posture.")


async def _calibrate_accel(settings: Settings, args: argparse.Namespace, console: Console) -> int:
    store = CalibrationStore(data_dir())
    hold = SixFaceSettings().hold_s
    engine = EngineSettings(auto_calibrate=False)  # the tag is off the body: no upright capture
    console.print(ACCEL_INSTRUCTIONS.format(hold=hold))
    if store.problem:
        console.print(f"[yellow]note: {store.problem}[/]")
    try:
        if args.simulate:
            from posturebuddy.commands.demo import open_demo_session

            console.print(f"[dim]simulated {args.simulate} tag, x{args.speed:g} speed: the tag is turned for you[/]")
            async with open_demo_session(
                scenario="six_faces", device=args.simulate, speed=args.speed, engine=engine
            ) as session:
                outcome = await calibrate_accel_session(session, console, store)
        else:
            from posturebuddy.commands.run import link_options

            options = link_options(settings, address=args.address)
            session = LiveSession(options, BleBackend(), engine_settings=engine, calibrations=None)
            outcome = await calibrate_accel_session(session, console, store)
    except Exception as exc:  # noqa: BLE001 (a Bluetooth failure gets its one-sentence explanation)
        console.print(f"[red]posturebuddy calibrate: {explain(exc)}; nothing was stored[/]")
        return 1
    tag = session.tag
    address = tag.address if tag else (args.address or "the tag")
    problem = store.entry_problems.get(address.upper()) if tag else None
    if problem and outcome.stored is None:
        console.print(f"[yellow]note: what was stored for {address} cannot be read ({problem}); it is kept as it is[/]")
    if outcome.fit is None:
        console.print(f"[red]posturebuddy calibrate --accel: {outcome.message}[/]")
        return 1
    print_accel_result(outcome, console, store, address)
    return 0


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


def _when(wall_s: float) -> str:
    return datetime.fromtimestamp(wall_s).astimezone().strftime("%Y-%m-%d %H:%M")


def _list(store: CalibrationStore, console: Console) -> int:
    entries = store.all()
    accels = store.all_accel()
    if store.problem:
        console.print(f"[yellow]note: {store.problem}[/]")
    if not entries and not accels and not store.entry_problems:
        console.print(f"No calibration remembered yet ({store.path}). Run 'posturebuddy calibrate'.")
        return 0
    for stored in entries:
        ref = stored.reference
        forward = "your lean" if ref.forward_method is ForwardMethod.LEAN else f"the {ref.forward_method} direction"
        console.print(
            f"{stored.address}  {stored.family_id:<13} saved {_when(stored.saved_wall_s)} by {stored.how}; "
            f"forward from {forward}"
        )
    for acc in accels:
        cal = acc.calibration
        offsets = "/".join(f"{b * 1000:+.0f}" for b in cal.bias_g)
        gains = "/".join(f"{(k - 1) * 100:+.1f}" for k in cal.scale)
        after = f", {acc.rms_after_g * 1000:.1f} mg RMS after" if math.isfinite(acc.rms_after_g) else ""
        console.print(
            f"{acc.address}  {acc.family_id:<13} accelerometer ({acc.how}) saved {_when(acc.saved_wall_s)}: "
            f"offset x/y/z {offsets} mg, sensitivity {gains} % ({acc.chunks} chunks{after})"
        )
    for address, problem in sorted(store.entry_problems.items()):
        console.print(
            f"[yellow]{address}: {problem}; not used (run 'posturebuddy calibrate' or 'calibrate --accel' to "
            "replace it)[/]"
        )
    if entries and not accels:
        console.print(
            "[dim]accelerometer-only tags (micro:bit): 'posturebuddy calibrate --accel' corrects their angles[/]"
        )
    return 0


def _forget(store: CalibrationStore, address: str | None, console: Console) -> int:
    if not address:
        console.print("[red]posturebuddy calibrate: --forget needs the tag: give --address or set [tag] address[/]")
        return 2
    if store.forget(address):
        console.print(
            f"Forgot the calibration of {address.upper()} (upright posture and accelerometer); the next session "
            "captures your upright anew."
        )
    else:
        console.print(f"No calibration was remembered for {address.upper()}.")
    return 0


def run_calibrate(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point for ``posturebuddy calibrate``."""
    console = Console(highlight=False)
    simulate = getattr(args, "simulate", None)
    accel = getattr(args, "accel", False)
    if simulate and not accel:
        console.print(
            "[red]posturebuddy calibrate: --simulate only works with --accel (the upright step needs you wearing a "
            "real tag; 'posturebuddy demo' shows a simulated wearer)[/]"
        )
        return 2
    if accel and (args.list or args.forget or args.no_lean):
        console.print("[red]posturebuddy calibrate: --accel cannot be combined with --list, --forget or --no-lean[/]")
        return 2
    if args.list:
        return _list(CalibrationStore(data_dir()), console)
    if args.forget:
        return _forget(CalibrationStore(data_dir()), args.address or settings.tag.address or None, console)
    if accel:
        if simulate and not (math.isfinite(args.speed) and args.speed > 0):
            console.print(f"[red]posturebuddy calibrate: --speed must be a positive number, not {args.speed}[/]")
            return 2
        if simulate:
            try:
                get_family(simulate)
            except KeyError as exc:
                console.print(f"[red]posturebuddy calibrate: --simulate {simulate}: {exc}[/]")
                return 2
        try:
            return asyncio.run(_calibrate_accel(settings, args, console))
        except KeyboardInterrupt:
            console.print("calibration cancelled; nothing was changed")
            return 130
    try:
        return asyncio.run(_calibrate(settings, args, console))
    except CalibrationError as exc:
        console.print(f"[red]posturebuddy calibrate: {exc}[/]")
        return 1
    except KeyboardInterrupt:
        console.print("calibration cancelled; nothing was changed")
        return 130
