"""The views filter in the database, before their row limit: critical findings
older than 200 noisy warnings are found, the cap is on screen, and the
header's counts lead to what they count."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from textual.pilot import Pilot

from sentinel.tui.widgets.summary import SummaryBar
from sentinel.views import filters
from sentinel.views.statements import SQL, View, statements
from tests.tui import seed as seeding
from tests.tui.conftest import drive, make_app, until

NOISY = 230  # open warnings, all newer than the critical ones
CRITICAL = 7


def _noise(conn: psycopg.Connection) -> None:
    """The small fleet, then 7 open critical findings (and a dismissed one)
    older than 230 open warnings on a noisy stream."""
    conn.execute(
        "INSERT INTO detection (rule_ref, stream, kind, severity, summary, fingerprint,"
        " first_seen, last_seen, created)"
        " SELECT CASE WHEN g <= %(c)s + 1 THEN 'press.overtemp' ELSE 'press.noise' END,"
        " 'plant-b/noisy', 'threshold',"
        " CASE WHEN g <= %(c)s + 1 THEN 'critical' ELSE 'warning' END::severity, 's' || g,"
        " 'noise-' || g, %(now)s - make_interval(hours => 5) + make_interval(secs => g),"
        " %(now)s - make_interval(hours => 5) + make_interval(secs => g), %(now)s"
        " FROM generate_series(1, %(n)s) g",
        {"c": CRITICAL, "n": CRITICAL + 1 + NOISY, "now": seeding.NOW},
    )
    conn.execute(
        "INSERT INTO recommendation (detection_id, stream, severity, text, status, created,"
        " updated) SELECT id, stream, severity, 'look at ' || summary,"
        " CASE WHEN summary = 's1' THEN 'dismissed' ELSE 'open' END::recommendation_status,"
        " first_seen, first_seen FROM detection WHERE fingerprint LIKE 'noise-%%'"
    )
    conn.execute("ANALYZE")


@pytest.fixture
def noisy(db_url: str) -> Iterator[tuple[str, dict[str, int]]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        ids = seeding.seed(conn)
        _noise(conn)
    yield db_url, ids


def test_old_critical_findings_come_first_and_the_filter_finds_them(
    noisy: tuple[str, dict[str, int]],
) -> None:
    url, _ = noisy
    app = make_app(url, listen=False, interval=3600.0)
    seen: dict[str, Any] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count > 100)
        table = app.table()
        seen["first"] = [table.items[str(table.get_row_at(i)[0])].severity for i in range(9)]
        seen["info"] = str(app.query_one("#viewinfo").render())
        await pilot.press("slash", *"severity:critical", "enter")
        await until(pilot, lambda: app.table().row_count == CRITICAL + 2)
        seen["critical"] = sorted(i.status for i in app.table().items.values())
        await pilot.press("5", "slash", *"severity:critical rule:press.overtemp", "enter")
        await until(pilot, lambda: app.table().row_count == CRITICAL + 2)
        seen["detections"] = str(app.query_one("#viewinfo").render())

    drive(app, scenario)
    # 8 open critical (7 + the seed's), then warnings: the noise cannot push them off
    assert seen["first"] == ["critical"] * 8 + ["warning"]
    # 232 open (200 shown) + 1 acknowledged + 1 dismissed
    assert "showing 202 of 241 rows" in seen["info"]
    assert seen["critical"] == ["dismissed"] + ["open"] * (CRITICAL + 1)
    assert "9 rows" in seen["detections"]


def test_the_header_count_drills_down_to_the_open_critical_ones(
    noisy: tuple[str, dict[str, int]],
) -> None:
    url, _ = noisy
    app = make_app(url, listen=False, interval=3600.0)
    seen: dict[str, Any] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        bar = app.query_one(SummaryBar)
        assert bar.summary is not None
        seen["header"] = bar.summary.open_recommendations["critical"]
        await pilot.press("c")
        await until(pilot, lambda: app.view == View.RECOMMENDATIONS)
        await until(pilot, lambda: app.table().row_count == seen["header"])
        seen["rows"] = {(i.severity, i.status) for i in app.table().items.values()}
        seen["filter"] = app.filters[View.RECOMMENDATIONS].text
        await pilot.press("w")
        await until(pilot, lambda: app.table().row_count == 200)
        seen["info"] = str(app.query_one("#viewinfo").render())
        await pilot.press("x")
        await until(pilot, lambda: app.view == View.RUNS and app.table().row_count == 1)
        seen["dead"] = [i.status for i in app.table().items.values()]

    drive(app, scenario)
    assert seen["header"] == CRITICAL + 1
    assert seen["rows"] == {("critical", "open")}
    assert seen["filter"] == "status:open severity:critical"
    assert f"showing 200 of {NOISY + 1} rows" in seen["info"]
    assert seen["dead"] == ["dead"]


HISTORY_TABLES = {"event", "run", "detection", "evidence", "recommendation"}


@pytest.mark.parametrize(
    ("view", "text"),
    [
        (View.RECOMMENDATIONS, ""),
        (View.RECOMMENDATIONS, "severity:critical"),
        (View.RECOMMENDATIONS, "status:open severity:critical"),
        (View.RECOMMENDATIONS, "status:acknowledged"),
        (View.DETECTIONS, ""),
        (View.DETECTIONS, "severity:critical"),
        (View.RUNS, ""),
        (View.RUNS, "status:dead"),
        (View.RUNS, "status:running"),
        (View.STREAMS, "status:silent"),
        (View.FLEET, "status:inactive"),
    ],
)
def test_filtered_views_use_indexes_on_a_large_history(db_url: str, view: View, text: str) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.tui_refresh import seed

    seed(db_url, {"workers": 100, "streams": 200, "per_stream": 50, "windows": 150, "hours": 1})
    with psycopg.connect(db_url, autocommit=True, prepare_threshold=None) as conn:
        name, params = statements(view, filters.parse(text))[1]
        [(plan,)] = conn.execute(
            "EXPLAIN (FORMAT JSON) " + SQL[name], {"now": None, **params}
        ).fetchall()
    nodes, scans = [plan[0]["Plan"]], []
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("Plans", []))
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in HISTORY_TABLES:
            scans.append(node["Relation Name"])
    assert scans == [], f"{name} {text!r}: sequential scans over {scans}"
