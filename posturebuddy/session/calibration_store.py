"""Remembered upright references, one per tag: sit upright once, and the next session starts calibrated.

A reference describes how *this* tag sits on *this* wearer's back, so it is stored per tag (its Bluetooth
address, with the tag family as a check) in one small JSON file in the data directory
(``calibrations.json``, readable only by the user). Each entry holds the :class:`UprightReference` fields (unit
vectors in the tag frame, the capture's spread and duration in degrees and seconds) and when it was saved.

An entry may also hold, under ``"accel"``, the tag's accelerometer correction from the six-face step
(``posturebuddy calibrate --accel``, :mod:`posturebuddy.motion.accel_faces`): offsets in g and sensitivities per
tag axis, when it was saved and the fit's figures. It belongs to the sensor, not to the wearer, and is kept until
forgotten. Saving one drops the tag's upright reference (that was measured with the uncorrected readings, and
the corrected angles would be judged against it); the command asks for the upright step again. Files written
before the accelerometer part existed load as they are; an entry may hold either part alone.

The file is written atomically (a temporary file renamed over the old one), so a crash mid-write leaves the
previous version. A damaged file is never fatal: the store logs what is wrong, sets :attr:`CalibrationStore.problem`
(the dashboard and ``calibrate`` show it), keeps the damaged file aside as ``calibrations.json.bad`` and carries
on as if nothing had been stored. A reference that no longer fits the tag (the tag was moved) is caught by the
engine's slip detection, which suggests calibrating again. One unreadable entry (or accelerometer part) costs
nothing else: it is logged, listed in :attr:`CalibrationStore.entry_problems` and written back unchanged, so a
later save of another tag does not destroy what a newer version or a hand edit put there.
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
from typing import TypeVar

from posturebuddy.motion.calibration import CalibrationMethod, ForwardMethod, UprightReference
from posturebuddy.motion.orientation import AccelCalibration, AccelFit

log = logging.getLogger(__name__)

FILE_NAME = "calibrations.json"
FORMAT_VERSION = 1
RECORDING_KEY = "accel_calibration"
"""Key of a recording's metadata ``extra`` that holds the accelerometer correction in effect while it was recorded
(:func:`accel_calibration_json`'s form); replay and analyze apply it."""


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


@dataclass(frozen=True, slots=True)
class StoredAccelCalibration:
    """One remembered accelerometer correction (see :class:`~posturebuddy.motion.orientation.AccelCalibration`).

    Attributes:
        address: the tag's Bluetooth address (upper case).
        family_id: the tag family it was measured with.
        calibration: offsets (g) and sensitivities (relative) per tag axis.
        saved_wall_s: when it was saved, Unix seconds.
        chunks: still chunk means the fit used.
        rms_before_g: RMS of ``|a| - 1 g`` over those chunks with the raw readings, g.
        rms_after_g: the same after the correction, g.
        how: how it was made ("six faces").
    """

    address: str
    family_id: str
    calibration: AccelCalibration
    saved_wall_s: float
    chunks: int
    rms_before_g: float
    rms_after_g: float
    how: str


@dataclass(slots=True)
class _Entry:
    """What one address holds: either part may be absent; ``raw_*``: unreadable JSON kept to be written back."""

    upright: StoredCalibration | None = None
    accel: StoredAccelCalibration | None = None
    raw_upright: dict[str, object] | None = None
    raw_accel: object = None


def accel_calibration_json(calibration: AccelCalibration) -> dict[str, object]:
    """The JSON form of a correction (as in the store and in a recording's metadata)."""
    return {"bias_g": list(calibration.bias_g), "scale": list(calibration.scale)}


def accel_calibration_from_json(value: object) -> AccelCalibration:
    """Read :func:`accel_calibration_json`'s form back. Raises ``ValueError`` saying what is wrong."""
    if not isinstance(value, dict):
        raise ValueError(f"the accelerometer calibration must be a table, got {type(value).__name__}")
    try:
        return AccelCalibration(bias_g=_vec(value.get("bias_g"), "bias_g"), scale=_vec(value.get("scale"), "scale"))
    except ValueError as exc:
        raise ValueError(f"accelerometer calibration: {exc}") from None


def _accel_from_entry(address: str, value: object) -> StoredAccelCalibration:
    calibration = accel_calibration_from_json(value)
    assert isinstance(value, dict)
    chunks = _number(value, "chunks", 0.0)
    return StoredAccelCalibration(
        address=address,
        family_id=str(value.get("family_id", "")),
        calibration=calibration,
        saved_wall_s=_number(value, "saved_wall_s", 0.0),
        chunks=int(chunks),
        rms_before_g=_optional_number(value, "rms_before_g"),
        rms_after_g=_optional_number(value, "rms_after_g"),
        how=str(value.get("how", "")),
    )


def _accel_to_entry(stored: StoredAccelCalibration) -> dict[str, object]:
    return {
        "family_id": stored.family_id,
        **accel_calibration_json(stored.calibration),
        "saved_wall_s": stored.saved_wall_s,
        "chunks": stored.chunks,
        "rms_before_g": stored.rms_before_g if math.isfinite(stored.rms_before_g) else None,
        "rms_after_g": stored.rms_after_g if math.isfinite(stored.rms_after_g) else None,
        "how": stored.how,
    }


_Stored = TypeVar("_Stored", StoredCalibration, StoredAccelCalibration)


def _of_family(stored: _Stored | None, family_id: str | None) -> _Stored | None:
    """``stored`` unless it was saved for another tag family than ``family_id`` (``None``: any family; an entry
    without a family matches any)."""
    if stored is None or (family_id is not None and stored.family_id and stored.family_id != family_id):
        return None
    return stored


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


def _optional_number(entry: dict[str, object], name: str) -> float:
    """A number that may be missing or ``null`` (then NaN)."""
    return math.nan if entry.get(name) is None else _number(entry, name)


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
    """The remembered references and accelerometer corrections in ``directory / calibrations.json``.

    Reads are lazy and cached; every :meth:`save`, :meth:`save_accel` and :meth:`forget` rewrites the (small) file
    atomically.
    """

    def __init__(self, directory: Path) -> None:
        self.path = directory / FILE_NAME
        self.problem: str | None = None
        """Why the file could not be used (``None``: fine or absent). Shown to the user; nothing stops."""
        self.entry_problems: dict[str, str] = {}
        """Address -> why (part of) its entry could not be read; the rest of the file is used as usual."""
        self._entries: dict[str, _Entry] | None = None

    def _load(self) -> dict[str, _Entry]:
        if self._entries is not None:
            return self._entries
        entries: dict[str, _Entry] = {}
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
        for key, raw in tags.items():
            address = str(key).upper()
            entries[address] = self._read_entry(address, raw)
        self._entries = entries
        return entries

    def _read_entry(self, address: str, raw: object) -> _Entry:
        """One address's entry; an unreadable part is logged, noted and kept as it is (one bad entry or part does
        not cost the others)."""
        entry = _Entry()
        if not isinstance(raw, dict):
            self._entry_problem(address, f"the entry must be a table, got {type(raw).__name__}")
            entry.raw_upright = {"_unreadable": raw}
            return entry
        upright = {k: v for k, v in raw.items() if k != "accel"}
        if "up_tag" in upright:
            try:
                entry.upright = _entry_to_stored(address, upright)
            except ValueError as exc:
                self._entry_problem(address, f"the upright reference cannot be read: {exc}")
                entry.raw_upright = upright
        elif set(upright) - {"family_id"}:
            self._entry_problem(address, "the upright reference cannot be read: up_tag is missing")
            entry.raw_upright = upright
        if "accel" in raw:
            try:
                entry.accel = _accel_from_entry(address, raw["accel"])
            except ValueError as exc:
                self._entry_problem(address, f"the accelerometer calibration cannot be read: {exc}")
                entry.raw_accel = raw["accel"]
        return entry

    def _entry_problem(self, address: str, message: str) -> None:
        log.warning("%s: ignoring part of the calibration of %s: %s", self.path, address, message)
        earlier = self.entry_problems.get(address)
        self.entry_problems[address] = message if earlier is None else f"{earlier}; {message}"

    def _fail(self, message: str, *, keep_aside: bool) -> None:
        self.problem = message
        log.warning("%s", message)
        if keep_aside:
            with contextlib.suppress(OSError):
                self.path.replace(self.path.with_name(FILE_NAME + ".bad"))

    def get(self, address: str, family_id: str | None = None) -> StoredCalibration | None:
        """The reference remembered for this tag (and family, if given), or ``None``."""
        entry = self._load().get(address.upper())
        return _of_family(entry.upright if entry is not None else None, family_id)

    def get_accel(self, address: str, family_id: str | None = None) -> StoredAccelCalibration | None:
        """The accelerometer correction remembered for this tag (and family, if given), or ``None``."""
        entry = self._load().get(address.upper())
        return _of_family(entry.accel if entry is not None else None, family_id)

    def all(self) -> list[StoredCalibration]:
        """Every remembered reference, by address."""
        entries = self._load()
        return [u for k in sorted(entries) if (u := entries[k].upright) is not None]

    def all_accel(self) -> list[StoredAccelCalibration]:
        """Every remembered accelerometer correction, by address."""
        entries = self._load()
        return [a for k in sorted(entries) if (a := entries[k].accel) is not None]

    def save(self, address: str, family_id: str, reference: UprightReference, how: str) -> StoredCalibration:
        """Remember ``reference`` for this tag (replacing any earlier one). Raises ``OSError`` if it cannot write."""
        entries = self._copy()
        stored = StoredCalibration(address.upper(), family_id, reference, time.time(), how)
        entry = entries.setdefault(stored.address, _Entry())
        entry.upright, entry.raw_upright = stored, None
        self._commit(entries)
        return stored

    def save_accel(self, address: str, family_id: str, fit: AccelFit, how: str = "six faces") -> StoredAccelCalibration:
        """Remember the accelerometer correction of ``fit`` for this tag, replacing any earlier one, and **drop the
        tag's upright reference** (it was measured with the uncorrected readings). Raises ``OSError`` if it cannot
        write (nothing changes then)."""
        entries = self._copy()
        stored = StoredAccelCalibration(
            address=address.upper(),
            family_id=family_id,
            calibration=fit.calibration,
            saved_wall_s=time.time(),
            chunks=fit.chunks,
            rms_before_g=fit.rms_before_g,
            rms_after_g=fit.rms_after_g,
            how=how,
        )
        entries[stored.address] = _Entry(accel=stored)
        self._commit(entries)
        self.entry_problems.pop(stored.address, None)
        return stored

    def forget(self, address: str) -> bool:
        """Drop everything remembered for this tag (upright reference and accelerometer correction); ``True`` if
        there was anything."""
        entries = self._copy()
        if entries.pop(address.upper(), None) is None:
            return False
        self._commit(entries)
        self.entry_problems.pop(address.upper(), None)
        return True

    def _copy(self) -> dict[str, _Entry]:
        return {k: _Entry(e.upright, e.accel, e.raw_upright, e.raw_accel) for k, e in self._load().items()}

    def _commit(self, entries: dict[str, _Entry]) -> None:
        self._write(entries)
        self._entries = entries

    def _write(self, entries: dict[str, _Entry]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tags: dict[str, object] = {}
        for address, entry in sorted(entries.items()):
            if entry.raw_upright is not None and "_unreadable" in entry.raw_upright and len(entry.raw_upright) == 1:
                tags[address] = entry.raw_upright["_unreadable"]  # not even a table: written back as it was
                continue
            out: dict[str, object] = {}
            if entry.upright is not None:
                out.update(_stored_to_entry(entry.upright))
            elif entry.raw_upright is not None:
                out.update(entry.raw_upright)
            elif entry.accel is not None:
                out["family_id"] = entry.accel.family_id
            if entry.accel is not None:
                out["accel"] = _accel_to_entry(entry.accel)
            elif entry.raw_accel is not None:
                out["accel"] = entry.raw_accel
            if out:
                tags[address] = out
        data = {"version": FORMAT_VERSION, "tags": tags}
        fd, tmp_name = tempfile.mkstemp(prefix=FILE_NAME + ".", suffix=".tmp", dir=self.path.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out_file:
                json.dump(data, out_file, indent=2)
                out_file.write("\n")
                out_file.flush()
                os.fsync(out_file.fileno())
            tmp.chmod(0o600)
            tmp.replace(self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
