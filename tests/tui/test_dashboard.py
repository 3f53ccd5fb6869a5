"""The dashboard against a real Postgres, driven with a Pilot."""

from __future__ import annotations

from typing import Any

import psycopg
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual.pilot import Pilot
from textual.widgets import Label

from sentinel.db import migrate
from sentinel.tui.screens.detail import DetailScreen
from sentinel.tui.screens.review import ReviewScreen
from sentinel.tui.widgets.chart import Chart
from sentinel.tui.widgets.fleet import FleetTable
from sentinel.views.statements import View
from tests import pg
from tests.tui import seed as seeding
from tests.tui.conftest import drive, make_app, refreshed, texts, until


def _status(url: str, rec_id: int) -> tuple[str, object]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT status::text, updated FROM recommendation WHERE id = %s", [rec_id]
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def test_each_view_shows_the_seeded_rows(seeded: tuple[str, dict[str, int]]) -> None:
    url, _ = seeded
    app = make_app(url, listen=False)
    seen: dict[str, list[list[str]]] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        seen["fleet"] = texts(app)
        for key, view in zip("2345", list(View)[1:], strict=True):
            await pilot.press(key)
            await until(pilot, lambda view=view: app.table(view).row_count > 0)
            seen[view.value] = texts(app)

    drive(app, scenario)
    assert [r[0] for r in seen["fleet"]] == ["w-alpha", "w-beta", "w-gamma", "w-eps", "w-delta"]
    assert seen["fleet"][0][6] == "1/4"  # w-alpha holds the running run
    runs = {r[0]: r for r in seen["runs"]}
    assert len(runs) == 6
    statuses = sorted(r[3] for r in runs.values())
    assert statuses == ["dead", "failed", "queued", "retrying", "running ↺1", "succeeded"]
    assert any(r[9].startswith("rule press") for r in runs.values())  # the first characters
    streams = {r[0]: r for r in seen["streams"]}
    assert streams["ci/main"][1] == "3"  # lag: three events past the cursor
    assert streams["plant-a/line-2/press-2"][4] == "silent"
    assert streams["plant-a/line-1/press-1"][4] == "live"
    assert [r[1] for r in seen["recommendations"]] == ["critical", "warning", "info"]
    assert len(seen["detections"]) == 3


def test_a_stream_being_replayed_says_so(seeded: tuple[str, dict[str, int]]) -> None:
    url, _ = seeded
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("UPDATE stream SET replay_since = now() WHERE key = 'plant-a/line-2/press-2'")
    app = make_app(url, listen=False)
    seen: list[list[str]] = []

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("3")
        await until(pilot, lambda: app.table(View.STREAMS).row_count > 0)
        seen.extend(texts(app))

    drive(app, scenario)
    states = {r[0]: r[4] for r in seen}
    assert states["plant-a/line-2/press-2"] == "replaying"  # rather than "silent"
    assert states["plant-a/line-1/press-1"] == "live"


def test_heartbeat_colours_follow_ages(seeded: tuple[str, dict[str, int]]) -> None:
    url, ids = seeded
    app = make_app(url, listen=False)
    found: dict[str, tuple[str | None, Style]] = {}
    theme: dict[str, str] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        table = app.query_one(FleetTable)
        for name in ("w-alpha", "w-beta", "w-gamma", "w-delta"):
            key = str(ids[name])
            tone = table._shown[key].cells[5][1]
            cell = table.get_cell(key, "heartbeat")
            assert isinstance(cell, Text)
            found[name] = (tone, cell.get_style_at_offset(app.console, 0))
        theme.update(app.get_css_variables())

    drive(app, scenario)
    # 3 s: green (< 2 intervals); 25 s: yellow (<= lease 30 s); 120 s: red; inactive: grey
    assert {name: tone for name, (tone, _) in found.items()} == {
        "w-alpha": "ok",
        "w-beta": "warn",
        "w-gamma": "bad",
        "w-delta": "muted",
    }
    # The colours are the theme's, as app.tcss names them, read from the
    # theme rather than from the function that styles the cells.
    colour = {name: style.color for name, (_, style) in found.items()}
    for name, variable in (("w-alpha", "success"), ("w-beta", "warning"), ("w-gamma", "error")):
        assert colour[name] == Color.parse(theme[variable]).rich_color, name
    assert colour["w-delta"] is not None
    assert len(set(colour.values())) == 4  # muted is none of the other three


def test_filter_narrows_the_table(seeded: tuple[str, dict[str, int]]) -> None:
    url, _ = seeded
    app = make_app(url, listen=False)
    seen: list[list[str]] = []

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("2")
        await until(pilot, lambda: app.table().row_count == 6)
        await pilot.press("slash", *"stream:plant-a/* !status:dead", "enter")
        await until(pilot, lambda: app.table().row_count == 3)
        seen.extend(texts(app))
        await pilot.press("escape")
        await until(pilot, lambda: app.table().row_count == 6)

    drive(app, scenario)
    assert sorted(r[3] for r in seen) == ["retrying", "running ↺1", "succeeded"]


def test_enter_on_a_recommendation_shows_its_evidence(
    seeded: tuple[str, dict[str, int]],
) -> None:
    url, _ = seeded
    app = make_app(url, listen=False)
    shown: dict[str, str] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        await pilot.press("down", "enter")  # the warning: spc with a baseline
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        await until(pilot, lambda: screen.detail is not None)
        shown["head"] = str(screen.query_one("#detail-head").render())
        shown["evidence"] = str(screen.query_one("#evidence").render())
        shown["chart"] = str(screen.query_one(Chart).render())

    drive(app, scenario)
    assert "press.spc" in shown["head"] and "WARNING" in shown["head"]
    assert "mean 50  sigma 1.2  n 25" in shown["evidence"]
    assert "triggering points (3)" in shown["evidence"]
    assert "54.1" in shown["evidence"]
    assert "+3σ 53.6" in shown["chart"] and "mean 50" in shown["chart"]
    assert "█" in shown["chart"]


