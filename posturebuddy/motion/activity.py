"""Activity: what the wearer's body is doing, from an upper-back tag (streaming, with a batch twin).

An upper-back tag tilts about the same when its wearer sits upright and when they stand, so standing up and
sitting down are recognised **from the transitions** and from **gait**, never from static tilt:

* **Sit-to-stand / stand-to-sit**: the hips rise (or fall) by ~0.4 m within one to three seconds while the
  trunk swings forward. The vertical acceleration (see "Vertical acceleration" below) is integrated
  twice **between moments of stillness**, where the vertical velocity is known to be zero (the zero-velocity
  update of pedestrian navigation). Forward: from the last still sample before a movement burst, with the
  accelerometer offset measured during that stillness, for at most ``transition_window_s``; a rise shows as the
  displacement passing ``+transition_m`` during the movement (an upward push, then braking), sitting down as
  passing ``-transition_m`` (dropping, then landing). Backward: when the wearer has become still again after a
  burst (e.g. sat down straight from walking, when no still start exists), the last ``transition_window_s`` of the
  burst are integrated backwards from the still end (velocity zero there, offset measured after it), which gives
  the height change over the window whatever the velocity at its start; when the burst started still, the velocity
  is known to be zero at *both* ends, so the mean of the acceleration residual over the burst is removed (the
  two-sided zero-velocity update) and the *net* height change, still to still, decides (a reach goes down and
  comes back: net zero, however far down it went). Either way a transition also needs the
  trunk to have swung forward by at least ``min_swing_deg`` within the window (rising from a chair is impossible
  without it): its excursion from the still posture passes that from below, or rises by that much from its lowest
  point in the window (the end of a walk can leave an accelerometer-derived tilt 15 deg off just before the
  wearer stops and sits down).
  Rising is only looked for while seated, sitting down only while on the feet.
* **Vertical acceleration**. The accelerometer measures the specific force ``a = g_up + l`` (tag frame, g), with
  ``l`` the linear acceleration. Its magnitude is ``|a| = sqrt((1 + l_v)^2 + l_h^2) ~ 1 + l_v + l_h^2 / 2``: the
  horizontal part adds ``l_h^2 / 2 >= 0``, which never averages out. A deep reach (the trunk pivots 40-60 deg
  about the hips: tangential and centripetal accelerations of 0.3-0.5 g) integrates that term to a spurious rise
  of 0.5-3 m over a few seconds, as large as a real stand-up's. So:

  - tags whose tilt is measured independently of the accelerometer's linear acceleration (the tag's own
    quaternion or gravity vector: ``TiltSource.QUATERNION`` / ``GRAVITY``) use the projection on the current up
    vector, ``a . u = 1 + l_v`` (the still-time value of ``a . u``, accelerometer bias and scale along up, is
    the offset, as for ``|a|``). An offset *vector* (``a - u`` learnt while still) was tried and dropped: it also
    learns the quaternion's tilt error at one posture and misapplies it at the next (0.06 g in the simulator);
  - tags whose up vector is itself derived from the accelerometer (``ACCEL``: a low-pass that lags a fast
    rotation by tens of degrees; ``AHRS``: the fusion filter lets the linear acceleration pull the estimate during
    a fast trunk swing) keep ``|a|``: projecting on a lagging up vector costs ``1 - cos(lag)`` (a spurious *fall*
    of metres), and ``|a|`` is at least an upper bound of ``1 + l_v``, so it never hides a real rise. For them the
    ``l_h^2 / 2`` error is handled by the two-sided zero-velocity update of a burst that starts and ends still
    (removing the mean residual cancels a bias pulse whose time centroid lies mid-burst, which is how a reach
    looks) and by showing a rise seen *during* the movement as ``sit_to_stand`` (not ``standing``) until the
    still end confirms it.

* **Walking**: steps are peaks of the band-passed ``|a|`` (one per step: the vertical bounce of the trunk);
  walking needs ``min_steps`` consecutive steps at a walking cadence (``min_cadence_hz``..``max_cadence_hz``)
  with similar intervals, and ends when no step comes for ``step_timeout_s``.
* **Still / fidget** (seated): movement of the accelerometer signal (``|a - low-pass(a)|``, bias-free), the rate
  of change of the tilt, and the tilt's excursion from the wearer's recent still posture. A posture that is held
  still for ``new_posture_s`` becomes the new still posture (so a recline is "still" once settled).
* **Standing**: on the feet and not walking (weight shifts included).
* **No data**: no sample for ``no_data_s``; feed ``update(t_s, None, None)`` ticks while the link is down.

Inputs per sample: the accelerometer reading (tag frame, g) if the sample has one, and the orientation stage's
:class:`~posturebuddy.motion.orientation.TiltEstimate` if known. Tags with accelerometer only (micro:bit),
accelerometer + gyroscope and quaternion + accelerometer are handled alike; without any accelerometer sample
only still / fidget can be told.

:func:`classify_activity_batch` runs the same state machine over arrays and gives exactly the streaming result
(it calls the same per-sample step; the state machine is a recursion, so it is not vectorised).
"""

from __future__ import annotations

import itertools
import math
import os
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from posturebuddy.model import Activity
from posturebuddy.motion.orientation import TiltEstimate, TiltSeries, TiltSource

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

STANDARD_GRAVITY_MPS2 = 9.80665
"""m/s^2 per g."""

ORIENTED_SOURCES: frozenset[TiltSource] = frozenset({TiltSource.QUATERNION, TiltSource.GRAVITY})
"""Tilt sources whose up vector does not follow the accelerometer's linear acceleration: the vertical acceleration
is the projection on it (see "Vertical acceleration" in the module docstring). The AHRS is not one: measured on the
simulator's reaches, its up vector is pulled by the swing enough that ``|a|`` does better."""

ACTIVITY_CODES: tuple[Activity, ...] = tuple(Activity)
"""Activities in code order (the index is the code used by :class:`ActivitySeries`)."""


AFTER_GAP_MOVEMENT_G = 0.15
"""Movement assumed when data resumes after a gap, g: about four times ``still_g``, so stillness is only
declared after the smoothed movement has really settled (about 0.4 s of true stillness)."""


