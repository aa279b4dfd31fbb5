"""The PostureBuddy dashboard: a thin Textual app over a session's event stream.

How it runs
    :func:`make_app` takes a :data:`~posturebuddy.ui.session.SessionFactory` and the settings. On mount the app
    starts one owned worker that enters the factory *inside the app's event loop* (so the simulator's bumble
    stack and bleak objects are created in the running loop), subscribes to the session's bus and awaits
    ``session.run(stop)``. Quitting sets ``stop``: the session stops notifications, disconnects and flushes its
    recording, the factory tears down what it built, and then the app exits with the session's status. A
    second ``q`` (or a timeout) exits at once.

How it draws
    A timer at ``ui.redraw_hz`` (at most 15 Hz, whatever the sample rate) drains the subscription, folds every
    item into :class:`~posturebuddy.ui.view.DashboardView` (the only state the UI keeps), posts a Textual
    message for each discrete fact the screens react to (:mod:`posturebuddy.ui.messages`), and redraws the
    screens from the view. Samples and engine snapshots never become messages.

Errors
    Anything that goes wrong in the session (no Bluetooth, a link error, a crash in the simulator) is shown as
    one sentence on the dashboard; the dashboard itself stays up until the user quits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.worker import Worker

from posturebuddy.config import Settings, config_path, recordings_dir
from posturebuddy.devices import NudgePattern
from posturebuddy.link.errors import explain
from posturebuddy.model import ConnectionState, ConnectionStateChanged, PromptKind, PromptOutcome
from posturebuddy.posture.events import BreakCredited, PromptAnswered, PromptRaised
from posturebuddy.posture.settings import DetectorSettings
from posturebuddy.session.bus import Subscription
from posturebuddy.session.engine import CalibrationChanged, TagSlipSuspected, engine_settings
from posturebuddy.session.live import is_droppable
from posturebuddy.session.replay import ReplayRestarted
from posturebuddy.ui.messages import (
    CalibrationFinished,
    CalibrationRequested,
    ConnectionChanged,
    LeanFinished,
    PromptAnswerChosen,
    PromptClosed,
    PromptOpened,
    SessionEnded,
    SessionFailed,
    SessionStarted,
    TagSlipped,
)
from posturebuddy.ui.notify import DesktopNotifications
from posturebuddy.ui.screens.calibration import CalibrationScreen
from posturebuddy.ui.screens.dashboard import DashboardScreen
from posturebuddy.ui.screens.history import HistoryScreen
from posturebuddy.ui.screens.info import HelpScreen, SettingsScreen
from posturebuddy.ui.screens.prompt import TITLES, PromptScreen
from posturebuddy.ui.screens.replay import LIVE_ONLY, REPLAY_BINDINGS, REPLAY_KEYS_HELP, ReplayScreen
from posturebuddy.ui.screens.tags import TagPickerScreen
from posturebuddy.ui.session import DashboardSession, ReplayControls, SessionFactory
from posturebuddy.ui.view import DashboardView, FlexionTimeline
from posturebuddy.ui.widgets.posture import Thresholds

log = logging.getLogger(__name__)

UI_QUEUE_SIZE = 4096
"""The dashboard's subscription: droppable items (samples, snapshots) beyond this are dropped, oldest first."""
MAX_REDRAW_HZ = 15.0
TIMELINE_BUCKET_S = 5.0
SHUTDOWN_TIMEOUT_S = 10.0
THEMES = {"dark": "textual-dark", "light": "textual-light"}
DASHBOARD_ONLY = frozenset({"calibrate", "pick_tag", "history", "settings", "help"})
"""Actions that open a screen: only from the dashboard itself (one modal at a time, prompts on top)."""

AUTO_WORDS = {
    PromptKind.SIT_TALL: "Nice: you are sitting tall again.",
    PromptKind.BREAK: "Break counted: the sitting clock starts again.",
    PromptKind.CHIN_TUCK: "Prompt completed.",
}


def thresholds_of(detector: DetectorSettings) -> Thresholds:
    """The gauge's thresholds from the detector's settings."""
    return Thresholds(detector.forward_head_deg, detector.slouch_deg, detector.lean_back_deg)


