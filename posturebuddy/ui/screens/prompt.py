"""A coaching prompt: chin tuck (with a guided set), sit tall, or break (with a countdown the tag completes).

The text is short on purpose (users skip long break text mid-task): one line saying why, one line saying what
to do, the keys. The exercise's steps, the red flags and the disclaimer appear once the wearer starts a set.

Answers go up as :class:`~posturebuddy.ui.messages.PromptAnswerChosen`; the app hands them to the session.
When the coach closes the prompt itself (expired, or completed by the tag: the wearer sat tall or took the
break) the app calls :meth:`PromptScreen.prompt_closed`; a guided set that is under way is left to finish.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Collapsible, Footer, ProgressBar, Static

from posturebuddy.model import Prompt, PromptKind, PromptOutcome
from posturebuddy.posture import format_duration
from posturebuddy.posture.exercises import (
    CHIN_TUCK_SEATED,
    DISCLAIMER,
    EXERCISES_BY_ID,
    RED_FLAGS,
    RED_FLAGS_INTRO,
    Exercise,
)
from posturebuddy.ui.guided import GuidedSetPlayer, Phase
from posturebuddy.ui.messages import PromptAnswerChosen
from posturebuddy.ui.view import DashboardView
from posturebuddy.ui.widgets.guided import GuidedSetView

TITLES = {
    PromptKind.CHIN_TUCK: "Time for a chin tuck",
    PromptKind.SIT_TALL: "Sit tall",
    PromptKind.BREAK: "Time for a break",
}
ASKS = {
    PromptKind.CHIN_TUCK: "Glide your head back over your shoulders. Enter starts a short guided set.",
    PromptKind.SIT_TALL: "Sit back, feet flat, breastbone up, ears over shoulders. This closes when you sit tall.",
    PromptKind.BREAK: "Stand up and walk for a minute or two; the tag will see it and count the break.",
}
GUIDE_TICK_S = 0.25
SET_DONE_LINGER_S = 1.5
"""How long "Set complete" stays on screen before the prompt closes, seconds."""


def prompt_exercise(prompt: Prompt) -> tuple[Exercise, int, float]:
    """The exercise a posture prompt suggests, with its repetitions and hold (from the prompt's details)."""
    details = dict(prompt.details)
    exercise = EXERCISES_BY_ID.get(details.get("exercise", ""), CHIN_TUCK_SEATED)
    dosing = exercise.dosing
    try:
        reps = int(details.get("reps", dosing.reps or 8))
        hold_s = float(details.get("hold_s", dosing.hold_s or 5.0))
    except ValueError:
        reps, hold_s = dosing.reps or 8, dosing.hold_s or 5.0
    return exercise, max(1, reps), max(1.0, hold_s)


def red_flags_text() -> Text:
    """The red flags and the disclaimer, for the prompt and the help screen."""
    text = Text(RED_FLAGS_INTRO + "\n", style="bold")
    for flag in RED_FLAGS:
        text.append(f"  • {flag}\n")
    text.append(DISCLAIMER, style="italic")
    return text


class PromptScreen(ModalScreen[None]):
    """One prompt (see the module docstring)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "start_set", "Start set"),
        Binding("d", "answer('done')", "Done"),
        Binding("s", "answer('snoozed')", "Snooze"),
        Binding("x", "answer('skipped')", "Skip"),
        Binding("escape", "answer('snoozed')", "Snooze", show=False),
        Binding("r", "toggle_red_flags", "When to stop"),
        Binding("q", "app.quit", "Quit", show=False),
    ]

    def __init__(self, prompt: Prompt, *, wall_clock: Callable[[], float], guide_get_ready_s: float = 5.0) -> None:
        super().__init__(id="prompt")
        self.prompt = prompt
        self.wall_clock = wall_clock
        self.closed_by: PromptOutcome | None = None
        self.ready = False
        self.answered: PromptOutcome | None = None
        self.guide_started_at: float | None = None
        self.player: GuidedSetPlayer | None = None
        if prompt.kind is not PromptKind.BREAK:
            exercise, reps, hold_s = prompt_exercise(prompt)
            self.player = GuidedSetPlayer(exercise, reps, hold_s, get_ready_s=guide_get_ready_s)
        details = dict(prompt.details)
        try:
            self.min_break_s = float(details.get("min_break_s", "60"))
        except ValueError:
            self.min_break_s = 60.0

    @property
    def set_running(self) -> bool:
        """A guided set is under way."""
        return self.guide_started_at is not None

    def compose(self) -> ComposeResult:
        """Why, what to do, then the kind's own part (guided set or break countdown)."""
        kind = self.prompt.kind
        with Vertical(id="prompt-box") as box:
            box.border_title = TITLES.get(kind, "PostureBuddy")
            yield Static(Text(self.prompt.reason, style="bold"), id="prompt-reason")
            ask = ASKS.get(kind, "")
            if self.player is not None and kind is PromptKind.CHIN_TUCK:
                ask = (
                    f"Glide your head back over your shoulders: {self.player.reps} chin tucks, "
                    f"{self.player.hold_s:g}-s holds. Enter starts the guided set."
                )
            elif self.player is not None:
                ask += " Enter starts a short chin-tuck set."
            yield Static(ask, id="prompt-ask")
            if self.player is not None:
                yield GuidedSetView(id="guide")
                with VerticalScroll(id="guide-details"):
                    yield Static(self._steps_text(self.player.exercise), id="steps")
                    with Collapsible(title="When to stop and see a professional", id="red-flags"):
                        yield Static(red_flags_text())
                yield Static(Text(DISCLAIMER, style="dim italic"), id="disclaimer")
            else:
                yield Static("", id="break-status")
                yield ProgressBar(total=self.min_break_s, show_eta=False, id="break-progress")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        """Hide the guided part until it starts."""
        self.ready = True
        if self.player is not None:
            self.query_one("#guide", GuidedSetView).display = False
            self.query_one("#guide-details").display = False
            self.set_interval(GUIDE_TICK_S, self.tick)

    @staticmethod
    def _steps_text(exercise: Exercise) -> Text:
        text = Text(f"{exercise.name}: {exercise.summary}\n", style="bold")
        for k, step in enumerate(exercise.steps, 1):
            text.append(f"{k}. {step}\n")
        text.append(f"It should feel like: {exercise.feel}", style="dim")
        return text

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Start only where there is a set to start; no answers once the prompt is closed."""
        if action == "start_set":
            return self.player is not None and not self.set_running
        if action == "toggle_red_flags":
            return self.player is not None
        if action == "answer" and self.closed_by is not None:
            return parameters == ("done",) or None
        return True

    def action_start_set(self) -> None:
        """Begin the guided set now."""
        if self.player is None or self.set_running:
            return
        self.guide_started_at = self.wall_clock()
        self.query_one("#guide", GuidedSetView).display = True
        self.query_one("#guide-details").display = True
        self.query_one("#prompt-ask").display = False
        self.tick()
        self.refresh_bindings()

    def action_toggle_red_flags(self) -> None:
        """Open or close the red flags."""
        flags = self.query_one("#red-flags", Collapsible)
        self.query_one("#guide-details").display = True  # the steps and the red flags, set started or not
        flags.collapsed = not flags.collapsed

    def action_answer(self, outcome: str) -> None:
        """Done / Snooze / Skip (Done also ends a running set)."""
        chosen = PromptOutcome(outcome)
        if self.closed_by is None and self.answered is None:
            self.answered = chosen
            self.post_message(PromptAnswerChosen(self.prompt.prompt_id, chosen))
        self._close()

    # ------------------------------------------------------------------ from the app

    def prompt_closed(self, outcome: PromptOutcome) -> None:
        """The coach closed the prompt: dismiss, unless the wearer is in the middle of a set."""
        self.closed_by = outcome
        if self.set_running:
            self.refresh_bindings()
            return
        self._close()

    def _close(self) -> None:
        if self.is_attached and self.app.screen is self:
            self.dismiss()

    def show_view(self, view: DashboardView) -> None:
        """Redraw the break countdown from the latest snapshot."""
        if not self.ready or self.prompt.kind is not PromptKind.BREAK or view.snapshot is None:
            return
        coach = view.snapshot.coach
        status = self.query_one("#break-status", Static)
        bar = self.query_one("#break-progress", ProgressBar)
        away = coach.away_from_chair_s
        if away is None:
            status.update("Waiting for you to stand up...")
            bar.update(progress=0)
        else:
            left = max(0.0, self.min_break_s - away)
            if left > 0:
                status.update(Text(f"Up for {format_duration(away)}; {format_duration(left)} to go", style="bold"))
            else:
                status.update(Text("Break counted. Enjoy it.", style="bold green"))
            bar.update(progress=min(self.min_break_s, away))

    def tick(self) -> None:
        """Advance the guided set to the wall clock's now; at its end, answer Done (if still open) and close."""
        if self.player is None or self.guide_started_at is None:
            return
        position = self.player.position(self.wall_clock() - self.guide_started_at)
        self.query_one("#guide", GuidedSetView).show(position)
        if position.phase is Phase.DONE:
            self.guide_started_at = None
            if SET_DONE_LINGER_S > 0:
                self.set_timer(SET_DONE_LINGER_S, lambda: self.action_answer("done"))
            else:
                self.action_answer("done")
