"""History: daily figures from minute summaries across the recordings directory, local days, caching."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from history_support import minute, write_minutes

from posturebuddy.session.history import (
    load_history,
    parse_day,
    parse_week,
    scan_recordings,
    store_minute_summaries,
)
from posturebuddy.session.recording import RecordingMetadata, RecordingWriter, SourceKind, open_recording
from simulators.record import record

TOKYO = ZoneInfo("Asia/Tokyo")  # UTC+9, no daylight saving time
DAY = dt.date(2026, 1, 5)
MIDNIGHT_S = dt.datetime(2026, 1, 5, tzinfo=TOKYO).timestamp()


def test_a_day_sums_its_minutes_in_local_time(tmp_path: Path) -> None:
    rows = [minute(MIDNIGHT_S - 120.0), minute(MIDNIGHT_S - 60.0)]  # the evening before: another day
    rows += [minute(MIDNIGHT_S + 9 * 3600 + 60 * k, streak_s=60.0 * (k + 1)) for k in range(30)]
    rows += [
        minute(
            MIDNIGHT_S + 9 * 3600 + 1800 + 60 * k,
            upright_s=30.0,
            slouch_s=30.0,
            episodes={"slouch": 1} if k == 0 else None,
            prompts={"sit_tall": 1} if k == 1 else None,
            outcomes={"snoozed": 1} if k == 2 else None,
            breaks=1 if k == 9 else 0,
            streak_s=600.0,
        )
        for k in range(10)
    ]
    write_minutes(tmp_path / "a.pbrec", rows)
    history = load_history(tmp_path, [DAY - dt.timedelta(days=1), DAY], tz=TOKYO)
    before, day = history.days
    assert len(before.figures.minutes) == 2
    f = day.figures
    assert len(f.minutes) == 40
    assert f.recorded_s == pytest.approx(2400.0)
    assert f.upright_share == pytest.approx(2100.0 / 2400.0)
    assert f.episodes == {"slouch": 1}
    assert f.prompts == {"sit_tall": 1}
    assert f.outcomes == {"snoozed": 1}
    assert f.breaks == 1
    assert f.longest_sitting_s == pytest.approx(1800.0)
    assert history.analysed == 0


def test_a_minute_in_two_recordings_counts_once(tmp_path: Path) -> None:
    start = MIDNIGHT_S + 10 * 3600
    write_minutes(tmp_path / "a.pbrec", [minute(start + 60 * k) for k in range(10)])
    write_minutes(tmp_path / "b.pbrec", [minute(start + 60 * k, upright_s=20.0) for k in range(5, 15)])
    f = load_history(tmp_path, [DAY], tz=TOKYO).days[0].figures
    assert len(f.minutes) == 15
    assert f.recorded_s == pytest.approx(10 * 60.0 + 5 * 20.0)


def test_a_recording_without_summaries_is_analysed_once_and_cached(tmp_path: Path) -> None:
    start = dt.datetime(2026, 1, 5, 10, 0, tzinfo=TOKYO).timestamp()
    record(tmp_path / "sim.pbrec", "stands_and_walks", "posturebuddy", duration_s=150, start_epoch_s=start)
    calls: list[float] = []
    first = load_history(tmp_path, [DAY], tz=TOKYO, progress=lambda _p, _n, _t, x: calls.append(x))
    assert (first.analysed, first.cached) == (1, 1)
    assert calls
    assert calls[-1] == pytest.approx(1.0)
    again = load_history(tmp_path, [DAY], tz=TOKYO)
    assert again.analysed == 0
    assert again.days[0].figures.to_json() == first.days[0].figures.to_json()
    assert 140.0 < again.days[0].figures.recorded_s <= 151.0
    with open_recording(tmp_path / "sim.pbrec") as reader:
        assert reader.packet_count() > 7000  # the raw data is untouched


def test_summaries_are_never_written_into_a_recording_being_written_or_already_summarised(tmp_path: Path) -> None:
    metadata = RecordingMetadata(tag_family="posturebuddy", source_kind=SourceKind.LIVE)
    open_path = tmp_path / "open.pbrec"
    with RecordingWriter(open_path, metadata) as writer:
        writer.flush()
        ok, why = store_minute_summaries(open_path, [minute(MIDNIGHT_S)])
        assert not ok
        assert "still being written" in why
    done = write_minutes(tmp_path / "done.pbrec", [minute(MIDNIGHT_S)])
    ok, why = store_minute_summaries(done, [minute(MIDNIGHT_S, upright_s=1.0)])
    assert (ok, why) == (False, "it already holds summaries")
    with open_recording(done) as reader:
        assert reader.minute_summaries()[0].sitting_s == 60.0


def test_unreadable_files_are_reported_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "junk.pbrec").write_bytes(b"nope" * 100)
    write_minutes(tmp_path / "ok.pbrec", [minute(MIDNIGHT_S + 3600)])
    entries = scan_recordings(tmp_path)
    assert [bool(e.error) for e in entries] == [True, False]
    history = load_history(tmp_path, [DAY], tz=TOKYO, entries=entries)
    assert history.problems[0][0] == "junk.pbrec"
    assert len(history.days[0].figures.minutes) == 1


def test_days_and_weeks_parse_or_say_how_to_write_them() -> None:
    assert parse_day("2026-01-05") == DAY
    assert parse_week("2026-W02")[0] == DAY
    assert parse_week("2026-w02")[-1] == dt.date(2026, 1, 11)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        parse_day("5/1/2026")
    with pytest.raises(ValueError, match="YYYY-Www"):
        parse_week("2026-02")
