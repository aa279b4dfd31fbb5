"""CSV files of raw IMU data into recordings (``posturebuddy import``).

The CSV is read by :func:`posturebuddy.session.csv_input.read_imu_csv` (the reader ``analyze`` uses, with the
same column and unit options), and each row becomes one packet of the ``imported`` family
(:mod:`posturebuddy.devices.imported`): acceleration in g and angular rate in deg/s, in the file's own sensor
axes, at the row's time. Analyze, replay and reports then read the recording like any other; its
``source_kind`` is ``imported`` and ``meta.extra_json`` says where it came from (``{"import": {...}}``).

Times: a CSV whose times are POSIX seconds (after 1973) keeps them. Times that count from 0 are placed on the
calendar: the first sample at ``start_s`` if given, else at the CSV's modification time minus the data's
duration (the file was most likely written when the recording stopped).

The recording is written under a temporary name beside the output and renamed only once complete, so an
interrupted import never leaves a partial file under the name asked for, and an existing file is never
overwritten.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from posturebuddy.devices import imported
from posturebuddy.model import RawPacket
from posturebuddy.motion.calibration import CalibrationError, CalibrationMethod, ForwardMethod, UprightReference
from posturebuddy.motion.orientation import SampleArrays
from posturebuddy.session.analyze import analyze_samples
from posturebuddy.session.csv_input import CsvOptions, read_imu_csv
from posturebuddy.session.engine import EngineSettings
from posturebuddy.session.recording import (
    CalibrationRecord,
    RecordingError,
    RecordingMetadata,
    RecordingWriter,
    SourceKind,
)

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

EPOCH_THRESHOLD_S = 1e8
"""Times at or above this (1973-03-03) are taken as POSIX seconds; smaller ones as counting from 0."""

ImportProgress = Callable[[int, int], None]
"""Called with (rows written, rows in total)."""


class CsvImportError(ValueError):
    """The CSV cannot become a recording (the message is one line saying why and what to do)."""


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What :func:`import_csv` wrote.

    Attributes:
        path: the recording.
        samples: samples (packets) written.
        skipped_rows: data rows left out because a value was not finite (``nan``, ``inf``).
        start_s: first sample time in the recording, POSIX seconds.
        end_s: last sample time, POSIX seconds.
        time_offset_s: seconds added to the CSV's times (0 when they were POSIX seconds already).
        sample_rate_hz: median sample rate, Hz.
        columns: the CSV columns used (``{"time": ..., "accel": ..., "gyro": ...}``).
        warnings: things the user should know (an assumed unit, a dropped truncated line, skipped rows).
    """

    path: Path
    samples: int
    skipped_rows: int
    start_s: float
    end_s: float
    time_offset_s: float
    sample_rate_hz: float | None
    columns: dict[str, str]
    warnings: tuple[str, ...]


def default_output(csv_path: Path) -> Path:
    """``phone.csv`` -> ``phone.pbrec`` beside it."""
    return csv_path.with_suffix(".pbrec")


def import_csv(
    csv_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    options: CsvOptions | None = None,
    *,
    start_s: float | None = None,
    settings: EngineSettings | None = None,
    progress: ImportProgress | None = None,
) -> ImportResult:
    """Convert a CSV of raw IMU data into a recording (see the module docstring).

    Args:
        csv_path: the CSV.
        out_path: the recording to create; it must not exist.
        options: column and unit choices (``None``: detect from the header).
        start_s: POSIX time of the first sample, seconds (``None``: keep POSIX times, place relative ones
            by the file's modification time).
        settings: engine settings for finding the upright reference (default: the built-in defaults).
        progress: called now and then with (rows written, rows in total).

    Raises:
        CsvInputError: the CSV cannot be read as IMU data (names the row and column).
        CsvImportError: nothing usable in it, or the times cannot be placed.
        RecordingError: the recording cannot be created (it exists, the directory is not writable...).
        OSError: the CSV cannot be opened.
    """
    src = Path(csv_path)
    out = Path(out_path)
    if out.exists():
        raise RecordingError(
            f"Cannot import into {out}: the file already exists, and recordings are never overwritten. "
            "Choose another name with --out, or delete the old file first.",
            path=str(out),
        )
    data = read_imu_csv(src, options)
    arrays = data.arrays
    t = np.asarray(arrays.t_s, dtype=np.float64)
    accel = np.asarray(arrays.accel_g, dtype=np.float64)
    has_gyro = bool(np.any(np.isfinite(arrays.gyro_dps)))
    gyro = np.asarray(arrays.gyro_dps, dtype=np.float64) if has_gyro else None
    notes = list(data.warnings)

    finite = np.all(np.isfinite(accel), axis=1)
    if gyro is not None:
        finite &= np.all(np.isfinite(gyro), axis=1)
    skipped = int(np.count_nonzero(~finite))
    if skipped:
        first_rows = ", ".join(str(int(i) + 2) for i in np.flatnonzero(~finite)[:5])
        notes.append(f"{skipped} row(s) with a value that is not a finite number were left out (rows {first_rows}...)")
    if not np.any(finite):
        raise CsvImportError(f"{src.name}: no row has finite accelerometer values; nothing to import")
    t, accel = t[finite], accel[finite]
    if gyro is not None:
        gyro = gyro[finite]

    offset = _time_offset(src, t, start_s)
    t_abs = t + offset
    n = int(t_abs.shape[0])
    rate = _median_rate(t_abs)
    extra: dict[str, object] = {
        "import": {
            "source": src.name,
            "columns": dict(data.columns),
            "rows": data.rows,
            "skipped_rows": skipped,
            "time_offset_s": offset,
            "warnings": notes,
        }
    }
    metadata = RecordingMetadata(
        tag_family=imported.FAMILY_ID,
        source_kind=SourceKind.IMPORTED,
        tag_name=src.stem,
        sample_rate_hz=rate,
        extra=extra,
    )
    # The upright reference, found once here on the values the file will hold (float32), and stored as the
    # recording's calibration: analyze, replay and reports then all judge against it.
    acc32 = accel.astype(np.float32).astype(np.float64)
    gyr32 = gyro.astype(np.float32).astype(np.float64) if gyro is not None else None
    reference, how = upright_reference(SampleArrays.create(t_abs, accel_g=acc32, gyro_dps=gyr32), settings)
    calibration = CalibrationRecord(
        t_s=float(t_abs[0]),
        gravity_up_g=reference.up_tag,
        forward_axis=reference.forward_tag,
        method="imported",
        detail={"how": how, "method": str(reference.method), "forward_method": str(reference.forward_method)},
    )
    _write(out, metadata, t_abs, accel, gyro, calibration, progress)
    log.info("imported %s: %d samples into %s", src, n, out)
    return ImportResult(
        path=out,
        samples=n,
        skipped_rows=skipped,
        start_s=float(t_abs[0]),
        end_s=float(t_abs[-1]),
        time_offset_s=offset,
        sample_rate_hz=rate,
        columns=dict(data.columns),
        warnings=tuple(notes),
    )


