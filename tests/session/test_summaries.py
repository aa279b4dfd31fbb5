"""Per-minute summaries: the live recorder and the batch analysis write the same rows; minutes split at their
boundaries; time without data is counted as no data, never as a posture."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from posturebuddy.devices import get_family
from posturebuddy.model import Activity, PostureClass, Prompt, PromptKind, PromptOutcome
from posturebuddy.posture.episode import Episode
from posturebuddy.posture.events import BreakCredited, BreakKind, EpisodeStarted, PromptAnswered, PromptRaised
from posturebuddy.session.analyze import AnalysisResult, analyze_recording, stream_events
from posturebuddy.session.decoding import PacketDecoder
from posturebuddy.session.engine import EngineSettings, PostureEngine
from posturebuddy.session.live import SessionRecorder
from posturebuddy.session.recording import MinuteSummary, RecordingMetadata, RecordingWriter, SourceKind, open_recording
from posturebuddy.session.summaries import (
    EPISODES_BY_KIND,
    FLEXION_MEAN,
    OUTCOMES,
    STREAK_END,
    STREAK_MAX,
    MinuteSummarizer,
    summarize_analysis,
)
from simulators.record import record

SCENARIO = Path(__file__).parent / "scenarios" / "summary_mix.toml"
T0 = 1_700_000_040.0  # a whole minute of POSIX time
assert T0 % 60 == 0


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, AnalysisResult]:
    path = tmp_path_factory.mktemp("summaries") / "mix.pbrec"
    record(path, str(SCENARIO), "posturebuddy")
    return path, analyze_recording(path, timeline=True)


def _live_rows(source: Path, result: AnalysisResult, out: Path) -> list[MinuteSummary]:
    """What a live session records: every engine event through SessionRecorder into a real file."""
    with open_recording(source) as reader:
        family = get_family(reader.metadata.tag_family)
        decoder = PacketDecoder(family)
        items = [item for packet in reader.iter_stream() for item in decoder.feed(packet)]
    engine = PostureEngine(EngineSettings(), family=family, reference=result.reference)
    metadata = RecordingMetadata(tag_family=family.family_id, source_kind=SourceKind.SIMULATED)
    clock = {"now": 0.0}
    recorder = SessionRecorder(RecordingWriter(out, metadata, clock=lambda: clock["now"]))
    for k, event in enumerate(stream_events(items, engine)):
        recorder.event(event)
        if k % 500 == 0:  # the live tick: flushes due batches, with the minute in progress
            clock["now"] += 1.0
            recorder.maybe_flush()
    recorder.close()
    assert recorder.failed is None
    with open_recording(out) as reader:
        return reader.minute_summaries()


def _assert_rows_equal(a: MinuteSummary, b: MinuteSummary) -> None:
    assert a.minute_start_s == b.minute_start_s
    assert {str(k): v for k, v in a.posture_s.items()} == pytest.approx({str(k): v for k, v in b.posture_s.items()})
    for name in ("no_data_s", "sitting_s", "standing_s", "walking_s"):
        assert getattr(a, name) == pytest.approx(getattr(b, name), abs=1e-6), name
    assert (a.episodes, a.prompts, a.prompts_done, a.breaks) == (b.episodes, b.prompts, b.prompts_done, b.breaks)
    assert set(a.detail) == set(b.detail)
    for key, value in a.detail.items():
        if isinstance(value, float):
            assert value == pytest.approx(b.detail[key], abs=0.011), key  # angles rounded to 0.01 deg
        else:
            assert value == b.detail[key], key


def test_live_recording_and_batch_analysis_give_the_same_minutes(
    mixed: tuple[Path, AnalysisResult], tmp_path: Path
) -> None:
    source, result = mixed
    batch = summarize_analysis(result)
    live = _live_rows(source, result, tmp_path / "live.pbrec")
    assert [r.minute_start_s for r in live] == [r.minute_start_s for r in batch]
    for a, b in zip(live, batch, strict=True):
        _assert_rows_equal(a, b)
    # The scenario's features are all there: an episode, a prompt, a break, walking, no data, angles.
    assert sum(r.episodes for r in batch) == len(result.episodes) >= 1
    assert sum(r.prompts for r in batch) == len(result.prompts) >= 1
    assert sum(r.breaks for r in batch) == sum(1 for b in result.breaks if b.credited) >= 1
    assert sum(r.walking_s for r in batch) > 40.0
    assert 35.0 < sum(r.no_data_s for r in batch) < 60.0  # the 45 s out of range
    assert all(FLEXION_MEAN in r.detail for r in batch)
    # Whole minutes add up to 60 s: every second goes to exactly one posture class or to no data.
    for row in batch[1:-1]:
        assert sum(row.posture_s.values()) + row.no_data_s == pytest.approx(60.0, abs=0.2)


def test_minutes_split_at_their_boundaries() -> None:
    s = MinuteSummarizer()
    # Upright from 30 s to 90 s, slouching from 90 s to 150 s, snapshots every 0.5 s.
    for k in range(241):
        t = T0 + 30.0 + 0.5 * k
        s.observe(t, PostureClass.UPRIGHT if t < T0 + 90.0 else PostureClass.SLOUCH, Activity.STILL, 5.0, 1.0)
    rows = s.close()
    assert [r.minute_start_s - T0 for r in rows] == [0.0, 60.0, 120.0]
    first, second, third = rows
    assert first.posture_s == {PostureClass.UPRIGHT: pytest.approx(30.0)}
    assert second.posture_s == {PostureClass.UPRIGHT: pytest.approx(30.0), PostureClass.SLOUCH: pytest.approx(30.0)}
    assert third.posture_s == {PostureClass.SLOUCH: pytest.approx(30.0)}
    assert [r.sitting_s for r in rows] == pytest.approx([30.0, 60.0, 30.0])
    assert second.detail[FLEXION_MEAN] == 5.0
    assert third.detail[STREAK_MAX] == pytest.approx(120.0)


def test_completed_minutes_are_handed_out_once_and_the_open_one_on_request() -> None:
    s = MinuteSummarizer(max_step_s=100.0)
    s.observe(T0 + 10.0, PostureClass.UPRIGHT, Activity.STILL)
    s.observe(T0 + 50.0, PostureClass.UPRIGHT, Activity.STILL)
    assert s.take_changed() == []  # the minute is still open
    assert [r.minute_start_s for r in s.take_changed(include_open=True)] == [T0]
    s.observe(T0 + 70.0, PostureClass.UPRIGHT, Activity.STILL)
    done = s.take_changed()
    assert [r.minute_start_s for r in done] == [T0]
    assert done[0].posture_s[PostureClass.UPRIGHT] == pytest.approx(50.0)
    assert s.take_changed() == []
    assert [r.minute_start_s for r in s.close()] == [T0 + 60.0]


def test_gaps_and_link_down_time_count_as_no_data() -> None:
    s = MinuteSummarizer(max_step_s=10.0)
    s.observe(T0 + 0.0, PostureClass.UPRIGHT, Activity.STILL)
    s.observe(T0 + 5.0, PostureClass.UPRIGHT, Activity.STILL)  # 5 s upright
    s.observe(T0 + 35.0, PostureClass.AWAY, Activity.NO_DATA)  # a 30-s hole (nothing judged): no data
    s.observe(T0 + 45.0, PostureClass.UPRIGHT, Activity.STILL)  # 10 s of link-down ticks: no data
    s.observe(T0 + 50.0, PostureClass.UPRIGHT, Activity.STILL)  # 5 s upright
    (row,) = s.close()
    assert row.no_data_s == pytest.approx(40.0)
    assert row.posture_s == {PostureClass.UPRIGHT: pytest.approx(10.0)}
    assert row.sitting_s == pytest.approx(10.0)


def test_events_count_in_the_minute_of_their_own_time() -> None:
    s = MinuteSummarizer()
    episode = Episode(PostureClass.FORWARD_HEAD, T0 + 50.0, T0 + 80.0, None, 20.0, 18.0)
    prompt = Prompt(1, PromptKind.CHIN_TUCK, T0 + 81.0, "head forward")
    events = {
        80: EpisodeStarted(T0 + 80.0, episode),  # confirmed in the 2nd minute, started in the 1st
        81: PromptRaised(T0 + 81.0, prompt),
        130: PromptAnswered(T0 + 130.0, 1, PromptKind.CHIN_TUCK, PromptOutcome.DONE),
        140: BreakCredited(T0 + 140.0, T0 + 70.0, 70.0, BreakKind.ON_FEET, prompted=False),
    }
    for k in range(260):  # the engine publishes a row's events before its snapshot
        if k in events:
            s.feed(events[k])
        s.observe(T0 + k, PostureClass.UPRIGHT, Activity.STILL)
    rows = {r.minute_start_s - T0: r for r in s.close()}
    assert rows[0.0].episodes == 1
    assert rows[0.0].detail[EPISODES_BY_KIND] == {"forward_head": 1}
    assert rows[60.0].prompts == 1
    assert rows[120.0].prompts_done == 1
    assert rows[120.0].detail[OUTCOMES] == {"done": 1}
    assert rows[120.0].breaks == 1
    # The sitting clock restarted with the credited break.
    assert rows[120.0].detail[STREAK_MAX] == pytest.approx(140.0, abs=1.0)
    assert rows[240.0].detail[STREAK_END] == pytest.approx(119.0, abs=1.0)


def test_a_recorder_writes_the_minute_in_progress_on_each_flush_and_the_last_on_close(tmp_path: Path) -> None:
    metadata = RecordingMetadata(tag_family="posturebuddy", source_kind=SourceKind.LIVE)
    now = {"s": 0.0}
    path = tmp_path / "live.pbrec"
    recorder = SessionRecorder(RecordingWriter(path, metadata, clock=lambda: now["s"], flush_interval_s=1.0))
    s = recorder.summarizer
    for k in range(30):
        s.observe(T0 + k, PostureClass.UPRIGHT, Activity.STILL)
    for tick in (1.0, 2.0):  # two ticks of the live session's timer, one wall second apart
        now["s"] = tick
        recorder.maybe_flush()
    with open_recording(path) as reader:  # read while it is still being written, as after a crash
        (row,) = reader.minute_summaries()
    assert row.posture_s[PostureClass.UPRIGHT] == pytest.approx(29.0)
    for k in range(30, 100):
        s.observe(T0 + k, PostureClass.SLOUCH, Activity.STILL)
    recorder.close()
    with open_recording(path) as reader:
        rows = reader.minute_summaries()
    assert [r.minute_start_s - T0 for r in rows] == [0.0, 60.0]
    assert rows[0].posture_s[PostureClass.SLOUCH] == pytest.approx(30.0)
    assert rows[1].posture_s[PostureClass.SLOUCH] == pytest.approx(39.0)


def test_bad_settings_and_a_missing_timeline_are_refused_with_a_reason(mixed: tuple[Path, AnalysisResult]) -> None:
    with pytest.raises(ValueError, match="max_step_s"):
        MinuteSummarizer(max_step_s=math.nan)
    source, _ = mixed
    without = analyze_recording(source)
    with pytest.raises(ValueError, match="timeline=True"):
        summarize_analysis(without)
