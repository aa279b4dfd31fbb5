"""Pure parts of the dashboard: the view state folded from the stream, the guided-set player, the gauge zones."""

from __future__ import annotations

import pytest
from ui_fakes import T0, chin_tuck_prompt, snapshot

from posturebuddy.model import (
    BatteryLevel,
    BatteryRead,
    ConnectionState,
    ConnectionStateChanged,
    PostureClass,
    PromptKind,
    PromptOutcome,
    StreamStarted,
)
from posturebuddy.posture.episode import Episode
from posturebuddy.posture.events import EpisodeStarted, PromptAnswered, PromptRaised
from posturebuddy.posture.exercises import CHIN_TUCK_SEATED, OPEN_BOOK
from posturebuddy.ui.guided import GuidedSetPlayer, Phase
from posturebuddy.ui.view import DashboardView, FlexionTimeline
from posturebuddy.ui.widgets.posture import Thresholds


def test_the_timeline_averages_buckets_and_marks_gaps() -> None:
    timeline = FlexionTimeline(bucket_s=5.0, capacity=10)
    for k in range(50):  # 0..4.9 s at 10 Hz: one bucket, mean 2
        timeline.add(T0 + k * 0.1, 1.0 if k % 2 else 3.0, PostureClass.UPRIGHT)
    timeline.add(T0 + 5.0, 10.0, PostureClass.FORWARD_HEAD)
    timeline.add(T0 + 20.0, 4.0, PostureClass.UPRIGHT)  # two empty buckets between: a gap
    points = timeline.latest(10)
    assert [None if p.flexion_deg is None else round(p.flexion_deg, 3) for p in points] == [2.0, 10.0, None, None, 4.0]
    assert points[1].state is PostureClass.FORWARD_HEAD
    for k in range(100):  # bounded: never more than capacity points
        timeline.add(T0 + 25.0 + 5.0 * k, 1.0, PostureClass.UPRIGHT)
    assert len(timeline.points) == 10
    assert len(timeline.latest(4)) == 4


def test_the_view_folds_link_prompts_episodes_and_the_upright_share() -> None:
    view = DashboardView()
    view.take(ConnectionStateChanged(T0, ConnectionState.STREAMING, "F8:00:00:00:00:01", "streaming"))
    view.take(StreamStarted(T0, "posturebuddy", "F8:00:00:00:00:01", "PB-Tag"))
    view.take(BatteryRead(T0, BatteryLevel(T0, 87)))
    assert (view.link.words, view.link.name, view.link.battery_text) == ("connected", "PB-Tag", "87 %")
    prompt = chin_tuck_prompt(prompt_id=2)
    view.take(PromptRaised(T0, prompt))
    assert view.open_prompt == prompt
    view.take(PromptAnswered(T0 + 1, 2, PromptKind.CHIN_TUCK, PromptOutcome.DONE))
    assert view.open_prompt is None
    episode = Episode(PostureClass.SLOUCH, T0, T0 + 30, None, 18.0, 17.0)
    view.take(EpisodeStarted(T0 + 30, episode))
    assert view.figures.episodes == 1
    assert view.figures.upright_share is None
    for k in range(11):
        view.take(snapshot(T0 + k, state=PostureClass.UPRIGHT if k <= 7 else PostureClass.SLOUCH))
    view.take(snapshot(T0 + 100, state=PostureClass.SLOUCH))  # after a long gap: not counted
    assert view.figures.upright_share == pytest.approx(0.7)
    assert view.state_words == "Slouching"
    assert "Learning" in DashboardView(snapshot=snapshot(T0, calibrated=False)).state_words


def test_the_guided_player_walks_through_get_ready_holds_rests_and_done() -> None:
    player = GuidedSetPlayer(CHIN_TUCK_SEATED, reps=3, hold_s=2.0, get_ready_s=5.0)
    assert player.duration_s == pytest.approx(5 + 3 * 2 + 2 * 2)
    start = player.position(0.0)
    assert (start.phase, start.rep, start.remaining_s) == (Phase.GET_READY, 0, 5.0)
    hold = player.position(6.0)
    assert (hold.phase, hold.rep, hold.reps, hold.remaining_s) == (Phase.HOLD, 1, 3, 1.0)
    assert hold.phase_progress == pytest.approx(0.5)
    assert "Hold 2 s" in hold.instruction
    rest = player.position(7.5)
    assert (rest.phase, rest.rep) == (Phase.REST, 1)
    last_hold = player.position(14.0)
    assert (last_hold.phase, last_hold.rep) == (Phase.HOLD, 3)
    assert player.position(15.0).phase is Phase.DONE
    assert player.position(1e6).phase is Phase.DONE


def test_one_sided_exercises_do_the_left_then_the_right() -> None:
    player = GuidedSetPlayer(OPEN_BOOK, reps=2, hold_s=3.0, get_ready_s=0.0)
    sides = [player.position(t).side for t in (0.5, 13.0)]
    assert sides == ["left", "right"]


@pytest.mark.parametrize(
    ("flexion", "zone"), [(-12.0, "back"), (0.0, "upright"), (7.9, "upright"), (8.0, "forward"), (15.0, "slouch")]
)
def test_gauge_zones_follow_the_detector_thresholds(flexion: float, zone: str) -> None:
    assert Thresholds(8.0, 15.0, 8.0).zone(flexion) == zone
