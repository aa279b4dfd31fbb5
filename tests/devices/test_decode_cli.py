"""``posturebuddy decode``: every ble_tags.md vector through the real CLI, plus PostureBuddy golden vectors.

Each vector runs ``main(["decode", "--device", ..., "--char", ..., HEX, "--json"])`` and the JSON is checked
against the numbers written in ``shared/research/ble_tags.md`` (§1.6, §2.5, §3.5, §4.3, §7), re-declared here as
literals (hand-computed in the document, not taken from the code). The PostureBuddy vectors come from
``firmware_protocol/vectors/golden_v1.json`` (bytes packed independently of the codec).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posturebuddy.cli import build_parser, main
from posturebuddy.devices import DecodeError, all_families

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "firmware_protocol" / "vectors" / "golden_v1.json"

THINGY_RAW_UUID = "ef680406-9b35-4933-9b10-52ffa9740042"
THINGY_QUATERNION_UUID = "ef680404-9b35-4933-9b10-52ffa9740042"
WIT_NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"  # ...9a34fb, not the SIG base (ble_tags.md §2.1)
STANDARD_GRAVITY = 9.80665


def decode_json(capsys: pytest.CaptureFixture[str], device: str, char: str | None, *hex_args: str) -> dict[str, Any]:
    """Run the CLI with --json; assert success and return the whole JSON report."""
    argv = ["decode", "--device", device, *(["--char", char] if char else []), *hex_args, "--json"]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert err == ""
    report = json.loads(out)
    assert isinstance(report, dict)
    assert set(report) == {"family", "characteristic", "uuid", "hex", "decoded"}
    assert report["family"] == device
    return report


def decoded(capsys: pytest.CaptureFixture[str], device: str, char: str | None, *hex_args: str) -> dict[str, Any]:
    result = decode_json(capsys, device, char, *hex_args)["decoded"]
    assert isinstance(result, dict)
    return result


def run_fail(capsys: pytest.CaptureFixture[str], argv: list[str]) -> tuple[int, str]:
    """Run the CLI expecting failure: nothing on stdout, exactly one line on stderr."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return code, lines[0]


# --- Thingy:52, ble_tags.md §1.6 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "hex_", "quat"),
    [
        ("T1", "00 00 00 40 00 00 00 00 00 00 00 00 00 00 00 00", (1.0, 0.0, 0.0, 0.0)),
        ("T2", "8F BA D1 3D C2 7D 90 10 00 00 00 00 00 00 00 00", (0.965925827, 0.258819045, 0.0, 0.0)),
        ("T3", "19 17 07 3F 00 00 00 00 C1 F2 E2 F4 00 00 00 00", (0.984807753, 0.0, -0.173648178, 0.0)),
    ],
)
def test_thingy_quaternion(capsys: pytest.CaptureFixture[str], name: str, hex_: str, quat: tuple[float, ...]) -> None:
    d = decoded(capsys, "thingy52", "quaternion", hex_)
    assert d["kind"] == "quaternion"
    assert d["quat_wxyz"] == pytest.approx(quat, abs=1e-8)  # normalised; these are unit to ~1e-9


def test_thingy_quaternion_is_the_default_characteristic(capsys: pytest.CaptureFixture[str]) -> None:
    report = decode_json(capsys, "thingy52", None, "00 00 00 40 00 00 00 00 00 00 00 00 00 00 00 00")
    assert report["characteristic"] == "quaternion"
    assert report["uuid"] == THINGY_QUATERNION_UUID
    assert report["hex"] == "00 00 00 40" + " 00" * 12


def test_thingy_raw_t4_flat(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "thingy52", "raw", "00 00 00 00 00 04 40 01 00 00 B0 FF 90 01 38 FF 80 02")
    assert d["kind"] == "raw_motion"
    assert d["accel_g"] == pytest.approx([0.0, 0.0, 1.0])  # 1024/1024, not the JS lib's 16 g
    assert d["gyro_dps"] == pytest.approx([10.0, 0.0, -2.5])
    assert d["mag_ut"] == pytest.approx([25.0, -12.5, 40.0])


