"""The dashboard over a scripted session: link states, posture, figures, keys, palette, errors, shutdown."""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason
from textual.message import Message
from textual.widgets import DataTable, Markdown, Static
from ui_fakes import T0, FakeSession, found_device, snapshot
from ui_support import of_type, settle, started, workers_done

from posturebuddy.config import Settings, UiSettings
from posturebuddy.devices import NudgePattern
from posturebuddy.model import ConnectionState, ConnectionStateChanged, PostureClass
from posturebuddy.motion.calibration import (
    CalibrationMethod,
    CaptureState,
    CaptureStatus,
    ForwardMethod,
    UprightReference,
)
from posturebuddy.motion.orientation import TiltEstimate, TiltSource
from posturebuddy.posture.exercises import DISCLAIMER, RED_FLAGS
from posturebuddy.session.engine import CalibrationChanged, CalibrationProgressed
from posturebuddy.ui.app import PostureBuddyApp, make_app
from posturebuddy.ui.messages import CalibrationFinished, ConnectionChanged, SessionFailed
from posturebuddy.ui.screens import tags as tags_module
from posturebuddy.ui.screens.calibration import CalibrationScreen
from posturebuddy.ui.screens.info import HelpScreen, SettingsScreen
from posturebuddy.ui.screens.tags import TagPickerScreen
from posturebuddy.ui.widgets.posture import PostureGauge, TimelineChart
from posturebuddy.ui.widgets.status import LinkBar, TextPanel

Build = Callable[..., PostureBuddyApp]


def link_text(app: PostureBuddyApp) -> str:
    return app.dashboard.query_one("#link", LinkBar).text


@pytest.mark.asyncio
async def test_disconnect_and_reconnect_are_shown(build: Build, session: FakeSession) -> None:
    messages: list[Message] = []
    app = build()
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await started(session, pilot)
        assert "connected" in link_text(app)
        session.publish(
            ConnectionStateChanged(
                T0 + 1, ConnectionState.RECONNECTING, detail="link lost; reconnecting", expected=False
            )
        )
        await settle(pilot)
        assert "reconnecting" in link_text(app)
        notice = app.dashboard.query_one("#notice", TextPanel)
        assert notice.display
        assert "Lost the tag: link lost; reconnecting" in notice.text
        session.publish(ConnectionStateChanged(T0 + 5, ConnectionState.STREAMING, detail="streaming from PB-Tag"))
        await settle(pilot)
        assert "connected" in link_text(app)
        assert "reconnecting" not in link_text(app)
        assert not notice.display
        states = [m.state for m in of_type(messages, ConnectionChanged)]
        assert states == [ConnectionState.STREAMING, ConnectionState.RECONNECTING, ConnectionState.STREAMING]


@pytest.mark.asyncio
async def test_the_dashboard_shows_posture_sitting_and_todays_figures(build: Build, session: FakeSession) -> None:
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        for k in range(30):  # 3 s upright, then 3 s slouched, at the engine's 10 Hz
            slouched = k >= 15
            session.publish(
                snapshot(
                    T0 + k * 0.2,
                    flexion_deg=18.0 if slouched else 1.0,
                    state=PostureClass.SLOUCH if slouched else PostureClass.UPRIGHT,
                    sitting_s=1500.0,
                    next_break_in_s=1200.0,
                    posture_prompts_today=2,
                    done_today=1,
                    snoozed_today=1,
                    breaks_today=3,
                )
            )
        await settle(pilot)
        dash = app.dashboard
        assert dash.query_one("#state", TextPanel).text.startswith("Slouching")
        assert dash.query_one("#gauge", PostureGauge).flexion_deg == pytest.approx(18.0)
        assert "Forward tilt +18.0 deg" in str(dash.query_one("#gauge", PostureGauge).render())
        sitting = dash.query_one("#sitting", TextPanel).text
        assert "Sitting 25 min since your last break" in sitting
        assert "Next break in 20 min" in sitting
        today = dash.query_one("#today", TextPanel).text
        assert (
            "Upright 48%" in today
        )  # 14 of 29 intervals ended upright and "breaks 3" in today and "Prompts 2: 1 done, 1 snoozed" in today
        chart = dash.query_one("#timeline", TimelineChart)
        assert any(p.flexion_deg is not None for p in chart.points)
        assert "●" in str(chart.render())


