"""Microseconds per sample of the orientation stage, per path, streaming and batch; BROAD accuracy report.

Run: ``.venv/bin/python benchmarks/bench_orientation.py`` (timings) or ``... --accuracy`` (BROAD inclination
RMSE for the defaults, a small settings sweep, the accelerometer-only path, the published baselines and,
if installed, the ``ahrs`` package's Madgwick). Uses BROAD trial 16 (Laidig et al. 2021,
CC BY 4.0) from ``shared/data/broad`` beside the repository when present, synthetic data otherwise. If the
optional ``ahrs`` package is installed, its Madgwick runs on the same data for comparison (it is not a
project dependency). Timings are ratios to compare, not assertions.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from posturebuddy.model import Sample
from posturebuddy.motion import (
    AhrsSettings,
    OrientationSettings,
    SampleArrays,
    TiltEstimator,
    estimate_tilt_batch,
    quat_to_up,
    up_to_quat,
)
from posturebuddy.motion.evaluation import (
    BROAD_TRIAL_FILES,
    PUBLISHED_INCLINATION_RMSE_DEG,
    STANDARD_GRAVITY_MPS2,
    BroadTrial,
    TrialScore,
    evaluate_trial,
    load_broad_trial,
    score_up,
)

BROAD_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "broad"
BROAD_16 = BROAD_DIR / BROAD_TRIAL_FILES["16"]


def fmt(score: TrialScore) -> str:
    change = score.tilt_change
    return (
        f"incl {score.inclination_rmse_deg:6.2f} (quat formula {score.inclination_rmse_quat_deg:6.2f}) "
        f"change-vs-rest {change.rest_to_movement_rmse_deg:6.2f} rest-to-rest {change.rest_to_rest_rmse_deg:5.2f}"
    )


def accuracy() -> None:
    trials = {k: load_broad_trial(BROAD_DIR / f, k) for k, f in BROAD_TRIAL_FILES.items() if (BROAD_DIR / f).exists()}
    if not trials:
        print(f"BROAD data not found in {BROAD_DIR}")
        return
    print("BROAD inclination RMSE, degrees (movement == 1, valid reference; 95 Hz subset)")
    for name, trial in trials.items():
        published = PUBLISHED_INCLINATION_RMSE_DEG[name]
        print(f"trial {name}: published full-rate Madgwick {published['madgwick']}, Mahony {published['mahony']}")
        score, _ = evaluate_trial(trial, OrientationSettings())
        print(f"  ours, defaults            {fmt(score)} rejected {score.accel_rejected_fraction:.2f}")
        xio = OrientationSettings(ahrs=AhrsSettings(rejection_timeout_s=5.0))
        print(f"  ours, x-io 5 s timeout    {fmt(evaluate_trial(trial, xio)[0])}")
        no_bias = OrientationSettings(ahrs=AhrsSettings(gyro_bias_correction=False))
        print(f"  ours, no bias correction  {fmt(evaluate_trial(trial, no_bias)[0])}")
        for tau in (0.25, 0.5, 1.0, 2.0):
            accel_only = SampleArrays.create(trial.t_s, accel_g=trial.accel_g)
            series = estimate_tilt_batch(accel_only, OrientationSettings(accel_time_constant_s=tau))
            print(f"  accel-only tau {tau:<4} s     {fmt(score_up(series.up_tag, trial))}")
        madgwick(trial)
    print("sweep: gain / rejection deg / timeout s -> inclination RMSE on " + ", ".join(trials))
    for gain in (0.1, 0.25, 0.5, 1.0):
        for rejection in (0.0, 5.0, 10.0, 20.0):
            for timeout in (5.0, 20.0, 60.0):
                if rejection == 0.0 and timeout != 5.0:
                    continue
                settings = OrientationSettings(
                    ahrs=AhrsSettings(gain=gain, acceleration_rejection_deg=rejection, rejection_timeout_s=timeout)
                )
                rmses = [evaluate_trial(trial, settings)[0].inclination_rmse_deg for trial in trials.values()]
                print(f"  {gain:<5}{rejection:<6}{timeout:<6}" + "".join(f"{r:8.2f}" for r in rmses))


MADGWICK_BETAS = (0.033, 0.12)


def ahrs_installed() -> bool:
    """Whether the optional ``ahrs`` package (not a project dependency) can be imported."""
    try:
        from ahrs.filters import Madgwick  # type: ignore[import-untyped, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def madgwick_scores(trial: BroadTrial) -> dict[float, TrialScore]:
    """The ``ahrs`` package's Madgwick on a BROAD trial, per gain (beta); empty if ``ahrs`` is not installed."""
    if not ahrs_installed():
        return {}
    from ahrs.filters import Madgwick  # type: ignore[import-untyped, unused-ignore]  # optional

    rate = 1.0 / float(np.median(np.diff(trial.t_s)))
    scores: dict[float, TrialScore] = {}
    for beta in MADGWICK_BETAS:
        q = Madgwick(
            gyr=np.radians(trial.gyro_dps), acc=trial.accel_g * STANDARD_GRAVITY_MPS2, frequency=rate, gain=beta
        ).Q
        scores[beta] = score_up(quat_to_up(q), trial)
    return scores


