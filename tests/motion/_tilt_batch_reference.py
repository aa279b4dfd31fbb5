"""A frozen copy of ``estimate_tilt_batch`` (and the helpers it used) as it was before the batch path was
optimised for speed: the optimised path must give bit-for-bit the same series (``test_tilt_batch_exact.py``)."""

# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from posturebuddy.motion.orientation import (
    _ACCEL,
    _AHRS,
    _GRAVITY,
    _MIN_NORM,
    _NO_SOURCE,
    _QUATERNION,
    OrientationSettings,
    SampleArrays,
    TiltSeries,
    _AhrsCore,
    _last_index,
    _lowpass,
    _previous_max,
)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]


def _usable_rows(values: FloatArray) -> BoolArray:
    """Rows that are all finite with a norm above ``_MIN_NORM``; (N, k) -> (N,)."""
    finite = np.all(np.isfinite(values), axis=1)
    norm = np.linalg.norm(np.where(finite[:, None], values, 0.0), axis=1)
    usable: BoolArray = finite & (norm > _MIN_NORM)
    return usable


def _quat_rotation_angle_deg(q_prev: FloatArray, q_next: FloatArray) -> FloatArray:
    """Rotation angle between unit quaternions, degrees: ``2 atan2(|v|, |w|)`` of ``q_prev^-1 q_next``.

    Shapes: (N, 4), (N, 4) -> (N,).
    """
    w1, x1, y1, z1 = q_prev[:, 0], -q_prev[:, 1], -q_prev[:, 2], -q_prev[:, 3]
    w2, x2, y2, z2 = q_next[:, 0], q_next[:, 1], q_next[:, 2], q_next[:, 3]
    w = w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2
    x = w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2
    y = w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2
    z = w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2
    return np.degrees(2.0 * np.arctan2(np.sqrt(x * x + y * y + z * z), np.abs(w)))


