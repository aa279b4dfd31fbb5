"""The evaluation against the simulator's truth: scoring rules on short runs (the full table is a script)."""

from __future__ import annotations

import numpy as np
import pytest

from simulators.eval import TABLE_HEADER, main, run_one, table_row


def test_a_slouch_is_found_and_scored() -> None:
    score, result, rec = run_one("slouchy_afternoon", "posturebuddy", duration_s=600)
    # Product definition: the slow slouch passes the forward-head band first, so the truth holds a forward-head
    # episode and then a slouch; the body-angle truth holds one slouch.
    product = [e for e in rec.truth.product_episodes() if not e.grey]
    assert score.truth_episodes == len(product) >= 1
    assert {e.posture for e in rec.truth.product_episodes()} == {"forward_head", "slouch"}
    assert score.recall == 1.0
    assert score.f1 == 1.0
    assert score.latencies_s
    assert max(score.latencies_s) < 5.0
    assert score.body.truth_episodes == len(rec.truth.alert_episodes) == 1
    assert score.body.any_matched_truth == 1
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


def test_product_truth_follows_the_product_thresholds() -> None:
    """The product-definition truth moves with the thresholds it is given (one shared definition)."""
    from posturebuddy.posture.settings import DetectorSettings
    from simulators.wearer import simulate
    from simulators.wearer.truth import ProductThresholds

    rec = simulate("slouchy_afternoon", device="ideal", rate_hz=10.0, duration_s=900)
    default = rec.truth.product_episodes()
    strict = rec.truth.product_episodes(
        ProductThresholds.from_detector(DetectorSettings(forward_head_deg=12.0, slouch_deg=25.0))
    )
    assert [e.posture for e in default] == ["forward_head", "slouch"]  # forward head first (grey or not)
    assert default[0].end_s == default[1].start_s
    assert all(e.posture == "forward_head" for e in strict)  # the slouch (16-24 deg) never reaches 25
    for e in default:
        if not e.grey and e.posture == "slouch":
            i = int(np.searchsorted(rec.truth.t_s, e.confirmed_s))
            assert rec.truth.tag_flexion_deg[i - 5 : i].max() >= 15.0


def test_short_stands_are_not_credited() -> None:
    score, _, _ = run_one("stands_and_walks", "posturebuddy", duration_s=900)
    ok, n_long, bad, _n_short = score.credited(60.0)
    assert n_long >= 1
    assert ok == n_long
    assert bad == 0
