"""The command line: help for every command, config commands, planned commands, error exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from posturebuddy.cli import EXIT_USAGE, HANDLERS, build_parser, main

COMMANDS = (
    "demo",
    "run",
    "scan",
    "decode",
    "calibrate",
    "replay",
    "analyze",
    "sessions",
    "report",
    "import",
    "export",
    "config",
)


def test_every_command_exists_and_has_a_handler() -> None:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert set(sub.choices) == set(COMMANDS)  # type: ignore[arg-type]
    assert set(HANDLERS) == set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command_teaches(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: posturebuddy {command}" in out
    assert "examples:" in out
    assert len(out.splitlines()) > 8


def test_top_level_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "not a medical device" in out
    for command in COMMANDS:
        assert command in out
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "posturebuddy 0." in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    assert "commands:" in capsys.readouterr().out


def test_config_show_prints_effective_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[detection]\ndwell_s = 42\n", encoding="utf-8")
    assert main(["--config", str(path), "config", "show", "--plain"]) == 0
    out = capsys.readouterr().out
    assert "dwell_s = 42.0" in out
    assert "#" not in out


def test_bad_config_fails_with_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[detection]\ndwell_s = "soon"\n', encoding="utf-8")
    assert main(["--config", str(path), "config", "show"]) == EXIT_USAGE
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "detection.dwell_s" in err


def test_config_path_init_check(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "path"]) == 0
    assert "not created yet" in capsys.readouterr().out
    assert main(["config", "init"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["config", "check"]) == 0
    assert "valid" in capsys.readouterr().out


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "posturebuddy", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0
    assert result.stdout.startswith("posturebuddy ")
