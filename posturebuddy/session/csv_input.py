"""CSV files of raw IMU data (phone sensor apps, other tags, research data sets) as sample arrays.

Used by ``posturebuddy analyze FILE.csv`` (and meant for ``import``). The user names the columns and units, or
the header says them; common headers are recognised:

* x-io Technologies (Fusion example): ``Time (s),Gyroscope X (deg/s),...,Accelerometer X (g),...``
* BROAD: ``t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_radps,...``
* generic: ``t``/``time``/``timestamp`` (seconds; ``..._ms`` / ``(ms)`` milliseconds), ``ax,ay,az``,
  ``accel_x``, ``acc_x_g``, ``gx,gy,gz``, ``gyro_x_dps``...

Units: accelerometer ``g``, ``m/s^2`` or ``raw`` counts with ``accel_scale`` counts per g; gyroscope ``deg/s``
or ``rad/s``. A unit in the header (``(g)``, ``mps2``, ``(deg/s)``, ``radps``...) is used unless one is given.
Without a time column, ``rate_hz`` gives the times (``row / rate``).

Bad input gives one :class:`CsvInputError` line that names the file, the row (1-based, the header is row 1)
and the column: a missing column, a non-numeric cell, a time that does not increase. A truncated last line
(a copy cut short) is dropped with a warning instead.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posturebuddy.motion.orientation import SampleArrays

STANDARD_GRAVITY_MPS2 = 9.80665
"""m/s^2 per g."""
ACCEL_UNITS = ("g", "m/s^2", "raw")
GYRO_UNITS = ("deg/s", "rad/s")


class CsvInputError(ValueError):
    """A CSV file that cannot be read as IMU data; the message is one line naming the file, row and column."""


@dataclass(frozen=True, slots=True)
class CsvOptions:
    """Which columns hold what, and in which units (``None``: detect from the header).

    Attributes:
        time_col: column with the time; seconds unless its header says milliseconds.
        rate_hz: sample rate when there is no time column, Hz.
        accel_cols: the three accelerometer columns (x, y, z).
        accel_unit: ``g``, ``m/s^2`` or ``raw``.
        accel_scale: counts per g for ``raw``.
        gyro_cols: the three gyroscope columns (x, y, z).
        gyro_unit: ``deg/s`` or ``rad/s``.
        delimiter: field separator (``None``: sniffed from the header: comma, semicolon or tab).
    """

    time_col: str | None = None
    rate_hz: float | None = None
    accel_cols: tuple[str, str, str] | None = None
    accel_unit: str | None = None
    accel_scale: float | None = None
    gyro_cols: tuple[str, str, str] | None = None
    gyro_unit: str | None = None
    delimiter: str | None = None


@dataclass(frozen=True, slots=True)
class CsvData:
    """A CSV read as samples.

    Attributes:
        arrays: the samples (accelerometer in g, gyroscope in deg/s; NaN where absent).
        rows: data rows read.
        columns: what was used: ``{"time": ..., "accel": "x,y,z (unit)", "gyro": ...}``.
        warnings: things the user should know (a dropped truncated line, an assumed unit).
    """

    arrays: SampleArrays
    rows: int
    columns: dict[str, str]
    warnings: tuple[str, ...] = field(default_factory=tuple)


def parse_columns(text: str, what: str) -> tuple[str, str, str]:
    """``"ax,ay,az"`` -> ``("ax", "ay", "az")``; raises :class:`CsvInputError` unless exactly three names."""
    names = tuple(part.strip() for part in text.split(","))
    if len(names) != 3 or not all(names):
        raise CsvInputError(f"{what} needs three comma-separated column names (x,y,z), got {text!r}")
    return names[0], names[1], names[2]


def looks_like_csv(path: str | Path) -> bool:
    """Whether the file starts like a CSV with a header: readable text with a separator in its first line."""
    try:
        with Path(path).open(encoding="utf-8-sig", errors="strict", newline="") as fh:
            first = fh.readline(65536)
    except (OSError, UnicodeDecodeError):
        return False
    return bool(first.strip()) and any(sep in first for sep in (",", ";", "\t")) and "\x00" not in first


_AXIS_RE = re.compile(r"(?:^|[^a-z])([xyz])(?:[^a-z]|$)")


def _norm(name: str) -> str:
    return name.strip().lower()


def _axis(name: str) -> str | None:
    n = _norm(name)
    m = _AXIS_RE.search(n)
    if m:
        return m.group(1)
    if n and n[-1] in "xyz" and n[:-1] in ("a", "g", "acc", "accel", "gyr", "gyro", "w"):
        return n[-1]
    return None


def _is_accel(name: str) -> bool:
    n = _norm(name)
    return n.startswith("acc") or (len(n) == 2 and n[0] == "a" and n[1] in "xyz") or "accelerometer" in n


def _is_gyro(name: str) -> bool:
    n = _norm(name)
    return n.startswith("gyr") or (len(n) == 2 and n[0] == "g" and n[1] in "xyz") or "gyroscope" in n


def _find_triplet(header: Sequence[str], test: object) -> tuple[str, str, str] | None:
    assert callable(test)
    found: dict[str, str] = {}
    for name in header:
        if test(name):
            ax = _axis(name)
            if ax is not None and ax not in found:
                found[ax] = name
    if all(a in found for a in "xyz"):
        return found["x"], found["y"], found["z"]
    return None


_TIME_NAMES = ("t_s", "time_s", "time (s)", "time", "t", "timestamp", "seconds", "time_ms", "t_ms", "time (ms)")


def _find_time(header: Sequence[str]) -> str | None:
    normed = {_norm(h): h for h in header}
    for cand in _TIME_NAMES:
        if cand in normed:
            return normed[cand]
    for h in header:
        n = _norm(h)
        if n.startswith(("time", "timestamp")):
            return h
    return None


def _accel_unit_from(names: Sequence[str]) -> str | None:
    n = " ".join(_norm(x) for x in names)
    if any(k in n for k in ("mps2", "m/s^2", "m/s2", "m/s²", "ms2", "m_s2")):
        return "m/s^2"
    if re.search(r"\(g\)|_g\b|\bg\b", n):
        return "g"
    return None


def _gyro_unit_from(names: Sequence[str]) -> str | None:
    n = " ".join(_norm(x) for x in names)
    if any(k in n for k in ("radps", "rad/s", "rad_s", "rads")):
        return "rad/s"
    if any(k in n for k in ("deg/s", "dps", "degps", "deg_s", "°/s")):
        return "deg/s"
    return None


def _time_scale(name: str) -> float:
    n = _norm(name)
    return 1e-3 if ("(ms)" in n or n.endswith("_ms") or n == "ms") else 1.0


def read_imu_csv(path: str | Path, options: CsvOptions | None = None) -> CsvData:
    """Read a CSV of raw IMU data (see the module docstring).

    Raises:
        CsvInputError: one line naming the file, the row and the column.
        OSError: the file cannot be opened.
    """
    opt = options if options is not None else CsvOptions()
    p = Path(path)
    where = p.name
    notes: list[str] = []
    try:
        with p.open(encoding="utf-8-sig", newline="") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise CsvInputError(f"{where}: not a text CSV file ({exc.reason} at byte {exc.start})") from exc
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise CsvInputError(f"{where}: empty file (a CSV with a header row is expected)")
    delimiter = opt.delimiter or next((d for d in (",", ";", "\t") if d in lines[0]), ",")
    reader = csv.reader(lines, delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:  # e.g. a field over the csv module's 128 KiB limit
        raise CsvInputError(f"{where}: row 1: {exc}") from exc
    index = {h: i for i, h in enumerate(header)}

    def col(name: str, what: str) -> int:
        if name in index:
            return index[name]
        lowered = {_norm(h): i for i, h in enumerate(header)}
        if _norm(name) in lowered:
            return lowered[_norm(name)]
        raise CsvInputError(f"{where}: no column {name!r} ({what}); the header has: {', '.join(header)}")

    # Which columns.
    accel_cols = opt.accel_cols or _find_triplet(header, _is_accel)
    gyro_cols = opt.gyro_cols or _find_triplet(header, _is_gyro)
    if accel_cols is None:
        raise CsvInputError(
            f"{where}: no accelerometer columns found; name them with --accel-cols X,Y,Z "
            f"(the header has: {', '.join(header)})"
        )
    time_col = opt.time_col
    if time_col is None and opt.rate_hz is None:
        time_col = _find_time(header)
        if time_col is None:
            raise CsvInputError(f"{where}: no time column found; name it with --time-col, or give --rate HZ")
    if opt.rate_hz is not None and not (math.isfinite(opt.rate_hz) and opt.rate_hz > 0):
        raise CsvInputError(f"--rate must be a positive number of Hz, got {opt.rate_hz!r}")

    # Units.
    accel_unit = opt.accel_unit or _accel_unit_from(accel_cols)
    if accel_unit is None:
        accel_unit = "g"
        notes.append("accelerometer unit not in the header: assumed g (say --accel-unit m/s^2 if not)")
    if accel_unit not in ACCEL_UNITS:
        raise CsvInputError(f"accelerometer unit {accel_unit!r} is not one of {', '.join(ACCEL_UNITS)}")
    if accel_unit == "raw":
        if opt.accel_scale is None or not (math.isfinite(opt.accel_scale) and opt.accel_scale > 0):
            raise CsvInputError("--accel-unit raw needs --accel-scale COUNTS_PER_G (a positive number)")
        accel_factor = 1.0 / opt.accel_scale
    elif accel_unit == "m/s^2":
        accel_factor = 1.0 / STANDARD_GRAVITY_MPS2
    else:
        accel_factor = 1.0
    gyro_unit: str | None = None
    gyro_factor = 1.0
    if gyro_cols is not None:
        gyro_unit = opt.gyro_unit or _gyro_unit_from(gyro_cols)
        if gyro_unit is None:
            gyro_unit = "deg/s"
            notes.append("gyroscope unit not in the header: assumed deg/s (say --gyro-unit rad/s if not)")
        if gyro_unit not in GYRO_UNITS:
            raise CsvInputError(f"gyroscope unit {gyro_unit!r} is not one of {', '.join(GYRO_UNITS)}")
        gyro_factor = math.degrees(1.0) if gyro_unit == "rad/s" else 1.0

    wanted: list[tuple[int, str]] = []
    t_idx = -1
    if time_col is not None:
        t_idx = col(time_col, "time")
        wanted.append((t_idx, time_col))
    a_idx = [col(c, "accelerometer") for c in accel_cols]
    wanted += list(zip(a_idx, accel_cols, strict=True))
    g_idx: list[int] = []
    if gyro_cols is not None:
        g_idx = [col(c, "gyroscope") for c in gyro_cols]
        wanted += list(zip(g_idx, gyro_cols, strict=True))
    width = len(header)

    times: list[float] = []
    acc: list[tuple[float, float, float]] = []
    gyr: list[tuple[float, float, float]] = []
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise CsvInputError(f"{where}: row {reader.line_num}: {exc}") from exc
    last_row = len(rows)
    t_scale = _time_scale(time_col) if time_col is not None else 1.0
    prev_t = -math.inf
    for k, row in enumerate(rows, start=1):
        line_no = k + 1
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) < width and k == last_row:
            notes.append(f"row {line_no}: the last line is cut short ({len(row)} of {width} fields): dropped")
            break
        values: dict[int, float] = {}
        for i, name in wanted:
            if i >= len(row):
                raise CsvInputError(f"{where}: row {line_no} has {len(row)} fields, no value for column {name!r}")
            cell = row[i].strip()
            try:
                values[i] = float(cell)
            except ValueError:
                if k == last_row:
                    notes.append(f"row {line_no}: the last line is cut short ({cell!r} in {name!r}): dropped")
                    break
                raise CsvInputError(f"{where}: row {line_no}, column {name!r}: {cell!r} is not a number") from None
        else:
            if t_idx >= 0:
                t = values[t_idx] * t_scale
                if not math.isfinite(t):
                    raise CsvInputError(
                        f"{where}: row {line_no}, column {time_col!r}: time {row[t_idx]!r} is not finite"
                    )
                if t <= prev_t:
                    raise CsvInputError(
                        f"{where}: row {line_no}, column {time_col!r}: time {t:g} s does not increase "
                        f"(the row before has {prev_t:g} s)"
                    )
                prev_t = t
                times.append(t)
            acc.append((values[a_idx[0]], values[a_idx[1]], values[a_idx[2]]))
            if g_idx:
                gyr.append((values[g_idx[0]], values[g_idx[1]], values[g_idx[2]]))
            continue
        break
    n = len(acc)
    if n == 0:
        raise CsvInputError(f"{where}: no data rows after the header")
    if t_idx >= 0:
        t_arr = np.asarray(times, dtype=np.float64)
    else:
        assert opt.rate_hz is not None
        t_arr = np.arange(n, dtype=np.float64) / opt.rate_hz
    accel = np.asarray(acc, dtype=np.float64) * accel_factor
    gyro = np.asarray(gyr, dtype=np.float64) * gyro_factor if g_idx else None
    columns = {
        "time": f"{time_col}" if time_col is not None else f"none: {opt.rate_hz:g} Hz",
        "accel": f"{','.join(accel_cols)} ({accel_unit})",
        "gyro": f"{','.join(gyro_cols)} ({gyro_unit})" if gyro_cols is not None else "none",
    }
    return CsvData(SampleArrays.create(t_arr, accel_g=accel, gyro_dps=gyro), n, columns, tuple(notes))
