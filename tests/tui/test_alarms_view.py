"""The dashboard's alarm-system health, its flood banner and a finding's
journal, against a real Postgres, driven with a Pilot on the pinned clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from textual.pilot import Pilot
from textual.widgets import Static

from sentinel.findings import review
from sentinel.tui.screens.alarms import AlarmsScreen
from sentinel.tui.screens.detail import DetailScreen
from sentinel.tui.widgets.timeline import Timeline, plot
from tests.integration.alarm_history import History
from tests.tui import seed as seeding
from tests.tui.conftest import drive, make_app, until

NOW = seeding.NOW


def _flood(conn: psycopg.Connection) -> None:
    """Two floods before the pinned NOW: 12 findings three hours before it
    (then calm), and 14 in its last ten minutes (still in flood)."""
    h = History(conn, NOW)
    for start, n in ((NOW - timedelta(hours=3), 12), (NOW - timedelta(minutes=9), 14)):
        for j in range(n):
            h.finding(start + timedelta(seconds=30 * j), f"press.r{j}", f"plant-a/m-{j}")


@pytest.fixture
def flooded(seeded: tuple[str, dict[str, int]]) -> tuple[str, dict[str, int]]:
    url, ids = seeded
    with psycopg.connect(url, autocommit=True) as conn:
        _flood(conn)
    return url, ids


def _text(widget: Any) -> str:
    return str(widget.render())


def test_the_banner_and_the_alarms_view_show_a_seeded_flood(
    flooded: tuple[str, dict[str, int]],
) -> None:
    url, _ = flooded
    app = make_app(url, listen=False)
    seen: dict[str, Any] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.alarms is not None)
        banner = app.query_one("#flood", Static)
        assert banner.has_class("-visible")
        seen["banner"] = _text(banner)
        await pilot.press("6")
        await until(pilot, lambda: isinstance(app.screen, AlarmsScreen))
        screen = app.screen
        assert isinstance(screen, AlarmsScreen)
        await until(pilot, lambda: screen.report is not None)
        seen["head"] = _text(screen.query_one("#alarms-head"))
        seen["figures"] = _text(screen.query_one("#alarms-figures"))
        seen["lists"] = _text(screen.query_one("#alarms-lists"))
        seen["timeline"] = plot(screen.report, 120)  # type: ignore[arg-type]
        seen["drawn"] = _text(screen.query_one(Timeline))
        await pilot.press("p")  # the next period: 7 days
        await until(pilot, lambda: screen.report is not None and screen.report.seconds > 86_400)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AlarmsScreen))

    drive(app, scenario)
    # the seeded fleet's own three findings: 5, 12 and 30 minutes before NOW
    assert "ALARM FLOOD: 15 findings in the last 10 minutes" in seen["banner"]
    assert "IN FLOOD: 15 findings in the last 10 minutes" in seen["head"]
    assert "29 findings" in seen["head"]  # the two floods and those three, over 24 h
    assert "per 10 minutes, peak" in seen["figures"] and "OVER" in seen["figures"]
    assert "EEMUA 191" in seen["figures"]
    assert "Floods (2)" in seen["lists"] and "to now" in seen["lists"]
    # the flood marks under the bars: two runs, the second at the last column
    marks = "".join(text for text, _ in seen["timeline"][-2])
    runs = [run for run in marks.split() if set(run) == {"━"}]
    assert len(runs) == 2 and marks.rstrip().endswith("━ flood")
    assert "━" in seen["drawn"] and "UTC" in seen["drawn"]


def test_no_banner_while_calm(seeded: tuple[str, dict[str, int]]) -> None:
    url, _ = seeded
    app = make_app(url, listen=False)

    async def scenario(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: app.alarms is not None)
        assert app.alarms is not None and not app.alarms.in_flood
        assert not app.query_one("#flood", Static).has_class("-visible")

    drive(app, scenario)


def test_the_detail_shows_the_journal(seeded: tuple[str, dict[str, int]]) -> None:
    url, ids = seeded
    rec = ids["rec-press.overtemp"]
    with psycopg.connect(url, autocommit=True) as conn:
        review.acknowledge(conn, rec, actor="ana", comment="cooling checked")
    app = make_app(url, listen=False)
    seen: dict[str, str] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        table = app.table()
        table.move_cursor(row=table.get_row_index(str(rec)))  # acknowledged: not first
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await until(pilot, lambda: app.screen.detail is not None)  # type: ignore[attr-defined]
        seen["journal"] = _text(app.screen.query_one("#journal"))

    drive(app, scenario)
    assert "ana" in seen["journal"]
    assert "unacknowledged-active → acknowledged-active" in seen["journal"]
    assert "cooling checked" in seen["journal"]
