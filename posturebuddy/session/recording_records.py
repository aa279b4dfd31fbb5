"""Typed records stored in a recording file, and the errors and warnings of the recording format.

Everything here is plain data: frozen, slotted dataclasses and string enums. The SQL lives in
:mod:`posturebuddy.session.recording_schema`; the writer and reader in :mod:`posturebuddy.session.recording`.

Times follow the project convention (see :mod:`posturebuddy.model`): ``*_s`` fields are sample time in
seconds, which is POSIX epoch seconds on the host clock for live sessions and simulated epoch seconds for
simulations. JSON fields hold a JSON *object* (a mapping with string keys).

Enum-typed fields read from a file accept values this version does not know (written by a newer minor version
of the format): such values come back as plain ``str``. Known values come back as the enum member, which is
also a ``str``, so ``record.kind == PromptKind.BREAK`` works either way.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from posturebuddy.model import (
    BatteryRead,
    ConnectionStateChanged,
    Event,
    GapDetected,
    LinkStatsUpdated,
    NudgeSent,
    PacketRejected,
    PostureClass,
    Prompt,
    PromptKind,
    PromptOutcome,
    Vec3,
)

JsonObject = Mapping[str, object]
"""A JSON object: string keys, values that ``json.dumps`` accepts (no NaN or infinity)."""


class RecordingError(Exception):
    """A file that cannot be used as a recording, or a recording operation that failed.

    The message says what is wrong with which file and what to do about it.

    Attributes:
        path: the file concerned, as given (``""`` when not about one file).
    """

    def __init__(self, message: str, *, path: str = "") -> None:
        self.path = path
        super().__init__(message)


class RecordingVersionError(RecordingError):
    """The file was written in a newer major version of the recording format than this program reads.

    Attributes:
        found: ``(major, minor)`` of the file.
        supported_major: the newest major version this program reads.
    """

    def __init__(self, message: str, *, path: str, found: tuple[int, int], supported_major: int) -> None:
        self.found = found
        self.supported_major = supported_major
        super().__init__(message, path=path)


class RecordingDamageWarning(UserWarning):
    """A recording is damaged (truncated or corrupted); rows up to the damage were read, the rest skipped."""


@dataclass(frozen=True, slots=True)
class DamageReport:
    """Where reading a table of a damaged recording stopped.

    Attributes:
        table: the table being read (``packets``, ``episodes``...).
        rows_read: how many rows of this read were delivered before the damage.
        last_good_id: primary key of the last good row (``packet_id`` for packets), ``None`` if none was read.
        last_good_t_s: time of the last good row in seconds (host time for packets), ``None`` if unknown.
        error: the underlying error message (SQLite's, or what was wrong with the row).
        message: the full human-readable message (also issued as a :class:`RecordingDamageWarning`).
        salvaged_rows: packets recovered after the damage by reading the file's intact pages directly.
        salvaged_last_id: packet number of the last recovered packet, ``None`` if none.
        salvaged_last_t_s: host time of the last recovered packet in seconds, ``None`` if none.
    """

    table: str
    rows_read: int
    last_good_id: int | None
    last_good_t_s: float | None
    error: str
    message: str
    salvaged_rows: int = 0
    salvaged_last_id: int | None = None
    salvaged_last_t_s: float | None = None


class SourceKind(enum.StrEnum):
    """Where the recorded packets came from."""

    LIVE = "live"
    """A real tag over Bluetooth."""
    SIMULATED = "simulated"
    """The built-in simulator (a virtual tag); the file may hold ground truth."""
    IMPORTED = "imported"
    """Converted from another file (CSV, another app's log)."""


class LinkEventKind(enum.StrEnum):
    """Kinds of rows in the ``link_events`` table written by :func:`link_event_record`."""

    CONNECTION = "connection"
    """The connection state changed; ``detail`` is the new :class:`~posturebuddy.model.ConnectionState`."""
    GAP = "gap"
    """Data missing from ``start_s`` to ``t_s``; ``count`` = packets lost by sequence number, if known."""
    PACKET_REJECTED = "packet_rejected"
    """A packet did not decode; ``detail`` is the decoder's reason. Its bytes are in ``packets``."""
    BATTERY = "battery"
    """A battery reading; ``count`` = percent, ``data`` may hold ``voltage_v``."""
    NUDGE = "nudge"
    """A nudge was written to the tag; ``detail`` = pattern, ``data.ok`` = success."""
    LINK_STATS = "link_stats"
    """Periodic link statistics in ``data``."""
    NOTE = "note"
    """Anything else worth keeping on the time line (recorder paused, user marker...)."""


class TruthKind(enum.StrEnum):
    """Suggested kinds of ground-truth segments written by the simulator. Other kinds are allowed."""

    POSTURE = "posture"
    """The wearer's true posture over the segment; ``label`` is a :class:`~posturebuddy.model.PostureClass`."""
    ACTIVITY = "activity"
    """The wearer's true activity; ``label`` is a :class:`~posturebuddy.model.Activity` value."""
    ALERT = "alert"
    """An episode the detector is expected to alert on; ``label`` is the posture class."""
    BREAK = "break"
    """A break (stand up and walk) the coach is expected to credit."""
    PROMPT = "prompt"
    """A prompt the coach is expected to raise; ``label`` is a :class:`~posturebuddy.model.PromptKind`."""
    LINK = "link"
    """An injected link fault (disconnect, packet loss); ``label`` says which."""
    SAMPLE = "sample"
    """A per-sample label (``start_s == end_s``); prefer segments, they are far smaller."""


@dataclass(frozen=True, slots=True)
class RecordingMetadata:
    """What a recording is: one session of one tag.

    The writer fills ``created_s``, ``app_version`` and ``session_id`` when they are left empty; the reader
    also fills ``format_version``, ``closed_s``, ``host_time_regressions`` and ``raw_trimmed_before_s``.

    Attributes:
        tag_family: tag family id (``posturebuddy``, ``thingy52``, ``witmotion``, ``sensortag``, ``microbit``).
        source_kind: live, simulated or imported.
        tag_address: Bluetooth address or platform identifier of the tag (``""`` if unknown).
        tag_name: advertised name of the tag (``""`` if none).
        sample_rate_hz: nominal sample rate in hertz, ``None`` if unknown.
        created_s: when the recording was created, POSIX epoch seconds (host wall clock).
        app_version: the PostureBuddy version that created the file.
        session_id: a random identifier (32 hex digits) of the session, unique across files.
        extra: free-form JSON object, e.g. ``{"scenario": "office_day", "seed": 7}``.
        format_version: ``(major, minor)`` of the recording format of the file.
        closed_s: when the writer closed the file cleanly, POSIX epoch seconds; ``None`` if it never did
            (still recording, or it crashed: the file then ends at the last flush).
        host_time_regressions: how many packets had a host time earlier than the packet before them.
        raw_trimmed_before_s: raw packets older than this host time were deleted by retention, ``None`` if
            never trimmed.
    """

    tag_family: str
    source_kind: SourceKind | str
    tag_address: str = ""
    tag_name: str = ""
    sample_rate_hz: float | None = None
    created_s: float | None = None
    app_version: str = ""
    session_id: str = ""
    extra: JsonObject = field(default_factory=dict)
    format_version: tuple[int, int] | None = None
    closed_s: float | None = None
    host_time_regressions: int = 0
    raw_trimmed_before_s: float | None = None


@dataclass(frozen=True, slots=True)
class PacketRecord:
    """One stored notification with everything the file knows about it.

    Attributes:
        packet_id: position in arrival order, 1-based; gaps only where retention deleted rows.
        t_host_s: host time of reception in seconds (see :class:`~posturebuddy.model.RawPacket`).
        char_uuid: lowercase 128-bit UUID of the characteristic.
        data: the payload bytes, unmodified.
        t_device_s: the tag's own clock in seconds, if the link layer knew it, else ``None``.
    """

    packet_id: int
    t_host_s: float
    char_uuid: str
    data: bytes
    t_device_s: float | None = None


@dataclass(frozen=True, slots=True)
class CalibrationRecord:
    """A calibration of the wearer's upright posture.

    Attributes:
        t_s: sample time the calibration took effect, seconds.
        gravity_up_g: the gravity direction in the tag frame while upright, in g (accelerometer convention:
            +1 g along the axis that points up), as measured; not necessarily of unit length.
        forward_axis: unit vector in the tag frame pointing to the wearer's front, if known.
        method: how it was obtained, e.g. ``"guided"`` (the user sat tall on request), ``"auto"``,
            ``"imported"``.
        detail: free-form JSON object (sample count, spread in degrees...).
        calibration_id: row id; ``None`` when writing (assigned by the file).
    """

    t_s: float
    gravity_up_g: Vec3
    forward_axis: Vec3 | None = None
    method: str = "guided"
    detail: JsonObject = field(default_factory=dict)
    calibration_id: int | None = None


@dataclass(frozen=True, slots=True)
class LinkEventRecord:
    """Something that happened to the link (connection change, gap, rejected packet, battery, nudge...).

    Attributes:
        t_s: time it happened (or was noticed), seconds.
        kind: a :class:`LinkEventKind` value (other strings are allowed and kept).
        detail: a short plain-words detail (the new state, a reason, a nudge pattern).
        start_s: for a gap, the time the data stopped, seconds; else ``None``.
        count: an integer that goes with the kind (lost packets for a gap, percent for a battery reading).
        data: free-form JSON object with the remaining fields.
        event_id: row id; ``None`` when writing.
    """

    t_s: float
    kind: LinkEventKind | str
    detail: str = ""
    start_s: float | None = None
    count: int | None = None
    data: JsonObject = field(default_factory=dict)
    event_id: int | None = None


@dataclass(frozen=True, slots=True)
class EpisodeRecord:
    """A detected posture episode (a stretch of one non-upright posture class).

    Attributes:
        posture_class: the class held over the episode.
        start_s: sample time the episode started, seconds.
        end_s: sample time it ended, seconds; ``None`` while it is still open.
        peak_total_deg: largest total angle from upright during the episode, degrees.
        peak_flexion_deg: flexion (forward +) at its largest magnitude, degrees.
        peak_lateral_deg: lateral tilt (right +) at its largest magnitude, degrees.
        mean_total_deg: mean total angle from upright, degrees.
        alerted: whether the episode lasted long enough for the coach to be told.
        detail: free-form JSON object.
        episode_id: unique within the session. When writing, give the detector's id so that an open episode
            written earlier is replaced by its closed version; ``None`` lets the file assign one.
    """

    posture_class: PostureClass | str
    start_s: float
    end_s: float | None = None
    peak_total_deg: float | None = None
    peak_flexion_deg: float | None = None
    peak_lateral_deg: float | None = None
    mean_total_deg: float | None = None
    alerted: bool = False
    detail: JsonObject = field(default_factory=dict)
    episode_id: int | None = None

    @property
    def duration_s(self) -> float | None:
        """Length of the episode in seconds, ``None`` while open."""
        return None if self.end_s is None else self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class PromptRecord:
    """A coaching prompt and how it ended.

    Attributes:
        prompt_id: unique within the session (the coach's counter).
        kind: what was asked.
        raised_s: sample time the prompt was raised, seconds.
        reason: the short sentence saying why.
        nudge: whether the tag was also nudged.
        outcome: how it ended; ``None`` while open (or if the session ended first).
        outcome_s: sample time of the outcome, seconds.
        details: the prompt's extra key/value pairs.
    """

    prompt_id: int
    kind: PromptKind | str
    raised_s: float
    reason: str = ""
    nudge: bool = False
    outcome: PromptOutcome | str | None = None
    outcome_s: float | None = None
    details: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_prompt(cls, prompt: Prompt) -> PromptRecord:
        """The record of a freshly raised :class:`~posturebuddy.model.Prompt` (no outcome yet)."""
        return cls(
            prompt_id=prompt.prompt_id,
            kind=prompt.kind,
            raised_s=prompt.t_s,
            reason=prompt.reason,
            nudge=prompt.nudge,
            details=prompt.details,
        )


@dataclass(frozen=True, slots=True)
class MinuteSummary:
    """What happened during one minute of sample time. Kept forever, when raw packets are long gone.

    Attributes:
        minute_start_s: start of the minute, seconds (sample time, normally a multiple of 60).
        posture_s: seconds spent in each posture class; classes not present count 0 s.
        no_data_s: seconds without data (link down, tag off), s.
        sitting_s: seconds judged sitting, s.
        standing_s: seconds judged standing still, s.
        walking_s: seconds judged walking, s.
        episodes: episodes that started in this minute.
        prompts: prompts raised in this minute.
        prompts_done: prompts completed (done or auto-completed) in this minute.
        breaks: breaks credited in this minute.
        detail: free-form JSON object.
    """

    minute_start_s: float
    posture_s: Mapping[PostureClass, float] = field(default_factory=dict)
    no_data_s: float = 0.0
    sitting_s: float = 0.0
    standing_s: float = 0.0
    walking_s: float = 0.0
    episodes: int = 0
    prompts: int = 0
    prompts_done: int = 0
    breaks: int = 0
    detail: JsonObject = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TruthSegment:
    """Ground truth known to the simulator: a labelled span of sample time.

    Attributes:
        start_s: start, seconds (sample time).
        end_s: end, seconds; equal to ``start_s`` for a point label.
        kind: what is labelled; a :class:`TruthKind` value or any other string.
        label: the label (a posture class, an activity, a prompt kind, a fault name...).
        data: free-form JSON object (expected angles, tolerances, fault parameters...).
        segment_id: row id; ``None`` when writing.
    """

    start_s: float
    end_s: float
    kind: TruthKind | str
    label: str
    data: JsonObject = field(default_factory=dict)
    segment_id: int | None = None


def link_event_record(event: Event) -> LinkEventRecord:
    """Convert a link-level event from :mod:`posturebuddy.model.events` into a ``link_events`` row.

    Args:
        event: a :class:`~posturebuddy.model.ConnectionStateChanged`, :class:`~posturebuddy.model.GapDetected`,
            :class:`~posturebuddy.model.PacketRejected`, :class:`~posturebuddy.model.BatteryRead`,
            :class:`~posturebuddy.model.NudgeSent` or :class:`~posturebuddy.model.LinkStatsUpdated`.

    Returns:
        The record to pass to :meth:`RecordingWriter.append_link_event`.

    Raises:
        TypeError: for other event types (the recorder stores those elsewhere, or not at all).
    """
    if isinstance(event, ConnectionStateChanged):
        return LinkEventRecord(
            t_s=event.t_s,
            kind=LinkEventKind.CONNECTION,
            detail=str(event.state),
            data={"address": event.address, "reason": event.detail, "expected": event.expected},
        )
    if isinstance(event, GapDetected):
        return LinkEventRecord(
            t_s=event.t_s,
            kind=LinkEventKind.GAP,
            detail=event.reason,
            start_s=event.start_s,
            count=event.lost_packets,
        )
    if isinstance(event, PacketRejected):
        return LinkEventRecord(
            t_s=event.t_s, kind=LinkEventKind.PACKET_REJECTED, detail=event.reason, data={"char_uuid": event.char_uuid}
        )
    if isinstance(event, BatteryRead):
        return LinkEventRecord(
            t_s=event.t_s,
            kind=LinkEventKind.BATTERY,
            count=event.level.percent,
            data={} if event.level.voltage_v is None else {"voltage_v": event.level.voltage_v},
        )
    if isinstance(event, NudgeSent):
        return LinkEventRecord(
            t_s=event.t_s, kind=LinkEventKind.NUDGE, detail=event.pattern, data={"ok": event.ok, "reason": event.detail}
        )
    if isinstance(event, LinkStatsUpdated):
        return LinkEventRecord(
            t_s=event.t_s,
            kind=LinkEventKind.LINK_STATS,
            data={
                "received": event.received,
                "dropped_queue_full": event.dropped_queue_full,
                "rejected": event.rejected,
                "lost_by_sequence": event.lost_by_sequence,
                "rate_hz": event.rate_hz,
            },
        )
    raise TypeError(f"not a link-level event: {type(event).__name__}")
