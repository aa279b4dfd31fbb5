"""A virtual PostureBuddy Tag: the open profile of ``firmware_protocol/SPEC.md``, byte for byte.

* GATT (SPEC §2): the PostureBuddy service with Motion (notify, 20-byte frames), Control (write with response
  only) and Device Information (read, 7 bytes, current rate live); the SIG Battery Service (Battery Level read +
  notify on change); and the SIG Device Information Service (manufacturer name, firmware revision) as SPEC §2
  recommends.
* Advertising (SPEC §9): Flags, the complete 128-bit service list and the shortened name ``PB-Tag``; the
  complete name ``PB-Tag-XXXX`` belongs in the scan response, which the virtual controller cannot send (see
  :func:`~simulators.tags.base.fit_advertisement`), so centrals see ``PB-Tag``.
* Motion (SPEC §4): streaming starts when notifications are enabled and stops when they are disabled; the first
  frame carries ``STREAM_START``; ``seq`` counts every sample taken (lost ones too, so gaps show) and
  ``time_ms`` is the tag's millisecond clock since power-on, both wrapping at 65536. Quaternion (with ``w >= 0``)
  and acceleration come from the recording through :func:`firmware_protocol.encode_motion`. Status: ``CHARGING``,
  ``LOW_BATTERY``, ``WEAR_DETECT`` + ``WORN`` (from the recording: the tag lying on the desk is not worn) and
  ``CALIBRATING`` for a while after RESET_ORIENTATION.
* Control (SPEC §5): decoded with :func:`firmware_protocol.decode_command`; a bad write is answered with the ATT
  error SPEC §5.1 names (0x0D, 0x80, 0x81, 0xFF) and changes nothing. SET_RATE changes the stream rate from the
  next sample; CUE, BUZZ, LED, IDENTIFY and STOP_OUTPUTS are logged in :attr:`~VirtualTag.cues`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Unpack

from bleak.uuids import normalize_uuid_str

from firmware_protocol import (
    ATT_ERROR_FEATURE_ABSENT,
    ATT_ERROR_INVALID_LENGTH,
    ATT_ERROR_OUT_OF_RANGE,
    BATTERY_LEVEL_CHAR_UUID,
    BATTERY_SERVICE_UUID,
    CONTROL_CHAR_UUID,
    DEFAULT_RATE_HZ,
    DEVICE_INFO_CHAR_UUID,
    LOCAL_NAME_PREFIX,
    MOTION_CHAR_UUID,
    PROTOCOL_MAJOR,
    PROTOCOL_MINOR,
    RATE_TABLE_HZ,
    SERVICE_UUID,
    Buzz,
    Cue,
    DeviceInfo,
    Feature,
    Identify,
    Led,
    MotionFrame,
    ProtocolError,
    ResetOrientation,
    SetRate,
    StatusFlags,
    StopOutputs,
    decode_command,
    encode_battery,
    encode_device_info,
    encode_motion,
)
from simulators.ble.peripheral import AdvertisementSpec, AttError, CharacteristicSpec, ServiceSpec
from simulators.tags.base import (
    AD_COMPLETE_LIST_128,
    AD_COMPLETE_LOCAL_NAME,
    AD_FLAGS,
    AD_SHORTENED_LOCAL_NAME,
    FLAGS_GENERAL_DISCOVERABLE_NO_BREDR,
    TagOptions,
    VirtualTag,
    default_address,
    fit_advertisement,
    uuid_le_bytes,
)
from simulators.tags.quat import canonical
from simulators.wearer.simulation import SimulatedRecording

__all__ = ["DIS_FIRMWARE_REVISION", "DIS_MANUFACTURER_NAME", "DIS_SERVICE", "VirtualPbTag"]

DIS_SERVICE = "180a"
DIS_MANUFACTURER_NAME = "2a29"
DIS_FIRMWARE_REVISION = "2a26"

CALIBRATION_S = 2.0
"""How long (simulated seconds) the tag reports CALIBRATING after RESET_ORIENTATION."""


class VirtualPbTag(VirtualTag):
    """A PostureBuddy Tag following SPEC v1.0.

    Args (beyond :class:`VirtualTag`'s):
        haptic: the tag has a vibration motor (else BUZZ answers 0x81).
        led: the tag has an LED (else LED answers 0x81).
        wear_detect: the tag can tell whether it is worn.
        charge_detect: the tag can tell whether it is charging.
        supported_rates_hz: rates SET_RATE accepts (a subset of the v1 table; must include 50).
        firmware_revision: the DIS firmware revision string.
    """

    default_rate_hz = float(DEFAULT_RATE_HZ)
    address_prefix = 0xF1

    def __init__(
        self,
        recording: SimulatedRecording,
        *,
        name: str | None = None,
        address: str | None = None,
        haptic: bool = True,
        led: bool = True,
        wear_detect: bool = True,
        charge_detect: bool = True,
        supported_rates_hz: Sequence[int] = RATE_TABLE_HZ,
        firmware_revision: str = "1.0.0-sim",
        **options: Unpack[TagOptions],
    ) -> None:
        address = address or default_address(self.address_prefix)
        if name is None:
            name = f"{LOCAL_NAME_PREFIX}-{address.replace(':', '')[-4:].upper()}"
        super().__init__(name, recording, address=address, **options)
        rates = tuple(sorted(int(r) for r in supported_rates_hz))
        if not set(rates) <= set(RATE_TABLE_HZ) or DEFAULT_RATE_HZ not in rates:
            raise ValueError(f"supported rates must be a subset of {RATE_TABLE_HZ} including {DEFAULT_RATE_HZ}")
        self.supported_rates_hz = rates
        self.haptic = haptic
        self.led = led
        self.wear_detect = wear_detect
        self.charge_detect = charge_detect
        self.firmware_revision = firmware_revision
        self.seq = 0
        """The next motion frame's sequence number (before wrapping)."""
        self.identify_until_s = 0.0
        self._calibrating_until_s = -1.0
        self._stream_start_pending = False

    # -- GATT and advertising ----------------------------------------------------------------------------------

    def services(self) -> list[ServiceSpec]:
        """SPEC §2: PostureBuddy service, Battery Service, Device Information Service."""
        return [
            ServiceSpec(
                SERVICE_UUID,
                (
                    CharacteristicSpec(MOTION_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(CONTROL_CHAR_UUID, ("write",)),
                    CharacteristicSpec(DEVICE_INFO_CHAR_UUID, ("read",), on_read=self.device_info_bytes),
                ),
            ),
            ServiceSpec(
                BATTERY_SERVICE_UUID,
                (
                    CharacteristicSpec(
                        BATTERY_LEVEL_CHAR_UUID, ("read", "notify"), on_read=lambda: encode_battery(self.battery_level)
                    ),
                ),
            ),
            ServiceSpec(
                DIS_SERVICE,
                (
                    CharacteristicSpec(DIS_MANUFACTURER_NAME, ("read",), initial=b"PostureBuddy (simulated)"),
                    CharacteristicSpec(DIS_FIRMWARE_REVISION, ("read",), initial=self.firmware_revision.encode()),
                ),
            ),
        ]

    def advertisement(self) -> AdvertisementSpec:
        """SPEC §9: Flags, the complete 128-bit service list, the shortened name (29 bytes)."""
        return fit_advertisement(
            [
                (AD_FLAGS, bytes([FLAGS_GENERAL_DISCOVERABLE_NO_BREDR])),
                (AD_COMPLETE_LIST_128, uuid_le_bytes(SERVICE_UUID)),
                (AD_SHORTENED_LOCAL_NAME, LOCAL_NAME_PREFIX.encode()),
            ],
            [(AD_COMPLETE_LOCAL_NAME, self.name.encode())],
        )

    @property
    def features(self) -> Feature:
        """The device-information feature bits of this tag."""
        features = Feature.GYRO | Feature.MAGNETOMETER | Feature.BATTERY_SERVICE
        if self.haptic:
            features |= Feature.HAPTIC
        if self.led:
            features |= Feature.LED
        if self.wear_detect:
            features |= Feature.WEAR_DETECT
        if self.charge_detect:
            features |= Feature.CHARGE_DETECT
        return features

    def device_info_bytes(self) -> bytes:
        """SPEC §6: version, features, supported rates, current rate."""
        return encode_device_info(
            DeviceInfo(
                protocol_major=PROTOCOL_MAJOR,
                protocol_minor=PROTOCOL_MINOR,
                features=self.features,
                supported_rates_hz=self.supported_rates_hz,
                current_rate_hz=round(self.rate_hz),
            )
        )

    # -- stream ------------------------------------------------------------------------------------------------

    def stream_uuids(self) -> Sequence[str]:
        """Only the motion characteristic streams."""
        return (MOTION_CHAR_UUID,)

    def on_stream_started(self) -> None:
        """The next frame is the first after notifications were enabled."""
        self._stream_start_pending = True

    def on_samples_lost(self, count: int) -> None:
        """Lost samples still take a sequence number."""
        self.seq += count

    def status(self, index: int) -> StatusFlags:
        """The status flags for a frame from recording row ``index`` (without STREAM_START)."""
        flags = StatusFlags(0)
        if self.charge_detect and self.charging:
            flags |= StatusFlags.CHARGING
        if self.low_battery:
            flags |= StatusFlags.LOW_BATTERY
        if self.wear_detect:
            flags |= StatusFlags.WEAR_DETECT
            if self.is_worn(index):
                flags |= StatusFlags.WORN
        if self.now_s() < self._calibrating_until_s:
            flags |= StatusFlags.CALIBRATING
        return flags

    def sample_frames(self, index: int, t_s: float) -> list[tuple[str, bytes]]:
        """One motion frame per sample."""
        rec = self.recording
        w, x, y, z = (float(v) for v in rec.quat_wxyz[index])
        ax, ay, az = (float(v) for v in rec.accel_g[index])
        status = self.status(index)
        if self._stream_start_pending:
            status |= StatusFlags.STREAM_START
            self._stream_start_pending = False
        frame = MotionFrame(
            seq=self.seq,
            device_time_ms=math.floor(t_s * 1000.0),
            quat_wxyz=canonical((w, x, y, z)),
            accel_g=(ax, ay, az),
            status=status,
        )
        self.seq += 1
        return [(MOTION_CHAR_UUID, encode_motion(frame))]

    # -- battery -----------------------------------------------------------------------------------------------

    def on_battery_level(self, percent: int) -> None:
        """Notify Battery Level on change (SPEC §7)."""
        if self.is_subscribed(BATTERY_LEVEL_CHAR_UUID):
            self.spawn(self.notify(BATTERY_LEVEL_CHAR_UUID, encode_battery(percent)))

    # -- control -----------------------------------------------------------------------------------------------

    def on_write(self, char_uuid: str, data: bytes) -> None:
        """Control writes (SPEC §5); nothing else is writable."""
        if char_uuid != normalize_uuid_str(CONTROL_CHAR_UUID):
            super().on_write(char_uuid, data)
            return
        try:
            command = decode_command(data)
        except ProtocolError as error:
            code = error.att_error if error.att_error is not None else ATT_ERROR_INVALID_LENGTH
            self.now_log(f"rejected control write {data.hex(' ')}: {error.reason} (ATT 0x{code:02X})")
            raise AttError(code, error.reason) from error
        match command:
            case SetRate(rate_hz=rate):
                if rate not in self.supported_rates_hz:
                    self.now_log(f"rejected SET_RATE {rate} Hz: not supported (ATT 0xFF)")
                    raise AttError(ATT_ERROR_OUT_OF_RANGE, f"{rate} Hz not supported")
                self.set_rate_hz(rate)
                self.now_log(f"set rate {rate} Hz")
            case Cue(pattern=pattern):
                self.now_log(f"cue {pattern.name.lower()}", cue=True)
            case Buzz():
                if not self.haptic:
                    self.now_log("rejected BUZZ: no motor (ATT 0x81)")
                    raise AttError(ATT_ERROR_FEATURE_ABSENT, "no motor")
                self.now_log(
                    f"buzz {command.count} x {command.on_ms} ms on / {command.off_ms} ms off "
                    f"at {command.strength_pct} %",
                    cue=True,
                )
            case Led():
                if not self.led:
                    self.now_log("rejected LED: no LED (ATT 0x81)")
                    raise AttError(ATT_ERROR_FEATURE_ABSENT, "no LED")
                colour = f"#{command.red:02x}{command.green:02x}{command.blue:02x}"
                times = "until stopped" if command.count == 0 else f"{command.count} x"
                self.now_log(f"led {colour} {times} {command.on_ms} ms on / {command.off_ms} ms off", cue=True)
            case Identify(duration_s=duration):
                self.identify_until_s = self.now_s() + duration
                self.now_log(f"identify {duration} s" if duration else "identify off", cue=True)
            case StopOutputs():
                self.identify_until_s = 0.0
                self.now_log("stop outputs", cue=True)
            case ResetOrientation():
                self._calibrating_until_s = self.now_s() + CALIBRATION_S
                self.now_log("reset orientation")
