"""A sensor whose documented (or default) forward axis points along gravity still gets an upright reference:
the capture must not fail on it (a generic IMU lying flat, a tag worn other than its family documents)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from posturebuddy.cli import main
from posturebuddy.motion.calibration import usable_forward_hint

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BROAD_05 = SHARED_DATA / "broad" / "05_undisturbed_slow_rotation_with_breaks_B.csv"


def test_a_forward_hint_along_up_falls_back_to_the_most_horizontal_tag_axis() -> None:
    assert usable_forward_hint((0.0, 0.0, 1.0), (0.0, 0.0, -1.0)) == (1.0, 0.0, 0.0)
    assert usable_forward_hint((0.0, 0.99, 0.14), (0.0, 0.0, -1.0)) == pytest.approx((0.0, 0.0, -1.0))
    up = (math.sin(0.3), 0.0, math.cos(0.3))
    assert usable_forward_hint(up, (0.0, 0.0, 1.0)) == (0.0, 1.0, 0.0)


@pytest.mark.skipif(not BROAD_05.exists(), reason="../shared/data is not beside the repository")
def test_analyze_of_a_flat_lying_imu_csv_captures_an_upright_instead_of_failing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["analyze", str(BROAD_05)]) == 0
    out = capsys.readouterr().out
    assert "a live-style capture" in out