@dataclass(frozen=True, slots=True)
class ActivitySettings:
    """Settings of the activity classifier (defaults from physiology; see ``docs/engine.md``).

    Attributes:
        min_cadence_hz: slowest step rate that counts as walking. Normal walking is ~1.6-2.0 steps/s, slow
            strolling ~1.4; 1.2 leaves room for a slow office shuffle.
        max_cadence_hz: fastest step rate that counts as walking. Brisk walking reaches ~2.3 steps/s; 2.6 keeps
            a fast walk while excluding running-like bouncing and tremor.
        min_steps: consecutive steps at a walking cadence needed before walking is declared. Four steps (two
            strides, ~2 s) exclude shuffling the chair, a single step to a shelf and weight shifts.
        step_threshold_g: smallest band-passed ``|a|`` peak that counts as a step, g. The upper trunk's vertical
            acceleration while walking peaks at ~0.15-0.3 g per step; seated fidgets and typing stay below
            ~0.02 g.
        step_interval_ratio: consecutive step intervals may differ by at most this factor (gait is regular).
        step_timeout_s: walking ends when no step comes for this long. 1.25 x the slowest step interval.
        transition_m: hip rise (fall) that makes a sit-to-stand (stand-to-sit). Seated and standing hip heights
            differ by ~0.35-0.45 m in adults; half of that rejects reaches (the tag drops by ~0.1 m when the trunk
            bends 40 deg, and comes back) while leaving margin for integration errors.
        min_swing_deg: the trunk must have swung forward at least this much from the still posture within the
            transition window: rising from a chair needs a forward lean of ~20-40 deg (momentum transfer);
            sitting down ~15-30 deg. Walking sways the upper back by < 7 deg, fidgets by ~3-12 deg.
        min_peak_speed_m_s: the vertical speed must reach this during the transition, m/s. Healthy adults
            peak at ~0.5-0.9 m/s when rising; 0.3 keeps slow risers and rejects the slow creep that an
            orientation-dependent accelerometer offset produces during a held lean.
        transition_window_s: longest stretch integrated between still moments, seconds. A sit-to-stand takes
            ~1.5-3 s in healthy adults (longer in frail ones); 4 s covers it while an accelerometer offset error
            of 0.002 g stays below 0.16 m of displacement.
        settle_s: stillness needed before a burst counts as ended (backward check, "fidget" ends), seconds.
        confirm_window_s: the backward integration that confirms a transition seen during the movement covers the
            whole burst up to this long, seconds (a burst that started still within it is checked from its start).
        provisional_timeout_s: a transition seen during a movement that has not ended (still) within this long
            is confirmed anyway, seconds.
        transition_hold_s: the sit-to-stand label is kept at most this long after a transition is recognised
            during the movement (it ends earlier when the wearer is still or walks), seconds.
        still_g: below this accelerometer movement (smoothed ``|a - low-pass(a)|``) the wearer is still, g.
        fidget_g: above this the seated wearer is fidgeting, g (hysteresis between ``still_g`` and this).
        fidget_tilt_deg: a seated excursion of the tilt from the still posture beyond this is a fidget, degrees.
            Breathing and sway move the upper back < 1 deg; fidgets and reaches 3-50 deg.
        fidget_rate_dps: a change of tilt faster than this is a fidget, degrees per second (breathing ~0.5).
        new_posture_s: a different posture held still this long becomes the new still posture, seconds.
        baseline_time_constant_s: the still posture follows slow drift (slouching) with this time constant. A
            drift at ``r`` deg/s lags by ``r x tau``; it must stay under ``fidget_tilt_deg`` or a slow slouch
            (0.1-0.3 deg/s: 8-15 deg over a minute or two) is taken for a fidget and posture goes unjudged while
            it happens (it was 30 s: the detector lost 5-13 s per slow slouch). 5 s follows drifts up to
            0.6 deg/s; a held excursion is not followed (it becomes the new posture after ``new_posture_s``).
        no_data_s: no sample for this long means "no data", seconds.
        max_gap_s: a pause in the samples longer than this restarts the filters (integrators, low-passes).
        accel_lowpass_s: time constant of the accelerometer low-pass the movement measure is relative to.
        movement_smoothing_s: smoothing of the movement and tilt-rate measures, seconds.
        step_highpass_s: high-pass time constant of the step signal (removes gravity and posture), seconds.
        step_lowpass_s: low-pass time constant of the step signal (removes noise above ~3 Hz), seconds.
        offset_time_constant_s: the still-time offset of ``|a|`` (accelerometer bias and scale) is followed with
            this time constant while still, seconds.
        seated_after_gap_s: after no data for this long the wearer is taken to be seated again, as at the start,
            seconds. A wearer who walked out of radio range on a break usually sits down before the link is back
            (or took the tag off and stuck it on again at the desk), so the sit-down is never seen; walking seen
            after the gap puts them back on their feet. A minute is longer than a reconnect takes.
    """

    min_cadence_hz: float = 1.2
    max_cadence_hz: float = 2.6
    min_steps: int = 4
    step_threshold_g: float = 0.06
    step_interval_ratio: float = 1.4
    step_timeout_s: float = 1.05
    transition_m: float = 0.2
    min_swing_deg: float = 15.0
    min_peak_speed_m_s: float = 0.3
    transition_window_s: float = 4.0
    settle_s: float = 0.5
    transition_hold_s: float = 2.0
    provisional_timeout_s: float = 10.0
    confirm_window_s: float = 8.0
    still_g: float = 0.035
    fidget_g: float = 0.06
    fidget_tilt_deg: float = 3.0
    fidget_rate_dps: float = 4.0
    new_posture_s: float = 5.0
    baseline_time_constant_s: float = 5.0
    no_data_s: float = 2.0
    max_gap_s: float = 1.0
    accel_lowpass_s: float = 0.5
    movement_smoothing_s: float = 0.3
    step_highpass_s: float = 0.4
    step_lowpass_s: float = 0.05
    offset_time_constant_s: float = 0.5
    seated_after_gap_s: float = 60.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"ActivitySettings.{f.name} = {value!r} is not allowed: must be a number > 0")
        if self.max_cadence_hz <= self.min_cadence_hz:
            raise ValueError(
                f"ActivitySettings.max_cadence_hz = {self.max_cadence_hz!r} is not allowed: must exceed "
                f"min_cadence_hz ({self.min_cadence_hz!r})"
            )
        if self.min_steps < 2:
            raise ValueError(f"ActivitySettings.min_steps = {self.min_steps!r} is not allowed: must be >= 2")
        if self.fidget_g <= self.still_g:
            raise ValueError(
                f"ActivitySettings.fidget_g = {self.fidget_g!r} is not allowed: must exceed still_g ({self.still_g!r})"
            )


