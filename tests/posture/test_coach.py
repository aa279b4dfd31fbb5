"""Coach: posture prompts (kinds, nudge, rate limit, snooze, quiet, working hours, expiry) and breaks (due,
credited, natural, short stands, absences), driven by a real detector on synthetic streams."""

from __future__ import annotations

import calendar
import random

import pytest
from posture_streams import Rig, Seg, of_type, rig

from posturebuddy.model import Activity, PromptKind, PromptOutcome
from posturebuddy.model.events import Event
from posturebuddy.posture import (
    EXERCISES_BY_ID,
    BreakCredited,
    BreakDue,
    BreakEnded,
    BreakKind,
    BreakStarted,
    Coach,
    CoachPolicy,
    EpisodeStarted,
    PromptAnswered,
    PromptRaised,
    format_duration,
    in_working_hours,
    parse_working_hours,
)

T0 = float(calendar.timegm((2026, 1, 5, 10, 0, 0)))  # Monday 10:00 UTC
NO_BREAKS = CoachPolicy(breaks_enabled=False)

UP = Seg(10.0)
SLOUCH = Seg(40.0, flexion_deg=20.0)
STS = Seg(2.0, flexion_deg=30.0, activity=Activity.SIT_TO_STAND, energy=2.0)
NO_DATA = Activity.NO_DATA


def make(policy: CoachPolicy = NO_BREAKS, *, t0: float = T0, utc_offset_s: float = 0.0) -> Rig:
    return rig(coach=Coach(policy, utc_offset_s=utc_offset_s), t0=t0)


def walk(seconds: float) -> Seg:
    return Seg(seconds, flexion_deg=3.0, activity=Activity.WALKING, energy=2.0)


def stand(seconds: float) -> Seg:
    return Seg(seconds, flexion_deg=2.0, activity=Activity.STANDING)


def away(seconds: float) -> Seg:
    return Seg(seconds, angles=False, activity=NO_DATA)


def raised(events: list[Event]) -> list[PromptRaised]:
    return of_type(events, PromptRaised)


def answered(events: list[Event]) -> list[PromptAnswered]:
    return of_type(events, PromptAnswered)


# ------------------------------------------------------------------------------------------ posture prompts


def test_forward_head_raises_a_chin_tuck_prompt_with_a_nudge() -> None:
    r = make()
    (ev,) = raised(r.feed([UP, Seg(60.0, flexion_deg=11.0)]))
    p = ev.prompt
    assert p.kind == PromptKind.CHIN_TUCK
    assert p.nudge
    assert p.t_s == pytest.approx(T0 + 40.0, abs=0.21)
    assert p.reason == "Head forward for 30 s"
    details = dict(p.details)
    assert details["exercise"] in EXERCISES_BY_ID
    assert (details["reps"], details["hold_s"], details["episode_kind"]) == ("8", "5", "forward_head")
    assert r.coach.open_prompt == p
    assert p.prompt_id == 1


def test_slouch_raises_sit_tall_and_nudge_follows_the_policy() -> None:
    r = make(CoachPolicy(breaks_enabled=False, nudge_tag=False))
    (ev,) = raised(r.feed([UP, SLOUCH]))
    assert ev.prompt.kind == PromptKind.SIT_TALL
    assert not ev.prompt.nudge
    assert ev.prompt.reason.startswith("Slouching for")


def test_forward_head_that_has_become_a_slouch_is_prompted_as_a_slouch() -> None:
    r = make()
    (ev,) = raised(r.feed([UP, Seg(25.0, flexion_deg=11.0), Seg(20.0, flexion_deg=20.0)]))
    assert ev.prompt.t_s == pytest.approx(T0 + 40.0, abs=0.21)
    assert dict(ev.prompt.details)["episode_kind"] == "forward_head"
    assert ev.prompt.kind == PromptKind.SIT_TALL
    assert ev.prompt.reason == "Slouching for 30 s"


def test_side_lean_prompts_only_when_enabled() -> None:
    lean = [UP, Seg(60.0, lateral_deg=16.0)]
    r = make()
    events = r.feed(lean)
    assert raised(events) == []
    assert r.frames[-1].episode is not None
    r = make(CoachPolicy(breaks_enabled=False, side_lean_prompts=True))
    (ev,) = raised(r.feed(lean))
    assert ev.prompt.kind == PromptKind.SIT_TALL
    assert ev.prompt.reason.startswith("Leaning to one side")


