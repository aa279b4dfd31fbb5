"""The six-face accelerometer step end to end: the store's accelerometer part, ``calibrate --accel`` over the
simulator's BLE stack (a virtual micro:bit turned onto each face), a live session applying the stored correction
and recording it, and replay / analyze of that recording applying it again."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from posturebuddy.commands.calibrate import HOW_ACCEL, calibrate_accel_session
from posturebuddy.commands.demo import DEMO_ADDRESS, open_demo_session
from posturebuddy.devices import get_family
from posturebuddy.motion.calibration import CalibrationMethod, ForwardMethod, UprightReference
from posturebuddy.motion.orientation import AccelCalibration, AccelFit
from posturebuddy.session.analyze import analyze_recording, analyze_samples, decode_items, recording_engine_settings
from posturebuddy.session.calibration_store import FILE_NAME, RECORDING_KEY, CalibrationStore
from posturebuddy.session.engine import EngineSettings
from posturebuddy.session.recording import open_recording
from posturebuddy.session.replay import ReplaySession

UI_SCENARIOS = Path(__file__).parents[1] / "ui" / "scenarios"
SPEED = 10.0
RATE_HZ = 25.0

CAL = AccelCalibration(bias_g=(0.012, -0.031, 0.024), scale=(1.021, 0.978, 1.004))
FIT = AccelFit(CAL, chunks=36, spread_deg=120.0, rms_before_g=0.03, rms_after_g=0.0008)


def reference() -> UprightReference:
    return UprightReference.create(
        (0.0, 0.96, 0.28),
        (0.0, 0.28, -0.96),
        t_s=5.0,
        method=CalibrationMethod.CAPTURE,
        forward_method=ForwardMethod.MOUNTING,
        spread_deg=0.4,
        duration_s=5.0,
    )


# ------------------------------------------------------------------------------------------------ the store


def test_saving_an_accel_calibration_round_trips_and_drops_the_upright_reference(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    store.save("aa:01", "microbit", reference(), "wizard")
    store.save("aa:02", "microbit", reference(), "wizard")
    saved = store.save_accel("aa:01", "microbit", FIT)
    assert saved.how == HOW_ACCEL
    fresh = CalibrationStore(tmp_path)
    got = fresh.get_accel("AA:01", "microbit")
    assert got is not None
    assert got.calibration == CAL
    assert (got.chunks, got.rms_after_g) == (36, 0.0008)
    assert fresh.get("aa:01") is None  # measured with uncorrected readings: dropped
    assert fresh.get("aa:02") is not None  # another tag: untouched
    assert fresh.get_accel("aa:01", "thingy52") is None  # another family at that address
    # a new upright reference keeps the accelerometer part; forget drops both
    fresh.save("aa:01", "microbit", reference(), "calibrate command")
    again = CalibrationStore(tmp_path)
    assert again.get("aa:01") is not None
    assert again.get_accel("aa:01") is not None
    assert again.forget("aa:01")
    assert CalibrationStore(tmp_path).get_accel("aa:01") is None


def test_a_file_from_before_the_accelerometer_part_still_loads(tmp_path: Path) -> None:
    old = {
        "version": 1,
        "tags": {
            "AA:01": {
                "family_id": "posturebuddy",
                "up_tag": [0.0, 0.96, 0.28],
                "forward_tag": [0.0, 0.28, -0.96],
                "t_s": 5.0,
                "method": "capture",
                "forward_method": "mounting",
                "spread_deg": 0.4,
                "duration_s": 5.0,
                "lean_deg": None,
                "support": 1.0,
                "saved_wall_s": 1.7e9,
                "how": "wizard",
            }
        },
    }
    (tmp_path / FILE_NAME).write_text(json.dumps(old))
    store = CalibrationStore(tmp_path)
    assert store.get("aa:01") is not None
    assert store.get_accel("aa:01") is None
    assert store.all_accel() == []
    assert store.problem is None
    assert store.entry_problems == {}


def test_a_malformed_accel_part_is_reported_kept_and_costs_nothing_else(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    store.save("aa:01", "microbit", reference(), "wizard")
    data = json.loads(store.path.read_text())
    data["tags"]["AA:01"]["accel"] = {"bias_g": [0.0, 0.9, 0.0], "scale": [1, 1, 1]}
    store.path.write_text(json.dumps(data))
    fresh = CalibrationStore(tmp_path)
    assert fresh.get("aa:01") is not None  # the upright part is fine
    assert fresh.get_accel("aa:01") is None
    assert "accelerometer calibration cannot be read" in fresh.entry_problems["AA:01"]
    assert "bias_g" in fresh.entry_problems["AA:01"]
    assert fresh.problem is None
    fresh.save_accel("bb:02", "microbit", FIT)  # another tag's save writes the bad part back unchanged
    assert json.loads(fresh.path.read_text())["tags"]["AA:01"]["accel"] == {
        "bias_g": [0.0, 0.9, 0.0],
        "scale": [1, 1, 1],
    }


def test_list_shows_the_accel_part_and_forget_says_both(capsys: pytest.CaptureFixture[str]) -> None:
    from posturebuddy.cli import main
    from posturebuddy.config import data_dir

    CalibrationStore(data_dir()).save_accel("f0:00:00:00:00:07", "microbit", FIT)
    assert main(["calibrate", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "F0:00:00:00:00:07" in listed
    assert "accelerometer" in listed
    assert "+12/-31/+24 mg" in listed
    assert main(["calibrate", "--forget", "--address", "f0:00:00:00:00:07"]) == 0
    assert "upright posture and accelerometer" in capsys.readouterr().out
    assert CalibrationStore(data_dir()).get_accel("f0:00:00:00:00:07") is None


def test_simulate_without_accel_and_unknown_devices_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from posturebuddy.cli import main

    assert main(["calibrate", "--simulate", "microbit"]) == 2
    assert "--simulate only works with --accel" in capsys.readouterr().out
    assert main(["calibrate", "--accel", "--simulate", "nosuch"]) == 2
    assert "unknown tag family 'nosuch'" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------------ over the simulator


@pytest.mark.asyncio
async def test_the_six_face_step_over_the_simulator_recovers_the_micro_bits_errors(tmp_path: Path) -> None:
    from simulators.wearer import simulate

    store = CalibrationStore(tmp_path)
    store.save(DEMO_ADDRESS, "microbit", reference(), "wizard")
    engine = EngineSettings(auto_calibrate=False)
    async with open_demo_session(
        scenario="six_faces", device="microbit", speed=SPEED, rate_hz=RATE_HZ, engine=engine
    ) as session:
        out = io.StringIO()
        outcome = await calibrate_accel_session(session, Console(file=out, width=100), store, timeout_s=60.0)
    assert outcome.fit is not None, outcome.message
    assert outcome.faces_done == ("+x", "-x", "+y", "-y", "+z", "-z")
    truth = simulate("six_faces", "microbit", RATE_HZ).sensor_errors
    np.testing.assert_allclose(outcome.fit.calibration.bias_g, truth.accel_bias_g, atol=0.0015)
    np.testing.assert_allclose(outcome.fit.calibration.scale, truth.accel_scale, rtol=0.002)
    assert outcome.dropped_upright
    stored = CalibrationStore(tmp_path).get_accel(DEMO_ADDRESS, "microbit")
    assert stored is not None
    assert stored.calibration == outcome.fit.calibration
    assert CalibrationStore(tmp_path).get(DEMO_ADDRESS) is None
    assert "done" in out.getvalue()


@pytest.mark.asyncio
async def test_a_tag_that_never_shows_all_faces_times_out_and_nothing_stored_is_lost(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    store.save(DEMO_ADDRESS, "microbit", reference(), "wizard")
    before = store.path.read_text()
    async with open_demo_session(
        scenario=UI_SCENARIOS / "quick_upright.toml", device="microbit", speed=SPEED, rate_hz=RATE_HZ
    ) as session:
        outcome = await calibrate_accel_session(session, Console(file=io.StringIO()), store, timeout_s=3.0)
    assert outcome.fit is None
    assert outcome.stored is None
    assert "timed out" in outcome.message
    assert "nothing was stored" in outcome.message
    assert store.path.read_text() == before


# ------------------------------------------------------------------------------------------------ use it


@pytest.mark.asyncio
async def test_a_session_applies_the_stored_correction_and_its_recording_carries_it(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "data")
    store.save_accel(DEMO_ADDRESS, "microbit", FIT)
    path = tmp_path / "session.pbrec"
    async with open_demo_session(
        scenario=UI_SCENARIOS / "quick_upright.toml",
        device="microbit",
        speed=SPEED,
        rate_hz=RATE_HZ,
        recording_path=path,
    ) as session:
        session.calibrations = store
        stop = asyncio.Event()
        task = asyncio.create_task(session.run(stop))
        subscription = session.bus.subscribe("test")
        seen = 0
        async with asyncio.timeout(30.0):
            async for item in subscription:
                if type(item).__name__ == "Sample":
                    seen += 1
                    if seen >= 50:
                        break
        stop.set()
        await task
    assert session.accel_calibrated
    assert session.engine.settings.orientation.accel_calibration == CAL
    with open_recording(path) as reader:
        metadata = reader.metadata
        assert metadata.extra[RECORDING_KEY] == {"bias_g": list(CAL.bias_g), "scale": list(CAL.scale)}
        replay = ReplaySession(reader, get_family("microbit"), EngineSettings(), speed=None)
        assert replay.settings.orientation.accel_calibration == CAL
    # analyze_recording (analyze, report, sessions, history) applies it: the corrected angles differ from raw ones
    corrected = analyze_recording(path, timeline=True)
    with open_recording(path) as reader:
        decoded = decode_items(reader.iter_stream(), get_family("microbit"))
    raw = analyze_samples(decoded.arrays, family=decoded.family, settings=EngineSettings(), timeline=True)
    assert corrected.timeline is not None
    assert raw.timeline is not None
    assert not any("not usable" in w for w in corrected.warnings)
    assert not np.allclose(corrected.timeline.up_tag, raw.timeline.up_tag, equal_nan=True)
    # the analyze command runs on it
    from posturebuddy.cli import main

    assert main(["analyze", str(path), "--json"]) == 0


def test_a_recording_without_a_correction_and_a_bad_one_keep_the_raw_readings() -> None:
    from posturebuddy.session.recording import RecordingMetadata

    plain = RecordingMetadata(tag_family="microbit", source_kind="live")
    settings, note = recording_engine_settings(EngineSettings(), plain)
    assert settings.orientation.accel_calibration is None
    assert note is None
    bad = RecordingMetadata(tag_family="microbit", source_kind="live", extra={RECORDING_KEY: {"bias_g": "x"}})
    settings, note = recording_engine_settings(EngineSettings(), bad)
    assert settings.orientation.accel_calibration is None
    assert note is not None
    assert "not usable" in note
