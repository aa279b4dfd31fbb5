"""Tag families: UUIDs, layouts, pure decoders/encoders and command builders. No I/O here.

See :mod:`posturebuddy.devices.base` for the contract and :mod:`posturebuddy.devices.registry` for the list.
"""

from __future__ import annotations

from posturebuddy.devices.base import (
    Capabilities,
    DecodeError,
    FrameDecoder,
    GattWrite,
    NudgePattern,
    TagFamily,
    sig_uuid,
)
from posturebuddy.devices.registry import (
    UnknownFamilyError,
    all_families,
    get_family,
    match_advertisement,
)

__all__ = [
    "Capabilities",
    "DecodeError",
    "FrameDecoder",
    "GattWrite",
    "NudgePattern",
    "TagFamily",
    "UnknownFamilyError",
    "all_families",
    "get_family",
    "match_advertisement",
    "sig_uuid",
]
