"""Text panels of the dashboard: the link bar, the sitting clock, today's figures, a one-line notice.

Each is a ``Static`` that redraws only when its text changes (the app calls ``show`` on every redraw tick).
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from posturebuddy.model import ConnectionState
from posturebuddy.posture import CoachState, format_duration
from posturebuddy.ui.view import DashboardView

_DOT_STYLE = {
    ConnectionState.STREAMING: "green",
    ConnectionState.RECONNECTING: "yellow",
    ConnectionState.SCANNING: "yellow",
    ConnectionState.CONNECTING: "yellow",
    ConnectionState.STOPPED: "red",
    ConnectionState.IDLE: "dim",
}


class TextPanel(Static):
    """A Static that only redraws when its content changes."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:  # noqa: A002
        super().__init__("", id=id, classes=classes)
        self._last: Text | str | None = None

    def set_text(self, text: Text | str) -> None:
        """Show ``text`` (no-op when unchanged)."""
        if text != self._last:
            self._last = text
            self.update(text)

    @property
    def text(self) -> str:
        """The plain text shown (for tests)."""
        last = self._last
        if last is None:
            return ""
        return last.plain if isinstance(last, Text) else last


class LinkBar(TextPanel):
    """Connection state, tag name, battery and signal, quiet mode, in one line."""

    DEFAULT_CSS = """
    LinkBar {
        height: 1;
        width: 1fr;
        background: $panel;
        padding: 0 1;
    }
    """

    def show(self, view: DashboardView, *, label: str, quiet: bool) -> None:
        """Draw the link as ``view`` has it."""
        link = view.link
        text = Text()
        text.append("● ", style=_DOT_STYLE.get(link.state, ""))
        text.append(link.words, style="bold")
        tag = link.name or link.address
        if tag:
            text.append(f"  {tag}")
        text.append(f"  battery {link.battery_text}  signal {link.signal_text}", style="dim" if not tag else "")
        if quiet:
            text.append("  QUIET", style="bold magenta")
        if label:
            text.append(f"  [{label}]", style="dim")
        self.set_text(text)


def sitting_text(coach: CoachState | None) -> Text:
    """Time sitting since the last break and the next break."""
    text = Text()
    if coach is None:
        text.append("Sitting clock starts with the first reading.", style="dim")
        return text
    if coach.away_from_chair_s is not None:
        label = "On a break" if coach.on_break else "Up from the chair"
        text.append(f"{label} for {format_duration(coach.away_from_chair_s)}", style="bold green")
    else:
        text.append("Sitting ", style="")
        text.append(format_duration(coach.sitting_s), style="bold")
        text.append(" since your last break")
    text.append("\n")
    left = coach.next_break_in_s
    if left is None:
        text.append("Break prompts are off.", style="dim")
    elif left <= 0:
        text.append("A break is due now.", style="bold yellow")
    else:
        text.append("Next break in ")
        text.append(format_duration(left), style="bold")
    if coach.break_snoozed_until_s is not None:
        text.append(f"  (snoozed until {format_duration(coach.break_snoozed_until_s - coach.t_s)} from now)")
    return text


def today_text(view: DashboardView) -> Text:
    """Today's figures: upright share, episodes, prompts and their outcomes, breaks taken."""
    text = Text()
    share = view.figures.upright_share
    text.append("Upright ")
    text.append("--" if share is None else f"{share:.0%}", style="bold")
    text.append(f"  episodes {view.figures.episodes}")
    snap = view.snapshot
    if snap is None:
        return text
    c = snap.coach
    text.append(f"  breaks {c.breaks_today}")
    text.append("\n")
    prompts = c.posture_prompts_today + c.break_prompts_today
    text.append(f"Prompts {prompts}")
    outcomes = [
        (c.done_today + c.auto_completed_today, "done"),
        (c.snoozed_today, "snoozed"),
        (c.skipped_today, "skipped"),
        (c.expired_today, "missed"),
    ]
    shown = ", ".join(f"{n} {word}" for n, word in outcomes if n)
    if shown:
        text.append(f": {shown}", style="dim")
    return text
