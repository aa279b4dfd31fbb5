"""Smooth shapes and coloured noise used to build the wearer's motion.

Everything here is C2-continuous (value, slope and curvature are continuous), so that the angular rate and the
linear acceleration derived from the motion by differentiation have no steps or spikes at segment edges.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def smootherstep(x: FloatArray) -> FloatArray:
    """Quintic 0 -> 1 step ``6x^5 - 15x^4 + 10x^3`` on x clipped to [0, 1]; zero slope and curvature at both ends."""
    u = np.clip(x, 0.0, 1.0)
    out: FloatArray = u * u * u * (u * (6.0 * u - 15.0) + 10.0)
    return out


def ramp(tau_s: FloatArray, start_s: float, duration_s: float) -> FloatArray:
    """Smooth 0 -> 1 ramp starting at ``start_s`` and finishing ``duration_s`` later (1 afterwards)."""
    if duration_s <= 0.0:
        return (tau_s >= start_s).astype(np.float64)
    return smootherstep((tau_s - start_s) / duration_s)


def plateau(tau_s: FloatArray, start_s: float, rise_s: float, hold_s: float, fall_s: float) -> FloatArray:
    """Smooth 0 -> 1 -> 0 pulse: rise over ``rise_s``, hold 1 for ``hold_s``, fall over ``fall_s``."""
    up = ramp(tau_s, start_s, rise_s)
    down = ramp(tau_s, start_s + rise_s + hold_s, fall_s)
    return up - down


def envelope(n: int, rate_hz: float, fade_s: float) -> FloatArray:
    """(n,) window that fades in over ``fade_s`` at the start and out over ``fade_s`` at the end (C2).

    If the window is shorter than two fades, the fade is shortened to half its length.
    """
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    dur = n / rate_hz
    fade = min(fade_s, 0.5 * dur)
    tau = np.arange(n, dtype=np.float64) / rate_hz
    return plateau(tau, 0.0, fade, max(dur - 2.0 * fade, 0.0), fade)


def band_noise(
    n: int,
    rate_hz: float,
    f_lo_hz: float,
    f_hi_hz: float,
    rng: np.random.Generator,
    channels: int = 1,
) -> FloatArray:
    """Smooth band-limited Gaussian noise with unit RMS, shaped in the frequency domain.

    The spectrum is flat between ``f_lo_hz`` and ``f_hi_hz`` with raised-cosine skirts an octave wide, so the
    time series is smooth (no energy near Nyquist) and suitable for differentiation.

    Args:
        n: number of samples.
        rate_hz: sample rate.
        f_lo_hz: lower corner (0 for low-pass noise).
        f_hi_hz: upper corner.
        rng: random source.
        channels: number of independent channels.

    Returns:
        (n, channels) array, each column with RMS 1 (0 if ``n`` < 4).
    """
    if n < 4:
        return np.zeros((n, channels), dtype=np.float64)
    freqs = np.fft.rfftfreq(n, 1.0 / rate_hz)
    gain = np.ones_like(freqs)
    hi = min(f_hi_hz, 0.45 * rate_hz)
    # Upper skirt: cosine from hi to 2*hi.
    x_hi = np.clip((freqs - hi) / hi, 0.0, 1.0)
    gain *= 0.5 * (1.0 + np.cos(np.pi * x_hi))
    if f_lo_hz > 0.0:
        x_lo = np.clip((freqs - 0.5 * f_lo_hz) / (0.5 * f_lo_hz), 0.0, 1.0)
        gain *= 0.5 * (1.0 - np.cos(np.pi * x_lo))
    gain[0] = 0.0
    out = np.empty((n, channels), dtype=np.float64)
    for ch in range(channels):  # one channel at a time keeps the spectral temporaries small
        spec = rng.standard_normal(freqs.size) + 1j * rng.standard_normal(freqs.size)
        spec *= gain
        col = np.fft.irfft(spec, n=n)
        rms = float(np.sqrt(np.mean(col * col)))
        out[:, ch] = col / rms if rms > 0.0 else col
    return out