@dataclass(frozen=True, slots=True)
class ActivityFrame:
    """The classifier's output for one update.

    Attributes:
        t_s: sample time, seconds.
        activity: what the wearer is doing.
        confidence: 0..1, how clear the evidence for ``activity`` is (walking: step regularity; transitions:
            displacement relative to ``transition_m``; still: quietness; 0.5 where only the state says so).
        on_feet: the classifier believes the wearer is standing or walking (not seated).
        step_cadence_hz: current step rate while walking, else the last one seen (NaN before any).
        steps: steps counted since the classifier started (only steps that were part of walking).
        movement_g: smoothed ``|a - low-pass(a)|``, g (NaN before any accelerometer sample).
        vertical_velocity_m_s: vertical velocity of the tag since the last still moment (forward integration),
            m/s (0 while still or after the transition window).
        vertical_displacement_m: vertical displacement of the tag since the last still moment, m.
        swing_deg: largest tilt excursion from the still posture within the transition window, degrees.
        tilt_excursion_deg: current tilt excursion from the still posture, degrees (NaN without tilt).
        transition: ``"rise"`` or ``"sit"`` on the update a transition is recognised, else ``None``.
    """

    t_s: float
    activity: Activity
    confidence: float
    on_feet: bool
    step_cadence_hz: float
    steps: int
    movement_g: float
    vertical_velocity_m_s: float
    vertical_displacement_m: float
    swing_deg: float
    tilt_excursion_deg: float
    transition: str | None = None


_TICK = "tick"
"""Internal marker: an update without data."""


def _angle_deg(a: Sequence[float], b: Sequence[float]) -> float:
    cx = a[1] * b[2] - a[2] * b[1]
    cy = a[2] * b[0] - a[0] * b[2]
    cz = a[0] * b[1] - a[1] * b[0]
    return math.degrees(math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), a[0] * b[0] + a[1] * b[1] + a[2] * b[2]))


def _alpha(dt: float, tau: float) -> float:
    return -math.expm1(-dt / tau)


