"""Vectorised quaternion helpers for the wearer model.

Quaternions are ``(w, x, y, z)`` Hamilton quaternions stored as float64 arrays of shape (N, 4) (or (4,) for a
single one). ``q`` rotates a vector from the child frame into the parent frame: ``v_parent = q * v_child * q^-1``.
Composition ``mul(a, b)`` means "first b, then a" in the sense ``v_parent = a * (b * v_child * b^-1) * a^-1``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def about_axis(axis: int, angle_rad: FloatArray | float) -> FloatArray:
    """Quaternions for rotations by ``angle_rad`` about the child frame's x (0), y (1) or z (2) axis.

    Args:
        axis: 0, 1 or 2.
        angle_rad: (N,) angles or one angle, radians (right-hand rule).

    Returns:
        (N, 4) quaternions, or (4,) for a scalar angle.
    """
    a = np.asarray(angle_rad, dtype=np.float64)
    half = 0.5 * a
    out = np.zeros((*a.shape, 4), dtype=np.float64)
    out[..., 0] = np.cos(half)
    out[..., 1 + axis] = np.sin(half)
    return out


def mul(a: FloatArray, b: FloatArray) -> FloatArray:
    """Hamilton product ``a * b`` of broadcastable (..., 4) quaternion arrays."""
    aw, ax, ay, az = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bw, bx, by, bz = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        axis=-1,
    )


def conj(q: FloatArray) -> FloatArray:
    """Conjugate (the inverse for unit quaternions), same shape as ``q``."""
    out = q.copy()
    out[..., 1:] *= -1.0
    return out


def rotate(q: FloatArray, v: FloatArray) -> FloatArray:
    """Rotate child-frame vectors into the parent frame: ``q * v * q^-1``.

    Args:
        q: (N, 4) or (4,) unit quaternions.
        v: (N, 3) or (3,) vectors (broadcast against ``q``).

    Returns:
        (N, 3) rotated vectors.
    """
    w = q[..., :1]
    u = q[..., 1:]
    t = 2.0 * np.cross(u, v)
    return v + w * t + np.cross(u, t)


def rotate_inverse(q: FloatArray, v: FloatArray) -> FloatArray:
    """Rotate parent-frame vectors into the child frame: ``q^-1 * v * q``. Shapes as :func:`rotate`."""
    return rotate(conj(q), v)


def normalize(q: FloatArray) -> FloatArray:
    """Unit-normalise (..., 4) quaternions."""
    n = np.linalg.norm(q, axis=-1, keepdims=True)
    out: FloatArray = q / n
    return out


def make_continuous(q: FloatArray) -> FloatArray:
    """Flip signs so consecutive (N, 4) quaternions lie in the same hemisphere (q and -q are one rotation)."""
    if q.shape[0] < 2:
        return q.copy()
    dots = np.einsum("ij,ij->i", q[1:], q[:-1])
    flips = np.concatenate(([False], dots < 0.0))
    sign = np.where(np.logical_xor.accumulate(flips), -1.0, 1.0)
    return q * sign[:, None]


def slerp(q0: FloatArray, q1: FloatArray, s: FloatArray) -> FloatArray:
    """Spherical interpolation from ``q0`` (s = 0) to ``q1`` (s = 1), elementwise.

    Args:
        q0: (N, 4) or (4,) unit quaternions.
        q1: (N, 4) or (4,) unit quaternions.
        s: (N,) interpolation parameters in [0, 1].

    Returns:
        (N, 4) unit quaternions.
    """
    q0b = np.broadcast_to(q0, (s.shape[0], 4))
    q1b = np.broadcast_to(q1, (s.shape[0], 4))
    dot = np.einsum("ij,ij->i", q0b, q1b)
    q1b = np.where(dot[:, None] < 0.0, -q1b, q1b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_t = np.sin(theta)
    small = sin_t < 1e-9
    safe = np.where(small, 1.0, sin_t)
    w0 = np.where(small, 1.0 - s, np.sin((1.0 - s) * theta) / safe)
    w1 = np.where(small, s, np.sin(s * theta) / safe)
    return normalize(w0[:, None] * q0b + w1[:, None] * q1b)


def from_matrix(m: FloatArray) -> FloatArray:
    """Quaternion (4,) of one 3x3 rotation matrix whose columns are the child axes in parent coordinates."""
    tr = float(m[0, 0] + m[1, 1] + m[2, 2])
    if tr > 0.0:
        s = 2.0 * np.sqrt(tr + 1.0)
        q = np.array([0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s])
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2])
        q = np.array([(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s])
    elif m[1, 1] > m[2, 2]:
        s = 2.0 * np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2])
        q = np.array([(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s])
    else:
        s = 2.0 * np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1])
        q = np.array([(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s])
    out: FloatArray = normalize(q.astype(np.float64))
    return out


def body_rate(q: FloatArray, dt_s: float) -> FloatArray:
    """Angular rate in the child (body) frame from a uniformly sampled orientation series.

    Uses ``omega_body = 2 * Im(q^-1 * dq/dt)`` with second-order central differences (one-sided at the ends).

    Args:
        q: (N, 4) unit quaternions, N >= 2, sampled every ``dt_s`` seconds.
        dt_s: sample period, seconds.

    Returns:
        (N, 3) angular rate in rad/s, child frame.
    """
    qc = make_continuous(q)
    dq = np.gradient(qc, dt_s, axis=0)
    w = mul(conj(qc), dq)
    return 2.0 * w[:, 1:]


def angle_between(a: FloatArray, b: FloatArray) -> FloatArray:
    """Rotation angle (radians, 0..pi) between (N, 4) quaternion arrays, elementwise."""
    d: FloatArray = np.abs(np.einsum("...i,...i->...", a, b))
    out: FloatArray = 2.0 * np.arccos(np.clip(d, 0.0, 1.0))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Row layout: the same maths on (4, N) quaternion and (3, N) vector arrays. Each component is a contiguous row,
# which makes long series several times faster than the (N, 4) layout. Used by the kinematics hot path.


def rows_about_axis(axis: int, angle_rad: FloatArray) -> FloatArray:
    """(4, N) quaternions for rotations by (N,) ``angle_rad`` about the child x (0), y (1) or z (2) axis."""
    half = 0.5 * np.asarray(angle_rad, dtype=np.float64)
    out = np.zeros((4, half.shape[0]), dtype=np.float64)
    np.cos(half, out=out[0])
    np.sin(half, out=out[1 + axis])
    return out


def rows_mul(a: FloatArray, b: FloatArray) -> FloatArray:
    """Hamilton product of (4, N) (or (4, 1)) quaternion rows, returning (4, N)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    n = max(a.shape[1], b.shape[1])
    out = np.empty((4, n), dtype=np.float64)
    out[0] = aw * bw - ax * bx - ay * by - az * bz
    out[1] = aw * bx + ax * bw + ay * bz - az * by
    out[2] = aw * by - ax * bz + ay * bw + az * bx
    out[3] = aw * bz + ax * by - ay * bx + az * bw
    return out


