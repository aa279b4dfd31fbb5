"""The activity state machine's batch loop compiled with numba (optional; only the batch analysis uses it).

This module imports numba at its top, so nothing imports it at module level: :func:`posturebuddy.motion.activity.
activity_codes_compiled` imports it inside the function, and treats an ``ImportError`` as "numba not installed"
(the caller then runs the pure-Python :meth:`~posturebuddy.motion.activity.ActivityClassifier.run_codes`).

:func:`activity_codes` is a line-by-line transcription of ``ActivityClassifier._advance`` and the methods it calls,
restricted to what decides the activity (confidences, cadence, step counts and the swing window are not computed:
they are outputs only and never feed back into the activity). The Python class stays the reference and the
streaming path; the two must give the same codes row for row (``tests/motion/test_activity_kernel.py`` runs both on
simulated days). Rules kept for that:

* compiled without ``fastmath`` (IEEE operations in the same order give the same doubles; no contraction into
  fused multiply-adds), with the same expressions in the same evaluation order as the Python code;
* ``math.sqrt``/``atan2``/``expm1`` are the same C library functions CPython calls; degrees are ``x * (180/pi)``,
  which is what ``math.degrees`` computes;
* Python's two-argument ``max(a, b)``/``min(a, b)`` are written out as comparisons (``b`` wins only if strictly
  greater / smaller), so NaN behaves as in Python;
* the deques become ring buffers that grow when full (a deque has no length limit either), the step-time deque
  keeps its 8 entries.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba
import numpy as np
import numpy.typing as npt

from posturebuddy.model import Activity

_F = TypeVar("_F", bound=Callable[..., Any])

RAD_TO_DEG = 180.0 / math.pi
"""The factor ``math.degrees`` multiplies by (CPython: ``180.0 / Py_MATH_PI``, the same double)."""

G_MPS2 = 9.80665
"""m/s^2 per g (``activity.STANDARD_GRAVITY_MPS2``)."""

AFTER_GAP_G = 0.15
"""``activity.AFTER_GAP_MOVEMENT_G`` (checked equal in the tests)."""

_ORDER = tuple(Activity)
STILL = _ORDER.index(Activity.STILL)
FIDGET = _ORDER.index(Activity.FIDGET)
SIT_TO_STAND = _ORDER.index(Activity.SIT_TO_STAND)
STANDING = _ORDER.index(Activity.STANDING)
WALKING = _ORDER.index(Activity.WALKING)
NO_DATA = _ORDER.index(Activity.NO_DATA)

PARAM_NAMES: tuple[str, ...] = (
    "min_cadence_hz",
    "max_cadence_hz",
    "min_steps",
    "step_threshold_g",
    "step_interval_ratio",
    "step_timeout_s",
    "transition_m",
    "min_swing_deg",
    "min_peak_speed_m_s",
    "transition_window_s",
    "settle_s",
    "transition_hold_s",
    "provisional_timeout_s",
    "confirm_window_s",
    "still_g",
    "fidget_g",
    "fidget_tilt_deg",
    "fidget_rate_dps",
    "new_posture_s",
    "baseline_time_constant_s",
    "no_data_s",
    "max_gap_s",
    "accel_lowpass_s",
    "movement_smoothing_s",
    "step_highpass_s",
    "step_lowpass_s",
    "offset_time_constant_s",
    "seated_after_gap_s",
)
"""Order of the settings in the kernel's ``params`` array (``ActivitySettings`` field names)."""


def _jit(fn: _F) -> _F:
    return cast("_F", numba.njit(cache=True)(fn))


@_jit
def _angle_deg(ax: float, ay: float, az: float, bx: float, by: float, bz: float) -> float:
    cx = ay * bz - az * by
    cy = az * bx - ax * bz
    cz = ax * by - ay * bx
    return math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), ax * bx + ay * by + az * bz) * RAD_TO_DEG


@_jit
def _alpha(dt: float, tau: float) -> float:
    return -math.expm1(-dt / tau)


