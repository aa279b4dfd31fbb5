"""The calibration wizard: sit upright and keep still, see the capture progress, then (optionally) lean forward
a little and hold, so that PostureBuddy learns which way is forward on *your* back, and see the result.

It drives :meth:`LiveSession.calibrate` (through the app, with a
:class:`~posturebuddy.ui.messages.CalibrationRequested` message) and draws from the view state, which the app
fills from ``CalibrationProgressed`` / ``CalibrationChanged`` events. The lean step runs here, on the tilt of the
engine's snapshots (:class:`~posturebuddy.motion.calibration.LeanCapture`); its reference goes back to the
session with a :class:`~posturebuddy.ui.messages.LeanFinished` message. Skipping it keeps the forward direction
of the tag family's documented mounting.
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

from posturebuddy.devices import UnknownFamilyError, get_family
from posturebuddy.motion.calibration import CaptureState, LeanCapture, StillCapture, UprightReference
from posturebuddy.ui.messages import CalibrationRequested, LeanFinished
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
        self.lean: LeanCapture | None = None
        self.lean_reference: UprightReference | None = None
        self.lean_hint = ""
        self._lean_fed_t = float("-inf")
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
                self.query_one("#calibration-progress", ProgressBar).update(progress=0.0)
                self.lean = self._lean_capture(ref, view)
                self.refresh_bindings()
        if self.step is Step.RESULT:
            self._feed_lean(view)
            self._show_result()

    @staticmethod
    def _lean_capture(ref: UprightReference, view: DashboardView) -> LeanCapture:
        """The lean step after this upright (checked against the family's mounting where it is documented)."""
        still = StillCapture(ref.up_tag, ref.t_s - ref.duration_s, ref.t_s, ref.spread_deg, 0, 0.0)
        try:
            forward = get_family(view.link.family).forward_axis if view.link.family else None
        except UnknownFamilyError:
            forward = None
        return LeanCapture(still, expected_forward=forward)

    def _feed_lean(self, view: DashboardView) -> None:
        snap = view.snapshot
        if self.lean is None or self.lean_reference is not None or snap is None or snap.tilt is None:
            return
        if snap.tilt.t_s <= self._lean_fed_t:
            return
        self._lean_fed_t = snap.tilt.t_s
        status = self.lean.update(snap.tilt)
        self.query_one("#calibration-progress", ProgressBar).update(progress=status.progress)
        self.lean_hint = status.reason or ("Hold it..." if status.state is CaptureState.CAPTURING else "")
        result = self.lean.result
        if result is not None:
            self.lean_reference = self.lean.reference()
            self.lean_hint = ""
            self.post_message(LeanFinished(self.lean_reference))

    def _show_result(self) -> None:
        text = Text(self.result_text + "\n\n", style="bold green")
        ref = self.lean_reference
        if ref is not None and ref.lean_deg is not None:
            text.append(
                f"Forward direction learned from your lean ({ref.lean_deg:.0f} deg). You can sit up again.",
                style="bold",
            )
        else:
            text.append(
                "Optional: lean forward a little from the hips (10-20 deg) and hold still for 2 s, so that "
                "PostureBuddy learns which way is forward on your back. Or skip it: the tag's usual mounting "
                "gives the direction."
            )
        text.append("\n\nPress Enter to finish.", style="dim")
        self.query_one("#calibration-text", Static).update(text)
        self.query_one("#calibration-hint", Static).update(Text(self.lean_hint, style="bold"))
