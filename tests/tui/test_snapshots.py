"""Screenshots of the main views at 80×24 on a pinned clock (review the
report before `--snapshot-update`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from sentinel.tui.screens.detail import DetailScreen
from tests.tui.conftest import laid_out, make_app, until

SIZE = (80, 24)


def _before(keys: str, detail: bool = False) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        app: Any = pilot.app
        await until(pilot, lambda: app.refreshes > 0)
        for key in keys:
            await pilot.press(key)
            await until(pilot, lambda: app.view in app.rows)
        await until(pilot, lambda: laid_out(app))
        if detail:
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, DetailScreen))
            await until(pilot, lambda: app.screen.detail is not None)

    return run_before


@pytest.mark.parametrize(
    ("keys", "detail"),
    [("", False), ("2", False), ("3", False), ("4", False), ("5", False), ("4", True)],
    ids=["fleet", "runs", "streams", "recommendations", "detections", "detail"],
)
def test_view_snapshot(
    seeded: tuple[str, dict[str, int]], snap_compare: Any, keys: str, detail: bool
) -> None:
    url, _ = seeded
    app = make_app(url, listen=False, interval=3600.0)
    assert snap_compare(app, terminal_size=SIZE, run_before=_before(keys, detail))
