"""Motion: from samples to tilt and movement (pure: numpy and imufusion only).

:mod:`posturebuddy.motion.orientation` turns :class:`~posturebuddy.model.Sample` objects into the
direction of gravity in the tag frame (``up_tag``) and a motion measure, streaming or in batch.
"""

from __future__ import annotations

from posturebuddy.motion.orientation import (
    AhrsSettings,
    OrientationSettings,
    SampleArrays,
    TiltEstimate,
    TiltEstimator,
    TiltSeries,
    TiltSource,
    estimate_tilt_batch,
    quat_to_up,
    tilt_angle_deg,
    up_to_quat,
)

__all__ = [
    "AhrsSettings",
    "OrientationSettings",
    "SampleArrays",
    "TiltEstimate",
    "TiltEstimator",
    "TiltSeries",
    "TiltSource",
    "estimate_tilt_batch",
    "quat_to_up",
    "tilt_angle_deg",
    "up_to_quat",
]
