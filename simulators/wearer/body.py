"""Upper-body kinematics of the virtual wearer and the tag mounted on their upper back.

Frames
------
* **Earth**: x east, y north (magnetic north), z up. Gravity is -z.
* **Body** (trunk): x forward (anterior), y to the wearer's left, z up along the spine (superior). The body
  frame is the earth frame turned by the heading (about z), then by trunk flexion (about body y; positive tilts
  the trunk forward), lateral lean (about body x; positive leans to the wearer's *right*) and axial twist
  (about body z; positive turns the chest to the left).
* **Upper segment**: the cervicothoracic region under the tag. It rotates relative to the trunk by
  ``neck_coupling * neck_flexion`` (see below) plus the breathing tilt.
* **Tag** (the convention the simulated tag reports in): **+y points up along the spine (towards the head),
  +z points out of the back (posterior, away from the skin), +x points to the wearer's right**; right-handed.
  Upright at rest the accelerometer therefore reads about ``(0, cos i, sin i)`` g, where ``i`` is the back
  inclination (the upper back at C7..T4 faces slightly upwards because of the thoracic curve, ~15 deg).

Forward head posture at the tag
-------------------------------
Forward head posture (FHP) is mostly lower-cervical flexion with upper-cervical extension: the head slides
forward over the chest. A tag between C7 and T4 does not sit on the neck; it sees only the part of that motion
that the cervicothoracic junction and upper thoracic vertebrae take up. We model the upper segment's extra
flexion as ``neck_coupling * neck_flexion_deg`` with ``neck_coupling = 0.3`` by default, i.e. a 25 deg
head-forward episode tilts the tag by about 7.5 deg, while a slouch of the whole trunk tilts it one for one.
The fraction depends on where the tag sits: roughly 0.4-0.5 right at C7, 0.3 around T1-T2, 0.15 at T4. It is an
assumption of this model (a reasoned estimate, not a measured constant), exposed as ``[wearer] neck_coupling``.

Positions
---------
The tag position is ``hip + R_body (0, 0, trunk_length) + R_upper (-skin_offset, 0, upper_offset)``: the trunk
pivots about the hip joints, so forward lean and reaching swing the tag on a ~0.45 m lever arm. Walking moves
the hip (forward progression, vertical bounce, lateral sway); sit-to-stand raises it by ~0.4 m.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from simulators.wearer import quat

FloatArray = npt.NDArray[np.float64]

DEG = np.pi / 180.0

# Columns are the tag's x, y, z axes in body coordinates: x -> right (-y_body), y -> up (+z_body),
# z -> out of the back (-x_body).
TAG_AXES_IN_BODY = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
Q_TAG_AXES: FloatArray = quat.from_matrix(TAG_AXES_IN_BODY)


@dataclass(frozen=True, slots=True)
class WearerParams:
    """Body dimensions and habits of the virtual wearer (scenario table ``[wearer]``).

    Attributes:
        trunk_length_m: hip joint to T4 along the spine.
        upper_offset_m: T4 to the tag centre along the spine.
        skin_offset_m: spine axis to the skin surface under the tag (the tag is posterior).
        seated_hip_height_m: hip joint height when seated.
        standing_hip_height_m: hip joint height when standing.
        neck_coupling: fraction of neck (forward head) flexion seen as tilt at the tag.
        back_inclination_deg: forward tilt of the skin surface under the tag in the upright reference posture.
        standing_flexion_deg: trunk flexion when standing "upright" relative to sitting upright (people stand a
            little more extended than they sit).
        breathing_hz: mean breathing rate.
        breathing_tilt_deg: peak tilt of the upper segment per breath (extension on inhale).
        sway_deg: RMS of the slow postural wander (all trunk angles) while seated or standing.
    """

    trunk_length_m: float = 0.45
    upper_offset_m: float = 0.06
    skin_offset_m: float = 0.07
    seated_hip_height_m: float = 0.50
    standing_hip_height_m: float = 0.92
    neck_coupling: float = 0.3
    back_inclination_deg: float = 15.0
    standing_flexion_deg: float = -2.0
    breathing_hz: float = 0.25
    breathing_tilt_deg: float = 0.4
    sway_deg: float = 0.6


@dataclass(frozen=True, slots=True)
class MountParams:
    """How the tag is stuck on (scenario table ``[mount]``).

    Attributes:
        misalignment_deg: rotation of the tag about its own x, y, z axes away from the ideal mounting (applied
            x, then y, then z, intrinsic).
        remount_jitter_deg: standard deviation of the extra misalignment per axis each time the tag is put back
            on after a ``tag_removed`` segment.
    """

    misalignment_deg: tuple[float, float, float] = (2.0, -3.0, 1.5)
    remount_jitter_deg: float = 2.0


def misalignment_quat(angles_deg: FloatArray) -> FloatArray:
    """(N, 4) quaternions for (N, 3) misalignment angles about tag x, y, z (intrinsic x-y-z), degrees."""
    a = np.asarray(angles_deg, dtype=np.float64) * DEG
    return quat.mul(
        quat.mul(quat.about_axis(0, a[..., 0]), quat.about_axis(1, a[..., 1])), quat.about_axis(2, a[..., 2])
    )


@dataclass(slots=True)
class Pose:
    """Per-sample body state, filled by the behaviours. All arrays have N rows.

    Attributes:
        flexion_deg: trunk flexion relative to the upright seated reference, degrees (+ forward).
        lateral_deg: trunk lateral lean, degrees (+ to the right).
        axial_deg: trunk axial twist, degrees (+ chest turns left).
        neck_deg: neck flexion (forward head), degrees.
        heading_deg: direction the pelvis faces, degrees counterclockwise from earth x (east); unwrapped.
        breath: breathing phase signal in [-1, 1] (+1 full inhale).
        hip_m: (N, 3) hip-joint centre position in the earth frame, metres.
        worn: 1 while the tag is on the back, 0 while it lies on the desk, smooth in between.
        desk_q: (N, 4) orientation of the tag when lying on the desk (used where ``worn`` < 1).
        desk_m: (N, 3) position of the tag when lying on the desk.
        lift_m: extra height of the tag while it is carried by hand (removal/put-on), metres.
        mis_deg: (N, 3) mount misalignment about tag x, y, z, degrees (changes only while the tag is off).
    """

    flexion_deg: FloatArray
    lateral_deg: FloatArray
    axial_deg: FloatArray
    neck_deg: FloatArray
    heading_deg: FloatArray
    breath: FloatArray
    hip_m: FloatArray
    worn: FloatArray
    desk_q: FloatArray
    desk_m: FloatArray
    lift_m: FloatArray
    mis_deg: FloatArray

    def window(self, sl: slice) -> Pose:
        """A view of samples ``sl`` (no copies)."""
        return Pose(
            flexion_deg=self.flexion_deg[sl],
            lateral_deg=self.lateral_deg[sl],
            axial_deg=self.axial_deg[sl],
            neck_deg=self.neck_deg[sl],
            heading_deg=self.heading_deg[sl],
            breath=self.breath[sl],
            hip_m=self.hip_m[sl],
            worn=self.worn[sl],
            desk_q=self.desk_q[sl],
            desk_m=self.desk_m[sl],
            lift_m=self.lift_m[sl],
            mis_deg=self.mis_deg[sl],
        )

    @classmethod
    def zeros(cls, n: int) -> Pose:
        """An all-zero pose of n samples (worn = 1, identity desk orientation)."""
        z = np.zeros(n, dtype=np.float64)
        desk_q = np.zeros((n, 4), dtype=np.float64)
        desk_q[:, 0] = 1.0
        return cls(
            flexion_deg=z.copy(),
            lateral_deg=z.copy(),
            axial_deg=z.copy(),
            neck_deg=z.copy(),
            heading_deg=z.copy(),
            breath=z.copy(),
            hip_m=np.zeros((n, 3), dtype=np.float64),
            worn=np.ones(n, dtype=np.float64),
            desk_q=desk_q,
            desk_m=np.zeros((n, 3), dtype=np.float64),
            lift_m=z.copy(),
            mis_deg=np.zeros((n, 3), dtype=np.float64),
        )


def body_quat(
    heading_deg: FloatArray, flexion_deg: FloatArray, lateral_deg: FloatArray, axial_deg: FloatArray
) -> FloatArray:
    """(4, N) body -> earth quaternion rows: heading about z, then flexion about y, lateral about x, axial about z.

    A positive rotation about +y_body (left) tips the body's z axis forward (flexion); a positive rotation about
    +x_body (forward) tips it towards -y_body, the wearer's right (lateral lean right). All inputs are (N,) degrees.
    """
    q = quat.rows_about_axis(2, heading_deg * DEG)
    q = quat.rows_mul(q, quat.rows_about_axis(1, flexion_deg * DEG))
    q = quat.rows_mul(q, quat.rows_about_axis(0, lateral_deg * DEG))
    return quat.rows_mul(q, quat.rows_about_axis(2, axial_deg * DEG))


def upper_flexion_deg(pose: Pose, wearer: WearerParams) -> FloatArray:
    """(N,) flexion of the upper segment relative to the trunk, degrees: neck coupling plus breathing."""
    out: FloatArray = wearer.neck_coupling * pose.neck_deg - wearer.breathing_tilt_deg * pose.breath
    return out


def mount_quat(mis_deg: FloatArray, wearer: WearerParams) -> FloatArray:
    """(4, N) tag -> upper-segment quaternion rows: back inclination, axis convention, then misalignment.

    ``mis_deg`` (N, 3) is piecewise constant, so the quaternion is computed once per distinct mount.
    """
    q_incl = quat.about_axis(1, wearer.back_inclination_deg * DEG)
    n = mis_deg.shape[0]
    change = np.any(mis_deg[1:] != mis_deg[:-1], axis=1) if n > 1 else np.zeros(0, dtype=np.bool_)
    piece = np.concatenate(([0], np.cumsum(change)))
    firsts = np.concatenate(([0], np.flatnonzero(change) + 1))
    q_u = quat.mul(quat.mul(q_incl, Q_TAG_AXES), misalignment_quat(mis_deg[firsts]))
    out: FloatArray = np.ascontiguousarray(q_u[piece].T)
    return out


def tag_kinematics(pose: Pose, wearer: WearerParams) -> tuple[FloatArray, FloatArray]:
    """Orientation and position of the tag in the earth frame.

    Args:
        pose: per-sample body state.
        wearer: body dimensions.

    Returns:
        ``(q_tag, pos_m)``: (4, N) tag -> earth quaternion rows (sign-continuous) and (3, N) tag positions in
        metres (row layout, see :mod:`simulators.wearer.quat`).
    """
    q_body = body_quat(pose.heading_deg, pose.flexion_deg, pose.lateral_deg, pose.axial_deg)
    q_upper = quat.rows_mul(q_body, quat.rows_about_axis(1, upper_flexion_deg(pose, wearer) * DEG))
    q_tag = quat.rows_mul(q_upper, mount_quat(pose.mis_deg, wearer))

    trunk = np.array([[0.0], [0.0], [wearer.trunk_length_m]])
    upper = np.array([[-wearer.skin_offset_m], [0.0], [wearer.upper_offset_m]])
    pos = pose.hip_m.T + quat.rows_rotate(q_body, trunk)
    del q_body
    pos += quat.rows_rotate(q_upper, upper)
    del q_upper
    # Breathing lifts the upper chest a couple of millimetres.
    pos[2] += 0.002 * pose.breath

    off = pose.worn < 1.0
    if np.any(off):
        idx = np.flatnonzero(off)
        s = 1.0 - pose.worn[idx]
        q_tag[:, idx] = quat.slerp(q_tag[:, idx].T, pose.desk_q[idx], s).T
        pos[:, idx] = (1.0 - s) * pos[:, idx] + s * pose.desk_m[idx].T
        pos[2, idx] += pose.lift_m[idx]
    return quat.rows_make_continuous(q_tag), pos


def reference_up_in_tag(mis_deg: FloatArray, wearer: WearerParams) -> FloatArray:
    """(3, N) earth-up direction in tag coordinates in the upright seated reference posture, per sample.

    This is what an ideal calibration ("sit tall, press calibrate") would store, for the mount in effect at
    each sample.
    """
    return quat.rows_up_in_child(mount_quat(mis_deg, wearer))
