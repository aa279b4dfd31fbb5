"""Benchmark of replay: a recording fed back through the decoders and the streaming engine as fast as possible.

Run: ``.venv/bin/python benchmarks/bench_replay.py [--hours 1] [--device posturebuddy]``

A simulated day (``workday_8h``, cut to ``--hours``) is recorded with ``python -m simulators record``'s function
(not timed), then replayed as ``posturebuddy replay FILE --headless --speed max`` does (packets read from SQLite,
the decoding stage, the streaming engine with its ticks, every event written as a JSON line to memory). Figures
printed: wall time, the multiple of real time, and microseconds per packet. The dashboard's replay
(:class:`~posturebuddy.session.replay.ReplaySession`) runs the same pipeline one packet at a time, plus publishing.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from posturebuddy.commands.replay import replay_recording
from posturebuddy.devices import get_family
from posturebuddy.session.engine import EngineSettings
from posturebuddy.session.recording import open_recording
from simulators.record import record


def measure(hours: float = 1.0, device: str = "posturebuddy") -> dict[str, float]:
    """Figures under ``replay.``: ``real_s``, ``wall_s``, ``x_real_time``, ``packets``, ``us_per_packet``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.pbrec"
        record(path, "workday_8h", device, duration_s=hours * 3600.0)
        with open_recording(path) as reader:
            packets = reader.packet_count()
            family = get_family(reader.metadata.tag_family)
            out = io.StringIO()
            start = time.perf_counter()
            replay_recording(reader, out, settings=EngineSettings(), family=family)
            wall = time.perf_counter() - start
    real = hours * 3600.0
    return {
        "replay.real_s": real,
        "replay.wall_s": wall,
        "replay.x_real_time": real / wall,
        "replay.packets": float(packets),
        "replay.us_per_packet": wall / packets * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=float, default=1.0, help="recorded hours to replay (default: 1)")
    parser.add_argument("--device", default="posturebuddy", help="tag family (default: posturebuddy)")
    args = parser.parse_args()
    f = measure(args.hours, args.device)
    print(
        f"replay --speed max of {f['replay.real_s'] / 3600:g} h ({f['replay.packets']:,.0f} packets): "
        f"{f['replay.wall_s']:.1f} s, {f['replay.x_real_time']:,.0f}x real time, "
        f"{f['replay.us_per_packet']:.1f} us/packet"
    )


if __name__ == "__main__":
    main()
