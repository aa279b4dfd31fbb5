"""``posturebuddy report``: the terminal summary, a self-contained HTML page and a PNG picture."""

from __future__ import annotations

import datetime as dt
import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from history_support import minute, write_minutes

from posturebuddy.cli import main

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Recordings of Monday 5 January 2026, 09:00-12:00 local time (UTC here)."""
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("COLUMNS", "120")
    directory = tmp_path / "recordings"
    directory.mkdir()
    start = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC).timestamp()
    rows = [
        minute(
            start + 60 * k,
            upright_s=15.0 if 60 <= k < 80 else 60.0,
            slouch_s=45.0 if 60 <= k < 80 else 0.0,
            episodes={"slouch": 1} if k == 61 else None,
            prompts={"sit_tall": 1} if k == 70 else None,
            outcomes={"done": 1} if k == 71 else None,
            breaks=1 if k == 100 else 0,
            streak_s=60.0 * (k + 1) if k < 100 else 60.0 * (k - 99),
        )
        for k in range(180)
    ]
    write_minutes(directory / "monday.pbrec", rows)
    path = tmp_path / "config.toml"
    path.write_text(f"[recording]\ndirectory = {json.dumps(str(directory))}\n", encoding="utf-8")
    return str(path)


def test_terminal_summary_of_a_day(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", config, "report", "--day", "2026-01-05"]) == 0
    out = capsys.readouterr().out
    assert "Monday 5 January 2026" in out
    assert "92 %" in out  # upright 9900 s of 10800 s judged
    assert "1 slouch" in out
    assert "1 h 40 min" in out  # longest unbroken sitting: 100 minutes before the break
    assert "09:00" in out
    assert "not medical advice" in out.replace("\n", " ") or "no medical advice" in out.replace("\n", " ")


def test_html_is_one_well_formed_page_with_the_svg(config: str, tmp_path: Path) -> None:
    out = tmp_path / "day.html"
    assert main(["--config", config, "report", "--day", "2026-01-05", "--html", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "<script" not in text
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    root = ET.fromstring(text.removeprefix("<!DOCTYPE html>\n"))
    (svg,) = list(root.iter(f"{SVG}svg"))
    labels = {t.text for t in svg.iter(f"{SVG}text")}
    assert {"upright", "slouching", "09:00", "12:00", "forward tilt while seated (°)"} <= labels
    assert len(list(svg.iter(f"{SVG}polyline"))) >= 1


def test_png_is_a_picture_of_sensible_size(config: str, tmp_path: Path) -> None:
    out = tmp_path / "day.png"
    assert main(["--config", config, "report", "--day", "2026-01-05", "--png", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert 900 <= width <= 2400
    assert 400 <= height <= 1400
    assert len(data) > 20_000


def test_week_has_a_row_per_day_and_totals(config: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "week.png"
    assert main(["--config", config, "report", "--week", "2026-W02", "--png", str(out)]) == 0
    text = capsys.readouterr().out
    for day in ("Mon 05 Jan", "Tue 06 Jan", "Sun 11 Jan", "total"):
        assert day in text
    assert text.count("no recordings") == 6
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_a_day_without_recordings(config: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["--config", config, "report", "--day", "2026-01-06"]) == 0
    assert "No recordings for Tuesday 6 January 2026" in capsys.readouterr().out
    out = tmp_path / "empty.png"
    assert main(["--config", config, "report", "--day", "2026-01-06", "--png", str(out)]) == 1
    assert not out.exists()


def test_bad_dates_are_usage_errors(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", config, "report", "--day", "05/01/2026"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert main(["--config", config, "report", "--week", "W2"]) == 2
    assert "YYYY-Www" in capsys.readouterr().err
