"""Retention applied: raw packets older than ``[recording] retention_days`` are deleted from old recordings.

:func:`apply_retention` runs when ``posturebuddy run`` starts a recorded session and on ``sessions list``. It
calls :func:`~posturebuddy.session.recording.trim_raw_packets` on each recording in the recordings directory
that is older than ``retention_days``: a live recording loses the packets received before the cut-off; a
simulated or imported one (whose times are a scenario's or a data set's, not the wall clock) loses all of them
once the file itself was created before the cut-off. Calibrations, link events, episodes, prompts, minute
summaries and ground truth stay (history and reports keep working; only replay of the trimmed span is lost).

It never touches:

* the recording being written by this process (``exclude``);
* a recording that is not closed and was written to in the last :data:`BUSY_WINDOW_S` seconds (another
  PostureBuddy may be recording into it);
* a file that is not a readable recording, or is cut off (logged, skipped; retention refuses to modify it).

What was trimmed is logged (``posturebuddy.session.retention``, INFO) and returned.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterable
from pathlib import Path

from posturebuddy.session.recording import (
    RecordingDamageWarning,
    RecordingError,
    SourceKind,
    TrimResult,
    open_recording,
    trim_raw_packets,
)
from posturebuddy.session.recording_schema import RECORDING_SUFFIX

log = logging.getLogger(__name__)

SECONDS_PER_DAY = 86400.0
BUSY_WINDOW_S = 600.0
"""A recording not closed cleanly whose file (or ``-wal``) changed this recently, in seconds, may be in use."""


def _last_write_s(path: Path) -> float:
    times = []
    for p in (path, path.with_name(path.name + "-wal")):
        try:
            times.append(p.stat().st_mtime)
        except OSError:
            continue
    return max(times, default=0.0)


def _trim_cutoff(path: Path, cutoff_s: float, now_s: float) -> float | None:
    """The host time before which ``path``'s packets go, or ``None`` to leave the file alone.

    A live recording's host times are the wall clock: its packets older than ``cutoff_s`` go. A simulated or
    imported recording's times are not (a scenario's date, a data set's own times), so its age is when the file
    was created: once that is before ``cutoff_s``, all of its raw packets go.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingDamageWarning)
        with open_recording(path) as reader:
            meta = reader.metadata
            if meta.closed_s is None and now_s - _last_write_s(path) < BUSY_WINDOW_S:
                log.debug("retention: %s is not closed and was written recently: left alone", path)
                return None
            span = reader.time_range()
    if span is None:
        return None
    if str(meta.source_kind) == SourceKind.LIVE.value:
        return cutoff_s if span[0] < cutoff_s else None
    created = meta.created_s if meta.created_s is not None else _last_write_s(path)
    return span[1] + 1.0 if created < cutoff_s else None


def apply_retention(
    directory: Path,
    keep_days: float,
    *,
    exclude: Iterable[Path] = (),
    now_s: float | None = None,
) -> list[TrimResult]:
    """Trim the raw packets older than ``keep_days`` days from every recording in ``directory``.

    Args:
        directory: the recordings directory (a missing directory is fine: nothing to do).
        keep_days: days of raw data to keep (``[recording] retention_days``).
        exclude: recordings never to touch (the one this process is writing).
        now_s: the current POSIX time, seconds (default: the wall clock).

    Returns:
        What was trimmed, one :class:`TrimResult` per recording that lost packets.
    """
    if not directory.is_dir():
        return []
    now = time.time() if now_s is None else now_s
    cutoff = now - keep_days * SECONDS_PER_DAY
    skip = {p.resolve() for p in exclude}
    trimmed: list[TrimResult] = []
    for path in sorted(directory.glob(f"*{RECORDING_SUFFIX}")):
        if path.resolve() in skip or not path.is_file():
            continue
        try:
            before = _trim_cutoff(path, cutoff, now)
            if before is None:
                continue
            result = trim_raw_packets(path, keep_days=0.0, now_s=before)
        except RecordingError as exc:
            log.warning("retention: %s skipped: %s", path.name, " ".join(str(exc).split()))
            continue
        except OSError as exc:
            log.warning("retention: %s skipped: %s", path.name, exc)
            continue
        if result.deleted_packets:
            log.info(
                "retention: deleted %d raw packets older than %g days from %s (%d left; %.1f MB -> %.1f MB); "
                "summaries, episodes and prompts kept",
                result.deleted_packets,
                keep_days,
                path.name,
                result.remaining_packets,
                result.size_before_bytes / 1e6,
                result.size_after_bytes / 1e6,
            )
            trimmed.append(result)
    return trimmed