def test_rate_limit_between_posture_prompts() -> None:
    r = make(CoachPolicy(breaks_enabled=False, min_prompt_interval_s=600.0))
    (first,) = raised(r.feed([UP, SLOUCH]))
    r.coach.answer(first.prompt.prompt_id, PromptOutcome.DONE, r.t_s)
    assert raised(r.feed([Seg(60.0), SLOUCH, Seg(60.0), Seg(40.0, flexion_deg=11.0)])) == []
    r.feed([Seg(600.0 - (r.t_s - first.prompt.t_s))], rate_hz=1.0)
    (second,) = raised(r.feed([SLOUCH]))
    assert second.prompt.t_s - first.prompt.t_s >= 600.0


def test_one_prompt_per_episode() -> None:
    r = make(CoachPolicy(breaks_enabled=False, min_prompt_interval_s=60.0))
    (ev,) = raised(r.feed([UP, SLOUCH]))
    r.coach.answer(ev.prompt.prompt_id, PromptOutcome.SKIPPED, r.t_s)
    assert raised(r.feed([Seg(1200.0, flexion_deg=20.0)], rate_hz=1.0)) == []


def test_snooze_silences_posture_prompts_then_the_ongoing_episode_prompts_again() -> None:
    r = make(CoachPolicy(breaks_enabled=False, min_prompt_interval_s=60.0, posture_snooze_s=300.0))
    (ev,) = raised(r.feed([UP, SLOUCH]))
    snoozed_at = r.t_s
    (ans,) = answered(r.coach.snooze(ev.prompt.prompt_id, snoozed_at))
    assert ans.outcome == PromptOutcome.SNOOZED
    assert r.coach.state.posture_snoozed_until_s == pytest.approx(snoozed_at + 300.0)
    assert raised(r.feed([Seg(299.0, flexion_deg=20.0)], rate_hz=1.0)) == []
    (again,) = raised(r.feed([Seg(5.0, flexion_deg=20.0)], rate_hz=1.0))
    assert again.prompt.t_s == pytest.approx(snoozed_at + 300.0, abs=1.0)
    assert dict(again.prompt.details)["episode_start_s"] == dict(ev.prompt.details)["episode_start_s"]
    assert again.prompt.prompt_id == ev.prompt.prompt_id + 1


def test_quiet_mode_tracks_but_never_prompts() -> None:
    r = make()
    r.coach.set_quiet(True)
    events = r.feed([UP, SLOUCH, Seg(60.0, flexion_deg=20.0)])
    assert raised(events) == []
    assert r.coach.state.quiet
    assert of_type([e for f in r.frames for e in f.events], EpisodeStarted)  # the detector still tracks
    r.coach.set_quiet(False)
    (ev,) = raised(r.feed([Seg(1.0, flexion_deg=20.0)]))
    assert ev.prompt.kind == PromptKind.SIT_TALL
    # Quiet from the policy too.
    r = make(CoachPolicy(breaks_enabled=False, quiet=True))
    assert raised(r.feed([UP, SLOUCH])) == []


def test_working_hours_use_local_time() -> None:
    start = float(calendar.timegm((2026, 1, 5, 7, 59, 0)))  # 08:59 local at UTC+1
    policy = CoachPolicy(breaks_enabled=False, working_hours=(9 * 60, 17 * 60))
    r = make(policy, t0=start, utc_offset_s=3600.0)
    assert raised(r.feed([UP, SLOUCH])) == []  # confirmed at 08:59:40 local
    assert not r.coach.state.in_working_hours
    (ev,) = raised(r.feed([Seg(30.0, flexion_deg=20.0)]))
    assert ev.prompt.t_s == pytest.approx(start + 60.0, abs=0.21)  # 09:00 local
    assert r.coach.state.in_working_hours


def test_utc_offset_may_be_a_function() -> None:
    start = float(calendar.timegm((2026, 1, 5, 20, 0, 0)))
    policy = CoachPolicy(breaks_enabled=False, working_hours=(9 * 60, 17 * 60))
    coach = Coach(policy, utc_offset_s=lambda t: -12 * 3600.0)  # 08:00 local: outside
    r = rig(coach=coach, t0=start)
    assert raised(r.feed([UP, SLOUCH])) == []
    coach = Coach(policy, utc_offset_s=lambda t: -8 * 3600.0)  # 12:00 local: inside
    r = rig(coach=coach, t0=start)
    assert len(raised(r.feed([UP, SLOUCH]))) == 1


