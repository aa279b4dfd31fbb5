"""Recordings that hold only minute summaries (as after retention trimmed the raw packets): fast history data."""

from __future__ import annotations

from pathlib import Path

from posturebuddy.model import PostureClass
from posturebuddy.session.recording import MinuteSummary, RecordingMetadata, RecordingWriter, SourceKind


def minute(
    start_s: float,
    *,
    upright_s: float = 60.0,
    slouch_s: float = 0.0,
    no_data_s: float = 0.0,
    episodes: dict[str, int] | None = None,
    prompts: dict[str, int] | None = None,
    outcomes: dict[str, int] | None = None,
    breaks: int = 0,
    streak_s: float = 0.0,
) -> MinuteSummary:
    """A minute row: ``upright_s`` + ``slouch_s`` seated seconds, counts by kind in ``detail``."""
    posture = {PostureClass.UPRIGHT: upright_s, PostureClass.SLOUCH: slouch_s}
    detail: dict[str, object] = {"sitting_streak_max_s": streak_s, "flexion_mean_deg": 3.0}
    counts = {"episodes_by_kind": episodes, "prompts_by_kind": prompts, "outcomes": outcomes}
    detail.update({key: value for key, value in counts.items() if value})
    return MinuteSummary(
        minute_start_s=start_s,
        posture_s={k: v for k, v in posture.items() if v},
        no_data_s=no_data_s,
        sitting_s=upright_s + slouch_s,
        episodes=sum((episodes or {}).values()),
        prompts=sum((prompts or {}).values()),
        prompts_done=(outcomes or {}).get("done", 0),
        breaks=breaks,
        detail=detail,
    )


def write_minutes(path: Path, rows: list[MinuteSummary]) -> Path:
    """A closed recording at ``path`` holding ``rows`` and no packets."""
    metadata = RecordingMetadata(tag_family="posturebuddy", source_kind=SourceKind.LIVE)
    with RecordingWriter(path, metadata) as writer:
        for row in rows:
            writer.append_minute_summary(row)
    return path
