"""Shared test fixtures.

Every test runs with its own config, data and log directories (XDG variables pointed at a temporary
folder), so no test reads or writes the developer's real PostureBuddy files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run by default, so that a CI run is repeatable; set
# HYPOTHESIS_PROFILE=explore for new random examples (a failure prints the blob that reproduces it).
settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""The shared real-data folder (BROAD, x-io) beside the repository; tests skip if it is absent."""


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("POSTUREBUDDY_CONFIG", raising=False)
    return
