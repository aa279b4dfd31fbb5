"""``posturebuddy sessions``: the recordings in the recordings directory, never a crash on a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posturebuddy.cli import main
from simulators.record import record


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("recordings")
    record(directory / "b_walks.pbrec", "stands_and_walks", "witmotion", duration_s=60, start_epoch_s=1_767_700_000.0)
    record(directory / "a_slouchy.pbrec", "slouchy_afternoon", "posturebuddy", duration_s=90)
    (directory / "garbage.pbrec").write_bytes(b"not a recording at all\n" * 10)
    (directory / "notes.txt").write_text("not listed\n", encoding="utf-8")
    return directory


@pytest.fixture
def config(recordings: Path, tmp_path: Path) -> str:
    path = tmp_path / "config.toml"
    path.write_text(f"[recording]\ndirectory = {json.dumps(str(recordings))}\n", encoding="utf-8")
    return str(path)


def test_list_shows_each_recording_and_the_unreadable_one(
    config: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    assert main(["--config", config, "sessions", "list"]) == 0
    out = capsys.readouterr().out
    for words in ("a_slouchy.pbrec", "b_walks.pbrec", "garbage.pbrec", "slouchy_afternoon", "stands_and_walks"):
        assert words in out
    assert "posturebuddy/PB-Tag" in out
    assert "0:01:30" in out
    assert "0:01:00" in out
    assert "not a PostureBuddy recording" in out
    assert "notes.txt" not in out


def test_list_json(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", config, "sessions", "list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [Path(str(r["file"])).name for r in doc] == ["a_slouchy.pbrec", "b_walks.pbrec", "garbage.pbrec"]
    slouchy, walks, garbage = doc
    assert slouchy["scenario"] == "slouchy_afternoon"
    assert walks["scenario"] == "stands_and_walks"
    assert slouchy["tag_family"] == "posturebuddy"
    assert walks["tag_family"] == "witmotion"
    assert slouchy["packets"] > 4000
    assert walks["packets"] > 2000
    assert slouchy["duration_s"] == pytest.approx(90, abs=1)
    assert walks["start_s"] == pytest.approx(1_767_700_000.0, abs=1)
    assert (slouchy["episodes"], slouchy["prompts"]) == (0, 0)  # a simulated recording stores packets only
    assert slouchy["error"] is None
    assert "not a PostureBuddy recording" in garbage["error"]


def test_show_one_and_planned_actions(config: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", config, "sessions", "show", "2"]) == 0
    out = capsys.readouterr().out
    assert "b_walks.pbrec" in out
    assert "witmotion" in out
    assert "stands_and_walks" in out
    assert main(["--config", config, "sessions", "show", "3"]) == 0
    assert "not a PostureBuddy recording" in capsys.readouterr().out
    assert main(["--config", config, "sessions", "show", "9"]) == 1
    assert main(["--config", config, "sessions", "show"]) == 2
    capsys.readouterr()
    # delete asks first (no answer here: nothing deleted); export needs an output file
    assert main(["--config", config, "sessions", "delete", "1"]) == 0
    assert "nothing deleted" in capsys.readouterr().err
    assert main(["--config", config, "sessions", "export", "1"]) == 2
    assert ".csv or .parquet" in capsys.readouterr().err


def test_an_empty_or_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[recording]\ndirectory = {json.dumps(str(tmp_path / 'none'))}\n", encoding="utf-8")
    assert main(["--config", str(path), "sessions", "list"]) == 0
    assert "no recordings" in capsys.readouterr().out
    assert main(["--config", str(path), "sessions", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
