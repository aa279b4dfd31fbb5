"""Motion: from samples to tilt and movement (pure: numpy and imufusion only).

:mod:`posturebuddy.motion.orientation` turns :class:`~posturebuddy.model.Sample` objects into the
direction of gravity in the tag frame (``up_tag``) and a motion measure, streaming or in batch.
:mod:`posturebuddy.motion.calibration` holds the wearer's upright reference and turns ``up_tag`` into
posture angles; :mod:`posturebuddy.motion.activity` tells still, fidgeting, standing up, standing and walking.
"""

from __future__ import annotations

from posturebuddy.motion.activity import (
    ActivityClassifier,
    ActivityFrame,
    ActivitySeries,
    ActivitySettings,
    classify_activity_batch,
)
from posturebuddy.motion.calibration import (
    CalibrationError,
    CalibrationMethod,
    ForwardMethod,
    LeanCapture,
    RefineSettings,
    SlipDetector,
    SlipEvent,
    UprightCapture,
    UprightReference,
    UprightRefiner,
    auto_upright,
    posture_angles,
    posture_angles_batch,
    span_upright,
)
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
    "ActivityClassifier",
    "ActivityFrame",
    "ActivitySeries",
    "ActivitySettings",
    "AhrsSettings",
    "CalibrationError",
    "CalibrationMethod",
    "ForwardMethod",
    "LeanCapture",
    "OrientationSettings",
    "SampleArrays",
    "SlipDetector",
    "SlipEvent",
    "TiltEstimate",
    "TiltEstimator",
    "TiltSeries",
    "TiltSource",
    "RefineSettings",
    "UprightCapture",
    "UprightRefiner",
    "UprightReference",
    "auto_upright",
    "classify_activity_batch",
    "estimate_tilt_batch",
    "posture_angles",
    "posture_angles_batch",
    "quat_to_up",
    "span_upright",
    "tilt_angle_deg",
    "up_to_quat",
]