def rows_conj(q: FloatArray) -> FloatArray:
    """Conjugate of (4, N) rows."""
    out = q.copy()
    out[1:] *= -1.0
    return out


def _rows_cross(a: FloatArray, b: FloatArray) -> FloatArray:
    return np.stack(
        (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]),
    )


def rows_rotate(q: FloatArray, v: FloatArray) -> FloatArray:
    """Rotate (3, N) (or (3, 1)) child-frame vectors into the parent frame with (4, N) quaternion rows."""
    w = q[0]
    u = q[1:]
    t = 2.0 * _rows_cross(u, v)
    out: FloatArray = v + w * t + _rows_cross(u, t)
    return out


def rows_rotate_inverse(q: FloatArray, v: FloatArray) -> FloatArray:
    """Rotate (3, N) parent-frame vectors into the child frame (``q^-1 v q``)."""
    return rows_rotate(rows_conj(q), v)


def rows_up_in_child(q: FloatArray) -> FloatArray:
    """(3, N) parent +z axis expressed in the child frame: the third row of the rotation matrix."""
    w, x, y, z = q
    return np.stack((2.0 * (x * z - w * y), 2.0 * (y * z + w * x), 1.0 - 2.0 * (x * x + y * y)))


def rows_make_continuous(q: FloatArray) -> FloatArray:
    """Sign-continuous copy of (4, N) quaternion rows."""
    if q.shape[1] < 2:
        return q.copy()
    dots = np.einsum("in,in->n", q[:, 1:], q[:, :-1])
    flips = np.concatenate(([False], dots < 0.0))
    sign = np.where(np.logical_xor.accumulate(flips), -1.0, 1.0)
    out: FloatArray = q * sign
    return out


def rows_body_rate(q: FloatArray, dt_s: float) -> FloatArray:
    """(3, N) body-frame angular rate (rad/s) from (4, N) uniformly sampled quaternion rows; see :func:`body_rate`."""
    qc = rows_make_continuous(q)
    dq = np.gradient(qc, dt_s, axis=1)
    return 2.0 * rows_mul(rows_conj(qc), dq)[1:]
