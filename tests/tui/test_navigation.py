"""Leaving a pushed screen: escape and q go back to the dashboard, never quit it."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from sentinel.tui.screens.detail import DetailScreen
from sentinel.tui.screens.help import HelpScreen
from sentinel.tui.screens.review import ReviewScreen
from tests.tui.conftest import drive, make_app, until


@pytest.mark.parametrize("key", ["escape", "q"])
def test_escape_and_q_leave_the_detail_screen(seeded: tuple[str, dict[str, int]], key: str) -> None:
    url, _ = seeded
    app = make_app(url, listen=False, interval=3600.0)
    seen: list[object] = []

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press(key)
        await until(pilot, lambda: not isinstance(app.screen, DetailScreen))
        seen.append(app.screen)
        assert app.is_running  # q went back rather than quitting
        await pilot.press("3")  # the dashboard's keys work again
        await until(pilot, lambda: app.view.value == "streams")

    drive(app, scenario)
    assert len(seen) == 1


@pytest.mark.parametrize("key", ["escape", "q", "question_mark"])
def test_escape_q_and_question_mark_close_help(
    seeded: tuple[str, dict[str, int]], key: str
) -> None:
    url, _ = seeded
    app = make_app(url, listen=False, interval=3600.0)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press(key)
        await until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        assert app.is_running and len(app.screen_stack) == 1

    drive(app, scenario)


def test_help_over_the_detail_goes_back_to_the_detail(
    seeded: tuple[str, dict[str, int]],
) -> None:
    url, _ = seeded
    app = make_app(url, listen=False, interval=3600.0)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1)

    drive(app, scenario)


def test_q_in_a_review_dialog_is_text_and_escape_cancels(
    seeded: tuple[str, dict[str, int]],
) -> None:
    url, _ = seeded
    app = make_app(url, listen=False, interval=3600.0)

    async def scenario(pilot: Pilot[Any]) -> None:
        await pilot.press("4")
        await until(pilot, lambda: app.table().row_count == 3)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ReviewScreen))
        await pilot.press("q")  # part of the comment: never quits
        assert app.is_running and app.screen.query_one("#comment", Input).value == "q"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ReviewScreen))
        assert app.is_running and len(app.screen_stack) == 1

    drive(app, scenario)