def madgwick(trial: BroadTrial) -> None:
    scores = madgwick_scores(trial)
    if not scores:
        print("  ahrs package not installed: no Madgwick comparison")
    for beta, score in scores.items():
        print(f"  ahrs Madgwick beta={beta:<6}  {fmt(score)}")


def measure_accuracy() -> dict[str, float]:
    """BROAD inclination RMSE (degrees) per available trial: ``accuracy.<trial>.ours`` (defaults),
    ``.published_madgwick`` / ``.published_mahony`` and, with ``ahrs`` installed, ``.ahrs_madgwick_<beta>``."""
    figures: dict[str, float] = {}
    for name, file in BROAD_TRIAL_FILES.items():
        if not (BROAD_DIR / file).exists():
            continue
        trial = load_broad_trial(BROAD_DIR / file, name)
        published = PUBLISHED_INCLINATION_RMSE_DEG[name]
        figures[f"accuracy.{name}.ours"] = evaluate_trial(trial, OrientationSettings())[0].inclination_rmse_deg
        figures[f"accuracy.{name}.published_madgwick"] = float(published["madgwick"])
        figures[f"accuracy.{name}.published_mahony"] = float(published["mahony"])
        for beta, score in madgwick_scores(trial).items():
            figures[f"accuracy.{name}.ahrs_madgwick_{beta:g}"] = score.inclination_rmse_deg
    return figures


def best_of(repeats: int, func: Callable[[], object]) -> float:
    """Fastest wall time of ``repeats`` runs, seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def load() -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    if BROAD_16.exists():
        trial = load_broad_trial(BROAD_16, "16")
        return trial.t_s, trial.accel_g, trial.gyro_dps, "BROAD trial 16"
    rng = np.random.default_rng(0)
    n = 20_000
    t = np.arange(n) / 100.0
    accel = np.column_stack((0.1 * np.sin(t), 0.1 * np.cos(t), np.ones(n))) + rng.normal(0, 0.02, (n, 3))
    return t, accel, rng.normal(0, 5, (n, 3)), "synthetic"


def measure_timing(verbose: bool = False) -> dict[str, float]:
    """Microseconds per sample of the orientation stage: ``timing.<path>.stream`` / ``.batch`` for the paths
    ``quaternion``, ``ahrs`` and ``accel``; ``timing.samples``; ``timing.broad`` (1 on BROAD trial 16, 0 on
    synthetic data); with ``ahrs`` installed, ``timing.ahrs_package_madgwick.batch``."""
    t, accel, gyro, label = load()
    n = t.shape[0]
    up = accel / np.linalg.norm(accel, axis=1, keepdims=True)
    quat = up_to_quat(up)
    inputs = {
        "quaternion": SampleArrays.create(t, quat_wxyz=quat),
        "ahrs": SampleArrays.create(t, accel_g=accel, gyro_dps=gyro),
        "accel": SampleArrays.create(t, accel_g=accel),
    }
    samples = {
        "quaternion": [Sample(t_s=float(t[i]), quat_wxyz=tuple(quat[i])) for i in range(n)],
        "ahrs": [Sample(t_s=float(t[i]), accel_g=tuple(accel[i]), gyro_dps=tuple(gyro[i])) for i in range(n)],
        "accel": [Sample(t_s=float(t[i]), accel_g=tuple(accel[i])) for i in range(n)],
    }
    figures: dict[str, float] = {"timing.samples": float(n), "timing.broad": float(label != "synthetic")}
    if verbose:
        print(f"orientation stage, {label}: {n} samples; microseconds per sample (best of 3)")
        print(f"{'path':<12}{'streaming':>12}{'batch':>12}{'stream/batch':>14}")
    for path, data in inputs.items():

        def stream(path: str = path) -> None:
            est = TiltEstimator()
            for s in samples[path]:
                est.update(s)

        def batch(data: SampleArrays = data) -> None:
            estimate_tilt_batch(data)

        us_stream = best_of(3, stream) / n * 1e6
        us_batch = best_of(3, batch) / n * 1e6
        figures[f"timing.{path}.stream"] = us_stream
        figures[f"timing.{path}.batch"] = us_batch
        if verbose:
            print(f"{path:<12}{us_stream:>12.2f}{us_batch:>12.2f}{us_stream / us_batch:>14.1f}")

    if not ahrs_installed():
        if verbose:
            print("ahrs package not installed: no Madgwick comparison")
        return figures
    from ahrs.filters import Madgwick  # type: ignore[import-untyped, unused-ignore]  # optional

    period = float(np.median(np.diff(t)))

    def madgwick() -> None:
        Madgwick(gyr=np.radians(gyro), acc=accel * STANDARD_GRAVITY_MPS2, frequency=1.0 / period, gain=0.12)

    us_madgwick = best_of(3, madgwick) / n * 1e6
    figures["timing.ahrs_package_madgwick.batch"] = us_madgwick
    if verbose:
        print(
            f"ahrs.filters.Madgwick (batch, pure numpy): {us_madgwick:.2f} us/sample; "
            f"ratio to our AHRS batch {us_madgwick / figures['timing.ahrs.batch']:.1f}x, "
            f"to our AHRS streaming {us_madgwick / figures['timing.ahrs.stream']:.1f}x"
        )
    return figures


def main() -> None:
    measure_timing(verbose=True)


if __name__ == "__main__":
    if "--accuracy" in sys.argv[1:]:
        accuracy()
    else:
        main()
