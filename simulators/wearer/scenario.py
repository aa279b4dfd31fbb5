"""Scenario files: a seed, a duration and a timeline of behaviour segments, as TOML.

See ``simulators/wearer/README.md`` for the format. :func:`load_scenario` validates everything up front and
raises :class:`ScenarioError` with a message naming the file, the place in the timeline and the key.
:func:`resolve_timeline` lays the timeline out in time, drawing randomised values from the seed.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final

import numpy as np

from simulators.wearer.behaviours import KINDS, ParamSpec, ParamValue
from simulators.wearer.body import MountParams, WearerParams
from simulators.wearer.imu import MagneticEnv

SCENARIO_DIR: Final = Path(__file__).with_name("scenarios")
DEFAULT_START: Final = dt.datetime(2026, 1, 5, 9, 0, 0, tzinfo=dt.UTC)
MAX_REPEAT: Final = 1000

# (low, high) plausibility limits for the [wearer] table.
_WEARER_LIMITS: Final[Mapping[str, tuple[float, float]]] = {
    "trunk_length_m": (0.25, 0.7),
    "upper_offset_m": (0.0, 0.2),
    "skin_offset_m": (0.0, 0.2),
    "seated_hip_height_m": (0.2, 0.9),
    "standing_hip_height_m": (0.6, 1.3),
    "neck_coupling": (0.0, 1.0),
    "back_inclination_deg": (-30.0, 50.0),
    "standing_flexion_deg": (-15.0, 15.0),
    "breathing_hz": (0.05, 1.0),
    "breathing_tilt_deg": (0.0, 3.0),
    "sway_deg": (0.0, 5.0),
}


class ScenarioError(ValueError):
    """A scenario file is malformed. The message names the file and the offending key."""


RawParam = float | bool | tuple[float, float]


@dataclass(frozen=True, slots=True)
class SegmentSpec:
    """One behaviour segment as written in the file (values may still be [low, high] ranges).

    Attributes:
        kind: behaviour kind (a key of :data:`simulators.wearer.behaviours.KINDS`).
        params: every parameter of the kind, defaults filled in.
        where: location in the file, e.g. ``timeline[3].segments[1]``.
    """

    kind: str
    params: Mapping[str, RawParam]
    where: str


@dataclass(frozen=True, slots=True)
class BlockSpec:
    """A group of items repeated ``repeat`` times (random values are drawn afresh each time)."""

    repeat: int
    items: tuple[SegmentSpec | BlockSpec, ...]
    where: str


@dataclass(frozen=True, slots=True)
class Expectations:
    """What the scenario's ground truth should contain (checked by the tests for the scenario's own seed).

    Attributes:
        alert_episodes: inclusive (min, max) number of should-alert episodes, or None for "not checked".
        breaks: inclusive (min, max) number of breaks, or None.
        min_alert_s: minimum episode length used for ``alert_episodes``, seconds.
    """

    alert_episodes: tuple[int, int] | None = None
    breaks: tuple[int, int] | None = None
    min_alert_s: float = 60.0


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario.

    Attributes:
        name: short id (defaults to the file stem).
        description: what the scenario exercises and what it should produce.
        seed: base seed; every random draw derives from it.
        duration_s: recording length; the timeline is cut here (None: the timeline's own length).
        start_epoch_s: simulated POSIX time of the first sample.
        heading_deg: direction the wearer faces at the desk, counterclockwise from east.
        wearer: body parameters.
        mount: tag mounting.
        magnetic: magnetic environment.
        timeline: the items in file order.
        expect: expectations on the ground truth.
        source: file the scenario came from ("" if built in code).
    """

    name: str
    description: str
    seed: int
    duration_s: float | None
    start_epoch_s: float
    heading_deg: float
    wearer: WearerParams
    mount: MountParams
    magnetic: MagneticEnv
    timeline: tuple[SegmentSpec | BlockSpec, ...]
    expect: Expectations = field(default_factory=Expectations)
    source: str = ""

    @property
    def off_body(self) -> bool:
        """The timeline has the tag off the body (``tag_pose`` segments, e.g. ``six_faces``): its posture truth is
        all ``away`` and means nothing, so it is not for posture scoring."""
        return any(seg.kind == "tag_pose" for seg in _iter_segments(self.timeline))


