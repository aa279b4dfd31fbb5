"""Desktop notifications, so a prompt is noticed when the terminal is behind other windows.

Optional: needs the ``desktop-notifier`` package (the ``notify`` extra). It is imported lazily, the first time
notifications are enabled; if it is absent, or the desktop has no notification service, notifications are
skipped with one log line and the dashboard goes on (the terminal bell still rings if enabled).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class DesktopNotifications:
    """Sends desktop notifications if enabled and available."""

    def __init__(self, enabled: bool, *, app_name: str = "PostureBuddy") -> None:
        self.enabled = enabled
        self.app_name = app_name
        self.problem: str | None = None
        self._notifier: Any = None
        if enabled:
            self._notifier = self._load()

    def _load(self) -> Any:
        try:
            from desktop_notifier import DesktopNotifier  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            self.problem = "desktop notifications need the 'notify' extra: pip install 'posturebuddy[notify]'"
            log.info("%s", self.problem)
            return None
        try:
            return DesktopNotifier(app_name=self.app_name)
        except Exception as exc:  # noqa: BLE001 (no notification service: the dashboard goes on)
            self.problem = f"desktop notifications unavailable: {exc}"
            log.info("%s", self.problem)
            return None

    @property
    def available(self) -> bool:
        """Notifications will be sent."""
        return self._notifier is not None

    async def send(self, title: str, message: str) -> bool:
        """Show one notification; False if disabled, unavailable or it failed (logged once)."""
        notifier = self._notifier
        if notifier is None:
            return False
        try:
            await notifier.send(title=title, message=message)
        except Exception as exc:  # noqa: BLE001 (a failing notification service must not stop the dashboard)
            self.problem = f"desktop notification failed: {exc}"
            log.warning("%s; desktop notifications are off for this session", self.problem)
            self._notifier = None
            return False
        return True
