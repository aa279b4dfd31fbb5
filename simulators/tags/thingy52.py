"""A virtual Nordic Thingy:52 (firmware v2.x): motion, UI and sound services plus the SIG Battery Service.

Bytes and behaviour follow ``shared/research/ble_tags.md`` §1 through the encoders and validators of
:mod:`posturebuddy.devices.thingy52`:

* **Advertising**: Flags and the configuration service UUID EF680100 as an *incomplete* 128-bit list (the
  firmware's "more UUIDs available"), then the complete name ``Thingy`` (its scan response on a real Thingy).
* **Motion service 0400**: each notify characteristic streams while a central has it enabled (enabling
  notifications is what turns the sensor on): quaternion 0404 (Q2.30), raw 0406 (6Q10 g / 11Q5 dps / 12Q4 uT),
  gravity 040A (float32 m/s^2, the up direction in the tag frame from the recording's quaternion). Euler, rotation
  matrix, heading, tap, orientation and step counter exist in the table but stay silent. Config 0401 (9 bytes)
  reads back; a write of the wrong length or with a field out of range is answered with ATT
  ``WRITE_NOT_PERMITTED`` (0x03) and changes nothing; ``motion_freq_hz`` sets the stream rate (default 10 Hz).
* **UI service 0300**: LED 0301 (mode-dependent length and ranges, else 0x03; accepted writes are logged as
  cues and read back), button 0302 (silent), external pins 0303 (4 bytes, each 0 or 255, else 0x03).
* **Sound service 0500**: config 0501 (2 valid mode bytes, else 0x03); speaker 0502 is write-without-response,
  so a tone the driver rejects is answered on speaker status 0503 with ``INVALID_COMMAND`` (0x11); a tone plays
  for its duration (simulated time) and then status ``FINISHED`` (0x00) is notified. A volume or duration of 0
  stops the speaker, as the driver does. Microphone 0504 stays silent.
* **Battery**: 180F / 2A19 read + notify on change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Unpack

from posturebuddy.devices.base import DecodeError
from posturebuddy.devices.battery import BATTERY_LEVEL_CHAR_UUID, BATTERY_SERVICE_UUID, encode_battery_level
from posturebuddy.devices.thingy52 import (
    BUTTON_CHAR_UUID,
    CONFIGURATION_SERVICE_UUID,
    DEFAULT_CONNECTED_LED,
    DEFAULT_MOTION_CONFIG,
    EULER_CHAR_UUID,
    EXT_PIN_CHAR_UUID,
    GRAVITY_CHAR_UUID,
    HEADING_CHAR_UUID,
    LED_CHAR_UUID,
    MICROPHONE_CHAR_UUID,
    MOTION_CONFIG_CHAR_UUID,
    MOTION_SERVICE_UUID,
    ORIENTATION_CHAR_UUID,
    QUATERNION_CHAR_UUID,
    RAW_DATA_CHAR_UUID,
    ROTATION_MATRIX_CHAR_UUID,
    SOUND_CONFIG_CHAR_UUID,
    SOUND_SERVICE_UUID,
    SPEAKER_DATA_CHAR_UUID,
    SPEAKER_STATUS_CHAR_UUID,
    STEP_COUNTER_CHAR_UUID,
    TAP_CHAR_UUID,
    UI_SERVICE_UUID,
    LedCommand,
    MotionConfig,
    SoundConfig,
    SpeakerMode,
    SpeakerStatus,
    decode_led,
    decode_motion_config,
    decode_sample_id,
    decode_sound_config,
    decode_tone,
    encode_gravity_g,
    encode_led,
    encode_motion_config,
    encode_quaternion,
    encode_raw,
    encode_sound_config,
    encode_speaker_status,
    thingy_uuid,
)
from simulators.ble.peripheral import AdvertisementSpec, AttError, CharacteristicSpec, ServiceSpec
from simulators.tags.base import (
    AD_COMPLETE_LOCAL_NAME,
    AD_FLAGS,
    AD_INCOMPLETE_LIST_128,
    FLAGS_GENERAL_DISCOVERABLE_NO_BREDR,
    TagOptions,
    VirtualTag,
    fit_advertisement,
    uuid_le_bytes,
    vec3,
)
from simulators.tags.quat import canonical, up_in_tag
from simulators.wearer.simulation import SimulatedRecording

__all__ = ["ATT_WRITE_NOT_PERMITTED", "DEVICE_NAME_CHAR_UUID", "VirtualThingy52"]

ATT_WRITE_NOT_PERMITTED = 0x03
"""What the firmware's authorized writes answer on invalid data (BLE_GATT_STATUS_ATTERR_WRITE_NOT_PERMITTED)."""

