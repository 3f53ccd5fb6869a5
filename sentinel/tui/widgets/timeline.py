"""The alarm report's findings per 10 minutes on a time axis: bars in Unicode
eighth blocks (one column per window, or the busiest of several windows per
column), the flood threshold drawn across, the flood periods marked under
the bars and in their own tone. No dependency beyond rich."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from rich.text import Text
from textual.widgets import Static

from sentinel.tui.widgets import tones
from sentinel.views.alarms import BUCKET_SECONDS, FLOOD_START, AlarmReport

BLOCKS = " ▁▂▃▄▅▆▇█"
AXIS = 6  # "  15┤"
Runs = list[tuple[str, str | None]]


def flooding(r: AlarmReport) -> list[bool]:
    """Whether each window of the report is in a flood."""
    out = [False] * len(r.per_10m)
    for flood in r.floods:
        first = round((flood.start - r.start).total_seconds() / BUCKET_SECONDS)
        last = math.ceil((flood.end - r.start).total_seconds() / BUCKET_SECONDS)
        for i in range(max(first, 0), min(last, len(out))):
            out[i] = True
    return out


def columns(per: Sequence[int], flood: Sequence[bool], room: int) -> list[tuple[int, bool, int]]:
    """(the most findings, any window in flood, its first window) per column."""
    size = max(1, math.ceil(len(per) / max(room, 1)))
    return [(max(per[i : i + size]), any(flood[i : i + size]), i) for i in range(0, len(per), size)]


def plot(r: AlarmReport, width: int, height: int = 6) -> list[Runs]:
    """Rows (top first) of (text, tone) runs: the bars, the flood marks, the times."""
    limit = f" ┄ {FLOOD_START} in 10 min"
    cols = columns(r.per_10m, flooding(r), width - AXIS - len(limit))
    top = max([FLOOD_START + 1, *(c[0] for c in cols)])
    threshold = min(height - 1, int(FLOOD_START / top * height))  # the row the limit crosses
    rows: list[Runs] = []
    for row in range(height - 1, -1, -1):
        label = f"{top:>4}┤" if row == height - 1 else "   0┤" if row == 0 else "    │"
        runs: Runs = [(label + " ", "muted")]
        for value, flood, _ in cols:
            filled = round(value / top * height * 8) - row * 8
            if filled > 0:
                runs.append((BLOCKS[min(filled, 8)], "bad" if flood else "info"))
            elif row == threshold:
                runs.append(("┄", "warn"))
            else:
                runs.append((" ", None))
        if row == threshold:
            runs.append((limit, "warn"))
        rows.append(runs)
    marks: Runs = [(" " * AXIS, None)]
    marks += [("━" if flood else " ", "bad" if flood else None) for _, flood, _ in cols]
    if any(flood for _, flood, _ in cols):
        marks.append((" flood", "bad"))
    rows.append(marks)
    rows.append([(_axis(r, cols), "muted")])
    return rows


def _axis(r: AlarmReport, cols: list[tuple[int, bool, int]]) -> str:
    """The start, middle and end times under their columns."""
    shape = "%H:%M" if r.seconds <= 86_400 else "%m-%d %H:%M"
    line = [" "] * (AXIS + len(cols) + 12)

    def put(col: int, when: datetime, right: bool = False) -> None:
        label = when.astimezone(UTC).strftime(shape)
        at = AXIS + col - (len(label) - 1 if right else 0)
        line[max(at, 0) : max(at, 0) + len(label)] = label

    put(0, r.start)
    if len(cols) > 40:
        middle = cols[len(cols) // 2][2]
        put(len(cols) // 2, r.start + timedelta(seconds=middle * BUCKET_SECONDS))
    put(len(cols), r.now, right=True)
    return "".join(line).rstrip() + " UTC"


class Timeline(Static):
    COMPONENT_CLASSES: ClassVar[set[str]] = set(tones.COMPONENT_CLASSES)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.report: AlarmReport | None = None

    def show(self, report: AlarmReport) -> None:
        self.report = report
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        if self.report is None:
            return
        text = Text(no_wrap=True, overflow="crop")
        for index, runs in enumerate(plot(self.report, self.size.width or 100)):
            if index:
                text.append("\n")
            for part, tone in runs:
                text.append(part, tones.style(self, tone))
        self.update(text)
