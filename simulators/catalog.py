"""What the simulator offers: the shipped scenarios and the tag families, for ``python -m simulators list``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np

from posturebuddy.devices import get_family
from simulators.tags import TAG_CLASSES
from simulators.wearer import get_profile, list_scenarios, load_scenario
from simulators.wearer.scenario import Scenario, resolve_timeline

__all__ = ["DeviceInfo", "ScenarioInfo", "describe_range", "device_infos", "scenario_info", "scenario_infos"]

_LAYOUT_STREAM = 0
"""Index of the layout stream among the seed sequences :func:`simulators.wearer.simulate` spawns."""
_SEED_STREAMS = 5


@dataclass(frozen=True, slots=True)
class ScenarioInfo:
    """One scenario as ``list`` shows it.

    Attributes:
        name: the scenario id.
        duration_s: its length with its own seed, seconds.
        start_utc: the simulated calendar start, ISO 8601 UTC.
        seed: its seed.
        summary: the first sentence of its description.
        should_produce: what it should produce, from its description's "Should produce:" line.
        alert_episodes: the ``[expect]`` range of should-alert episodes, or None if not checked.
        breaks: the ``[expect]`` range of breaks, or None.
        min_alert_s: the episode length that counts as an alert, seconds.
    """

    name: str
    duration_s: float
    start_utc: str
    seed: int
    summary: str
    should_produce: str
    alert_episodes: tuple[int, int] | None
    breaks: tuple[int, int] | None
    min_alert_s: float


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One tag family as ``list`` shows it.

    Attributes:
        family_id: the id used by ``--device`` and in recordings.
        display_name: the product name.
        default_rate_hz: the rate the app asks for (and ``record`` uses) by default.
        rates_hz: the rates the simulated tag supports (a requested rate snaps to the nearest).
        streams: short names of the characteristics the app subscribes to.
        sensors: what the tag measures (``quaternion``, ``accel``, ``gyro``, ``mag``).
    """

    family_id: str
    display_name: str
    default_rate_hz: float
    rates_hz: tuple[float, ...]
    streams: tuple[str, ...]
    sensors: tuple[str, ...]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _summary(description: str) -> str:
    body = _one_line(description.split("Should produce:", 1)[0])
    match = re.match(r"(.+?[.:])(\s+[A-Z]|$)", body)
    return match.group(1).rstrip(".:") if match else body.rstrip(".")


def _should_produce(description: str) -> str:
    if "Should produce:" not in description:
        return ""
    return _one_line(description.split("Should produce:", 1)[1])


def describe_range(value: tuple[int, int] | None) -> str:
    """``(3, 3)`` as ``3``, ``(5, 20)`` as ``5-20``, ``None`` as ``-``."""
    if value is None:
        return "-"
    low, high = value
    return str(low) if low == high else f"{low}-{high}"


def _duration_s(scenario: Scenario) -> float:
    if scenario.duration_s is not None:
        return float(scenario.duration_s)
    layout = np.random.SeedSequence(scenario.seed).spawn(_SEED_STREAMS)[_LAYOUT_STREAM]
    _, total_s = resolve_timeline(scenario, np.random.default_rng(layout))
    return float(total_s)


def scenario_info(name: str) -> ScenarioInfo:
    """The :class:`ScenarioInfo` of a shipped scenario (or a scenario file path)."""
    sc = load_scenario(name)
    return ScenarioInfo(
        name=sc.name,
        duration_s=_duration_s(sc),
        start_utc=dt.datetime.fromtimestamp(sc.start_epoch_s, tz=dt.UTC).isoformat(timespec="seconds"),
        seed=sc.seed,
        summary=_summary(sc.description),
        should_produce=_should_produce(sc.description),
        alert_episodes=sc.expect.alert_episodes,
        breaks=sc.expect.breaks,
        min_alert_s=sc.expect.min_alert_s,
    )


def scenario_infos() -> list[ScenarioInfo]:
    """Every shipped scenario, by name."""
    return [scenario_info(name) for name in list_scenarios()]


def device_infos() -> list[DeviceInfo]:
    """Every tag family the simulator can play, in the registry's order."""
    out = []
    for family_id in TAG_CLASSES:
        family = get_family(family_id)
        names = {uuid: name for name, uuid in family.characteristics.items()}
        caps = family.capabilities
        sensors = tuple(
            name
            for name, present in (
                ("quaternion", caps.quaternion),
                ("accel", caps.accel),
                ("gyro", caps.gyro),
                ("mag", caps.mag),
            )
            if present
        )
        out.append(
            DeviceInfo(
                family_id=family_id,
                display_name=family.display_name,
                default_rate_hz=family.default_rate_hz,
                rates_hz=get_profile(family_id).rates_hz,
                streams=tuple(names.get(uuid, uuid) for uuid in family.notify_uuids),
                sensors=sensors,
            )
        )
    return out
