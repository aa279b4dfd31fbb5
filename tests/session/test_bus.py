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


def test_a_backlog_of_state_changes_costs_constant_time_per_publish() -> None:
    """A subscriber that falls far behind on never-droppable items must not make every publish scan its queue
    (that once turned a slow consumer into a quadratic stall of the whole session)."""
    bus = EventBus()
    sub = bus.subscribe("slow", maxsize=4)
    for i in range(200_000):  # quadratic scanning would take minutes here
        bus.publish(i)
    assert len(sub) == 200_000
    assert sub.dropped == 0


def test_droppable_count_follows_gets_and_drains() -> None:
    bus = EventBus()
    sub = bus.subscribe("ui", maxsize=2, droppable=lambda item: isinstance(item, int))
    bus.publish(1)
    bus.publish("state")
    assert sub.get_nowait() == 1  # the only droppable item leaves through get
    bus.publish("state 2")
    bus.publish("state 3")  # full, nothing droppable queued: kept, nothing dropped
    assert sub.dropped == 0
    bus.publish(2)
    bus.publish(3)  # full: drops 2, the oldest droppable
    assert sub.drain() == ["state", "state 2", "state 3", 3]
    assert sub.dropped == 1