DEVICE_NAME_CHAR_UUID = thingy_uuid(0x0101)
"""The configuration service's device-name characteristic (only this one of that service is modelled)."""

_STREAMED = (QUATERNION_CHAR_UUID, RAW_DATA_CHAR_UUID, GRAVITY_CHAR_UUID)
_EXT_PIN_VALUES = (0, 255)


class VirtualThingy52(VirtualTag):
    """A Nordic Thingy:52. Extra inspection: :attr:`motion_config`, :attr:`sound_config`, :attr:`led`,
    :attr:`speaker_playing` (plus the base class's ``cues``, ``commands``, battery and faults)."""

    default_rate_hz = float(DEFAULT_MOTION_CONFIG.motion_freq_hz)
    address_prefix = 0xF2

    def __init__(
        self,
        recording: SimulatedRecording,
        *,
        name: str | None = None,
        address: str | None = None,
        motion_config: MotionConfig = DEFAULT_MOTION_CONFIG,
        **options: Unpack[TagOptions],
    ) -> None:
        options.setdefault("rate_hz", float(motion_config.motion_freq_hz))
        super().__init__(name or "Thingy", recording, address=address, **options)
        self.motion_config = motion_config
        self.sound_config = SoundConfig()
        self.led: LedCommand = DEFAULT_CONNECTED_LED
        self.speaker_playing = False
        self._tone_task: asyncio.Task[None] | None = None

    # -- GATT and advertising ----------------------------------------------------------------------------------

    def services(self) -> list[ServiceSpec]:
        """Configuration (device name only), motion, UI, sound and battery services."""
        return [
            ServiceSpec(
                CONFIGURATION_SERVICE_UUID,
                (CharacteristicSpec(DEVICE_NAME_CHAR_UUID, ("read", "write"), initial=self.name.encode()),),
            ),
            ServiceSpec(
                MOTION_SERVICE_UUID,
                (
                    CharacteristicSpec(
                        MOTION_CONFIG_CHAR_UUID,
                        ("read", "write"),
                        on_read=lambda: encode_motion_config(self.motion_config),
                        on_write=self._write_motion_config,
                    ),
                    CharacteristicSpec(TAP_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(ORIENTATION_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(QUATERNION_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(STEP_COUNTER_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(RAW_DATA_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(EULER_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(ROTATION_MATRIX_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(HEADING_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(GRAVITY_CHAR_UUID, ("notify",)),
                ),
            ),
            ServiceSpec(
                UI_SERVICE_UUID,
                (
                    CharacteristicSpec(BUTTON_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(
                        LED_CHAR_UUID, ("read", "write"), on_read=lambda: encode_led(self.led), on_write=self._write_led
                    ),
                    CharacteristicSpec(
                        EXT_PIN_CHAR_UUID, ("read", "write"), initial=bytes(4), on_write=self._write_ext_pin
                    ),
                ),
            ),
            ServiceSpec(
                SOUND_SERVICE_UUID,
                (
                    CharacteristicSpec(
                        SOUND_CONFIG_CHAR_UUID,
                        ("read", "write"),
                        on_read=lambda: encode_sound_config(self.sound_config),
                        on_write=self._write_sound_config,
                    ),
                    CharacteristicSpec(SPEAKER_DATA_CHAR_UUID, ("write-without-response",), on_write=self._speaker),
                    CharacteristicSpec(SPEAKER_STATUS_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(MICROPHONE_CHAR_UUID, ("notify",)),
                ),
            ),
            ServiceSpec(
                BATTERY_SERVICE_UUID,
                (
                    CharacteristicSpec(
                        BATTERY_LEVEL_CHAR_UUID,
                        ("read", "notify"),
                        on_read=lambda: encode_battery_level(self.battery_level),
                    ),
                ),
            ),
        ]

    def advertisement(self) -> AdvertisementSpec:
        """Flags, the incomplete 128-bit list with EF680100, then the complete name (29 bytes for "Thingy")."""
        return fit_advertisement(
            [
                (AD_FLAGS, bytes([FLAGS_GENERAL_DISCOVERABLE_NO_BREDR])),
                (AD_INCOMPLETE_LIST_128, uuid_le_bytes(CONFIGURATION_SERVICE_UUID)),
            ],
            [(AD_COMPLETE_LOCAL_NAME, self.name.encode())],
        )

    # -- stream ------------------------------------------------------------------------------------------------

    def stream_uuids(self) -> Sequence[str]:
        """Quaternion, raw and gravity stream; each only while subscribed."""
        return _STREAMED

    def sample_frames(self, index: int, t_s: float) -> list[tuple[str, bytes]]:
        """The subscribed motion characteristics for one sample, in the firmware's handle order."""
        rec = self.recording
        w, x, y, z = (float(v) for v in rec.quat_wxyz[index])
        quat = canonical((w, x, y, z))
        frames: list[tuple[str, bytes]] = []
        if self.is_subscribed(QUATERNION_CHAR_UUID):
            frames.append((QUATERNION_CHAR_UUID, encode_quaternion(quat)))
        if self.is_subscribed(RAW_DATA_CHAR_UUID):
            accel = vec3(rec.accel_g[index])
            gyro = vec3(rec.gyro_dps[index])
            mag = vec3(rec.mag_ut[index])
            frames.append((RAW_DATA_CHAR_UUID, encode_raw(accel, gyro, mag)))
        if self.is_subscribed(GRAVITY_CHAR_UUID):
            frames.append((GRAVITY_CHAR_UUID, encode_gravity_g(up_in_tag(quat))))
        return frames

    # -- battery -----------------------------------------------------------------------------------------------

    def on_battery_level(self, percent: int) -> None:
        """Notify Battery Level on change."""
        if self.is_subscribed(BATTERY_LEVEL_CHAR_UUID):
            self.spawn(self.notify(BATTERY_LEVEL_CHAR_UUID, encode_battery_level(percent)))

    # -- writes --------------------------------------------------------------------------------------------------

    def _write_motion_config(self, data: bytes) -> None:
        try:
            config = decode_motion_config(data)
        except DecodeError as error:
            self.now_log(f"rejected motion config {data.hex(' ')}: {error.reason}")
            raise AttError(ATT_WRITE_NOT_PERMITTED, error.reason) from error
        self.motion_config = config
        self.set_rate_hz(config.motion_freq_hz)
        self.now_log(f"motion config: {config.motion_freq_hz} Hz, wake on motion {config.wake_on_motion}")

    def _write_led(self, data: bytes) -> None:
        try:
            led = decode_led(data)
        except DecodeError as error:
            self.now_log(f"rejected LED {data.hex(' ')}: {error.reason}")
            raise AttError(ATT_WRITE_NOT_PERMITTED, error.reason) from error
        self.led = led
        self.now_log(f"LED {led}", cue=True)

    def _write_ext_pin(self, data: bytes) -> None:
        if len(data) != 4 or any(b not in _EXT_PIN_VALUES for b in data):
            self.now_log(f"rejected external pins {data.hex(' ')}")
            raise AttError(ATT_WRITE_NOT_PERMITTED, "external pins take 4 bytes of 0 or 255")
        self.set_value(EXT_PIN_CHAR_UUID, data)
        self.now_log(f"external pins {data.hex(' ')}", cue=True)

    def _write_sound_config(self, data: bytes) -> None:
        try:
            config = decode_sound_config(data)
        except DecodeError as error:
            self.now_log(f"rejected sound config {data.hex(' ')}: {error.reason}")
            raise AttError(ATT_WRITE_NOT_PERMITTED, error.reason) from error
        self.sound_config = config
        self.now_log(f"sound config {config}")

    def _speaker(self, data: bytes) -> None:
        mode = self.sound_config.speaker_mode
        try:
            if mode == SpeakerMode.FREQUENCY:
                tone = decode_tone(data)
                if tone.duration_ms == 0 or tone.volume_pct == 0:
                    self._stop_tone()
                    self.now_log("speaker stop", cue=True)
                    return
                self.now_log(f"tone {tone.freq_hz} Hz {tone.duration_ms} ms at {tone.volume_pct} %", cue=True)
                self._play(tone.duration_ms / 1000.0)
            elif mode == SpeakerMode.SAMPLE:
                sample_id = decode_sample_id(data)
                self.now_log(f"sample {sample_id}", cue=True)
                self._play(0.5)
            else:  # 8-bit PCM streaming: accepted, not rendered
                self.now_log(f"pcm {len(data)} bytes", cue=True)
        except DecodeError as error:
            self.now_log(f"rejected speaker data {data.hex(' ')}: {error.reason}")
            self._speaker_status(SpeakerStatus.INVALID_COMMAND)

    def _speaker_status(self, status: SpeakerStatus) -> None:
        if self.is_subscribed(SPEAKER_STATUS_CHAR_UUID):
            self.spawn(self.notify(SPEAKER_STATUS_CHAR_UUID, encode_speaker_status(status)))

    def _stop_tone(self) -> None:
        if self._tone_task is not None:
            self._tone_task.cancel()
            self._tone_task = None
        self.speaker_playing = False

    def _play(self, duration_s: float) -> None:
        self._stop_tone()
        self.speaker_playing = True
        self._tone_task = self.spawn(self._finish_tone(duration_s), name=f"{self.name}-tone")

    async def _finish_tone(self, duration_s: float) -> None:
        await asyncio.sleep(duration_s / self.speed)
        self.speaker_playing = False
        self._speaker_status(SpeakerStatus.FINISHED)
