"""JSON lines: the fast path for samples gives exactly what the generic dataclass walk gives."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from posturebuddy.devices.base import plain_fields
from posturebuddy.model import Sample
from posturebuddy.session.jsonl import _finite, to_json_line, to_record

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
vec3 = st.none() | st.tuples(floats, floats, floats)
quat = st.none() | st.tuples(floats, floats, floats, floats)


@given(
    t=floats,
    accel=vec3,
    gyro=vec3,
    mag=vec3,
    q=quat,
    gravity=vec3,
    seq=st.none() | st.integers(0, 65535),
    device=st.none() | floats,
)
def test_the_sample_fast_path_equals_the_generic_record(
    t: float,
    accel: tuple[float, float, float] | None,
    gyro: tuple[float, float, float] | None,
    mag: tuple[float, float, float] | None,
    q: tuple[float, float, float, float] | None,
    gravity: tuple[float, float, float] | None,
    seq: int | None,
    device: float | None,
) -> None:
    sample = Sample(t, accel, gyro, mag, q, gravity, seq, device)
    generic = {"type": "Sample", **_finite(plain_fields(sample))}
    assert to_record(sample) == generic
    assert list(to_record(sample)) == list(generic)  # the same key order, so the same line
    assert json.loads(to_json_line(sample)) == json.loads(json.dumps(generic))