@pytest.mark.asyncio
async def test_everything_fits_at_80x24(build: Build, session: FakeSession) -> None:
    app = build()
    async with app.run_test(size=(80, 24)) as pilot:
        await started(session, pilot)
        session.publish(snapshot(T0))
        await settle(pilot)
        screen = app.dashboard
        for selector in ("#link", "#state", "#gauge", "#timeline", "#sitting", "#today"):
            region = screen.query_one(selector).region
            assert region.height >= 1, selector
            assert region.width >= 20, selector
            assert region.bottom <= 23, selector  # above the footer
            assert region.right <= 80, selector


@pytest.mark.asyncio
async def test_quiet_theme_and_nudge_keys(build: Build, session: FakeSession) -> None:
    app = build(Settings(ui=UiSettings(theme="light")))
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        assert app.theme == "textual-light"
        await pilot.press("m")
        await settle(pilot)
        assert session.quiet == [True]
        assert "QUIET" in link_text(app)
        await pilot.press("t")
        assert app.theme == "textual-dark"
        await pilot.press("n")
        await pilot.pause()
        await workers_done(app, "nudge")
        assert session.nudges == [NudgePattern.IDENTIFY]


@pytest.mark.asyncio
async def test_the_command_palette_offers_and_runs_our_commands(build: Build, session: FakeSession) -> None:
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Calibrate", "Quiet mode", "Toggle theme", "Help", "Nudge the tag"):
            assert title in titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"quiet mode")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert session.quiet == [True]


@pytest.mark.asyncio
async def test_the_calibration_wizard_starts_a_capture_and_shows_the_result(build: Build, session: FakeSession) -> None:
    messages: list[Message] = []
    app = build()
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await started(session, pilot)
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, CalibrationScreen)
        await pilot.press("enter")
        assert session.calibrations == 1
        session.publish(CalibrationProgressed(T0, status=CaptureStatus(T0, CaptureState.WAITING, 0.0, "keep still")))
        await settle(pilot)
        assert "keep still" in str(screen.query_one("#calibration-hint", Static).render())
        session.publish(CalibrationProgressed(T0 + 2, status=CaptureStatus(T0 + 2, CaptureState.CAPTURING, 0.5)))
        await settle(pilot)
        assert screen.query_one("#calibration-progress").progress == pytest.approx(0.5)  # type: ignore[attr-defined]
        reference = UprightReference.create(
            (0.0, 0.96, 0.27),
            (0.0, 0.0, -1.0),
            t_s=T0 + 5,
            method=CalibrationMethod.CAPTURE,
            forward_method=ForwardMethod.MOUNTING,
            spread_deg=0.4,
            duration_s=5.0,
        )
        session.publish(CalibrationChanged(T0 + 5, reference=reference, how="wizard"))
        session.publish(snapshot(T0 + 6, flexion_deg=1.0))
        await settle(pilot)
        assert [m.how for m in of_type(messages, CalibrationFinished)] == ["wizard"]
        text = str(screen.query_one("#calibration-text", Static).render())
        assert "Upright posture saved: averaged over 5 s" in text
        assert "lean forward a little" in text
        # the wearer leans 12 deg towards a direction 20 deg off the mounting's forward, and holds it
        up, fwd = np.array(reference.up_tag), np.array(reference.forward_tag)
        side = np.cross(up, fwd)
        direction = math.cos(math.radians(20)) * fwd + math.sin(math.radians(20)) * side
        # leaning forward turns the tag forward, so the world's up, seen from the tag, turns backward
        leaning = math.cos(math.radians(12)) * up - math.sin(math.radians(12)) * direction
        for k in range(40):  # 4 s at the engine's 10 Hz
            t = T0 + 7 + k * 0.1
            tilt = TiltEstimate(t, tuple(leaning.tolist()), TiltSource.QUATERNION, 0.05, 0.002, 1.0)  # type: ignore[arg-type]
            session.publish(replace(snapshot(t, flexion_deg=12.0), tilt=tilt))
            await settle(pilot, rounds=1)
        assert len(session.references) == 1
        lean_ref, how = session.references[0]
        assert how == "wizard (lean)"
        assert lean_ref.lean_deg == pytest.approx(12.0, abs=0.5)
        angle = math.degrees(math.acos(float(np.dot(lean_ref.forward_tag, reference.forward_tag))))
        assert angle == pytest.approx(20.0, abs=1.0)  # the wearer's own forward, not the mounting's
        text = str(screen.query_one("#calibration-text", Static).render())
        assert "Forward direction learned from your lean (12 deg)" in text
        await pilot.press("enter")
        assert app.screen is app.dashboard