@_jit
def _grow(a: npt.NDArray[np.float64], head: int) -> npt.NDArray[np.float64]:
    """A full ring buffer (rows from ``head`` on, wrapping) copied in order into one twice as long."""
    cap = a.shape[0]
    b = np.empty((2 * cap, a.shape[1]))
    for k in range(cap):
        j = (head + k) % cap
        for c in range(a.shape[1]):
            b[k, c] = a[j, c]
    return b


@_jit
def _integrate_back(
    bt: npt.NDArray[np.float64], acc: npt.NDArray[np.float64], n: int
) -> tuple[float, float, float, float]:
    """``activity._integrate_back`` over the first ``n`` rows."""
    v = 0.0
    h = 0.0
    h_min = 0.0
    h_max = 0.0
    v_peak = 0.0
    for k in range(n - 1, 0, -1):
        dt = bt[k] - bt[k - 1]
        v_prev = v - acc[k] * dt
        h -= 0.5 * (v + v_prev) * dt
        v = v_prev
        av = abs(v)
        if av > v_peak:
            v_peak = av
        if h < h_min:
            h_min = h
        if h > h_max:
            h_max = h
    return -h_min, -h_max, v_peak, -h


@_jit
def activity_codes(
    t_s: npt.NDArray[np.float64],
    accel_g: npt.NDArray[np.float64],
    has_acc: npt.NDArray[np.bool_],
    up_tag: npt.NDArray[np.float64],
    has_up: npt.NDArray[np.bool_],
    oriented: npt.NDArray[np.bool_],
    params: npt.NDArray[np.float64],
) -> npt.NDArray[np.int8]:
    """Activity codes of a fresh classifier fed every row (``ActivityClassifier.run_codes``).

    Args:
        t_s: row times, shape (N,).
        accel_g: accelerometer, shape (N, 3); used where ``has_acc`` (finite, not zero: checked by the caller).
        has_acc: rows with a usable accelerometer reading, shape (N,).
        up_tag: the tilt's up vector, shape (N, 3); used where ``has_up``.
        has_up: rows with a tilt estimate, shape (N,).
        oriented: rows whose tilt source is oriented (projection on up), shape (N,).
        params: the settings in :data:`PARAM_NAMES` order.
    """
    min_cadence_hz = params[0]
    max_cadence_hz = params[1]
    min_steps = params[2]
    step_threshold_g = params[3]
    step_interval_ratio = params[4]
    step_timeout_s = params[5]
    transition_m = params[6]
    min_swing_deg = params[7]
    min_peak_speed_m_s = params[8]
    transition_window_s = params[9]
    settle_s = params[10]
    transition_hold_s = params[11]
    provisional_timeout_s = params[12]
    confirm_window_s = params[13]
    still_g = params[14]
    fidget_g = params[15]
    fidget_tilt_deg = params[16]
    fidget_rate_dps = params[17]
    new_posture_s = params[18]
    baseline_time_constant_s = params[19]
    no_data_s = params[20]
    max_gap_s = params[21]
    accel_lowpass_s = params[22]
    movement_smoothing_s = params[23]
    step_highpass_s = params[24]
    step_lowpass_s = params[25]
    offset_time_constant_s = params[26]
    seated_after_gap_s = params[27]

    n = t_s.shape[0]
    codes = np.empty(n, dtype=np.int8)
    inf = math.inf
    nan = math.nan

    # reset()
    t_data = -inf
    activity = NO_DATA
    on_feet = False
    has_baseline = False
    bx = 0.0
    by = 0.0
    bz = 0.0
    # _restart_filters() (repeated below where the data resumes after a gap)
    acc_dt = nan
    k_lp_acc = 0.0
    k_mov = 0.0
    k_hp = 0.0
    k_lp = 0.0
    k_off = 0.0
    tilt_dt = nan
    k_rate = 0.0
    k_base = 0.0
    t_accel = -inf
    t_tilt = -inf
    has_lp = False
    lpx = 0.0
    lpy = 0.0
    lpz = 0.0
    movement = nan
    hp_ref = 0.0
    step_sig = 0.0
    offset = nan
    hist = np.empty((64, 2))  # (t, offset) ring
    hist_head = 0
    hist_n = 0
    oriented_state = -1  # None / False / True as -1 / 0 / 1
    still = False
    t_still = -inf
    vel = 0.0
    disp = 0.0
    burst_end = nan
    burst_start = -inf
    burst_offset = nan
    still_exc = 0.0
    burst_start_exc = inf
    burst_swing = 0.0
    burst_speed = 0.0
    offset_before_burst = nan
    buf = np.empty((1024, 3))  # (t, vertical signal, excursion) ring
    buf_head = 0
    buf_n = 0
    peak_armed = False
    peak_val = 0.0
    peak_t = 0.0
    steps_t = np.empty(8)  # step times, the last 8 (ring)
    steps_head = 0
    steps_n = 0
    last_peak = 0.0
    run = 0
    walking = False
    has_up_prev = False
    upx = 0.0
    upy = 0.0
    upz = 0.0
    tilt_rate = 0.0
    excursion = nan
    has_hold = False
    hx = 0.0
    hy = 0.0
    hz = 0.0
    hold_t0 = nan
    quiet_since = nan
    fidget = False
    transition_until = -inf
    pending = 0  # 0 none, 1 rise, -1 sit
    prov_kind = 0
    prov_feet = False
    prov_t = 0.0
    refractory_until = -inf
    after_gap = False

    horizon = max(transition_window_s, confirm_window_s) + settle_s + 0.5
    step_lo = 1.0 / max_cadence_hz
    step_hi = 1.0 / min_cadence_hz

    for i in range(n):
        t = t_s[i]
        ha = has_acc[i]
        hu = has_up[i]
        # ---- _advance
        if not ha and not hu:
            if t - t_data >= no_data_s:
                activity = NO_DATA
                walking = False
                run = 0
            codes[i] = activity
            continue
        if t - t_data > max_gap_s:
            acc_dt = nan
            k_lp_acc = 0.0
            k_mov = 0.0
            k_hp = 0.0
            k_lp = 0.0
            k_off = 0.0
            tilt_dt = nan
            k_rate = 0.0
            k_base = 0.0
            t_accel = -inf
            t_tilt = -inf
            has_lp = False
            movement = nan
            hp_ref = 0.0
            step_sig = 0.0
            offset = nan
            hist_n = 0
            oriented_state = -1
            still = False
            t_still = -inf
            vel = 0.0
            disp = 0.0
            burst_end = nan
            burst_start = -inf
            burst_offset = nan
            still_exc = 0.0
            burst_start_exc = inf
            burst_swing = 0.0
            burst_speed = 0.0
            offset_before_burst = nan
            buf_n = 0
            peak_armed = False
            peak_val = 0.0
            peak_t = 0.0
            steps_n = 0
            last_peak = 0.0
            run = 0
            walking = False
            has_up_prev = False
            tilt_rate = 0.0
            excursion = nan
            has_hold = False
            hold_t0 = nan
            quiet_since = nan
            fidget = False
            transition_until = -inf
            pending = 0
            prov_kind = 0
            refractory_until = -inf
            after_gap = False
            if math.isfinite(t_data):
                after_gap = True
                refractory_until = t + confirm_window_s
                if t - t_data >= seated_after_gap_s:
                    on_feet = False
        if t > t_data:
            t_data = t
        pending = 0
        ux = up_tag[i, 0]
        uy = up_tag[i, 1]
        uz = up_tag[i, 2]

        # ---- _tilt_step
        if hu:
            dt = t - t_tilt
            if not has_up_prev:
                has_up_prev = True
                upx, upy, upz = ux, uy, uz
                t_tilt = t
                if not has_baseline:
                    has_baseline = True
                    bx, by, bz = ux, uy, uz
                excursion = _angle_deg(ux, uy, uz, bx, by, bz)
            elif dt > 0.0:
                px, py, pz = upx, upy, upz
                upx, upy, upz = ux, uy, uz
                t_tilt = t
                rate = _angle_deg(px, py, pz, ux, uy, uz) / dt
                if dt != tilt_dt:
                    tilt_dt = dt
                    k_rate = _alpha(dt, movement_smoothing_s)
                    k_base = _alpha(dt, baseline_time_constant_s)
                tilt_rate += k_rate * (rate - tilt_rate)
                if has_baseline:
                    b0, b1, b2 = bx, by, bz
                else:
                    b0, b1, b2 = ux, uy, uz
                exc = _angle_deg(ux, uy, uz, b0, b1, b2)
                excursion = exc
                mov = movement
                quiet = (math.isnan(mov) or mov < fidget_g) and tilt_rate < fidget_rate_dps
                if not quiet:
                    has_hold = False
                elif exc <= fidget_tilt_deg or not fidget:
                    k = k_base
                    n0 = b0 + k * (ux - b0)
                    n1 = b1 + k * (uy - b1)
                    n2 = b2 + k * (uz - b2)
                    nn = math.sqrt(n0 * n0 + n1 * n1 + n2 * n2)
                    has_baseline = True
                    bx, by, bz = n0 / nn, n1 / nn, n2 / nn
                    has_hold = False
                elif not has_hold or _angle_deg(hx, hy, hz, ux, uy, uz) > fidget_tilt_deg:
                    has_hold = True
                    hx, hy, hz = ux, uy, uz
                    hold_t0 = t
                elif t - hold_t0 >= new_posture_s:
                    has_baseline = True
                    bx, by, bz = ux, uy, uz
                    has_hold = False
                    excursion = 0.0

        # ---- _accel_step
        if ha:
            ax = accel_g[i, 0]
            ay = accel_g[i, 1]
            az = accel_g[i, 2]
            o = oriented[i] and hu
            dt = t - t_accel
            mag = math.sqrt(ax * ax + ay * ay + az * az)
            vert = ax * ux + ay * uy + az * uz if o else mag
            o_code = 1 if o else 0
            proceed = True
            if not has_lp or o_code != oriented_state:
                first = not has_lp
                if first:
                    has_lp = True
                    lpx, lpy, lpz = ax, ay, az
                    movement = AFTER_GAP_G if after_gap else 0.0
                    after_gap = False
                    hp_ref = mag
                    t_accel = t
                    t_still = t
                oriented_state = o_code
                offset = vert
                buf_n = 0
                hist_n = 0
                vel = 0.0
                disp = 0.0
                burst_end = nan
                offset_before_burst = nan
                burst_offset = nan
                if first:
                    proceed = False
            if proceed and dt > 0.0:
                t_accel = t
                if dt != acc_dt:
                    acc_dt = dt
                    k_lp_acc = _alpha(dt, accel_lowpass_s)
                    k_mov = _alpha(dt, movement_smoothing_s)
                    k_hp = _alpha(dt, step_highpass_s)
                    k_lp = _alpha(dt, step_lowpass_s)
                    k_off = _alpha(dt, offset_time_constant_s)
                lpx += k_lp_acc * (ax - lpx)
                lpy += k_lp_acc * (ay - lpy)
                lpz += k_lp_acc * (az - lpz)
                dx = ax - lpx
                dy = ay - lpy
                dz = az - lpz
                movement += k_mov * (math.sqrt(dx * dx + dy * dy + dz * dz) - movement)
                hp_ref += k_hp * (mag - hp_ref)
                prev_sig = step_sig
                step_sig += k_lp * ((mag - hp_ref) - step_sig)
                sig = step_sig

                # ---- _detect_step
                if sig >= step_threshold_g and (not peak_armed or sig > peak_val):
                    peak_armed = True
                    peak_val = sig
                    peak_t = t
                if peak_armed and sig < 0.0 <= prev_sig:
                    peak_armed = False
                    # ---- _register_step(peak_t, peak_val)
                    ts = peak_t
                    value = peak_val
                    last = steps_t[(steps_head + steps_n - 1) % 8] if steps_n > 0 else 0.0
                    if steps_n > 0 and ts - last < step_lo:
                        if value >= 0.6 * last_peak:
                            steps_n = 0
                            run = 0
                            walking = False
                    else:
                        last_peak = value
                        if steps_n == 0:
                            run = 1
                        else:
                            interval = ts - last
                            if interval > step_hi:
                                steps_n = 0
                                run = 1
                            else:
                                ok = True
                                if steps_n >= 2:
                                    prev_int = last - steps_t[(steps_head + steps_n - 2) % 8]
                                    ok = 1.0 / step_interval_ratio <= interval / prev_int <= step_interval_ratio
                                run = run + 1 if ok else 2
                        if steps_n == 8:
                            steps_head = (steps_head + 1) % 8
                            steps_n -= 1
                        steps_t[(steps_head + steps_n) % 8] = ts
                        steps_n += 1
                        if run >= min_steps and not walking:
                            walking = True
                if walking and t - steps_t[(steps_head + steps_n - 1) % 8] > step_timeout_s:
                    walking = False
                    run = 0

                # ---- zero-velocity bounded integration
                exc = 0.0 if math.isnan(excursion) else excursion
                cap = buf.shape[0]
                if buf_n == cap:
                    buf = _grow(buf, buf_head)
                    buf_head = 0
                    cap = buf.shape[0]
                j = (buf_head + buf_n) % cap
                buf[j, 0] = t
                buf[j, 1] = vert
                buf[j, 2] = exc
                buf_n += 1
                while t - buf[buf_head, 0] > horizon:
                    buf_head = (buf_head + 1) % cap
                    buf_n -= 1
                was_still = still
                still = movement < still_g
                if still:
                    offset += k_off * (vert - offset)
                    hcap = hist.shape[0]
                    if hist_n == hcap:
                        hist = _grow(hist, hist_head)
                        hist_head = 0
                        hcap = hist.shape[0]
                    j = (hist_head + hist_n) % hcap
                    hist[j, 0] = t
                    hist[j, 1] = offset
                    hist_n += 1
                    while t - hist[hist_head, 0] > settle_s:
                        hist_head = (hist_head + 1) % hcap
                        hist_n -= 1
                    vel = 0.0
                    disp = 0.0
                    t_still = t
                    still_exc = exc
                    if not was_still:
                        burst_end = t
                        offset_before_burst = burst_offset
                    elif not math.isnan(burst_end) and t - burst_end >= settle_s:
                        # ---- _backward_check(t)
                        run_check = True
                        if prov_kind == 0 and burst_end < refractory_until:
                            run_check = False
                        if run_check:
                            end = burst_end
                            if prov_kind != 0 or end - burst_start <= confirm_window_s:
                                window = confirm_window_s
                            else:
                                window = transition_window_s
                            start = end - window
                            if burst_start > start:
                                start = burst_start
                            bt = np.empty(buf_n)
                            bv = np.empty(buf_n)
                            be = np.empty(buf_n)
                            nb = 0
                            after_sum = 0.0
                            na = 0
                            for q in range(buf_n):
                                r = (buf_head + q) % cap
                                rt = buf[r, 0]
                                if start <= rt <= t:
                                    if rt >= end:
                                        after_sum += buf[r, 1]
                                        na += 1
                                    if rt <= end:
                                        bt[nb] = rt
                                        bv[nb] = buf[r, 1]
                                        be[nb] = buf[r, 2]
                                        nb += 1
                            if nb >= 3 and na > 0:
                                covers_start = start == burst_start
                                # _swung_forward: passes min_swing_deg from below, or rises by it from its lowest.
                                sw = -math.inf
                                lowest = math.inf
                                swung = False
                                for q in range(nb):
                                    if be[q] > sw:
                                        sw = be[q]
                                    if be[q] < lowest:
                                        lowest = be[q]
                                    if be[q] - lowest >= min_swing_deg:
                                        swung = True
                                if be[0] < min_swing_deg <= sw:
                                    swung = True
                                if prov_kind != 0 or swung:
                                    off_end = after_sum / na
                                    off_start = offset_before_burst
                                    if not (covers_start and math.isfinite(off_start)):
                                        off_start = off_end
                                    t0 = bt[0]
                                    span = end - t0
                                    if span < 1e-9:
                                        span = 1e-9
                                    residual = np.empty(nb)
                                    for q in range(nb):
                                        residual[q] = (
                                            bv[q] - (off_start + (off_end - off_start) * (bt[q] - t0) / span)
                                        ) * G_MPS2
                                    closed = covers_start and math.isfinite(offset_before_burst)
                                    rise, fall, v_peak, _ = _integrate_back(bt, residual, nb)
                                    if closed:
                                        num = 0.0
                                        for q in range(1, nb):
                                            num += residual[q] * (bt[q] - bt[q - 1])
                                        mean = num / span
                                        for q in range(nb):
                                            residual[q] = residual[q] - mean
                                        _, _, v_peak, net = _integrate_back(bt, residual, nb)
                                        if oriented_state == 1:
                                            rise = net
                                            fall = net
                                        else:
                                            if net < rise:
                                                rise = net
                                            if net > fall:
                                                fall = net
                                    if prov_kind != 0:
                                        kind = prov_kind
                                        prov_kind = 0
                                        need = transition_m if closed else 0.5 * transition_m
                                        shows = rise >= need if kind == 1 else fall <= -need
                                        if not covers_start or shows:
                                            pending = kind
                                        else:
                                            on_feet = prov_feet
                                            transition_until = -inf
                                    elif not v_peak < min_peak_speed_m_s:
                                        if not on_feet and rise >= transition_m:
                                            pending = 1
                                        elif on_feet and not walking and fall <= -transition_m:
                                            pending = -1
                                        if pending != 0:
                                            transition_until = t
                        burst_end = nan
                else:
                    if was_still:
                        if hist_n > 0:
                            offset = hist[hist_head, 1]
                            hist_n = 0
                        burst_start = t_still
                        burst_offset = offset
                        burst_start_exc = still_exc
                        burst_swing = exc
                        burst_speed = 0.0
                    if exc > burst_swing:
                        burst_swing = exc
                    burst_end = nan
                    if t - t_still <= transition_window_s:
                        vel += (vert - offset) * G_MPS2 * dt
                        disp += vel * dt
                        # ---- _forward_check(t)
                        if not (
                            t < refractory_until or burst_start_exc >= min_swing_deg or burst_swing < min_swing_deg
                        ):
                            av = abs(vel)
                            if av > burst_speed:
                                burst_speed = av
                            if not burst_speed < min_peak_speed_m_s:
                                kind = 0
                                if not on_feet and disp >= transition_m:
                                    kind = 1
                                elif on_feet and not walking and disp <= -transition_m:
                                    kind = -1
                                if kind != 0 and prov_kind == 0:
                                    prov_kind = kind
                                    prov_feet = on_feet
                                    prov_t = t
                                    on_feet = kind == 1
                                    transition_until = t + transition_hold_s
                                    refractory_until = t + transition_window_s

        # ---- _decide(t)
        if prov_kind != 0 and (walking or t - prov_t > provisional_timeout_s):
            kind = prov_kind
            prov_kind = 0
            if kind == 1 or not walking:
                pending = kind
        if pending != 0:
            on_feet = pending == 1
            until = t + transition_window_s
            if until > refractory_until:
                refractory_until = until
        if walking:
            on_feet = True
            transition_until = -inf
        elif still and t > transition_until - transition_hold_s + settle_s and t < transition_until:
            transition_until = t
        mov = movement
        moving = (not math.isnan(mov) and mov > fidget_g) or tilt_rate > fidget_rate_dps
        moving = moving or (fidget and not math.isnan(excursion) and excursion > fidget_tilt_deg)
        if moving:
            fidget = True
            quiet_since = nan
        elif fidget:
            calm = math.isnan(mov) or mov < still_g
            if not calm:
                quiet_since = nan
            elif math.isnan(quiet_since):
                quiet_since = t
            elif t - quiet_since >= settle_s:
                fidget = False
        if t <= transition_until or prov_kind == 1:
            activity = SIT_TO_STAND
        elif walking:
            activity = WALKING
        elif on_feet:
            activity = STANDING
        elif fidget:
            activity = FIDGET
        else:
            activity = STILL
        codes[i] = activity
    return codes
