"""The dashboard over a replayed recording: the same panels, a replay bar on top, and the replay's keys.

:class:`ReplayScreen` is the dashboard screen with the link bar swapped for a
:class:`~posturebuddy.ui.widgets.replay_bar.ReplayBar` (file, date, time of day, progress, speed, paused, damage).
The replay's keys (:data:`REPLAY_BINDINGS`: space play/pause, ``+``/``-`` speed, left/right one minute back or
forward, with shift ten minutes, home/end) drive the :class:`~posturebuddy.ui.session.ReplayControls`; they also
work while a prompt from the recording is open. The keys of a live session that need a tag (calibrate, nudge,
pick a tag, quiet mode) are taken over here: they say why a replay cannot do that instead.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer

from posturebuddy.ui.screens.dashboard import DashboardScreen
from posturebuddy.ui.session import ReplayControls
from posturebuddy.ui.view import DashboardView
from posturebuddy.ui.widgets.posture import Thresholds
from posturebuddy.ui.widgets.replay_bar import ReplayBar, date_text
from posturebuddy.ui.widgets.status import LinkBar

SEEK_STEP_S = 60.0
"""Left/right move the replay this many seconds of recording."""
BIG_SEEK_STEP_S = 600.0
"""Shift+left/right move it this many seconds."""

LIVE_ONLY: dict[str, str] = {
    "calibrate": "Calibrating needs you and a live tag; a replay uses the calibrations in the recording.",
    "nudge": "A replay has no tag to nudge.",
    "pick_tag": "A replay reads a file: there is no tag to pick.",
    "toggle_quiet": "Quiet mode is for live sessions; a replay shows every prompt the recording led to.",
}
"""Actions of a live dashboard a replay refuses, with the reason shown."""

REPLAY_KEYS_HELP: list[tuple[str, str]] = [
    ("space", "play / pause (at the end: play again from the start)"),
    ("+ / -", "faster / slower: 1x, 2x, 10x, 60x, max"),
    ("left / right", "one minute back / forward (shift: ten minutes)"),
    ("home / end", "the start / the end of the recording"),
    ("q", "quit"),
    ("y, o, ?", "history, settings, this help"),
    ("ctrl+p", "command palette"),
    ("prompts", "are shown as they came; answering one only closes it (the recording is not changed)"),
]
"""The keys of a replay, for the help screen."""

REPLAY_BINDINGS: list[BindingType] = [
    Binding("space", "replay('pause')", "Pause", priority=True),
    Binding("plus,equals_sign", "replay('faster')", "Speed", key_display="+/-", priority=True),
    Binding("minus,underscore", "replay('slower')", "Slower", show=False, priority=True),
    Binding("left", f"replay('seek', {-SEEK_STEP_S})", "1 min", key_display="←/→", priority=True),
    Binding("right", f"replay('seek', {SEEK_STEP_S})", "+1 min", show=False, priority=True),
    Binding("shift+left", f"replay('seek', {-BIG_SEEK_STEP_S})", "10 min", key_display="⇧←/→", priority=True),
    Binding("shift+right", f"replay('seek', {BIG_SEEK_STEP_S})", "+10 min", show=False, priority=True),
    Binding("home", "replay('start')", "Ends", key_display="Home/End", priority=True),
    Binding("end", "replay('end')", "End", show=False, priority=True),
]
"""The replay's keys. The app holds them as priority bindings, enabled only in a replay and only while the
dashboard or a prompt is on top, so they also work while a (modal) prompt from the recording is open; the app
hands them to :meth:`ReplayScreen.control`."""


class ReplayScreen(DashboardScreen):
    """The dashboard of a replay (see the module docstring). The app redraws it through :meth:`show_view` and
    hands it the replay's keys (:data:`REPLAY_BINDINGS`) through :meth:`control`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "live_only('calibrate')", "Calibrate", show=False),
        Binding("n", "live_only('nudge')", "Nudge", show=False),
        Binding("p", "live_only('pick_tag')", "Tags", show=False),
        Binding("m", "live_only('toggle_quiet')", "Quiet", show=False),
        Binding("y", "app.history", "History", show=False),  # (kept off the footer: the replay's keys need room)
        Binding("o", "app.settings", "Settings", show=False),
    ]

    def __init__(self, thresholds: Thresholds, *, bucket_s: float, label: str, controls: ReplayControls) -> None:
        super().__init__(thresholds, bucket_s=bucket_s, label=label)
        self.controls = controls
        self.damage_told: str | None = None

    @property
    def title_text(self) -> str:
        """The title: "Replay of <file> (<date>)"."""
        status = self.controls.status
        when = f" ({date_text(status.first_s)})" if status.first_s is not None else ""
        return f"Replay of {status.path.name}{when}"

    def compose(self) -> ComposeResult:
        """The replay bar, then the dashboard's panels; the footer leaves the command palette's key (ctrl+p, in the
        help) out to make room for the replay's keys at 80 columns."""
        yield ReplayBar(id="replay-bar")
        for widget in super().compose():
            yield Footer(compact=True, show_command_palette=False) if isinstance(widget, Footer) else widget

    def on_mount(self) -> None:
        """The replay bar replaces the link bar; the title says what is replayed."""
        super().on_mount()
        self.query_one("#link", LinkBar).display = False
        self.title = self.app.title = self.title_text
        self.sub_title = self.app.sub_title = "replay"
        self.query_one(ReplayBar).show(self.controls.status)

    def show_view(self, view: DashboardView, *, thresholds: Thresholds, quiet: bool) -> None:
        """Redraw the panels from ``view`` and the bar from the replay's status; tell about damage once."""
        super().show_view(view, thresholds=thresholds, quiet=quiet)
        if not self.ready:
            return
        status = self.controls.status
        link = view.link
        tag = link.name or link.address
        if tag and (link.battery_percent is not None or link.battery_voltage_v is not None):
            tag += f"  battery {link.battery_text}"
        self.query_one(ReplayBar).show(status, tag=tag)
        if status.damage and status.damage != self.damage_told:
            self.damage_told = status.damage
            self.notify(status.damage, title="Damaged recording", severity="warning", timeout=10)

    # ------------------------------------------------------------------ keys

    def control(self, command: str, value: float = 0.0) -> None:
        """A replay key: ``pause`` (play/pause), ``faster``, ``slower``, ``seek`` by ``value`` seconds, ``start``,
        ``end``."""
        controls = self.controls
        if command == "pause":
            controls.toggle_pause()
        elif command == "faster":
            controls.faster()
        elif command == "slower":
            controls.slower()
        elif command == "seek":
            controls.seek_by(value)
        elif command in ("start", "end"):
            status = controls.status
            t = status.first_s if command == "start" else status.last_s
            if t is not None:
                controls.seek_to(t)
        if self.ready:
            bar = self.query_one(ReplayBar)
            bar.show(controls.status, tag=bar.tag)

    def action_live_only(self, action: str) -> None:
        """A live-session key: say why a replay cannot."""
        self.notify(LIVE_ONLY.get(action, "Not in a replay."), severity="warning", timeout=5)
