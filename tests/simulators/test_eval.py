"""The evaluation against the simulator's truth: scoring rules on short runs (the full table is a script)."""

from __future__ import annotations

import pytest

from simulators.eval import TABLE_HEADER, main, run_one, table_row


def test_a_slouch_is_found_and_scored() -> None:
    score, result, rec = run_one("slouchy_afternoon", "posturebuddy", duration_s=600)
    assert score.truth_episodes == len(rec.truth.alert_episodes) == 1
    assert score.recall == 1.0
    assert score.any_matched_truth == 1
    assert score.latencies_s
    assert score.latencies_s[0] < 60.0
    assert score.false_prompts == 0
    assert result.reference_source == "capture"
    row = table_row(score, 60.0)
    assert row.startswith("slouchy_afternoon")
    assert len(row.split()) == len(TABLE_HEADER.split())


def test_upright_fidgeting_raises_no_prompt() -> None:
    score, _, _ = run_one("fidgety_upright", "witmotion", duration_s=300)
    assert score.truth_episodes == 0
    assert score.posture_prompts == 0
    assert score.precision == 1.0
    assert score.recall == 1.0


def test_breaks_are_matched_with_their_latency() -> None:
    score, _, _ = run_one("stands_and_walks", "microbit", duration_s=600)
    assert score.breaks
    seen = [b for b in score.breaks if b.started_latency_s is not None]
    assert seen
    assert all(0.0 <= b.started_latency_s < 60.0 for b in seen if b.started_latency_s is not None)


def test_command_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scenario", "leans_back", "--device", "posturebuddy", "--seed", "3", "--duration", "240"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == TABLE_HEADER
    assert lines[1].startswith("leans_back")
