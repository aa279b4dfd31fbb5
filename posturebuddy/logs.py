"""Logging setup: a terse stderr handler for the user and a rotating file for bug reports.

``-v`` shows INFO on stderr, ``-vv`` DEBUG; ``-vvv`` also lets the bumble simulator stack log at DEBUG
(it is very chatty: about 11 records per notification, see shared/research/bumble_bleak_backend.md).
The log file (``posturebuddy config path`` shows where) always gets INFO and above, DEBUG with ``-vv``.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_FILE_BYTES = 2_000_000
LOG_FILE_BACKUPS = 3

# Third-party loggers that flood at DEBUG and whose WARNINGs are enough for us.
NOISY_LOGGERS = ("bumble", "bleak", "bleak_retry_connector", "asyncio")


def setup_logging(verbosity: int = 0, log_file: Path | None = None) -> Path | None:
    """Configure the root logger; returns the log file actually used (None if it could not be opened).

    Args:
        verbosity: 0 = warnings, 1 = info, 2 = debug, 3 = debug including the BLE stack.
        log_file: where to keep a rotating log; ``None`` disables the file.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)

    console = logging.StreamHandler()
    console.setLevel({0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG))
    console.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    root.addHandler(console)

    used: Path | None = None
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            file_handler = logging.handlers.RotatingFileHandler(
                log_file, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
            )
        except OSError as exc:
            logging.getLogger(__name__).warning("cannot write the log file %s: %s", log_file, exc)
        else:
            file_handler.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
            file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
            root.addHandler(file_handler)
            used = log_file

    noisy_level = logging.DEBUG if verbosity >= 3 else logging.WARNING
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(noisy_level)
    if verbosity < 3:
        # bumble warns about races that are normal at teardown ("received notification with no subscriber",
        # "no connection for handle"; shared/research/bumble_bleak_backend.md pitfall 3): errors only.
        logging.getLogger("bumble").setLevel(logging.ERROR)
    return used