def test_thingy_raw_t5_tilted(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "thingy52", "raw", "00 FE 00 01 77 03 00 00 C0 F4 01 00 00 00 00 00 00 00")
    assert d["accel_g"] == pytest.approx([-0.5, 0.25, 0.8662109375])
    assert d["gyro_dps"] == pytest.approx([0.0, -90.0, 0.03125])
    assert d["mag_ut"] == pytest.approx([0.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("hex_", "angles"),
    [
        ("00 80 0A 00 00 00 E2 FF 00 00 5A 00", (10.5, -30.0, 90.0)),  # T6
        ("00 00 00 00 00 C0 D2 FF 00 80 4C FF", (0.0, -45.25, -179.5)),  # T7
    ],
)
def test_thingy_euler(capsys: pytest.CaptureFixture[str], hex_: str, angles: tuple[float, float, float]) -> None:
    d = decoded(capsys, "thingy52", "euler", hex_)
    assert d["kind"] == "euler"
    assert (d["roll_deg"], d["pitch_deg"], d["yaw_deg"]) == pytest.approx(angles)


@pytest.mark.parametrize(
    ("hex_", "mps2"),
    [
        ("00 00 00 00 00 00 00 00 0A E8 1C 41", (0.0, 0.0, 9.80665)),  # T8
        ("00 00 00 00 0A E8 9C C0 82 E2 07 41", (0.0, -4.903325, 8.4928)),  # T9
    ],
)
def test_thingy_gravity(capsys: pytest.CaptureFixture[str], hex_: str, mps2: tuple[float, float, float]) -> None:
    d = decoded(capsys, "thingy52", "gravity", hex_)
    assert d["kind"] == "gravity"
    assert d["gravity_mps2"] == pytest.approx(mps2, rel=1e-6)  # float32 precision
    assert d["gravity_g"] == pytest.approx([v / STANDARD_GRAVITY for v in mps2], rel=1e-6)


def test_thingy_heading_t10(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "thingy52", "heading", "00 00 0E 01")
    assert d == {"kind": "heading", "heading_deg": pytest.approx(270.0)}


@pytest.mark.parametrize(
    ("hex_", "freq_hz", "wom", "default"),
    [("E8 03 F4 01 F4 01 0A 00 01", 10, True, True), ("E8 03 F4 01 F4 01 14 00 00", 20, False, False)],  # T11, T12
)
def test_thingy_motion_config_writes(
    capsys: pytest.CaptureFixture[str], hex_: str, freq_hz: int, wom: bool, default: bool
) -> None:
    d = decoded(capsys, "thingy52", "config", hex_)
    assert d == {
        "kind": "motion_config",
        "pedo_interval_ms": 1000,
        "temp_interval_ms": 500,
        "compass_interval_ms": 500,
        "motion_freq_hz": freq_hz,
        "wake_on_motion": wom,
        "factory_default": default,
    }


@pytest.mark.parametrize(
    ("hex_", "expected"),
    [  # T13
        ("01 FF 00 00", {"mode": "constant", "red": 255, "green": 0, "blue": 0}),
        (
            "02 06 14 AC 0D",
            {"mode": "breathe", "colour": "cyan", "colour_code": 6, "intensity_percent": 20, "delay_ms": 3500},
        ),
        ("03 01 64", {"mode": "one_shot", "colour": "red", "colour_code": 1, "intensity_percent": 100}),
        ("00", {"mode": "off"}),
    ],
)
def test_thingy_led_writes(capsys: pytest.CaptureFixture[str], hex_: str, expected: dict[str, object]) -> None:
    assert decoded(capsys, "thingy52", "led", hex_) == {"kind": "led", **expected}


def test_thingy_beep_t14(capsys: pytest.CaptureFixture[str]) -> None:
    config = decoded(capsys, "thingy52", "sound_config", "01 01")
    assert config == {"kind": "sound_config", "speaker_mode": "frequency", "mic_mode": "adpcm"}
    tone = decoded(capsys, "thingy52", "speaker", "E8 03 C8 00 32")
    assert tone == {"kind": "tone", "freq_hz": 1000, "duration_ms": 200, "volume_percent": 50, "stops_speaker": False}


def test_thingy_other_characteristics(capsys: pytest.CaptureFixture[str]) -> None:
    # §1.2 codes: tap direction 5 = Z_UP; orientation 1 = landscape; step counter uint32 steps, uint32 ms.
    assert decoded(capsys, "thingy52", "tap", "05 02") == {
        "kind": "tap",
        "direction": "z_up",
        "direction_code": 5,
        "count": 2,
    }
    assert decoded(capsys, "thingy52", "orientation", "01")["orientation"] == "landscape"
    steps = decoded(capsys, "thingy52", "steps", "0A 00 00 00 E8 03 00 00")
    assert (steps["steps"], steps["time_ms"]) == (10, 1000)
    assert decoded(capsys, "thingy52", "speaker", "04") == {"kind": "speaker_sample", "sample_id": 4}
    assert decoded(capsys, "thingy52", "speaker_status", "10")["status"] == "packet_disregarded"  # 0x10 (§1.5)
    matrix = decoded(capsys, "thingy52", "rotation", "00 40 00 00 00 00 00 00 00 40 00 00 00 00 00 00 00 40")
    assert matrix["rotation_matrix"] == pytest.approx([1, 0, 0, 0, 1, 0, 0, 0, 1])  # 0x4000 / 2^14 = 1


@pytest.mark.parametrize("device", ["thingy52", "posturebuddy"])
def test_battery_5a_is_90_percent(capsys: pytest.CaptureFixture[str], device: str) -> None:
    assert decoded(capsys, device, "battery", "5A") == {"kind": "battery_level", "battery_percent": 90}  # §7


# --- WitMotion, ble_tags.md §2.5 ---------------------------------------------------------------------------------
def test_witmotion_w1(capsys: pytest.CaptureFixture[str]) -> None:
    report = decode_json(capsys, "witmotion", None, "55 61 00 00 00 00 00 08 00 00 00 00 00 00 00 00 00 00 00 40")
    assert report["characteristic"] == "notify"
    assert report["uuid"] == WIT_NOTIFY_UUID
    d = report["decoded"]
    assert d["kind"] == "imu_frame"
    assert d["accel_g"] == pytest.approx([0.0, 0.0, 1.0])
    assert d["gyro_dps"] == pytest.approx([0.0, 0.0, 0.0])
    assert (d["roll_deg"], d["pitch_deg"], d["yaw_deg"]) == pytest.approx((0.0, 0.0, 90.0))
    half = 0.5**0.5  # 90 deg about z: (cos 45, 0, 0, sin 45)
    assert d["quat_wxyz"] == pytest.approx([half, 0.0, 0.0, half])


def test_witmotion_w2(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "witmotion", "notify", "55 61 00 FC 00 00 EE 06 F6 00 00 00 CF FF E4 08 AB EA 00 A0")
    # ble_tags.md rounds to 4-5 decimals
    assert d["accel_g"] == pytest.approx([-0.5, 0.0, 0.86621], abs=1e-5)
    assert d["gyro_dps"] == pytest.approx([15.0146, 0.0, -2.9907], abs=1e-4)
    assert (d["roll_deg"], d["pitch_deg"], d["yaw_deg"]) == pytest.approx((12.5024, -29.9982, -135.0), abs=1e-4)


# The register replies' quaternion is reported normalised (as the decoder uses it); ble_tags.md gives raw/32768,
# whose norm is 0.99999, so the two differ by < 2e-5. The raw registers are checked exactly.
QUAT_TOLERANCE = 5e-5


def test_witmotion_w3_quaternion_reply(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "witmotion", "notify", "55 71 51 00 A3 7B 21 21 00 00 00 00 00 00 00 00 00 00 00 00")
    assert d["kind"] == "register_reply"
    assert (d["start_register"], d["start_register_name"]) == ("0x51", "Q0")
    assert d["registers_raw"] == [31651, 8481, 0, 0, 0, 0, 0, 0]
    assert d["quat_wxyz"] == pytest.approx([0.965912, 0.258820, 0.0, 0.0], abs=QUAT_TOLERANCE)


def test_witmotion_w4_quaternion_reply(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "witmotion", "notify", "55 71 51 00 82 5A 00 00 7E A5 00 00" + " 00" * 8)
    assert d["registers_raw"][:4] == [23170, 0, -23170, 0]
    assert d["quat_wxyz"] == pytest.approx([0.707092, 0.0, -0.707092, 0.0], abs=QUAT_TOLERANCE)


def test_witmotion_w5_magnetometer_reply(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "witmotion", "notify", "55 71 3A 00 68 01 69 00 7A 00 00 00 00 00 00 00 00 00 00 00")
    assert (d["start_register"], d["start_register_name"]) == ("0x3a", "HX")
    assert d["mag_raw"] == pytest.approx([360, 105, 122])
    assert "quat_wxyz" not in d


def test_witmotion_w6_temperature_reply(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "witmotion", "notify", "55 71 40 00 E6 09" + " 00" * 14)
    assert d["temperature_c"] == pytest.approx(25.34)
    assert "voltage_v" not in d


def test_witmotion_w7_battery_reply(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "witmotion", "notify", "55 71 64 00 86 01" + " 00" * 14)
    assert d["voltage_v"] == pytest.approx(3.90)
    assert d["battery_percent"] == 75


@pytest.mark.parametrize(
    ("hex_", "expected"),
    [  # §2.5 commands, then the §2.4 settings table
        (
            "FF AA 27 51 00",
            {"command": "read_register", "register": "0x27", "read_register": "0x51", "reading": "quaternion"},
        ),
        ("FF AA 27 3A 00", {"command": "read_register", "read_register": "0x3a", "reading": "magnetometer"}),
        ("FF AA 27 40 00", {"command": "read_register", "read_register": "0x40", "reading": "temperature"}),
        ("FF AA 27 64 00", {"command": "read_register", "read_register": "0x64", "reading": "battery"}),
        ("FF AA 69 88 B5", {"command": "unlock", "register": "0x69", "value_hex": "0xb588"}),
        ("FF AA 03 08 00", {"command": "set_output_rate", "register": "0x03", "value": 8, "rate_hz": 50.0}),
        ("FF AA 03 06 00", {"command": "set_output_rate", "rate_hz": 10.0}),
        ("FF AA 00 00 00", {"command": "save", "register": "0x00"}),
        ("FF AA 00 01 00", {"command": "restore_defaults"}),
        ("FF AA 01 01 00", {"command": "accel_calibration"}),
        ("FF AA 01 08 00", {"command": "zero_reference_angle"}),
        ("FF AA 01 07 00", {"command": "mag_calibration_start"}),
        ("FF AA 01 00 00", {"command": "mag_calibration_stop"}),
        ("FF AA 1F 04 00", {"command": "set_bandwidth", "bandwidth_hz": 42}),
    ],
)
def test_witmotion_commands(capsys: pytest.CaptureFixture[str], hex_: str, expected: dict[str, object]) -> None:
    d = decoded(capsys, "witmotion", "write", hex_)
    assert d["kind"] == "command"
    assert {key: d.get(key) for key in expected} == expected


def test_witmotion_register_names_in_commands(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "witmotion", "write", "FF AA 27 51 00")
    assert (d["register_name"], d["read_register_name"]) == ("READADDR", "Q0")
    assert decoded(capsys, "witmotion", "write", "FF AA 69 88 B5")["register_name"] == "KEY"
    assert decoded(capsys, "witmotion", "write", "FF AA 03 08 00")["register_name"] == "RRATE"


def test_witmotion_concatenated_frames(capsys: pytest.CaptureFixture[str]) -> None:
    w1 = "55 61 00 00 00 00 00 08 00 00 00 00 00 00 00 00 00 00 00 40"
    w7 = "55 71 64 00 86 01" + " 00" * 14
    d = decoded(capsys, "witmotion", "notify", "00 01", w1, w7, "55 61 00")  # junk, two frames, a partial frame
    assert d["kind"] == "frames"
    assert d["frame_count"] == 2
    first, second = d["frames"]
    assert first["kind"] == "imu_frame"
    assert first["yaw_deg"] == pytest.approx(90.0)
    assert second["kind"] == "register_reply"
    assert second["voltage_v"] == pytest.approx(3.90)
    assert (d["skipped_bytes"], d["incomplete_bytes"]) == (2, 3)


# --- SensorTag, ble_tags.md §3.5 ---------------------------------------------------------------------------------
S1 = "00 00 00 00 00 00 00 00 00 00 00 40 64 00 CE FF 2C 01"
S2 = "5C 0F 7D FF 00 00 00 F8 00 00 DB 0D 00 00 00 00 00 00"


def test_sensortag_s1_at_2g(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "sensortag", "data", "--accel-range", "2", S1)
    assert d["kind"] == "movement"
    assert d["gyro_dps"] == pytest.approx([0.0, 0.0, 0.0])
    assert d["accel_g"] == pytest.approx([0.0, 0.0, 1.0])
    assert d["mag_raw"] == pytest.approx([100, -50, 300])
    assert d["accel_range_g"] == 2


def test_sensortag_s2_at_8g(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "sensortag", "data", "--accel-range", "8", S2)
    assert d["gyro_dps"] == pytest.approx([29.9988, -0.99945, 0.0], abs=1e-4)
    assert d["accel_g"] == pytest.approx([-0.5, 0.0, 0.86597], abs=1e-5)
    assert d["accel_range_g"] == 8


def test_sensortag_default_range_is_8g_and_wrong_range_is_visible(capsys: pytest.CaptureFixture[str]) -> None:
    assert decoded(capsys, "sensortag", None, S2)["accel_g"] == pytest.approx([-0.5, 0.0, 0.86597], abs=1e-5)
    wrong = decoded(capsys, "sensortag", "data", "--accel-range", "2", S2)  # the doc's negative test
    assert wrong["accel_g"] == pytest.approx([-0.125, 0.0, 0.2165], abs=1e-4)


@pytest.mark.parametrize(
    ("hex_", "gyro", "accel", "mag", "wom", "range_g"),
    [
        ("7F 00", True, True, True, False, 2),
        # ble_tags.md labels 38 02 "gyro + acc", but 0x38 is the accel mask alone (§3.3 bit table: gyro is 0x07)
        ("38 02", False, True, False, False, 8),
        ("FF 02", True, True, True, True, 8),
        ("38 01", False, True, False, False, 4),
        ("00 00", False, False, False, False, 2),
    ],
)
def test_sensortag_config_writes(
    capsys: pytest.CaptureFixture[str], hex_: str, gyro: bool, accel: bool, mag: bool, wom: bool, range_g: int
) -> None:
    assert decoded(capsys, "sensortag", "config", hex_) == {
        "kind": "movement_config",
        "gyro_enabled": gyro,
        "accel_enabled": accel,
        "mag_enabled": mag,
        "wake_on_motion": wom,
        "accel_range_g": range_g,
    }


@pytest.mark.parametrize(("hex_", "period_ms"), [("0A", 100), ("19", 250), ("64", 1000), ("FF", 2550)])
def test_sensortag_period_writes(capsys: pytest.CaptureFixture[str], hex_: str, period_ms: int) -> None:
    d = decoded(capsys, "sensortag", "period", hex_)
    assert d == {"kind": "period", "period_ms": period_ms, "rate_hz": pytest.approx(1000 / period_ms)}


# --- micro:bit, ble_tags.md §4.3 ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("hex_", "accel"),
    [("F0 FF 20 00 10 FC", (-0.016, 0.032, -1.008)), ("00 02 00 FF 70 03", (0.512, -0.256, 0.880))],  # M1, M2
)
def test_microbit_data(capsys: pytest.CaptureFixture[str], hex_: str, accel: tuple[float, float, float]) -> None:
    d = decoded(capsys, "microbit", "data", hex_)
    assert d["kind"] == "accelerometer"
    assert d["accel_g"] == pytest.approx(accel)