def test_working_hours_helpers() -> None:
    assert parse_working_hours("09:00-17:30") == (540, 1050)
    assert parse_working_hours("") is None
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_working_hours("9-5")
    night = (22 * 60, 2 * 60)
    assert in_working_hours(23 * 60, night)
    assert in_working_hours(60, night)
    assert not in_working_hours(12 * 60, night)
    assert not in_working_hours(2 * 60, night)  # the end is exclusive
    assert in_working_hours(5, None)
    assert in_working_hours(5, (600, 600))


def test_unanswered_posture_prompt_expires() -> None:
    r = make()
    (ev,) = raised(r.feed([UP, Seg(60.0, flexion_deg=11.0)]))
    events = r.feed([Seg(200.0, flexion_deg=11.0)], rate_hz=1.0)
    (ans,) = answered(events)
    assert ans.outcome == PromptOutcome.EXPIRED
    assert ans.prompt_id == ev.prompt.prompt_id
    assert ans.t_s == pytest.approx(ev.prompt.t_s + 180.0, abs=1.0)
    assert r.coach.state.expired_today == 1


def test_sit_tall_completes_itself_when_the_wearer_sits_up() -> None:
    r = make()
    (ev,) = raised(r.feed([UP, SLOUCH]))
    (ans,) = answered(r.feed([Seg(10.0)]))
    assert ans.outcome == PromptOutcome.AUTO_COMPLETED
    assert ans.prompt_id == ev.prompt.prompt_id
    assert r.coach.open_prompt is None


def test_sit_tall_completes_itself_even_after_the_episode_escalated() -> None:
    r = make()
    (ev,) = raised(r.feed([UP, Seg(25.0, flexion_deg=11.0), Seg(40.0, flexion_deg=20.0)]))
    assert ev.prompt.kind == PromptKind.SIT_TALL
    assert r.coach.open_prompt is not None
    (ans,) = answered(r.feed([Seg(10.0)]))
    assert ans.outcome == PromptOutcome.AUTO_COMPLETED
    assert r.coach.state.auto_completed_today == 1


def test_chin_tuck_prompt_waits_for_an_answer_after_sitting_up() -> None:
    r = make()
    r.feed([UP, Seg(60.0, flexion_deg=11.0)])
    assert answered(r.feed([Seg(30.0)])) == []
    assert r.coach.open_prompt is not None


def test_answer_controls() -> None:
    r = make()
    (ev,) = raised(r.feed([UP, Seg(60.0, flexion_deg=11.0)]))
    pid = ev.prompt.prompt_id
    assert r.coach.answer(pid + 7, PromptOutcome.DONE, r.t_s) == []
    with pytest.raises(ValueError, match="not expired"):
        r.coach.answer(pid, PromptOutcome.EXPIRED, r.t_s)
    (ans,) = answered(r.coach.answer(pid, PromptOutcome.DONE, r.t_s))
    assert (ans.outcome, ans.kind) == (PromptOutcome.DONE, PromptKind.CHIN_TUCK)
    assert r.coach.answer(pid, PromptOutcome.DONE, r.t_s) == []  # a double click
    assert r.coach.state.done_today == 1


# ------------------------------------------------------------------------------------------ breaks


def test_break_due_after_the_sitting_limit() -> None:
    r = make(CoachPolicy(sitting_limit_s=600.0))
    events = r.feed([Seg(700.0)], rate_hz=1.0)
    (due,) = of_type(events, BreakDue)
    assert due.t_s == pytest.approx(T0 + 600.0, abs=1.0)
    (ev,) = raised(events)
    assert ev.prompt.kind == PromptKind.BREAK
    assert ev.prompt.nudge
    assert ev.prompt.reason == "Sitting for 10 min without a break"
    assert r.coach.state.next_break_in_s == 0.0
    assert r.coach.state.sitting_s == pytest.approx(699.0)


