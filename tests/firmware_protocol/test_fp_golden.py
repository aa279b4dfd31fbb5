"""Golden vectors (``firmware_protocol/vectors/golden_v1.json``) and wire constants of the PostureBuddy Tag profile.

The vectors were packed from raw integers with ``struct``, independently of the codec; each carries a comment
with its arithmetic. Every vector must decode to its fields and re-encode to its bytes (or to its
``canonical_hex`` where the decoder ignores bits or bytes). Wire constants are re-declared here as literals, so
an accidental change to the codec shows up as a failing test rather than as tags that stop working.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import firmware_protocol as fp

GOLDEN_PATH = Path(__file__).resolve().parents[2] / "firmware_protocol" / "vectors" / "golden_v1.json"
GOLDEN: dict[str, Any] = json.loads(GOLDEN_PATH.read_text(encoding="utf-8"))


def vectors(section: str) -> list[dict[str, Any]]:
    return list(GOLDEN[section])


def ids(section: str) -> list[str]:
    return [str(v["name"]) for v in GOLDEN[section]]


def status_from_names(names: list[str]) -> fp.StatusFlags:
    flags = fp.StatusFlags(0)
    for name in names:
        flags |= fp.StatusFlags[name]
    return flags


def command_from_json(spec: dict[str, Any]) -> fp.Command:
    kind = spec["type"]
    args = {k: v for k, v in spec.items() if k != "type"}
    if kind == "SetRate":
        return fp.SetRate(**args)
    if kind == "Cue":
        return fp.Cue(fp.CuePattern[args["pattern"]])
    if kind == "Buzz":
        return fp.Buzz(**args)
    if kind == "Led":
        return fp.Led(**args)
    if kind == "Identify":
        return fp.Identify(**args)
    if kind == "StopOutputs":
        return fp.StopOutputs()
    if kind == "ResetOrientation":
        return fp.ResetOrientation()
    raise AssertionError(f"unknown command type in golden file: {kind}")


# --- wire constants -------------------------------------------------------------------------------------------


def test_uuids_are_the_published_ones() -> None:
    assert fp.UUID_BASE == "f1790000-e26d-4d35-bbd1-7e1762f003b2"
    assert fp.SERVICE_UUID == "f1790001-e26d-4d35-bbd1-7e1762f003b2"
    assert fp.MOTION_CHAR_UUID == "f1790002-e26d-4d35-bbd1-7e1762f003b2"
    assert fp.CONTROL_CHAR_UUID == "f1790003-e26d-4d35-bbd1-7e1762f003b2"
    assert fp.DEVICE_INFO_CHAR_UUID == "f1790004-e26d-4d35-bbd1-7e1762f003b2"
    assert fp.BATTERY_SERVICE_UUID == "0000180f-0000-1000-8000-00805f9b34fb"
    assert fp.BATTERY_LEVEL_CHAR_UUID == "00002a19-0000-1000-8000-00805f9b34fb"
    assert fp.pb_uuid(0xABCD) == "f179abcd-e26d-4d35-bbd1-7e1762f003b2"


def test_sizes_scales_and_versions() -> None:
    assert fp.MOTION_FRAME_SIZE == 20
    assert fp.QUAT_ONE == 16384
    assert fp.ACCEL_COUNTS_PER_G == 4096
    assert fp.ACCEL_MIN_G == -8.0
    assert fp.ACCEL_MAX_G == 32767 / 4096
    assert fp.SEQ_MODULUS == 65536
    assert fp.DEVICE_TIME_MODULUS_MS == 65536
    assert fp.QUAT_NORM_TOLERANCE == 0.05
    assert fp.RATE_TABLE_HZ == (10, 25, 50, 100)
    assert fp.DEFAULT_RATE_HZ == 50
    assert (fp.PROTOCOL_MAJOR, fp.PROTOCOL_MINOR) == (1, 0)
    assert fp.LOCAL_NAME_PREFIX == "PB-Tag"
    assert GOLDEN["profile_version"] == "1.0"


def test_flag_opcode_and_error_values() -> None:
    assert {f.name: f.value for f in fp.StatusFlags} == {
        "CHARGING": 0x01,
        "LOW_BATTERY": 0x02,
        "WEAR_DETECT": 0x04,
        "WORN": 0x08,
        "CALIBRATING": 0x10,
        "STREAM_START": 0x20,
    }
    assert fp.STATUS_KNOWN_MASK == 0x3F
    assert {f.name: f.value for f in fp.Feature} == {
        "HAPTIC": 0x0001,
        "LED": 0x0002,
        "GYRO": 0x0004,
        "MAGNETOMETER": 0x0008,
        "WEAR_DETECT": 0x0010,
        "CHARGE_DETECT": 0x0020,
        "BATTERY_SERVICE": 0x0040,
    }
    assert fp.FEATURE_KNOWN_MASK == 0x007F
    assert {o.name: o.value for o in fp.Opcode} == {
        "SET_RATE": 0x01,
        "CUE": 0x02,
        "BUZZ": 0x03,
        "LED": 0x04,
        "IDENTIFY": 0x05,
        "STOP_OUTPUTS": 0x06,
        "RESET_ORIENTATION": 0x07,
    }
    assert {p.name: p.value for p in fp.CuePattern} == {"GENTLE": 1, "ATTENTION": 2, "CONFIRM": 3}
    assert (fp.ATT_ERROR_INVALID_LENGTH, fp.ATT_ERROR_UNKNOWN_OPCODE) == (0x0D, 0x80)
    assert (fp.ATT_ERROR_FEATURE_ABSENT, fp.ATT_ERROR_OUT_OF_RANGE) == (0x81, 0xFF)


def test_golden_file_covers_every_opcode_and_status_flag() -> None:
    opcodes = {bytes.fromhex(v["hex"])[0] for v in vectors("commands")}
    assert opcodes == {int(o) for o in fp.Opcode}
    flags_seen = fp.StatusFlags(0)
    for v in vectors("motion"):
        flags_seen |= status_from_names(v["fields"]["status"])
    assert flags_seen == fp.StatusFlags(fp.STATUS_KNOWN_MASK)


# --- motion -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", vectors("motion"), ids=ids("motion"))
def test_motion_vector_decodes_to_its_fields(vector: dict[str, Any]) -> None:
    fields = vector["fields"]
    quat = fields["quat_wxyz"]
    expected = fp.MotionFrame(
        seq=fields["seq"],
        device_time_ms=fields["device_time_ms"],
        quat_wxyz=None if quat is None else tuple(quat),
        accel_g=tuple(fields["accel_g"]),
        status=status_from_names(fields["status"]),
    )
    assert fp.decode_motion(bytes.fromhex(vector["hex"])) == expected


@pytest.mark.parametrize("vector", vectors("motion"), ids=ids("motion"))
def test_motion_vector_reencodes_to_its_bytes(vector: dict[str, Any]) -> None:
    frame = fp.decode_motion(bytes.fromhex(vector["hex"]))
    assert fp.encode_motion(frame).hex() == vector.get("canonical_hex", vector["hex"])


@pytest.mark.parametrize("vector", vectors("motion_encode"), ids=ids("motion_encode"))
def test_motion_encode_vector(vector: dict[str, Any]) -> None:
    given = vector["input"]
    quat = given["quat_wxyz"]
    frame = fp.MotionFrame(
        seq=given["seq"],
        device_time_ms=given["device_time_ms"],
        quat_wxyz=None if quat is None else tuple(quat),
        accel_g=tuple(given["accel_g"]),
        status=status_from_names(given["status"]),
    )
    assert fp.encode_motion(frame).hex() == vector["hex"]


@pytest.mark.parametrize("vector", vectors("motion_errors"), ids=ids("motion_errors"))
def test_motion_error_vector(vector: dict[str, Any]) -> None:
    with pytest.raises(fp.ProtocolError) as info:
        fp.decode_motion(bytes.fromhex(vector["hex"]))
    assert info.value.offset == vector["offset"]
    assert info.value.att_error is None


def test_wrap_vectors_are_consecutive() -> None:
    by_name = {v["name"]: fp.decode_motion(bytes.fromhex(v["hex"])) for v in vectors("motion")}
    before, after = by_name["seq_time_before_wrap"], by_name["seq_time_after_wrap"]
    assert fp.seq_delta(before.seq, after.seq) == 1
    assert fp.unwrap_device_time_ms(before.device_time_ms, after.device_time_ms, 0.02) == 65555


# --- commands -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", vectors("commands"), ids=ids("commands"))
def test_command_vector_decodes(vector: dict[str, Any]) -> None:
    assert fp.decode_command(bytes.fromhex(vector["hex"])) == command_from_json(vector["command"])


@pytest.mark.parametrize("vector", vectors("commands"), ids=ids("commands"))
def test_command_vector_encodes(vector: dict[str, Any]) -> None:
    encoded = fp.encode_command(command_from_json(vector["command"]))
    assert encoded.hex() == vector.get("canonical_hex", vector["hex"])


@pytest.mark.parametrize("vector", vectors("command_errors"), ids=ids("command_errors"))
def test_command_error_vector(vector: dict[str, Any]) -> None:
    with pytest.raises(fp.ProtocolError) as info:
        fp.decode_command(bytes.fromhex(vector["hex"]))
    assert (info.value.offset, info.value.att_error) == (vector["offset"], vector["att_error"])


# --- device info and battery ------------------------------------------------------------------------------


@pytest.mark.parametrize("vector", vectors("device_info"), ids=ids("device_info"))
def test_device_info_vector(vector: dict[str, Any]) -> None:
    fields = vector["fields"]
    features = fp.Feature(0)
    for name in fields["features"]:
        features |= fp.Feature[name]
    expected = fp.DeviceInfo(
        protocol_major=fields["protocol_major"],
        protocol_minor=fields["protocol_minor"],
        features=features,
        supported_rates_hz=tuple(fields["supported_rates_hz"]),
        current_rate_hz=fields["current_rate_hz"],
    )
    decoded = fp.decode_device_info(bytes.fromhex(vector["hex"]))
    assert decoded == expected
    assert fp.encode_device_info(decoded).hex() == vector.get("canonical_hex", vector["hex"])


@pytest.mark.parametrize("vector", vectors("device_info_errors"), ids=ids("device_info_errors"))
def test_device_info_error_vector(vector: dict[str, Any]) -> None:
    with pytest.raises(fp.ProtocolError) as info:
        fp.decode_device_info(bytes.fromhex(vector["hex"]))
    assert info.value.offset == vector["offset"]
    assert isinstance(info.value, fp.UnsupportedVersionError) == vector["unsupported_major"]


@pytest.mark.parametrize("vector", vectors("battery"), ids=ids("battery"))
def test_battery_vector(vector: dict[str, Any]) -> None:
    assert fp.decode_battery(bytes.fromhex(vector["hex"])) == vector["percent"]
    assert fp.encode_battery(vector["percent"]).hex() == vector["hex"]


@pytest.mark.parametrize("vector", vectors("battery_errors"), ids=ids("battery_errors"))
def test_battery_error_vector(vector: dict[str, Any]) -> None:
    with pytest.raises(fp.ProtocolError) as info:
        fp.decode_battery(bytes.fromhex(vector["hex"]))
    assert info.value.offset == vector["offset"]