def test_acknowledge_with_a_comment_writes_the_status_and_the_journal(
    seeded: tuple[str, dict[str, int]],
) -> None:
    url, ids = seeded
    rec = ids["rec-press.overtemp"]
    app = make_app(url, actor="ana")

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        assert "as ana" in str(app.screen.query_one("#question", Label).render())
        await pilot.press(*"cooling checked", "enter")
        await until(pilot, lambda: _status(url, rec)[0] == "acknowledged")
        await until(pilot, lambda: app.table().items[str(rec)].status == "acknowledged")

    drive(app, scenario)
    assert _status(url, rec)[0] == "acknowledged"
    assert _status(url, ids["rec-press.spc"])[0] == "open"
    with psycopg.connect(url) as conn:
        journal = conn.execute(
            "SELECT actor, from_state, to_state, comment FROM finding_journal"
            " WHERE recommendation_id = %s",
            [rec],
        ).fetchall()
    assert journal == [("ana", "unacknowledged-active", "acknowledged-active", "cooling checked")]


def test_dismiss_declined_changes_nothing(seeded: tuple[str, dict[str, int]]) -> None:
    url, ids = seeded
    rec = ids["rec-press.overtemp"]
    before = _status(url, rec)
    app = make_app(url, listen=False)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press(*"no", "escape")  # a comment typed, then cancelled
        await until(pilot, lambda: not isinstance(app.screen, ReviewScreen))
        await refreshed(pilot, app)

    drive(app, scenario)
    assert _status(url, rec) == before


def test_readonly_refuses_to_write(seeded: tuple[str, dict[str, int]]) -> None:
    url, ids = seeded
    rec = ids["rec-press.overtemp"]
    before = _status(url, rec)
    app = make_app(url, readonly=True, listen=False)
    notes: list[str] = []

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        await pilot.press("a", "d")
        await until(pilot, lambda: len(app._notifications) >= 2)
        notes.extend(str(n.message) for n in app._notifications)
        assert not isinstance(app.screen, ReviewScreen)

    drive(app, scenario)
    assert notes and all("read-only" in n for n in notes)
    assert _status(url, rec) == before


def test_notify_refreshes_at_once(seeded: tuple[str, dict[str, int]]) -> None:
    url, ids = seeded
    app = make_app(url, interval=60.0)  # no timed refresh during the test
    seen: list[int] = []  # app.refreshes at each notification the app handled
    schedule_notified = app.schedule.notified

    def notified() -> None:
        seen.append(app.refreshes)
        schedule_notified()

    app.schedule.notified = notified  # type: ignore[method-assign]

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        # Let the listener connect and its catch-up refresh finish: after that
        # nothing is pending (the timed refresh is a minute away, `until`
        # gives up after ten seconds), so only the NOTIFY can show the change.
        await until(pilot, lambda: bool(seen) and app.refreshes > seen[-1])
        await until(pilot, lambda: not app.schedule.fetching and not app.schedule._again)
        heard = len(seen)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "UPDATE recommendation SET status = 'dismissed' WHERE id = %s",
                [ids["rec-press.spc"]],
            )
            conn.execute("SELECT pg_notify('sentinel_recommendation', '')")
        await until(
            pilot, lambda: app.table().items[str(ids["rec-press.spc"])].status == "dismissed"
        )
        assert len(seen) > heard  # it came by the NOTIFY

    drive(app, scenario)


def test_database_loss_shows_banner_and_recovers() -> None:
    server = pg.embedded()
    try:
        url = server.create_database("tui_outage")
        migrate.upgrade(url)
        with psycopg.connect(url, autocommit=True) as conn:
            seeding.seed(conn)
        app = make_app(url, interval=0.5)
        banners: list[str] = []

        async def scenario(pilot: Pilot[Any]) -> None:
            banner = app.query_one("#banner")
            assert not banner.has_class("-visible")
            server.stop()
            await until(pilot, lambda: banner.has_class("-visible"), timeout=20)
            banners.append(str(banner.render()))
            server.start()
            await until(pilot, lambda: not banner.has_class("-visible"), timeout=30)
            await refreshed(pilot, app)
            assert app.table().row_count == 5

        drive(app, scenario)
        assert "database unreachable" in banners[0] and "retrying" in banners[0]
    finally:
        pg.destroy(server)


def test_open_counts_past_the_cap_are_marked_as_lower_bounds(
    seeded: tuple[str, dict[str, int]],
) -> None:
    from dataclasses import replace

    from sentinel.tui.widgets.summary import SummaryBar

    url, _ = seeded
    app = make_app(url, listen=False, interval=3600.0)
    header: dict[str, str] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        bar = app.query_one(SummaryBar)
        assert bar.summary is not None
        counts = dict(bar.summary.open_recommendations)
        total = sum(counts.values())
        header["under"] = bar.render_text().plain
        bar.summary = replace(bar.summary, count_cap=total)  # the count reached the cap
        header["at"] = bar.render_text().plain
        header["expect"] = "|".join(f"{n}+ {sev}" for sev, n in counts.items() if n)

    drive(app, scenario)
    assert "+" not in header["under"].split("open", 1)[1]
    assert header["expect"]
    for part in header["expect"].split("|"):
        assert part in header["at"]