def _time_offset(src: Path, t: FloatArray, start_s: float | None) -> float:
    first = float(t[0])
    if start_s is not None:
        if not math.isfinite(start_s) or start_s < EPOCH_THRESHOLD_S:
            raise CsvImportError(f"the start time must be a date after 1973, got {start_s!r} seconds")
        return start_s - first
    if first >= EPOCH_THRESHOLD_S:
        return 0.0
    duration = float(t[-1]) - first
    return src.stat().st_mtime - duration - first


def upright_reference(arrays: SampleArrays, settings: EngineSettings | None = None) -> tuple[UprightReference, str]:
    """The upright reference to store with imported samples, and how it was found (one phrase).

    First the analysis' own choice (the most common still seated posture, forward from the movement); if the
    data hold none (a sensor that was never worn), the mean gravity direction with forward along the sensor
    axis most nearly horizontal, so that the recording can still be analysed and replayed.
    """
    try:
        result = analyze_samples(arrays, settings=settings)
    except CalibrationError:
        result = None
    if result is not None and result.reference is not None:
        return result.reference, f"{result.reference_source}: {result.reference_note}"
    accel = arrays.accel_g[np.all(np.isfinite(arrays.accel_g), axis=1)]
    up = np.median(accel, axis=0) if accel.shape[0] else np.array([0.0, 0.0, 1.0])
    norm = float(np.linalg.norm(up))
    up = up / norm if norm > 0 else np.array([0.0, 0.0, 1.0])
    hint = np.zeros(3)
    hint[int(np.argmin(np.abs(up)))] = 1.0
    reference = UprightReference.create(
        (float(up[0]), float(up[1]), float(up[2])),
        (float(hint[0]), float(hint[1]), float(hint[2])),
        t_s=float(arrays.t_s[0]),
        method=CalibrationMethod.AUTO,
        forward_method=ForwardMethod.MOUNTING,
    )
    return reference, "assumed: the median gravity direction (no still seated posture found)"


def _median_rate(t: FloatArray) -> float | None:
    if t.shape[0] < 2:
        return None
    step = float(np.median(np.diff(t)))
    return 1.0 / step if step > 0 else None


CHUNK_ROWS = 20_000
"""Rows encoded between progress reports."""


def _write(
    out: Path,
    metadata: RecordingMetadata,
    t: FloatArray,
    accel: FloatArray,
    gyro: FloatArray | None,
    calibration: CalibrationRecord,
    progress: ImportProgress | None,
) -> None:
    """Write the packets under a temporary name, then link it to ``out`` (never replacing a file)."""
    tmp = out.with_name(f".{out.name}.importing-{os.getpid()}")
    n = int(t.shape[0])
    char = imported.SAMPLE_CHAR_UUID
    encode = imported.encode_sample
    times = t.tolist()
    acc = accel.tolist()
    gyr = gyro.tolist() if gyro is not None else [None] * n
    try:
        with RecordingWriter(tmp, metadata, max_pending=CHUNK_ROWS) as writer:
            writer.append_calibration(calibration)
            for c0 in range(0, n, CHUNK_ROWS):
                c1 = min(n, c0 + CHUNK_ROWS)
                writer.append_packets(
                    RawPacket(ts, char, encode(ts, a, g))
                    for ts, a, g in zip(times[c0:c1], acc[c0:c1], gyr[c0:c1], strict=True)
                )
                if progress is not None:
                    progress(c1, n)
        try:
            os.link(tmp, out)
        except FileExistsError:
            raise RecordingError(
                f"Cannot import into {out}: a file of that name appeared while importing; "
                "choose another name with --out.",
                path=str(out),
            ) from None
        except OSError:
            tmp.rename(out)  # a file system without hard links: the existence check above must do
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            with contextlib.suppress(OSError):
                leftover.unlink()
