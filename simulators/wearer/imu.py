"""IMU synthesis: what the tag's sensors read, from its true orientation and position.

* **Accelerometer**: specific force ``f = a - g_vec`` in the tag frame, in g. With earth z up and
  ``g_vec = (0, 0, -g)``, a tag at rest reads +1 g along the axis pointing up.
* **Gyroscope**: body angular rate from the orientation series, ``omega = 2 Im(q^-1 dq/dt)``, in the tag frame,
  degrees per second. Integrating it reproduces the orientation change (tested).
* **Magnetometer**: the earth field (``field_ut`` with inclination ``dip_deg`` towards magnetic north, earth +y)
  plus a static local disturbance, rotated into the tag frame, microtesla.

Per-device emulation (:class:`DeviceProfile`, data in ``profiles.toml``): white noise from a noise density,
a constant bias per recording, per-axis scale error, a gyro bias random walk, sensor-step rounding, range
saturation and wire-format rounding. All randomness comes from the injected ``np.random.Generator``.

The constant errors of one physical tag (accelerometer sensitivity and offset, gyro offset, magnetometer hard
iron) are drawn once per recording and returned as :class:`SensorErrors`; passing them back in
(:func:`apply_profile`) replays "the same tag" in a second recording.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from simulators.wearer import quat

FloatArray = npt.NDArray[np.float64]

STANDARD_GRAVITY_M_S2: Final = 9.80665
PROFILES_PATH: Final = Path(__file__).with_name("profiles.toml")


@dataclass(frozen=True, slots=True)
class MagneticEnv:
    """The magnetic field at the desk (scenario table ``[magnetic]``).

    Attributes:
        field_ut: total earth-field strength, microtesla.
        dip_deg: inclination below the horizontal (positive: field points down, northern hemisphere).
        disturbance_ut: static local disturbance vector (earth frame, e.g. a steel desk), microtesla.
    """

    field_ut: float = 50.0
    dip_deg: float = 60.0
    disturbance_ut: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def earth_vector_ut(self) -> FloatArray:
        """(3,) field in the earth frame (x east, y north, z up), microtesla."""
        d = np.radians(self.dip_deg)
        base = self.field_ut * np.array([0.0, np.cos(d), -np.sin(d)])
        return base + np.asarray(self.disturbance_ut, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class DeviceProfile:
    """Sensor behaviour of one tag family. Field meanings and units: see ``profiles.toml``."""

    name: str
    description: str
    rates_hz: tuple[float, ...]
    clock_ppm_std: float
    timestamp_jitter_s: float
    has_accel: bool
    has_gyro: bool
    has_mag: bool
    accel_range_g: float
    accel_lsb_g: float
    accel_wire_lsb_g: float
    accel_noise_ug_per_rt_hz: float
    accel_bias_std_g: float
    accel_scale_std: float
    gyro_range_dps: float
    gyro_lsb_dps: float
    gyro_wire_lsb_dps: float
    gyro_noise_dps_per_rt_hz: float
    gyro_bias_std_dps: float
    gyro_bias_walk_dps_per_rt_s: float
    mag_range_ut: float
    mag_lsb_ut: float
    mag_wire_lsb_ut: float
    mag_noise_ut: float
    mag_hard_iron_std_ut: float

    def nearest_rate_hz(self, rate_hz: float) -> float:
        """The supported output rate closest to ``rate_hz`` (tags snap a requested rate the same way)."""
        rates = np.asarray(self.rates_hz)
        return float(rates[int(np.argmin(np.abs(rates - rate_hz)))])


Vec3 = tuple[float, float, float]


def _vec3(values: npt.ArrayLike) -> Vec3:
    a = np.asarray(values, dtype=np.float64).reshape(3)
    return (float(a[0]), float(a[1]), float(a[2]))


@dataclass(frozen=True, slots=True)
class SensorErrors:
    """The constant errors of one physical tag, drawn once per recording (all per tag axis, tag frame).

    A reading is ``scale * true + bias + noise`` (the gyro adds its bias random walk, which is a process and is
    drawn afresh every recording, as is the noise). Pass a recording's errors to
    :func:`simulators.wearer.simulate` (``sensor_errors=``) to record again "with the same tag".

    Attributes:
        accel_scale: accelerometer sensitivity relative to nominal (dimensionless, 1 = exact).
        accel_bias_g: accelerometer zero-g offset, g.
        gyro_bias_dps: gyroscope zero-rate offset at the start of the recording, degrees per second.
        mag_hard_iron_ut: magnetometer hard-iron offset, microtesla.
        clock_ppm: the tag clock's rate error, parts per million (+: the tag's timestamps run fast).
    """

    accel_scale: Vec3 = (1.0, 1.0, 1.0)
    accel_bias_g: Vec3 = (0.0, 0.0, 0.0)
    gyro_bias_dps: Vec3 = (0.0, 0.0, 0.0)
    mag_hard_iron_ut: Vec3 = (0.0, 0.0, 0.0)
    clock_ppm: float = 0.0

    def __post_init__(self) -> None:
        for name in ("accel_scale", "accel_bias_g", "gyro_bias_dps", "mag_hard_iron_ut"):
            value = getattr(self, name)
            if len(value) != 3 or not all(np.isfinite(v) for v in value):
                raise ValueError(f"SensorErrors.{name} must be three finite numbers, got {value!r}")
        if not all(0.5 < k < 2.0 for k in self.accel_scale):
            raise ValueError(f"SensorErrors.accel_scale must lie between 0.5 and 2, got {self.accel_scale!r}")
        if not np.isfinite(self.clock_ppm) or abs(self.clock_ppm) >= 1e5:
            raise ValueError(f"SensorErrors.clock_ppm must be finite and below 1e5, got {self.clock_ppm!r}")


class ProfileError(ValueError):
    """A device profile table is malformed; the message names the profile and key."""


def _parse_profile(name: str, table: dict[str, Any], source: str) -> DeviceProfile:
    values: dict[str, Any] = {"name": name}
    known = {f.name for f in fields(DeviceProfile)} - {"name"}
    for key in table:
        if key not in known:
            raise ProfileError(f"{source}: [{name}] unknown key '{key}' (allowed: {', '.join(sorted(known))})")
    for f in fields(DeviceProfile):
        if f.name == "name":
            continue
        if f.name not in table:
            raise ProfileError(f"{source}: [{name}] missing key '{f.name}'")
        v = table[f.name]
        where = f"{source}: [{name}] key '{f.name}'"
        if f.name == "description":
            if not isinstance(v, str):
                raise ProfileError(f"{where} must be a string, got {v!r}")
        elif f.name == "rates_hz":
            if not isinstance(v, list) or not v or not all(isinstance(x, int | float) and x > 0 for x in v):
                raise ProfileError(f"{where} must be a non-empty list of positive numbers, got {v!r}")
            v = tuple(float(x) for x in v)
        elif f.name.startswith("has_"):
            if not isinstance(v, bool):
                raise ProfileError(f"{where} must be true or false, got {v!r}")
        else:
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise ProfileError(f"{where} must be a number >= 0, got {v!r}")
            v = float(v)
        values[f.name] = v
    return DeviceProfile(**values)


def load_profiles(path: Path | None = None) -> dict[str, DeviceProfile]:
    """Read device profiles from a TOML file (default: the shipped ``profiles.toml``).

    Raises:
        ProfileError: a table is malformed (the message names the key).
    """
    p = path or PROFILES_PATH
    with p.open("rb") as fh:
        data = tomllib.load(fh)
    out: dict[str, DeviceProfile] = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ProfileError(f"{p.name}: top-level key '{name}' must be a table")
        out[name] = _parse_profile(name, table, p.name)
    return out


def get_profile(device: str | DeviceProfile) -> DeviceProfile:
    """Look a shipped profile up by family id (or pass a profile through)."""
    if isinstance(device, DeviceProfile):
        return device
    profiles = load_profiles()
    if device not in profiles:
        raise ValueError(f"unknown device '{device}' (known: {', '.join(sorted(profiles))})")
    return profiles[device]


def true_signals(
    q_tag: FloatArray, pos_m: FloatArray, rate_hz: float, magnetic: MagneticEnv
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Ideal sensor readings of a uniformly sampled tag trajectory.

    Args:
        q_tag: (4, N) tag -> earth quaternion rows (``q_tag[0]`` is w), N >= 3.
        pos_m: (3, N) tag positions in the earth frame, metres.
        rate_hz: sample rate.
        magnetic: the magnetic environment.

    Returns:
        ``(accel_g, gyro_dps, mag_ut)``, each (N, 3), in the tag frame.
    """
    dt = 1.0 / rate_hz
    acc = np.gradient(np.gradient(pos_m, dt, axis=1), dt, axis=1)
    acc[2] += STANDARD_GRAVITY_M_S2
    acc /= STANDARD_GRAVITY_M_S2
    accel_g = np.ascontiguousarray(quat.rows_rotate_inverse(q_tag, acc).T)
    del acc
    gyro_dps = np.ascontiguousarray(np.degrees(quat.rows_body_rate(q_tag, dt)).T)
    b = magnetic.earth_vector_ut().reshape(3, 1)
    mag_ut = np.ascontiguousarray(quat.rows_rotate_inverse(q_tag, b).T)
    return accel_g, gyro_dps, mag_ut


