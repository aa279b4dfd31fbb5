"""Remembered calibrations: the store on disk, a live session that recalls and saves them, and the
``calibrate`` command's two steps over the simulator's BLE stack (a simulated wearer sits upright, then leans)."""

from __future__ import annotations

import asyncio
import io
import json
import stat
from pathlib import Path

import pytest
from rich.console import Console

from posturebuddy.commands.calibrate import HOW_LEAN, HOW_UPRIGHT, calibrate_session
from posturebuddy.commands.demo import open_demo_session
from posturebuddy.motion.calibration import CalibrationMethod, ForwardMethod, UprightReference
from posturebuddy.motion.orientation import tilt_angle_deg
from posturebuddy.session.calibration_store import FILE_NAME, CalibrationStore
from posturebuddy.session.engine import AUTO_HOW, CalibrationChanged, PostureEngine
from posturebuddy.session.live import LiveSession

SCENARIOS = Path(__file__).parent / "scenarios"
UI_SCENARIOS = Path(__file__).parents[1] / "ui" / "scenarios"


def reference(t_s: float = 5.0) -> UprightReference:
    return UprightReference.create(
        (0.0, 0.96, 0.28),
        (0.0, 0.28, -0.96),
        t_s=t_s,
        method=CalibrationMethod.CAPTURE,
        forward_method=ForwardMethod.MOUNTING,
        spread_deg=0.4,
        duration_s=5.0,
    )


def test_the_store_round_trips_a_reference_per_tag_in_a_private_file(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "data")
    assert store.get("aa:bb") is None
    store.save("aa:bb", "thingy52", reference(), "wizard")
    again = CalibrationStore(tmp_path / "data")
    stored = again.get("AA:BB", "thingy52")
    assert stored is not None
    assert stored.reference == reference()
    assert stored.how == "wizard"
    assert again.get("AA:BB", "witmotion") is None  # another family at that address: not this calibration
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert again.forget("aa:bb")
    assert again.get("aa:bb") is None


@pytest.mark.parametrize(
    "content",
    ["{not json", json.dumps({"version": 99, "tags": {}}), json.dumps([1, 2])],
)
def test_a_damaged_store_is_set_aside_with_a_message_and_nothing_stops(tmp_path: Path, content: str) -> None:
    (tmp_path / FILE_NAME).write_text(content)
    store = CalibrationStore(tmp_path)
    assert store.get("aa:bb") is None
    assert store.problem is not None
    assert "damaged" in store.problem
    assert (tmp_path / (FILE_NAME + ".bad")).read_text() == content  # kept for the user, not deleted
    store.save("aa:bb", "posturebuddy", reference(), "wizard")  # and saving works again
    assert CalibrationStore(tmp_path).get("aa:bb") is not None


