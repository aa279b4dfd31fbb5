"""Benchmark of history from minute summaries: a month of recordings, as ``report``, the dashboard and ``sessions
list`` read it.

Run: ``.venv/bin/python benchmarks/bench_history.py [--days 22] [--per-day 2] [--hours 4] [--repeat 3]``

The month is written straight through :class:`~posturebuddy.session.recording.RecordingWriter`: ``--days`` working
days (Monday to Friday from 5 January 2026), ``--per-day`` recordings a day of ``--hours`` hours each, one minute
summary per recorded minute with varied posture, episodes, prompts, outcomes, breaks and the sitting clock (no raw
packets, as after retention trimmed them; summaries are all history reads). Figures printed, best of ``--repeat``:

* ``load_history`` over 31 days from the first (what ``posturebuddy report --week`` does, for a month): wall time for
  the month, per recording and per thousand minutes;
* the dashboard's history screen read (:func:`posturebuddy.ui.screens.history.read_history`, 14 days);
* ``sessions list``'s per-file read (:func:`posturebuddy.commands.sessions.read_session`), per recording.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from posturebuddy.model import PostureClass
from posturebuddy.session.history import day_bounds, load_history
from posturebuddy.session.recording import MinuteSummary, RecordingMetadata, RecordingWriter, SourceKind

ZONE = dt.UTC
FIRST_DAY = dt.date(2026, 1, 5)  # a Monday
START_HOUR = 8.5


def workdays(count: int) -> list[dt.date]:
    """The first ``count`` Monday-to-Friday dates from :data:`FIRST_DAY`."""
    days: list[dt.date] = []
    day = FIRST_DAY
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    return days


def session_rows(start_s: float, minutes: int, rng: random.Random) -> list[MinuteSummary]:
    """``minutes`` minute rows from ``start_s`` (POSIX seconds) like a live session's: seated minutes of varied
    posture, an episode or prompt now and then, a break about every 50 minutes."""
    rows: list[MinuteSummary] = []
    streak_s = 0.0
    for k in range(minutes):
        upright = rng.uniform(25.0, 60.0)
        rest = 60.0 - upright
        posture = {
            PostureClass.UPRIGHT: upright,
            PostureClass.FORWARD_HEAD: rest * 0.6,
            PostureClass.SLOUCH: rest * 0.4,
        }
        breaks = int(k % 50 == 49)
        streak_s = 0.0 if breaks else streak_s + 60.0
        detail: dict[str, object] = {
            "flexion_mean_deg": round(rng.uniform(2.0, 20.0), 2),
            "sitting_streak_max_s": streak_s,
            "sitting_streak_end_s": streak_s,
        }
        episodes = int(rng.random() < 0.08)
        prompts = int(rng.random() < 0.04)
        done = int(rng.random() < 0.03)
        if episodes:
            detail["episodes_by_kind"] = {rng.choice(("forward_head", "slouch")): 1}
        if prompts:
            detail["prompts_by_kind"] = {"chin_tuck": 1}
        if done:
            detail["outcomes"] = {rng.choice(("done", "snoozed", "skipped", "expired")): 1}
        rows.append(
            MinuteSummary(
                minute_start_s=start_s + 60.0 * k,
                posture_s=posture,
                sitting_s=60.0,
                episodes=episodes,
                prompts=prompts,
                prompts_done=done,
                breaks=breaks,
                detail=detail,
            )
        )
    return rows


def write_month(directory: Path, days: int, per_day: int, hours: float, seed: int = 7) -> tuple[int, int]:
    """Write the month's recordings into ``directory``; returns (recordings, minutes)."""
    rng = random.Random(seed)
    minutes = round(hours * 60)
    recordings = 0
    for day in workdays(days):
        midnight, _ = day_bounds(day, ZONE)
        for k in range(per_day):
            start = midnight + (START_HOUR + k * (hours + 1.0)) * 3600.0
            metadata = RecordingMetadata(tag_family="posturebuddy", source_kind=SourceKind.LIVE)
            with RecordingWriter(directory / f"{day.isoformat()}_{k}.pbrec", metadata) as writer:
                for row in session_rows(start, minutes, rng):
                    writer.append_minute_summary(row)
            recordings += 1
    return recordings, recordings * minutes


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The shortest wall time of ``repeat`` runs, seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(days: int = 22, per_day: int = 2, hours: float = 4.0, repeat: int = 3) -> dict[str, float]:
    """The figures (see the module docstring), keyed ``history.*``."""
    from posturebuddy.commands.sessions import list_sessions
    from posturebuddy.ui.screens.history import history_days, read_history

    with tempfile.TemporaryDirectory(prefix="pb-bench-history-") as tmp:
        directory = Path(tmp)
        start = time.perf_counter()
        recordings, minutes = write_month(directory, days, per_day, hours)
        write_s = time.perf_counter() - start
        month = [FIRST_DAY + dt.timedelta(days=i) for i in range(31)]
        loaded = load_history(directory, month, tz=ZONE, cache=False)
        if abs(loaded.totals().recorded_s - minutes * 60.0) > 1.0 or loaded.analysed:
            raise RuntimeError("the benchmark's month did not read back as written")
        month_s = best_of(repeat, lambda: load_history(directory, month, tz=ZONE, cache=False))
        last_day = workdays(days)[-1]
        screen_s = best_of(repeat, lambda: read_history(directory, history_days(last_day), tz=ZONE))
        list_s = best_of(repeat, lambda: list_sessions(directory))
    return {
        "history.recordings": float(recordings),
        "history.minutes": float(minutes),
        "history.write_s": write_s,
        "history.month_s": month_s,
        "history.ms_per_recording": month_s * 1e3 / recordings,
        "history.ms_per_1000_minutes": month_s * 1e6 / minutes,
        "history.screen_14_days_s": screen_s,
        "history.sessions_list_s": list_s,
        "history.sessions_list_ms_per_recording": list_s * 1e3 / recordings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=22, help="working days in the month (default 22)")
    parser.add_argument("--per-day", type=int, default=2, help="recordings a day (default 2)")
    parser.add_argument("--hours", type=float, default=4.0, help="hours per recording (default 4)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the best counts (default 3)")
    args = parser.parse_args()
    f = measure(args.days, args.per_day, args.hours, args.repeat)
    n, m = int(f["history.recordings"]), int(f["history.minutes"])
    print(f"a month of minute summaries: {n} recordings, {m:,} minutes (written in {f['history.write_s']:.1f} s)")
    print(
        f"  load_history, 31 days:     {f['history.month_s']:.3f} s per month, "
        f"{f['history.ms_per_recording']:.1f} ms per recording, {f['history.ms_per_1000_minutes']:.1f} ms per 1000 min"
    )
    print(f"  dashboard history, 14 days: {f['history.screen_14_days_s']:.3f} s")
    print(
        f"  sessions list:             {f['history.sessions_list_s']:.3f} s, "
        f"{f['history.sessions_list_ms_per_recording']:.1f} ms per recording"
    )


if __name__ == "__main__":
    main()
