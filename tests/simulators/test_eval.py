"""The evaluation against the simulator's truth: scoring rules on short runs (the full table is a script)."""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt
import pytest

from posturebuddy.motion.calibration import CalibrationError
from posturebuddy.motion.orientation import AccelFit
from posturebuddy.posture.settings import DetectorSettings
from simulators.eval import (
    ACCEL_CAL_SCENARIO,
    TABLE_HEADER,
    accel_cal_wanted,
    band_latencies,
    default_scenarios,
    main,
    run_one,
    table_row,
    tolerance_band,
)
from simulators.record import host_clock
from simulators.wearer import list_scenarios
from simulators.wearer.behaviours import P_UPRIGHT
from simulators.wearer.truth import ProductThresholds, product_alert_episodes


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
    # The band's early edge is the truth with more flexion (confirmed no later), its late edge with less.
    to_host = host_clock(rec)
    early, late = tolerance_band(rec, ProductThresholds.from_detector())
    for e in product:
        tc = to_host(e.confirmed_s)
        same = [s for s in early if s[0] == e.posture and s[1] < to_host(e.end_s) and to_host(e.start_s) < s[2]]
        assert same
        assert min(s[3] for s in same) <= tc + 1e-6
        later = [s for s in late if s[0] == e.posture and s[1] < to_host(e.end_s) and to_host(e.start_s) < s[2]]
        assert all(s[3] >= tc - 1e-6 for s in later)
    assert early != late
    # The tolerance band only ever narrows the latency toward 0, keeping its sign.
    band = score.product.band_latencies_s
    assert len(band) == len(score.latencies_s)
    for lat, tol in zip(score.latencies_s, band, strict=True):
        assert abs(tol) <= abs(lat) + 1e-9
        assert tol * lat >= 0.0
    row = table_row(score, 60.0)
    assert row.startswith("slouchy_afternoon")
    assert len(row.split()) == len(TABLE_HEADER.split())


def test_latency_beyond_the_tolerance_band() -> None:
    """A perfect engine off by the tolerance would confirm between the shifted truths' confirmations: inside that
    band the latency is 0, outside it is measured from the nearer edge."""
    truth = [("slouch", 100.0, 300.0, 130.0)]
    early = [("slouch", 95.0, 300.0, 126.0), ("forward_head", 90.0, 95.0, 94.0)]
    late = [("slouch", 104.0, 290.0, 135.0)]

    def lat(confirmed_s: float, late_spans: list[tuple[str, float, float, float]] = late) -> float:
        (value,) = band_latencies(truth, [("slouch", 101.0, 200.0, confirmed_s)], early, late_spans)
        return value

    assert lat(131.5) == 0.0
    assert lat(137.0) == pytest.approx(2.0)
    assert lat(125.0) == pytest.approx(-1.0)
    assert lat(160.0, late_spans=[]) == 0.0  # the posture never got the tolerance past the threshold
    assert band_latencies(truth, [("forward_head", 101.0, 200.0, 131.0)], early, late) == ()  # no match


def test_a_grey_run_short_of_its_dwell_is_marked_unconfirmed() -> None:
    """A posture held 27 s (dwell 30 s, grey margin 5 s) is a grey episode that a perfect engine never confirms;
    its ``confirmed_s`` is only a placeholder, so it must not serve as an edge of the tolerance band."""
    t = np.arange(0.0, 120.0, 0.1)
    flexion = np.where((t >= 20.0) & (t < 47.0), 10.0, 0.0)  # forward head (8 deg) for 27 s
    codes = np.full(t.shape, P_UPRIGHT, dtype=np.int8)
    th = ProductThresholds.from_detector()
    (short,) = product_alert_episodes(t, flexion, codes, th)
    assert short.grey
    assert not short.reached_dwell
    longer = np.where((t >= 20.0) & (t < 80.0), 10.0, 0.0)  # 60 s: confirmed at 20 + 30
    (held,) = product_alert_episodes(t, longer, codes, th)
    assert held.reached_dwell
    assert not held.grey
    assert held.confirmed_s == pytest.approx(50.0, abs=0.2)


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
    from simulators.wearer import simulate

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


# -- the six-face accelerometer calibration ----------------------------------------------------------------------


def test_default_scenarios_leave_out_the_calibration_and_the_long_day() -> None:
    scenarios = default_scenarios()
    assert ACCEL_CAL_SCENARIO in list_scenarios()
    assert ACCEL_CAL_SCENARIO not in scenarios
    assert "workday_8h" not in scenarios
    assert "slouchy_afternoon" in scenarios


def test_accel_cal_is_automatic_for_accelerometer_only_tags() -> None:
    assert accel_cal_wanted("microbit")
    assert not accel_cal_wanted("posturebuddy")
    assert not accel_cal_wanted("witmotion")
    assert not accel_cal_wanted("thingy52")
    assert accel_cal_wanted("witmotion", "on")
    assert not accel_cal_wanted("microbit", "off")
    with pytest.raises(ValueError, match="accel-cal"):
        accel_cal_wanted("microbit", "maybe")


