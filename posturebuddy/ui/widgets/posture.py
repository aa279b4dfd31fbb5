"""The posture gauge (flexion on a scale with the thresholds) and the flexion timeline.

Both draw from numbers handed to them (``show``); they hold no session state. Colours: the upright zone is
green, the forward-head zone yellow, the slouch zone red, leaning back blue, in both themes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rich.text import Text
from textual.widget import Widget

from posturebuddy.model import PostureClass
from posturebuddy.ui.view import TimelinePoint

ZONE_STYLES = {"back": "blue", "upright": "green", "forward": "yellow", "slouch": "red"}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The detector's thresholds the gauge and the timeline mark, degrees of flexion."""

    forward_head_deg: float
    slouch_deg: float
    lean_back_deg: float

    def zone(self, flexion_deg: float) -> str:
        """Which zone a flexion falls in."""
        if flexion_deg >= self.slouch_deg:
            return "slouch"
        if flexion_deg >= self.forward_head_deg:
            return "forward"
        if flexion_deg <= -self.lean_back_deg:
            return "back"
        return "upright"

    def scale(self) -> tuple[float, float]:
        """The range a gauge shows, degrees: a little beyond leaning back to well past slouching."""
        return (-max(10.0, self.lean_back_deg + 5.0), max(30.0, self.slouch_deg * 2.0))


class PostureGauge(Widget):
    """Flexion on a horizontal scale, with the forward-head and slouch thresholds marked."""

    DEFAULT_CSS = """
    PostureGauge {
        height: 4;
        width: 1fr;
    }
    """

    def __init__(self, thresholds: Thresholds, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__(id=id)
        self.thresholds = thresholds
        self.flexion_deg: float | None = None
        self.lateral_deg: float | None = None

    def show(self, flexion_deg: float | None, lateral_deg: float | None, thresholds: Thresholds) -> None:
        """Draw these angles (``None``: no reading)."""
        rounded = None if flexion_deg is None else round(flexion_deg, 1)
        lateral = None if lateral_deg is None else round(lateral_deg)
        if (rounded, lateral, thresholds) != (self.flexion_deg, self.lateral_deg, self.thresholds):
            self.flexion_deg, self.lateral_deg, self.thresholds = rounded, lateral, thresholds
            self.refresh()

    def render(self) -> Text:
        """Headline, scale bar with a pointer, tick labels."""
        th = self.thresholds
        width = max(20, self.size.width)
        lo, hi = th.scale()
        bar_w = width - 2

        def col(deg: float) -> int:
            return round((min(hi, max(lo, deg)) - lo) / (hi - lo) * (bar_w - 1))

        out = Text()
        flex = self.flexion_deg
        if flex is None:
            out.append("Forward tilt  --", style="bold")
            out.append("   (no reading yet)", style="dim")
        else:
            out.append(f"Forward tilt {flex:+5.1f} deg", style=f"bold {ZONE_STYLES[th.zone(flex)]}")
            if self.lateral_deg is not None and abs(self.lateral_deg) >= 1:
                side = "right" if self.lateral_deg > 0 else "left"
                out.append(f"   sideways {abs(self.lateral_deg):.0f} deg {side}", style="dim")
        out.append("\n")
        # the scale: one coloured cell per column, the pointer on the reading
        pointer = None if flex is None else col(flex)
        out.append(" ")
        for c in range(bar_w):
            deg = lo + c / (bar_w - 1) * (hi - lo)
            style = ZONE_STYLES[th.zone(deg)]
            if c == pointer:
                out.append("█", style=f"bold {style} reverse")
            else:
                out.append("━", style=style)
        out.append("\n")
        marks = [" "] * width
        under = [" "] * width
        if pointer is not None:
            under[pointer + 1] = "▲"
        for deg, label in (
            (-th.lean_back_deg, f"-{th.lean_back_deg:g}"),
            (0.0, "0"),
            (th.forward_head_deg, f"{th.forward_head_deg:g}"),
            (th.slouch_deg, f"{th.slouch_deg:g}"),
        ):
            start = col(deg) + 1
            for k, ch in enumerate(label):
                if 0 <= start + k < width:
                    marks[start + k] = ch
        out.append("".join(under), style="bold")
        out.append("\n")
        out.append("".join(marks), style="dim")
        return out


class TimelineChart(Widget):
    """Flexion over the last minutes (newest at the right), with the threshold lines."""

    DEFAULT_CSS = """
    TimelineChart {
        height: 1fr;
        min-height: 5;
        width: 1fr;
    }
    """

    LABEL_W = 5

    def __init__(self, thresholds: Thresholds, bucket_s: float, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.thresholds = thresholds
        self.bucket_s = bucket_s
        self.points: list[TimelinePoint] = []

    @property
    def columns(self) -> int:
        """How many points fit."""
        return max(1, self.size.width - self.LABEL_W)

    def show(self, points: list[TimelinePoint], thresholds: Thresholds) -> None:
        """Draw these points (oldest first)."""
        if points != self.points or thresholds != self.thresholds:
            self.points, self.thresholds = points, thresholds
            self.refresh()

    def render(self) -> Text:
        """One row per flexion band, one column per point."""
        th = self.thresholds
        height = max(3, self.size.height - 1)
        cols = self.columns
        lo = -max(10.0, th.lean_back_deg + 2.0)
        hi = max(25.0, th.slouch_deg + 10.0)
        step = (hi - lo) / (height - 1)

        def row(deg: float) -> int:
            return round((hi - min(hi, max(lo, deg))) / step)

        lines: list[Text] = []
        grid: list[list[tuple[str, str]]] = [[(" ", "")] * cols for _ in range(height)]
        for deg, ch, style in (
            (0.0, "─", "dim"),
            (th.forward_head_deg, "┄", "yellow dim"),
            (th.slouch_deg, "┄", "red dim"),
        ):
            r = row(deg)
            grid[r] = [(ch, style)] * cols
        points = self.points[-cols:]
        offset = cols - len(points)
        for k, point in enumerate(points):
            if point.flexion_deg is None or not math.isfinite(point.flexion_deg):
                continue
            style = ZONE_STYLES[th.zone(point.flexion_deg)]
            if point.state is PostureClass.MOVING:
                style += " dim"
            grid[row(point.flexion_deg)][offset + k] = ("●", style)
        labels = {
            row(th.slouch_deg): f"{th.slouch_deg:>3g}°",
            row(th.forward_head_deg): f"{th.forward_head_deg:>3g}°",
            row(0.0): "  0°",
        }
        for r in range(height):
            line = Text(labels.get(r, "").ljust(self.LABEL_W), style="dim")
            for ch, style in grid[r]:
                line.append(ch, style=style)
            lines.append(line)
        span_min = cols * self.bucket_s / 60.0
        axis = Text(" " * self.LABEL_W, style="dim")
        left = f"-{span_min:.0f} min"
        axis.append(left + "now".rjust(max(0, cols - len(left))), style="dim")
        lines.append(axis)
        return Text("\n").join(lines)
