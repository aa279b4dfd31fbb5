"""Shared test fixtures.

Every test runs with its own config, data and log directories (XDG variables pointed at a temporary
folder), so no test reads or writes the developer's real PostureBuddy files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

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