def test_six_face_calibration_recovers_the_tags_errors() -> None:
    """A micro:bit run with the six-face step: the fit (same tag, same packets and decoder) is within a few mg."""
    score, _, rec = run_one("slouchy_afternoon", "microbit", seed=1, duration_s=120, accel_cal=True)
    cal = score.accel_cal
    assert cal is not None
    assert cal.used, cal.error
    assert cal.true_bias_g == rec.sensor_errors.accel_bias_g
    assert cal.true_scale == rec.sensor_errors.accel_scale
    assert cal.rms_after_g is not None
    assert cal.rms_after_g < 0.003
    assert cal.bias_error_g is not None
    assert cal.bias_error_g < 0.003
    assert cal.scale_error is not None
    assert cal.scale_error < 0.003
    assert "accel calibration: six faces" in score.notes
    row = table_row(score, 60.0)
    assert row.split()[-2] == "yes"
    assert float(row.split()[-1]) == pytest.approx(1000.0 * cal.rms_after_g, abs=0.01)
    assert len(row.split()) == len(TABLE_HEADER.split())


def test_a_failed_fit_is_scored_without_the_calibration() -> None:
    def refuse(t_s: npt.NDArray[np.float64], accel_g: npt.NDArray[np.float64]) -> AccelFit:
        assert t_s.shape[0] == accel_g.shape[0] > 1000  # the six-face recording, decoded
        raise CalibrationError("faces not captured yet: -z")

    failed, _, _ = run_one("leans_back", "microbit", seed=3, duration_s=150, accel_cal=True, fitter=refuse)
    plain, _, _ = run_one("leans_back", "microbit", seed=3, duration_s=150)
    assert failed.accel_cal is not None
    assert not failed.accel_cal.used
    assert failed.accel_cal.error is not None
    assert "-z" in failed.accel_cal.error
    assert plain.accel_cal is None
    assert failed.product == plain.product
    assert failed.posture_prompts == plain.posture_prompts
    assert table_row(failed, 60.0).split()[-2:] == ["FAIL", "-"]
    assert table_row(plain, 60.0).split()[-2:] == ["-", "-"]


def test_command_reports_the_calibration_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--scenario", "fidgety_upright", "--device", "microbit", "--seed", "2", "--duration", "60", "--json"]
    assert main([*argv, "--accel-cal", "on"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["accel_cal_used"] is True
    assert 0.0 < doc["accel_cal_rms_after_g"] < 0.003
    assert doc["accel_cal"]["used"] is True
    assert main([*argv, "--accel-cal", "off"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["accel_cal_used"] is False
    assert doc["accel_cal"] is None


@pytest.mark.parametrize("reach_at_s", [20.0, 28.0, 29.9, 31.0])
def test_product_truth_confirms_where_the_detector_does_around_a_reach(reach_at_s: float) -> None:
    """A slouch held at 20 deg with a 5-s reach in it: the dwell clock runs through the reach (it was beyond the
    threshold before), and an episode whose clock fills during the reach is confirmed on the first judged sample
    after it, in the truth as in the detector."""
    from posturebuddy.model import Activity, PostureAngles
    from posturebuddy.posture import PostureDetector
    from posturebuddy.posture.events import EpisodeStarted
    from simulators.wearer.behaviours import P_MOVING

    t = np.round(np.arange(0.0, 60.0, 0.1), 6)
    flexion = np.full(t.shape, 20.0)
    code = np.full(t.shape, P_UPRIGHT, dtype=np.int8)  # judged (its flexion decides)
    reach = (t >= reach_at_s) & (t < reach_at_s + 5.0)
    code[reach] = P_MOVING
    settings = DetectorSettings()
    thresholds = ProductThresholds.from_detector(settings)
    truth = [e for e in product_alert_episodes(t, flexion, code, thresholds) if e.posture == "slouch"]
    assert len(truth) == 1
    detector = PostureDetector(settings)
    started = []
    for ti, f, moving in zip(t.tolist(), flexion.tolist(), reach.tolist(), strict=True):
        angles = PostureAngles(ti, f, 0.0, f)
        frame = detector.update(ti, angles, Activity.FIDGET if moving else Activity.STILL, 0.0)
        started += [e.t_s for e in frame.events if isinstance(e, EpisodeStarted) and e.episode.kind == "slouch"]
    assert len(started) == 1
    assert truth[0].confirmed_s == pytest.approx(started[0], abs=0.11)  # one sample
    first_judged_after_reach = float(t[~reach & (t >= reach_at_s)][0])
    if reach_at_s < thresholds.dwell_s < reach_at_s + 5.0:
        assert truth[0].confirmed_s == pytest.approx(first_judged_after_reach)


def test_a_run_whose_clock_fills_only_after_posture_is_last_judged_is_not_a_sure_episode() -> None:
    """20 deg for 26 s, then 15 s of movement (past the grace period), then upright: the clock would fill during
    the movement, where no detector confirms. The truth must not hold it as an episode to be found (at most grey)."""
    from simulators.wearer.behaviours import P_MOVING

    t = np.round(np.arange(0.0, 80.0, 0.1), 6)
    flexion = np.where(t < 26.0, 20.0, 0.0)
    code = np.full(t.shape, P_UPRIGHT, dtype=np.int8)
    code[(t >= 26.0) & (t < 41.0)] = P_MOVING
    episodes = product_alert_episodes(t, flexion, code, ProductThresholds.from_detector(DetectorSettings()))
    assert episodes  # 26 s at 20 deg: within the grey margin of the 30-s dwell
    assert all(e.grey and not e.reached_dwell for e in episodes)