def test_break_is_credited_after_min_break_of_walking_and_completes_the_prompt() -> None:
    r = make(CoachPolicy(sitting_limit_s=600.0, min_break_s=60.0))
    (prompt,) = raised(r.feed([Seg(610.0)], rate_hz=1.0))
    up_at = r.t_s
    events = r.feed([STS, walk(70.0), STS, Seg(20.0)])
    (started,) = of_type(events, BreakStarted)
    assert started.kind == BreakKind.ON_FEET
    assert started.start_s == pytest.approx(up_at)
    (credit,) = of_type(events, BreakCredited)
    assert credit.t_s == pytest.approx(up_at + 60.0, abs=0.21)
    assert credit.duration_s >= 60.0
    assert credit.prompted
    (ans,) = answered(events)
    assert (ans.prompt_id, ans.outcome) == (prompt.prompt.prompt_id, PromptOutcome.AUTO_COMPLETED)
    (end,) = of_type(events, BreakEnded)
    assert end.credited
    assert end.duration_s == pytest.approx(74.0, abs=0.21)
    st = r.coach.state
    assert st.sitting_s == pytest.approx(20.0, abs=0.5)
    assert st.next_break_in_s == pytest.approx(580.0, abs=0.5)
    assert (st.breaks_today, st.natural_breaks_today, st.break_prompts_today) == (1, 0, 1)
    assert of_type(events, PromptRaised) == []


def test_natural_break_resets_the_sitting_clock() -> None:
    r = make(CoachPolicy(sitting_limit_s=600.0))
    events = r.feed([Seg(300.0), STS, walk(70.0), STS, Seg(100.0)], rate_hz=2.0)
    (credit,) = of_type(events, BreakCredited)
    assert not credit.prompted
    assert raised(events) == []
    st = r.coach.state
    assert st.natural_breaks_today == 1
    assert st.sitting_s == pytest.approx(100.0, abs=1.0)


def test_a_short_stand_does_not_count() -> None:
    r = make(CoachPolicy(sitting_limit_s=600.0, min_break_s=60.0))
    events = r.feed([Seg(300.0), STS, stand(30.0), STS, Seg(20.0)], rate_hz=2.0)
    assert len(of_type(events, BreakStarted)) == 1
    assert of_type(events, BreakCredited) == []
    (end,) = of_type(events, BreakEnded)
    assert not end.credited
    assert end.duration_s == pytest.approx(34.0, abs=0.6)
    assert r.coach.state.sitting_s == pytest.approx(320.0, abs=1.0)  # paused while up, never reset


def test_sit_to_stand_alone_is_not_a_break() -> None:
    r = make(CoachPolicy(sitting_limit_s=600.0))
    events = r.feed([Seg(60.0), STS, Seg(60.0), STS, Seg(60.0)])
    assert of_type(events, BreakStarted) == []
    assert r.coach.state.sitting_s == pytest.approx(180.0, abs=0.5)  # the 4 s up are not sitting


def test_long_absence_counts_as_a_break() -> None:
    r = make(CoachPolicy(sitting_limit_s=3600.0))
    r.feed([Seg(300.0)], rate_hz=1.0)
    gone = r.t_s
    events = r.feed([away(1200.0), Seg(30.0)], rate_hz=1.0)
    (started,) = of_type(events, BreakStarted)
    assert (started.kind, started.start_s) == (BreakKind.AWAY, gone)
    assert started.t_s == pytest.approx(gone + 300.0)
    (credit,) = of_type(events, BreakCredited)
    assert credit.kind == BreakKind.AWAY
    (end,) = of_type(events, BreakEnded)
    assert end.duration_s == pytest.approx(1200.0)
    assert r.coach.state.sitting_s == pytest.approx(30.0, abs=1.0)


def test_a_tag_not_yet_worn_is_not_time_away_from_the_chair() -> None:
    """Before the wearer has been seen seated (the tag lies on the desk at the start), absence is not a break
    and the dashboard does not say "up from the chair"."""
    r = make(CoachPolicy(sitting_limit_s=3600.0))
    events = r.feed([away(600.0)], rate_hz=1.0)
    assert r.coach.state.away_from_chair_s is None
    assert of_type(events, BreakStarted) == []
    events = r.feed([Seg(60.0)], rate_hz=1.0)
    assert of_type(events, BreakCredited) == []
    assert r.coach.state.sitting_s == pytest.approx(60.0, abs=1.5)


def test_a_short_dropout_is_neither_a_break_nor_sitting() -> None:
    r = make(CoachPolicy(sitting_limit_s=3600.0))
    events = r.feed([Seg(300.0), away(30.0), Seg(60.0)], rate_hz=1.0)
    assert of_type(events, BreakStarted) == []
    assert r.coach.state.sitting_s == pytest.approx(360.0, abs=1.5)


