"""Benchmark of the recording format: append cost, flush latency, file size per hour, replay read speed.

Run: ``.venv/bin/python benchmarks/bench_recording.py [--hours 1.0] [--rate-hz 50] [--payload-bytes 20]``

Figures printed:

* append cost in microseconds per packet, amortised over everything (the live case: a flush every second of
  sample time, i.e. 50 packets per transaction at 50 Hz), and for the bulk case (simulator ``record``);
* the cost of one flush (median and worst), which is the longest the live path is held up at once;
* bytes per recorded hour, and per packet;
* replay read speed in packets per second (``iter_packets``), and the time of a seek.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from posturebuddy.model import PostureClass, RawPacket
from posturebuddy.session.recording import (
    MinuteSummary,
    RecordingMetadata,
    RecordingWriter,
    SourceKind,
    open_recording,
)

CHAR_UUID = "0000fff1-0000-1000-8000-00805f9b34fb"
T0_S = 1_700_000_000.0


class SampleClock:
    """A monotonic clock that follows sample time, so flushes happen once per second of recording."""

    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def make_packets(count: int, rate_hz: float, payload_bytes: int) -> list[RawPacket]:
    """``count`` packets at ``rate_hz`` with varying payloads of ``payload_bytes`` bytes."""
    return [
        RawPacket(T0_S + i / rate_hz, CHAR_UUID, (i * 2654435761 % 2**32).to_bytes(4, "little") * (payload_bytes // 4))
        for i in range(count)
    ]


def bench_live(path: Path, packets: list[RawPacket], rate_hz: float) -> tuple[float, list[float]]:
    """Append like the live recorder; returns (seconds in total, seconds of each flush)."""
    clock = SampleClock()
    metadata = RecordingMetadata(tag_family="posturebuddy", source_kind=SourceKind.LIVE, sample_rate_hz=rate_hz)
    writer = RecordingWriter(path, metadata, clock=clock)
    flush_times: list[float] = []
    original_flush = writer.flush

    def timed_flush() -> None:
        start = time.perf_counter()
        original_flush()
        flush_times.append(time.perf_counter() - start)

    writer.flush = timed_flush  # type: ignore[method-assign]
    period_s = 1.0 / rate_hz
    start = time.perf_counter()
    for i, packet in enumerate(packets):
        clock.now_s = i * period_s
        writer.append_packet(packet)
        if i % int(60 * rate_hz) == 0:
            summary = MinuteSummary(packet.t_host_s, {PostureClass.UPRIGHT: 50.0, PostureClass.SLOUCH: 10.0})
            writer.append_minute_summary(summary)
    writer.close()
    return time.perf_counter() - start, flush_times


def bench_bulk(path: Path, packets: list[RawPacket]) -> float:
    """Append as fast as possible with the real clock (the simulator's headless record)."""
    metadata = RecordingMetadata(tag_family="posturebuddy", source_kind=SourceKind.SIMULATED)
    start = time.perf_counter()
    with RecordingWriter(path, metadata) as writer:
        writer.append_packets(packets)
    return time.perf_counter() - start


def bench_hot_path(path: Path, packets: list[RawPacket]) -> float:
    """``append_packet`` alone (never flushing until the end): the cost on the notification path."""
    metadata = RecordingMetadata(tag_family="posturebuddy", source_kind=SourceKind.LIVE)
    with RecordingWriter(path, metadata, clock=lambda: 0.0, max_pending=len(packets) + 1) as writer:
        start = time.perf_counter()
        for packet in packets:
            writer.append_packet(packet)
        elapsed = time.perf_counter() - start
    return elapsed


def measure(
    hours: float = 1.0, rate_hz: float = 50.0, payload_bytes: int = 20, verbose: bool = False
) -> dict[str, float]:
    """Recorder figures: ``live_us_per_packet`` (amortised, flushes included), ``flush_median_ms``,
    ``flush_worst_ms``, ``append_packet_us``, ``bulk_us_per_packet``, ``bytes_per_hour``, ``bytes_per_packet``,
    ``read_packets_per_s``, ``read_records_per_s``, ``seek_ms`` (all under ``recording.``)."""
    count = int(hours * 3600 * rate_hz)
    packets = make_packets(count, rate_hz, payload_bytes)
    f: dict[str, float] = {"recording.packets": float(count)}
    if verbose:
        print(f"{count} packets = {hours:g} h at {rate_hz:g} Hz, {payload_bytes}-byte payloads")

    with tempfile.TemporaryDirectory() as directory:
        base = Path(directory)

        live_path = base / "live.pbrec"
        live_s, flushes = bench_live(live_path, packets, rate_hz)
        size = live_path.stat().st_size
        f["recording.live_us_per_packet"] = live_s / count * 1e6
        f["recording.flush_median_ms"] = statistics.median(flushes) * 1e3
        f["recording.flush_worst_ms"] = max(flushes) * 1e3
        if verbose:
            print(f"append, live (1 flush/s):  {live_s / count * 1e6:6.2f} us/packet amortised, incl. flushes")
            print(
                f"flush of {rate_hz:g} packets:      median {statistics.median(flushes) * 1e3:.3f} ms, "
                f"worst {max(flushes) * 1e3:.3f} ms ({len(flushes)} flushes)"
            )
        hot_s = bench_hot_path(base / "hot.pbrec", packets)
        f["recording.append_packet_us"] = hot_s / count * 1e6
        if verbose:
            print(f"append_packet alone:       {hot_s / count * 1e6:6.2f} us/packet (the notification path)")
        bulk_s = bench_bulk(base / "bulk.pbrec", packets)
        f["recording.bulk_us_per_packet"] = bulk_s / count * 1e6
        if verbose:
            print(f"append, bulk (simulator):  {bulk_s / count * 1e6:6.2f} us/packet")
        per_hour = size / hours
        f["recording.bytes_per_hour"] = per_hour
        f["recording.bytes_per_packet"] = size / count
        if verbose:
            print(
                f"file size:                 {size / 1e6:.2f} MB = {per_hour / 1e6:.2f} MB per recorded hour "
                f"({size / count:.1f} bytes/packet), {per_hour * 8 / 1e6:.0f} MB per 8-hour day"
            )

        with open_recording(live_path) as reader:
            start = time.perf_counter()
            n = sum(1 for _ in reader.iter_packets())
            read_s = time.perf_counter() - start
            start = time.perf_counter()
            m = sum(1 for _ in reader.iter_packet_records())
            records_s = time.perf_counter() - start
            start = time.perf_counter()
            first = next(reader.iter_packets(start_s=T0_S + hours * 1800))
            seek_s = time.perf_counter() - start
        assert n == m == count
        assert first.t_host_s >= T0_S + hours * 1800
        f["recording.read_packets_per_s"] = n / read_s
        f["recording.read_records_per_s"] = m / records_s
        f["recording.seek_ms"] = seek_s * 1e3
        if verbose:
            print(f"replay read (iter_packets): {n / read_s / 1e6:.2f} M packets/s ({read_s:.2f} s for the file)")
            print(f"iter_packet_records:        {m / records_s / 1e6:.2f} M packets/s")
            print(f"seek to the middle:         {seek_s * 1e3:.2f} ms")
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=1.0, help="recorded hours to simulate (default 1)")
    parser.add_argument("--rate-hz", type=float, default=50.0, help="packets per second (default 50)")
    parser.add_argument("--payload-bytes", type=int, default=20, help="payload size in bytes (default 20)")
    args = parser.parse_args()
    measure(args.hours, args.rate_hz, args.payload_bytes, verbose=True)


if __name__ == "__main__":
    main()
