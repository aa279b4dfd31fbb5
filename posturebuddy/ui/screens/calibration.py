"""The calibration wizard: sit upright and keep still, see the capture progress, then (optionally) lean forward
to check that the forward tilt grows, and see the result.

It drives :meth:`LiveSession.calibrate` (through the app, with a
:class:`~posturebuddy.ui.messages.CalibrationRequested` message) and draws from the view state, which the app
fills from ``CalibrationProgressed`` / ``CalibrationChanged`` events.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, ProgressBar, Static

from posturebuddy.ui.messages import CalibrationRequested
from posturebuddy.ui.view import DashboardView


class Step(enum.StrEnum):
    """Where the wizard is."""

    INTRO = "intro"
    CAPTURING = "capturing"
    RESULT = "result"


INTRO = (
    "Sit the way you want PostureBuddy to call upright: back against the chair, feet flat, shoulders relaxed, "
    "eyes level with the screen.\n\nPress Enter, then keep still for a few seconds."
)


class CalibrationScreen(ModalScreen[None]):
    """The wizard (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "next", "Start"),
        Binding("escape", "close", "Close"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(id="calibration")
        self.step = Step.INTRO
        self.changes_at_start = 0
        self.lean_max_deg: float | None = None
        self.result_text = ""
        self.last_view: DashboardView | None = None
        self.ready = False

    def compose(self) -> ComposeResult:
        """Instruction, progress, result."""
        with Vertical(id="calibration-box") as box:
            box.border_title = "Calibrate: your upright posture"
            yield Static(INTRO, id="calibration-text")
            yield ProgressBar(total=1.0, show_eta=False, id="calibration-progress")
            yield Static("", id="calibration-hint")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Nothing to show in the progress bar yet."""
        self.query_one("#calibration-progress").display = False
        self.ready = True

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Enter starts the capture, then finishes the wizard; nothing to press while capturing."""
        if action == "next":
            return self.step is not Step.CAPTURING
        return True

    def action_next(self) -> None:
        """Start the capture, or close after the result."""
        if self.step is Step.INTRO:
            self.step = Step.CAPTURING
            self.changes_at_start = self.last_view.calibration.changes if self.last_view is not None else 0
            self.query_one("#calibration-text", Static).update("Keep still: sit tall and look at the screen.")
            self.query_one("#calibration-progress").display = True
            self.post_message(CalibrationRequested())
            self.refresh_bindings()
        elif self.step is Step.RESULT:
            self.dismiss()

    def action_close(self) -> None:
        """Leave the wizard (a running capture goes on and is used when it completes)."""
        self.dismiss()

    def show_view(self, view: DashboardView) -> None:
        """Redraw from the view state."""
        self.last_view = view
        if not self.ready:
            return
        cal = view.calibration
        if self.step is Step.CAPTURING:
            status = cal.status
            if status is not None:
                self.query_one("#calibration-progress", ProgressBar).update(progress=status.progress)
                hint = status.reason or ("Capturing..." if status.progress > 0 else "Waiting for the tag...")
                self.query_one("#calibration-hint", Static).update(Text(hint, style="bold"))
            if cal.changes > self.changes_at_start and cal.latest is not None:
                self.step = Step.RESULT
                ref = cal.latest.reference
                self.result_text = (
                    f"Upright posture saved: averaged over {ref.duration_s:.0f} s of stillness "
                    f"(spread {ref.spread_deg:.1f} deg)."
                )
                self.query_one("#calibration-progress", ProgressBar).update(progress=1.0)
                self.refresh_bindings()
        if self.step is Step.RESULT:
            self._show_result(view)

    def _show_result(self, view: DashboardView) -> None:
        snap = view.snapshot
        flexion = snap.angles.flexion_deg if snap is not None and snap.angles is not None else None
        if flexion is not None:
            self.lean_max_deg = flexion if self.lean_max_deg is None else max(self.lean_max_deg, flexion)
        text = Text(self.result_text + "\n\n", style="bold green")
        text.append("Optional check: lean forward slowly, then sit up again. The forward tilt should grow.\n")
        if flexion is not None and self.lean_max_deg is not None:
            text.append(f"Forward tilt now {flexion:+.0f} deg, most so far {self.lean_max_deg:+.0f} deg.", style="bold")
        text.append("\n\nPress Enter to finish.", style="dim")
        self.query_one("#calibration-text", Static).update(text)
        self.query_one("#calibration-hint", Static).update("")
