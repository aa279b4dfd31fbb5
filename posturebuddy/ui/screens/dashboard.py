"""The main screen: link bar, posture gauge and state, timeline, sitting clock, today's figures, a notice line."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from posturebuddy.ui.view import DashboardView
from posturebuddy.ui.widgets.posture import PostureGauge, Thresholds, TimelineChart
from posturebuddy.ui.widgets.status import LinkBar, TextPanel, sitting_text, today_text


class DashboardScreen(Screen[None]):
    """The dashboard. The app calls :meth:`show_view` on every redraw tick; the screen holds no session state."""

    def __init__(self, thresholds: Thresholds, *, bucket_s: float, label: str) -> None:
        super().__init__(id="dashboard")
        self.thresholds = thresholds
        self.bucket_s = bucket_s
        self.label = label
        self.notice_text = ""
        self.ready = False

    def compose(self) -> ComposeResult:
        """Lay out the panels (sizes in app.tcss)."""
        yield LinkBar(id="link")
        with Vertical(id="posture", classes="panel") as posture:
            posture.border_title = "Posture"
            yield TextPanel(id="state")
            yield PostureGauge(self.thresholds, id="gauge")
        with Vertical(id="timeline-box", classes="panel") as box:
            box.border_title = "Last minutes (forward tilt, degrees)"
            yield TimelineChart(self.thresholds, self.bucket_s, id="timeline")
        with Horizontal(id="bottom"):
            yield TextPanel(id="sitting", classes="panel")
            yield TextPanel(id="today", classes="panel")
        yield TextPanel(id="notice")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Titles for the bottom panels."""
        self.query_one("#sitting", TextPanel).border_title = "Breaks"
        self.query_one("#today", TextPanel).border_title = "Today"
        self.ready = True

    def set_notice(self, text: str) -> None:
        """A one-line notice under the panels (errors, hints); empty hides it."""
        self.notice_text = text
        if not self.ready:
            self.call_after_refresh(self.set_notice, text)
            return
        notice = self.query_one("#notice", TextPanel)
        notice.set_text(Text(text, style="bold"))
        notice.display = bool(text)

    def show_view(self, view: DashboardView, *, thresholds: Thresholds, quiet: bool) -> None:
        """Redraw from ``view``."""
        if not self.ready:
            return
        self.query_one("#link", LinkBar).show(view, label=self.label, quiet=quiet)
        snap = view.snapshot
        state = Text(view.state_words, style="bold")
        if view.slip_suspected and view.slip_relearning:
            state.append("   The tag moved: re-learning your upright (sit tall, or press c).", style="yellow")
        elif view.slip_suspected:
            state.append("   The tag may have moved: press c to recalibrate.", style="yellow")
        self.query_one("#state", TextPanel).set_text(state)
        angles = snap.angles if snap is not None else None
        self.query_one("#gauge", PostureGauge).show(
            angles.flexion_deg if angles else None, angles.lateral_deg if angles else None, thresholds
        )
        chart = self.query_one("#timeline", TimelineChart)
        chart.show(view.timeline.latest(chart.columns), thresholds)
        self.query_one("#sitting", TextPanel).set_text(sitting_text(snap.coach if snap else None))
        self.query_one("#today", TextPanel).set_text(today_text(view))
