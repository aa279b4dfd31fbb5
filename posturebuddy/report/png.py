"""PNG pictures of a day (a timeline of states and forward tilt over time) and of a week (time per state per
day), drawn with matplotlib (the optional ``report`` extra, imported only here, with the Agg backend)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from posturebuddy.report.layout import (
    BREAK_COLOUR,
    FLEXION_COLOUR,
    NOT_MEDICAL,
    NOT_RECORDED,
    PROMPT_COLOUR,
    STATES,
    STYLE,
    DayPlan,
    duration_text,
    headline,
    share_text,
)
from posturebuddy.session.history import DayFigures

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MISSING_MATPLOTLIB = "PNG reports need matplotlib: pip install 'posturebuddy[report]'"

DPI = 110
DAY_SIZE_IN = (12.0, 6.2)
WEEK_SIZE_IN = (12.0, 5.6)


class PngUnavailableError(RuntimeError):
    """matplotlib is not installed (the message says how to install it)."""


def _pyplot() -> object:
    try:
        import matplotlib as mpl

        mpl.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PngUnavailableError(MISSING_MATPLOTLIB) from exc
    return plt


def _new_figure(size: tuple[float, float]) -> Figure:
    _pyplot()
    from matplotlib.figure import Figure

    return Figure(figsize=size, dpi=DPI, layout="constrained")


def day_png(
    plan: DayPlan,
    path: Path,
    *,
    forward_head_deg: float,
    slouch_deg: float,
    lean_back_deg: float,
) -> Path:
    """Write the picture of one day to ``path`` (PNG). Thresholds are the detector's, degrees of forward tilt.

    Raises:
        PngUnavailableError: matplotlib is not installed.
    """
    from matplotlib.patches import Patch

    fig = _new_figure(DAY_SIZE_IN)
    fig.get_layout_engine().set(h_pad=0.08)  # type: ignore[union-attr,call-arg]
    grid = fig.add_gridspec(2, 1, height_ratios=(1.0, 3.2))
    ax_t = fig.add_subplot(grid[0])
    ax_f = fig.add_subplot(grid[1], sharex=ax_t)
    hours = (plan.end_s - plan.start_s) / 3600.0

    def x(t_s: float) -> float:
        return (t_s - plan.start_s) / 3600.0

    # Timeline of states: one bar per bin, runs merged.
    width_h = plan.bin_min / 60.0
    runs: list[tuple[str, int, int]] = []
    for i, state in enumerate(plan.bins):
        if runs and runs[-1][0] == state:
            runs[-1] = (state, runs[-1][1], i + 1)
        else:
            runs.append((state, i, i + 1))
    for state, i0, i1 in runs:
        if state == NOT_RECORDED:
            continue
        ax_t.broken_barh([(i0 * width_h, (i1 - i0) * width_h)], (0.0, 1.0), facecolors=STYLE[state].colour)
    for b0, b1 in plan.breaks:
        ax_t.plot([x(b0), x(max(b1, b0 + 60.0))], [1.18, 1.18], color=BREAK_COLOUR, linewidth=5, solid_capstyle="butt")
    if plan.prompt_t_s:
        ax_t.scatter(
            [x(t + 30.0) for t in plan.prompt_t_s],
            [-0.2] * len(plan.prompt_t_s),
            marker="^",
            s=36,
            color=PROMPT_COLOUR,
            zorder=3,
            clip_on=False,
        )
    ax_t.set_ylim(-0.35, 1.35)
    ax_t.set_yticks([0.5, 1.18], ["posture", "breaks"])
    ax_t.tick_params(axis="y", length=0)
    for side in ("top", "right", "left", "bottom"):
        ax_t.spines[side].set_visible(False)
    present = set(plan.bins)
    handles = [Patch(facecolor=s.colour, edgecolor="#999999", label=s.label) for s in STATES if s.key in present]
    handles.append(Patch(facecolor=BREAK_COLOUR, label="break taken"))
    if plan.prompt_t_s:
        handles.append(
            ax_t.scatter([], [], marker="^", s=36, color=PROMPT_COLOUR, label="prompt")  # type: ignore[arg-type]
        )
    ax_t.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18),
        ncol=min(len(handles), 9),
        frameon=False,
        fontsize=9,
        handlelength=1.4,
        columnspacing=1.2,
    )
    ax_t.tick_params(axis="x", labelbottom=False, length=0)

    # Forward tilt over time, per minute while seated: the mean and the 10-90 % band.
    xs = [x(t + 30.0) for t in plan.minute_t_s]
    for b0, b1 in plan.breaks:
        ax_f.axvspan(x(b0), x(max(b1, b0 + 60.0)), color=BREAK_COLOUR, alpha=0.12, linewidth=0)
    ax_f.fill_between(
        xs,
        plan.flexion_p10_deg,
        plan.flexion_p90_deg,
        color=FLEXION_COLOUR,
        alpha=0.18,
        linewidth=0,
        label="10-90 % of each minute",
    )
    ax_f.plot(xs, plan.flexion_mean_deg, color=FLEXION_COLOUR, linewidth=1.3, label="minute mean")
    # Robust limits: the thresholds always show; a few wild minutes (the tag being re-stuck) may leave the frame.
    low_values = sorted(v for v in plan.flexion_p10_deg if math.isfinite(v))
    high_values = sorted(v for v in plan.flexion_p90_deg if math.isfinite(v))
    low = min(-lean_back_deg - 5.0, low_values[len(low_values) // 50] if low_values else 0.0)
    high = max(slouch_deg + 8.0, high_values[-1 - len(high_values) // 50] if high_values else 0.0)
    for value, colour, words in (
        (slouch_deg, STYLE["slouch"].colour, f"slouching ({slouch_deg:g}°)"),
        (forward_head_deg, STYLE["forward_head"].colour, f"forward head ({forward_head_deg:g}°)"),
        (-lean_back_deg, STYLE["leaning_back"].colour, f"leaning back (-{lean_back_deg:g}°)"),
    ):
        ax_f.axhline(value, color=colour, linewidth=1.2, linestyle="--")
        ax_f.text(hours, value, f" {words}", color=colour, va="center", ha="left", fontsize=9, clip_on=False)
    ax_f.axhline(0.0, color="#999999", linewidth=0.8)
    ax_f.set_ylim(max(low, -45.0) - 2.0, min(high, 60.0) + 2.0)
    ax_f.set_xlim(0.0, hours)
    ticks = [x(t) for t in plan.hours()]
    ax_f.set_xticks(ticks, [plan.clock(t) for t in plan.hours()])
    ax_f.set_xlabel(f"local time ({plan.clock(plan.start_s, '%Z') or 'local'})")
    ax_f.set_ylabel("forward tilt while seated (°)")
    ax_f.grid(axis="x", color="#e6e6e6", linewidth=0.8)
    ax_f.legend(loc="upper left", frameon=False, fontsize=9, ncol=2)
    for side in ("top", "right"):
        ax_f.spines[side].set_visible(False)

    f = plan.figures
    fig.suptitle(
        f"PostureBuddy · {plan.day:%A} {plan.day.day} {plan.day:%B %Y}\n{headline(f)}",
        fontsize=12,
        fontweight="bold",
    )
    fig.text(
        0.5,
        -0.01,
        f"recorded {duration_text(f.recorded_s)}, no data {duration_text(f.no_data_s)}. {NOT_MEDICAL}",
        ha="center",
        va="top",
        fontsize=7.5,
        color="#666666",
        wrap=True,
    )
    fig.savefig(path, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.25, facecolor="white")
    return path


def week_png(days: Sequence[DayFigures], path: Path, *, title: str) -> Path:
    """Write the picture of a week (hours per state per day, upright share beside each bar) to ``path``.

    Raises:
        PngUnavailableError: matplotlib is not installed.
    """
    fig = _new_figure(WEEK_SIZE_IN)
    ax = fig.add_subplot()
    labels = [d.day.strftime("%a %d %b") for d in days]
    ys = list(range(len(days)))[::-1]
    keys = [s for s in STATES if s.key != NOT_RECORDED]
    left = [0.0] * len(days)
    for style in keys:
        widths = [
            (d.figures.no_data_s if style.key == "no_data" else d.figures.posture_s.get(style.key, 0.0)) / 3600.0
            for d in days
        ]
        if any(w > 0.0 for w in widths):
            ax.barh(ys, widths, left=left, color=style.colour, label=style.label, height=0.62)
            left = [a + b for a, b in zip(left, widths, strict=True)]
    for y, d, total in zip(ys, days, left, strict=True):
        words = (
            "no recordings"
            if d.figures.empty
            else f"upright {share_text(d.figures.upright_share)} · {d.figures.breaks} breaks"
        )
        ax.text(total + 0.1, y, words, va="center", fontsize=9, color="#333333")
    ax.set_yticks(ys, labels)
    ax.set_xlabel("hours recorded")
    ax.set_xlim(0.0, max([*left, 1.0]) * 1.3)
    ax.grid(axis="x", color="#e6e6e6", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=8, frameon=False, fontsize=9)
    fig.suptitle(title, fontsize=12, fontweight="bold")
    fig.text(0.5, -0.02, NOT_MEDICAL, ha="center", va="top", fontsize=7.5, color="#666666", wrap=True)
    fig.savefig(path, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.25, facecolor="white")
    return path
