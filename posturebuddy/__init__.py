"""PostureBuddy: a posture and break coach for a BLE motion tag worn on the upper back.

The package is layered (see ``docs/architecture.md``): ``model`` holds plain data, ``devices``,
``motion`` and ``posture`` are pure computation, ``link`` talks Bluetooth through bleak,
``session`` wires everything and stores it, ``ui`` is the Textual dashboard on top.
Importing this package imports nothing heavy.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
