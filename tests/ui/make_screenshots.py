"""Save SVG screenshots of the dashboard for the README (not a test: run it by hand).

Run: ``.venv/bin/python tests/ui/make_screenshots.py [--out docs]``

It plays ``slouchy_afternoon`` at 30x through the real demo stack (simulated wearer, virtual tag on bumble, live
session) into the dashboard at 100x30 and saves:

* ``dashboard.svg``: the dashboard a few minutes into the first slouch (gauge, timeline, sitting clock, figures);
* ``prompt.svg``: the first chin-tuck prompt with its guided set running.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from pathlib import Path

from posturebuddy.commands.demo import open_demo_session
from posturebuddy.config import Settings
from posturebuddy.session.engine import engine_settings
from posturebuddy.session.live import LiveSession
from posturebuddy.ui.app import make_app
from posturebuddy.ui.guided import Phase
from posturebuddy.ui.screens.prompt import PromptScreen
from posturebuddy.ui.widgets.guided import GuidedSetView

SIZE = (100, 30)


async def shoot(out: Path, speed: float) -> None:
    settings = Settings()
    engine = engine_settings(settings)

    def factory() -> contextlib.AbstractAsyncContextManager[LiveSession]:
        return open_demo_session(scenario="slouchy_afternoon", speed=speed, engine=engine)

    app = make_app(factory, settings, label=f"demo: slouchy_afternoon x{speed:g}", can_write_config=False)
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + 120
        while not isinstance(app.screen, PromptScreen):
            assert time.monotonic() < deadline, "no prompt"
            await pilot.pause(0.1)
        screen = app.screen
        await pilot.press("enter")
        while True:
            position = screen.query_one("#guide", GuidedSetView).position
            if position is not None and position.phase is Phase.HOLD and position.rep >= 2:
                break
            await pilot.pause(0.1)
        await pilot.pause(0.6)
        print(app.save_screenshot("prompt.svg", str(out)))
        await pilot.press("d")
        start = app.view.t_s or 0.0
        while (app.view.t_s or 0.0) < start + 150:  # a little more of the slouch on the timeline
            await pilot.pause(0.2)
        if app.screen is not app.dashboard:
            await pilot.press("d")
        await pilot.pause(0.5)
        print(app.save_screenshot("dashboard.svg", str(out)))
        await pilot.press("q")
        await pilot.pause(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs"), help="directory (default: %(default)s)")
    parser.add_argument("--speed", type=float, default=30.0, help="simulation speed (default: %(default)s)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    asyncio.run(shoot(args.out, args.speed))


if __name__ == "__main__":
    main()
