"""``posturebuddy decode``: decode captured characteristic bytes with the family's own decoders.

A debugging aid for bug reports: the user pastes bytes captured with nRF Connect (or from a log), names the tag
family and, optionally, the characteristic, and gets the values PostureBuddy reads from them, with units. The
work is done by the family's ``describe`` hook (:attr:`posturebuddy.devices.base.TagFamily.describe`); this
module parses the hex, picks the characteristic and prints a table or JSON.

Exit codes (as :mod:`posturebuddy.cli`): 0 decoded; 1 the bytes do not decode (the decoder's message, one line);
2 bad usage (not hex, an unknown characteristic, ``--accel-range`` with a family other than the SensorTag).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence

from posturebuddy.config import Settings
from posturebuddy.devices import DecodeError, TagFamily, get_family

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

PROG = "posturebuddy decode"

_SEPARATORS = re.compile(r"[\s:,]+")
_HEX_TOKEN = re.compile(r"(?:[0-9a-fA-F]{2})+")


class UsageError(ValueError):
    """Bad command-line input; the message is one line for the user."""


def parse_hex(parts: Sequence[str]) -> bytes:
    """The bytes written in ``parts``, concatenated in order.

    Each part may hold several bytes, separated by spaces, colons or commas or not at all; a ``0x`` prefix on a
    group is ignored. Every group must have an even number of hex digits.

    Raises:
        UsageError: a character that is not a hex digit, a group with an odd number of digits, or no bytes.
    """
    out = bytearray()
    for part in parts:
        for token in _SEPARATORS.split(part.strip()):
            if not token:
                continue
            digits = token[2:] if token[:2] in ("0x", "0X") else token
            if not digits:
                raise UsageError(f"no hex digits after 0x in {token!r} (from argument {part!r})")
            if not _HEX_TOKEN.fullmatch(digits):
                bad = next((c for c in digits if c not in "0123456789abcdefABCDEF"), None)
                if bad is not None:
                    raise UsageError(f"not hex: {bad!r} in {token!r} (from argument {part!r})")
                raise UsageError(f"odd number of hex digits in {token!r} (from argument {part!r})")
            out += bytes.fromhex(digits)
    if not out:
        raise UsageError("no bytes given")
    return bytes(out)


def _char_name(family: TagFamily, uuid: str) -> str:
    return next((name for name, u in family.characteristics.items() if u == uuid), uuid)


def pick_characteristic(family: TagFamily, name_or_uuid: str | None) -> tuple[str, str]:
    """``(name, uuid)`` of the characteristic to decode: ``--char`` or the family's first notify characteristic.

    Raises:
        UsageError: an unknown name or a UUID the family does not use (the message lists the known names).
    """
    if name_or_uuid is None:
        uuid = family.notify_uuids[0]
        return _char_name(family, uuid), uuid
    known = ", ".join(sorted(family.characteristics)) or "none"
    try:
        uuid = family.char_uuid(name_or_uuid)
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    if uuid not in family.characteristics.values():
        raise UsageError(f"{family.display_name} has no characteristic {name_or_uuid!r}; known names: {known}")
    return _char_name(family, uuid), uuid


def describer(family: TagFamily, accel_range_g: int | None) -> Callable[[str, bytes], dict[str, object]]:
    """The family's describe hook; for the SensorTag with ``--accel-range``, bound to that range.

    Raises:
        UsageError: ``--accel-range`` for another family, or a family without a describe hook.
    """
    if accel_range_g is not None:
        if family.family_id != "sensortag":
            raise UsageError("--accel-range applies to --device sensortag only")
        from posturebuddy.devices import sensortag

        return lambda uuid, data: sensortag.describe(uuid, data, accel_range_g=accel_range_g)
    if family.describe is None:
        raise UsageError(f"{family.display_name} has no decoder for captured bytes")
    return family.describe


def _format_value(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, list | tuple):
        return ", ".join(_format_value(v) for v in value)
    return str(value)


def format_table(decoded: Mapping[str, object], indent: str = "  ") -> list[str]:
    """``decoded`` as aligned ``name  value`` lines; a list of mappings (WitMotion ``frames``) is nested."""
    width = max((len(key) for key in decoded), default=0)
    lines: list[str] = []
    for key, value in decoded.items():
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            lines.append(f"{indent}{key}:")
            for i, item in enumerate(value, 1):
                assert isinstance(item, Mapping)
                lines.append(f"{indent}  [{i}]")
                lines.extend(format_table(item, indent + "    "))
        else:
            lines.append(f"{indent}{key:<{width}}  {_format_value(value)}")
    return lines


def _error(message: str) -> None:
    print(f"{PROG}: {' '.join(message.split())}", file=sys.stderr)


def run_decode(args: argparse.Namespace, settings: Settings) -> int:
    """``posturebuddy decode --device FAMILY [--char NAME] [--accel-range G] HEX... [--json]``."""
    del settings  # decoding needs no settings
    family = get_family(args.device)
    try:
        data = parse_hex(args.hex)
        name, uuid = pick_characteristic(family, args.char)
        describe = describer(family, getattr(args, "accel_range", None))
    except UsageError as exc:
        _error(str(exc))
        return EXIT_USAGE
    try:
        decoded = describe(uuid, data)
    except DecodeError as exc:
        _error(str(exc))
        return EXIT_FAILED
    if args.json:
        report = {"family": family.family_id, "characteristic": name, "uuid": uuid, "hex": data.hex(" ")}
        print(json.dumps({**report, "decoded": decoded}, indent=2))
    else:
        print(f"{family.display_name}, {name} ({uuid}), {len(data)} bytes: {data.hex(' ')}")
        print("\n".join(format_table(decoded)))
    return EXIT_OK
