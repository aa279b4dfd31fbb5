"""The session's event stream: one publisher, several subscribers, each with its own bounded queue.

High-rate items (samples, angles) may be dropped for a slow subscriber: when its queue is full, the oldest
*droppable* item goes. State changes (connection, episodes, prompts) are never dropped: a subscriber that
falls behind on them still gets every one. ``publish`` never blocks and never raises, so it is safe to call
from the link's hot path.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any


def _never(_: object) -> bool:
    return False


class Subscription:
    """One subscriber's queue. Iterate it with ``async for``; it ends after :meth:`EventBus.close`."""

    def __init__(self, bus: EventBus, name: str, maxsize: int, droppable: Callable[[object], bool]) -> None:
        self.name = name
        self.maxsize = maxsize
        self.dropped = 0
        self._bus = bus
        self._items: deque[object] = deque()
        self._droppable = droppable
        self._droppable_queued = 0  # how many queued items are droppable (no futile scans when there are none)
        self._ready = asyncio.Event()
        self._closed = False

    def _offer(self, item: object) -> None:
        if len(self._items) >= self.maxsize and self._droppable_queued:
            self._drop_one_droppable()
        if self._droppable(item):
            self._droppable_queued += 1
        self._items.append(item)
        self._ready.set()

    def _drop_one_droppable(self) -> None:
        # Oldest droppable first. In practice the oldest items are samples, so this stops early; the count above
        # keeps a queue full of state changes (never droppable) from being scanned on every publish.
        for index, queued in enumerate(self._items):
            if self._droppable(queued):
                del self._items[index]
                self._droppable_queued -= 1
                self.dropped += 1
                return

    def _close(self) -> None:
        self._closed = True
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    def get_nowait(self) -> object | None:
        """The oldest queued item, or ``None`` if the queue is empty."""
        if not self._items:
            return None
        item = self._items.popleft()
        if self._droppable_queued and self._droppable(item):
            self._droppable_queued -= 1
        if not self._items and not self._closed:
            self._ready.clear()
        return item

    def drain(self) -> list[object]:
        """Everything queued, oldest first (for a UI that redraws on a timer)."""
        items = list(self._items)
        self._items.clear()
        self._droppable_queued = 0
        if not self._closed:
            self._ready.clear()
        return items

    async def get(self) -> object | None:
        """Wait for the next item; ``None`` once the bus is closed and the queue is empty."""
        while not self._items:
            if self._closed:
                return None
            await self._ready.wait()
        return self.get_nowait()

    def __aiter__(self) -> AsyncIterator[object]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[object]:
        while True:
            item = await self.get()
            if item is None:
                return
            yield item

    def unsubscribe(self) -> None:
        """Stop receiving items."""
        self._bus._remove(self)
        self._close()


class EventBus:
    """Fan-out of session items (events, samples) to subscribers. See the module docstring."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self.published = 0
        self._closed = False

    def subscribe(
        self, name: str, *, maxsize: int = 4096, droppable: Callable[[object], bool] = _never
    ) -> Subscription:
        """A new subscriber queue holding at most ``maxsize`` droppable items.

        Args:
            name: for logs and statistics.
            maxsize: capacity before droppable items are discarded (oldest first).
            droppable: tells which items may be dropped for this subscriber (default: none).
        """
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        subscription = Subscription(self, name, maxsize, droppable)
        if self._closed:
            subscription._close()
        self._subscriptions.append(subscription)
        return subscription

    def publish(self, item: Any) -> None:
        """Hand ``item`` to every subscriber. Never blocks, never raises."""
        self.published += 1
        for subscription in self._subscriptions:
            subscription._offer(item)

    def close(self) -> None:
        """End the stream: subscribers finish after the items already queued."""
        self._closed = True
        for subscription in self._subscriptions:
            subscription._close()

    def _remove(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    @property
    def subscriber_count(self) -> int:
        """Number of current subscribers."""
        return len(self._subscriptions)
