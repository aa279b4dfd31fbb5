"""Events published on the session's event stream. Names are past-tense facts.

Every event carries ``t_s``: the sample time (seconds) at which it happened. Link-level events that have no
sample (a disconnect, a reconnect attempt) carry the host time at which the link noticed them.

Later layers (posture, coach, session) add their own events in their own modules; this module holds the
link-level ones every source shares.
"""

from __future__ import annotations

from dataclasses import dataclass

from posturebuddy.model.types import BatteryLevel, ConnectionState


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of all events. ``t_s`` is sample (or link) time in seconds."""

    t_s: float


@dataclass(frozen=True, slots=True)
class ConnectionStateChanged(Event):
    """The link moved to ``state``. ``detail`` says why in plain words (may be empty)."""

    state: ConnectionState
    address: str = ""
    detail: str = ""
    expected: bool = True


@dataclass(frozen=True, slots=True)
class StreamStarted(Event):
    """A connection to the tag started streaming: decoders and sequence tracking start afresh.

    The link puts this into the packet stream itself (not only on the event stream), so it is ordered exactly
    before the first packet of the new connection.
    """

    family_id: str
    address: str
    name: str = ""
    rate_hz: float | None = None
    """The sample rate asked of the tag (one it supports), Hz; ``None`` if unknown. Seeds the smoothing of
    arrival times for tags that send no clock of their own."""


@dataclass(frozen=True, slots=True)
class GapDetected(Event):
    """Data is missing between ``start_s`` and ``t_s``.

    The link was down, or ``lost_packets`` sequence numbers were skipped.
    """

    start_s: float
    lost_packets: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PacketRejected(Event):
    """A packet could not be decoded; ``reason`` is the decoder's message. Its raw bytes are still recorded."""

    char_uuid: str
    reason: str


@dataclass(frozen=True, slots=True)
class BatteryRead(Event):
    """A battery reading arrived."""

    level: BatteryLevel


@dataclass(frozen=True, slots=True)
class NudgeSent(Event):
    """A buzz/beep/LED command was written to the tag."""

    pattern: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class LinkStatsUpdated(Event):
    """Periodic link statistics (for the dashboard and the recorder)."""

    received: int
    dropped_queue_full: int
    rejected: int
    lost_by_sequence: int
    rate_hz: float