@dataclass(frozen=True, slots=True)
class ResolvedSegment:
    """A segment placed in time with concrete parameter values.

    Attributes:
        index: position in the resolved timeline.
        kind: behaviour kind.
        start_s: start, seconds from the recording start.
        end_s: nominal end (the recording may stop earlier), seconds from the recording start.
        params: concrete parameter values.
        where: location of the segment in the scenario file.
    """

    index: int
    kind: str
    start_s: float
    end_s: float
    params: Mapping[str, ParamValue]
    where: str


# ---------------------------------------------------------------------------------------------------------------
# Parsing


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))


def _number(v: object, where: str, lo: float = -math.inf, hi: float = math.inf) -> float:
    if not _is_number(v):
        raise ScenarioError(f"{where} must be a number, got {v!r}")
    x = float(v)  # type: ignore[arg-type]
    if not lo <= x <= hi:
        raise ScenarioError(f"{where} must be between {lo:g} and {hi:g}, got {x:g}")
    return x


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise ScenarioError(f"{where}: unknown key '{key}' (allowed: {', '.join(allowed)})")


def _param(spec: ParamSpec, value: object, where: str) -> RawParam:
    if spec.is_bool:
        if not isinstance(value, bool):
            raise ScenarioError(f"{where} must be true or false, got {value!r}")
        return value
    if isinstance(value, list):
        if len(value) != 2 or not all(_is_number(v) for v in value):
            raise ScenarioError(f"{where} must be a number or a [low, high] pair of numbers, got {value!r}")
        lo = _number(value[0], where, spec.lo, spec.hi)
        hi = _number(value[1], where, spec.lo, spec.hi)
        if lo > hi:
            raise ScenarioError(f"{where}: range [{lo:g}, {hi:g}] has low > high")
        return (lo, hi)
    if not _is_number(value):
        raise ScenarioError(f"{where} must be a number or a [low, high] pair of numbers, got {value!r}")
    return _number(value, where, spec.lo, spec.hi)


def _parse_segment(table: Mapping[str, Any], where: str) -> SegmentSpec:
    kind = table.get("kind")
    if kind is None:
        raise ScenarioError(f"{where}: missing key 'kind' (one of: {', '.join(KINDS)})")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ScenarioError(f"{where}: key 'kind' must be one of {', '.join(KINDS)}; got {kind!r}")
    spec = KINDS[kind]
    _check_keys(table, ["kind", *spec.params], f"{where} ({kind})")
    params: dict[str, RawParam] = {}
    for name, ps in spec.params.items():
        key_where = f"{where} ({kind}): key '{name}'"
        if name in table:
            params[name] = _param(ps, table[name], key_where)
        elif ps.default is None:
            raise ScenarioError(f"{where} ({kind}): missing key '{name}' ({ps.doc})")
        else:
            params[name] = ps.default
    if kind == "tag_removed":
        dur = params["duration_s"]
        shortest = dur[0] if isinstance(dur, tuple) else float(dur)
        handling = params["handling_s"]
        longest_h = handling[1] if isinstance(handling, tuple) else float(handling)
        if shortest < 2.0 * longest_h + 1.0:
            raise ScenarioError(f"{where} (tag_removed): key 'duration_s' must be at least 2 * handling_s + 1 s")
    if kind == "tag_pose":
        dur = params["duration_s"]
        shortest = dur[0] if isinstance(dur, tuple) else float(dur)
        turn = params["turn_s"]
        longest_turn = turn[1] if isinstance(turn, tuple) else float(turn)
        if shortest < longest_turn + 0.5:
            raise ScenarioError(f"{where} (tag_pose): key 'duration_s' must be at least turn_s + 0.5 s")
        biggest = [max(abs(v[0]), abs(v[1])) if isinstance(v, tuple) else abs(float(v)) for v in _up(params)]
        if max(biggest) == 0.0:
            raise ScenarioError(f"{where} (tag_pose): keys 'up_x', 'up_y', 'up_z' are all 0 (no up direction)")
    return SegmentSpec(kind, params, where)


