"""The numba-compiled activity loop (``posturebuddy.motion._activity_kernel``) gives the Python classifier's codes.

The Python :class:`ActivityClassifier` is the reference (and the streaming path); the compiled kernel is what the
batch analysis runs when numba is installed. They are compared row for row on simulated days of every input kind
(quaternion, accelerometer + gyroscope, accelerometer only), with data gaps and ticks, a tilt-source change, a
high sample rate (ring buffers growing) and non-default settings.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import numpy.typing as npt
import pytest

from posturebuddy.model import Activity
from posturebuddy.motion import SampleArrays, TiltSeries, estimate_tilt_batch
from posturebuddy.motion.activity import (
    ACTIVITY_CODES,
    AFTER_GAP_MOVEMENT_G,
    JIT_ENV_VAR,
    STANDARD_GRAVITY_MPS2,
    ActivityClassifier,
    ActivitySettings,
    activity_codes_compiled,
    oriented_rows,
)
from simulators.wearer import simulate

pytest.importorskip(
    "numba", reason="numba is not installed: the compiled batch path is optional (pip install posturebuddy[fast])"
)

from posturebuddy.motion import _activity_kernel  # needs numba: imported after the skip

Inputs = tuple[
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
    npt.NDArray[np.bool_],
    npt.NDArray[np.float64],
    npt.NDArray[np.bool_],
    npt.NDArray[np.bool_],
]


def _inputs(device: str, scenario: str, seed: int | None, duration_s: float, rate_hz: float = 50.0) -> Inputs:
    """Rows as the batch analysis checks them: (t, accel, has_acc, up, has_up, oriented)."""
    rec = simulate(scenario, device=device, seed=seed, duration_s=duration_s, rate_hz=rate_hz)
    p = rec.present[:, None]
    acc = np.where(p, rec.accel_g, np.nan)
    if device == "posturebuddy":
        arr = SampleArrays.create(rec.t_s, accel_g=acc, quat_wxyz=np.where(p, rec.quat_wxyz, np.nan))
    elif device == "microbit":
        arr = SampleArrays.create(rec.t_s, accel_g=acc)
    else:
        arr = SampleArrays.create(rec.t_s, accel_g=acc, gyro_dps=np.where(p, rec.gyro_dps, np.nan))
    tilt: TiltSeries = estimate_tilt_batch(arr)
    sq = np.nansum(acc * acc, axis=1)
    has_acc = np.all(np.isfinite(acc), axis=1) & (sq >= 1e-12) & rec.present
    has_up = tilt.valid & rec.present
    return rec.t_s, acc, has_acc, tilt.up_tag, has_up, oriented_rows(tilt) & has_up


def _python_codes(inputs: Inputs, settings: ActivitySettings | None = None) -> npt.NDArray[np.int8]:
    t, acc, has_acc, up, has_up, oriented = inputs
    acc_rows = [tuple(a) if h else None for a, h in zip(acc.tolist(), has_acc.tolist(), strict=True)]
    up_rows = [tuple(u) if h else None for u, h in zip(up.tolist(), has_up.tolist(), strict=True)]
    codes = ActivityClassifier(settings).run_codes(t.tolist(), acc_rows, up_rows, oriented.tolist())
    return np.asarray(codes, dtype=np.int8)


def _assert_same(inputs: Inputs, settings: ActivitySettings | None = None) -> npt.NDArray[np.int8]:
    want = _python_codes(inputs, settings)
    got = activity_codes_compiled(*inputs, settings=settings)
    assert got is not None
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, f"{bad.size} rows differ, first at {bad[:5].tolist()}: {got[bad[:5]]} vs {want[bad[:5]]}"
    return want


def _seen(codes: npt.NDArray[np.int8]) -> set[Activity]:
    return {ACTIVITY_CODES[c] for c in np.unique(codes).tolist()}


@pytest.mark.parametrize(
    ("device", "scenario", "seed"),
    [
        ("posturebuddy", "stands_and_walks", None),
        ("posturebuddy", "slouchy_afternoon", 2),
        ("witmotion", "stands_and_walks", 21),
        ("witmotion", "fidgety_upright", 1),
        ("microbit", "stands_and_walks", 3),
    ],
)
def test_compiled_codes_equal_the_python_loop(device: str, scenario: str, seed: int | None) -> None:
    codes = _assert_same(_inputs(device, scenario, seed, 600.0))
    assert Activity.STILL in _seen(codes)


def test_walking_and_transitions_are_covered() -> None:
    """The comparison is not vacuous: the day has every activity the classifier can tell."""
    codes = _assert_same(_inputs("posturebuddy", "stands_and_walks", None, 900.0))
    assert {Activity.STILL, Activity.FIDGET, Activity.SIT_TO_STAND, Activity.STANDING, Activity.WALKING} <= _seen(codes)


def test_gaps_ticks_and_a_tilt_source_change() -> None:
    """Pauses (ticks, no data, data resuming mid-walk) and the vertical signal switching kind half way."""
    t, acc, has_acc, up, has_up, oriented = _inputs("posturebuddy", "stands_and_walks", 7, 900.0)
    n = t.shape[0]
    gone = np.zeros(n, dtype=bool)
    # 3 s, 90 s (long enough to be seated again), 0.8 s, 60 s, 1.2 s at 50 Hz
    for start, length in ((0.2, 150), (0.3, 4500), (0.45, 40), (0.62, 3000), (0.8, 60)):
        i = int(start * n)
        gone[i : i + length] = True
    has_acc = has_acc & ~gone
    has_up = has_up & ~gone
    oriented = oriented & has_up & (np.arange(n) < n // 2)  # quaternion projection, then |a|
    codes = _assert_same((t, acc, has_acc, up, has_up, oriented))
    assert Activity.NO_DATA in _seen(codes)
    # accelerometer rows without tilt, and tilt rows without accelerometer
    _assert_same((t, acc, has_acc & (np.arange(n) % 7 != 0), up, has_up & (np.arange(n) % 5 != 0), oriented))


def test_high_rate_grows_the_ring_buffers() -> None:
    """At 200 Hz the burst buffer (9 s) and the offset history outgrow their first allocation."""
    _assert_same(_inputs("witmotion", "stands_and_walks", None, 300.0, rate_hz=200.0))


def test_settings_reach_the_kernel() -> None:
    inputs = _inputs("posturebuddy", "stands_and_walks", 21, 600.0)
    settings = ActivitySettings(min_steps=3, fidget_g=0.05, settle_s=0.7, transition_m=0.15, min_swing_deg=12.0)
    default = _assert_same(inputs)
    changed = _assert_same(inputs, settings)
    assert not np.array_equal(default, changed)


def test_kernel_constants_match_the_classifier() -> None:
    assert tuple(f.name for f in dataclasses.fields(ActivitySettings)) == _activity_kernel.PARAM_NAMES
    assert _activity_kernel.AFTER_GAP_G == AFTER_GAP_MOVEMENT_G
    assert _activity_kernel.G_MPS2 == STANDARD_GRAVITY_MPS2
    for name in ("STILL", "FIDGET", "SIT_TO_STAND", "STANDING", "WALKING", "NO_DATA"):
        assert getattr(_activity_kernel, name) == ACTIVITY_CODES.index(Activity[name])


def test_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(JIT_ENV_VAR, "0")
    inputs = _inputs("microbit", "fidgety_upright", None, 30.0)
    assert activity_codes_compiled(*inputs) is None


def test_numba_is_not_imported_by_the_engine_or_analyze() -> None:
    """numba loads only when the batch analysis runs the activity stage (not at start-up of demo / run)."""
    code = (
        "import sys\n"
        "import posturebuddy.motion, posturebuddy.session.engine, posturebuddy.session.analyze, posturebuddy.cli\n"
        "print('numba' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**os.environ}, timeout=60
    )
    assert out.stdout.strip() == "False"
