"""The history screen over a real recordings folder: days from minute summaries, the session being recorded now,
damaged files, recordings without summaries analysed on request, refresh, and the layout at 80x24."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Static
from ui_fakes import FakeSession
from ui_support import started

from posturebuddy.config import RecordingSettings, Settings
from posturebuddy.model import PostureClass
from posturebuddy.session.history import day_bounds, local_zone
from posturebuddy.session.recording import (
    MinuteSummary,
    RecordingMetadata,
    RecordingWriter,
    SourceKind,
    open_recording,
)
from posturebuddy.ui.app import PostureBuddyApp
from posturebuddy.ui.screens import history as history_module
from posturebuddy.ui.screens.history import HistoryScreen, span_text, upright_cell
from simulators.record import record

Build = Callable[..., PostureBuddyApp]

ZONE = local_zone()
TODAY = dt.datetime.now(ZONE).date()
YESTERDAY = TODAY - dt.timedelta(days=1)
TODAY_9H = day_bounds(TODAY, ZONE)[0] + 9 * 3600.0
YESTERDAY_9H = day_bounds(YESTERDAY, ZONE)[0] + 9 * 3600.0


def minute(
    start_s: float,
    *,
    upright_s: float = 45.0,
    slouch_s: float = 15.0,
    episodes: int = 0,
    prompts: int = 0,
    done: int = 0,
    breaks: int = 0,
    streak_s: float = 0.0,
) -> MinuteSummary:
    """A seated minute row as the live recorder writes it (counts by kind in ``detail``)."""
    detail: dict[str, object] = {"sitting_streak_max_s": streak_s}
    if episodes:
        detail["episodes_by_kind"] = {"slouch": episodes}
    if prompts:
        detail["prompts_by_kind"] = {"sit_tall": prompts}
    if done:
        detail["outcomes"] = {"done": done}
    return MinuteSummary(
        minute_start_s=start_s,
        posture_s={PostureClass.UPRIGHT: upright_s, PostureClass.SLOUCH: slouch_s},
        sitting_s=upright_s + slouch_s,
        episodes=episodes,
        prompts=prompts,
        prompts_done=done,
        breaks=breaks,
        detail=detail,
    )


def closed_recording(path: Path, rows: list[MinuteSummary]) -> Path:
    """A recording closed cleanly, holding ``rows`` (no packets, as after retention trimmed them)."""
    with RecordingWriter(path, RecordingMetadata(tag_family="posturebuddy", source_kind=SourceKind.LIVE)) as writer:
        for row in rows:
            writer.append_minute_summary(row)
    return path


def settings_for(directory: Path) -> Settings:
    return Settings(recording=RecordingSettings(directory=str(directory)))


async def history_read(pilot: Pilot[None], screen: HistoryScreen, count: int = 1) -> None:
    """Wait until the screen has shown ``count`` reads in all (the first read starts on mount)."""
    for _ in range(600):
        await pilot.pause(0.01)
        if screen.load is not None and not screen.reading and screen.reads >= count:
            return
    raise AssertionError(f"the history screen did not finish reading (status: {status(screen)!r})")


async def open_history(app: PostureBuddyApp, session: FakeSession, pilot: Pilot[None]) -> HistoryScreen:
    """Start the session, press ``y`` and wait for the history screen's first read."""
    await started(session, pilot)
    await pilot.press("y")
    screen = app.screen
    assert isinstance(screen, HistoryScreen)
    await history_read(pilot, screen)
    return screen


def status(screen: HistoryScreen) -> str:
    return str(screen.query_one("#history-status", Static).render())


def problems(screen: HistoryScreen) -> str:
    widget = screen.query_one("#history-problems", Static)
    return str(widget.render()) if widget.display else ""


def row_of(screen: HistoryScreen, day: dt.date) -> list[str]:
    table: DataTable[str | Text] = screen.query_one("#history-table", DataTable)
    return [str(cell) for cell in table.get_row(day.isoformat())]


