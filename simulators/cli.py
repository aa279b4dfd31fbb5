"""``python -m simulators``: list the scenarios and tags, record a simulated session, serve a virtual tag.

Exit codes: 0 success, 1 the command failed (the message says why), 2 bad usage (unknown scenario or device,
bad values).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import math
import re
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TextIO

from simulators.tags import TAG_CLASSES
from simulators.wearer import list_scenarios

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

PROG = "python -m simulators"


class UsageError(Exception):
    """A bad argument; the message is one line."""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keep our paragraphs and examples as written."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def _add(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, description: str, examples: str
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name, help=summary, description=description, epilog="examples:\n" + examples, formatter_class=_Formatter
    )


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scenario", required=True, metavar="S", help=f"scenario name or .toml file ('{PROG} list' shows them)"
    )
    p.add_argument("--device", required=True, metavar="D", help=f"tag family to emulate: {', '.join(TAG_CLASSES)}")
    p.add_argument("--seed", type=int, default=None, metavar="N", help="random seed (default: the scenario's own)")
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        metavar="HZ",
        help="sample rate; snaps to the nearest the tag supports (default: the family's, e.g. 50 Hz)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="cut the scenario after S seconds (default: its full length)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and docs)."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "The PostureBuddy simulator: a virtual wearer with a motion tag on the upper back, scripted\n"
            "scenarios with ground truth, and byte-exact virtual tags of every supported family.\n"
            "\n"
            "  list    the scenarios (what each should produce) and the tag families\n"
            "  record  write a simulated session as a PostureBuddy recording, headless and fast\n"
            "  serve   run a virtual tag on a Bluetooth transport (a USB dongle, a socket for an app)\n"
            "  eval    score posture detection, prompts and breaks against the scenarios' ground truth"
        ),
        epilog=(
            "examples:\n"
            f"  {PROG} list\n"
            f"  {PROG} record --scenario slouchy_afternoon --device posturebuddy --out slouchy.pbrec\n"
            f"  {PROG} serve --scenario slouchy_afternoon --device posturebuddy --transport usb:0\n"
            f"  {PROG} eval --scenario fidgety_upright --device microbit\n"
            "\n"
            "More: docs/simulator.md"
        ),
        formatter_class=_Formatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = _add(
        sub,
        "list",
        "the scenarios and tag families",
        "Show the shipped scenarios (length, the alert episodes and breaks their [expect] table promises,\n"
        "a one-line description) and the tag families the simulator can play (rates, what they stream).",
        f"  {PROG} list\n  {PROG} list --json | jq '.scenarios[].name'",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")

    p = _add(
        sub,
        "record",
        "write a simulated session as a recording (raw notifications + ground truth)",
        "Simulate a wearer following a scenario, play it through the virtual tag of a family without a radio,\n"
        "and write what the app would have received: every notification and read reply, byte for byte, at\n"
        "host times on the scenario's calendar (start + the tag's clock). The ground truth goes into the same\n"
        "file as truth segments: posture and activity runs, the episodes that should alert, breaks,\n"
        "out-of-range spans, the scenario's timeline and transient motions. The same arguments always give\n"
        "the same packets. The file is a normal PostureBuddy recording (*.pbrec, SQLite).",
        f"  {PROG} record --scenario slouchy_afternoon --device posturebuddy --out slouchy.pbrec\n"
        f"  {PROG} record --scenario workday_8h --device thingy52 --rate 25 --out day.pbrec --progress\n"
        f"  {PROG} record --scenario good_day --device witmotion --duration 300 --seed 7 --out short.pbrec\n"
        f"  {PROG} record --scenario good_day --device microbit --start 2026-03-02T08:30:00Z --out monday.pbrec",
    )
    _common(p)
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="recording to create (never overwritten)")
    p.add_argument(
        "--start",
        default=None,
        metavar="ISO-TIME",
        help="calendar time of the first sample, e.g. 2026-03-02T08:30:00Z (default: the scenario's start)",
    )
    p.add_argument("--progress", action="store_true", help="show a progress bar even when stderr is not a terminal")

    p = _add(
        sub,
        "serve",
        "run a virtual tag on a Bluetooth transport (USB dongle, serial controller, socket)",
        "Play a scenario through a virtual tag and serve it on a bumble transport until Ctrl-C.\n"
        "\n"
        "On a controller (a phone or a real BlueZ machine sees the tag over the radio):\n"
        "  usb:0, usb:VID:PID      a USB Bluetooth dongle (detach it from the kernel first, see docs)\n"
        "  serial:DEV,BAUD         an HCI UART controller, e.g. serial:/dev/ttyACM0,1000000\n"
        "  hci-socket:0            a kernel HCI adapter (Linux, root, adapter down)\n"
        "  tcp-client:HOST:PORT    an HCI controller served over TCP by another program\n"
        "\n"
        "For a host elsewhere (the tag stays on an in-process virtual air; a second virtual controller\n"
        "of that air is served on the transport):\n"
        "  tcp-server:_:PORT       an app attaches a bumble host with tcp-client:127.0.0.1:PORT\n"
        "  unix-server:PATH        the same over a Unix socket (the app uses unix:PATH)\n"
        "  vhci                    /dev/vhci: this machine's own BlueZ gets an adapter that sees the tag\n"
        "On tcp-server and unix-server a watchdog drops the tag's link when the app's socket closes, so a\n"
        "killed app does not leave the tag connected and silent: it advertises again for the next one.",
        f"  {PROG} serve --scenario slouchy_afternoon --device posturebuddy --transport usb:0\n"
        f"  {PROG} serve --scenario good_day --device thingy52 --transport tcp-server:_:9001 --speed 10\n"
        f"  {PROG} serve --scenario workday_8h --device posturebuddy --transport serial:/dev/ttyACM0,1000000 \\\n"
        "      --name PB-Tag-DEMO --address F1:5A:00:00:00:01",
    )
    _common(p)
    p.add_argument("--transport", required=True, metavar="T", help="bumble transport, e.g. usb:0 or tcp-server:_:9001")
    p.add_argument(
        "--speed", type=float, default=1.0, metavar="X", help="simulated seconds per second (default: %(default)s)"
    )
    p.add_argument("--name", default=None, help="advertised name (default: the family's, e.g. PB-Tag-XXXX)")
    p.add_argument(
        "--address",
        default=None,
        metavar="ADDR",
        help="static random address, top two bits set, e.g. F1:5A:00:00:00:01 (default: derived from the seed)",
    )
    p.add_argument(
        "--adv-interval",
        type=float,
        default=None,
        metavar="MS",
        help="advertising interval in ms (default: 100 on a radio, 20 on a socket)",
    )
    sub.add_parser(
        "eval",
        help="score detection against ground truth ('eval --help' for its options)",
        add_help=False,
    )
    return parser


# -- validation --------------------------------------------------------------------------------------------------


def _check_scenario(value: str) -> str:
    if value in list_scenarios() or (value.endswith(".toml") and Path(value).is_file()):
        return value
    raise UsageError(f"unknown scenario '{value}'; known: {', '.join(list_scenarios())} (or a .toml file)")


def _check_device(value: str) -> str:
    if value in TAG_CLASSES:
        return value
    raise UsageError(f"unknown device '{value}'; known: {', '.join(TAG_CLASSES)}")


def _check_positive(value: float | None, option: str) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise UsageError(f"{option} must be a positive number, got {value:g}")


def _check_address(value: str) -> None:
    parts = value.split(":")
    if len(parts) != 6 or not all(re.fullmatch(r"[0-9A-Fa-f]{2}", part) for part in parts):
        raise UsageError(f"--address must look like F1:5A:00:00:00:01, got '{value}'")
    if int(parts[0], 16) & 0xC0 != 0xC0:
        raise UsageError(f"--address {value} is not a static random address: its first byte must be C0-FF")


def parse_start(text: str) -> float:
    """``--start``: ISO 8601 (``Z`` or an offset; a time without one is UTC) or POSIX seconds."""
    with contextlib.suppress(ValueError):
        return float(text)
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--start must be an ISO 8601 time such as 2026-03-02T08:30:00Z, got '{text}'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _validate(args: argparse.Namespace) -> None:
    if args.command in ("record", "serve"):
        _check_scenario(args.scenario)
        _check_device(args.device)
        _check_positive(args.rate, "--rate")
        _check_positive(args.duration, "--duration")
    if args.command == "serve":
        _check_positive(args.speed, "--speed")
        _check_positive(args.adv_interval, "--adv-interval")
        if args.address is not None:
            _check_address(args.address)


# -- list --------------------------------------------------------------------------------------------------------


def _minutes(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min"


def cmd_list(args: argparse.Namespace, out: TextIO) -> int:
    """``list``: scenarios and devices, as tables or JSON."""
    from simulators.catalog import describe_range, device_infos, scenario_infos

    scenarios = scenario_infos()
    devices = device_infos()
    if args.json:
        data = {
            "scenarios": [dataclasses.asdict(s) for s in scenarios],
            "devices": [dataclasses.asdict(d) for d in devices],
        }
        print(json.dumps(data, indent=2), file=out)
        return EXIT_OK
    print("scenarios (alerts and breaks: what the scenario's [expect] table promises)", file=out)
    print(f"  {'name':<22}{'length':>8}  {'alerts':>6}  {'breaks':>6}  description", file=out)
    for s in scenarios:
        print(
            f"  {s.name:<22}{_minutes(s.duration_s):>8}  {describe_range(s.alert_episodes):>6}  "
            f"{describe_range(s.breaks):>6}  {s.summary}",
            file=out,
        )
    print("", file=out)
    print("devices (--device; rates the simulated tag supports, * the default)", file=out)
    print(f"  {'family':<14}{'name':<24}{'rates (Hz)':<34}{'streams':<17}sensors", file=out)
    for d in devices:
        rates = ", ".join(f"{r:g}*" if r == d.default_rate_hz else f"{r:g}" for r in d.rates_hz)
        print(
            f"  {d.family_id:<14}{d.display_name:<24}{rates:<34}{', '.join(d.streams):<17}{', '.join(d.sensors)}",
            file=out,
        )
    return EXIT_OK


# -- record ------------------------------------------------------------------------------------------------------


def _size(n_bytes: int) -> str:
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= factor:
            return f"{n_bytes / factor:.1f} {unit}"
    return f"{n_bytes} B"


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


@contextlib.contextmanager
def _progress_bar(
    enabled: bool, *, forced: bool = False
) -> Iterator[tuple[Callable[[float], None], Callable[[float], None]]]:
    """``(set_total, advance_to)`` callbacks for a rich progress bar on stderr (no-ops when disabled).

    ``forced``: draw it even when stderr is not a terminal (``--progress``).
    """
    if not enabled:
        yield (lambda _total: None), (lambda _done: None)
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[simulated]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True, force_terminal=True if forced else None),
        transient=True,
    )
    task = progress.add_task("simulating the wearer", total=None, simulated="")

    def set_total(total: float) -> None:
        progress.update(task, description="recording", total=total, completed=0)

    def advance_to(done: float) -> None:
        progress.update(task, completed=done, simulated=f"{_clock(done)} simulated")

    with progress:
        yield set_total, advance_to


def cmd_record(args: argparse.Namespace, out: TextIO) -> int:
    """``record``: simulate and write a recording."""
    from posturebuddy.session.recording import RecordingError
    from simulators.record import record

    start = parse_start(args.start) if args.start is not None else None
    path: Path = args.out
    if path.exists():
        print(
            f"{PROG} record: error: {path} already exists, and recordings are never overwritten; "
            "choose another name or delete it",
            file=sys.stderr,
        )
        return EXIT_FAILED
    show = bool(args.progress) or sys.stderr.isatty()
    try:
        with _progress_bar(show, forced=bool(args.progress)) as (set_total, advance_to):
            result = record(
                path,
                args.scenario,
                args.device,
                seed=args.seed,
                rate_hz=args.rate,
                duration_s=args.duration,
                start_epoch_s=start,
                progress=advance_to,
                on_simulated=lambda rec: set_total(rec.duration_s),
            )
    except RecordingError as error:
        print(f"{PROG} record: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"wrote {result.path}: {result.packets:,} packets, {_clock(result.simulated_s)} simulated in "
        f"{result.wall_s:.1f} s ({result.speedup:,.0f}x real time), {_size(result.file_bytes)}; "
        f"{args.device} '{result.tag_name}' at {result.rate_hz:g} Hz, truth: {result.truth_segments} segments, "
        f"{result.alert_episodes} alert episodes, {result.breaks} breaks",
        file=out,
    )
    return EXIT_OK


# -- serve -------------------------------------------------------------------------------------------------------


async def _serve_until_signal(args: argparse.Namespace, out: TextIO) -> None:
    from simulators.serve import ServeOptions, serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    options = ServeOptions(
        scenario=args.scenario,
        device=args.device,
        transport=args.transport,
        speed=args.speed,
        seed=args.seed,
        rate_hz=args.rate,
        duration_s=args.duration,
        name=args.name,
        address=args.address,
        advertising_interval_ms=args.adv_interval,
    )

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    try:
        await serve(options, stop=stop, out=say)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    """``serve``: run a virtual tag on a transport until Ctrl-C."""
    from simulators.serve import ServeError

    try:
        asyncio.run(_serve_until_signal(args, out))
    except ServeError as error:
        print(f"{PROG} serve: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        pass
    print("stopped", file=out)
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
    "list": cmd_list,
    "record": cmd_record,
    "serve": cmd_serve,
}


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["eval"]:
        from simulators.eval import main as eval_main

        return eval_main(arguments[1:], out=out)
    parser = build_parser()
    args = parser.parse_args(arguments)
    try:
        _validate(args)
    except UsageError as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args, out or sys.stdout)
    except UsageError as error:
        print(f"{PROG} {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
