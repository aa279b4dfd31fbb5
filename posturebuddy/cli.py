"""The ``posturebuddy`` command line.

Parsing lives here; each command's work lives in the package that owns it and is imported only when that
command runs, so ``posturebuddy --help`` is instant and a headless command never loads the dashboard.

Exit codes: 0 success, 1 the command failed (the message says why), 2 bad usage or a bad config file,
130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from posturebuddy import __version__
from posturebuddy.config import (
    ConfigError,
    Settings,
    config_path,
    data_dir,
    load_settings,
    log_dir,
    recordings_dir,
    render_toml,
    write_default_config,
)
from posturebuddy.logs import setup_logging

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

FAMILIES = ("posturebuddy", "thingy52", "witmotion", "sensortag", "microbit")


Handler = Callable[[argparse.Namespace, Settings], int]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keep our paragraphs and examples as written, and show defaults where we state them."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=100)


def _add(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    summary: str,
    description: str,
    examples: str,
) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog="examples:\n" + examples,
        formatter_class=_Formatter,
    )


def _demo_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "demo",
        "the whole product against a simulated wearer and tag (no hardware needed)",
        "Run PostureBuddy connected to a virtual tag. The tag runs on a real Bluetooth Low Energy stack\n"
        "(bumble) inside this process and a simulated wearer moves it: sitting, slouching, pushing the head\n"
        "forward, standing up and walking. Use it to see what PostureBuddy does before you buy a tag.",
        "  posturebuddy demo\n"
        "  posturebuddy demo --scenario slouchy_afternoon --speed 20\n"
        "  posturebuddy demo --device thingy52\n"
        "  posturebuddy demo --headless --duration 5 > demo.jsonl",
    )
    p.add_argument(
        "--scenario",
        default="slouchy_afternoon",
        help="simulated day to play (default: %(default)s; 'python -m simulators list' shows all)",
    )
    p.add_argument(
        "--device", default="posturebuddy", choices=FAMILIES, help="tag model to emulate (default: %(default)s)"
    )
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="time acceleration, e.g. 20 plays 20 s per second (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=None, help="random seed for the scenario (default: the scenario's own)")
    p.add_argument("--headless", action="store_true", help="no screen: print samples and events as JSON lines")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds of wall time")


def _run_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "run",
        "connect to your tag and coach (the main program)",
        "Connect to the configured tag (or the one given with --address), keep the connection up all day,\n"
        "detect sustained slouching and forward head posture, and prompt chin tucks and breaks. Every session\n"
        "is recorded unless recording is disabled in the config.",
        "  posturebuddy run\n"
        "  posturebuddy run --address C4:A2:11:00:10:01\n"
        "  posturebuddy run --headless > samples.jsonl     # JSON lines of samples and link events",
    )
    p.add_argument("--address", help="Bluetooth address of the tag (default: [tag] address in the config)")
    p.add_argument("--family", choices=FAMILIES, help="tag family if it cannot be recognised from advertising")
    p.add_argument("--headless", action="store_true", help="no dashboard: print samples and events as JSON lines")
    p.add_argument("--no-record", action="store_true", help="do not record this session")


def _scan_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "scan",
        "list supported tags nearby",
        "Scan for Bluetooth Low Energy advertisements and list the tags PostureBuddy supports: family, name,\n"
        "address and signal strength. Put the address in the config ([tag] address) to pin your own tag.",
        "  posturebuddy scan\n  posturebuddy scan --timeout 10 --json",
    )
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to scan (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--all", action="store_true", help="also list devices that are not supported tags")


def _decode_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "decode",
        "decode captured notification bytes (a debugging aid for bug reports)",
        "Decode bytes captured from a tag (for example with nRF Connect) exactly as PostureBuddy would, and\n"
        "print the values with their units. Notifications, reads and command writes all decode: name the\n"
        "characteristic with --char (an unknown name lists the family's names). Attach the output to a bug\n"
        "report about a tag. Exit status: 0 decoded, 1 the bytes do not decode (the message says why), 2 bad\n"
        "usage (not hex, unknown characteristic).",
        "  posturebuddy decode --device thingy52 --char raw 00FE00017703 0000C0F40100 000000000000\n"
        "  posturebuddy decode --device witmotion '55 61 00 00 00 00 00 08 00 00 00 00 00 00 00 00 00 00 00 40'\n"
        "  posturebuddy decode --device witmotion --char write FF:AA:27:51:00\n"
        "  posturebuddy decode --device sensortag --accel-range 8 5C0F7DFF0000 00F80000DB0D 000000000000\n"
        "  posturebuddy decode --device microbit F0FF2000 10FC --json",
    )
    p.add_argument("--device", required=True, choices=FAMILIES, help="tag family the bytes came from")
    p.add_argument(
        "--char",
        help="characteristic name (e.g. raw, config, write, period) or UUID (default: the family's main data "
        "characteristic)",
    )
    p.add_argument(
        "--accel-range",
        type=int,
        choices=(2, 4, 8, 16),
        metavar="{2,4,8,16}",
        help="sensortag only: the accelerometer range in g the data was captured at; the bytes do not say it "
        "(default: 8, the range PostureBuddy configures)",
    )
    p.add_argument("--json", action="store_true", help="print JSON (field names carry units)")
    p.add_argument("hex", nargs="+", help="the bytes in hex; spaces, colons and 0x prefixes are ignored")


def _calibrate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "calibrate",
        "teach PostureBuddy your upright posture (or, with --accel, the tag's accelerometer)",
        "Sit upright, comfortably, and keep still for a few seconds while PostureBuddy records what upright\n"
        "looks like for you. Optionally lean forward a little when asked, so it learns which way is forward\n"
        "on your back. The result is stored for this tag.\n\n"
        "--accel is a one-off step per tag, done off the body: lay the tag flat on a table on each of its six\n"
        "faces in turn (any order) and hold each still for 3 s. It measures the accelerometer's offsets and\n"
        "sensitivities, which otherwise make angles read a few per cent off on accelerometer-only tags\n"
        "(micro:bit); every later session with the tag corrects its readings. Run the upright step again after it.",
        "  posturebuddy calibrate\n  posturebuddy calibrate --no-lean\n"
        "  posturebuddy calibrate --accel\n  posturebuddy calibrate --accel --address F0:12:34:56:78:9A\n"
        "  posturebuddy calibrate --accel --simulate microbit      # a virtual tag is turned for you\n"
        "  posturebuddy calibrate --list\n  posturebuddy calibrate --forget --address F0:12:34:56:78:9A",
    )
    p.add_argument("--address", help="tag to calibrate (default: the configured tag)")
    p.add_argument(
        "--no-lean",
        action="store_true",
        help="skip the lean-forward step; use the tag's documented mounting for the forward direction",
    )
    p.add_argument(
        "--accel",
        action="store_true",
        help="calibrate the tag's accelerometer: lay it on each of its six faces in turn (off the body)",
    )
    p.add_argument(
        "--simulate",
        metavar="DEVICE",
        help="with --accel: run the step against a virtual tag of this family (e.g. microbit), no hardware",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=5.0,
        help="with --simulate: simulated seconds per wall second (default: %(default)s)",
    )
    p.add_argument("--list", action="store_true", help="list the remembered calibrations and exit")
    p.add_argument(
        "--forget",
        action="store_true",
        help="forget the remembered calibrations of the tag, upright and accelerometer (the next run captures anew)",
    )


def _replay_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "replay",
        "play a recorded session through the dashboard or headless",
        "Feed a recording back through the same decoders and engine as a live session, at real speed, a\n"
        "chosen speed or as fast as possible. Keys in the dashboard: space pause, +/- speed, arrows seek.",
        "  posturebuddy replay ~/.local/share/posturebuddy/recordings/2026-11-21.pbrec\n"
        "  posturebuddy replay FILE --speed 60 --start 10:30\n"
        "  posturebuddy replay FILE --headless --speed max",
    )
    p.add_argument("file", type=Path, help="recording file")
    p.add_argument("--speed", default="1", help="multiple of real time, or 'max' (default: %(default)s)")
    p.add_argument("--start", help="start at this time of day (HH:MM) or offset in seconds")
    p.add_argument("--headless", action="store_true", help="no dashboard: print events as JSON lines")


def add_csv_column_options(p: argparse.ArgumentParser) -> None:
    """The options that say which CSV columns hold what, in which units (``analyze`` and ``import``)."""
    csv = p.add_argument_group("CSV input")
    csv.add_argument("--time-col", help="column with time in seconds (omit and give --rate if there is none)")
    csv.add_argument("--rate", type=float, help="sample rate in Hz when the CSV has no time column")
    csv.add_argument("--accel-cols", help="three comma-separated accelerometer columns (x,y,z)")
    csv.add_argument(
        "--accel-unit", choices=("g", "m/s^2", "raw"), help="(default: from the header, e.g. '(g)' or 'mps2'; else g)"
    )
    csv.add_argument("--accel-scale", type=float, help="counts per g when --accel-unit raw")
    csv.add_argument("--gyro-cols", help="three comma-separated gyroscope columns (x,y,z)")
    csv.add_argument(
        "--gyro-unit",
        choices=("deg/s", "rad/s"),
        help="(default: from the header, e.g. '(deg/s)' or 'radps'; else deg/s)",
    )


def _analyze_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "analyze",
        "find episodes, prompts and breaks in a recording or a CSV of raw IMU data",
        "Run the detection engine over a whole file at once and report episodes, prompts, breaks and time\n"
        "in each posture. FILE is a PostureBuddy recording or a CSV of raw IMU data (phone sensor apps,\n"
        "other tags, research data sets); for a CSV, say which columns hold what and in which units.",
        "  posturebuddy analyze session.pbrec\n"
        "  posturebuddy analyze session.pbrec --json --timeline timeline.csv\n"
        "  posturebuddy analyze phone.csv --time-col t --accel-cols ax,ay,az --accel-unit m/s^2 \\\n"
        "      --gyro-cols gx,gy,gz --gyro-unit rad/s --calibrate 0:10",
    )
    p.add_argument("file", type=Path, help="recording or CSV file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--timeline", type=Path, metavar="OUT.csv", help="also write a per-sample timeline CSV")
    p.add_argument("--calibrate", metavar="START:END", help="take the upright reference from this span (seconds)")
    add_csv_column_options(p)


def _sessions_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "sessions",
        "list, show, delete or export recorded sessions",
        "Manage the recorded sessions in the data directory: list them with their figures (upright share,\n"
        "episodes, prompts answered, breaks, longest unbroken sitting), show one, delete or export it.",
        "  posturebuddy sessions list\n  posturebuddy sessions show 12\n  posturebuddy sessions export 12 out.csv\n"
        "  posturebuddy sessions export 12 out.parquet\n  posturebuddy sessions delete 12 --yes",
    )
    p.add_argument("action", choices=("list", "show", "delete", "export"), help="what to do")
    p.add_argument("session", nargs="?", help="session id (for show, delete, export)")
    p.add_argument("out", nargs="?", type=Path, help="output file (for export)")
    p.add_argument("--json", action="store_true", help="with list or show: print JSON")
    p.add_argument(
        "--analyze",
        action="store_true",
        help="with show: compute the figures of a recording without minute summaries (and keep them in it)",
    )
    p.add_argument("--yes", action="store_true", help="with delete: do not ask for confirmation")


def _report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "report",
        "a day's or week's posture summary, in the terminal or as HTML/PNG",
        "Summarise a day or a week from the recordings in the recordings directory: upright share (of the\n"
        "time posture was judged), episodes by kind, prompts and what you did with them, breaks taken, the\n"
        "longest unbroken sitting and the recorded time, with a small timeline of the day. Days are calendar\n"
        "days in your local time zone. Recordings without per-minute summaries (older or simulated ones) are\n"
        "analysed once, with a progress bar, and the summaries are stored in them for next time.\n"
        "A day without recordings is not an error (exit 0) unless --html or --png asked for a file (exit 1).\n"
        "PostureBuddy coaches habits; it is not medical advice.",
        "  posturebuddy report                                  # today, in the terminal\n"
        "  posturebuddy report --day yesterday\n"
        "  posturebuddy report --day 2026-01-05 --png day.png   # a picture of the day\n"
        "  posturebuddy report --week 2026-W02 --html week.html # one row per day, with totals\n"
        "  posturebuddy report --week last --png week.png",
    )
    when = p.add_mutually_exclusive_group()
    when.add_argument("--day", help="YYYY-MM-DD, 'today' or 'yesterday' (default: today)")
    when.add_argument("--week", help="ISO week YYYY-Www (e.g. 2026-W02), 'this' or 'last'")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write a self-contained HTML report (inline SVG)")
    p.add_argument(
        "--png", type=Path, metavar="FILE", help="also write a PNG picture (needs: pip install 'posturebuddy[report]')"
    )
    p.add_argument(
        "--no-cache",
        action="store_true",
        help="do not store computed per-minute summaries back into recordings that lack them",
    )


def _import_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "import",
        "turn a CSV of raw IMU data into a recording",
        "Import raw IMU data recorded by another app or device into a PostureBuddy recording, which analyze,\n"
        "replay and report then accept. Each row becomes one stored sample (acceleration in g, angular rate\n"
        "in deg/s, the file's own axes). Common headers are recognised (x-io, BROAD, 'ax,ay,az', 'accel_x_g'...);\n"
        "otherwise say which columns hold what and in which units, as for analyze. Times counting from 0 are\n"
        "placed on the calendar: at --start, else so that the data ends at the CSV's modification time.",
        "  posturebuddy import phone.csv                                  # writes phone.pbrec beside it\n"
        "  posturebuddy import phone.csv --out phone.pbrec --time-col t --accel-cols ax,ay,az \\\n"
        "      --accel-unit m/s^2 --gyro-cols gx,gy,gz --gyro-unit rad/s --start 2026-11-20T09:30\n"
        "  posturebuddy import log.csv --rate 100 --accel-cols X,Y,Z --accel-unit raw --accel-scale 4096\n"
        "  posturebuddy analyze phone.pbrec                               # then analyze, replay or export it",
    )
    p.add_argument("file", type=Path, help="CSV file")
    p.add_argument("--out", type=Path, help="recording to write (default: next to the CSV, FILE.pbrec)")
    p.add_argument(
        "--start",
        metavar="WHEN",
        help="date and time of the first sample when the CSV's times count from 0, e.g. 2026-11-20T09:30 "
        "(local time unless a zone is given) or POSIX seconds",
    )
    add_csv_column_options(p)


def _export_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "export",
        "write a recording as CSV or Parquet",
        "Export a recording's decoded samples and its events for your own analysis (pandas, R, a spreadsheet).\n"
        "The samples file has one row per sample: t_s (POSIX seconds), the fields the tag sends (accel_*_g,\n"
        "gyro_*_dps, quat_*, gravity_*_g) and what the engine judged at that moment (flexion_deg, lateral_deg,\n"
        "posture, activity). The events (episodes, prompts, calibrations, link events, ground truth) go to a\n"
        "second file beside it, NAME.events.csv or NAME.events.parquet. A samples CSV can be imported again.\n"
        "Parquet needs pyarrow: pip install 'posturebuddy[parquet]'.",
        "  posturebuddy export session.pbrec --csv session.csv          # and session.events.csv\n"
        "  posturebuddy export session.pbrec --parquet s.parquet\n"
        "  posturebuddy export session.pbrec --csv s.csv --no-posture   # samples only, faster",
    )
    p.add_argument("file", type=Path, help="recording file")
    p.add_argument("--csv", type=Path, metavar="OUT.csv", help="CSV file to write")
    p.add_argument("--parquet", type=Path, metavar="OUT.parquet", help="Parquet file to write")
    p.add_argument("--no-posture", action="store_true", help="leave out the engine's judgement (no analysis is run)")


def _config_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _add(
        sub,
        "config",
        "show, check or create the settings file",
        "Settings live in a TOML file. Every key is optional and has a default, so the file only needs what\n"
        "you change. 'show' prints the settings in effect (with a comment on each), 'path' where the files\n"
        "are, 'init' writes a commented file with all defaults, 'check' validates the file.",
        "  posturebuddy config show\n  posturebuddy config path\n  posturebuddy config init\n"
        "  posturebuddy --config ./test.toml config check",
    )
    p.add_argument("action", choices=("show", "path", "init", "check"), help="what to do")
    p.add_argument("--plain", action="store_true", help="with show: no comments")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by the tests to check every command's help)."""
    parser = argparse.ArgumentParser(
        prog="posturebuddy",
        description=(
            "PostureBuddy: a posture and break coach for a Bluetooth motion tag worn on your upper back.\n"
            "It learns your upright posture, notices sustained slouching and forward head posture, prompts\n"
            "chin tucks and breaks (credited only when you stand and walk), and records every session.\n"
            "It coaches habits; it is not a medical device and gives no medical advice."
        ),
        epilog=(
            "start here:\n"
            "  posturebuddy demo            try it with a simulated wearer, no hardware needed\n"
            "  posturebuddy scan            find your tag\n"
            "  posturebuddy calibrate       teach it your upright posture\n"
            "  posturebuddy run             coach for the day\n\n"
            "'posturebuddy COMMAND --help' explains each command."
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more output (-vv debug, -vvv also the Bluetooth stack)"
    )
    parser.add_argument("--config", metavar="FILE", help="settings file (default: see 'posturebuddy config path')")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for add in (
        _demo_parser,
        _run_parser,
        _scan_parser,
        _decode_parser,
        _calibrate_parser,
        _replay_parser,
        _analyze_parser,
        _sessions_parser,
        _report_parser,
        _import_parser,
        _export_parser,
        _config_parser,
    ):
        add(sub)
    return parser


# ------------------------------------------------------------------------------------------------ commands


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    """``posturebuddy config show|path|init|check``."""
    path = config_path(args.config)
    if args.action == "show":
        print(render_toml(settings, comments=not args.plain), end="")
    elif args.action == "path":
        state = "exists" if path.exists() else "not created yet: all defaults; 'posturebuddy config init' makes one"
        print(f"config file:  {path} ({state})")
        print(f"recordings:   {recordings_dir(settings)}")
        print(f"data:         {data_dir()}")
        print(f"log file:     {log_dir() / 'posturebuddy.log'}")
    elif args.action == "init":
        write_default_config(path)
        print(f"wrote {path}")
    else:  # check
        state = "valid" if path.exists() else "absent, so every default applies"
        print(f"{path}: {state}")
    return EXIT_OK


LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "analyze": ("posturebuddy.commands.analyze", "run_analyze"),
    "calibrate": ("posturebuddy.commands.calibrate", "run_calibrate"),
    "decode": ("posturebuddy.commands.decode", "run_decode"),
    "demo": ("posturebuddy.commands.demo", "demo_command"),
    "export": ("posturebuddy.commands.export", "run_export"),
    "import": ("posturebuddy.commands.import_csv", "run_import"),
    "replay": ("posturebuddy.commands.replay", "run_replay"),
    "run": ("posturebuddy.commands.run", "run_command"),
    "scan": ("posturebuddy.commands.scan", "scan_command"),
    "sessions": ("posturebuddy.commands.sessions", "run_sessions"),
    "report": ("posturebuddy.commands.report", "run_report"),
}
"""Commands whose work lives in ``posturebuddy.commands``: (module, function), imported only when they run."""


def lazy_handler(command: str) -> Handler:
    """The handler of a command in :data:`LAZY_COMMANDS`; its module is imported only when it is called."""
    module_name, function_name = LAZY_COMMANDS[command]

    def handler(args: argparse.Namespace, settings: Settings) -> int:
        function: Handler = getattr(importlib.import_module(module_name), function_name)
        return function(args, settings)

    return handler


HANDLERS: dict[str, Handler] = {"config": cmd_config} | {name: lazy_handler(name) for name in LAZY_COMMANDS}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``posturebuddy`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    setup_logging(args.verbose, log_dir() / "posturebuddy.log")
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"posturebuddy: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    handler = HANDLERS[args.command]
    try:
        return handler(args, settings)
    except ConfigError as exc:
        print(f"posturebuddy: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (e.g. '| head'): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