class ActivityClassifier:
    """Streaming activity classifier; one per tag. Feed samples in time order (see the module docstring)."""

    def __init__(self, settings: ActivitySettings | None = None) -> None:
        self._settings = settings if settings is not None else ActivitySettings()
        self.reset()

    @property
    def settings(self) -> ActivitySettings:
        """The settings in use."""
        return self._settings

    def reset(self) -> None:
        """Forget everything (a different tag). The wearer is assumed seated at first (a desk worker)."""
        self._t_data = -math.inf  # time of the last sample carrying anything
        self._activity = Activity.NO_DATA
        self._on_feet = False
        self._steps = 0
        self._cadence = math.nan
        self._baseline: tuple[float, float, float] | None = None
        self._restart_filters()

    def _restart_filters(self) -> None:
        self._acc_dt = math.nan  # the dt the cached smoothing factors were computed for
        self._acc_k = (0.0, 0.0, 0.0, 0.0, 0.0)
        self._tilt_dt = math.nan
        self._tilt_k = (0.0, 0.0)
        self._t_accel = -math.inf
        self._t_tilt = -math.inf
        # accelerometer filters
        self._lp: list[float] | None = None
        self._movement = math.nan
        self._hp_ref = 0.0  # low-pass of |a| for the step high-pass
        self._step_sig = 0.0
        self._offset = math.nan  # still-time vertical signal (|a|, or a . up)
        self._offset_hist: deque[tuple[float, float]] = deque()  # (t, offset) over the last settle_s of stillness
        self._oriented: bool | None = None  # the vertical signal is a projection on an independent up vector
        # zero-velocity bounded integration
        self._still = False
        self._t_still = -math.inf  # last still sample
        self._vel = 0.0
        self._disp = 0.0
        self._burst_end = math.nan  # first still sample after a burst, awaiting the backward check
        self._burst_start = -math.inf  # last still sample before the current (or last) burst
        self._burst_offset = math.nan  # still-time |a| before the current burst
        self._still_exc = 0.0  # tilt excursion at the last still sample
        self._burst_start_exc = math.inf  # tilt excursion when the current burst started (last still sample)
        self._burst_swing = 0.0  # largest tilt excursion since then
        self._burst_speed = 0.0  # largest vertical speed since then (forward integration)
        self._offset_before_burst = math.nan  # ... and before the burst that just ended
        self._buffer: deque[tuple[float, float, float]] = deque()  # (t, vertical signal, tilt excursion)
        # steps
        self._peak_armed = False
        self._peak_val = 0.0
        self._peak_t = 0.0
        self._step_times: deque[float] = deque(maxlen=8)
        self._last_peak = 0.0
        self._run = 0
        self._walking = False
        self._step_conf = 0.0
        # tilt
        self._up_prev: tuple[float, float, float] | None = None
        self._tilt_rate = 0.0
        self._excursion = math.nan
        self._swing_win: deque[tuple[float, float]] = deque()
        self._swing = 0.0
        self._hold_up: tuple[float, float, float] | None = None
        self._hold_t0 = math.nan
        # state
        self._quiet_since = math.nan
        self._fidget = False
        self._transition_until = -math.inf
        self._transition_conf = 0.0
        self._pending: str | None = None
        self._provisional: tuple[str, bool, float] | None = None  # (kind, on_feet before, time)
        self._refractory_until = -math.inf
        self._after_gap = False

    # -----------------------------------------------------------------------------------------
    def update(
        self, t_s: float, accel_g: Sequence[float] | None = None, estimate: TiltEstimate | None = None
    ) -> ActivityFrame:
        """Process one sample (or a tick with neither accelerometer nor tilt) at sample time ``t_s``."""
        t = float(t_s)
        if estimate is None:
            transition = self._advance(t, _usable(accel_g), None, False)
        else:
            transition = self._advance(t, _usable(accel_g), estimate.up_tag, estimate.source in ORIENTED_SOURCES)
        if transition is _TICK:
            return self._frame(t, None, 1.0 if self._activity is Activity.NO_DATA else 0.5)
        return self._frame(t, transition, self._confidence())

    def step(
        self,
        t_s: float,
        accel_g: Sequence[float] | None = None,
        up_tag: Sequence[float] | None = None,
        oriented: bool = False,
    ) -> Activity:
        """The same update as :meth:`update`, for batch loops: takes the tilt's up vector (or ``None``) instead of
        a :class:`TiltEstimate` and returns only the activity (no :class:`ActivityFrame` is built). ``oriented``:
        the estimate's source is in :data:`ORIENTED_SOURCES`."""
        up = None if up_tag is None else (float(up_tag[0]), float(up_tag[1]), float(up_tag[2]))
        self._advance(float(t_s), _usable(accel_g), up, oriented and up is not None)
        return self._activity

    def run_codes(
        self,
        t_s: Sequence[float],
        accel_g: Sequence[tuple[float, float, float] | None],
        up_tag: Sequence[tuple[float, float, float] | None],
        oriented: Sequence[bool],
    ) -> list[int]:
        """:meth:`step` over many rows, returning activity codes (indices into :data:`ACTIVITY_CODES`): the batch
        loop without per-row conversions. The caller passes rows already checked as :meth:`step` would (accelerometer
        tuples finite and not zero, ``None`` otherwise; ``oriented`` false where ``up_tag`` is ``None``)."""
        advance = self._advance
        code_of = {a: i for i, a in enumerate(ACTIVITY_CODES)}
        out: list[int] = []
        append = out.append
        for t, a, u, o in zip(t_s, accel_g, up_tag, oriented, strict=True):
            advance(t, a, u, o)
            append(code_of[self._activity])
        return out

    def _advance(
        self,
        t: float,
        accel: tuple[float, float, float] | None,
        up: tuple[float, float, float] | None,
        oriented: bool,
    ) -> str | None:
        """One update; returns the transition recognised (or ``_TICK`` for an update without data)."""
        st = self._settings
        if accel is None and up is None:
            if t - self._t_data >= st.no_data_s:
                self._activity = Activity.NO_DATA
                self._walking = False
                self._run = 0
            return _TICK
        if t - self._t_data > st.max_gap_s:
            self._restart_filters()
            if math.isfinite(self._t_data):
                # Data resumes after a gap (link loss, a busy host): the wearer may be mid-movement, so nothing
                # here is known to be still. Do not take the first samples as the still reference (their
                # movement starts high and must settle), and recognise no transition until a whole confirmation
                # window of data has been seen: a burst cut by a gap cannot be integrated.
                self._after_gap = True
                self._refractory_until = t + st.confirm_window_s
                if t - self._t_data >= st.seated_after_gap_s:
                    self._on_feet = False
        if t > self._t_data:
            self._t_data = t
        self._pending = None
        if up is not None:
            self._tilt_step(t, up)
        if accel is not None:
            self._accel_step(t, accel, up if oriented else None)
        return self._decide(t)

    # -----------------------------------------------------------------------------------------
    def _accel_step(self, t: float, a: tuple[float, float, float], up: tuple[float, float, float] | None) -> None:
        st = self._settings
        dt = t - self._t_accel
        mag = math.sqrt(a[0] * a[0] + a[1] * a[1] + a[2] * a[2])
        oriented = up is not None
        # Vertical specific force (see "Vertical acceleration" in the module docstring).
        vert = a[0] * up[0] + a[1] * up[1] + a[2] * up[2] if up is not None else mag
        lp = self._lp
        if lp is None or oriented != self._oriented:
            if lp is None:
                self._lp = [a[0], a[1], a[2]]
                self._movement = AFTER_GAP_MOVEMENT_G if self._after_gap else 0.0
                self._after_gap = False
                self._hp_ref = mag
                self._t_accel = t
                self._t_still = t
            # A new kind of vertical signal (first sample, or the tilt source changed): start its offset here and
            # forget the integration so far.
            self._oriented = oriented
            self._offset = vert
            self._buffer.clear()
            self._offset_hist.clear()
            self._vel = 0.0
            self._disp = 0.0
            self._burst_end = math.nan
            self._offset_before_burst = math.nan
            self._burst_offset = math.nan
            if lp is None:
                return
        if not dt > 0.0:
            return
        self._t_accel = t
        if dt != self._acc_dt:
            # The same dt (even sample times) gives the same smoothing factors: computed once per distinct dt.
            self._acc_dt = dt
            self._acc_k = (
                _alpha(dt, st.accel_lowpass_s),
                _alpha(dt, st.movement_smoothing_s),
                _alpha(dt, st.step_highpass_s),
                _alpha(dt, st.step_lowpass_s),
                _alpha(dt, st.offset_time_constant_s),
            )
        k, k_mov, k_hp, k_lp, k_off = self._acc_k
        lp[0] += k * (a[0] - lp[0])
        lp[1] += k * (a[1] - lp[1])
        lp[2] += k * (a[2] - lp[2])
        dx, dy, dz = a[0] - lp[0], a[1] - lp[1], a[2] - lp[2]
        self._movement += k_mov * (math.sqrt(dx * dx + dy * dy + dz * dz) - self._movement)
        # Step signal: band-passed |a|.
        self._hp_ref += k_hp * (mag - self._hp_ref)
        prev_sig = self._step_sig
        self._step_sig += k_lp * ((mag - self._hp_ref) - self._step_sig)
        self._detect_step(t, prev_sig, self._step_sig)
        # Zero-velocity bounded integration of the vertical acceleration.
        exc = 0.0 if math.isnan(self._excursion) else self._excursion
        buf = self._buffer
        buf.append((t, vert, exc))
        horizon = max(st.transition_window_s, st.confirm_window_s) + st.settle_s + 0.5
        while t - buf[0][0] > horizon:
            buf.popleft()
        was_still = self._still
        self._still = self._movement < st.still_g
        if self._still:
            self._offset += k_off * (vert - self._offset)
            hist = self._offset_hist
            hist.append((t, self._offset))
            while t - hist[0][0] > st.settle_s:
                hist.popleft()
            self._vel = 0.0
            self._disp = 0.0
            self._t_still = t
            self._still_exc = exc
            if not was_still:
                self._burst_end = t
                self._offset_before_burst = self._burst_offset
            elif not math.isnan(self._burst_end) and t - self._burst_end >= st.settle_s:
                self._backward_check(t)
                self._burst_end = math.nan
        else:
            if was_still:
                # The movement measure sees the onset of a movement ~0.2-0.3 s late, and the offset has followed
                # the first of it: take the offset from settle_s earlier.
                hist = self._offset_hist
                if hist:
                    self._offset = hist[0][1]
                    hist.clear()
                self._burst_start = self._t_still
                self._burst_offset = self._offset
                self._burst_start_exc = self._still_exc
                self._burst_swing = exc
                self._burst_speed = 0.0
            self._burst_swing = max(self._burst_swing, exc)
            self._burst_end = math.nan
            if t - self._t_still <= st.transition_window_s:
                self._vel += (vert - self._offset) * STANDARD_GRAVITY_MPS2 * dt
                self._disp += self._vel * dt
                self._forward_check(t)

    def _forward_check(self, t: float) -> None:
        st = self._settings
        # A transition starts from the still posture (not from a held reach) and swings the trunk forward.
        if (
            t < self._refractory_until
            or self._burst_start_exc >= st.min_swing_deg
            or self._burst_swing < st.min_swing_deg
        ):
            return
        self._burst_speed = max(self._burst_speed, abs(self._vel))
        if self._burst_speed < st.min_peak_speed_m_s:
            return
        kind: str | None = None
        if not self._on_feet and self._disp >= st.transition_m:
            kind = "rise"
        elif self._on_feet and not self._walking and self._disp <= -st.transition_m:
            kind = "sit"
        if kind is not None and self._provisional is None:
            # Shown at once (label), confirmed (event, ``transition``) when the burst has ended and the whole
            # burst, integrated backwards from its still end, shows the height change too, or walking starts.
            self._provisional = (kind, self._on_feet, t)
            self._on_feet = kind == "rise"
            self._transition_conf = min(1.0, abs(self._disp) / (2.0 * st.transition_m))
            self._transition_until = t + st.transition_hold_s
            self._refractory_until = t + st.transition_window_s

    def _backward_check(self, t: float) -> None:
        """The burst that ended at ``_burst_end`` (still since): height change over its last window."""
        st = self._settings
        prov = self._provisional
        if prov is None and self._burst_end < self._refractory_until:
            return
        end = self._burst_end
        # A burst that started still within confirm_window_s is integrated whole (still to still: the two-sided
        # check below); otherwise only its last transition_window_s (e.g. sitting down straight from walking).
        if prov is not None or end - self._burst_start <= st.confirm_window_s:
            window = st.confirm_window_s
        else:
            window = st.transition_window_s
        start = max(end - window, self._burst_start)
        rows = [r for r in self._buffer if start <= r[0] <= t]
        after = [r[1] for r in rows if r[0] >= end]
        before = [r for r in rows if r[0] <= end]
        if len(before) < 3 or not after:
            return
        covers_start = start == self._burst_start
        if prov is None and not _swung_forward(before, st.min_swing_deg):
            return
        # The still-time |a| depends on the orientation (accelerometer bias and scale): the offset is measured
        # after the burst and, if the burst started still within the window, before it, and interpolated in time.
        off_end = sum(after) / len(after)
        off_start = self._offset_before_burst
        if not (covers_start and math.isfinite(off_start)):
            off_start = off_end
        t0 = before[0][0]
        span = max(end - t0, 1e-9)
        residual = [
            (before[k][1] - (off_start + (off_end - off_start) * (before[k][0] - t0) / span)) * STANDARD_GRAVITY_MPS2
            for k in range(len(before))
        ]
        closed = covers_start and math.isfinite(self._offset_before_burst)
        # Backwards from the still end: v(end) = 0, h(end) = 0: height at the end relative to the lowest / highest
        # point of the window. For |a|, the always-positive l_h^2 / 2 error makes earlier points look higher, so this
        # under-estimates a rise: a conservative check.
        rise, fall, v_peak, _ = _integrate_back(before, residual)
        if closed:
            # Still at both ends: the velocity is zero at both, so the residual's time average over the burst is an
            # error (offset drift, and the l_h^2 / 2 term of |a|): remove it (two-sided zero-velocity update) and
            # take the net height change from still to still (a reach goes down and comes back: net ~0).
            num = 0.0
            for k in range(1, len(before)):
                num += residual[k] * (before[k][0] - before[k - 1][0])
            mean = num / span
            _, _, v_peak, net = _integrate_back(before, [r - mean for r in residual])
            if self._oriented:
                rise = fall = net
            else:
                # |a|: both the net change and the conservative estimate must show it. After a reach the end is
                # only as far above the lowest point as the tag dropped (0.45 m x (1 - cos 60 deg) = 0.22 m at most
                # for a 60-deg bend, less the l_h^2 / 2 error); after a stand-up it is the whole rise.
                rise = min(rise, net)
                fall = max(fall, net)
        if prov is not None:
            kind, was_on_feet, _ = prov
            self._provisional = None
            need = st.transition_m if closed else 0.5 * st.transition_m
            if not covers_start or (rise >= need if kind == "rise" else fall <= -need):
                self._pending = kind
            else:  # the whole burst shows no such height change (e.g. back from a deep reach): not a transition
                self._on_feet = was_on_feet
                self._transition_until = -math.inf
            return
        if v_peak < st.min_peak_speed_m_s:
            return
        if not self._on_feet and rise >= st.transition_m:
            self._pending = "rise"
            self._transition_conf = min(1.0, rise / (2.0 * st.transition_m))
        elif self._on_feet and not self._walking and fall <= -st.transition_m:
            self._pending = "sit"
            self._transition_conf = min(1.0, -fall / (2.0 * st.transition_m))
        if self._pending is not None:
            self._transition_until = t  # recognised after the fact: the label shows on this sample only

    def _detect_step(self, t: float, prev: float, sig: float) -> None:
        st = self._settings
        if sig >= st.step_threshold_g and (not self._peak_armed or sig > self._peak_val):
            self._peak_armed = True
            self._peak_val = sig
            self._peak_t = t
        if self._peak_armed and sig < 0.0 <= prev:
            self._peak_armed = False
            self._register_step(self._peak_t, self._peak_val)
        if self._walking and t - self._step_times[-1] > st.step_timeout_s:
            self._walking = False
            self._run = 0

    def _register_step(self, t: float, value: float) -> None:
        st = self._settings
        times = self._step_times
        lo, hi = 1.0 / st.max_cadence_hz, 1.0 / st.min_cadence_hz
        if times and t - times[-1] < lo:
            # A second peak within one step: heel-strike ringing if small (ignored); if about as large as the
            # step itself, the rhythm is too fast for walking (bouncing, tremor, running): the run is broken.
            if value >= 0.6 * self._last_peak:
                times.clear()
                self._run = 0
                if self._walking:
                    self._walking = False
            return
        self._last_peak = value
        if not times:
            self._run = 1
        else:
            interval = t - times[-1]
            if interval > hi:
                times.clear()
                self._run = 1
            else:
                ok = True
                if len(times) >= 2:
                    prev_int = times[-1] - times[-2]
                    ok = 1.0 / st.step_interval_ratio <= interval / prev_int <= st.step_interval_ratio
                self._run = self._run + 1 if ok else 2
        times.append(t)
        if self._run < st.min_steps:
            return
        if not self._walking:
            self._walking = True
            self._steps += self._run
        else:
            self._steps += 1
        recent = list(times)[-min(self._run, 5) :]
        ints = sorted(b - a for a, b in itertools.pairwise(recent))
        med = ints[len(ints) // 2]
        self._cadence = 1.0 / med
        self._step_conf = max(0.0, min(1.0, 1.0 - (ints[-1] - ints[0]) / med))

    def _tilt_step(self, t: float, up: tuple[float, float, float]) -> None:
        st = self._settings
        dt = t - self._t_tilt
        prev = self._up_prev
        if prev is None:
            self._up_prev = up
            self._t_tilt = t
            if self._baseline is None:
                self._baseline = up
            self._excursion = _angle_deg(up, self._baseline)
            return
        if not dt > 0.0:
            return
        self._up_prev = up
        self._t_tilt = t
        rate = _angle_deg(prev, up) / dt
        if dt != self._tilt_dt:
            self._tilt_dt = dt
            self._tilt_k = (_alpha(dt, st.movement_smoothing_s), _alpha(dt, st.baseline_time_constant_s))
        self._tilt_rate += self._tilt_k[0] * (rate - self._tilt_rate)
        base = self._baseline if self._baseline is not None else up
        exc = _angle_deg(up, base)
        self._excursion = exc
        # Sliding-window maximum of the excursion (monotonic deque: excursions decrease from the front).
        win = self._swing_win
        while win and win[-1][1] <= exc:
            win.pop()
        win.append((t, exc))
        while t - win[0][0] > st.transition_window_s:
            win.popleft()
        self._swing = win[0][1]
        # Still posture: follows slow drift while quiet and close, or while quiet and not fidgeting (a gradual
        # posture change); a new posture held still after a fidget (a held reach) replaces it.
        if not self._quiet():
            self._hold_up = None
        elif exc <= st.fidget_tilt_deg or not self._fidget:
            k = self._tilt_k[1]
            nb = (base[0] + k * (up[0] - base[0]), base[1] + k * (up[1] - base[1]), base[2] + k * (up[2] - base[2]))
            n = math.sqrt(nb[0] * nb[0] + nb[1] * nb[1] + nb[2] * nb[2])
            self._baseline = (nb[0] / n, nb[1] / n, nb[2] / n)
            self._hold_up = None
        else:
            hold = self._hold_up
            if hold is None or _angle_deg(hold, up) > st.fidget_tilt_deg:
                self._hold_up = up
                self._hold_t0 = t
            elif t - self._hold_t0 >= st.new_posture_s:
                self._baseline = up
                self._hold_up = None
                self._excursion = 0.0

    def _quiet(self) -> bool:
        st = self._settings
        mov = self._movement
        return (math.isnan(mov) or mov < st.fidget_g) and self._tilt_rate < st.fidget_rate_dps

    def _decide(self, t: float) -> str | None:
        st = self._settings
        prov = self._provisional
        if prov is not None and (self._walking or t - prov[2] > st.provisional_timeout_s):
            # Walking after a provisional rise confirms it, after a provisional sit refutes it; a burst that
            # does not end within the timeout keeps the provisional decision.
            self._provisional = None
            if prov[0] == "rise" or not self._walking:
                self._pending = prov[0]
        transition = self._pending
        if transition is not None:
            self._on_feet = transition == "rise"
            self._refractory_until = max(self._refractory_until, t + st.transition_window_s)
        if self._walking:
            self._on_feet = True
            self._transition_until = -math.inf
        elif self._still and t > self._transition_until - st.transition_hold_s + st.settle_s:
            self._transition_until = min(self._transition_until, t)
        # Seated movement (fidget) with hysteresis.
        mov = self._movement
        moving = (not math.isnan(mov) and mov > st.fidget_g) or self._tilt_rate > st.fidget_rate_dps
        # The excursion from the still posture only sustains a fidget begun by movement or a quick tilt (a reach
        # held for a moment); a gradual posture change (a head creeping forward at 1-2 deg/s) is not a fidget.
        moving = moving or (self._fidget and not math.isnan(self._excursion) and self._excursion > st.fidget_tilt_deg)
        if moving:
            self._fidget = True
            self._quiet_since = math.nan
        elif self._fidget:
            calm = math.isnan(mov) or mov < st.still_g
            if not calm:
                self._quiet_since = math.nan
            elif math.isnan(self._quiet_since):
                self._quiet_since = t
            elif t - self._quiet_since >= st.settle_s:
                self._fidget = False
        if t <= self._transition_until or (self._provisional is not None and self._provisional[0] == "rise"):
            # A rise seen during the movement stays "sit_to_stand" until confirmed (still end, walking, timeout):
            # standing is claimed only once the height change is known.
            self._activity = Activity.SIT_TO_STAND
        elif self._walking:
            self._activity = Activity.WALKING
        elif self._on_feet:
            self._activity = Activity.STANDING
        elif self._fidget:
            self._activity = Activity.FIDGET
        else:
            self._activity = Activity.STILL
        return transition

    def _confidence(self) -> float:
        st = self._settings
        act = self._activity
        if act is Activity.WALKING:
            return self._step_conf
        if act is Activity.SIT_TO_STAND:
            return self._transition_conf
        mov = self._movement
        if math.isnan(mov):
            return 0.5
        if act is Activity.STILL:
            return max(0.0, min(1.0, 1.0 - mov / st.fidget_g))
        if act is Activity.FIDGET:
            return max(0.0, min(1.0, mov / st.fidget_g)) if mov > st.still_g else 0.5
        return 0.5

    def _frame(self, t: float, transition: str | None, confidence: float) -> ActivityFrame:
        return ActivityFrame(
            t_s=t,
            activity=self._activity,
            confidence=confidence,
            on_feet=self._on_feet,
            step_cadence_hz=self._cadence,
            steps=self._steps,
            movement_g=self._movement,
            vertical_velocity_m_s=self._vel,
            vertical_displacement_m=self._disp,
            swing_deg=self._swing,
            tilt_excursion_deg=self._excursion,
            transition=transition,
        )


def _swung_forward(rows: Sequence[tuple[float, float, float]], min_deg: float) -> bool:
    """Whether the trunk swung forward by ``min_deg`` (degrees) within ``rows`` (``(t, ..., excursion from the still
    posture in degrees)``): the excursion passes ``min_deg`` having started below it, or rises by ``min_deg`` from
    its lowest point before. The second form is for a window that opens while the trunk is still tilted by the
    movement before it: the last steps of a walk tilt an accelerometer-derived up vector by 10-15 degrees, and a
    wearer who stops and sits down at once swings forward from there. The excursion is an angle without a sign,
    so a swing backwards or sideways counts as well; the height change decides the rest."""
    lowest = math.inf
    highest = -math.inf
    for row in rows:
        exc = row[2]
        lowest = min(lowest, exc)
        highest = max(highest, exc)
        if exc - lowest >= min_deg:
            return True
    return rows[0][2] < min_deg <= highest


def _integrate_back(
    rows: Sequence[tuple[float, float, float]], accel: Sequence[float]
) -> tuple[float, float, float, float]:
    """Integrate ``accel`` (m/s^2, one per row of ``(t, ...)``) backwards from the last row, where velocity and
    height are zero. Returns (end height above the lowest point, end height minus the highest point, peak speed,
    end height minus start height)."""
    v = 0.0
    h = 0.0
    h_min = 0.0
    h_max = 0.0
    v_peak = 0.0
    for k in range(len(rows) - 1, 0, -1):
        dt = rows[k][0] - rows[k - 1][0]
        v_prev = v - accel[k] * dt
        h -= 0.5 * (v + v_prev) * dt
        v = v_prev
        v_peak = max(v_peak, abs(v))
        h_min = min(h_min, h)
        h_max = max(h_max, h)
    return -h_min, -h_max, v_peak, -h


JIT_ENV_VAR = "POSTUREBUDDY_JIT"
"""Set to ``0`` to make :func:`activity_codes_compiled` decline (benchmarks, debugging): the batch analysis then
runs the pure-Python loop."""


def activity_codes_compiled(
    t_s: FloatArray,
    accel_g: FloatArray,
    has_acc: BoolArray,
    up_tag: FloatArray,
    has_up: BoolArray,
    oriented: BoolArray,
    settings: ActivitySettings | None = None,
) -> npt.NDArray[np.int8] | None:
    """:meth:`ActivityClassifier.run_codes` of a fresh classifier over whole arrays, compiled with numba; ``None``
    when numba is not installed (``pip install posturebuddy[fast]``) or ``POSTUREBUDDY_JIT=0``.

    The same codes as the Python loop row for row (``tests/motion/test_activity_kernel.py``); about 50 times
    faster. numba is imported here, on first use, never when this module is imported: the live engine, the demo and
    the dashboard never load it. The first call in a fresh environment compiles the kernel (a few seconds; the
    result is cached on disk beside the module, so later processes load it in well under a second).

    Args:
        t_s: row times, shape (N,).
        accel_g: accelerometer rows, shape (N, 3); read only where ``has_acc``.
        has_acc: rows whose accelerometer reading :meth:`ActivityClassifier.step` would use (finite, not zero).
        up_tag: the tilt's up vectors, shape (N, 3); read only where ``has_up``.
        has_up: rows with a tilt estimate (other rows with no accelerometer either are ticks).
        oriented: rows whose tilt source is in :data:`ORIENTED_SOURCES` (ignored where not ``has_up``).
        settings: classifier settings.
    """
    if os.environ.get(JIT_ENV_VAR, "").strip() == "0":
        return None
    try:
        from posturebuddy.motion import _activity_kernel
    except ImportError:
        return None
    st = settings if settings is not None else ActivitySettings()
    params = np.array([float(getattr(st, name)) for name in _activity_kernel.PARAM_NAMES], dtype=np.float64)
    n = np.asarray(t_s).shape[0]
    codes: npt.NDArray[np.int8] = _activity_kernel.activity_codes(
        np.ascontiguousarray(t_s, dtype=np.float64).reshape(n),
        np.ascontiguousarray(accel_g, dtype=np.float64).reshape(n, 3),
        np.ascontiguousarray(has_acc, dtype=np.bool_).reshape(n),
        np.ascontiguousarray(up_tag, dtype=np.float64).reshape(n, 3),
        np.ascontiguousarray(has_up, dtype=np.bool_).reshape(n),
        np.ascontiguousarray(oriented, dtype=np.bool_).reshape(n),
        params,
    )
    return codes


def oriented_rows(tilt: TiltSeries) -> BoolArray:
    """Rows of ``tilt`` that are valid and whose source is in :data:`ORIENTED_SOURCES`, shape (N,).

    Each source rank present is judged once, from its first valid row; the ranks are found by counting rather than
    sorting every row (an 8-hour day has over a million rows and one or two ranks)."""
    valid = tilt.valid
    ranks = tilt.source[valid]
    if ranks.size == 0:
        return np.zeros(len(tilt), dtype=bool)
    low = int(ranks.min())
    accepted: list[int] = []
    for rank in (np.flatnonzero(np.bincount(ranks - low)) + low).tolist():
        est = tilt.estimate(int(np.argmax(valid & (tilt.source == rank))))
        if est is not None and est.source in ORIENTED_SOURCES:
            accepted.append(rank)
    out: BoolArray = valid & np.isin(tilt.source, accepted)
    return out


def _usable(v: Sequence[float] | None) -> tuple[float, float, float] | None:
    if v is None:
        return None
    x, y, z = float(v[0]), float(v[1]), float(v[2])
    if not (math.isfinite(x) and math.isfinite(y) and math.isfinite(z)) or x * x + y * y + z * z < 1e-12:
        return None
    return (x, y, z)


# ---------------------------------------------------------------------------------------------
# Batch


@dataclass(frozen=True, slots=True)
class ActivitySeries:
    """Batch output, one row per input row (the arrays twin of :class:`ActivityFrame`).

    Attributes:
        t_s: shape (N,).
        code: activity code per row, an index into :data:`ACTIVITY_CODES`, shape (N,) int8.
        confidence, step_cadence_hz, movement_g, vertical_velocity_m_s, vertical_displacement_m, swing_deg,
            tilt_excursion_deg: as in :class:`ActivityFrame`, shape (N,) float.
        on_feet: shape (N,) bool.
        steps: shape (N,) int64.
        transition: +1 where a rise was recognised, -1 for a sit, else 0, shape (N,) int8.
    """

    t_s: FloatArray
    code: npt.NDArray[np.int8]
    confidence: FloatArray
    on_feet: BoolArray
    step_cadence_hz: FloatArray
    steps: npt.NDArray[np.int64]
    movement_g: FloatArray
    vertical_velocity_m_s: FloatArray
    vertical_displacement_m: FloatArray
    swing_deg: FloatArray
    tilt_excursion_deg: FloatArray
    transition: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    def labels(self) -> npt.NDArray[np.str_]:
        """Activity names per row, shape (N,)."""
        return np.asarray([a.value for a in ACTIVITY_CODES])[self.code]

    def frame(self, index: int) -> ActivityFrame:
        """Row ``index`` as the streaming classifier returned it."""
        tr = int(self.transition[index])
        return ActivityFrame(
            t_s=float(self.t_s[index]),
            activity=ACTIVITY_CODES[int(self.code[index])],
            confidence=float(self.confidence[index]),
            on_feet=bool(self.on_feet[index]),
            step_cadence_hz=float(self.step_cadence_hz[index]),
            steps=int(self.steps[index]),
            movement_g=float(self.movement_g[index]),
            vertical_velocity_m_s=float(self.vertical_velocity_m_s[index]),
            vertical_displacement_m=float(self.vertical_displacement_m[index]),
            swing_deg=float(self.swing_deg[index]),
            tilt_excursion_deg=float(self.tilt_excursion_deg[index]),
            transition="rise" if tr > 0 else "sit" if tr < 0 else None,
        )


def classify_activity_batch(
    t_s: npt.ArrayLike,
    accel_g: npt.ArrayLike | None,
    tilt: TiltSeries | None,
    settings: ActivitySettings | None = None,
    present: npt.ArrayLike | None = None,
) -> ActivitySeries:
    """Run :class:`ActivityClassifier` over a whole recording; exactly the streaming result, row for row.

    Args:
        t_s: sample times, shape (N,).
        accel_g: accelerometer readings, shape (N, 3); NaN rows (or ``None``) = no accelerometer in that sample.
        tilt: the orientation stage's batch output for the same rows (``None``: no tilt); rows where it is not
            ``valid`` are fed as "no estimate". A row with neither accelerometer nor tilt is a tick.
        settings: classifier settings.
        present: rows that carry a sample, shape (N,) bool; other rows are ticks (no data), whatever the tilt
            series holds there (it holds the last tilt on rows without a sample). Default: all rows.
    """
    t = np.asarray(t_s, dtype=np.float64).reshape(-1)
    n = t.shape[0]
    acc = np.full((n, 3), np.nan) if accel_g is None else np.asarray(accel_g, dtype=np.float64).reshape(n, 3)
    has_acc = np.all(np.isfinite(acc), axis=1)
    clf = ActivityClassifier(settings)
    code = np.zeros(n, dtype=np.int8)
    conf = np.zeros(n)
    on_feet = np.zeros(n, dtype=bool)
    cadence = np.zeros(n)
    steps = np.zeros(n, dtype=np.int64)
    movement = np.zeros(n)
    vel = np.zeros(n)
    disp = np.zeros(n)
    swing = np.zeros(n)
    exc = np.zeros(n)
    trans = np.zeros(n, dtype=np.int8)
    index = {a: i for i, a in enumerate(ACTIVITY_CODES)}
    acc_list = acc.tolist()
    tl = t.tolist()
    pres = np.ones(n, dtype=bool) if present is None else np.asarray(present, dtype=bool).reshape(n)
    has_list = (has_acc & pres).tolist()
    valid = (tilt.valid & pres).tolist() if tilt is not None else [False] * n
    for i in range(n):
        est = tilt.estimate(i) if (tilt is not None and valid[i]) else None
        fr = clf.update(tl[i], acc_list[i] if has_list[i] else None, est)
        code[i] = index[fr.activity]
        conf[i] = fr.confidence
        on_feet[i] = fr.on_feet
        cadence[i] = fr.step_cadence_hz
        steps[i] = fr.steps
        movement[i] = fr.movement_g
        vel[i] = fr.vertical_velocity_m_s
        disp[i] = fr.vertical_displacement_m
        swing[i] = fr.swing_deg
        exc[i] = fr.tilt_excursion_deg
        trans[i] = 1 if fr.transition == "rise" else -1 if fr.transition == "sit" else 0
    return ActivitySeries(t, code, conf, on_feet, cadence, steps, movement, vel, disp, swing, exc, trans)