def _up(params: Mapping[str, RawParam]) -> tuple[float | tuple[float, float], ...]:
    out: list[float | tuple[float, float]] = []
    for key in ("up_x", "up_y", "up_z"):
        v = params[key]
        out.append(v if isinstance(v, tuple) else float(v))
    return tuple(out)


def _parse_items(items: object, where: str) -> tuple[SegmentSpec | BlockSpec, ...]:
    if not isinstance(items, list) or not items:
        raise ScenarioError(f"{where} must be a non-empty array of tables ([[{where}]])")
    out: list[SegmentSpec | BlockSpec] = []
    for i, item in enumerate(items):
        w = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ScenarioError(f"{w} must be a table")
        if "repeat" in item or "segments" in item:
            _check_keys(item, ["repeat", "segments"], w)
            if "segments" not in item:
                raise ScenarioError(f"{w}: missing key 'segments' (a block needs [[{where}.segments]])")
            rep = item.get("repeat", 1)
            if not isinstance(rep, int) or isinstance(rep, bool) or not 1 <= rep <= MAX_REPEAT:
                raise ScenarioError(f"{w}: key 'repeat' must be an integer from 1 to {MAX_REPEAT}, got {rep!r}")
            out.append(BlockSpec(rep, _parse_items(item["segments"], f"{w}.segments"), w))
        else:
            out.append(_parse_segment(item, w))
    return tuple(out)


def _parse_dataclass_table(cls: type[Any], table: object, where: str, limits: Mapping[str, tuple[float, float]]) -> Any:
    if not isinstance(table, dict):
        raise ScenarioError(f"{where} must be a table")
    names = [f.name for f in fields(cls)]
    _check_keys(table, names, where)
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        lo, hi = limits.get(key, (-math.inf, math.inf))
        kwargs[key] = _number(value, f"{where}: key '{key}'", lo, hi)
    return cls(**kwargs)


def _vec3(value: object, where: str, limit: float) -> tuple[float, float, float]:
    if not isinstance(value, list) or len(value) != 3:
        raise ScenarioError(f"{where} must be a list of 3 numbers, got {value!r}")
    a, b, c = (_number(v, where, -limit, limit) for v in value)
    return (a, b, c)


def _range_or_int(value: object, where: str) -> tuple[int, int]:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return (value, value)
    if (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
        and value[0] <= value[1]
    ):
        return (int(value[0]), int(value[1]))
    raise ScenarioError(f"{where} must be a count >= 0 or a [min, max] pair of counts, got {value!r}")


def _start_epoch(value: object, where: str) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ScenarioError(f"{where} must carry a UTC offset, e.g. 2026-01-05T09:00:00Z")
        return value.timestamp()
    if _is_number(value):
        return float(value)  # type: ignore[arg-type]
    raise ScenarioError(f"{where} must be an offset date-time (2026-01-05T09:00:00Z) or epoch seconds, got {value!r}")


_TOP_KEYS: Final = (
    "name",
    "description",
    "seed",
    "duration_s",
    "start",
    "heading_deg",
    "wearer",
    "mount",
    "magnetic",
    "expect",
    "timeline",
)


