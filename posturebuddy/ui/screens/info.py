"""Read-mostly screens: help (keys, exercises, red flags), settings, history of recordings, replay placeholder."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Markdown, Static

from posturebuddy.config import Settings
from posturebuddy.posture.exercises import ABOUT_THE_EVIDENCE, DISCLAIMER, EXERCISES, RED_FLAGS, RED_FLAGS_INTRO

RECORDING_SUFFIX = ".pbrec"


class InfoScreen(ModalScreen[None]):
    """A modal page that Escape (or q-less close keys) dismisses."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close"), Binding("q", "app.quit", "Quit")]

    def action_close(self) -> None:
        """Back to the dashboard."""
        self.dismiss()


def help_markdown(keys: list[tuple[str, str]]) -> str:
    """The help page: keys, what PostureBuddy does, the exercise library, the red flags, the disclaimer."""
    lines = ["# PostureBuddy help", "", f"**{DISCLAIMER}**", "", "## Keys", ""]
    lines += [f"- `{key}`: {what}" for key, what in keys]
    lines += [
        "",
        "On a prompt: `Enter` starts the guided set, `d` done, `s` snooze, `x` skip, `r` when to stop.",
        "",
        "## How it coaches",
        "",
        "PostureBuddy compares your upper back with *your* upright posture (calibrate with `c`). Head forward or "
        "slouching for longer than the dwell time counts as an episode; a chin-tuck or sit-tall prompt follows, at "
        "most once per episode and never more often than the minimum prompt interval. After long unbroken sitting "
        "it asks for a break and counts it only when the tag sees you stand and walk.",
        "",
        "## When to stop and see a professional",
        "",
        RED_FLAGS_INTRO,
        "",
    ]
    lines += [f"- {flag}" for flag in RED_FLAGS]
    lines += ["", "## What to expect", ""]
    lines += [f"- {item}" for item in ABOUT_THE_EVIDENCE]
    lines += ["", "## Exercises", ""]
    for ex in EXERCISES:
        dose = ex.dosing
        amount = []
        if dose.reps:
            amount.append(f"{dose.reps} repetitions" + (" per side" if ex.per_side else ""))
        if dose.hold_s:
            amount.append(f"{dose.hold_s:g}-s holds")
        lines += [f"### {ex.name}", "", ex.summary, ""]
        lines += [f"{k}. {step}" for k, step in enumerate(ex.steps, 1)]
        lines += [
            "",
            f"*How much:* {', '.join(amount) or 'as described'}; {dose.how_often}",
            "",
            f"*It should feel like:* {ex.feel}",
            "",
            "*Stop if:* " + " ".join(ex.stop_if),
            "",
        ]
    return "\n".join(lines)


class HelpScreen(InfoScreen):
    """Keys, the exercise library, the red flags, "not medical advice"."""

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        super().__init__(id="help")
        self.keys = keys

    def compose(self) -> ComposeResult:
        """A scrolling page."""
        with VerticalScroll(id="help-page", classes="page"):
            yield Markdown(help_markdown(self.keys))
        yield Footer(compact=True)


def settings_text(settings: Settings, *, quiet: bool, theme: str, source: str) -> Text:
    """The effective settings, one ``section.key = value`` per line, plus the live toggles."""
    text = Text()
    text.append("Live toggles\n", style="bold")
    text.append(f"  quiet mode   {'on' if quiet else 'off'}   (m toggles)\n")
    text.append(f"  theme        {theme}   (t toggles)\n\n")
    text.append(f"Effective settings (read-only; from {source})\n", style="bold")
    for section in dataclasses.fields(settings):
        values = getattr(settings, section.name)
        text.append(f"[{section.name}]\n", style="bold")
        for f in dataclasses.fields(values):
            value = getattr(values, f.name)
            shown = f'"{value}"' if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else value
            text.append(f"  {f.name} = {shown}\n")
    text.append("\nEdit the config file to change the others ('posturebuddy config path' shows where it is).", "dim")
    return text


class SettingsScreen(InfoScreen):
    """The effective settings, read-only, with quiet mode and theme toggles."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m", "app.toggle_quiet", "Quiet mode"),
        Binding("t", "app.toggle_theme", "Theme"),
    ]

    def __init__(self, settings: Settings, *, source: str) -> None:
        super().__init__(id="settings")
        self.settings = settings
        self.source = source

    def compose(self) -> ComposeResult:
        """A scrolling page."""
        with VerticalScroll(id="settings-page", classes="page") as page:
            page.border_title = "Settings"
            yield Static(id="settings-text")
        yield Footer(compact=True)

    def show_toggles(self, *, quiet: bool, theme: str) -> None:
        """Redraw with the current toggles."""
        self.query_one("#settings-text", Static).update(
            settings_text(self.settings, quiet=quiet, theme=theme, source=self.source)
        )


def list_recordings(directory: Path) -> list[tuple[Path, float, int]]:
    """Recording files in ``directory``, newest first: (path, modification time, size in bytes)."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.glob(f"*{RECORDING_SUFFIX}*"):
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((path, stat.st_mtime, stat.st_size))
    return sorted(found, key=lambda item: item[1], reverse=True)


def human_size(size: int) -> str:
    """Bytes in words."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


class HistoryScreen(InfoScreen):
    """Today and past days: the recording files (the session store with day summaries arrives with issue 7)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "replay", "Replay")]

    def __init__(self, directory: Path) -> None:
        super().__init__(id="history")
        self.directory = directory
        self.recordings = list_recordings(directory)

    def compose(self) -> ComposeResult:
        """A table of recordings."""
        with Vertical(id="history-page", classes="page") as page:
            page.border_title = "History"
            yield Static(
                f"Recordings in {self.directory}. Day summaries (upright share, episodes, breaks per day) and "
                "replay arrive with issue 7 (the session store).",
                id="history-note",
            )
            table: DataTable[str] = DataTable(id="history-table", cursor_type="row")
            table.add_columns("day", "started", "size", "file")
            for path, mtime, size in self.recordings:
                when = datetime.fromtimestamp(mtime).astimezone()
                table.add_row(when.strftime("%a %d %b"), when.strftime("%H:%M"), human_size(size), path.name)
            yield table
            if not self.recordings:
                yield Static("No recordings yet: every 'posturebuddy run' session is recorded.", id="history-empty")
        yield Footer(compact=True)

    def action_replay(self) -> None:
        """Replay the selected recording (a placeholder until issue 7)."""
        table = self.query_one("#history-table", DataTable)
        if not self.recordings:
            return
        path = self.recordings[min(max(table.cursor_row, 0), len(self.recordings) - 1)][0]
        self.app.push_screen(ReplayScreen(path))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row (the table has focus): replay it."""
        event.stop()
        self.action_replay()


class ReplayScreen(InfoScreen):
    """Replay controls (play, pause, speed, seek) arrive with issue 7; this says so."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__(id="replay")
        self.path = path

    def compose(self) -> ComposeResult:
        """A note."""
        with Vertical(id="replay-page", classes="page") as page:
            page.border_title = "Replay"
            name = self.path.name if self.path else "a recording"
            yield Static(
                f"Replaying {name} (play, pause, speed, seek, through this same dashboard) arrives with issue 7, "
                "together with 'posturebuddy replay'. The recording is kept on disk until then."
            )
        yield Footer(compact=True)