@pytest.mark.parametrize(("hex_", "period_ms"), [("14 00", 20), ("50 00", 80), ("A0 00", 160), ("80 02", 640)])
def test_microbit_period_writes(capsys: pytest.CaptureFixture[str], hex_: str, period_ms: int) -> None:
    d = decoded(capsys, "microbit", "period", hex_)
    assert d == {
        "kind": "period",
        "period_ms": period_ms,
        "rate_hz": pytest.approx(1000 / period_ms),
        "valid_period": True,
    }


def test_microbit_unsupported_period_shows_the_snap(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "microbit", "period", "64 00")  # 100 ms is not in 1, 2, 5, 10, 20, 80, 160, 640
    assert (d["valid_period"], d["nearest_valid_period_ms"]) == (False, 80)


def test_microbit_period_zero_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = run_fail(capsys, ["decode", "--device", "microbit", "--char", "period", "00 00"])
    assert code == 1
    assert "crashes" in line


# --- PostureBuddy Tag: golden vectors (re-declared) --------------------------------------------------------------
def test_pbtag_motion_worn_upright(capsys: pytest.CaptureFixture[str]) -> None:
    report = decode_json(capsys, "posturebuddy", None, "3412efbe412d412d000000000000001000000c00")
    assert report["characteristic"] == "motion"
    d = report["decoded"]
    assert (d["kind"], d["seq"], d["device_time_ms"]) == ("motion", 4660, 48879)
    assert d["quat_wxyz"] == pytest.approx([11585 / 16384, 11585 / 16384, 0.0, 0.0])
    assert d["accel_g"] == pytest.approx([0.0, 1.0, 0.0])
    assert d["status"] == ["WEAR_DETECT", "WORN"]
    assert d["accel_saturated"] is False


