"""Settings: a TOML file in the user's config directory, validated, with a default for every key.

The file is optional. Every key has a default; a file only needs the keys a user wants to change::

    [detection]
    dwell_s = 45

    [breaks]
    sitting_limit_min = 50

A bad file or value fails with one line that names the key, the bad value and what is allowed, e.g.
``detection.dwell_s = "soon" is not allowed: expected a number of seconds from 5 to 3600``.

Where the file lives: ``posturebuddy config path`` prints it (``$XDG_CONFIG_HOME/posturebuddy/config.toml`` on
Linux by default, via platformdirs); ``--config FILE`` or the ``POSTUREBUDDY_CONFIG`` environment variable
choose another. Defaults and their sources are documented next to each field below and in ``docs/config.md``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import platformdirs

APP_NAME = "posturebuddy"
CONFIG_ENV = "POSTUREBUDDY_CONFIG"


class ConfigError(ValueError):
    """A config file or value is invalid. ``str(error)`` is one line a user can act on."""


@dataclass(frozen=True, slots=True)
class Spec:
    """Validation and documentation for one setting.

    Attributes:
        help: one sentence for ``config show`` and the docs.
        unit: what a number means ("seconds", "degrees"); used in error messages.
        minimum: smallest allowed number (inclusive).
        maximum: largest allowed number (inclusive).
        choices: allowed strings.
        pattern: regular expression a string must match in full (with ``pattern_help`` saying it in words).
        pattern_help: human description of ``pattern``.
    """

    help: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None
    pattern_help: str = ""


def setting(default: Any, spec: Spec) -> Any:
    """A dataclass field with a default and its :class:`Spec` in the metadata."""
    return field(default=default, metadata={"spec": spec})


_HHMM_RANGE = r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d"


@dataclass(frozen=True, slots=True)
class TagSettings:
    """Which tag to use."""

    SECTION: ClassVar[str] = "tag"

    address: str = setting(
        "",
        Spec(
            "Bluetooth address of your tag. Once set, other tags of the same model are ignored. "
            "Empty: use the first supported tag found (posturebuddy scan lists them)."
        ),
    )
    family: str = setting(
        "auto",
        Spec(
            "Tag family, or auto to recognise it from its advertisement.",
            choices=("auto", "posturebuddy", "thingy52", "witmotion", "sensortag", "microbit"),
        ),
    )
    sample_rate_hz: float = setting(
        50.0,
        Spec(
            "Sample rate to ask the tag for; the nearest rate the tag supports is used.",
            unit="Hz",
            minimum=1,
            maximum=200,
        ),
    )


@dataclass(frozen=True, slots=True)
class DetectionSettings:
    """When a posture counts as slouching or forward head.

    Angles are tilts of the upper back away from *your* calibrated upright posture. Defaults come from the
    range used by comparable products and studies (shared/research/anchors.md): 3-10 degrees for trunk
    trainers (microposture 3, Anuar-Bis 8 enter / 5 exit, Lean app 10) and a dwell of seconds to minutes
    (UPRIGHT GO ~5 s, OpenEarable and Park & Jung 10 s, Lumo recommends 2 min). We pick a longer dwell than
    trainers do because false alarms are the first reason people give up on them.
    """

    SECTION: ClassVar[str] = "detection"

    forward_head_deg: float = setting(
        8.0,
        Spec("Forward tilt at the tag that counts as forward head posture.", unit="degrees", minimum=2, maximum=45),
    )
    slouch_deg: float = setting(
        15.0,
        Spec(
            "Forward tilt at the tag that counts as slouching (must exceed forward_head_deg).",
            unit="degrees",
            minimum=4,
            maximum=60,
        ),
    )
    lean_back_deg: float = setting(
        8.0,
        Spec(
            "Backward tilt that counts as leaning back in the chair (never alerted).",
            unit="degrees",
            minimum=2,
            maximum=60,
        ),
    )
    side_lean_deg: float = setting(
        12.0,
        Spec("Sideways tilt that counts as leaning to one side.", unit="degrees", minimum=3, maximum=60),
    )
    hysteresis_deg: float = setting(
        3.0,
        Spec(
            "How far back past a threshold you must come before a posture ends (stops flicker at the edge).",
            unit="degrees",
            minimum=0,
            maximum=15,
        ),
    )
    dwell_s: float = setting(
        30.0,
        Spec("How long a posture must last before it counts as an episode.", unit="seconds", minimum=5, maximum=3600),
    )
    exit_s: float = setting(
        3.0,
        Spec("How long you must be back upright before an episode ends.", unit="seconds", minimum=0, maximum=120),
    )


@dataclass(frozen=True, slots=True)
class CoachSettings:
    """How and how often PostureBuddy prompts."""

    SECTION: ClassVar[str] = "coach"

    min_prompt_interval_min: float = setting(
        10.0,
        Spec("Least time between two posture prompts, so it never nags.", unit="minutes", minimum=1, maximum=240),
    )
    snooze_min: float = setting(
        10.0,
        Spec("How long Snooze silences posture prompts.", unit="minutes", minimum=1, maximum=240),
    )
    nudge_tag: bool = setting(True, Spec("Also buzz, beep or flash the tag when it can."))
    quiet: bool = setting(False, Spec("Quiet mode: keep tracking and recording, but show no prompts."))
    working_hours: str = setting(
        "",
        Spec(
            "Prompt only within these hours, e.g. 09:00-17:30. Empty: any time.",
            pattern=rf"({_HHMM_RANGE})?",
            pattern_help="HH:MM-HH:MM in 24-hour time, or empty",
        ),
    )
    chin_tuck_reps: int = setting(
        8,
        Spec("Repetitions in a guided chin-tuck set.", unit="repetitions", minimum=1, maximum=20),
    )
    chin_tuck_hold_s: float = setting(
        5.0,
        Spec(
            "Hold per chin tuck. Clinic programmes build up to 10 s holds (shared/research/anchors.md [C1]).",
            unit="seconds",
            minimum=1,
            maximum=15,
        ),
    )


@dataclass(frozen=True, slots=True)
class BreakSettings:
    """Break prompts after long unbroken sitting, credited only when the tag sees you stand and walk."""

    SECTION: ClassVar[str] = "breaks"

    enabled: bool = setting(True, Spec("Prompt for breaks."))
    sitting_limit_min: float = setting(
        45.0,
        Spec(
            "Unbroken sitting before a break prompt (Workrave's rest break default is every 45 min).",
            unit="minutes",
            minimum=5,
            maximum=240,
        ),
    )
    min_break_s: float = setting(
        60.0,
        Spec(
            "Time up on your feet (standing or walking) that counts as a break.",
            unit="seconds",
            minimum=10,
            maximum=1800,
        ),
    )
    snooze_min: float = setting(
        5.0,
        Spec("How long Snooze postpones a break prompt.", unit="minutes", minimum=1, maximum=60),
    )


@dataclass(frozen=True, slots=True)
class RecordingSettings:
    """What is kept on disk."""

    SECTION: ClassVar[str] = "recording"

    enabled: bool = setting(True, Spec("Record every session (raw tag data and events) for replay and history."))
    retention_days: int = setting(
        30,
        Spec(
            "Days to keep raw tag data; per-minute summaries, episodes and prompts are kept forever.",
            unit="days",
            minimum=1,
            maximum=3650,
        ),
    )
    directory: str = setting(
        "",
        Spec("Where recordings go. Empty: the user data directory (posturebuddy config path shows it)."),
    )


@dataclass(frozen=True, slots=True)
class UiSettings:
    """The terminal dashboard."""

    SECTION: ClassVar[str] = "ui"

    theme: str = setting("dark", Spec("Colour theme.", choices=("dark", "light")))
    bell: bool = setting(True, Spec("Ring the terminal bell with a prompt."))
    desktop_notifications: bool = setting(
        False, Spec("Also show prompts as desktop notifications (needs the 'notify' extra).")
    )
    redraw_hz: float = setting(
        10.0, Spec("Dashboard redraw rate, whatever the sample rate.", unit="Hz", minimum=1, maximum=15)
    )


@dataclass(frozen=True, slots=True)
class LinkSettings:
    """Bluetooth connection behaviour."""

    SECTION: ClassVar[str] = "link"

    connect_timeout_s: float = setting(
        20.0, Spec("Give up one connection attempt after this long.", unit="seconds", minimum=2, maximum=120)
    )
    reconnect_max_s: float = setting(
        30.0,
        Spec(
            "Longest wait between reconnection attempts (the wait grows up to this).",
            unit="seconds",
            minimum=1,
            maximum=600,
        ),
    )
    battery_poll_s: float = setting(
        300.0, Spec("How often to read the tag's battery level.", unit="seconds", minimum=10, maximum=3600)
    )
    queue_size: int = setting(
        4096,
        Spec(
            "Notifications buffered between the radio and the engine; the oldest are dropped beyond this.",
            unit="notifications",
            minimum=64,
            maximum=1_000_000,
        ),
    )


SECTIONS: tuple[type[Any], ...] = (
    TagSettings,
    DetectionSettings,
    CoachSettings,
    BreakSettings,
    RecordingSettings,
    UiSettings,
    LinkSettings,
)


@dataclass(frozen=True, slots=True)
class Settings:
    """All settings. Each attribute is one ``[section]`` of the file."""

    tag: TagSettings = field(default_factory=TagSettings)
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    coach: CoachSettings = field(default_factory=CoachSettings)
    breaks: BreakSettings = field(default_factory=BreakSettings)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    ui: UiSettings = field(default_factory=UiSettings)
    link: LinkSettings = field(default_factory=LinkSettings)


# ------------------------------------------------------------------------------------------------ paths


def config_dir() -> Path:
    """The user's config directory for PostureBuddy (platformdirs; XDG on Linux)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The user's data directory: recordings and history live here (platformdirs; XDG on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """The user's log directory (platformdirs; XDG state dir on Linux)."""
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def default_config_path() -> Path:
    """The config file used when neither ``--config`` nor ``$POSTUREBUDDY_CONFIG`` says otherwise."""
    return config_dir() / "config.toml"


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file in effect: ``explicit``, else ``$POSTUREBUDDY_CONFIG``, else the default."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return default_config_path()


def recordings_dir(settings: Settings) -> Path:
    """Where recordings are written for these settings."""
    if settings.recording.directory:
        return Path(settings.recording.directory).expanduser()
    return data_dir() / "recordings"


# ------------------------------------------------------------------------------------------------ loading


def _spec_of(f: dataclasses.Field[Any]) -> Spec:
    spec = f.metadata.get("spec")
    assert isinstance(spec, Spec), f"setting {f.name} has no Spec"
    return spec


def _describe_allowed(f: dataclasses.Field[Any]) -> str:
    spec = _spec_of(f)
    kind: type[Any] = type(f.default)
    if kind is bool:
        return "expected true or false"
    if spec.choices:
        return "expected one of " + ", ".join(f'"{c}"' for c in spec.choices)
    if kind in (int, float):
        what = "a whole number" if kind is int else "a number"
        unit = f" of {spec.unit}" if spec.unit else ""
        if spec.minimum is not None and spec.maximum is not None:
            return f"expected {what}{unit} from {_fmt_num(spec.minimum)} to {_fmt_num(spec.maximum)}"
        return f"expected {what}{unit}"
    if spec.pattern_help:
        return f"expected {spec.pattern_help}"
    return "expected a text string"


def _fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _show_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)):
        return repr(value)
    return f"{json.dumps(value, default=str, ensure_ascii=False)} ({type(value).__name__})"


