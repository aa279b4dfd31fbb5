"""The one entry point: scenario in, simulated IMU recording plus ground truth out."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from simulators.wearer.behaviours import GENERATORS, Canvas, Carry, SegmentContext
from simulators.wearer.body import Pose, WearerParams, tag_kinematics
from simulators.wearer.imu import (
    DeviceProfile,
    MagneticEnv,
    SensorErrors,
    apply_profile,
    get_profile,
    true_signals,
)
from simulators.wearer.scenario import Scenario, load_scenario, resolve_timeline
from simulators.wearer.signals import band_noise
from simulators.wearer.truth import GroundTruth, build_truth, tag_angles

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SimulatedRecording:
    """A simulated session: what the tag measured, and what really happened.

    Attributes:
        scenario: the scenario simulated.
        device: the device profile used.
        rate_hz: the output rate actually used (the requested rate snapped to one the family supports).
        seed: the seed used.
        t_s: (N,) sample timestamps on the tag's clock mapped to simulated POSIX seconds (includes the profile's
            clock-rate error and timestamp jitter); strictly increasing.
        t_true_s: (N,) the true sampling instants (uniform).
        quat_wxyz: (N, 4) true tag -> earth orientation (earth z up).
        accel_g: (N, 3) accelerometer, specific force in the tag frame, g (NaN where not present / no sensor).
        gyro_dps: (N, 3) gyroscope, tag frame, degrees per second (NaN where not present / no sensor).
        mag_ut: (N, 3) magnetometer, tag frame, microtesla (NaN where not present / no sensor).
        present: (N,) False where the samples never reach the host (out of range).
        truth: ground truth (labels, angles, episodes, breaks, segments).
        sensor_errors: the constant errors of the simulated tag (accelerometer sensitivity and offset, gyro
            offset, magnetometer hard iron, clock rate error), drawn once per recording or imposed with
            ``simulate(..., sensor_errors=...)``; pass them on to record again with the same physical tag.
    """

    scenario: Scenario
    device: DeviceProfile
    rate_hz: float
    seed: int
    t_s: FloatArray
    t_true_s: FloatArray
    quat_wxyz: FloatArray
    accel_g: FloatArray
    gyro_dps: FloatArray
    mag_ut: FloatArray
    present: npt.NDArray[np.bool_]
    truth: GroundTruth
    sensor_errors: SensorErrors

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.t_s.shape[0])

    @property
    def duration_s(self) -> float:
        """Recording length, seconds."""
        return self.n / self.rate_hz


CHUNK_SAMPLES = 1 << 18
"""Kinematics and ideal sensor signals are computed in chunks of this many samples to bound memory."""
_MARGIN = 2  # samples of overlap: the second derivative at i uses positions i-2 .. i+2


def _synthesize(
    pose: Pose, wearer: WearerParams, rate_hz: float, magnetic: MagneticEnv
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Tag orientation (N, 4), ideal accel/gyro/mag (N, 3) and true tag angles (N,), chunk by chunk.

    Chunks overlap by two samples on each side and the overlap is dropped, so the result equals a whole-array
    computation; quaternion signs are kept continuous across chunk edges.
    """
    n = pose.worn.shape[0]
    q_out = np.empty((n, 4))
    acc_out = np.empty((n, 3))
    gyr_out = np.empty((n, 3))
    mag_out = np.empty((n, 3))
    angles = np.empty((3, n))
    start = 0
    while start < n:
        stop = min(start + CHUNK_SAMPLES, n)
        lo = max(start - _MARGIN, 0)
        hi = min(stop + _MARGIN, n)
        q_rows, pos = tag_kinematics(pose.window(slice(lo, hi)), wearer)
        if start > 0 and float(np.dot(q_rows[:, start - lo], q_out[start - 1])) < 0.0:
            q_rows *= -1.0
        acc, gyr, mag = true_signals(q_rows, pos, rate_hz, magnetic)
        keep = slice(start - lo, start - lo + (stop - start))
        q_out[start:stop] = q_rows[:, keep].T
        acc_out[start:stop] = acc[keep]
        gyr_out[start:stop] = gyr[keep]
        mag_out[start:stop] = mag[keep]
        a = tag_angles(q_rows[:, keep], pose.mis_deg[start:stop], wearer)
        for i in range(3):
            angles[i, start:stop] = a[i]
        start = stop
    return q_out, acc_out, gyr_out, mag_out, angles[0], angles[1], angles[2]


