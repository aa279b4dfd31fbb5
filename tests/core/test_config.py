"""Settings: defaults, validation messages that name key, value and what is allowed, and round trips."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from posturebuddy.config import (
    SECTIONS,
    ConfigError,
    Settings,
    config_path,
    default_config_path,
    load_settings,
    render_toml,
    settings_from_mapping,
    write_default_config,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_default_file_means_defaults() -> None:
    assert not default_config_path().exists()
    assert load_settings() == Settings()


def test_every_setting_has_a_spec_and_a_valid_default() -> None:
    # Rendering and re-validating the defaults proves each default passes its own rules.
    doc = tomllib.loads(render_toml(Settings()))
    assert settings_from_mapping(doc) == Settings()
    for cls in SECTIONS:
        for f in dataclasses.fields(cls):
            assert f.metadata["spec"].help, f"{cls.SECTION}.{f.name} has no help text"


def test_the_issue_example_fails_with_one_line_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[detection]\ndwell_s = "soon"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message
    assert "detection.dwell_s" in message
    assert '"soon"' in message
    assert "number of seconds from 5 to 3600" in message
    assert str(path) in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[detection]\ndwell_s = 1\n", "detection.dwell_s = 1 is not allowed: expected a number of seconds from 5"),
        ("[detection]\ndwell_s = nan\n", "detection.dwell_s = nan is not allowed"),
        ("[coach]\nquiet = 1\n", "coach.quiet = 1 is not allowed: expected true or false"),
        ('[ui]\ntheme = "pink"\n', 'ui.theme = "pink" is not allowed: expected one of "dark", "light"'),
        ("[recording]\nretention_days = 2.5\n", "recording.retention_days = 2.5 is not allowed: expected a whole"),
        ('[coach]\nworking_hours = "9-5"\n', 'coach.working_hours = "9-5" is not allowed: expected HH:MM-HH:MM'),
        ("[detection]\nslouch = 3\n", "detection.slouch is not a known setting; [detection] accepts: forward_head"),
        ("[detektion]\n", "[detektion] is not a known section"),
        ("detection = 3\n", "[detection] must be a table"),
        ("[detection]\nslouch_deg = 6\nforward_head_deg = 8\n", "must be larger than detection.forward_head_deg"),
        ("[detection\n", "not valid TOML"),
        ("[tag]\nsample_rate_hz = true\n", "tag.sample_rate_hz = true is not allowed: expected a number of Hz"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        load_settings(write(tmp_path, text))
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_values_are_read_and_integers_accepted_for_floats(tmp_path: Path) -> None:
    path = write(tmp_path, '[detection]\ndwell_s = 45\n[coach]\nworking_hours = "09:00-17:30"\n')
    settings = load_settings(path)
    assert settings.detection.dwell_s == 45.0
    assert isinstance(settings.detection.dwell_s, float)
    assert settings.coach.working_hours == "09:00-17:30"
    assert settings.breaks == Settings().breaks


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_settings(tmp_path / "nope.toml")


def test_environment_variable_chooses_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[ui]\ntheme = "light"\n')
    monkeypatch.setenv("POSTUREBUDDY_CONFIG", str(path))
    assert config_path() == path
    assert load_settings().ui.theme == "light"


def test_init_writes_a_commented_file_that_loads_and_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    write_default_config(path)
    text = path.read_text(encoding="utf-8")
    assert text.count("# ") > 20
    assert load_settings(path) == Settings()
    with pytest.raises(ConfigError, match="already exists"):
        write_default_config(path)
