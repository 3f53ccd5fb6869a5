"""Shelving from the dashboard against a real Postgres, driven with a Pilot
on the pinned clock: shelve from a finding (its stream and rule prefilled),
the Shelves view, unshelve after a confirmation, and --readonly refusing
both."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Label

from sentinel.tui.screens.confirm import ConfirmScreen
from sentinel.tui.screens.detail import DetailScreen
from sentinel.tui.screens.shelve import ShelveScreen
from sentinel.tui.screens.shelves import ShelvesScreen
from tests.integration.alarm_history import History
from tests.tui import seed as seeding
from tests.tui.conftest import drive, make_app, until

NOW = seeding.NOW


def _shelves(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT id, stream_glob, rule_glob, reason, actor, created, expires_at, ended_at,"
            " ended_by FROM shelf ORDER BY id"
        ).fetchall()


def _value(screen: Any, name: str) -> str:
    return str(screen.query_one(f"#{name}", Input).value)


def test_shelve_from_a_finding_then_unshelve_it(seeded: tuple[str, dict[str, int]]) -> None:
    url, _ = seeded
    app = make_app(url, listen=False, actor="ana")
    seen: dict[str, Any] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        await pilot.press("S")  # the first row: press.overtemp on press-1
        await until(pilot, lambda: isinstance(app.screen, ShelveScreen))
        dialog = app.screen
        seen["prefilled"] = (
            _value(dialog, "stream"),
            _value(dialog, "rule"),
            _value(dialog, "for"),
        )
        await pilot.press(*"burner swap", "enter")
        await until(pilot, lambda: len(_shelves(url)) == 1)
        await until(pilot, lambda: not isinstance(app.screen, ShelveScreen))
        await pilot.press("7")
        await until(pilot, lambda: isinstance(app.screen, ShelvesScreen))
        shelves = app.screen
        assert isinstance(shelves, ShelvesScreen)
        await until(pilot, lambda: bool(shelves.shelves))
        table = shelves.query_one(DataTable)
        seen["row"] = [str(cell) for cell in table.get_row_at(0)]
        await pilot.press("u")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: _shelves(url)[0][7] is not None)
        await until(pilot, lambda: shelves.shelves == ())  # reloaded: none live

    drive(app, scenario)
    assert seen["prefilled"] == ("plant-a/line-1/press-1", "press.overtemp", "4h")
    [(shelf_id, stream, rule, reason, actor, created, expires, ended, ended_by)] = _shelves(url)
    assert (stream, rule, reason, actor) == (
        "plant-a/line-1/press-1",
        "press.overtemp",
        "burner swap",
        "ana",
    )
    assert (created, expires) == (NOW, NOW + timedelta(hours=4))  # the pinned clock
    assert (ended, ended_by) == (NOW, "ana")
    assert seen["row"][:3] == [str(shelf_id), "plant-a/line-1/press-1", "press.overtemp"]
    assert "ana" in seen["row"] and "burner swap" in seen["row"]


def test_the_dialog_wants_a_duration_and_a_reason(seeded: tuple[str, dict[str, int]]) -> None:
    url, ids = seeded
    app = make_app(url, listen=False)
    seen: list[str] = []

    async def scenario(pilot: Pilot[Any]) -> None:
        app.push_screen(DetailScreen(ids["detection-press.spc"]))
        await until(pilot, lambda: getattr(app.screen, "detail", None) is not None)
        await pilot.press("S")  # from the detail: its stream and rule
        await until(pilot, lambda: isinstance(app.screen, ShelveScreen))
        dialog = app.screen
        assert _value(dialog, "stream") == "plant-a/line-2/press-2"
        await pilot.press("enter")  # no reason yet
        seen.append(str(dialog.query_one("#shelve-error", Label).render()))
        dialog.query_one("#for", Input).value = "soon"
        dialog.query_one("#reason", Input).value = "drift known"
        await pilot.press("enter")
        seen.append(str(dialog.query_one("#shelve-error", Label).render()))
        assert isinstance(app.screen, ShelveScreen)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ShelveScreen))

    drive(app, scenario)
    assert seen[0] == "a shelf needs a reason"
    assert seen[1].startswith("for: bad duration 'soon'")
    assert _shelves(url) == []


def test_readonly_refuses_to_shelve_and_to_unshelve(seeded: tuple[str, dict[str, int]]) -> None:
    url, _ = seeded
    with psycopg.connect(url, autocommit=True) as conn:
        History(conn, NOW).shelf("ci/*", NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    before = _shelves(url)
    app = make_app(url, readonly=True, listen=False)
    notes: list[str] = []

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        await pilot.press("S")
        await until(pilot, lambda: len(app._notifications) >= 1)
        assert not isinstance(app.screen, ShelveScreen)
        await pilot.press("7")
        await until(pilot, lambda: isinstance(app.screen, ShelvesScreen))
        shelves = app.screen
        await until(pilot, lambda: bool(getattr(shelves, "shelves", None)))
        await pilot.press("u")
        await until(pilot, lambda: len(app._notifications) >= 2)
        assert not isinstance(app.screen, ConfirmScreen)
        notes.extend(str(n.message) for n in app._notifications)

    drive(app, scenario)
    assert notes == [
        "The dashboard is read-only (--readonly): shelving is off.",
        "The dashboard is read-only (--readonly): unshelving is off.",
    ]
    assert _shelves(url) == before
