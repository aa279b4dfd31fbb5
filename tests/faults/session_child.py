"""A recording session in its own process, for the faults that need one (kill -9, a full disk).

    python tests/faults/session_child.py RECORDING --scenario quick_upright --speed 20 [--disk-full-after S]
        [--run-for S]

It runs the fault rig's session (a LiveSession recording a virtual PostureBuddy Tag over bumble, as
``posturebuddy demo`` does, plus the recording that ``demo`` lacks) and prints one JSON line every 0.1 s wall:
``{"received": ..., "written": ..., "t": ...}`` (notifications received by the link, packets committed to the
file, simulated seconds since the start). With ``--disk-full-after S`` it limits the size of the files it may
write (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with EFBIG as on a full disk) once S simulated seconds have
passed. With ``--run-for S`` it stops by itself after S simulated seconds and prints a last line with
``"done": true`` and what happened; without it, it runs until killed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fault_support import faulted_session

from posturebuddy.model import Sample


def limit_file_size(paths: list[Path]) -> int:
    """From now on no file may grow past the size the largest of ``paths`` has (at least one page)."""
    limit = max([4096, *(p.stat().st_size for p in paths if p.exists())])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    return limit


async def main(args: argparse.Namespace) -> int:
    path = Path(args.recording)
    loop_errors: list[str] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: loop_errors.append(str(ctx.get("message"))))
    async with faulted_session(args.scenario, speed=args.speed, recording=path) as (session, _tag):
        t0 = session.clock()
        stop = asyncio.Event()
        subscription = session.bus.subscribe("child")
        counts = {"samples": 0, "samples_after_limit": 0}
        limited: dict[str, object] = {}

        async def consume() -> None:
            async for item in subscription:
                if isinstance(item, Sample):
                    counts["samples"] += 1
                    if limited:
                        counts["samples_after_limit"] += 1

        async def report() -> None:
            while True:
                writer = session.recorder.writer if session.recorder else None
                t = session.clock() - t0
                line = {"received": session.link.stats.received, "written": writer.packets_written if writer else 0}
                print(json.dumps(line | {"t": t}), flush=True)
                if args.disk_full_after is not None and not limited and t >= args.disk_full_after and writer:
                    limited["bytes"] = limit_file_size([path, Path(f"{path}-wal")])
                    limited["written"] = writer.packets_written
                if args.run_for is not None and t >= args.run_for:
                    stop.set()
                await asyncio.sleep(0.1)

        tasks = [asyncio.create_task(consume()), asyncio.create_task(report())]
        status = await session.run(stop)
        tasks[1].cancel()
        await tasks[0]
        failed = session.recorder.failed if session.recorder else "no recorder"
        summary = {
            "done": True,
            "status": status,
            "recorder_failed": failed,
            "internal_errors": session.internal_errors,
            "loop_errors": loop_errors,
            "limit": limited,
            "received": session.link.stats.received,
        }
        print(json.dumps(summary | counts), flush=True)
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("recording")
    parser.add_argument("--scenario", default="quick_upright")
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--disk-full-after", type=float, default=None)
    parser.add_argument("--run-for", type=float, default=None)
    sys.exit(asyncio.run(main(parser.parse_args())))
