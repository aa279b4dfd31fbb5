"""Small quaternion helpers for the virtual tags: ``(w, x, y, z)``, tag frame -> earth frame (z up)."""

from __future__ import annotations

import math

from posturebuddy.model import Quat, Vec3

__all__ = ["canonical", "conjugate", "multiply", "rotate", "up_in_tag"]


def canonical(q: Quat) -> Quat:
    """``q`` normalised, with ``w >= 0`` (``q`` and ``-q`` are the same rotation)."""
    w, x, y, z = q
    norm = math.sqrt(w * w + x * x + y * y + z * z)
    if norm == 0.0 or not math.isfinite(norm):
        raise ValueError(f"not a rotation quaternion: {q}")
    sign = 1.0 if w >= 0 else -1.0
    return (sign * w / norm, sign * x / norm, sign * y / norm, sign * z / norm)


def conjugate(q: Quat) -> Quat:
    """The inverse rotation of a unit quaternion."""
    w, x, y, z = q
    return (w, -x, -y, -z)


def multiply(a: Quat, b: Quat) -> Quat:
    """Hamilton product ``a * b`` (apply ``b`` first, then ``a``)."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return (
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    )


def rotate(q: Quat, v: Vec3) -> Vec3:
    """``q * v * q^-1`` for a unit quaternion ``q``."""
    _, x, y, z = multiply(multiply(q, (0.0, v[0], v[1], v[2])), conjugate(q))
    return (x, y, z)


def up_in_tag(q_tag_to_earth: Quat) -> Vec3:
    """The earth's up direction (unit) expressed in the tag frame: where an accelerometer at rest reads +1 g."""
    return rotate(conjugate(q_tag_to_earth), (0.0, 0.0, 1.0))
