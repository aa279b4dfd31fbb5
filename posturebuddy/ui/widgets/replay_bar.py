"""The replay bar: what is replayed, where the replay is, at what speed, and whether the file is damaged.

Two lines, three for a damaged recording::

    REPLAY  forward_head.pbrec (Mon 5 Jan 2026, 15:00)  PB-Tag-BB16  battery 100 %
    ▶ 10x  15:02:13  ━━━━━━━━━━━━━━━━━━━━━━━━╸──────────────────────────────────  2:13 / 7:00
    ⚠ Damaged recording: readable up to packet #6302 at 15:04:12, 4.2 min in; the replay ends there.

The screen calls :meth:`ReplayBar.show` on every redraw tick; the bar redraws only when what it shows changed,
and lays the progress line out for its own width.
"""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.widgets import Static

from posturebuddy.session.replay import ReplayStatus, speed_text

FILLED = "━"
EMPTY = "─"
HEAD = "╸"


def clock_text(t_s: float) -> str:
    """Local time of day of host time ``t_s`` (seconds since the epoch): ``"15:02:13"``."""
    return dt.datetime.fromtimestamp(t_s, tz=dt.UTC).astimezone().strftime("%H:%M:%S")


def date_text(t_s: float) -> str:
    """Local date and time of host time ``t_s``: ``"Mon 5 Jan 2026, 15:00"``."""
    day = dt.datetime.fromtimestamp(t_s, tz=dt.UTC).astimezone()
    return f"{day:%a} {day.day} {day:%b %Y, %H:%M}"


def span_text(seconds: float) -> str:
    """A position or a length in seconds as ``m:ss`` or ``h:mm:ss``."""
    s = max(0, int(seconds))
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def state_text(status: ReplayStatus) -> Text:
    """Playing, paused, seeking or at the end, with the speed: ``"▶ 10x"``, ``"⏸ paused 10x"``..."""
    speed = speed_text(status.speed)
    if status.seeking_to_s is not None:
        return Text(f"⏩ seeking to {clock_text(status.seeking_to_s)}", style="bold yellow")
    if status.first_s is None:
        return Text("■ no packets", style="bold red")
    if status.finished:
        return Text("■ end", style="bold")
    if status.paused:
        return Text(f"⏸ paused {speed}", style="bold yellow")
    return Text(f"▶ {speed}", style="bold green")


def progress_text(status: ReplayStatus, width: int) -> Text:
    """``state  time of day  bar  elapsed / total``, ``width`` cells wide."""
    position = status.position_s if status.position_s is not None else status.first_s
    text = state_text(status)
    text.append("  ")
    text.append(clock_text(position) if position is not None else "--:--:--", style="bold")
    text.append("  ")
    right = f"{span_text(status.elapsed_s)} / {span_text(status.total_s)}"
    cells = max(0, width - text.cell_len - len(right) - 2)
    if cells:
        share = status.elapsed_s / status.total_s if status.total_s > 0 else 0.0
        done = min(cells, round(share * cells))
        text.append(FILLED * max(0, done - 1) + (HEAD if done else ""), style="green")
        text.append(EMPTY * (cells - done), style="dim")
    text.append("  ")
    text.append(right)
    return text


class ReplayBar(Static):
    """The replay's state in two or three lines (see the module docstring)."""

    DEFAULT_CSS = """
    ReplayBar {
        height: auto;
        width: 1fr;
        background: $panel;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__("", id=id)
        self.status: ReplayStatus | None = None
        self.tag = ""
        self._shown: tuple[object, ...] | None = None

    def show(self, status: ReplayStatus, *, tag: str = "") -> None:
        """Show ``status`` (``tag``: the tag's name and battery, as recorded); no-op when nothing changed."""
        key = (status, tag, self.size.width)
        if key == self._shown:
            return
        self._shown = key
        self.status, self.tag = status, tag
        self.refresh(layout=True)

    @property
    def text(self) -> str:
        """The plain text shown (for tests)."""
        return self.render_text().plain

    def render(self) -> Text:
        """Draw for the current width."""
        return self.render_text()

    def render_text(self) -> Text:
        """The bar's lines for the widget's current width."""
        status = self.status
        if status is None:
            return Text("REPLAY  opening the recording...", style="bold")
        width = max(20, self.content_size.width or 80)
        head = Text("REPLAY ", style="bold reverse")
        head.append(" ")
        head.append(status.path.name, style="bold")
        if status.first_s is not None:
            head.append(f" ({date_text(status.first_s)})")
        if self.tag and head.cell_len + 2 + len(self.tag) <= width:
            head.append(f"  {self.tag}", style="dim")
        lines = [head, progress_text(status, width)]
        if status.damage:
            lines.append(Text(f"⚠ {status.damage}", style="bold yellow"))
        return Text("\n").join(lines)
