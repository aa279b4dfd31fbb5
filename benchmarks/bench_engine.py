"""Streaming engine microseconds per sample per tag kind, and batch ``analyze`` of a simulated 8-hour day.

Run: ``.venv/bin/python benchmarks/bench_engine.py`` (streaming, 20 simulated minutes per kind) and
``... --day`` (also the 8-hour day at 50 Hz: about 3 minutes, most of it simulating and encoding the packets) and
``... --jit`` (the first call of the numba-compiled activity loop in a fresh process, with an empty and with a warm
numba cache). ``POSTUREBUDDY_JIT=0`` makes the analysis run the pure-Python activity loop (for an A/B).
Kinds: quaternion + accel (PostureBuddy Tag), raw accel + gyro through the AHRS (WitMotion's samples with the
tag's own quaternion removed, the SensorTag-like path), accelerometer only (micro:bit). Figures are ratios to
compare, not assertions.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from posturebuddy.devices import get_family
from posturebuddy.model import Sample
from posturebuddy.motion.orientation import SampleArrays
from posturebuddy.session.analyze import analyze_samples, decode_items, stream_events
from posturebuddy.session.decoding import PacketDecoder
from posturebuddy.session.engine import EngineSettings, PostureEngine
from simulators.record import collect_packets, simulate_for
from simulators.wearer import SimulatedRecording


def raw_imu_samples(rec: SimulatedRecording) -> list[Sample]:
    """Accel + gyro samples only (no tag quaternion): the AHRS path."""
    keep = rec.present
    return [
        Sample(float(t), accel_g=tuple(a), gyro_dps=tuple(g))
        for t, a, g in zip(rec.t_s[keep], rec.accel_g[keep].tolist(), rec.gyro_dps[keep].tolist(), strict=True)
    ]


def kinds(duration_s: float) -> dict[str, tuple[str, Callable[[], list[object]]]]:
    def quat() -> list[object]:
        rec = simulate_for("slouchy_afternoon", "posturebuddy", duration_s=duration_s)
        decoder = PacketDecoder(get_family("posturebuddy"))
        return [o for p in collect_packets(rec, "posturebuddy") for o in decoder.feed(p)]

    def raw() -> list[object]:
        return list(raw_imu_samples(simulate_for("slouchy_afternoon", "witmotion", duration_s=duration_s)))

    def accel() -> list[object]:
        rec = simulate_for("slouchy_afternoon", "microbit", duration_s=duration_s)
        decoder = PacketDecoder(get_family("microbit"))
        return [o for p in collect_packets(rec, "microbit") for o in decoder.feed(p)]

    return {
        "quaternion (posturebuddy)": ("posturebuddy", quat),
        "raw IMU, AHRS (witmotion accel+gyro)": ("witmotion", raw),
        "accel only (microbit)": ("microbit", accel),
    }


KIND_KEYS = {
    "quaternion (posturebuddy)": "quaternion",
    "raw IMU, AHRS (witmotion accel+gyro)": "raw_imu",
    "accel only (microbit)": "accel",
}


def measure_streaming(duration_s: float, verbose: bool = False) -> dict[str, float]:
    """``stream.<kind>.judge_<period>`` -> microseconds per sample through the streaming engine."""
    figures: dict[str, float] = {}
    if verbose:
        print(f"streaming engine, slouchy_afternoon, {duration_s:.0f} s at 50 Hz (decoded items in memory)")
    for label, (family, make) in kinds(duration_s).items():
        items = make()
        n = sum(1 for i in items if isinstance(i, Sample))
        for period in (0.1, 0.0):
            engine = PostureEngine(EngineSettings(judge_period_s=period), family=get_family(family))
            t0 = time.perf_counter()
            stream_events(items, engine)
            us = (time.perf_counter() - t0) / n * 1e6
            figures[f"stream.{KIND_KEYS[label]}.judge_{period:g}"] = us
            if verbose:
                print(f"  {label:<38} judge_period {period:>4} s: {us:6.1f} us/sample")
    return figures


def streaming(duration_s: float) -> None:
    measure_streaming(duration_s, verbose=True)


def measure_day(duration_s: float | None = None, verbose: bool = False) -> dict[str, float]:
    """Batch ``analyze`` of ``workday_8h`` (cut to ``duration_s`` if given) at 50 Hz. Keys under ``day.quaternion``
    (from packets: ``packets``, ``decode_s``, ``analysis_s``) and ``day.raw_imu`` (from arrays), both with
    ``real_s``, ``samples``, ``total_s``, ``x_real_time`` and ``us_per_sample``."""
    figures: dict[str, float] = {}
    if verbose:
        hours = "8-hour" if duration_s is None else f"{duration_s / 3600:g} h of the"
        print(f"analyze, {hours} workday_8h at 50 Hz")
    settings = EngineSettings()
    for label, device in (("quaternion tag (posturebuddy), from packets", "posturebuddy"),):
        rec = simulate_for("workday_8h", device, duration_s=duration_s)
        pk = collect_packets(rec, device)
        real = float(rec.t_s[-1] - rec.t_s[0])
        t0 = time.perf_counter()
        decoded = decode_items(pk, get_family(device))
        t1 = time.perf_counter()
        result = analyze_samples(decoded.arrays, family=get_family(device), settings=settings, capture_only=True)
        t2 = time.perf_counter()
        total = t2 - t0
        figures.update(
            {
                "day.quaternion.real_s": real,
                "day.quaternion.packets": float(len(pk)),
                "day.quaternion.samples": float(result.samples),
                "day.quaternion.decode_s": t1 - t0,
                "day.quaternion.analysis_s": t2 - t1,
                "day.quaternion.total_s": total,
                "day.quaternion.x_real_time": real / total,
                "day.quaternion.us_per_sample": total / result.samples * 1e6,
            }
        )
        if verbose:
            print(
                f"  {label}: {len(pk):,} packets; decode {t1 - t0:.1f} s, analysis {t2 - t1:.1f} s "
                f"({', '.join(f'{k} {v:.1f}' for k, v in result.stage_s.items())}); total {total:.1f} s = "
                f"{real / total:,.0f}x real time, {total / result.samples * 1e6:.1f} us/sample"
            )
        del pk, decoded
    rec = simulate_for("workday_8h", "witmotion", duration_s=duration_s)
    keep = rec.present
    arrays = SampleArrays.create(rec.t_s[keep], accel_g=rec.accel_g[keep], gyro_dps=rec.gyro_dps[keep])
    real = float(rec.t_s[-1] - rec.t_s[0])
    t0 = time.perf_counter()
    result = analyze_samples(arrays, family=get_family("witmotion"), settings=settings, capture_only=True)
    total = time.perf_counter() - t0
    figures.update(
        {
            "day.raw_imu.real_s": real,
            "day.raw_imu.samples": float(result.samples),
            "day.raw_imu.total_s": total,
            "day.raw_imu.x_real_time": real / total,
            "day.raw_imu.us_per_sample": total / result.samples * 1e6,
        }
    )
    if verbose:
        print(
            f"  raw IMU tag (witmotion accel+gyro, AHRS), from arrays: {result.samples:,} samples; "
            f"({', '.join(f'{k} {v:.1f}' for k, v in result.stage_s.items())}); total {total:.1f} s = "
            f"{real / total:,.0f}x real time, {total / result.samples * 1e6:.1f} us/sample"
        )
    del arrays
    return figures


def day() -> None:
    print(f"activity loop: {activity_path()}")
    measure_day(verbose=True)


def activity_path() -> str:
    """Which activity loop ``analyze`` runs here: numba-compiled or pure Python (and why)."""
    if os.environ.get("POSTUREBUDDY_JIT", "").strip() == "0":
        return "pure Python (POSTUREBUDDY_JIT=0)"
    try:
        import numba
    except ImportError:
        return "pure Python (numba not installed)"
    return f"numba {numba.__version__} (compiled)"


_FIRST_CALL = """
import time
t0 = time.perf_counter()
import numpy as np
from posturebuddy.motion.activity import activity_codes_compiled
n = 100
t = np.arange(n) * 0.02
acc = np.tile([0.0, 0.0, 1.0], (n, 1))
up = np.tile([0.0, 0.0, 1.0], (n, 1))
ones = np.ones(n, dtype=bool)
codes = activity_codes_compiled(t, acc, ones, up, ones, ones)
assert codes is not None, "numba not installed"
print(time.perf_counter() - t0)
"""


def measure_jit(verbose: bool = False) -> dict[str, float]:
    """Seconds to the first result of the compiled activity loop in a fresh process (numba import included):
    ``jit.cold_s`` with an empty numba cache (compiling), ``jit.warm_s`` with the cache it left."""
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        env.pop("POSTUREBUDDY_JIT", None)
        for key in ("jit.cold_s", "jit.warm_s"):
            out = subprocess.run(
                [sys.executable, "-c", _FIRST_CALL], capture_output=True, text=True, check=True, env=env
            )
            figures[key] = float(out.stdout.strip())
    if verbose:
        print(
            f"compiled activity loop, first call in a fresh process: {figures['jit.cold_s']:.1f} s with an empty "
            f"numba cache (compiling), {figures['jit.warm_s']:.2f} s with a warm one"
        )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--day", action="store_true", help="also analyse the simulated 8-hour day")
    parser.add_argument("--jit", action="store_true", help="also time the compiled activity loop's first call")
    parser.add_argument("--duration", type=float, default=1200.0, help="streaming: simulated seconds per kind")
    args = parser.parse_args()
    streaming(args.duration)
    if args.jit:
        measure_jit(verbose=True)
    if args.day:
        day()


if __name__ == "__main__":
    main()