def quantize(x: FloatArray, lsb: float) -> FloatArray:
    """Round to multiples of ``lsb`` (unchanged if ``lsb`` is 0). Returns a new array."""
    if lsb <= 0.0:
        return x.copy()
    out: FloatArray = np.divide(x, lsb)
    np.round(out, out=out)
    out *= lsb
    return out


def saturate(x: FloatArray, full_scale: float) -> FloatArray:
    """Clip to +-``full_scale`` (unchanged if 0). Returns a new array."""
    if full_scale <= 0.0:
        return x.copy()
    return np.clip(x, -full_scale, full_scale)


def _digitise(x: FloatArray, lsb: float, full_scale: float, wire_lsb: float) -> FloatArray:
    """Sensor-step rounding, saturation (the top code of a two's complement ADC is one step short of full
    scale) and wire-format rounding, done in place on ``x``."""
    if lsb > 0.0:
        x /= lsb
        np.round(x, out=x)
        x *= lsb
    limit = full_scale - lsb if lsb > 0.0 else full_scale
    if limit > 0.0:
        np.clip(x, -limit, limit, out=x)
    if wire_lsb > 0.0:
        x /= wire_lsb
        np.round(x, out=x)
        x *= wire_lsb
    return x


def _noisy(
    x: FloatArray, scale: FloatArray, bias: FloatArray, noise_std: float, rng: np.random.Generator
) -> FloatArray:
    out: FloatArray = x * scale
    out += bias
    noise = rng.standard_normal(x.shape)
    noise *= noise_std
    out += noise
    return out


