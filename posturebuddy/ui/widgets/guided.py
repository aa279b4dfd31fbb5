"""The guided-set panel: current instruction, hold countdown, repetition counter."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from posturebuddy.ui.guided import GuidedPosition, Phase

_PHASE_STYLE = {Phase.GET_READY: "bold", Phase.HOLD: "bold green", Phase.REST: "bold blue", Phase.DONE: "bold green"}
BAR_W = 30


class GuidedSetView(Static):
    """Shows one :class:`~posturebuddy.ui.guided.GuidedPosition`."""

    DEFAULT_CSS = """
    GuidedSetView {
        height: auto;
        min-height: 4;
        padding: 0 1;
        border: round $accent;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 (Textual's name)
        super().__init__("", id=id)
        self.position: GuidedPosition | None = None

    def show(self, position: GuidedPosition) -> None:
        """Draw ``position`` (rounded to whole seconds so the panel redraws at most once a second per phase)."""
        if self.position is not None and (
            position.phase,
            position.rep,
            position.side,
            round(position.remaining_s),
        ) == (self.position.phase, self.position.rep, self.position.side, round(self.position.remaining_s)):
            self.position = position
            return
        self.position = position
        self.update(self._render_position(position))

    @staticmethod
    def _render_position(p: GuidedPosition) -> Text:
        text = Text()
        if p.phase is Phase.DONE:
            text.append("Set complete. Well done.", style="bold green")
            return text
        side = f" ({p.side} side)" if p.side else ""
        counter = f"rep {p.rep} of {p.reps}{side}" if p.rep else f"{p.reps} reps{side}"
        text.append(f"{p.phase.value.upper():<10}", style=_PHASE_STYLE[p.phase])
        text.append(counter, style="bold")
        text.append("\n")
        text.append(p.instruction)
        text.append("\n")
        filled = round(p.phase_progress * BAR_W)
        text.append("█" * filled, style=_PHASE_STYLE[p.phase].replace("bold ", ""))
        text.append("░" * (BAR_W - filled), style="dim")
        text.append(f"  {p.remaining_s:.0f} s", style="bold")
        return text