def simulate(
    scenario: Scenario | str | Path,
    device: str | DeviceProfile = "posturebuddy",
    rate_hz: float = 50.0,
    seed: int | None = None,
    duration_s: float | None = None,
    *,
    sensor_errors: SensorErrors | None = None,
) -> SimulatedRecording:
    """Simulate a wearer following ``scenario`` and the readings of a tag of family ``device`` on their back.

    Args:
        scenario: a :class:`Scenario`, a scenario file path, or the name of a shipped scenario.
        device: tag family id (``posturebuddy``, ``thingy52``, ``witmotion``, ``sensortag``, ``microbit``,
            ``ideal``) or a :class:`DeviceProfile`.
        rate_hz: requested output rate; snapped to the nearest rate the family supports.
        seed: overrides the scenario's seed.
        duration_s: cut the recording after this many seconds (e.g. for quick tests).
        sensor_errors: the tag's constant errors (e.g. another recording's ``sensor_errors``: the same physical
            tag) instead of drawing them from the seed. The seed's draws are still made and discarded, so
            everything else (motion, noise, jitter) is exactly what the seed gives without the override.

    Returns:
        The recording. The same (scenario, device, rate, seed, duration, sensor_errors) gives bit-for-bit equal
        arrays. The body motion depends only on the scenario, seed, rate and duration, not on the device, so
        devices can be compared on identical motion.
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    profile = get_profile(device)
    rate = profile.nearest_rate_hz(rate_hz)
    seed_used = sc.seed if seed is None else int(seed)
    layout_ss, body_ss, global_ss, device_ss, clock_ss = np.random.SeedSequence(seed_used).spawn(5)

    segments, total_s = resolve_timeline(sc, np.random.default_rng(layout_ss), duration_s)
    n = max(math.floor(total_s * rate), 3)
    canvas = Canvas.empty(n, rate)
    w = sc.wearer
    carry = Carry(
        heading=sc.heading_deg, hip=np.array([0.0, 0.0, w.seated_hip_height_m]), mis=np.array(sc.mount.misalignment_deg)
    )
    seg_seeds = body_ss.spawn(len(segments))
    for seg, ss in zip(segments, seg_seeds, strict=True):
        ctx = SegmentContext(
            canvas=canvas,
            start_s=seg.start_s,
            end_s=seg.end_s,
            params=seg.params,
            wearer=w,
            rng=np.random.default_rng(ss),
            remount_jitter_deg=sc.mount.remount_jitter_deg,
        )
        GENERATORS[seg.kind](ctx, carry)

    # Global processes: breathing (rate and depth wander slowly) and slow postural wander.
    g_rng = np.random.default_rng(global_ss)
    slow = band_noise(n, rate, 0.0, 0.01, g_rng, channels=2)
    breath_rate = w.breathing_hz * (1.0 + 0.1 * slow[:, 0])
    phase = 2.0 * np.pi * np.cumsum(breath_rate) / rate + g_rng.uniform(0.0, 2.0 * np.pi)
    breath = np.sin(phase) * (1.0 + 0.2 * slow[:, 1])
    sway = band_noise(n, rate, 0.0, 0.15, g_rng, channels=4) * w.sway_deg
    del slow, phase, breath_rate

    base = canvas.pose
    held_flexion = base.flexion_deg
    held_lateral = base.lateral_deg
    held_neck = base.neck_deg
    flexion = held_flexion + canvas.add_flexion_deg + sway[:, 0]
    lateral = held_lateral + canvas.add_lateral_deg + 0.8 * sway[:, 1]
    axial = base.axial_deg + canvas.add_axial_deg + 1.5 * sway[:, 2]
    neck = held_neck + canvas.add_neck_deg + 1.2 * sway[:, 3]
    del sway
    pose = Pose(
        flexion_deg=flexion,
        lateral_deg=lateral,
        axial_deg=axial,
        neck_deg=neck,
        heading_deg=base.heading_deg,
        breath=breath,
        hip_m=base.hip_m + canvas.add_hip_m,
        worn=base.worn,
        desk_q=base.desk_q,
        desk_m=base.desk_m,
        lift_m=base.lift_m,
        mis_deg=base.mis_deg,
    )
    q_tag, accel, gyro, mag, tag_flex, tag_lat, tag_tot = _synthesize(pose, w, rate, sc.magnetic)
    worn = pose.worn
    del pose
    canvas.release_motion()
    accel, gyro, mag, errors = apply_profile(
        profile, accel, gyro, mag, rate, np.random.default_rng(device_ss), sensor_errors
    )
    absent = ~canvas.present
    for arr in (accel, gyro, mag):
        arr[absent] = np.nan

    c_rng = np.random.default_rng(clock_ss)
    clock_ppm = float(c_rng.normal(0.0, profile.clock_ppm_std))
    if sensor_errors is not None:
        clock_ppm = sensor_errors.clock_ppm
    errors = dataclasses.replace(errors, clock_ppm=clock_ppm)
    clock_scale = 1.0 + clock_ppm * 1e-6
    tau = canvas.tau_s
    t_true = sc.start_epoch_s + tau
    t_s = sc.start_epoch_s + tau * clock_scale
    if profile.timestamp_jitter_s > 0.0:
        jitter = c_rng.normal(0.0, profile.timestamp_jitter_s, size=n)
        t_s = t_s + np.clip(jitter, -0.45 / rate, 0.45 / rate)

    truth = build_truth(
        canvas=canvas,
        held_flexion=held_flexion,
        held_lateral=held_lateral,
        held_neck=held_neck,
        true_flexion=flexion,
        true_lateral=lateral,
        true_axial=axial,
        true_neck=neck,
        tag_flexion=tag_flex,
        tag_lateral=tag_lat,
        tag_total=tag_tot,
        worn=worn,
        segments=segments,
        t_s=t_s,
        start_epoch_s=sc.start_epoch_s,
        clock_scale=clock_scale,
        total_s=total_s,
        min_alert_s=sc.expect.min_alert_s,
    )
    return SimulatedRecording(
        scenario=sc,
        device=profile,
        rate_hz=rate,
        seed=seed_used,
        t_s=t_s,
        t_true_s=t_true,
        quat_wxyz=q_tag,
        accel_g=accel,
        gyro_dps=gyro,
        mag_ut=mag,
        present=canvas.present.copy(),
        truth=truth,
        sensor_errors=errors,
    )
