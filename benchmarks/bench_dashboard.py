"""Benchmark of ``posturebuddy demo``: the dashboard over the simulator, run for minutes at high speed.

Run: ``.venv/bin/python benchmarks/bench_dashboard.py [--minutes 3] [--speed 30] [--scenario workday_8h]``

The whole product runs in this process, as ``posturebuddy demo`` does: the simulated wearer and the virtual tag on
the bumble stack, bleak, the live session (decoding, engine, recorder off) and the Textual dashboard (headless
driver, 100x30, rendering every frame as it would to a terminal). Figures printed:

* CPU share of one core for the whole process (user + system CPU time over wall time), and the part of it spent
  in the dashboard's redraw tick (draining the stream, folding it into the view, updating widgets; Textual's own
  layout and rendering come on top and are inside the process figure);
* redraws per second (the timer runs at ``ui.redraw_hz``, 10 by default, whatever the sample rate);
* stream items folded per second and items the dashboard's queue dropped (samples/snapshots, by design);
* resident memory (RSS) after a warm-up minute, at the end, and the peak: flat memory means the end is close to the
  start (the view keeps bounded deques only).

At ``--speed 30`` a 50 Hz tag delivers 1,500 samples per wall second: thirty times the load of a real tag, so the
CPU share of a real session is about the dashboard's redraw cost plus a thirtieth of the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import time
from pathlib import Path

from posturebuddy.commands.demo import open_demo_session
from posturebuddy.config import Settings
from posturebuddy.session.engine import engine_settings
from posturebuddy.session.live import LiveSession
from posturebuddy.ui.app import make_app


def rss_mb() -> float:
    """Current resident set size, MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def cpu_s() -> float:
    """CPU time of this process so far (user + system), seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(minutes: float, speed: float, scenario: str, rate_hz: float, verbose: bool = True) -> dict[str, float]:
    """Figures under ``dashboard.``: ``wall_s``, ``simulated_s``, ``cpu_share`` and ``redraw_cpu_share`` (of one
    core), ``ms_per_redraw``, ``redraws_per_s``, ``items_per_s``, ``dropped``, ``rss_start_mb``, ``rss_end_mb``,
    ``rss_max_mb`` (while measured) and ``peak_rss_mb`` (``ru_maxrss``, the whole process lifetime)."""
    settings = Settings()
    engine = engine_settings(settings)

    def factory() -> contextlib.AbstractAsyncContextManager[LiveSession]:
        return open_demo_session(scenario=scenario, speed=speed, engine=engine, rate_hz=rate_hz)

    app = make_app(factory, settings, label=f"bench: {scenario} x{speed:g}", can_write_config=False)
    async with app.run_test(size=(100, 30)) as pilot:
        while app.view.snapshot is None:  # connected and streaming
            await pilot.pause(0.2)
        warm_up_s = min(60.0, minutes * 60.0 / 4)
        await asyncio.sleep(warm_up_s)
        rss_start = rss_mb()
        cpu0, wall0, redraws0, items0, ui0 = cpu_s(), time.monotonic(), app.redraws, app.items_seen, app.redraw_time_s
        sim0 = app.view.t_s or 0.0
        samples: list[float] = []
        end = wall0 + minutes * 60.0
        while time.monotonic() < end:
            await asyncio.sleep(10.0)
            samples.append(rss_mb())
            if app.screen is not app.dashboard:
                await pilot.press("d")  # answer prompts as a user would, so the dashboard is what is measured
        wall = time.monotonic() - wall0
        cpu = cpu_s() - cpu0
        redraws = app.redraws - redraws0
        items = app.items_seen - items0
        ui = app.redraw_time_s - ui0
        dropped = app.subscription.dropped if app.subscription is not None else 0
        sim_s = (app.view.t_s or 0.0) - sim0
        await pilot.press("q")
        await pilot.pause(1.0)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    rss_end = samples[-1] if samples else rss_mb()
    figures = {
        "dashboard.wall_s": wall,
        "dashboard.simulated_s": sim_s,
        "dashboard.cpu_share": cpu / wall,
        "dashboard.redraw_cpu_share": ui / wall,
        "dashboard.ms_per_redraw": ui / max(redraws, 1) * 1e3,
        "dashboard.redraws_per_s": redraws / wall,
        "dashboard.items_per_s": items / wall,
        "dashboard.dropped": float(dropped),
        "dashboard.rss_start_mb": rss_start,
        "dashboard.rss_end_mb": rss_end,
        "dashboard.rss_max_mb": max(samples, default=0),
        "dashboard.peak_rss_mb": peak_mb,
    }
    if not verbose:
        return figures
    print(f"demo dashboard: {scenario} at {rate_hz:g} Hz, speed {speed:g}, {wall / 60:.1f} min measured")
    print(f"  simulated time played      {sim_s / 60:8.1f} min")
    print(f"  CPU share, whole process   {cpu / wall:8.1%} of one core")
    print(f"  CPU share, redraw tick     {ui / wall:8.1%} of one core ({ui / max(redraws, 1) * 1e3:.2f} ms per redraw)")
    print(f"  redraws per second         {redraws / wall:8.1f}")
    print(f"  stream items per second    {items / wall:8,.0f}  (dropped for the UI: {dropped:,})")
    print(f"  RSS after warm-up          {rss_start:8.1f} MB")
    print(f"  RSS at the end             {rss_end:8.1f} MB")
    print(f"  RSS min/max while measured {min(samples, default=0):8.1f} / {max(samples, default=0):.1f} MB")
    print(f"  peak RSS (ru_maxrss)       {peak_mb:8.1f} MB")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=3.0, help="wall minutes to measure (default: %(default)s)")
    parser.add_argument("--speed", type=float, default=30.0, help="simulation speed (default: %(default)s)")
    parser.add_argument("--scenario", default="workday_8h", help="scenario (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=50.0, help="tag sample rate, Hz (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object instead")
    args = parser.parse_args()
    figures = asyncio.run(run(args.minutes, args.speed, args.scenario, args.rate, verbose=not args.json))
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