def test_pbtag_motion_no_orientation_and_saturation(capsys: pytest.CaptureFixture[str]) -> None:
    calibrating = decoded(capsys, "posturebuddy", "motion", "0000000000000000000000000000000000103000")
    assert calibrating["quat_wxyz"] is None
    assert calibrating["status"] == ["CALIBRATING", "STREAM_START"]
    saturated = decoded(capsys, "posturebuddy", "motion", "080008000040000000000000ff7f008000100000")
    assert saturated["accel_g"] == pytest.approx([7.999755859375, -8.0, 1.0])
    assert saturated["accel_saturated"] is True


@pytest.mark.parametrize(
    ("hex_", "expected"),
    [
        ("013200", {"command": "set_rate", "opcode": "0x01", "rate_hz": 50}),
        ("0201", {"command": "cue", "pattern": "gentle"}),
        ("0378000000013c", {"command": "buzz", "on_ms": 120, "off_ms": 0, "count": 1, "strength_percent": 60}),
        (
            "04ff8000c8002c0103",
            {"command": "led", "red": 255, "green": 128, "blue": 0, "on_ms": 200, "off_ms": 300, "count": 3},
        ),
        ("0505", {"command": "identify", "duration_s": 5}),
        ("06", {"command": "stop_outputs"}),
        ("07", {"command": "reset_orientation"}),
    ],
)
def test_pbtag_control_writes(capsys: pytest.CaptureFixture[str], hex_: str, expected: dict[str, object]) -> None:
    d = decoded(capsys, "posturebuddy", "control", hex_)
    assert d["kind"] == "command"
    assert {key: d.get(key) for key in expected} == expected