@pytest.mark.asyncio
async def test_help_shows_keys_exercises_red_flags_and_the_disclaimer(build: Build, session: FakeSession) -> None:
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        source = app.screen.query_one(Markdown).source
        assert DISCLAIMER in source
        assert all(flag in source for flag in RED_FLAGS)
        assert "Desk chin tuck" in source
        assert "`c`: calibrate" in source
        await pilot.press("escape")
        assert app.screen is app.dashboard


@pytest.mark.asyncio
async def test_settings_show_the_effective_values_and_toggle_quiet(build: Build, session: FakeSession) -> None:
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        await pilot.press("o")
        await settle(pilot)
        assert isinstance(app.screen, SettingsScreen)
        await pilot.press("m")
        await settle(pilot)
        text = str(app.screen.query_one("#settings-text", Static).render())
        assert "quiet mode   on" in text
        assert "dwell_s = 30.0" in text
        assert "[breaks]" in text
        assert session.quiet == [True]


@pytest.mark.asyncio
async def test_the_tag_picker_scans_picks_and_writes_the_config(
    build: Build, session: FakeSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def fake_scan(timeout_s: float, backend: object) -> list[object]:
        return [found_device("C4:A2:11:00:10:01"), found_device("C4:A2:11:00:10:02", rssi=-80)]

    monkeypatch.setattr(tags_module, "scan", fake_scan)
    config = tmp_path / "conf" / "config.toml"
    app = build(config_file=config)
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        await pilot.press("p")
        screen = app.screen
        assert isinstance(screen, TagPickerScreen)
        await workers_done(app, "tag-scan")
        await pilot.pause()
        assert screen.query_one(DataTable).row_count == 2
        await pilot.press("enter")
        assert 'address = "C4:A2:11:00:10:01"' in str(screen.query_one("#tags-choice", Static).render())
        await pilot.press("w")
        assert config.read_text() == '[tag]\naddress = "C4:A2:11:00:10:01"\nfamily = "posturebuddy"\n'
        assert screen.remembered is not None
        assert screen.remembered.written


def test_remembering_a_tag_never_rewrites_an_existing_tag_section(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[tag]\naddress = "AA:BB:CC:DD:EE:FF"\n')
    result = tags_module.remember_tag(found_device(), config)
    assert not result.written
    assert "already has a [tag]" in result.reason
    assert config.read_text() == '[tag]\naddress = "AA:BB:CC:DD:EE:FF"\n'
    other = tmp_path / "other.toml"
    other.write_text("[detection]\ndwell_s = 45")
    assert tags_module.remember_tag(found_device(), other).written
    assert other.read_text().endswith('\n\n[tag]\naddress = "C4:A2:11:00:10:01"\nfamily = "posturebuddy"\n')


@pytest.mark.asyncio
async def test_q_stops_the_session_cleanly_then_exits(build: Build, session: FakeSession) -> None:
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        await pilot.press("q")
        await pilot.pause(0.2)
    assert session.stopped
    assert app.return_code == 0


@pytest.mark.asyncio
async def test_a_link_error_is_one_sentence_on_screen_and_the_dashboard_stays(
    build: Build, session: FakeSession
) -> None:
    session.end_with_error = "Bluetooth is turned off: turn it on and retry."
    app = build()
    async with app.run_test(size=(100, 30)) as pilot:
        await started(session, pilot)
        await pilot.pause(0.2)
        await settle(pilot)
        notice = app.dashboard.query_one("#notice", TextPanel)
        assert "The session stopped: Bluetooth is turned off: turn it on and retry." in notice.text
        assert app.is_running
        await pilot.press("q")
        await pilot.pause(0.1)
    assert app.return_code == 1


@pytest.mark.asyncio
async def test_a_session_that_cannot_start_is_shown_not_raised(tmp_path: Path) -> None:
    @contextlib.asynccontextmanager
    async def no_bluetooth() -> AsyncIterator[FakeSession]:
        raise BleakBluetoothNotAvailableError("no adapter", BleakBluetoothNotAvailableReason.NO_BLUETOOTH)
        yield FakeSession()  # pragma: no cover

    messages: list[Message] = []
    app = make_app(no_bluetooth, Settings(), config_file=tmp_path / "c.toml")  # type: ignore[arg-type]
    async with app.run_test(size=(100, 30), message_hook=messages.append) as pilot:
        await workers_done(app, "session")
        await pilot.pause()
        failures = of_type(messages, SessionFailed)
        assert len(failures) == 1
        assert "\n" not in failures[0].error
        assert failures[0].error in app.dashboard.query_one("#notice", TextPanel).text
        await pilot.press("q")
    assert app.return_code == 1
