"""Helpers for the dashboard tests: a hand-moved wall clock, draining the stream deterministically."""

from __future__ import annotations

import asyncio
from typing import TypeVar

from textual.message import Message
from textual.pilot import Pilot
from ui_fakes import FakeSession

from posturebuddy.ui.app import PostureBuddyApp

M = TypeVar("M", bound=Message)


class FakeWallClock:
    """A wall clock the test moves by hand (guided sets run on it)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle(pilot: Pilot[None], rounds: int = 2) -> None:
    """Fold what the session published into the view now (instead of waiting for the redraw timer) and let the
    app handle the messages that posts."""
    app = pilot.app
    assert isinstance(app, PostureBuddyApp)
    for _ in range(rounds):
        app.redraw()
        await pilot.pause()


async def started(session: FakeSession, pilot: Pilot[None]) -> None:
    """Wait until the app's worker has entered the session."""
    await asyncio.wait_for(session.started.wait(), 5.0)
    await settle(pilot)


def of_type(messages: list[Message], kind: type[M]) -> list[M]:
    """The messages of one kind, in order (a bubbling message reaches the hook once per node: counted once)."""
    seen: set[int] = set()
    found: list[M] = []
    for m in messages:
        if isinstance(m, kind) and id(m) not in seen:
            seen.add(id(m))
            found.append(m)
    return found


async def workers_done(app: PostureBuddyApp, group: str) -> None:
    """Wait for the app's workers of one group (never the session's, which runs until quit)."""
    workers = [w for w in app.workers if w.group == group]
    if workers:  # (an empty list would mean "all workers" to wait_for_complete)
        await asyncio.wait_for(app.workers.wait_for_complete(workers), 5.0)
