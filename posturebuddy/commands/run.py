"""``posturebuddy run --headless``: stream decoded samples and link events as JSON lines.

The dashboard (``run`` without ``--headless``) arrives with its own capability; this is the headless core it
will sit on: the connection supervisor, the decoding stage, one JSON line per item on standard output.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from typing import TextIO

from posturebuddy.config import Settings
from posturebuddy.link.backoff import Backoff
from posturebuddy.link.errors import LinkError
from posturebuddy.link.scan import BleBackend
from posturebuddy.link.supervisor import LinkOptions, TagLink
from posturebuddy.session.decoding import PacketDecoder
from posturebuddy.session.jsonl import to_json_line


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


async def stream_items(
    options: LinkOptions,
    backend: BleBackend,
    emit: Callable[[object], None],
    *,
    clock: Callable[[], float] | None = None,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    on_link: Callable[[TagLink], None] | None = None,
) -> int:
    """Connect and hand every decoded item and link event to ``emit`` until stopped.

    Args:
        options: what to connect to.
        backend: bleak backends (system or simulator).
        emit: receives samples, tag status, battery readings, gaps, rejected packets and link events, in order.
        clock: sample-time clock (scaled for accelerated simulations); default: the link's own.
        duration_s: stop after this much *wall* time (``None``: until ``stop`` is set or Ctrl-C).
        stop: an event that ends the stream when set.
        on_link: called with the link once created (tests and the demo use it to nudge or inspect).

    Returns:
        0, or 1 after an unrecoverable link error (its one-sentence explanation goes to stderr).
    """
    stop = stop or asyncio.Event()
    link = TagLink(options, backend, emit, clock=clock)
    if on_link is not None:
        on_link(link)
    decoder = PacketDecoder()

    async def consume() -> None:
        while True:
            packet = await link.packets.get()
            for item in decoder.feed(packet):
                emit(item)

    link_task: asyncio.Task[None] = asyncio.create_task(link.run(), name="link")
    consume_task: asyncio.Task[None] = asyncio.create_task(consume(), name="decode")
    stop_task: asyncio.Task[bool] = asyncio.create_task(stop.wait(), name="stop")
    await asyncio.wait({link_task, stop_task}, timeout=duration_s, return_when=asyncio.FIRST_COMPLETED)
    await link.stop()
    status = 0
    try:
        await link_task
    except LinkError as exc:
        print(f"posturebuddy: {exc}", file=sys.stderr)
        status = 1
    finally:
        for packet in link.packets.drain():  # decode what arrived before the stop
            for item in decoder.feed(packet):
                emit(item)
        for task in (consume_task, stop_task):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
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
) -> int:
    """:func:`stream_items` printing one JSON line per item to ``out``.

    If the reader goes away (``... | head``), the stream stops quietly instead of failing.
    """
    stop = stop or asyncio.Event()
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
        return await stream_items(
            options, backend, emit, clock=clock, duration_s=duration_s, stop=stop, on_link=on_link
        )
    finally:
        with contextlib.suppress(BrokenPipeError):
            out.flush()


async def _run_until_interrupted(options: LinkOptions, backend: BleBackend) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return await stream_json_lines(options, backend, sys.stdout, stop=stop)


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    """Entry point for ``posturebuddy run``."""
    if not args.headless:
        print(
            "posturebuddy run: the dashboard is not available yet (it arrives with issue #6); use "
            "'posturebuddy run --headless' to stream samples as JSON lines.",
            file=sys.stderr,
        )
        return 69
    options = link_options(settings, address=args.address, family=args.family)
    return asyncio.run(_run_until_interrupted(options, BleBackend()))
