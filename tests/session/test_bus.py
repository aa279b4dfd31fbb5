"""The event bus: fan-out, bounded queues that drop only droppable items, clean end of stream."""

from __future__ import annotations

import asyncio

import pytest

from posturebuddy.session.bus import EventBus


@pytest.mark.asyncio
async def test_every_subscriber_gets_every_item_in_order() -> None:
    bus = EventBus()
    a = bus.subscribe("a")
    b = bus.subscribe("b")
    for i in range(5):
        bus.publish(i)
    bus.close()
    assert [x async for x in a] == [0, 1, 2, 3, 4]
    assert [x async for x in b] == [0, 1, 2, 3, 4]


def test_slow_subscriber_loses_only_droppable_items() -> None:
    bus = EventBus()
    sub = bus.subscribe("ui", maxsize=3, droppable=lambda item: isinstance(item, int))
    bus.publish("connected")
    for i in range(10):
        bus.publish(i)
    bus.publish("episode started")
    items = sub.drain()
    assert "connected" in items
    assert "episode started" in items
    assert items[-2:] == [9, "episode started"]
    assert sub.dropped == 9
    assert len(items) == 3


def test_state_changes_are_never_dropped_even_when_full() -> None:
    bus = EventBus()
    sub = bus.subscribe("recorder", maxsize=2)
    for i in range(50):
        bus.publish(f"state {i}")
    assert len(sub) == 50
    assert sub.dropped == 0


@pytest.mark.asyncio
async def test_get_waits_and_unsubscribe_stops_delivery() -> None:
    bus = EventBus()
    sub = bus.subscribe("x")
    asyncio.get_running_loop().call_soon(bus.publish, "hello")
    assert await asyncio.wait_for(sub.get(), 1.0) == "hello"
    sub.unsubscribe()
    bus.publish("ignored")
    assert len(sub) == 0
    assert await sub.get() is None
    assert bus.subscriber_count == 0


@pytest.mark.asyncio
async def test_subscribing_after_close_ends_at_once() -> None:
    bus = EventBus()
    bus.close()
    sub = bus.subscribe("late")
    assert [x async for x in sub] == []
