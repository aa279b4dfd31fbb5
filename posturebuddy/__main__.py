"""``python -m posturebuddy`` runs the command line."""

from __future__ import annotations

import sys

from posturebuddy.cli import main

sys.exit(main())
