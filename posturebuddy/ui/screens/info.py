"""Read-mostly screens: help (keys, exercises, red flags) and settings; the base of the other modal pages.

The history screen is in :mod:`posturebuddy.ui.screens.history`, the replay screen in
:mod:`posturebuddy.ui.screens.replay`.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Markdown, Static

from posturebuddy.config import Settings
from posturebuddy.posture.exercises import ABOUT_THE_EVIDENCE, DISCLAIMER, EXERCISES, RED_FLAGS, RED_FLAGS_INTRO


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