def parse_scenario(data: Mapping[str, Any], source: str = "<scenario>", default_name: str = "scenario") -> Scenario:
    """Validate a parsed TOML document and build a :class:`Scenario`.

    Raises:
        ScenarioError: with a message naming ``source`` and the key at fault.
    """
    w = source
    _check_keys(data, _TOP_KEYS, w)
    name = data.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise ScenarioError(f"{w}: key 'name' must be a non-empty string")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ScenarioError(f"{w}: key 'description' must be a string")
    if "seed" not in data:
        raise ScenarioError(f"{w}: missing key 'seed' (an integer >= 0)")
    seed = data["seed"]
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ScenarioError(f"{w}: key 'seed' must be an integer >= 0, got {seed!r}")
    duration = data.get("duration_s")
    duration_s = None if duration is None else _number(duration, f"{w}: key 'duration_s'", 1.0, 7 * 86400.0)
    start = _start_epoch(data.get("start", DEFAULT_START), f"{w}: key 'start'")
    heading = _number(data.get("heading_deg", 0.0), f"{w}: key 'heading_deg'", -360.0, 360.0)
    wearer = _parse_dataclass_table(WearerParams, data.get("wearer", {}), f"{w}: [wearer]", _WEARER_LIMITS)

    mount_t = data.get("mount", {})
    if not isinstance(mount_t, dict):
        raise ScenarioError(f"{w}: [mount] must be a table")
    _check_keys(mount_t, ["misalignment_deg", "remount_jitter_deg"], f"{w}: [mount]")
    mount = MountParams(
        misalignment_deg=_vec3(
            mount_t.get("misalignment_deg", list(MountParams().misalignment_deg)),
            f"{w}: [mount] key 'misalignment_deg'",
            30.0,
        ),
        remount_jitter_deg=_number(
            mount_t.get("remount_jitter_deg", MountParams().remount_jitter_deg),
            f"{w}: [mount] key 'remount_jitter_deg'",
            0.0,
            20.0,
        ),
    )

    mag_t = data.get("magnetic", {})
    if not isinstance(mag_t, dict):
        raise ScenarioError(f"{w}: [magnetic] must be a table")
    _check_keys(mag_t, ["field_ut", "dip_deg", "disturbance_ut"], f"{w}: [magnetic]")
    magnetic = MagneticEnv(
        field_ut=_number(mag_t.get("field_ut", 50.0), f"{w}: [magnetic] key 'field_ut'", 20.0, 80.0),
        dip_deg=_number(mag_t.get("dip_deg", 60.0), f"{w}: [magnetic] key 'dip_deg'", -90.0, 90.0),
        disturbance_ut=_vec3(
            mag_t.get("disturbance_ut", [0.0, 0.0, 0.0]), f"{w}: [magnetic] key 'disturbance_ut'", 200.0
        ),
    )

    exp_t = data.get("expect", {})
    if not isinstance(exp_t, dict):
        raise ScenarioError(f"{w}: [expect] must be a table")
    _check_keys(exp_t, ["alert_episodes", "breaks", "min_alert_s"], f"{w}: [expect]")
    expect = Expectations(
        alert_episodes=None
        if "alert_episodes" not in exp_t
        else _range_or_int(exp_t["alert_episodes"], f"{w}: [expect] key 'alert_episodes'"),
        breaks=None if "breaks" not in exp_t else _range_or_int(exp_t["breaks"], f"{w}: [expect] key 'breaks'"),
        min_alert_s=_number(exp_t.get("min_alert_s", 60.0), f"{w}: [expect] key 'min_alert_s'", 1.0, 3600.0),
    )

    if "timeline" not in data:
        raise ScenarioError(f"{w}: missing key 'timeline' (add [[timeline]] tables)")
    try:
        timeline = _parse_items(data["timeline"], "timeline")
    except ScenarioError as exc:
        raise ScenarioError(f"{w}: {exc}") from None
    timeline = _prefix_where(timeline, w)
    _check_postures(timeline)
    shortest, _ = timeline_bounds_s(timeline)
    if duration_s is not None and shortest < duration_s:
        raise ScenarioError(
            f"{w}: key 'duration_s' is {duration_s:g} s but the timeline can be as short as {shortest:g} s; "
            "lengthen the timeline (e.g. the last segment) or shorten duration_s"
        )
    return Scenario(
        name=name,
        description=description,
        seed=seed,
        duration_s=duration_s,
        start_epoch_s=start,
        heading_deg=heading,
        wearer=wearer,
        mount=mount,
        magnetic=magnetic,
        timeline=timeline,
        expect=expect,
        source=source,
    )


def _prefix_where(items: tuple[SegmentSpec | BlockSpec, ...], source: str) -> tuple[SegmentSpec | BlockSpec, ...]:
    out: list[SegmentSpec | BlockSpec] = []
    for it in items:
        if isinstance(it, SegmentSpec):
            out.append(SegmentSpec(it.kind, it.params, f"{source}: {it.where}"))
        else:
            out.append(BlockSpec(it.repeat, _prefix_where(it.items, source), f"{source}: {it.where}"))
    return tuple(out)


