"""`7`: the live shelves (what `sentinel shelves list` shows), expiring
soonest first; `u` unshelves the one under the cursor (after a
confirmation), `r` reloads.

It asks the app for the rows and for the unshelve by messages
(`ShelvesRequested`, `UnshelveRequested`) and reloads on `Changed`; it knows
nothing of the app."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from sentinel import format as fmt
from sentinel.tui import messages
from sentinel.views.rows import ShelfRow

COLUMNS = ("id", "streams", "rules", "severity", "expires in", "age", "findings", "by", "reason")
REASON_WIDTH = 40


class ShelvesScreen(Screen[None]):
    BINDINGS: ClassVar[list[Any]] = [
        Binding("escape,q", "back", "Back"),
        Binding("u", "unshelve", "Unshelve"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.shelves: tuple[ShelfRow, ...] | None = None

    def compose(self) -> ComposeResult:
        yield Static("Shelves: loading…", id="shelves-info")
        yield DataTable(id="shelves-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.action_reload()

    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.post_message(messages.ShelvesRequested(reply_to=self))

    def on_changed(self, message: messages.Changed) -> None:
        self.action_reload()

    def on_shelves_loaded(self, message: messages.ShelvesLoaded) -> None:
        self.shelves = message.shelves
        table = self.query_one(DataTable)
        current = table.cursor_row
        table.clear()
        for s in message.shelves:
            table.add_row(
                str(s.id),
                s.stream_glob,
                s.rule_glob or "*",
                s.severity or "any",
                fmt.duration(s.expires_in),
                fmt.age(s.age),
                str(s.findings),
                s.actor,
                fmt.one_line(s.reason, REASON_WIDTH),
                key=str(s.id),
            )
        if message.shelves:
            table.move_cursor(row=min(current, len(message.shelves) - 1))
        info = self.query_one("#shelves-info", Static)
        info.update(
            f"Shelves: {len(message.shelves)} live; new findings they match are written "
            "shelved (not open, never notified). u unshelves."
            if message.shelves
            else "Shelves: none live. S on a finding shelves what its stream and rule match."
        )

    def on_shelves_failed(self, message: messages.ShelvesFailed) -> None:
        self.notify(f"cannot load the shelves: {message.error}", severity="error")

    def action_unshelve(self) -> None:
        if not self.shelves:
            return
        row = self.query_one(DataTable).cursor_row
        if 0 <= row < len(self.shelves):
            shelf = self.shelves[row]
            self.post_message(messages.UnshelveRequested(shelf.id, shelf.stream_glob))
