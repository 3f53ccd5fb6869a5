"""Seeded databases and helpers to drive the dashboard with a Pilot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import psycopg
import pytest
from textual.pilot import Pilot

from sentinel.tui.app import SentinelApp
from sentinel.tui.widgets.fleet import Thresholds
from tests.tui import seed as seeding

LABEL = "postgresql://sentinel:***@db/sentinel"
SIZE = (120, 40)


@pytest.fixture
def seeded(db_url: str) -> Iterator[tuple[str, dict[str, int]]]:
    """A migrated database holding the small known fleet; its URL and ids."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = seeding.seed(conn)
    yield db_url, ids


def make_app(url: str, **kw: Any) -> SentinelApp:
    """The dashboard on the pinned clock, with the settings' default thresholds."""
    kw.setdefault("now", seeding.NOW)
    kw.setdefault("label", LABEL)
    kw.setdefault("thresholds", Thresholds(heartbeat_interval=10.0, lease=30.0))
    return SentinelApp(url, **kw)


async def until(pilot: Pilot[Any], condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Let the app run until `condition` holds (bounded in time)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await pilot.pause(0.02)


def laid_out(app: SentinelApp) -> bool:
    """The current table has measured its new rows. DataTable sizes its columns
    on its own next idle, which can come after the app looks idle to the
    Pilot: a screenshot taken in between shows columns as wide as their labels."""
    table = app.table()
    return not table._require_update_dimensions and not table._updated_cells


async def refreshed(pilot: Pilot[Any], app: SentinelApp) -> None:
    """Wait for the refresh after the current one."""
    seen = app.refreshes
    await until(pilot, lambda: app.refreshes > seen)


def drive(
    app: SentinelApp,
    scenario: Callable[[Pilot[Any]], Awaitable[None]],
    size: tuple[int, int] = SIZE,
) -> None:
    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.refreshes > 0 or app.error is not None)
            await scenario(pilot)

    asyncio.run(main())


def texts(app: SentinelApp) -> list[list[str]]:
    table = app.table()
    return [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
