"""``posturebuddy sessions``: the recordings in the recordings directory, never a crash on a bad file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from posturebuddy.cli import main
from posturebuddy.commands.sessions import read_session, run_sessions
from posturebuddy.config import load_settings
from posturebuddy.model import PostureClass
from posturebuddy.session.recording import (
    MinuteSummary,
    RecordingMetadata,
    RecordingWriter,
    SourceKind,
    open_recording,
)
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


# ------------------------------------------------------------------------------ history figures per recording


def _summarised(path: Path, start_s: float) -> Path:
    """A closed live recording with 30 minute summaries: 2/3 upright, 2 slouch episodes, 3 prompts (2 done),
    one break, 25 min of unbroken sitting at most; no packets."""
    metadata = RecordingMetadata(tag_family="posturebuddy", tag_name="PB-Tag", source_kind=SourceKind.LIVE)
    with RecordingWriter(path, metadata) as writer:
        for k in range(30):
            detail: dict[str, object] = {"sitting_streak_max_s": 60.0 * min(k + 1, 25)}
            if k in (3, 17):
                detail["episodes_by_kind"] = {"slouch": 1}
            if k in (4, 18, 25):
                detail["prompts_by_kind"] = {"sit_tall": 1}
            if k in (5, 19):
                detail["outcomes"] = {"done": 1}
            writer.append_minute_summary(
                MinuteSummary(
                    minute_start_s=start_s + 60.0 * k,
                    posture_s={PostureClass.UPRIGHT: 40.0, PostureClass.SLOUCH: 20.0},
                    sitting_s=60.0,
                    episodes=int(k in (3, 17)),
                    prompts=int(k in (4, 18, 25)),
                    prompts_done=int(k in (5, 19)),
                    breaks=int(k == 26),
                    detail=detail,
                )
            )
    return path


@pytest.fixture
def figures_dir(tmp_path: Path) -> tuple[Path, str]:
    directory = tmp_path / "recordings"
    directory.mkdir()
    _summarised(directory / "a_live.pbrec", 1_767_690_000.0)
    record(directory / "b_sim.pbrec", "stands_and_walks", "posturebuddy", duration_s=60, start_epoch_s=1_767_700_000.0)
    config = tmp_path / "config.toml"
    config.write_text(f"[recording]\ndirectory = {json.dumps(str(directory))}\n", encoding="utf-8")
    return directory, str(config)


def test_list_shows_the_history_figures_from_minute_summaries_and_dashes_without(
    figures_dir: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, config = figures_dir
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["--config", config, "sessions", "list"]) == 0
    out = capsys.readouterr().out
    live = next(line for line in out.splitlines() if "a_live.pbrec" in line)
    cells = [c.strip() for c in live.split("│")]
    assert cells[6:11] == ["67 %", "2", "2/3", "1", "25 min"]  # upright, episodes, prompts done/raised, breaks, sitting
    assert "0:30:00" in live  # no packets: the span of the minutes summarised
    sim = next(line for line in out.splitlines() if "b_sim.pbrec" in line)
    assert [c.strip() for c in sim.split("│")][6:11] == ["-"] * 5
    assert "no minute summaries in the recording yet" in out
    with open_recording(directory / "b_sim.pbrec") as reader:
        assert reader.minute_summaries() == []  # list never analyses

    assert main(["--config", config, "sessions", "list", "--json"]) == 0
    live_doc, sim_doc = json.loads(capsys.readouterr().out)
    assert live_doc["summary_minutes"] == 30
    assert live_doc["figures_source"] == "recorded"
    figures = live_doc["figures"]
    assert figures["upright_share"] == pytest.approx(2 / 3, abs=1e-4)
    assert (figures["episodes"], figures["prompts"], figures["breaks"]) == ({"slouch": 2}, {"sit_tall": 3}, 1)
    assert figures["outcomes"]["done"] == 2
    assert figures["longest_sitting_s"] == 1500.0
    assert (sim_doc["summary_minutes"], sim_doc["figures"]) == (0, None)


def test_list_fits_an_80_column_terminal_with_short_headers(
    figures_dir: tuple[Path, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, config = figures_dir
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["--config", config, "sessions", "list"]) == 0
    out = capsys.readouterr().out
    assert all(len(line) <= 80 for line in out.splitlines())
    live = next(line for line in out.splitlines() if "a_live.pbrec" in line)
    assert [c.strip() for c in live.split("│")][5:10] == ["67 %", "2", "2/3", "1", "25 min"]
    assert "scenario / note" not in out
    assert "up: upright share" in out


def test_show_prints_the_figures_and_analyze_computes_and_caches_them(
    figures_dir: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    directory, config = figures_dir
    assert main(["--config", config, "sessions", "show", "1"]) == 0
    out = capsys.readouterr().out
    assert "minute summaries  30 (stored in the recording)" in out
    assert "upright share     67 % of 30 min judged" in out
    assert "episodes          2 (2 slouch)" in out
    assert "prompts           3 raised: 2 done" in out
    assert "longest sitting   25 min" in out
    assert main(["--config", config, "sessions", "show", "2"]) == 0
    assert "none: the recording holds no minute summaries; add --analyze" in capsys.readouterr().out

    settings = load_settings(Path(config))
    args = argparse.Namespace(action="show", session="2", out=None, json=False, yes=False, analyze=True)
    assert run_sessions(args, settings) == 0
    out = capsys.readouterr().out
    assert "(computed now by the batch engine (cached into the file))" in out
    assert "upright share" in out
    with open_recording(directory / "b_sim.pbrec") as reader:
        cached = reader.minute_summaries()
    assert cached
    info = read_session(directory / "b_sim.pbrec")
    assert info.figures_source == "recorded"
    assert info.summary_minutes == len(cached)
    assert info.figures is not None
    assert info.figures.recorded_s == pytest.approx(60.0, abs=1.0)