def _coerce(section: str, f: dataclasses.Field[Any], value: Any) -> Any:
    """Check one value against its field; return it in the field's type or raise ConfigError."""
    spec = _spec_of(f)
    kind: type[Any] = type(f.default)
    key = f"{section}.{f.name}"

    def bad() -> ConfigError:
        return ConfigError(f"{key} = {_show_value(value)} is not allowed: {_describe_allowed(f)}")

    if kind is bool:
        if not isinstance(value, bool):
            raise bad()
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        if kind is int and not (isinstance(value, int) or float(value).is_integer()):
            raise bad()
        number: float = float(value)
        if not math.isfinite(number):
            raise bad()
        if spec.minimum is not None and number < spec.minimum:
            raise bad()
        if spec.maximum is not None and number > spec.maximum:
            raise bad()
        return int(number) if kind is int else number
    # strings
    if not isinstance(value, str):
        raise bad()
    if spec.choices and value not in spec.choices:
        raise bad()
    if spec.pattern is not None and re.fullmatch(spec.pattern, value) is None:
        raise bad()
    return value


def _build_section(cls: type[Any], raw: Any) -> Any:
    section = cls.SECTION
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[{section}] must be a table of settings, not {_show_value(raw)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        f = fields.get(key)
        if f is None:
            allowed = ", ".join(fields)
            raise ConfigError(f"{section}.{key} is not a known setting; [{section}] accepts: {allowed}")
        values[key] = _coerce(section, f, value)
    return cls(**values)


def _check_consistency(settings: Settings) -> None:
    d = settings.detection
    if d.slouch_deg <= d.forward_head_deg:
        raise ConfigError(
            f"detection.slouch_deg = {d.slouch_deg:g} is not allowed: it must be larger than "
            f"detection.forward_head_deg = {d.forward_head_deg:g}"
        )
    if d.hysteresis_deg >= d.forward_head_deg:
        raise ConfigError(
            f"detection.hysteresis_deg = {d.hysteresis_deg:g} is not allowed: it must be smaller than "
            f"detection.forward_head_deg = {d.forward_head_deg:g}"
        )


def settings_from_mapping(data: Mapping[str, Any]) -> Settings:
    """Validate a parsed TOML document (a mapping of sections) into :class:`Settings`."""
    by_section = {cls.SECTION: cls for cls in SECTIONS}
    sections: dict[str, Any] = {}
    for name, raw in data.items():
        cls = by_section.get(name)
        if cls is None:
            allowed = ", ".join(f"[{s}]" for s in by_section)
            raise ConfigError(f"[{name}] is not a known section; the config file accepts: {allowed}")
        sections[name] = _build_section(cls, raw)
    settings = Settings(**sections)
    _check_consistency(settings)
    return settings


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Load the settings in effect (see :func:`config_path`). A missing default file means all defaults.

    Raises:
        ConfigError: the file cannot be read, is not valid TOML, or holds a bad key or value. The message
            starts with the file's path.
    """
    resolved = config_path(path)
    explicit = bool(path) or bool(os.environ.get(CONFIG_ENV))
    try:
        text = resolved.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(
                f"{resolved}: no such config file (run 'posturebuddy config init' to create one)"
            ) from None
        return Settings()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{resolved}: cannot read the config file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{resolved}: not valid TOML: {exc}") from exc
    try:
        return settings_from_mapping(data)
    except ConfigError as exc:
        raise ConfigError(f"{resolved}: {exc}") from None


# ------------------------------------------------------------------------------------------------ output


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, float):
        return repr(value)
    return str(value)


def render_toml(settings: Settings, *, comments: bool = True) -> str:
    """The settings as a TOML document, each key preceded by its help text when ``comments`` is true."""
    lines: list[str] = []
    for cls in SECTIONS:
        section = getattr(settings, cls.SECTION)
        if lines:
            lines.append("")
        if comments and cls.__doc__:
            lines.append(f"# {cls.__doc__.splitlines()[0]}")
        lines.append(f"[{cls.SECTION}]")
        for f in dataclasses.fields(section):
            spec = _spec_of(f)
            if comments:
                extra = _describe_allowed(f).removeprefix("expected ")
                lines.append(f"# {spec.help} ({extra}; default {_toml_value(f.default)})")
            lines.append(f"{f.name} = {_toml_value(getattr(section, f.name))}")
    return "\n".join(lines) + "\n"


def write_default_config(path: Path) -> None:
    """Write a commented config file with every default. Refuses to overwrite an existing file."""
    if path.exists():
        raise ConfigError(f"{path}: already exists; edit it, or delete it first to start again from defaults")
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# PostureBuddy settings. Every key is optional: delete the ones you do not change.\n"
        "# 'posturebuddy config check' validates this file; 'posturebuddy config show' prints what is in effect.\n\n"
    )
    path.write_text(header + render_toml(Settings()), encoding="utf-8")