def test_pbtag_device_info(capsys: pytest.CaptureFixture[str]) -> None:
    d = decoded(capsys, "posturebuddy", "info", "01007f000f3200")
    assert d["protocol_version"] == "1.0"
    assert d["features"] == [
        "HAPTIC",
        "LED",
        "GYRO",
        "MAGNETOMETER",
        "WEAR_DETECT",
        "CHARGE_DETECT",
        "BATTERY_SERVICE",
    ]
    assert (d["supported_rates_hz"], d["current_rate_hz"]) == ([10, 25, 50, 100], 50)


def test_pbtag_bad_control_write_fails_with_the_codec_reason(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = run_fail(capsys, ["decode", "--device", "posturebuddy", "--char", "control", "011e00"])  # 30 Hz
    assert code == 1
    assert "rate_hz 30 is not one of 10, 25, 50, 100" in line


def _golden_motion() -> list[dict[str, Any]]:
    vectors = json.loads(GOLDEN.read_text(encoding="utf-8"))["motion"]
    assert isinstance(vectors, list)
    return vectors


@pytest.mark.parametrize("vector", _golden_motion(), ids=lambda v: str(v["name"]))
def test_pbtag_every_golden_motion_vector(capsys: pytest.CaptureFixture[str], vector: dict[str, Any]) -> None:
    d = decoded(capsys, "posturebuddy", "motion", vector["hex"])
    fields = vector["fields"]
    assert (d["seq"], d["device_time_ms"], d["status"]) == (fields["seq"], fields["device_time_ms"], fields["status"])
    assert d["accel_g"] == pytest.approx(fields["accel_g"])
    if fields["quat_wxyz"] is None:
        assert d["quat_wxyz"] is None
    else:
        assert d["quat_wxyz"] == pytest.approx(fields["quat_wxyz"])


# --- input handling and errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "hex_args",
    [
        ["F0FF2000 10FC"],
        ["F0", "FF", "20", "00", "10", "FC"],
        ["F0:FF:20:00:10:FC"],
        ["0xF0 0xFF 0x20 0x00 0x10 0xFC"],
        ["0xF0FF", "2000:10fc"],
    ],
)
def test_hex_forms(capsys: pytest.CaptureFixture[str], hex_args: list[str]) -> None:
    report = decode_json(capsys, "microbit", "data", *hex_args)
    assert report["hex"] == "f0 ff 20 00 10 fc"


