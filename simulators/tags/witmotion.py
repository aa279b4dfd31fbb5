"""A virtual WitMotion BLE 5.0 IMU (WT901BLECL class), through :mod:`posturebuddy.devices.witmotion`'s encoders.

* **GATT**: service FFE5 with notify FFE4 and write FFE9 (write and write-without-response), all on the vendor
  base ``...-0000-1000-8000-00805f9a34fb`` (9a, not the SIG 9b).
* **Advertising**: Flags and the complete name (default ``WT901BLE68``); the family is recognised by the ``WT``
  prefix, as the vendor's own example does. What else a real module advertises is not documented.
* **Stream**: 20-byte ``55 61`` frames while notifications are on: acceleration and angular rate from the
  recording, roll/pitch/yaw (Z-Y-X) from the recording's quaternion via ``quat_to_euler_zyx``, at the RRATE
  output rate (default 10 Hz).
* **Commands** on FFE9 (``FF AA <reg> <lo> <hi>``; the module is a UART bridge, so writes never fail at the ATT
  level and garbage is ignored): a register read ``FF AA 27 <reg> 00`` is answered with a ``55 71`` reply of the
  8 registers from ``<reg>`` (quaternion 0x51-0x54 = q x 32768, magnetometer 0x3A-0x3C, angles, temperature 0x40 =
  degC x 100, battery 0x64 = centivolts, rate, ...); RRATE (0x03) changes the rate (0x0C: one frame, 0x0D: stop);
  unlock (0x69 = 0xB588) opens a 10 s window; save (0x00 = 0) keeps the settings, 0x00 = 1 restores the defaults;
  CALSW 0x08 zeroes the reference angle (later angles and quaternions are relative to the attitude at that
  moment); other register writes are stored and read back.
* **Framing** (``framing=``): ``"single"`` one frame per notification; ``"concatenated"`` two frames in one
  40-byte notification when the link's MTU allows it (else single); ``"split"`` every frame cut across two
  notifications at ``split_at``. The vendor parsers (and :class:`~posturebuddy.devices.witmotion.WitMotionStream`)
  handle all three.

Assumptions (not documented by the vendor): the magnetometer registers hold milligauss (uT x 10), the battery
voltage is ``3.40 V + 6.5 mV x percent`` (so the vendor's table reads 100 % above 3.96 V and 75 % above 3.87 V),
and unlock is not required (``require_unlock=True`` makes writes outside the window ignored).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, Unpack

from bleak.uuids import normalize_uuid_str

from posturebuddy.devices.base import DecodeError
from posturebuddy.devices.witmotion import (
    ACCEL_FULL_SCALE_G,
    ANGLE_FULL_SCALE_DEG,
    BATTERY_LSB_PER_V,
    FRAME_LENGTH,
    GYRO_FULL_SCALE_DPS,
    INT16_MAX,
    INT16_MIN,
    NOTIFY_CHAR_UUID,
    QUATERNION_FULL_SCALE,
    RAW_FULL_SCALE,
    REGISTERS_PER_REPLY,
    RRATE_HZ,
    RRATE_NONE,
    RRATE_ONCE,
    SERVICE_UUID,
    TEMPERATURE_LSB_PER_C,
    WRITE_CHAR_UUID,
    Register,
    decode_command,
    encode_imu_frame,
    encode_register_frame,
    quat_to_euler_zyx,
)
from posturebuddy.model import Quat
from simulators.ble.peripheral import AdvertisementSpec, CharacteristicSpec, ServiceSpec
from simulators.tags.base import (
    AD_COMPLETE_LOCAL_NAME,
    AD_FLAGS,
    FLAGS_GENERAL_DISCOVERABLE_NO_BREDR,
    SentFrame,
    TagOptions,
    VirtualTag,
    fit_advertisement,
    vec3,
)
from simulators.tags.quat import canonical, conjugate, multiply
from simulators.wearer.simulation import SimulatedRecording

__all__ = ["DEFAULT_RRATE", "MAG_COUNTS_PER_UT", "Framing", "VirtualWitMotion"]

Framing = Literal["single", "concatenated", "split"]

DEFAULT_RRATE = 0x06
"""10 Hz, the output rate a third-party dump reports as the default (ble_tags.md §2.4, [ZENN])."""
MAG_COUNTS_PER_UT = 10.0
"""Assumed register unit: milligauss, as the datasheet says "mG" (the SDKs disagree; ble_tags.md §2.3)."""
UNLOCK_VALUE = 0xB588
UNLOCK_WINDOW_S = 10.0
CALSW_ZERO_REFERENCE = 0x08
FIRMWARE_VERSION = (0x1234, 0x0001)
"""Registers 0x2E-0x2F; bit-packed on real modules, arbitrary here."""

# register map of the measured values (WitMotion REG.h)
_AX, _GX, _HX, _ROLL = 0x34, 0x37, 0x3A, 0x3D
_STORED_DEFAULTS: dict[int, int] = {Register.RRATE: DEFAULT_RRATE, Register.BANDWIDTH: 0x04}


def _int16(value: float) -> int:
    return min(max(round(value), INT16_MIN), INT16_MAX) if math.isfinite(value) else 0


class VirtualWitMotion(VirtualTag):
    """A WitMotion BLE 5.0 IMU.

    Args (beyond :class:`VirtualTag`'s):
        framing: how frames map to notifications (see the module docstring).
        split_at: where ``"split"`` cuts each 20-byte frame (1..19).
        temperature_c: what register 0x40 reports.
        require_unlock: ignore register writes outside a 10 s unlock window.

    Inspection: :attr:`registers` (stored settings), :attr:`saved_registers`, :attr:`reference_quat`,
    :attr:`notifications_sent`, plus the base class's logs, battery and faults.
    """

    address_prefix = 0xF3
    default_rate_hz = RRATE_HZ[DEFAULT_RRATE]

    def __init__(
        self,
        recording: SimulatedRecording,
        *,
        name: str | None = None,
        address: str | None = None,
        framing: Framing = "single",
        split_at: int = 7,
        temperature_c: float = 31.5,
        require_unlock: bool = False,
        **options: Unpack[TagOptions],
    ) -> None:
        if framing not in ("single", "concatenated", "split"):
            raise ValueError(f"framing must be single, concatenated or split, not {framing!r}")
        if not 0 < split_at < FRAME_LENGTH:
            raise ValueError(f"split_at must be 1..{FRAME_LENGTH - 1}, got {split_at}")
        super().__init__(name or "WT901BLE68", recording, address=address, **options)
        self.framing: Framing = framing
        self.split_at = split_at
        self.temperature_c = temperature_c
        self.require_unlock = require_unlock
        self.registers: dict[int, int] = dict(_STORED_DEFAULTS)
        self.saved_registers: dict[int, int] = dict(_STORED_DEFAULTS)
        self.reference_quat: Quat = (1.0, 0.0, 0.0, 0.0)
        """The earth frame the angles are relative to (identity until CALSW 0x08 zeroes the reference)."""
        self.output_enabled = True
        self.notifications_sent = 0
        self._unlocked_until_s = -1.0
        self._pending: bytes | None = None
        code = self.registers[Register.RRATE]
        if code in RRATE_HZ and options.get("rate_hz") is None:
            self._rate_hz = RRATE_HZ[code]

    # -- GATT and advertising ----------------------------------------------------------------------------------

    def services(self) -> list[ServiceSpec]:
        """FFE5 with FFE4 (notify) and FFE9 (write, write without response)."""
        return [
            ServiceSpec(
                SERVICE_UUID,
                (
                    CharacteristicSpec(NOTIFY_CHAR_UUID, ("notify",)),
                    CharacteristicSpec(WRITE_CHAR_UUID, ("write", "write-without-response")),
                ),
            )
        ]

    def advertisement(self) -> AdvertisementSpec:
        """Flags and the complete name."""
        return fit_advertisement(
            [(AD_FLAGS, bytes([FLAGS_GENERAL_DISCOVERABLE_NO_BREDR])), (AD_COMPLETE_LOCAL_NAME, self.name.encode())],
            [],
        )

    # -- orientation and registers -----------------------------------------------------------------------------

    def quat_at(self, index: int) -> Quat:
        """The tag's orientation at recording row ``index``, relative to the zeroed reference."""
        w, x, y, z = (float(v) for v in self.recording.quat_wxyz[index])
        return canonical(multiply(conjugate(self.reference_quat), canonical((w, x, y, z))))

    @property
    def battery_voltage_v(self) -> float:
        """The cell voltage register 0x64 reports (an assumed linear model, see the module docstring)."""
        return 3.40 + 0.0065 * self.battery_percent

    def current_index(self) -> int:
        """The recording row at the current simulated time (the last one if the recording ended)."""
        index = self.index_at(self.now_s())
        return self.recording.n - 1 if index is None else index

    def register_value(self, register: int, index: int) -> int:
        """The int16 content of ``register`` with the wearer at recording row ``index``."""
        rec = self.recording
        a_scale = RAW_FULL_SCALE / ACCEL_FULL_SCALE_G
        g_scale = RAW_FULL_SCALE / GYRO_FULL_SCALE_DPS
        if _AX <= register < _AX + 3:
            return _int16(vec3(rec.accel_g[index])[register - _AX] * a_scale)
        if _GX <= register < _GX + 3:
            return _int16(vec3(rec.gyro_dps[index])[register - _GX] * g_scale)
        if _HX <= register < _HX + 3:
            return _int16(vec3(rec.mag_ut[index])[register - _HX] * MAG_COUNTS_PER_UT)
        if _ROLL <= register < _ROLL + 3:
            angle = quat_to_euler_zyx(self.quat_at(index))[register - _ROLL]
            return _int16(angle * RAW_FULL_SCALE / ANGLE_FULL_SCALE_DEG)
        if register == Register.TEMP:
            return _int16(self.temperature_c * TEMPERATURE_LSB_PER_C)
        if Register.Q0 <= register <= Register.Q3:
            return _int16(self.quat_at(index)[register - Register.Q0] * QUATERNION_FULL_SCALE)
        if register == Register.BATTERY:
            return _int16(self.battery_voltage_v * BATTERY_LSB_PER_V)
        if register in (Register.VERSION, Register.VERSION + 1):
            return FIRMWARE_VERSION[register - Register.VERSION]
        return _int16(self.registers.get(register, 0))

    def register_reply(self, start: int, index: int) -> bytes:
        """The ``55 71`` reply to a read of ``start``: the 8 registers from there."""
        values = [self.register_value(start + k, index) for k in range(REGISTERS_PER_REPLY)]
        return encode_register_frame(start, values)

    # -- stream ------------------------------------------------------------------------------------------------

    def stream_uuids(self) -> Sequence[str]:
        """The notify characteristic carries everything."""
        return (NOTIFY_CHAR_UUID,)

    def streaming_wanted(self) -> bool:
        """Subscribed and the output rate is not "none"/"once"."""
        return self.output_enabled and self.is_subscribed(NOTIFY_CHAR_UUID)

    def on_stream_started(self) -> None:
        """A new subscription starts with no half-sent frame."""
        self._pending = None

    def imu_frame(self, index: int) -> bytes:
        """The ``55 61`` frame for recording row ``index``."""
        rec = self.recording
        return encode_imu_frame(
            vec3(rec.accel_g[index]), vec3(rec.gyro_dps[index]), quat_to_euler_zyx(self.quat_at(index))
        )

    def sample_frames(self, index: int, t_s: float) -> list[tuple[str, bytes]]:
        """One 0x61 frame per sample."""
        return [(NOTIFY_CHAR_UUID, self.imu_frame(index))]

    async def send_frames(self, frames: list[tuple[str, bytes]]) -> None:
        """Re-frame into notifications as :attr:`framing` says."""
        for _uuid, frame in frames:
            await self._send(frame, hold=True)

    async def _send(self, frame: bytes, *, hold: bool) -> None:
        chunks: list[bytes]
        if self.framing == "split":
            chunks = [frame[: self.split_at], frame[self.split_at :]]
        elif self.framing == "concatenated" and self.att_mtu - 3 >= 2 * FRAME_LENGTH:
            if self._pending is None and hold:
                self._pending = frame
                return
            chunks = [(self._pending or b"") + frame]
            self._pending = None
        else:
            chunks = [frame]
        for chunk in chunks:
            if await self.notify(NOTIFY_CHAR_UUID, chunk):
                self.notifications_sent += 1

    # -- commands ------------------------------------------------------------------------------------------------

    def on_write(self, char_uuid: str, data: bytes) -> None:
        """Commands on FFE9 (one or several 5-byte commands per write); never an ATT error."""
        if char_uuid != normalize_uuid_str(WRITE_CHAR_UUID):
            super().on_write(char_uuid, data)
            return
        if len(data) % 5 or not data:
            self.now_log(f"ignored {data.hex(' ')}: not whole 5-byte commands")
            return
        for offset in range(0, len(data), 5):
            self._command(data[offset : offset + 5])

    def _command(self, raw: bytes) -> None:
        try:
            command = decode_command(raw)
        except DecodeError as error:
            self.now_log(f"ignored {raw.hex(' ')}: {error.reason}")
            return
        register, value = command.register, command.value
        now = self.now_s()
        if register == Register.READADDR:
            self._reply(value & 0xFF)
            return
        if register == Register.KEY:
            if value == UNLOCK_VALUE:
                self._unlocked_until_s = now + UNLOCK_WINDOW_S
                self.now_log("unlock")
            else:
                self.now_log(f"ignored key 0x{value:04X}")
            return
        if self.require_unlock and now > self._unlocked_until_s:
            self.now_log(f"ignored {raw.hex(' ')}: locked")
            return
        if register == Register.SAVE:
            if value == 0:
                self.saved_registers = dict(self.registers)
                self.now_log("save")
            elif value == 1:
                self.registers = dict(_STORED_DEFAULTS)
                self._apply_rrate(DEFAULT_RRATE)
                self.now_log("restore defaults")
            else:
                self.now_log(f"save register value {value}")
            return
        if register == Register.CALSW:
            if value == CALSW_ZERO_REFERENCE:
                w, x, y, z = (float(v) for v in self.recording.quat_wxyz[self.current_index()])
                self.reference_quat = canonical((w, x, y, z))
                self.now_log("zero reference angle")
            else:
                self.now_log(f"calibration mode {value}")
            return
        self.registers[register] = value
        if register == Register.RRATE:
            self._apply_rrate(value)
            return
        self.now_log(f"register 0x{register:02X} = 0x{value:04X}")

    def _apply_rrate(self, code: int) -> None:
        if code in RRATE_HZ:
            self.output_enabled = True
            self.set_rate_hz(RRATE_HZ[code])
            self.now_log(f"output rate {RRATE_HZ[code]:g} Hz")
        elif code == RRATE_NONE:
            self.output_enabled = False
            self.now_log("output off")
        elif code == RRATE_ONCE:
            self.output_enabled = False
            self.now_log("output once")
            if self.is_subscribed(NOTIFY_CHAR_UUID) and not self.dead:
                self.spawn(self._send(self.imu_frame(self.current_index()), hold=False))
        else:
            self.now_log(f"ignored output rate code 0x{code:02X}")
        self.update_streaming()

    def _reply(self, start: int) -> None:
        if not self.is_subscribed(NOTIFY_CHAR_UUID) or self.dead:
            self.now_log(f"read 0x{start:02X}: nobody listens")
            return
        index = self.current_index()
        reply = self.register_reply(start, index)
        self.sent.append(SentFrame(self.now_s(), index, NOTIFY_CHAR_UUID, reply))
        self.now_log(f"read 0x{start:02X}")
        self.spawn(self._send(reply, hold=False))
