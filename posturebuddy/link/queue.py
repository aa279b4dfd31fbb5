"""A bounded queue between bleak's notification callback and the engine.

bleak calls the notification handler on the event loop; the handler must return at once and must never
block or raise. It calls :meth:`DropOldestQueue.put_nowait`, which never blocks: when the queue is full the
oldest item is dropped and counted, so a stalled consumer costs old data, never the link.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class DropOldestQueue(Generic[T]):
    """FIFO with a fixed capacity; ``put_nowait`` drops the oldest item when full and counts it in ``dropped``."""

    def __init__(self, maxsize: int) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self._items: deque[T] = deque(maxlen=maxsize)
        self._ready = asyncio.Event()
        self.maxsize = maxsize
        self.dropped = 0
        self.put_count = 0

    def __len__(self) -> int:
        return len(self._items)

    def put_nowait(self, item: T) -> None:
        """Append ``item``; if full, the oldest item is discarded first. Never blocks, never raises."""
        if len(self._items) == self.maxsize:
            self.dropped += 1
        self._items.append(item)
        self.put_count += 1
        self._ready.set()

    def get_nowait(self) -> T:
        """The oldest item. Raises ``asyncio.QueueEmpty`` if there is none."""
        if not self._items:
            raise asyncio.QueueEmpty
        item = self._items.popleft()
        if not self._items:
            self._ready.clear()
        return item

    async def get(self) -> T:
        """Wait for and return the oldest item."""
        while not self._items:
            await self._ready.wait()
        return self.get_nowait()

    def drain(self) -> list[T]:
        """Remove and return everything queued, oldest first."""
        items = list(self._items)
        self._items.clear()
        self._ready.clear()
        return items
