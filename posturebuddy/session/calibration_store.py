"""Remembered upright references, one per tag: sit upright once, and the next session starts calibrated.

A reference describes how *this* tag sits on *this* wearer's back, so it is stored per tag (its Bluetooth
address, with the tag family as a check) in one small JSON file in the data directory
(``calibrations.json``, readable only by the user). Each entry holds the :class:`UprightReference` fields (unit
vectors in the tag frame, the capture's spread and duration in degrees and seconds) and when it was saved.

The file is written atomically (a temporary file renamed over the old one), so a crash mid-write leaves the
previous version. A damaged file is never fatal: the store logs what is wrong, sets :attr:`CalibrationStore.problem`
(the dashboard and ``calibrate`` show it), keeps the damaged file aside as ``calibrations.json.bad`` and carries
on as if nothing had been stored. A reference that no longer fits the tag (the tag was moved) is caught by the
engine's slip detection, which suggests calibrating again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from posturebuddy.motion.calibration import CalibrationMethod, ForwardMethod, UprightReference

log = logging.getLogger(__name__)

FILE_NAME = "calibrations.json"
FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class StoredCalibration:
    """One remembered reference.

    Attributes:
        address: the tag's Bluetooth address (upper case).
        family_id: the tag family it was made with.
        reference: the upright reference (tag frame).
        saved_wall_s: when it was saved, Unix seconds.
        how: how it was made ("wizard", "auto capture", "calibrate command"...).
    """

    address: str
    family_id: str
    reference: UprightReference
    saved_wall_s: float
    how: str


def _vec(value: object, name: str) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3 or not all(isinstance(x, int | float) for x in value):
        raise ValueError(f"{name} must be a list of three numbers, got {value!r}")
    x, y, z = (float(v) for v in value)
    return (x, y, z)


def _number(entry: dict[str, object], name: str, default: float | None = None) -> float:
    value = entry.get(name, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _entry_to_stored(address: str, entry: object) -> StoredCalibration:
    if not isinstance(entry, dict):
        raise ValueError(f"the entry must be a table, got {type(entry).__name__}")
    lean = entry.get("lean_deg")
    reference = UprightReference(
        up_tag=_vec(entry.get("up_tag"), "up_tag"),
        forward_tag=_vec(entry.get("forward_tag"), "forward_tag"),
        t_s=_number(entry, "t_s"),
        method=CalibrationMethod(str(entry.get("method"))),
        forward_method=ForwardMethod(str(entry.get("forward_method"))),
        spread_deg=_number(entry, "spread_deg", 0.0),
        duration_s=_number(entry, "duration_s", 0.0),
        lean_deg=None if lean is None else _number(entry, "lean_deg"),
        support=_number(entry, "support", 1.0),
    )
    return StoredCalibration(
        address=address,
        family_id=str(entry.get("family_id", "")),
        reference=reference,
        saved_wall_s=_number(entry, "saved_wall_s", 0.0),
        how=str(entry.get("how", "")),
    )


def _stored_to_entry(stored: StoredCalibration) -> dict[str, object]:
    ref = stored.reference
    return {
        "family_id": stored.family_id,
        "up_tag": list(ref.up_tag),
        "forward_tag": list(ref.forward_tag),
        "t_s": ref.t_s,
        "method": str(ref.method),
        "forward_method": str(ref.forward_method),
        "spread_deg": ref.spread_deg,
        "duration_s": ref.duration_s,
        "lean_deg": ref.lean_deg,
        "support": ref.support,
        "saved_wall_s": stored.saved_wall_s,
        "how": stored.how,
    }


class CalibrationStore:
    """The remembered references in ``directory / calibrations.json``.

    Reads are lazy and cached; every :meth:`save` rewrites the (small) file atomically.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self.problem: str | None = None
        """Why the file could not be used (``None``: fine or absent). Shown to the user; nothing stops."""
        self._entries: dict[str, StoredCalibration] | None = None

    def _load(self) -> dict[str, StoredCalibration]:
        if self._entries is not None:
            return self._entries
        entries: dict[str, StoredCalibration] = {}
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            self._entries = entries
            return entries
        except OSError as exc:
            self._fail(f"cannot read {self.path}: {exc.strerror or exc}", keep_aside=False)
            self._entries = entries
            return entries
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
                raise ValueError(f"expected a table with version = {FORMAT_VERSION}")
            tags = data.get("tags", {})
            if not isinstance(tags, dict):
                raise ValueError("'tags' must be a table")
        except ValueError as exc:
            self._fail(f"{self.path} is damaged ({exc}); starting without remembered calibrations", keep_aside=True)
            self._entries = entries
            return entries
        for address, entry in tags.items():
            try:
                entries[str(address).upper()] = _entry_to_stored(str(address).upper(), entry)
            except ValueError as exc:  # one bad entry does not cost the others
                log.warning("%s: ignoring the calibration of %s: %s", self.path, address, exc)
        self._entries = entries
        return entries

    def _fail(self, message: str, *, keep_aside: bool) -> None:
        self.problem = message
        log.warning("%s", message)
        if keep_aside:
            with contextlib.suppress(OSError):
                self.path.replace(self.path.with_name(FILE_NAME + ".bad"))

    def get(self, address: str, family_id: str | None = None) -> StoredCalibration | None:
        """The reference remembered for this tag (and family, if given), or ``None``."""
        stored = self._load().get(address.upper())
        if stored is None or (family_id is not None and stored.family_id and stored.family_id != family_id):
            return None
        return stored

    def all(self) -> list[StoredCalibration]:
        """Every remembered reference, by address."""
        return [self._load()[k] for k in sorted(self._load())]

    def save(self, address: str, family_id: str, reference: UprightReference, how: str) -> StoredCalibration:
        """Remember ``reference`` for this tag (replacing any earlier one). Raises ``OSError`` if it cannot write."""
        entries = dict(self._load())
        stored = StoredCalibration(address.upper(), family_id, reference, time.time(), how)
        entries[stored.address] = stored
        self._write(entries)
        self._entries = entries
        return stored

    def forget(self, address: str) -> bool:
        """Drop the reference of this tag; ``True`` if there was one."""
        entries = dict(self._load())
        if entries.pop(address.upper(), None) is None:
            return False
        self._write(entries)
        self._entries = entries
        return True

    def _write(self, entries: dict[str, StoredCalibration]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {"version": FORMAT_VERSION, "tags": {k: _stored_to_entry(v) for k, v in sorted(entries.items())}}
        fd, tmp_name = tempfile.mkstemp(prefix=FILE_NAME + ".", suffix=".tmp", dir=self.path.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            tmp.chmod(0o600)
            tmp.replace(self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