def test_bad_hex_digit_exits_2_naming_the_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = run_fail(capsys, ["decode", "--device", "thingy52", "--char", "raw", "00 FE", "0G"])
    assert code == 2
    assert "'G'" in line
    assert "'0G'" in line


def test_odd_digit_count_and_no_bytes_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = run_fail(capsys, ["decode", "--device", "microbit", "F0F"])
    assert code == 2
    assert "odd number of hex digits in 'F0F'" in line
    code, line = run_fail(capsys, ["decode", "--device", "microbit", "0x"])
    assert code == 2
    assert "no hex digits after 0x in '0x'" in line
    code, line = run_fail(capsys, ["decode", "--device", "microbit", " : "])
    assert code == 2
    assert "no bytes given" in line


def test_unknown_characteristic_exits_2_listing_the_names(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = run_fail(capsys, ["decode", "--device", "thingy52", "--char", "accel", "00"])
    assert code == 2
    assert "'accel'" in line
    for name in ("quaternion", "raw", "euler", "gravity", "config", "led", "sound_config", "speaker", "battery"):
        assert name in line
    code, line = run_fail(
        capsys, ["decode", "--device", "witmotion", "--char", WIT_NOTIFY_UUID.replace("9a", "9b"), "00"]
    )
    assert code == 2
    assert "notify, write" in line


def test_char_accepts_a_uuid(capsys: pytest.CaptureFixture[str]) -> None:
    report = decode_json(capsys, "thingy52", THINGY_RAW_UUID.upper(), "00" * 18)
    assert (report["characteristic"], report["uuid"]) == ("raw", THINGY_RAW_UUID)


def test_wrong_length_exits_1_with_the_decoder_message(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = run_fail(capsys, ["decode", "--device", "thingy52", "--char", "raw", "00 FE 00 01"])
    assert code == 1
    assert "raw motion data must be 18 bytes, got 4" in line
    code, line = run_fail(capsys, ["decode", "--device", "witmotion", "55 61 00 00"])  # no complete frame
    assert code == 1
    assert "no complete 20-byte frame" in line


def test_accel_range_is_for_the_sensortag_only(capsys: pytest.CaptureFixture[str]) -> None:
    code, line = run_fail(capsys, ["decode", "--device", "microbit", "--accel-range", "2", "F0FF200010FC"])
    assert code == 2
    assert "sensortag" in line


def test_table_output_carries_units(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--device", "thingy52", "--char", "raw", "00FE00017703 0000C0F40100 000000000000"]) == 0
    out = capsys.readouterr().out
    assert "Nordic Thingy:52, raw" in out
    for field in ("kind", "raw_motion", "accel_g", "gyro_dps", "mag_ut", "-0.5, 0.25, 0.8662109375"):
        assert field in out
    assert (
        main(["decode", "--device", "witmotion", "55 71 64 00 86 01" + " 00" * 14 + " 55 71 40 00 E6 09" + " 00" * 14])
        == 0
    )
    out = capsys.readouterr().out
    for field in ("frames:", "voltage_v", "3.9", "battery_percent", "temperature_c", "25.34"):
        assert field in out


def test_every_epilog_example_is_a_working_command(capsys: pytest.CaptureFixture[str]) -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    epilog = sub.choices["decode"].epilog  # type: ignore[index]
    examples = [line.strip() for line in epilog.splitlines() if line.strip().startswith("posturebuddy decode")]
    assert len(examples) >= 3
    for example in examples:
        assert main(shlex.split(example)[1:]) == 0, example
        assert capsys.readouterr().err == ""


def test_console_script_decodes_in_a_subprocess() -> None:
    script = Path(sys.executable).parent / "posturebuddy"
    if not script.exists():
        pytest.skip("the posturebuddy console script is not installed next to this Python")
    result = subprocess.run(
        [str(script), "decode", "--device", "microbit", "F0FF2000", "10FC", "--json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["decoded"]["accel_g"] == pytest.approx([-0.016, 0.032, -1.008])


def test_cli_import_does_not_load_the_decode_command() -> None:
    code = "import sys, posturebuddy.cli; print('posturebuddy.commands.decode' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


# --- the hooks themselves ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("family", all_families(), ids=lambda f: f.family_id)
def test_every_used_characteristic_has_a_name(family: Any) -> None:
    names = set(family.characteristics.values())
    used = {*family.notify_uuids, family.battery_uuid, family.info_uuid} - {None}
    assert used <= names
    assert all(name == name.lower() and uuid == uuid.lower() for name, uuid in family.characteristics.items())
    assert family.describe is not None


@pytest.mark.parametrize("family", all_families(), ids=lambda f: f.family_id)
def test_unknown_uuid_is_a_decode_error(family: Any) -> None:
    with pytest.raises(DecodeError):
        family.describe("00000000-0000-0000-0000-000000000000", b"\x00")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_describe_raises_only_decode_error_and_returns_json(data: st.DataObject) -> None:
    family = data.draw(st.sampled_from(all_families()))
    uuid = data.draw(st.sampled_from(sorted(family.characteristics.values())))
    assert family.describe is not None
    payload = data.draw(st.binary(max_size=48) | st.binary(min_size=1, max_size=24).map(lambda b: b"\x55\x61" + b))
    try:
        result = family.describe(uuid, payload)
    except DecodeError:
        return
    assert isinstance(result["kind"], str)
    json.dumps(result, allow_nan=False)
