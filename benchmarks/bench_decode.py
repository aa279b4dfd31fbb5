"""Decode throughput per tag family and the link's cost per notification.

Run: ``.venv/bin/python benchmarks/bench_decode.py`` (about 20 s). Prints:

1. decode throughput per family: packets per second through the family's ``FrameDecoder`` alone, and through
   the whole decoding stage (``PacketDecoder``: sequence gaps, clock unwrap, battery/status wrapping);
2. link overhead per notification: the work ``TagLink`` does in bleak's callback (stamp, wrap in a
   ``RawPacket``, enqueue) plus taking it off the queue, in microseconds;
3. end to end over the simulator's BLE stack: notifications per second and CPU microseconds per notification
   for a virtual PostureBuddy Tag streaming as fast as the stack goes (bumble host + virtual controller +
   bleak + our link, all in one process, so this is an upper bound of our share).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import numpy as np

from posturebuddy.devices import get_family
from posturebuddy.link.queue import DropOldestQueue
from posturebuddy.model import RawPacket, StreamStarted
from posturebuddy.session.decoding import PacketDecoder

N = 20_000


def packets_for(family_id: str) -> list[RawPacket]:
    """Realistic packets of a family: what its virtual tag sends for two simulated minutes of a good day."""
    from simulators.record import collect_packets, simulate_for

    return collect_packets(simulate_for("good_day", family_id, duration_s=120.0), family_id)


def best_rate(fn: Callable[[], int], repeats: int = 3) -> float:
    """Items per second of the fastest of ``repeats`` runs."""
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        count = fn()
        best = max(best, count / (time.perf_counter() - start))
    return best


FAMILIES = ("posturebuddy", "thingy52", "witmotion", "sensortag", "microbit")


def decode_rates() -> dict[str, tuple[float, float]]:
    """Per family: packets/s through its ``FrameDecoder`` alone and through the whole decoding stage."""
    rates: dict[str, tuple[float, float]] = {}
    for family_id in FAMILIES:
        packets = packets_for(family_id)

        def frame_decoder(packets: list[RawPacket] = packets, family_id: str = family_id) -> int:
            decoder = get_family(family_id).make_decoder()
            for packet in packets:
                with contextlib.suppress(ValueError):
                    decoder.decode(packet)
            return len(packets)

        def stage(packets: list[RawPacket] = packets, family_id: str = family_id) -> int:
            decoder = PacketDecoder()
            decoder.feed(StreamStarted(0.0, family_id=family_id, address="x"))
            for packet in packets:
                decoder.feed(packet)
            return len(packets)

        rates[get_family(family_id).family_id] = (best_rate(frame_decoder), best_rate(stage))
    return rates


def bench_decoders() -> None:
    print("decode throughput (packets/s; higher is better)")
    print(f"  {'family':<13} {'FrameDecoder':>14} {'decoding stage':>15}  per packet")
    for family_id, (raw, full) in decode_rates().items():
        print(f"  {family_id:<13} {raw:>14,.0f} {full:>15,.0f}  {1e6 / full:5.1f} us")


def link_overhead_us() -> float:
    """Microseconds per notification of what ``TagLink`` does in bleak's callback, plus taking it off the queue."""
    queue: DropOldestQueue[RawPacket] = DropOldestQueue(4096)
    payload = bytearray(20)
    uuid = "f1790002-e26d-4d35-bbd1-7e1762f003b2"
    clock = time.time

    def handler_and_take() -> int:
        for _ in range(N):
            queue.put_nowait(RawPacket(clock(), uuid, bytes(payload)))  # what TagLink._on_notify does
            queue.get_nowait()
        return N

    return 1e6 / best_rate(handler_and_take)


def bench_link_overhead() -> None:
    print(f"link overhead per notification (callback + queue): {link_overhead_us():.2f} us")


async def _end_to_end(seconds: float) -> tuple[int, float, float]:
    from posturebuddy.link.scan import BleBackend
    from posturebuddy.link.supervisor import LinkOptions, TagLink
    from simulators.ble.backend import BumbleClient, BumbleScanner
    from simulators.ble.stack import VirtualAir, set_default_central
    from simulators.tags import make_virtual_tag
    from simulators.wearer import simulate

    recording = simulate("good_day", device="posturebuddy", duration_s=600)
    async with VirtualAir() as air:
        set_default_central(await air.add_central())
        await air.add_peripheral(make_virtual_tag("posturebuddy", recording, speed=100.0, rate_hz=100.0))
        link = TagLink(LinkOptions(), BleBackend(BumbleScanner, BumbleClient), lambda _e: None)
        task = asyncio.create_task(link.run())
        while not link.connected:  # noqa: ASYNC110 (a benchmark; polling the state is simplest)
            await asyncio.sleep(0.01)
        received0 = link.stats.received
        cpu0, wall0 = time.process_time(), time.perf_counter()
        while time.perf_counter() - wall0 < seconds:
            link.packets.drain()
            await asyncio.sleep(0.05)
        received = link.stats.received - received0
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        await link.stop()
        await task
        set_default_central(None)
    return received, cpu, wall


def end_to_end(seconds: float = 5.0) -> tuple[float, float]:
    """Over the simulator's BLE stack: (notifications per second, CPU microseconds per notification)."""
    received, cpu, wall = asyncio.run(_end_to_end(seconds))
    return received / wall, 1e6 * cpu / max(received, 1)


def measure(end_to_end_s: float = 5.0) -> dict[str, float]:
    """All the figures: ``decode.<family>.frame`` / ``.stage`` (packets/s), ``link.us_per_notification``,
    ``end_to_end.notifications_per_s`` and ``end_to_end.cpu_us_per_notification``."""
    quiet_logging()
    figures: dict[str, float] = {}
    for family_id, (raw, full) in decode_rates().items():
        figures[f"decode.{family_id}.frame"] = raw
        figures[f"decode.{family_id}.stage"] = full
    figures["link.us_per_notification"] = link_overhead_us()
    rate, cpu_us = end_to_end(end_to_end_s)
    figures["end_to_end.notifications_per_s"] = rate
    figures["end_to_end.cpu_us_per_notification"] = cpu_us
    return figures


def quiet_logging() -> None:
    np.seterr(all="ignore")
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("bumble").setLevel(logging.ERROR)  # normal teardown races (research notes, pitfall 3)


def bench_end_to_end() -> None:
    rate, cpu_us = end_to_end(5.0)
    print(
        f"end to end over the simulator (bumble + bleak + link, one process): {rate:,.0f} notifications/s,"
        f" {cpu_us:.0f} us CPU per notification (both BLE stacks included)"
    )


def main() -> None:
    quiet_logging()
    bench_decoders()
    bench_link_overhead()
    bench_end_to_end()


if __name__ == "__main__":
    main()