@pytest.mark.asyncio
async def test_days_today_with_the_session_being_recorded_damage_and_analysis(
    build: Build, session: FakeSession, tmp_path: Path
) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    # Yesterday: an hour and a half, closed; 2 breaks, 3 slouch episodes, 2 of 4 prompts done; 50 min unbroken.
    rows = [minute(YESTERDAY_9H + 60.0 * k, streak_s=60.0 * min(k + 1, 50)) for k in range(90)]
    rows[10] = minute(YESTERDAY_9H + 600.0, episodes=3, prompts=4, done=2, breaks=2, streak_s=660.0)
    closed_recording(rec / "yesterday.pbrec", rows)
    (rec / "broken.pbrec").write_bytes(b"this is no recording\n" * 20)
    # Simulated this morning: packets only, no summaries (needs the batch engine).
    await asyncio.to_thread(  # (record runs its own event loop: not inside this test's)
        record,
        rec / "simulated.pbrec",
        "stands_and_walks",
        "posturebuddy",
        duration_s=60,
        start_epoch_s=TODAY_9H - 3600,
    )
    # Today: a session still being recorded (never closed in this test until the end).
    live = RecordingWriter(
        rec / "live.pbrec", RecordingMetadata(tag_family="posturebuddy", source_kind=SourceKind.LIVE)
    )
    try:
        for k in range(10):
            live.append_minute_summary(minute(TODAY_9H + 60.0 * k, upright_s=60.0, slouch_s=0.0))
        live.flush()

        app = build(settings_for(rec))
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_history(app, session, pilot)
            table: DataTable[str | Text] = screen.query_one("#history-table", DataTable)
            assert table.row_count == 14
            assert table.get_row_at(0)[0] == "Today"
            today = row_of(screen, TODAY)
            assert today[1:3] == ["10 min", "100% █████"]
            assert row_of(screen, YESTERDAY) == ["Yesterday", "1 h 30", " 75% ████░", "3", "2/4", "2", "50 min"]
            assert row_of(screen, TODAY - dt.timedelta(days=5))[1:] == ["-"] * 6
            assert "⚠ broken.pbrec is not a PostureBuddy recording: it is not an SQLite database" in problems(screen)
            assert "1 recording has no minute summaries yet (simulated.pbrec): press a" in problems(screen)
            assert "2 of 4 recordings" in status(screen)
            totals = str(screen.query_one("#history-totals", Static).render())
            assert "14 days: 1 h 40 recorded" in totals
            assert "3 episodes (3 slouch)" in totals
            assert "4 prompts (2 done)" in totals

            # The live session writes five more minutes, one with a prompt done: r shows them.
            for k in range(10, 15):
                live.append_minute_summary(minute(TODAY_9H + 60.0 * k, prompts=k // 14, done=k // 14))
            live.flush()
            await pilot.press("r")
            await history_read(pilot, screen, 2)
            today = row_of(screen, TODAY)
            assert today[1] == "15 min"
            assert today[2] == " 92% █████"  # 825 of 900 s upright
            assert today[4] == "1/1"

            # a analyses the simulated recording (and caches its rows into the file).
            await pilot.press("a")
            await history_read(pilot, screen, 3)
            assert "no minute summaries" not in problems(screen)
            assert "broken.pbrec" in problems(screen)
            assert "3 of 4 recordings" in status(screen)
            assert span_text(15 * 60 + 60) in row_of(screen, TODAY)[1]  # the simulated minute counts today too
            with open_recording(rec / "simulated.pbrec") as reader:
                assert reader.minute_summaries()

            await pilot.press("escape")
            assert app.screen is app.dashboard
    finally:
        live.close()


@pytest.mark.asyncio
async def test_no_recordings_yet_says_so(build: Build, session: FakeSession, tmp_path: Path) -> None:
    app = build(settings_for(tmp_path / "nothing-here"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(app, session, pilot)
        assert status(screen).startswith("No recordings yet in ")
        assert screen.query_one("#history-table", DataTable).row_count == 0
        assert not screen.query_one("#history-totals", Static).display
        await pilot.press("a")  # nothing to analyse: a note, no crash
        await pilot.pause()
        assert app.screen is screen


@pytest.mark.asyncio
async def test_a_failed_read_is_a_line_and_the_dashboard_stays(
    build: Build, session: FakeSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed_recording(tmp_path / "a.pbrec", [minute(TODAY_9H)])

    def fails(*_args: object, **_kwargs: object) -> object:
        raise OSError(5, "Input/output error")

    app = build(settings_for(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_history(app, session, pilot)
        assert row_of(screen, TODAY)[1] == "1 min"
        monkeypatch.setattr(history_module, "read_history", fails)  # the disk fails on the next read
        await pilot.press("r")
        for _ in range(300):
            await pilot.pause(0.01)
            if screen.error:
                break
        assert status(screen) == "Could not read the history: OSError: [Errno 5] Input/output error"
        assert row_of(screen, TODAY)[1] == "1 min"  # the figures read before stay
        assert app.is_running
        assert app.screen is screen


@pytest.mark.asyncio
@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_the_table_and_keys_fit_the_terminal(
    build: Build, session: FakeSession, tmp_path: Path, size: tuple[int, int]
) -> None:
    rows = [minute(YESTERDAY_9H + 60.0 * k, episodes=k % 2, prompts=1, done=1, streak_s=3600.0) for k in range(600)]
    closed_recording(tmp_path / "long.pbrec", rows)
    app = build(settings_for(tmp_path))
    async with app.run_test(size=size) as pilot:
        screen = await open_history(app, session, pilot)
        table = screen.query_one("#history-table", DataTable)
        assert row_of(screen, YESTERDAY) == ["Yesterday", "10 h 00", " 75% ████░", "300", "600/600", "0", "1 h 00"]
        assert table.virtual_size.width <= table.scrollable_content_region.width  # no sideways scrolling
        keys = {binding.key for _node, binding, enabled, _tip in app.active_bindings.values() if enabled}
        assert {"r", "a", "escape", "q"} <= keys


def test_cells() -> None:
    assert [span_text(s) for s in (0.0, 42.0, 600.0, 3600.0 + 5 * 60)] == ["-", "42 s", "10 min", "1 h 05"]
    assert str(upright_cell(None)) == "-"
    assert str(upright_cell(0.5)) == " 50% ██░░░"
    assert str(upright_cell(1.2)) == "100% █████"


def test_reading_from_summaries_alone(tmp_path: Path) -> None:
    """Without analysis a recording holding no summaries is named, not read; an empty one is just a file."""
    closed_recording(tmp_path / "a.pbrec", [minute(TODAY_9H), minute(YESTERDAY_9H, upright_s=60.0, slouch_s=0.0)])
    closed_recording(tmp_path / "empty.pbrec", [])
    load = history_module.read_history(tmp_path, history_module.history_days(TODAY, 2), tz=ZONE)
    assert (load.files, load.unsummarised, load.history.problems) == (2, (), ())
    assert [day.day for day in load.days] == [TODAY, YESTERDAY]
    assert [day.figures.upright_share for day in load.days] == [0.75, 1.0]
