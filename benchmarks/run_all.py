"""All the benchmarks in one run, printed as one table (see docs/benchmarks.md).

Run: ``.venv/bin/python benchmarks/run_all.py`` (about 10 minutes on 2 cores) or ``... --quick`` (about 2 minutes:
a 1-hour day instead of 8 hours, a 30 s dashboard run, shorter streaming and recording runs).

Everything but the dashboard runs in this process, through the ``measure*`` functions of the ``bench_*.py``
scripts beside this file (each script's own ``main()`` still prints its detailed report). The dashboard runs as a
subprocess (``bench_dashboard.py --json``) so that its CPU share and peak memory are those of a demo alone.
Where a comparable tool is installed (the ``ahrs`` package's Madgwick filter), it runs on the same data in the same
run and the table gives the ratio. Figures are for comparing runs on one machine, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import bench_decode
import bench_engine
import bench_history
import bench_orientation
import bench_recording
import bench_replay
import bench_simulator

HERE = Path(__file__).resolve().parent
AHRS_MISSING = "ahrs not installed: pip install ahrs to compare"


@dataclass(frozen=True)
class Plan:
    """How long each part runs."""

    streaming_s: float  # simulated seconds per tag kind through the streaming engine
    day_s: float | None  # the analyzed day (None: the whole 8-hour scenario)
    end_to_end_s: float  # wall seconds of the BLE end-to-end run
    recording_hours: float  # recorded hours written by the recorder benchmark
    simulator_s: float | None  # simulated seconds recorded by ``simulators record``
    dashboard_minutes: float  # wall minutes of the accelerated demo measured
    dashboard_speed: float  # simulation speed of the demo


QUICK = Plan(
    streaming_s=300.0,
    day_s=3600.0,
    end_to_end_s=3.0,
    recording_hours=0.25,
    simulator_s=3600.0,
    dashboard_minutes=0.5,
    dashboard_speed=30.0,
)
FULL = Plan(
    streaming_s=1200.0,
    day_s=None,
    end_to_end_s=5.0,
    recording_hours=1.0,
    simulator_s=None,
    dashboard_minutes=3.0,
    dashboard_speed=30.0,
)


@dataclass(frozen=True)
class Row:
    measure: str
    figure: str
    unit: str
    ratio: str = ""
    note: str = ""


def ratio(theirs: float, ours: float) -> str:
    return f"{theirs / ours:.2f}x" if ours > 0 else "-"


def decode_rows(plan: Plan, figures: dict[str, float]) -> list[Row]:
    f = bench_decode.measure(plan.end_to_end_s)
    figures.update(f)
    rows = [
        Row(
            f"decode, {family}",
            f"{f[f'decode.{family}.stage']:,.0f}",
            "packets/s",
            note=f"decoding stage ({1e6 / f[f'decode.{family}.stage']:.1f} us/packet); "
            f"FrameDecoder alone {f[f'decode.{family}.frame']:,.0f}/s",
        )
        for family in bench_decode.FAMILIES
    ]
    rows.append(
        Row("link overhead per notification", f"{f['link.us_per_notification']:.2f}", "us", note="callback + queue")
    )
    rows.append(
        Row(
            "BLE end to end (simulator)",
            f"{f['end_to_end.notifications_per_s']:,.0f}",
            "notif/s",
            note=f"{f['end_to_end.cpu_us_per_notification']:.0f} us CPU/notification, bumble+bleak+link",
        )
    )
    return rows


def engine_rows(plan: Plan, figures: dict[str, float]) -> list[Row]:
    f = bench_engine.measure_streaming(plan.streaming_s)
    figures.update(f)
    minutes = plan.streaming_s / 60
    return [
        Row(
            f"engine, {label}",
            f"{f[f'stream.{key}.judge_0.1']:.1f}",
            "us/sample",
            note=f"streaming, judge every 0.1 s ({f[f'stream.{key}.judge_0']:.1f} judging every sample); "
            f"{minutes:g} min slouchy_afternoon",
        )
        for label, key in (("quaternion tag", "quaternion"), ("raw IMU (AHRS)", "raw_imu"), ("accel only", "accel"))
    ]


def day_rows(plan: Plan, figures: dict[str, float]) -> list[Row]:
    f = bench_engine.measure_day(plan.day_s)
    figures.update(f)
    hours = f["day.quaternion.real_s"] / 3600
    q, r = "day.quaternion", "day.raw_imu"
    return [
        Row(
            f"analyze {hours:.0f} h day, quaternion tag",
            f"{f[f'{q}.x_real_time']:,.0f}",
            "x real time",
            note=f"{f[f'{q}.total_s']:.1f} s from {f[f'{q}.packets']:,.0f} packets (decode {f[f'{q}.decode_s']:.1f} s, "
            f"analysis {f[f'{q}.analysis_s']:.1f} s), {f[f'{q}.us_per_sample']:.1f} us/sample",
        ),
        Row(
            f"analyze {hours:.0f} h day, raw-IMU tag (AHRS)",
            f"{f[f'{r}.x_real_time']:,.0f}",
            "x real time",
            note=f"{f[f'{r}.total_s']:.1f} s for {f[f'{r}.samples']:,.0f} samples from arrays, "
            f"{f[f'{r}.us_per_sample']:.1f} us/sample",
        ),
    ]


def orientation_rows(_plan: Plan, figures: dict[str, float]) -> list[Row]:
    f = bench_orientation.measure_timing()
    figures.update(f)
    data = "BROAD trial 16" if f["timing.broad"] else "synthetic data"
    rows = [
        Row(
            f"orientation, {label}",
            f"{f[f'timing.{path}.batch']:.2f}",
            "us/sample",
            note=f"batch; streaming {f[f'timing.{path}.stream']:.2f}; {data}",
        )
        for label, path in (("our AHRS", "ahrs"), ("quaternion path", "quaternion"), ("accel-only path", "accel"))
    ]
    madgwick = f.get("timing.ahrs_package_madgwick.batch")
    if madgwick is None:
        rows.append(Row("orientation, ahrs Madgwick", "-", "us/sample", note=AHRS_MISSING))
    else:
        rows.append(
            Row(
                "orientation, ahrs Madgwick",
                f"{madgwick:.2f}",
                "us/sample",
                ratio(madgwick, f["timing.ahrs.batch"]),
                note=f"ahrs package (numpy), same data; ratio to our AHRS batch "
                f"({ratio(madgwick, f['timing.ahrs.stream'])} of our streaming)",
            )
        )
    accuracy = bench_orientation.measure_accuracy()
    figures.update(accuracy)
    trials = sorted({key.split(".")[1] for key in accuracy})
    if not trials:
        rows.append(
            Row("BROAD inclination RMSE", "-", "deg", note=f"BROAD data not found in {bench_orientation.BROAD_DIR}")
        )
    for trial in trials:
        ours = accuracy[f"accuracy.{trial}.ours"]
        rows.append(
            Row(
                f"BROAD {trial} inclination RMSE, ours",
                f"{ours:.2f}",
                "deg",
                note=f"defaults; published full-rate Madgwick {accuracy[f'accuracy.{trial}.published_madgwick']:g}, "
                f"Mahony {accuracy[f'accuracy.{trial}.published_mahony']:g}",
            )
        )
        if not bench_orientation.ahrs_installed():
            rows.append(Row(f"BROAD {trial} RMSE, ahrs Madgwick", "-", "deg", note=AHRS_MISSING))
            continue
        for beta in bench_orientation.MADGWICK_BETAS:
            theirs = accuracy[f"accuracy.{trial}.ahrs_madgwick_{beta:g}"]
            rows.append(
                Row(
                    f"BROAD {trial} RMSE, ahrs Madgwick b={beta:g}",
                    f"{theirs:.2f}",
                    "deg",
                    ratio(theirs, ours),
                    note="same data; ratio to ours (>1: ours is more accurate)",
                )
            )
    return rows


def recording_rows(plan: Plan, figures: dict[str, float]) -> list[Row]:
    f = bench_recording.measure(plan.recording_hours)
    figures.update(f)
    return [
        Row(
            "recorder, live append",
            f"{f['recording.live_us_per_packet']:.2f}",
            "us/sample",
            note=f"amortised incl. 1 flush/s (flush median {f['recording.flush_median_ms']:.2f} ms, "
            f"worst {f['recording.flush_worst_ms']:.2f} ms); "
            f"append_packet alone {f['recording.append_packet_us']:.2f} us",
        ),
        Row(
            "recorder, file size",
            f"{f['recording.bytes_per_hour'] / 1e6:.2f}",
            "MB/hour",
            note=f"{f['recording.bytes_per_packet']:.1f} bytes/packet at 50 Hz, 20-byte payloads; "
            f"{f['recording.bytes_per_hour'] * 8 / 1e6:.0f} MB per 8-hour day",
        ),
        Row(
            "recording replay read",
            f"{f['recording.read_packets_per_s'] / 1e6:.2f}",
            "M packets/s",
            note=f"iter_packets; seek to the middle {f['recording.seek_ms']:.2f} ms",
        ),
    ]


def replay_rows(plan: Plan, figures: dict[str, float]) -> list[Row]:
    hours = (plan.day_s or 8 * 3600.0) / 3600.0
    f = bench_replay.measure(hours)
    figures.update(f)
    return [
        Row(
            f"replay {hours:g} h, --speed max",
            f"{f['replay.x_real_time']:,.0f}",
            "x real time",
            note=f"{f['replay.wall_s']:.1f} s, {f['replay.us_per_packet']:.1f} us/packet: read, decode, streaming "
            "engine, JSON lines",
        )
    ]


def history_rows(_plan: Plan, figures: dict[str, float]) -> list[Row]:
    f = bench_history.measure()
    figures.update(f)
    return [
        Row(
            "history, a month from summaries",
            f"{f['history.month_s']:.2f}",
            "s/month",
            note=f"{f['history.recordings']:.0f} recordings, {f['history.minutes']:,.0f} minutes; "
            f"{f['history.ms_per_recording']:.1f} ms/recording; "
            f"dashboard 14 days {f['history.screen_14_days_s']:.2f} s; "
            f"sessions list {f['history.sessions_list_ms_per_recording']:.1f} ms/recording",
        )
    ]


def simulator_rows(plan: Plan, figures: dict[str, float]) -> list[Row]:
    f = bench_simulator.measure(duration_s=plan.simulator_s)
    figures.update(f)
    return [
        Row(
            f"simulators record, {f['simulator.simulated_s'] / 3600:.0f} h workday",
            f"{f['simulator.x_real_time']:,.0f}",
            "x real time",
            note=f"{f['simulator.wall_s']:.1f} s wall (wearer {f['simulator.simulate_wall_s']:.1f} s); "
            f"{f['simulator.us_per_packet']:.1f} us/packet tag+encode+write",
        )
    ]


def dashboard_rows(plan: Plan, figures: dict[str, float]) -> list[Row]:
    command = [
        sys.executable,
        str(HERE / "bench_dashboard.py"),
        "--minutes",
        f"{plan.dashboard_minutes:g}",
        "--speed",
        f"{plan.dashboard_speed:g}",
        "--json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=HERE.parent)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"bench_dashboard.py exited {done.returncode}: {done.stderr.strip()[-500:]}")
    f: dict[str, float] = json.loads(lines[-1])
    figures.update(f)
    speed = plan.dashboard_speed
    load = f"demo x{speed:g} ({speed * 50:,.0f} samples/s), {f['dashboard.wall_s'] / 60:.1f} min"
    return [
        Row(
            "dashboard, CPU share",
            f"{f['dashboard.cpu_share']:.1%}",
            "of one core",
            note=f"whole process, {load}; redraw tick {f['dashboard.redraw_cpu_share']:.1%} "
            f"({f['dashboard.ms_per_redraw']:.2f} ms x {f['dashboard.redraws_per_s']:.1f}/s)",
        ),
        Row(
            "dashboard, peak memory",
            f"{f['dashboard.peak_rss_mb']:.0f}",
            "MB",
            note=f"ru_maxrss; RSS {f['dashboard.rss_start_mb']:.0f} MB after warm-up -> "
            f"{f['dashboard.rss_end_mb']:.0f} MB at the end",
        ),
    ]


SECTIONS: dict[str, Callable[[Plan, dict[str, float]], list[Row]]] = {
    "decode": decode_rows,
    "engine": engine_rows,
    "day": day_rows,
    "orientation": orientation_rows,
    "recording": recording_rows,
    "replay": replay_rows,
    "history": history_rows,
    "simulator": simulator_rows,
    "dashboard": dashboard_rows,
}


def print_table(rows: list[Row]) -> None:
    header = Row("measure", "figure", "unit", "ratio", "note")
    columns = ("measure", "figure", "unit", "ratio")
    widths = {c: max(len(getattr(r, c)) for r in [header, *rows]) for c in columns}

    def line(r: Row) -> str:
        return (
            f"| {r.measure:<{widths['measure']}} | {r.figure:>{widths['figure']}} | {r.unit:<{widths['unit']}} "
            f"| {r.ratio:>{widths['ratio']}} | {r.note}"
        )

    print(line(header))
    print("|" + "|".join("-" * (widths[c] + 2) for c in columns) + "|------")
    for r in rows:
        print(line(r))


def machine() -> str:
    try:
        from ahrs import __version__ as ahrs_version  # type: ignore[import-untyped, unused-ignore]  # optional
    except ImportError:
        ahrs_version = "not installed"
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"ahrs {ahrs_version}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter runs (about 2 minutes instead of 10)")
    parser.add_argument("--only", nargs="+", choices=sorted(SECTIONS), help="run only these sections")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every raw figure to FILE as JSON")
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    bench_decode.quiet_logging()
    started = time.perf_counter()
    rows: list[Row] = []
    figures: dict[str, float] = {}
    failed = False
    for name, section in SECTIONS.items():
        if args.only and name not in args.only:
            continue
        print(f"[{time.perf_counter() - started:6.0f} s] {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(section(plan, figures))
        except Exception as error:  # noqa: BLE001 (one broken part should not hide the others' figures)
            traceback.print_exc()
            rows.append(Row(name, "-", "", note=f"FAILED: {type(error).__name__}: {error}"))
            failed = True
    elapsed = time.perf_counter() - started
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\nPostureBuddy benchmarks, {'--quick' if args.quick else 'full'} run, {stamp}, {elapsed:.0f} s")
    print(f"machine: {machine()}")
    print()
    print_table(rows)
    if args.json is not None:
        args.json.write_text(json.dumps({"quick": args.quick, "machine": machine(), "figures": figures}, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