def test_missing_updates_count_as_absence_never_as_sitting() -> None:
    r = make(CoachPolicy(sitting_limit_s=3600.0))
    r.feed([Seg(300.0)], rate_hz=1.0)
    r.t_s += 20.0  # the link was down for 20 s: no updates at all
    r.feed([Seg(30.0)], rate_hz=1.0)
    assert r.coach.state.sitting_s == pytest.approx(329.0, abs=1.5)
    r.t_s += 1200.0  # and now for 20 minutes (lunch)
    events = r.feed([Seg(30.0)], rate_hz=1.0)
    (credit,) = of_type(events, BreakCredited)
    assert credit.kind == BreakKind.AWAY
    assert r.coach.state.sitting_s == pytest.approx(29.0, abs=1.5)


def test_walking_out_of_radio_range_is_still_one_on_feet_break() -> None:
    r = make(CoachPolicy(sitting_limit_s=3600.0, min_break_s=90.0))
    events = r.feed([Seg(100.0), STS, walk(20.0), away(60.0), walk(20.0), STS, Seg(20.0)], rate_hz=2.0)
    (started,) = of_type(events, BreakStarted)
    assert started.kind == BreakKind.ON_FEET
    (credit,) = of_type(events, BreakCredited)
    assert credit.kind == BreakKind.ON_FEET
    assert credit.duration_s == pytest.approx(90.0, abs=0.6)
    assert len(of_type(events, BreakEnded)) == 1


def test_skipping_a_break_starts_a_new_cycle() -> None:
    r = make(CoachPolicy(sitting_limit_s=600.0))
    (ev,) = raised(r.feed([Seg(601.0)], rate_hz=1.0))
    r.coach.answer(ev.prompt.prompt_id, PromptOutcome.SKIPPED, r.t_s)
    assert r.coach.state.next_break_in_s == pytest.approx(600.0, abs=1.0)
    events = r.feed([Seg(610.0)], rate_hz=1.0)
    (again,) = raised(events)
    assert again.prompt.t_s == pytest.approx(T0 + 1200.0, abs=2.0)
    assert len(of_type(events, BreakDue)) == 1


def test_snoozing_a_break_postpones_it() -> None:
    r = make(CoachPolicy(sitting_limit_s=600.0, break_snooze_s=300.0))
    (ev,) = raised(r.feed([Seg(601.0)], rate_hz=1.0))
    r.coach.snooze(ev.prompt.prompt_id, r.t_s)
    assert r.coach.state.break_snoozed_until_s == pytest.approx(r.t_s + 300.0)
    (again,) = raised(r.feed([Seg(310.0)], rate_hz=1.0))
    assert again.prompt.t_s == pytest.approx(T0 + 601.0 + 300.0, abs=1.0)


def test_ignored_break_prompts_expire_and_stop_after_max_prompts() -> None:
    policy = CoachPolicy(sitting_limit_s=600.0, break_prompt_expiry_s=600.0, break_snooze_s=300.0)
    r = make(policy)
    events = r.feed([Seg(4000.0)], rate_hz=1.0)
    times = [round(e.prompt.t_s - T0) for e in raised(events)]
    assert times == [600, 1500, 2400]
    assert [a.outcome for a in answered(events)] == [PromptOutcome.EXPIRED] * 3
    assert r.coach.state.break_prompts_today == 3


def test_no_posture_prompt_while_a_break_prompt_is_open() -> None:
    r = make(CoachPolicy(sitting_limit_s=60.0))
    events = r.feed([Seg(61.0), SLOUCH, Seg(60.0, flexion_deg=20.0)])
    assert [e.prompt.kind for e in raised(events)] == [PromptKind.BREAK]


def test_breaks_disabled() -> None:
    r = make(NO_BREAKS)
    events = r.feed([Seg(4000.0)], rate_hz=0.5)
    assert of_type(events, BreakDue) == []
    assert r.coach.state.next_break_in_s is None


def test_today_counters_restart_at_day_start() -> None:
    start = float(calendar.timegm((2026, 1, 6, 3, 59, 0)))
    r = make(t0=start)
    r.feed([UP, SLOUCH])
    assert r.coach.state.posture_prompts_today == 1
    r.feed([Seg(30.0)])  # past 04:00
    assert r.coach.state.posture_prompts_today == 0


def test_policy_is_validated() -> None:
    with pytest.raises(ValueError, match="sitting_limit_s"):
        CoachPolicy(sitting_limit_s=0.0)
    with pytest.raises(ValueError, match="working_hours"):
        CoachPolicy(working_hours=(0, 1440))
    with pytest.raises(ValueError, match="chin_tuck_reps"):
        CoachPolicy(chin_tuck_reps=0)


