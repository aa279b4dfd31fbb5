"""The virtual wearer: human motion of a seated desk worker, the IMU signals of a tag on their upper back,
scripted scenarios (TOML) and ground truth to score posture detection against.

Pure numpy; no asyncio, no bleak. Start with :func:`simulate`; frames, behaviours and the scenario format are
described in ``simulators/wearer/README.md``.
"""

from __future__ import annotations

from simulators.wearer.behaviours import ACTIVITIES, KINDS, POSTURE_CLASSES
from simulators.wearer.body import MountParams, WearerParams
from simulators.wearer.imu import DeviceProfile, MagneticEnv, SensorErrors, get_profile, load_profiles
from simulators.wearer.scenario import Scenario, ScenarioError, list_scenarios, load_scenario, parse_scenario
from simulators.wearer.simulation import SimulatedRecording, simulate
from simulators.wearer.truth import Break, Episode, GroundTruth

__all__ = [
    "ACTIVITIES",
    "KINDS",
    "POSTURE_CLASSES",
    "Break",
    "DeviceProfile",
    "Episode",
    "GroundTruth",
    "MagneticEnv",
    "MountParams",
    "Scenario",
    "ScenarioError",
    "SensorErrors",
    "SimulatedRecording",
    "WearerParams",
    "get_profile",
    "list_scenarios",
    "load_profiles",
    "load_scenario",
    "parse_scenario",
    "simulate",
]
