"""Runs held far longer than usual are marked; rows fit 120 columns; an
inactive worker's uptime stops; a condition finding shows its trigger event."""

from __future__ import annotations

from typing import Any

import psycopg
from textual.pilot import Pilot

from sentinel.tui.screens.detail import DetailScreen
from sentinel.views.statements import View
from tests.tui import seed as seeding
from tests.tui.conftest import drive, laid_out, make_app, texts, until


def _history(url: str, ids: dict[str, int]) -> None:
    """Ten 10 s passes on press-1 before its running run (started 40 s ago:
    under the floor), and on ci/main ten 10 s passes then one running for 10
    minutes with a multi-line error from an earlier attempt."""
    with psycopg.connect(url, autocommit=True) as conn:
        for key in ("plant-a/line-1/press-1", "ci/main"):
            conn.execute(
                "INSERT INTO run (stream_id, window_start, status, attempts, event_count,"
                " started_at, finished_at) SELECT %(s)s, %(now)s - make_interval(hours => g),"
                " 'succeeded', 1, 5, %(now)s - make_interval(hours => g),"
                " %(now)s - make_interval(hours => g) + interval '10 seconds'"
                " FROM generate_series(10, 19) g",
                {"s": ids[key], "now": seeding.NOW},
            )
        conn.execute("DELETE FROM run WHERE stream_id = %s AND status = 'queued'", [ids["ci/main"]])
        conn.execute(
            "INSERT INTO run (stream_id, window_start, status, attempts, lease_owner,"
            " lease_expires_at, started_at, error) VALUES (%(s)s, %(now)s, 'running', 2, %(w)s,"
            " %(now)s + interval '20 seconds', %(now)s - interval '10 minutes', %(err)s)",
            {
                "s": ids["ci/main"],
                "now": seeding.NOW,
                "w": ids["w-beta"],
                "err": "Traceback (most recent call last):\n  File 'x.py', line 1\n"
                + "psycopg.OperationalError: "
                + "connection lost " * 12,
            },
        )


def test_a_run_far_past_its_streams_usual_pass_is_marked_long(
    seeded: tuple[str, dict[str, int]],
) -> None:
    url, ids = seeded
    _history(url, ids)
    app = make_app(url, listen=False, interval=3600.0)
    seen: dict[str, Any] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("2")
        await until(pilot, lambda: app.view in app.rows and app.table().row_count > 0)
        await until(pilot, lambda: laid_out(app))
        seen["rows"] = {r[1] + " " + r[3]: r for r in texts(app) if r[3].startswith("running")}
        table = app.table()
        seen["width"] = (table.virtual_size.width, table.size.width)

    drive(app, scenario, size=(120, 40))
    long = seen["rows"]["ci/main running"]
    assert long[8].endswith("long")  # 10 minutes against a usual 10 s
    assert not seen["rows"]["plant-a/line-1/press-1 running ↺1"][8].endswith("long")  # floor
    assert "\n" not in long[9]
    assert seen["width"][0] <= seen["width"][1]  # no column past the 120th


def test_rows_of_every_view_fit_120_columns(seeded: tuple[str, dict[str, int]]) -> None:
    url, _ids = seeded
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE recommendation SET text = repeat('Inspect cooling on ' || stream || '. ', 5)"
        )
    app = make_app(url, listen=False, interval=3600.0)
    widths: dict[str, tuple[int, int]] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        for key, view in zip("12345", list(View), strict=True):
            await pilot.press(key)
            await until(pilot, lambda view=view: app.table(view).row_count > 0)
            await until(pilot, lambda: laid_out(app))
            widths[view.value] = (app.table().virtual_size.width, app.table().size.width)

    drive(app, scenario, size=(120, 40))
    for view, (virtual, shown) in widths.items():
        assert virtual <= shown, view


def test_an_inactive_workers_uptime_stops_at_its_last_heartbeat(
    seeded: tuple[str, dict[str, int]],
) -> None:
    url, ids = seeded
    app = make_app(url, listen=False, interval=3600.0)
    rows: dict[str, Any] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        rows.update(app.table().items)

    drive(app, scenario)
    # started 08:00; w-delta's last heartbeat 10 minutes before 10:00; w-alpha live
    assert rows[str(ids["w-delta"])].uptime == 2 * 3600 - 600
    assert rows[str(ids["w-alpha"])].uptime == 2 * 3600


def test_a_condition_finding_shows_its_trigger_events_payload(
    seeded: tuple[str, dict[str, int]],
) -> None:
    url, _ids = seeded
    app = make_app(url, listen=False, interval=3600.0)
    shown: dict[str, Any] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        await pilot.press("down", "down", "enter")  # the condition finding on ci/main
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        await until(pilot, lambda: screen.detail is not None)
        shown["evidence"] = str(screen.query_one("#evidence").render())
        shown["chart"] = screen.query_one("#chart").display

    drive(app, scenario)
    assert "trigger event 300" in shown["evidence"]
    assert '{"branch": "main"}' in shown["evidence"]
    assert shown["chart"] is False  # no empty "no chartable points" chart