def test_defaults_mirror_the_config_defaults() -> None:
    from posturebuddy.config import BreakSettings, CoachSettings  # the test may import config

    c, b, ours = CoachSettings(), BreakSettings(), CoachPolicy()
    assert ours.min_prompt_interval_s == c.min_prompt_interval_min * 60.0
    assert ours.posture_snooze_s == c.snooze_min * 60.0
    assert (ours.nudge_tag, ours.quiet, ours.chin_tuck_reps) == (c.nudge_tag, c.quiet, c.chin_tuck_reps)
    assert ours.chin_tuck_hold_s == c.chin_tuck_hold_s
    assert ours.working_hours == parse_working_hours(c.working_hours)
    assert ours.breaks_enabled == b.enabled
    assert ours.sitting_limit_s == b.sitting_limit_min * 60.0
    assert ours.min_break_s == b.min_break_s
    assert ours.break_snooze_s == b.snooze_min * 60.0


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 44.6, 119, 120, 7199, 7200, 7500)] == [
        "0 s",
        "45 s",
        "119 s",
        "2 min",
        "119 min",
        "2 h",
        "2 h 5 min",
    ]


# ------------------------------------------------------------------------------------------ whole cases


def test_leaning_back_in_the_chair_never_prompts() -> None:
    r = make()
    events = r.feed([Seg(60.0), Seg(600.0, flexion_deg=-20.0, noise_deg=2.0), Seg(60.0)], rng=random.Random(5))
    assert raised(events) == []
    assert of_type([e for f in r.frames for e in f.events], EpisodeStarted) == []


def fidgety_upright(rng: random.Random) -> list[Seg]:
    """A restless but upright sitter (the classic false-alarm case): fidgets, reaches and quick leans into the
    screen, each back to upright within seconds."""
    segs: list[Seg] = []
    for _ in range(30):
        segs.append(Seg(rng.uniform(15.0, 40.0), flexion_deg=rng.uniform(-3.0, 5.0), noise_deg=1.0))
        pick = rng.randrange(3)
        if pick == 0:
            segs.append(Seg(rng.uniform(1.0, 5.0), flexion_deg=rng.uniform(0, 40), activity=Activity.FIDGET, energy=2))
        elif pick == 1:
            segs.append(Seg(rng.uniform(3.0, 7.0), flexion_deg=rng.uniform(25, 50), energy=1.5))
        else:
            segs.append(Seg(rng.uniform(6.0, 12.0), flexion_deg=rng.uniform(12.0, 18.0), noise_deg=1.0))
    return segs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fidgety_but_upright_never_prompts(seed: int) -> None:
    rng = random.Random(seed)
    r = make()
    events = r.feed(fidgety_upright(rng), rate_hz=5.0, rng=rng)
    assert raised(events) == []
    assert of_type([e for f in r.frames for e in f.events], EpisodeStarted) == []


def test_coach_replay_is_deterministic() -> None:
    def once() -> list[Event]:
        r = make(CoachPolicy(sitting_limit_s=300.0, min_prompt_interval_s=60.0))
        segs = [*fidgety_upright(random.Random(9))[:10], SLOUCH, Seg(300.0), STS, walk(70.0), STS, Seg(30.0)]
        return r.feed(segs, rate_hz=5.0, rng=random.Random(10))

    first = once()
    assert first
    assert first == once()


@pytest.mark.parametrize(("off_s", "kind"), [(180.0, None), (400.0, BreakKind.AWAY)])
def test_a_tag_taken_off_and_left_on_the_desk_is_not_a_wearer_on_their_feet(
    off_s: float, kind: BreakKind | None
) -> None:
    """Taking the tag off can look like standing up to the activity stage, and a tag lying still reads as
    "standing" (no steps). Lying 77 deg from upright it is off the body: time away (a break only after
    ``away_break_s``, as when it is out of range), never an on-feet break, and never sitting."""
    r = make(CoachPolicy(sitting_limit_s=3600.0, min_break_s=60.0, away_break_s=300.0))
    r.feed([Seg(300.0)], rate_hz=1.0)
    events = r.feed([Seg(off_s, flexion_deg=77.0, activity=Activity.STANDING), Seg(60.0)], rate_hz=1.0)
    assert [b.kind for b in of_type(events, BreakStarted)] == ([] if kind is None else [kind])
    assert [b.kind for b in of_type(events, BreakCredited)] == ([] if kind is None else [kind])
    assert r.coach.state.sitting_s == pytest.approx(360.0 if kind is None else 60.0, abs=1.5)