def test_one_bad_entry_does_not_cost_the_others(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    store.save("aa:01", "posturebuddy", reference(), "wizard")
    data = json.loads(store.path.read_text())
    data["tags"]["AA:02"] = {"up_tag": [0, 0], "family_id": "posturebuddy"}
    store.path.write_text(json.dumps(data))
    fresh = CalibrationStore(tmp_path)
    assert fresh.get("aa:01") is not None
    assert fresh.get("aa:02") is None
    assert fresh.problem is None


@pytest.mark.asyncio
async def test_the_calibrate_steps_over_the_simulator_store_upright_and_forward_from_the_lean(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    async with open_demo_session(scenario=SCENARIOS / "calibrate_lean.toml", speed=4.0, rate_hz=25.0) as session:
        session.calibrations = store
        out = io.StringIO()
        outcome = await calibrate_session(session, Console(file=out, width=100), lean=True, timeout_s=60.0)
    assert outcome.reference is not None, outcome.message
    assert outcome.lean_done, outcome.message
    assert outcome.reference.forward_method is ForwardMethod.LEAN
    assert outcome.reference.lean_deg is not None
    assert 5.0 < outcome.reference.lean_deg < 20.0
    stored = store.get("F8:00:00:00:00:01", "posturebuddy")
    assert stored is not None
    assert stored.how == HOW_LEAN
    assert stored.reference == outcome.reference
    # the lean's forward agrees with the tag's documented mounting (the simulated wearer leans straight ahead)
    assert session.link.family is not None
    assert session.link.family.forward_axis is not None
    mounting = UprightReference.create(
        outcome.reference.up_tag,
        session.link.family.forward_axis,
        t_s=0.0,
        method=CalibrationMethod.CAPTURE,
        forward_method=ForwardMethod.MOUNTING,
    )
    cos = sum(a * b for a, b in zip(mounting.forward_tag, outcome.reference.forward_tag, strict=True))
    assert cos > 0.9


async def _calibration_changes(session: LiveSession, count: int) -> list[CalibrationChanged]:
    """Run ``session`` until it has published ``count`` calibration changes (30 s at most); return them."""
    subscription = session.bus.subscribe("test")
    stop = asyncio.Event()
    task = asyncio.create_task(session.run(stop))
    changes: list[CalibrationChanged] = []
    try:
        async with asyncio.timeout(30.0):
            async for item in subscription:
                if isinstance(item, CalibrationChanged):
                    changes.append(item)
                    if len(changes) == count:
                        break
    finally:
        stop.set()
        await task
    return changes


async def _next_session(data: Path, count: int) -> tuple[list[CalibrationChanged], PostureEngine]:
    """A new demo session on the same simulated tag with the calibrations remembered in ``data``: its first
    ``count`` calibration changes and its engine."""
    async with open_demo_session(scenario=UI_SCENARIOS / "quick_upright.toml", speed=4.0, rate_hz=25.0) as session:
        session.calibrations = CalibrationStore(data)
        return await _calibration_changes(session, count), session.engine


@pytest.mark.asyncio
async def test_a_session_starts_with_the_remembered_calibration_and_saves_a_new_one(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path)
    async with open_demo_session(scenario=UI_SCENARIOS / "quick_upright.toml", speed=4.0, rate_hz=25.0) as first:
        first.calibrations = store
        outcome = await calibrate_session(first, Console(file=io.StringIO()), lean=False, timeout_s=60.0)
    assert outcome.reference is not None, outcome.message
    assert not outcome.lean_done
    saved = store.get("F8:00:00:00:00:01")
    assert saved is not None
    assert saved.how == HOW_UPRIGHT

    changes, engine = await _next_session(tmp_path, 1)
    assert [c.how for c in changes] == ["stored"]
    assert changes[0].reference.up_tag == saved.reference.up_tag
    assert engine.reference is not None
    assert engine.learn_again_near() is False  # the wearer's own calibration is theirs to renew


def test_calibrate_list_and_forget_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from posturebuddy.cli import main
    from posturebuddy.config import data_dir

    assert main(["calibrate", "--list"]) == 0
    assert "No calibration remembered yet" in capsys.readouterr().out
    CalibrationStore(data_dir()).save("f0:00:00:00:00:07", "posturebuddy", reference(), "wizard")
    assert main(["calibrate", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "F0:00:00:00:00:07" in listed
    assert "by wizard" in listed
    assert main(["calibrate", "--forget"]) == 2
    assert "--forget needs the tag" in capsys.readouterr().out
    assert main(["calibrate", "--forget", "--address", "f0:00:00:00:00:07"]) == 0
    assert "Forgot the calibration of F0:00:00:00:00:07" in capsys.readouterr().out
    assert CalibrationStore(data_dir()).get("f0:00:00:00:00:07") is None


@pytest.mark.asyncio
async def test_a_remembered_automatic_calibration_is_learned_again_near_it(tmp_path: Path) -> None:
    """The first session learns the upright by itself and remembers it; the next starts with it and learns it
    again from the first still sitting near it (the tag is never stuck on exactly as the day before)."""
    store = CalibrationStore(tmp_path)
    async with open_demo_session(scenario=UI_SCENARIOS / "quick_upright.toml", speed=4.0, rate_hz=25.0) as first:
        first.calibrations = store
        learned = await _calibration_changes(first, 1)
    assert [c.how for c in learned] == [AUTO_HOW]
    saved = store.get("F8:00:00:00:00:01")
    assert saved is not None
    assert saved.how == AUTO_HOW

    changes, engine = await _next_session(tmp_path, 2)
    assert [c.how for c in changes] == ["stored", AUTO_HOW]
    assert tilt_angle_deg(changes[1].reference.up_tag, saved.reference.up_tag) < 4.0
    assert engine.learned_near
    kept = CalibrationStore(tmp_path).get("F8:00:00:00:00:01")
    assert kept is not None  # the remembered one stays the anchor for the next session, not today's
    assert kept.reference.up_tag == saved.reference.up_tag