def quat_to_up(quat_wxyz: npt.ArrayLike) -> FloatArray:
    """Up direction in the tag frame from tag -> earth quaternions (earth z up).

    Args:
        quat_wxyz: quaternions ``(w, x, y, z)``, shape (4,) or (N, 4); normalised here.

    Returns:
        Unit up vectors in the tag frame, shape (3,) or (N, 3): the third row of ``R(q)``.
    """
    q = np.asarray(quat_wxyz, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack((2.0 * (x * z - w * y), 2.0 * (y * z + w * x), w * w - x * x - y * y + z * z), axis=-1)


def _smooth_rows(t: FloatArray, rows: IntArray, x: FloatArray, tau_s: float, max_gap_s: float, n: int) -> FloatArray:
    """Smooth scalar inputs ``x`` given at ``rows`` and hold the value on the other rows (NaN before any).

    Batch twin of :class:`_Smoother`. Returns shape (n,).
    """
    out = np.full(n, np.nan)
    if rows.size == 0:
        return out
    t_sub = t[rows]
    prev = _previous_max(t_sub)
    start = (t_sub - prev) > max_gap_s
    smoothed = _lowpass(np.maximum(prev, t_sub), x[:, None], start, tau_s)[:, 0]
    out[rows] = smoothed
    last = _last_index(np.isfinite(out))
    return np.where(last >= 0, out[np.maximum(last, 0)], np.nan)


def _switch_restarts(active: IntArray, rows: IntArray, rank: int) -> BoolArray:
    """For the rows that drive source ``rank``: does it need a restart because another source (or none)
    was active since its previous driving row (or because there is none)? Shape (len(rows),)."""
    other = np.cumsum(active != rank)
    prev = np.concatenate(([-1], rows[:-1])) if rows.size else rows
    other_before = np.where(prev >= 0, other[np.maximum(prev, 0)], 0)
    return (prev < 0) | (other[rows] - other_before > 0)


def reference_tilt_batch(data: SampleArrays, settings: OrientationSettings | None = None) -> TiltSeries:
    """Run the orientation stage over a whole recording; the same result as :class:`TiltEstimator`.

    Vectorised with numpy except the AHRS, which is a recursion and loops over imufusion (the same calls
    the streaming path makes).

    Args:
        data: the samples as arrays (see :class:`SampleArrays`), N rows in arrival order.
        settings: orientation settings (defaults if ``None``).

    Returns:
        One row per input sample.
    """
    st = settings if settings is not None else OrientationSettings()
    t = data.t_s
    n = t.shape[0]
    accel, gyro, grav = data.accel_g, data.gyro_dps, data.gravity_g
    has_a = _usable_rows(accel)
    if st.accel_calibration is not None:
        accel = st.accel_calibration.apply_rows(accel)
    has_g = np.all(np.isfinite(gyro), axis=1)  # a still gyroscope legitimately reads zero
    has_q = _usable_rows(data.quat_wxyz)
    has_grav = _usable_rows(grav)
    quat = np.where(has_q[:, None], data.quat_wxyz, np.nan)
    quat = quat / np.linalg.norm(quat, axis=1, keepdims=True)
    caps = np.stack((has_a, has_a & has_g, has_grav, has_q), axis=1)

    # Active source per row: the best one seen within source_timeout_s.
    active = np.full(n, _NO_SOURCE, dtype=np.intp)
    for rank in (_QUATERNION, _GRAVITY, _AHRS, _ACCEL):
        last = _last_index(caps[:, rank])
        recent = (last >= 0) & (t - t[np.maximum(last, 0)] <= st.source_timeout_s)
        active = np.where((active == _NO_SOURCE) & recent, rank, active)
    drive = (active != _NO_SOURCE) & caps[np.arange(n), np.maximum(active, 0)]

    up = np.full((n, 3), np.nan)
    rejected = np.zeros(n, dtype=bool)
    recovering = np.zeros(n, dtype=bool)
    initialising = np.zeros(n, dtype=bool)
    restarted = np.zeros(n, dtype=bool)
    offsets = np.full((n, 3), np.nan)

    for rank in (_QUATERNION, _GRAVITY, _AHRS, _ACCEL):
        rows = np.flatnonzero(drive & (active == rank))
        if rows.size == 0:
            continue
        switch = _switch_restarts(active, rows, rank)
        t_sub = t[rows]
        prev = _previous_max(t_sub)
        restart = switch | ((t_sub - prev) > st.max_gap_s)
        if rank == _QUATERNION:
            up[rows] = quat_to_up(quat[rows])
            restarted[rows] = restart
        elif rank == _GRAVITY:
            g = grav[rows]
            up[rows] = g / np.linalg.norm(g, axis=1, keepdims=True)
            restarted[rows] = restart
        elif rank == _ACCEL:
            t_max = np.maximum(prev, t_sub)
            lp = _lowpass(t_max, accel[rows], restart, st.accel_time_constant_s)
            norm = np.linalg.norm(lp, axis=1, keepdims=True)
            a = accel[rows]
            fallback = a / np.linalg.norm(a, axis=1, keepdims=True)
            up[rows] = np.where(norm > _MIN_NORM, lp / np.where(norm > _MIN_NORM, norm, 1.0), fallback)
            seg_t0 = t_max[_last_index(restart)]
            initialising[rows] = (t_max - seg_t0) < st.accel_time_constant_s
            restarted[rows] = restart
        else:
            core = _AhrsCore(st.ahrs, st.max_gap_s)
            g_rows = gyro[rows]
            a_rows = accel[rows]
            for k, (row, force) in enumerate(zip(rows.tolist(), switch.tolist(), strict=True)):
                out = core.step(float(t[row]), g_rows[k], a_rows[k], force)
                up[row] = out.up
                rejected[row] = out.accel_rejected
                recovering[row] = out.recovering
                initialising[row] = out.initialising
                restarted[row] = out.restarted
                offsets[row] = core.offset

    # Hold tilt and flags on rows that do not drive the active source.
    last_drive = _last_index(drive)
    held = last_drive >= 0
    src = np.maximum(last_drive, 0)
    up = np.where(held[:, None], up[src], np.nan)
    source = np.where(held, active[src], _NO_SOURCE)
    rejected = held & rejected[src]
    recovering = held & recovering[src]
    initialising = held & initialising[src]
    restarted = drive & restarted

    # Rotation: |gyro - current bias| where a gyro is present, else quaternion rate.
    last_off = _last_index(np.isfinite(offsets[:, 0]))
    offset_now = np.where(last_off[:, None] >= 0, offsets[np.maximum(last_off, 0)], 0.0)
    rotation_in = np.full(n, np.nan)
    rotation_in[has_g] = np.linalg.norm(gyro[has_g] - offset_now[has_g], axis=1)
    q_rows = np.flatnonzero(has_q)
    if q_rows.size > 1:
        dtq = t[q_rows] - _previous_max(t[q_rows])
        angle = _quat_rotation_angle_deg(quat[q_rows[:-1]], quat[q_rows[1:]])
        ok = (dtq[1:] > 0.0) & (dtq[1:] <= st.max_gap_s) & ~has_g[q_rows[1:]]
        rotation_in[q_rows[1:][ok]] = angle[ok] / dtq[1:][ok]
    rot_rows = np.flatnonzero(np.isfinite(rotation_in))
    rotation = _smooth_rows(t, rot_rows, rotation_in[rot_rows], st.motion_time_constant_s, st.max_gap_s, n)

    motion_rows = np.flatnonzero(has_a & held)
    t_motion = t[motion_rows]
    prev_motion = _previous_max(t_motion)
    accel_lp = _lowpass(
        np.maximum(prev_motion, t_motion),
        accel[motion_rows],
        (t_motion - prev_motion) > st.max_gap_s,
        st.accel_time_constant_s,
    )
    motion_in = np.linalg.norm(accel[motion_rows] - accel_lp, axis=1)
    motion = _smooth_rows(t, motion_rows, motion_in, st.motion_time_constant_s, st.max_gap_s, n)
    motion = np.where(held, motion, np.nan)
    rotation_out = np.where(held, rotation, np.nan)
    energy = np.maximum(
        np.nan_to_num(motion / st.motion_ref_g, nan=0.0), np.nan_to_num(rotation_out / st.motion_ref_dps, nan=0.0)
    )
    return TiltSeries(
        t_s=t.copy(),
        valid=held,
        up_tag=up,
        source=source.astype(np.intp),
        motion_energy=np.where(held, energy, np.nan),
        motion_g=motion,
        rotation_dps=rotation_out,
        accel_rejected=rejected,
        recovering=recovering,
        initialising=initialising,
        restarted=restarted,
    )