def apply_profile(
    profile: DeviceProfile,
    accel_g: FloatArray,
    gyro_dps: FloatArray,
    mag_ut: FloatArray,
    rate_hz: float,
    rng: np.random.Generator,
    errors: SensorErrors | None = None,
) -> tuple[FloatArray, FloatArray, FloatArray, SensorErrors]:
    """Turn ideal (N, 3) readings into what a tag of this family would send (new arrays; inputs untouched), and
    the tag's constant errors, drawn or imposed. A seed reproduces the result bit for bit.

    Args:
        profile: the tag family's sensor behaviour.
        accel_g: (N, 3) ideal specific force, tag frame, g.
        gyro_dps: (N, 3) ideal angular rate, tag frame, degrees per second.
        mag_ut: (N, 3) ideal magnetic field, tag frame, microtesla.
        rate_hz: sample rate, Hz.
        rng: random source; the draw order is fixed (accel scale, bias, noise; gyro bias, walk, noise; mag hard
            iron, noise).
        errors: the constant errors to use instead of the drawn ones (``clock_ppm`` is not used here). The same
            values are still drawn from ``rng`` and discarded, so the noise is the one the seed would give anyway.

    Returns:
        ``(accel_g, gyro_dps, mag_ut, errors)``: the readings, each (N, 3), all-NaN for sensors the family does
        not have, and the constant errors used (``clock_ppm`` 0 unless given in ``errors``).
    """
    n = accel_g.shape[0]
    bw = np.sqrt(0.5 * rate_hz)
    ones = np.ones(3)

    scale = 1.0 + rng.normal(0.0, profile.accel_scale_std, size=3)
    bias = rng.normal(0.0, profile.accel_bias_std_g, size=3)
    if errors is not None:
        scale = np.asarray(errors.accel_scale, dtype=np.float64)
        bias = np.asarray(errors.accel_bias_g, dtype=np.float64)
    a = _noisy(accel_g, scale, bias, profile.accel_noise_ug_per_rt_hz * 1e-6 * bw, rng)
    a = _digitise(a, profile.accel_lsb_g, profile.accel_range_g, profile.accel_wire_lsb_g)
    if not profile.has_accel:
        a.fill(np.nan)

    g_bias = rng.normal(0.0, profile.gyro_bias_std_dps, size=3)
    if errors is not None:
        g_bias = np.asarray(errors.gyro_bias_dps, dtype=np.float64)
    walk = rng.standard_normal((n, 3))
    np.cumsum(walk, axis=0, out=walk)
    walk *= profile.gyro_bias_walk_dps_per_rt_s / np.sqrt(rate_hz)
    g = _noisy(gyro_dps, ones, g_bias, profile.gyro_noise_dps_per_rt_hz * bw, rng)
    g += walk
    del walk
    g = _digitise(g, profile.gyro_lsb_dps, profile.gyro_range_dps, profile.gyro_wire_lsb_dps)
    if not profile.has_gyro:
        g.fill(np.nan)

    hard_iron = rng.normal(0.0, profile.mag_hard_iron_std_ut, size=3)
    if errors is not None:
        hard_iron = np.asarray(errors.mag_hard_iron_ut, dtype=np.float64)
    m = _noisy(mag_ut, ones, hard_iron, profile.mag_noise_ut, rng)
    m = _digitise(m, profile.mag_lsb_ut, profile.mag_range_ut, profile.mag_wire_lsb_ut)
    if not profile.has_mag:
        m.fill(np.nan)
    used = SensorErrors(
        accel_scale=_vec3(scale),
        accel_bias_g=_vec3(bias),
        gyro_bias_dps=_vec3(g_bias),
        mag_hard_iron_ut=_vec3(hard_iron),
        clock_ppm=errors.clock_ppm if errors is not None else 0.0,
    )
    return a, g, m, used
