"""Faults that need a process of their own: kill -9 of a recording session, a full disk, a corrupt config file.

tests/session/test_recording_durability.py already kills a bare RecordingWriter loop; here the process killed is
a whole live session (link, decoder, engine, recorder flushing on its timer) over the simulator's BLE stack, and
the question is what a user gets back: a file that opens cleanly, analyses, and lacks at most about a second.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from firmware_protocol import MOTION_CHAR_UUID
from posturebuddy.cli import main
from posturebuddy.session.recording import open_recording

HERE = Path(__file__).resolve().parent
CHILD = HERE / "session_child.py"
UPRIGHT = HERE.parent / "ui" / "scenarios" / "quick_upright.toml"
RATE_HZ = 25.0
SPEED = 20.0


def start_child(path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(path), "--scenario", str(UPRIGHT), "--speed", str(SPEED), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def motion_rows(path: Path) -> int:
    with open_recording(path) as reader:
        assert reader.check() == []
        return sum(1 for p in reader.iter_packets() if p.char_uuid.lower() == MOTION_CHAR_UUID.lower())


@pytest.mark.timeout(90)
def test_kill_9_of_a_recording_session_loses_at_most_about_a_second(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "killed.pbrec"
    last: dict[str, Any] = {}
    with start_child(path) as child:
        try:
            assert child.stdout is not None
            for line in child.stdout:
                last = json.loads(line)
                # kill once 3 s of wall time have been committed and a batch is half-way to its flush
                if last["written"] >= 3 * RATE_HZ * SPEED and last["received"] - last["written"] >= RATE_HZ * SPEED / 2:
                    break
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL, child.stderr.read() if child.stderr else ""
    assert last["written"] >= 3 * RATE_HZ * SPEED

    with open_recording(path) as reader:
        assert reader.metadata.closed_s is None  # it never closed...
        assert reader.damage == []  # ...but nothing in it is damaged
    kept = motion_rows(path)
    lost = last["received"] - kept  # received by the link before the kill, not in the file
    assert kept >= last["written"] - 2  # everything committed (the info and battery reads count in "written")
    assert lost <= 1.2 * RATE_HZ * SPEED, f"lost {lost} notifications = {lost / RATE_HZ / SPEED:.2f} s of wall time"
    # and the product can use what is left
    assert main(["analyze", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)
    with capsys.disabled():
        print(f"kill -9: kept {kept} notifications, lost {lost} ({lost / RATE_HZ / SPEED:.2f} wall s)")


@pytest.mark.timeout(90)
def test_a_full_disk_mid_session_stops_only_the_recording(tmp_path: Path) -> None:
    path = tmp_path / "full.pbrec"
    result = subprocess.run(
        [
            sys.executable,
            str(CHILD),
            str(path),
            "--scenario",
            str(UPRIGHT),
            "--speed",
            str(SPEED),
            "--disk-full-after",
            "40",
            "--run-for",
            "120",
        ],
        capture_output=True,
        text=True,
        timeout=80,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["done"]
    assert summary["status"] == 0
    assert summary["loop_errors"] == []
    assert summary["internal_errors"] == 0
    assert summary["recorder_failed"].startswith("recording stopped: Could not write to recording")
    assert "recording stopped" in result.stderr  # logged once...
    assert result.stderr.count("recording stopped") == 1
    assert summary["samples_after_limit"] >= 0.5 * (120 - 40) * RATE_HZ  # ...and the coaching went on
    assert summary["samples"] == summary["received"]
    kept = motion_rows(path)  # the file still opens, with what was committed before the disk filled
    assert kept >= summary["limit"]["written"] - 2


CORRUPT_CONFIGS: dict[str, bytes] = {
    "binary noise": bytes(range(256)) * 4,
    "cut mid-table": b'[tag]\naddress = "C4:A2',
    "nul bytes": b'[tag]\x00\x00family = "posturebuddy"\n',
    "invalid utf-8": b'[tag]\nname = "\xff\xfe"\n',
    "wrong type": b'[tag]\nsample_rate_hz = "fast"\n',
    "unknown section": b"[nonsense]\nx = 1\n",
    "table as value": b"tag = 3\n",
    "duplicate key": b'[tag]\nfamily = "posturebuddy"\nfamily = "thingy52"\n',
}


@pytest.mark.parametrize("name", sorted(CORRUPT_CONFIGS))
def test_a_corrupt_config_at_startup_exits_2_with_one_line(tmp_path: Path, name: str) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(CORRUPT_CONFIGS[name])
    result = subprocess.run(
        [sys.executable, "-m", "posturebuddy", "--config", str(config), "demo", "--headless", "--duration", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=os.environ | {"PYTHONWARNINGS": "error"},
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"posturebuddy: config error: {config}: ")


def test_a_config_path_that_is_a_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path), "demo", "--headless", "--duration", "1"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("posturebuddy: config error:")
