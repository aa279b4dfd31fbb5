"""The contract every tag family module fulfils.

A tag family module (``posturebuddy/devices/<family>.py``) is pure: it holds UUIDs, layout tables,
``decode_*``/``encode_*`` functions, command builders and one :class:`TagFamily` value named ``FAMILY``.
It does no I/O and imports neither asyncio, bleak nor textual. The link layer drives it:

1. match an advertisement to a family (:mod:`posturebuddy.devices.registry`),
2. after connecting, subscribe to ``FAMILY.notify_uuids`` and write ``FAMILY.start_commands()``,
3. feed every notification to one :class:`FrameDecoder` from ``FAMILY.make_decoder()``,
4. every ``FAMILY.poll_period_s`` write ``FAMILY.poll_commands()`` (register reads, e.g. WitMotion),
   and once after connecting read ``FAMILY.info_uuid`` (if set) and feed it to the decoder,
5. read ``FAMILY.battery_uuid`` now and then, and write ``FAMILY.nudge_commands(pattern)`` to nudge.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from posturebuddy.model import Decoded, RawPacket, Vec3


class DecodeError(ValueError):
    """Bytes that do not decode. The only exception a decoder may raise on bad input.

    Attributes:
        family: tag family id.
        reason: what is wrong, in plain words.
        offset: byte offset where the problem was found, if known.
        data: the offending bytes (for logs and bug reports).
    """

    def __init__(self, family: str, reason: str, *, offset: int | None = None, data: bytes = b"") -> None:
        self.family = family
        self.reason = reason
        self.offset = offset
        self.data = bytes(data)
        where = f" at byte {offset}" if offset is not None else ""
        shown = self.data[:32].hex(" ")
        more = "…" if len(self.data) > 32 else ""
        super().__init__(f"{family}: {reason}{where} (data: {shown}{more}, {len(self.data)} bytes)")


class NudgePattern(enum.StrEnum):
    """What a nudge should feel like. Each family maps these to its buzz, beep or LED commands."""

    GENTLE = "gentle"  # one short buzz / short soft beep / brief LED flash
    ATTENTION = "attention"  # two buzzes / two beeps / longer flash
    CONFIRM = "confirm"  # a distinct, pleasant cue: posture corrected or exercise done
    IDENTIFY = "identify"  # "which tag is this?": blink/beep for a few seconds


@dataclass(frozen=True, slots=True)
class GattWrite:
    """One write to a characteristic.

    Attributes:
        char_uuid: lowercase 128-bit UUID.
        data: payload.
        response: write with response (True) or write without response (False).
        description: what the write does, for logs and ``--help`` output.
        pause_after_s: how long the link waits after this write before the next one (some tags need time
            between the steps of a command sequence, e.g. WitMotion's unlock, write, save).
    """

    char_uuid: str
    data: bytes
    response: bool = True
    description: str = ""
    pause_after_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a tag family can do.

    Attributes:
        quaternion: the tag sends its own orientation quaternion.
        accel: the tag sends acceleration.
        gyro: the tag sends angular rate.
        mag: the tag sends magnetic field.
        haptic: the tag can vibrate.
        sound: the tag can beep.
        led: the tag has a controllable LED.
        battery: the tag reports its battery level.
        sample_rates_hz: the rates the tag supports (the link asks for the nearest one).
    """

    quaternion: bool
    accel: bool
    gyro: bool
    mag: bool
    haptic: bool
    sound: bool
    led: bool
    battery: bool
    sample_rates_hz: tuple[float, ...]

    def nearest_rate_hz(self, asked_hz: float) -> float:
        """The supported rate closest to ``asked_hz`` (the one the link ends up asking for), Hz."""
        return min(self.sample_rates_hz, key=lambda hz: abs(hz - asked_hz))

    @property
    def can_nudge(self) -> bool:
        """True if the tag has any way to get the wearer's attention."""
        return self.haptic or self.sound or self.led


class FrameDecoder(Protocol):
    """A per-connection decoder. Stateful where the protocol needs it (reassembly, sequence handling).

    ``decode`` turns one packet into zero or more decoded items, or raises :class:`DecodeError`. It never
    raises anything else, whatever the bytes.
    """

    def decode(self, packet: RawPacket) -> list[Decoded]:
        """Decode one notification or read reply."""
        ...


def _no_commands() -> list[GattWrite]:
    return []


@dataclass(frozen=True, slots=True)
class TagFamily:
    """Everything the link layer needs to use one family of tags.

    Attributes:
        family_id: short stable id, used in config files and recordings.
        display_name: human name, e.g. "Nordic Thingy:52".
        service_uuids: services whose presence in an advertisement (or GATT table) identifies the family.
        name_prefixes: advertised-name prefixes that identify the family when no service UUID is advertised.
        notify_uuids: characteristics to subscribe to for motion data.
        capabilities: what the tag can do.
        default_rate_hz: the rate the link asks for unless configured otherwise.
        make_decoder: builds a fresh :class:`FrameDecoder` for a new connection.
        rate_commands: writes that set the sample rate nearest to the given Hz.
        nudge_commands: writes that nudge the wearer with a pattern (empty if the tag cannot).
        start_commands: writes needed after subscribing (enable sensors, set ranges).
        poll_commands: writes to repeat every ``poll_period_s`` (register reads); empty if none.
        poll_period_s: period of ``poll_commands`` in seconds (0 = never).
        battery_uuid: characteristic to read for battery level, if any.
        info_uuid: characteristic the link reads once after connecting and feeds to the decoder (e.g. the
            PostureBuddy profile's device-information value, which carries the protocol version), if any.
        forward_axis: unit vector in the tag frame pointing *forward* from the wearer's back when the tag
            is worn as its family documentation describes (used when calibration has no lean-forward
            step). ``None`` if the mounting is not documented.
        notes: caveats for users (pairing needs, firmware quirks).
        seq_modulus: range of the sequence numbers in ``Sample.seq`` (they wrap), if the family sends any.
        device_clock_period_s: wrap period of ``Sample.device_time_s`` in seconds, if the family sends a clock.
        characteristics: short names of the family's characteristics (``"raw"``, ``"quaternion"``, ...) to
            their UUIDs, for ``posturebuddy decode --char NAME`` and for logs.
        describe: decodes any one characteristic value of the family (notifications, reads *and* command
            writes) into a flat mapping of field names with units to plain values (numbers, strings, lists),
            for ``posturebuddy decode``. Raises :class:`DecodeError` on bad bytes or an unknown characteristic.
    """

    family_id: str
    display_name: str
    service_uuids: tuple[str, ...]
    name_prefixes: tuple[str, ...]
    notify_uuids: tuple[str, ...]
    capabilities: Capabilities
    default_rate_hz: float
    make_decoder: Callable[[], FrameDecoder]
    rate_commands: Callable[[float], list[GattWrite]]
    nudge_commands: Callable[[NudgePattern], list[GattWrite]]
    start_commands: Callable[[], list[GattWrite]] = _no_commands
    poll_commands: Callable[[], list[GattWrite]] = _no_commands
    poll_period_s: float = 0.0
    battery_uuid: str | None = None
    info_uuid: str | None = None
    forward_axis: Vec3 | None = None
    notes: Sequence[str] = field(default_factory=tuple)
    seq_modulus: int = 65536
    device_clock_period_s: float | None = None
    characteristics: Mapping[str, str] = field(default_factory=dict)
    describe: Callable[[str, bytes], dict[str, object]] | None = None

    def char_uuid(self, name_or_uuid: str) -> str:
        """The UUID for a characteristic name of this family, or the UUID itself (lowercased).

        Raises:
            KeyError: an unknown name; the message lists the known ones.
        """
        key = name_or_uuid.strip().lower()
        if key in self.characteristics:
            return self.characteristics[key]
        if key in self.characteristics.values() or len(key) == 36:
            return key
        known = ", ".join(sorted(self.characteristics)) or "none"
        raise KeyError(f"{self.display_name} has no characteristic {name_or_uuid!r}; known names: {known}")


def plain_fields(value: object) -> object:
    """A dataclass, enum, tuple or number as plain JSON-ready data (dicts, lists, numbers, strings)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain_fields(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value if not isinstance(value, enum.Flag) else [m.name for m in type(value) if m in value]
    if isinstance(value, tuple | list):
        return [plain_fields(v) for v in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex(" ")
    return value


SIG_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"


def sig_uuid(short: int) -> str:
    """Expand a 16-bit Bluetooth SIG UUID to the lowercase 128-bit string bleak uses."""
    return f"0000{short:04x}{SIG_BASE_SUFFIX}"