def _iter_segments(items: Sequence[SegmentSpec | BlockSpec]) -> list[SegmentSpec]:
    out: list[SegmentSpec] = []
    for it in items:
        if isinstance(it, SegmentSpec):
            out.append(it)
        else:
            for _ in range(it.repeat):
                out.extend(_iter_segments(it.items))
    return out


def _check_postures(items: Sequence[SegmentSpec | BlockSpec]) -> None:
    """Check that each segment is possible in the posture (seated/standing) the previous ones leave."""
    standing = False
    off_body = False
    segs = _iter_segments(items)
    for i, seg in enumerate(segs):
        spec = KINDS[seg.kind]
        if off_body and seg.kind != "tag_pose":
            raise ScenarioError(
                f"{seg.where} ({seg.kind}): the tag is off the body after a tag_pose segment; "
                "only tag_pose segments may follow"
            )
        off_body = off_body or seg.kind == "tag_pose"
        state = "standing" if standing else "seated"
        if spec.needs != "any" and spec.needs != state:
            fix = "a stand_up" if spec.needs == "standing" else "a sit_down"
            raise ScenarioError(f"{seg.where} ({seg.kind}): the wearer is {state} here; add {fix} segment before it")
        if spec.leaves in ("seated", "standing"):
            standing = spec.leaves == "standing"
        if seg.kind == "tag_removed" and seg.params["put_back"] is False and i != len(segs) - 1:
            raise ScenarioError(
                f"{seg.where} (tag_removed): key 'put_back' may be false only on the last segment of the timeline"
            )


def load_scenario(source: str | Path) -> Scenario:
    """Load and validate a scenario file, by path or by the name of a shipped scenario (e.g. ``"good_day"``).

    Raises:
        ScenarioError: the file is malformed (message names the key).
        FileNotFoundError: no such file or shipped scenario.
    """
    path = Path(source)
    if not path.exists():
        candidate = SCENARIO_DIR / f"{source}.toml"
        if not candidate.exists():
            raise FileNotFoundError(f"no scenario file '{source}' (shipped: {', '.join(list_scenarios())})")
        path = candidate
    with path.open("rb") as fh:
        try:
            data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError(f"{path.name}: not valid TOML: {exc}") from exc
    return parse_scenario(data, source=path.name, default_name=path.stem)


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


# ---------------------------------------------------------------------------------------------------------------
# Layout in time


def _draw(value: RawParam, rng: np.random.Generator) -> ParamValue:
    if isinstance(value, tuple):
        lo, hi = value
        return float(rng.uniform(lo, hi)) if hi > lo else lo
    return value


def resolve_timeline(
    scenario: Scenario, rng: np.random.Generator, duration_s: float | None = None
) -> tuple[tuple[ResolvedSegment, ...], float]:
    """Place the timeline in time, drawing every [low, high] value from ``rng`` in file order.

    Args:
        scenario: the scenario.
        rng: random source for the layout (draw order is fixed, so a seed reproduces the layout).
        duration_s: cut the recording here (overrides the scenario's ``duration_s``).

    Returns:
        ``(segments, total_s)``: segments that start before the cut, and the recording length.
    """
    limit = duration_s if duration_s is not None else scenario.duration_s
    out: list[ResolvedSegment] = []
    t = 0.0
    for seg in _iter_segments(scenario.timeline):
        params = {k: _draw(v, rng) for k, v in seg.params.items()}
        dur = float(params["duration_s"])
        if limit is not None and t >= limit:
            break
        out.append(ResolvedSegment(len(out), seg.kind, t, t + dur, params, seg.where))
        t += dur
    total = t if limit is None else min(limit, t)
    return tuple(out), float(total)


def timeline_bounds_s(items: Sequence[SegmentSpec | BlockSpec]) -> tuple[float, float]:
    """Shortest and longest possible timeline length, seconds (from the [low, high] duration ranges)."""
    lo = hi = 0.0
    for seg in _iter_segments(items):
        d = seg.params["duration_s"]
        if isinstance(d, tuple):
            lo += d[0]
            hi += d[1]
        else:
            lo += float(d)
            hi += float(d)
    return lo, hi
