"""Session items as JSON lines: ``{"type": "<ClassName>", <fields with units>...}``.

Used by ``run --headless`` and ``demo --headless`` so other programs can consume the stream.
"""

from __future__ import annotations

import json
import math
from typing import Any

from posturebuddy.devices.base import plain_fields


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


def to_record(item: object) -> dict[str, Any]:
    """A dataclass item as a flat JSON-ready dict with its class name under ``type``."""
    fields = plain_fields(item)
    record: dict[str, Any] = {"type": type(item).__name__}
    if isinstance(fields, dict):
        record.update(_finite(fields))
    else:
        record["value"] = _finite(fields)
    return record


def to_json_line(item: object) -> str:
    """One compact JSON line (no trailing newline)."""
    return json.dumps(to_record(item), separators=(",", ":"), ensure_ascii=False)
