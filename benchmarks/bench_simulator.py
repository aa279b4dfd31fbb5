"""Benchmark of ``python -m simulators record``: a simulated day written as a recording.

Run: ``.venv/bin/python benchmarks/bench_simulator.py [--scenario workday_8h] [--device posturebuddy] [--rate 50]``

Figures printed (one run; the wearer simulation and the recording are timed separately):

* wall time of the wearer simulation (numpy) and of the whole command (simulation, offline virtual tag, encoders,
  SQLite writes, truth segments);
* the ratio to real time (simulated seconds per wall second);
* packets, microseconds per packet, and the file size (total, per recorded hour, per packet).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from simulators.record import record


def measure(
    scenario: str = "workday_8h",
    device: str = "posturebuddy",
    rate_hz: float = 50.0,
    duration_s: float | None = None,
    verbose: bool = False,
) -> dict[str, float]:
    """``simulator.`` figures: ``simulated_s``, ``simulate_wall_s``, ``record_wall_s``, ``wall_s``,
    ``x_real_time``, ``packets``, ``us_per_packet`` (tag + encode + write), ``bytes_per_hour``."""
    with tempfile.TemporaryDirectory() as tmp:
        result = record(Path(tmp) / "bench.pbrec", scenario, device, rate_hz=rate_hz, duration_s=duration_s)
    hours = result.simulated_s / 3600.0
    record_s = result.wall_s - result.simulate_wall_s
    if verbose:
        print(f"scenario {scenario}, device {device} at {result.rate_hz:g} Hz, {hours:g} h simulated")
        print(f"  wearer simulation      {result.simulate_wall_s:8.1f} s")
        print(f"  tag + encode + write   {record_s:8.1f} s  ({record_s / result.packets * 1e6:.2f} us per packet)")
        print(f"  total wall time        {result.wall_s:8.1f} s  ({result.speedup:,.0f}x real time)")
        print(f"  packets                {result.packets:>10,}")
        mb = result.file_bytes / 1e6
        per_packet = result.file_bytes / result.packets
        print(
            f"  file                   {mb:8.1f} MB  ({mb / hours:.2f} MB per hour, {per_packet:.1f} bytes per packet)"
        )
    return {
        "simulator.simulated_s": result.simulated_s,
        "simulator.simulate_wall_s": result.simulate_wall_s,
        "simulator.record_wall_s": record_s,
        "simulator.wall_s": result.wall_s,
        "simulator.x_real_time": result.speedup,
        "simulator.packets": float(result.packets),
        "simulator.us_per_packet": record_s / result.packets * 1e6,
        "simulator.bytes_per_hour": result.file_bytes / hours,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="workday_8h", help="scenario (default: %(default)s)")
    parser.add_argument("--device", default="posturebuddy", help="tag family (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=50.0, help="sample rate in Hz (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=None, help="cut the scenario (seconds)")
    args = parser.parse_args()
    measure(args.scenario, args.device, args.rate, args.duration, verbose=True)


if __name__ == "__main__":
    main()
