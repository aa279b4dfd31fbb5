"""``posturebuddy run``: the dashboard against your tag; ``run --headless`` streams JSON lines instead.

Both sit on a :class:`~posturebuddy.session.live.LiveSession` (connection supervisor, recorder, decoding stage,
posture engine) over the system's Bluetooth stack (bleak). The dashboard (:mod:`posturebuddy.ui`) enters the
session factory of :func:`live_session_factory` inside its own event loop; the headless mode prints the
session's event stream one JSON line per item.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from posturebuddy.config import Settings, config_path, data_dir, recordings_dir
from posturebuddy.link.backoff import Backoff
from posturebuddy.link.scan import BleBackend
from posturebuddy.link.supervisor import LinkOptions, TagLink
from posturebuddy.session.calibration_store import CalibrationStore
from posturebuddy.session.engine import EngineSettings, EngineSnapshot, engine_settings
from posturebuddy.session.jsonl import to_json_line
from posturebuddy.session.live import LiveSession


def link_options(settings: Settings, *, address: str | None = None, family: str | None = None) -> LinkOptions:
    """Link options from the settings, overridden by command-line choices."""
    tag = settings.tag
    return LinkOptions(
        address=address or tag.address or None,
        family_id=family or (tag.family if tag.family != "auto" else None),
        sample_rate_hz=tag.sample_rate_hz,
        scan_timeout_s=settings.link.connect_timeout_s,
        backoff=Backoff(initial_s=0.5, factor=2.0, max_s=settings.link.reconnect_max_s),
        battery_poll_s=settings.link.battery_poll_s,
        queue_size=settings.link.queue_size,
    )


def new_recording_path(settings: Settings, when_s: float, label: str = "session") -> Path:
    """A fresh recording file name in the recordings directory, e.g. ``2026-11-21_0930_session.pbrec``."""
    stamp = datetime.fromtimestamp(when_s).astimezone().strftime("%Y-%m-%d_%H%M%S")
    return recordings_dir(settings) / f"{stamp}_{label}.pbrec"


def apply_retention_before(settings: Settings, recording: Path) -> None:
    """Retention: trim raw data older than ``[recording] retention_days`` from the other recordings (never
    ``recording``, the one about to be written). A failure is logged; it never stops the session."""
    from posturebuddy.session.retention import apply_retention

    try:
        apply_retention(recordings_dir(settings), settings.recording.retention_days, exclude=[recording])
    except Exception:  # retention is housekeeping: log it, coach anyway
        logging.getLogger(__name__).exception("retention failed; the session goes on")


def install_stop_signals(stop: asyncio.Event) -> None:
    """Ctrl-C and SIGTERM set ``stop`` (a clean shutdown: stop notifications, disconnect, flush)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_session(
    session: LiveSession,
    emit: Callable[[object], None],
    *,
    stop: asyncio.Event,
    duration_s: float | None = None,
    include_snapshots: bool = False,
) -> int:
    """Run ``session`` and hand every item of its event stream to ``emit``, in order."""
    subscription = session.bus.subscribe("emit")

    async def pump() -> None:
        async for item in subscription:
            if include_snapshots or not isinstance(item, EngineSnapshot):
                emit(item)

    pump_task = asyncio.create_task(pump(), name="emit")
    status = await session.run(stop, duration_s=duration_s)
    await pump_task
    if session.error:
        print(f"posturebuddy: {session.error}", file=sys.stderr)
    return status


async def stream_json_lines(
    options: LinkOptions,
    backend: BleBackend,
    out: TextIO,
    *,
    clock: Callable[[], float] | None = None,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    on_link: Callable[[TagLink], None] | None = None,
    engine: EngineSettings | None = None,
    recording_path: Path | None = None,
    calibrations: CalibrationStore | None = None,
) -> int:
    """Connect and print every item of the session's event stream as a JSON line until stopped.

    If the reader goes away (``... | head``), the stream stops quietly instead of failing.

    Args:
        options: what to connect to.
        backend: bleak backends (system or simulator).
        out: where the lines go.
        clock: sample-time clock (scaled for accelerated simulations); default: the link's own.
        duration_s: stop after this much *wall* time (``None``: until ``stop`` is set or Ctrl-C).
        stop: an event that ends the stream when set.
        on_link: called with the link once created (tests and the demo use it to nudge or inspect).
        engine: engine settings (default: built-in defaults).
        recording_path: record the session to this file (``None``: do not record).
        calibrations: remembered upright references per tag (``None``: none are used or kept).

    Returns:
        0, or 1 after an unrecoverable link error (its one-sentence explanation goes to stderr).
    """
    stop = stop or asyncio.Event()
    session = LiveSession(
        options,
        backend,
        engine_settings=engine,
        clock=clock,
        recording_path=recording_path,
        calibrations=calibrations,
    )
    if on_link is not None:
        on_link(session.link)
    reader_gone = False

    def emit(item: object) -> None:
        nonlocal reader_gone
        if reader_gone:
            return
        try:
            out.write(to_json_line(item) + "\n")
        except BrokenPipeError:
            reader_gone = True
            stop.set()

    try:
        return await run_session(session, emit, stop=stop, duration_s=duration_s)
    finally:
        with contextlib.suppress(BrokenPipeError):
            out.flush()


async def _run_headless(settings: Settings, options: LinkOptions, *, record: bool) -> int:
    stop = asyncio.Event()
    install_stop_signals(stop)
    path = new_recording_path(settings, datetime.now().timestamp()) if record else None  # noqa: DTZ005
    if path is not None:
        await asyncio.to_thread(apply_retention_before, settings, path)
    return await stream_json_lines(
        options,
        BleBackend(),
        sys.stdout,
        stop=stop,
        engine=engine_settings(settings),
        recording_path=path,
        calibrations=CalibrationStore(data_dir()),
    )


def live_session_factory(
    settings: Settings, options: LinkOptions, *, record: bool, backend: BleBackend | None = None
) -> Callable[[], contextlib.AbstractAsyncContextManager[LiveSession]]:
    """The session factory the dashboard enters for ``posturebuddy run`` (system Bluetooth by default)."""

    @contextlib.asynccontextmanager
    async def factory() -> AsyncIterator[LiveSession]:
        path = new_recording_path(settings, datetime.now().timestamp()) if record else None  # noqa: DTZ005
        if path is not None:
            await asyncio.to_thread(apply_retention_before, settings, path)
        yield LiveSession(
            options,
            backend or BleBackend(),
            engine_settings=engine_settings(settings),
            recording_path=path,
            calibrations=CalibrationStore(data_dir()),
        )

    return factory


def run_dashboard(settings: Settings, options: LinkOptions, *, record: bool, config_file: str | None) -> int:
    """The dashboard against the configured tag; returns the exit status."""
    from posturebuddy.ui.app import make_app

    target = options.address or "the first supported tag"
    app = make_app(
        live_session_factory(settings, options, record=record),
        settings,
        label=f"live: {target}",
        config_file=config_path(config_file),
    )
    app.run()
    return app.return_code or 0


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point for ``posturebuddy run``."""
    options = link_options(settings, address=args.address, family=args.family)
    record = settings.recording.enabled and not args.no_record
    if not args.headless:
        return run_dashboard(settings, options, record=record, config_file=getattr(args, "config", None))
    return asyncio.run(_run_headless(settings, options, record=record))
