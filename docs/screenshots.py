"""Redraw the dashboard pictures in docs/img/ from `sentinel demo`'s data.

    python docs/screenshots.py            # runs the demo in a throwaway home first
    SENTINEL_HOME=~/.sentinel python docs/screenshots.py --no-demo

Each view at 120×40, driven headlessly through textual's Pilot, and the
detail of the newest critical threshold detection (its series chart)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from sentinel.db import embedded
from sentinel.db.connect import database_url
from sentinel.settings import Settings
from sentinel.tui.app import SentinelApp
from sentinel.tui.screens.detail import DetailScreen

IMG = Path(__file__).resolve().parent / "img"
SIZE = (120, 40)
VIEWS = {"1": "fleet", "2": "runs", "3": "streams", "4": "recommendations", "5": "detections"}


async def _until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 15.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise TimeoutError("the dashboard did not get there")


async def shoot(url: str) -> None:
    app = SentinelApp(url, label="postgresql://sentinel:***@db/sentinel", listen=False)
    async with app.run_test(size=SIZE) as pilot:
        await _until(pilot, lambda: app.refreshes > 0)
        for key, name in VIEWS.items():
            await pilot.press(key)
            await _until(pilot, lambda: app.view in app.rows)
            await pilot.pause(0.3)  # let the table measure its columns
            app.save_screenshot(f"tui-{name}.svg", path=str(IMG))
        await pilot.press("5", "slash")
        await pilot.press(*"threshold", "enter")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await _until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await _until(pilot, lambda: app.screen.detail is not None)
        await pilot.pause(0.3)
        app.save_screenshot("tui-detail.svg", path=str(IMG))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-demo", action="store_true", help="use SENTINEL_HOME's data as it is")
    args = parser.parse_args()
    if args.no_demo:
        asyncio.run(shoot(database_url(Settings())))
    else:
        home = Path(tempfile.mkdtemp(prefix="sentinel-shots-"))
        os.environ["SENTINEL_HOME"] = str(home)
        try:
            subprocess.run([sys.executable, "-m", "sentinel", "demo"], check=True)
            asyncio.run(shoot(database_url(Settings())))
        finally:
            embedded.stop_server(home)
            shutil.rmtree(home, ignore_errors=True)
    print(f"wrote {', '.join(sorted(p.name for p in IMG.glob('tui-*.svg')))}")


if __name__ == "__main__":
    main()