def session_error_text(exc: BaseException) -> str:
    """One sentence for a session that could not start or crashed."""
    return explain(exc)


class PostureBuddyApp(App[None]):
    """The dashboard (see the module docstring)."""

    CSS_PATH = "app.tcss"
    TITLE = "PostureBuddy"
    ACCEL_HINT_DELAY_S = 2.0
    """Wall seconds after the tag first streams before checking for an accelerometer calibration (the live session
    applies a stored one when the tag's first packets arrive, which may come just after the link says streaming)."""
    BINDINGS: ClassVar[list[BindingType]] = [
        *REPLAY_BINDINGS,  # (disabled unless replaying: see check_action)
        Binding("q", "quit", "Quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("c", "calibrate", "Calibrate"),
        Binding("m", "toggle_quiet", "Quiet"),
        Binding("n", "nudge", "Nudge"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("p", "pick_tag", "Tags"),
        Binding("y", "history", "History"),
        Binding("o", "settings", "Settings"),
        Binding("t", "toggle_theme", "Theme", show=False),
    ]
    KEYS_HELP: ClassVar[list[tuple[str, str]]] = [
        ("q", "quit (stops the session cleanly: disconnects and saves the recording)"),
        ("c", "calibrate: sit upright and keep still"),
        ("m", "quiet mode on/off (keeps tracking, no prompts)"),
        ("n", "nudge the tag (buzz, beep or flash, if it can)"),
        ("?", "this help"),
        ("p", "pick your tag (scan, remember it in the config)"),
        ("y", "history (recordings)"),
        ("o", "settings"),
        ("t", "light or dark theme"),
        ("ctrl+p", "command palette"),
    ]

    def __init__(
        self,
        session_factory: SessionFactory,
        settings: Settings,
        *,
        label: str = "",
        config_file: Path | None = None,
        wall_clock: Callable[[], float] = time.monotonic,
        guide_get_ready_s: float = 5.0,
        can_write_config: bool = True,
        shutdown_timeout_s: float = SHUTDOWN_TIMEOUT_S,
        duration_s: float | None = None,
        replay: ReplayControls | None = None,
    ) -> None:
        super().__init__()
        self.duration_s = duration_s
        self.replay = replay
        self.session_factory = session_factory
        self.settings = settings
        self.label = label
        self.config_file = config_file or config_path()
        self.wall_clock = wall_clock
        self.guide_get_ready_s = guide_get_ready_s
        self.can_write_config = can_write_config
        self.shutdown_timeout_s = shutdown_timeout_s
        self.view = DashboardView(timeline=FlexionTimeline(TIMELINE_BUCKET_S))
        self.thresholds = thresholds_of(
            DetectorSettings(
                forward_head_deg=settings.detection.forward_head_deg,
                slouch_deg=settings.detection.slouch_deg,
                lean_back_deg=settings.detection.lean_back_deg,
            )
        )
        self.quiet = settings.coach.quiet
        self.session: DashboardSession | None = None
        self.subscription: Subscription | None = None
        self.notifications = DesktopNotifications(settings.ui.desktop_notifications)
        self.redraw_hz = min(MAX_REDRAW_HZ, max(1.0, settings.ui.redraw_hz))
        self.redraws = 0
        self.redraw_time_s = 0.0
        self.items_seen = 0
        self.status = 0
        self.stopping = False
        self.session_done = False
        self._stop = asyncio.Event()
        self._session_worker: Worker[None] | None = None
        self._was_streaming = False
        self._dashboard = (
            DashboardScreen(self.thresholds, bucket_s=TIMELINE_BUCKET_S, label=label)
            if replay is None
            else ReplayScreen(self.thresholds, bucket_s=TIMELINE_BUCKET_S, label=label, controls=replay)
        )

    # ------------------------------------------------------------------ lifecycle

    def get_default_screen(self) -> Screen[None]:
        """The dashboard is the bottom of the screen stack."""
        return self._dashboard

    @property
    def dashboard(self) -> DashboardScreen:
        """The main screen."""
        return self._dashboard

    def on_mount(self) -> None:
        """Theme, redraw timer, the session worker, SIGTERM."""
        self.theme = THEMES.get(self.settings.ui.theme, "textual-dark")
        self.set_interval(1.0 / self.redraw_hz, self.redraw, name="redraw")
        self._session_worker = self.run_worker(
            self._run_session(), name="session", group="session", exclusive=True, exit_on_error=False
        )
        if self.duration_s is not None:
            self.set_timer(self.duration_s, lambda: self.call_next(self.action_quit), name="duration")
        if self.notifications.problem:
            self.notify(self.notifications.problem, severity="warning", timeout=8)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, lambda: self.call_next(self.action_quit))

    async def _run_session(self) -> None:
        status, error = 0, None
        try:
            async with self.session_factory() as session:
                self.session = session
                self.subscription = session.bus.subscribe("dashboard", maxsize=UI_QUEUE_SIZE, droppable=is_droppable)
                self.thresholds = thresholds_of(session.engine.settings.detector)
                if self.quiet != self.settings.coach.quiet:
                    session.set_quiet(self.quiet)
                self.post_message(SessionStarted(self.label))
                status = await session.run(self._stop)
                error = session.error
        except Exception as exc:
            log.exception("the session failed")
            self.post_message(SessionFailed(session_error_text(exc)))
            return
        self.post_message(SessionEnded(status, error))

    async def action_quit(self) -> None:
        """Stop the session cleanly, then exit (a second q exits at once)."""
        worker = self._session_worker
        if self.stopping or self.session_done or worker is None or worker.is_finished:
            self.exit(return_code=self.status)
            return
        self.stopping = True
        self._stop.set()
        self.dashboard.set_notice("Stopping: disconnecting from the tag and saving the recording...")
        self.set_timer(self.shutdown_timeout_s, self._force_exit)

    def _force_exit(self) -> None:
        log.warning("the session did not stop within %.0f s; exiting anyway", self.shutdown_timeout_s)
        self.exit(return_code=self.status or 1)

    # ------------------------------------------------------------------ the redraw tick

    def redraw(self) -> None:
        """Drain the stream, fold it into the view, post messages for discrete facts, redraw the screens."""
        t0 = time.perf_counter()
        subscription = self.subscription
        if subscription is not None:
            items = subscription.drain()
            self.items_seen += len(items)
            for item in items:
                try:
                    self.view.take(item)
                    self._react(item)
                except Exception:
                    log.exception("the dashboard could not show %r", item)
        session = self.session
        if session is not None:
            found = session.link.found
            if found is not None:
                self.view.link.rssi_dbm = found.info.rssi_dbm
                if not self.view.link.name:
                    self.view.link.name = found.info.name
        with contextlib.suppress(NoMatches):  # screens being torn down (on exit) have no widgets left to draw
            for screen in self.screen_stack:
                if isinstance(screen, DashboardScreen):
                    screen.show_view(self.view, thresholds=self.thresholds, quiet=self.quiet)
                elif isinstance(screen, PromptScreen | CalibrationScreen):
                    screen.show_view(self.view)
                elif isinstance(screen, SettingsScreen):
                    screen.show_toggles(quiet=self.quiet, theme=self.theme)
        self.redraws += 1
        self.redraw_time_s += time.perf_counter() - t0

    def _react(self, item: object) -> None:
        if isinstance(item, ConnectionStateChanged):
            self.post_message(ConnectionChanged(item.state, item.detail))
        elif isinstance(item, PromptRaised):
            self.post_message(PromptOpened(item.prompt))
        elif isinstance(item, PromptAnswered):
            self.post_message(PromptClosed(item.prompt_id, item.kind, item.outcome))
        elif isinstance(item, CalibrationChanged):
            ref = item.reference
            self.post_message(CalibrationFinished(item.how, ref.spread_deg, ref.duration_s, item.near))
        elif isinstance(item, TagSlipSuspected):
            self.post_message(TagSlipped(item.relearning))
        elif isinstance(item, BreakCredited) and not item.prompted:
            self.notify("Break counted: the sitting clock starts again.", timeout=4)
        elif isinstance(item, ReplayRestarted):
            self._replay_restarted()

    def _replay_restarted(self) -> None:
        """A replay went back to its start: fold the stream into a fresh view (the link part stays), and close the
        prompt on screen once the messages posted before this one are handled (in order, as prompts open)."""
        self.view = DashboardView(timeline=FlexionTimeline(TIMELINE_BUCKET_S), link=self.view.link)

        def close_prompt() -> None:
            if isinstance(self.screen, PromptScreen):
                self.screen.dismiss()

        self.call_next(close_prompt)

    def _live_only(self, action: str) -> bool:
        """In a replay, say why ``action`` needs a live session and return True."""
        if self.replay is None:
            return False
        self.notify(LIVE_ONLY.get(action, "Not in a replay."), severity="warning", timeout=5)
        return True

    # ------------------------------------------------------------------ messages

    def on_session_started(self, message: SessionStarted) -> None:
        """The session is up: the dashboard's thresholds come from its engine."""
        self.dashboard.set_notice("")

    def on_session_failed(self, message: SessionFailed) -> None:
        """Show the one-sentence error; the dashboard stays until the user quits."""
        self.session_done = True
        self.status = 1
        if self.stopping:
            self.exit(return_code=1)
            return
        self.dashboard.set_notice(f"{message.error}  (q quits)")
        self.notify(message.error, severity="error", timeout=10)

    def on_session_ended(self, message: SessionEnded) -> None:
        """Exit if the user asked to; otherwise say why the session stopped."""
        self.session_done = True
        self.status = message.status
        self.redraw()
        if self.stopping:
            self.exit(return_code=message.status)
            return
        why = message.error or "the link closed"
        self.dashboard.set_notice(f"The session stopped: {why}  (q quits)")
        self.notify(why, severity="error", timeout=10)

    def on_connection_changed(self, message: ConnectionChanged) -> None:
        """Say so when the tag is lost and when it is back."""
        if message.state is ConnectionState.STREAMING:
            if self._was_streaming:
                self.notify("Reconnected to the tag.", timeout=4)
            elif self.replay is None:
                self.set_timer(self.ACCEL_HINT_DELAY_S, self._hint_accel_calibration)
            self._was_streaming = True
            if not self.session_done and not self.stopping:
                self.dashboard.set_notice("")
        elif message.state is ConnectionState.RECONNECTING and not self.stopping:
            if self.view.link.state is ConnectionState.RECONNECTING and self._was_streaming:
                self.dashboard.set_notice(f"Lost the tag: {message.detail or 'reconnecting'}")
            else:
                self.dashboard.set_notice(message.detail)

    def _hint_accel_calibration(self) -> None:
        """Once per run: an accelerometer-only tag without a six-face calibration reads angles a few % off."""
        session = self.session
        if session is None or self.stopping:
            return
        family = session.link.family
        if family is None:
            return
        caps = family.capabilities
        if not caps.accel or caps.gyro or caps.quaternion:
            return
        if session.engine.settings.orientation.accel_calibration is not None:
            return
        self.notify(
            "This tag measures tilt with its accelerometer alone: angles may read a few % off until you run "
            "'posturebuddy calibrate --accel' once (the tag laid on each of its six faces).",
            severity="warning",
            timeout=12,
        )

    def on_prompt_opened(self, message: PromptOpened) -> None:
        """Show the prompt; ring the bell, notify the desktop, nudge the tag (each once per prompt)."""
        prompt = message.prompt
        for screen in self.screen_stack:
            if isinstance(screen, PromptScreen) and screen is self.screen:
                screen.dismiss()
        self.push_screen(PromptScreen(prompt, wall_clock=self.wall_clock, guide_get_ready_s=self.guide_get_ready_s))
        if self.settings.ui.bell:
            self.bell()
        if self.notifications.available:
            self.run_worker(
                self.notifications.send(TITLES.get(prompt.kind, "PostureBuddy"), prompt.reason),
                group="notify",
                exit_on_error=False,
            )
        if prompt.nudge:
            self._nudge(NudgePattern.GENTLE, quiet=True)

    def on_prompt_closed(self, message: PromptClosed) -> None:
        """Close the prompt screen (unless a guided set is running); a word when the tag completed it."""
        for screen in self.screen_stack:
            if isinstance(screen, PromptScreen) and screen.prompt.prompt_id == message.prompt_id:
                screen.prompt_closed(message.outcome)
        if message.outcome is PromptOutcome.AUTO_COMPLETED:
            self.notify(AUTO_WORDS.get(message.kind, "Done."), timeout=4)

    @on(PromptAnswerChosen)
    def answer_prompt(self, message: PromptAnswerChosen) -> None:
        """Pass the wearer's answer to the session."""
        if self.session is not None:
            self.session.answer(message.prompt_id, message.outcome)

    @on(CalibrationRequested)
    def start_calibration(self, message: CalibrationRequested) -> None:
        """Start an upright capture."""
        if self.session is not None:
            self.session.calibrate()

    def on_lean_finished(self, message: LeanFinished) -> None:
        """The wizard's lean step: use (and remember) the reference with the wearer's own forward direction."""
        if self.session is not None:
            self.session.use_reference(message.reference, "wizard (lean)")

    def on_calibration_finished(self, message: CalibrationFinished) -> None:
        """An automatic capture is worth a word (the wizard shows its own result)."""
        if message.how == "auto capture" and self.replay is None:
            if message.near:
                self.notify(
                    "Fine-tuned your upright posture to where the tag sits now. Press c to recalibrate any time.",
                    timeout=5,
                )
            else:
                self.notify("Learned your upright posture. Press c to recalibrate any time.", timeout=5)
        elif message.how == "stored":
            self.notify("Using your remembered upright posture for this tag. Press c to recalibrate.", timeout=5)

    def on_tag_slipped(self, message: TagSlipped) -> None:
        """Say that the upright is being learned again, or suggest recalibrating."""
        if message.relearning:
            self.notify(
                "The tag sits differently on your back now: learning your upright posture again from your next "
                "few seconds of still sitting. Sit tall, or press c to calibrate it yourself.",
                severity="warning",
                timeout=10,
            )
        else:
            self.notify("The tag may have moved on your back: press c to recalibrate.", severity="warning", timeout=8)

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Screen-opening actions only from the dashboard; a replay's keys only in a replay, under a prompt too."""
        if action == "replay":
            return self.replay is not None and (self.screen is self.dashboard or isinstance(self.screen, PromptScreen))
        if action in DASHBOARD_ONLY or action == "nudge":
            return self.screen is self.dashboard
        if action in {"toggle_quiet", "toggle_theme"}:
            return self.screen is self.dashboard or isinstance(self.screen, SettingsScreen)
        return True

    def action_replay(self, command: str, value: float = 0.0) -> None:
        """A replay's key (see :data:`~posturebuddy.ui.screens.replay.REPLAY_BINDINGS`)."""
        if isinstance(self.dashboard, ReplayScreen):
            self.dashboard.control(command, value)

    def action_calibrate(self) -> None:
        """Open the calibration wizard."""
        if self._live_only("calibrate"):
            return
        self.push_screen(CalibrationScreen())

    def action_toggle_quiet(self) -> None:
        """Quiet mode on/off."""
        if self._live_only("toggle_quiet"):
            return
        self.set_quiet(not self.quiet)

    def set_quiet(self, quiet: bool) -> None:
        """Quiet mode: keep tracking, no prompts."""
        self.quiet = quiet
        if self.session is not None:
            self.session.set_quiet(quiet)
        self.notify("Quiet mode on: tracking goes on, no prompts." if quiet else "Quiet mode off.", timeout=3)

    def action_toggle_theme(self) -> None:
        """Light or dark."""
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def action_help(self) -> None:
        """Keys, exercises, red flags."""
        self.push_screen(HelpScreen(self.KEYS_HELP if self.replay is None else REPLAY_KEYS_HELP))

    def action_pick_tag(self) -> None:
        """Scan for tags and pick one."""
        if self._live_only("pick_tag"):
            return
        if self.session is None:
            self.notify("The session is not running, so there is nothing to scan with.", severity="warning")
            return
        self.push_screen(
            TagPickerScreen(
                self.session.link.backend,
                self.config_file,
                current=self.view.link.address,
                can_write=self.can_write_config,
            )
        )

    def action_history(self) -> None:
        """Recordings so far."""
        self.push_screen(HistoryScreen(recordings_dir(self.settings), settings=engine_settings(self.settings)))

    def action_settings(self) -> None:
        """The effective settings."""
        screen = SettingsScreen(self.settings, source=str(self.config_file))
        self.push_screen(screen)
        self.call_after_refresh(lambda: screen.show_toggles(quiet=self.quiet, theme=self.theme))

    def action_nudge(self) -> None:
        """Buzz/beep/flash the tag."""
        if self._live_only("nudge"):
            return
        self._nudge(NudgePattern.IDENTIFY, quiet=False)

    @work(group="nudge", exit_on_error=False)
    async def _nudge(self, pattern: NudgePattern, *, quiet: bool) -> None:
        session = self.session
        if session is None:
            return
        try:
            ok = await session.nudge(pattern)
        except Exception as exc:  # noqa: BLE001 (a failed write is a message, never a crash)
            ok = False
            log.warning("nudge failed: %s", exc)
        if quiet:
            return
        family = session.link.family
        if ok:
            self.notify("Sent a nudge to the tag.", timeout=3)
        elif family is not None and not family.nudge_commands(pattern):
            self.notify("This tag cannot buzz, beep or flash.", severity="warning", timeout=4)
        else:
            self.notify("Could not nudge the tag (not connected?).", severity="warning", timeout=4)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """The command palette: ours first, then Textual's."""
        yield SystemCommand(
            "Calibrate", "Sit upright and keep still: learn your upright posture", self.action_calibrate
        )
        yield SystemCommand("Quiet mode", "Turn prompts off or on (tracking goes on)", self.action_toggle_quiet)
        yield SystemCommand("Toggle theme", "Switch between the light and the dark theme", self.action_toggle_theme)
        yield SystemCommand("Help", "Keys, exercises, red flags", self.action_help)
        yield SystemCommand("Nudge the tag", "Buzz, beep or flash the tag, if it can", self.action_nudge)
        yield SystemCommand("Pick a tag", "Scan for tags and remember one in the config", self.action_pick_tag)
        yield SystemCommand("History", "Recordings of past sessions", self.action_history)
        yield SystemCommand("Settings", "The effective settings", self.action_settings)
        yield from super().get_system_commands(screen)


def make_app(
    session_factory: SessionFactory,
    settings: Settings,
    *,
    label: str = "",
    config_file: Path | None = None,
    wall_clock: Callable[[], float] = time.monotonic,
    guide_get_ready_s: float = 5.0,
    can_write_config: bool = True,
    duration_s: float | None = None,
    replay: ReplayControls | None = None,
) -> PostureBuddyApp:
    """The dashboard over the session ``session_factory`` makes (used by the CLI and by the tests).

    Args:
        session_factory: makes the session inside the app's loop (see :mod:`posturebuddy.ui.session`).
        settings: the effective settings (theme, bell, notifications, redraw rate; thresholds until the session
            is up).
        label: shown in the link bar ("demo: slouchy_afternoon x20", "live: C4:...").
        config_file: where the tag picker remembers a tag (default: the config path in effect).
        wall_clock: the clock guided sets run on (tests pass a fake one).
        guide_get_ready_s: seconds to get into position before a guided set's first repetition.
        can_write_config: the tag picker may write the config (not for the demo's virtual tag).
        duration_s: quit by itself after this many wall seconds (``None``: until the user quits).
        replay: the session is a replay with these controls: the dashboard gets a replay bar and its keys
            (:mod:`posturebuddy.ui.screens.replay`), and the actions that need a live tag say why they cannot.
    """
    return PostureBuddyApp(
        session_factory,
        settings,
        label=label,
        config_file=config_file,
        wall_clock=wall_clock,
        guide_get_ready_s=guide_get_ready_s,
        can_write_config=can_write_config,
        duration_s=duration_s,
        replay=replay,
    )
