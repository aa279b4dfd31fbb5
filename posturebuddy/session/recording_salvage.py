"""Salvage packets from the intact pages of a damaged recording, without SQLite's B-tree.

When a recording is cut off, the packets table's B-tree often loses an *interior* page: SQLite allocates
those late (when the tree grows a level), so a file cut at 80 % can lose the page that leads to every leaf,
although the leaves themselves (with the rows) are still there. This module reads the leaf pages directly,
following the documented file format (https://www.sqlite.org/fileformat.html), and picks out the records that
have the exact shape of a ``packets`` row. It is used only after normal reading has hit damage, only on files
without a write-ahead log (whose newest pages would live in the ``-wal`` file), and it never writes.

A ``packets`` row is the only 5-column record in the format with the shape
``(NULL rowid alias, number, integer, BLOB, NULL or number)``, so other tables' rows are not mistaken for it.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Final

TABLE_LEAF_PAGE: Final = 0x0D
"""B-tree page type byte of a table leaf page."""

_REAL: Final = struct.Struct(">d")
_INT_SIZES: Final = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}
"""Serial type -> size in bytes of big-endian two's-complement integers."""

PacketRow = tuple[int, float, str, bytes, float | None]
"""``(packet_id, t_host_s, char_uuid, data, t_device_s)``."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """SQLite varint at ``pos``: ``(value, next position)``. ``IndexError`` past the end."""
    value = 0
    for i in range(8):
        byte = buf[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos + i + 1
    return (value << 8) | buf[pos + 8], pos + 9


def _serial_size(serial_type: int) -> int:
    if serial_type >= 12:
        return (serial_type - 12) // 2
    if serial_type in _INT_SIZES:
        return _INT_SIZES[serial_type]
    if serial_type == 7:
        return 8
    if serial_type in (0, 8, 9):
        return 0
    raise ValueError(f"reserved serial type {serial_type}")


def _number(serial_type: int, body: bytes, pos: int) -> float:
    """A REAL column's value: stored as float64, or as an integer when it has no fraction (SQLite does that)."""
    if serial_type == 7:
        return float(_REAL.unpack_from(body, pos)[0])
    if serial_type in _INT_SIZES:
        return float(int.from_bytes(body[pos : pos + _INT_SIZES[serial_type]], "big", signed=True))
    if serial_type in (8, 9):
        return float(serial_type - 8)
    raise ValueError("not a number")


def _integer(serial_type: int, body: bytes, pos: int) -> int:
    if serial_type in _INT_SIZES:
        return int.from_bytes(body[pos : pos + _INT_SIZES[serial_type]], "big", signed=True)
    if serial_type in (8, 9):
        return serial_type - 8
    raise ValueError("not an integer")


_NUMBER_TYPES: Final = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9})
_INTEGER_TYPES: Final = frozenset({1, 2, 3, 4, 5, 6, 8, 9})


def _packet_cell(page: bytes, pointer: int, max_local: int, chars: Mapping[int, str]) -> PacketRow | None:
    """The packets row in the table-leaf cell at ``pointer``, or ``None`` if the cell is not one."""
    payload_size, pos = _varint(page, pointer)
    rowid, pos = _varint(page, pos)
    if payload_size > max_local or pos + payload_size > len(page):
        return None  # spills to overflow pages, or runs off the page: not a small packets row
    payload = page[pos : pos + payload_size]
    header_size, pos = _varint(payload, 0)
    types: list[int] = []
    while pos < header_size and len(types) < 6:
        serial_type, pos = _varint(payload, pos)
        types.append(serial_type)
    if len(types) != 5 or pos != header_size:
        return None
    rowid_alias, t_type, char_type, data_type, device_type = types
    if (
        rowid_alias != 0
        or t_type not in _NUMBER_TYPES
        or char_type not in _INTEGER_TYPES
        or data_type < 12
        or data_type % 2
        or (device_type != 0 and device_type not in _NUMBER_TYPES)
    ):
        return None
    sizes = [_serial_size(t) for t in types]
    if header_size + sum(sizes) != payload_size:
        return None
    pos = header_size + sizes[0]
    t_host_s = _number(t_type, payload, pos)
    pos += sizes[1]
    char_uuid = chars.get(_integer(char_type, payload, pos))
    pos += sizes[2]
    data = bytes(payload[pos : pos + sizes[3]])
    pos += sizes[3]
    t_device_s = None if device_type == 0 else _number(device_type, payload, pos)
    if char_uuid is None or rowid < 1:
        return None
    return rowid, t_host_s, char_uuid, data, t_device_s


def salvage_packet_rows(path: Path, *, after_packet_id: int, chars: Mapping[int, str]) -> list[PacketRow]:
    """Packets rows with ``packet_id > after_packet_id`` found on the complete table-leaf pages of ``path``.

    Args:
        path: the (damaged) recording file.
        after_packet_id: only rows after this packet number (the last one normal reading delivered; 0 if none).
        chars: ``{char_id: uuid}`` from the characteristics table; rows with another id are ignored.

    Returns:
        The rows in packet-number order, each number once. Empty if nothing can be found or read.
    """
    found: dict[int, PacketRow] = {}
    try:
        with path.open("rb") as file:
            header = file.read(100)
            page_size = int.from_bytes(header[16:18], "big")
            page_size = 65536 if page_size == 1 else page_size
            if page_size < 512 or page_size & (page_size - 1):
                return []
            usable = page_size - header[20]
            max_local = usable - 35  # largest payload a table leaf cell holds without overflow pages
            file.seek(0)
            page_number = 0
            while True:
                page = file.read(page_size)
                page_number += 1
                if len(page) < page_size:
                    break  # a partial page at the cut: its cells (at the page's end) are gone
                start = 100 if page_number == 1 else 0
                if page[start] != TABLE_LEAF_PAGE:
                    continue
                cell_count = int.from_bytes(page[start + 3 : start + 5], "big")
                content = page[:usable]
                for k in range(cell_count):
                    at = start + 8 + 2 * k
                    pointer = int.from_bytes(page[at : at + 2], "big")
                    try:
                        row = _packet_cell(content, pointer, max_local, chars)
                    except (IndexError, ValueError, struct.error):
                        continue
                    if row is not None and row[0] > after_packet_id:
                        found.setdefault(row[0], row)
    except OSError:
        return []
    return [found[packet_id] for packet_id in sorted(found)]
