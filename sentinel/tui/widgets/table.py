"""LiveTable: a DataTable that is updated in place from fresh rows.

Rows are keyed by id; a refresh removes the rows that went away, adds the new
ones and updates only the cells that changed, so the cursor stays on its row
and the scroll position stays put. Sorting (click a header, or `s` to cycle)
uses each cell's sort value, not its text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual.widgets import DataTable

from sentinel.tui.widgets import tones


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int | None = None


@dataclass(frozen=True)
class Shown:
    """One row as the table shows it: (text, tone, sort value) per column,
    plus the fields the filter's qualifiers look at."""

    key: str
    cells: tuple[tuple[str, str | None, Any], ...]
    fields: Mapping[str, str] = field(default_factory=dict)


class Cell(Text):
    """Text that remembers its row and the value it sorts by."""

    def __init__(self, text: str, style: Any, sort_value: Any, row_key: str) -> None:
        super().__init__(text, style=style, no_wrap=True, overflow="ellipsis", end="")
        self.sort_value = sort_value
        self.row_key = row_key


class LiveTable(DataTable[Any]):
    COLUMNS: ClassVar[tuple[Column, ...]] = ()
    TITLE: ClassVar[str] = ""
    COMPONENT_CLASSES: ClassVar[set[str]] = set(tones.COMPONENT_CLASSES)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.items: dict[str, Any] = {}  # row key -> the dataclass shown
        self._shown: dict[str, Shown] = {}
        self._order: dict[str, int] = {}
        self.sort_column: str | None = None
        self.sort_reverse = False
        self.total = 0
        self.context: Any = None

    def on_mount(self) -> None:
        for column in self.COLUMNS:
            self.add_column(column.label, key=column.key, width=column.width)

    def _update_dimensions(self, new_rows: Iterable[Any]) -> None:
        # DataTable measures new rows on its next idle, but caches what it
        # draws under a counter that measuring does not move: rows and header
        # drawn in between (a refresh landing while the view switches) kept
        # columns as wide as their labels until something else changed.
        super()._update_dimensions(new_rows)
        self._update_count += 1
        self.refresh()

    # ---- what each view defines -----------------------------------------

    def shown(self, item: Any) -> Shown:
        raise NotImplementedError

    # ---- in-place update ------------------------------------------------

    def show(self, items: Sequence[Any], total: int | None = None) -> None:
        """Show these rows (the database filtered them); `total`: how many
        the filter lets through, of which these are the first."""
        self.total = len(items) if total is None else total
        wanted: dict[str, tuple[Shown, Any]] = {}
        for item in items:
            row = self.shown(item)
            wanted[row.key] = (row, item)
        current = self.cursor_key()
        for key in [k for k in self._shown if k not in wanted]:
            self.remove_row(key)
            del self._shown[key]
            self.items.pop(key, None)
        columns = [c.key for c in self.COLUMNS]
        for key, (row, item) in wanted.items():
            self.items[key] = item
            old = self._shown.get(key)
            if old is None:
                self.add_row(*self._cells(row), key=key)
            elif old.cells != row.cells:
                new_cells = self._cells(row)
                for index, (before, after) in enumerate(zip(old.cells, row.cells, strict=True)):
                    if before != after:
                        self.update_cell(key, columns[index], new_cells[index], update_width=True)
            self._shown[key] = row
        self._order = {key: index for index, key in enumerate(wanted)}
        self.resort()
        if current is not None and current in self._shown:
            self.move_cursor(row=self.get_row_index(current), scroll=False)

    def _cells(self, row: Shown) -> list[Cell]:
        return [
            Cell(text, tones.style(self, tone), sort_value, row.key)
            for text, tone, sort_value in row.cells
        ]

    def cursor_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except Exception:  # the cursor points past the rows
            return None
        return str(key.value) if key.value is not None else None

    def cursor_item(self) -> Any:
        key = self.cursor_key()
        return self.items.get(key) if key is not None else None

    # ---- sorting ----------------------------------------------------------

    def resort(self) -> None:
        if not self.row_count:
            return
        current = self.cursor_key()
        if self.sort_column is None:
            first = self.COLUMNS[0].key
            self.sort(first, key=lambda cell: self._order.get(cell.row_key, 0))
        else:
            self.sort(self.sort_column, key=_sort_key, reverse=self.sort_reverse)
        if current is not None and current in self._shown:
            self.move_cursor(row=self.get_row_index(current), scroll=False)

    def sort_by(self, column: str | None, reverse: bool = False) -> None:
        self.sort_column = column
        self.sort_reverse = reverse
        self.resort()

    def cycle_sort(self) -> None:
        """No sort → first column ↑ → first ↓ → second ↑ … → no sort."""
        keys = [c.key for c in self.COLUMNS]
        if self.sort_column is None:
            self.sort_by(keys[0])
        elif not self.sort_reverse:
            self.sort_by(self.sort_column, reverse=True)
        else:
            index = keys.index(self.sort_column) + 1
            self.sort_by(keys[index] if index < len(keys) else None)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = str(event.column_key.value)
        if self.sort_column == column:
            self.sort_by(column, reverse=not self.sort_reverse)
        else:
            self.sort_by(column)

    def sort_label(self) -> str:
        if self.sort_column is None:
            return "default order"
        label = next(c.label for c in self.COLUMNS if c.key == self.sort_column)
        return f"sorted by {label} {'↓' if self.sort_reverse else '↑'}"


def _sort_key(cell: Any) -> tuple[int, Any]:
    value = getattr(cell, "sort_value", None)
    return (1, 0) if value is None else (0, value)
