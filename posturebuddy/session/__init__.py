"""Session layer: pipeline wiring, event stream, recording, replay, history, analysis and export.

Importing this package imports nothing: each module is imported where it is used, so that, for example,
``posturebuddy.session.recording`` stays usable from scripts without pulling in asyncio or Textual.
"""

from __future__ import annotations
