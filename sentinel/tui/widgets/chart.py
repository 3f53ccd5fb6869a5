"""A text chart of the triggering window: one column per point (or per bucket
of points), bars in Unicode eighth blocks, the limit or control lines drawn
across, triggering points in their own tone. No dependency beyond rich."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeGuard

from rich.text import Text
from textual.widgets import Static

from sentinel.tui.widgets import tones
from sentinel.views.rows import Detail, Point

BLOCKS = " ▁▂▃▄▅▆▇█"
LINE = "─"


@dataclass(frozen=True)
class Line:
    label: str
    value: float
    tone: str


def lines_for(detail: Detail) -> list[Line]:
    """The rule's limits (above/below and their clear levels), or the
    baseline's centre and ±3σ control limits."""
    out: list[Line] = []
    rule = detail.rule_as_was or {}
    for key, tone in (
        ("above", "bad"),
        ("below", "bad"),
        ("clear_below", "warn"),
        ("clear_above", "warn"),
    ):
        value = rule.get(key)
        if _number(value):
            out.append(Line(key, float(value), tone))
    base = detail.baseline or {}
    mean, sigma = base.get("mean"), base.get("sigma")
    if _number(mean):
        out.append(Line("mean", float(mean), "info"))
        if _number(sigma):
            out.append(Line("+3σ", float(mean) + 3 * float(sigma), "warn"))
            out.append(Line("-3σ", float(mean) - 3 * float(sigma), "warn"))
    return out


def _number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def plot(
    points: Sequence[Point], lines: Sequence[Line], width: int, height: int = 8
) -> list[list[tuple[str, str | None]]]:
    """Rows (top first) of (text, tone) runs: a left axis, the bars, the line labels."""
    if not points:
        return [[("no chartable points in the evidence", "muted")]]
    label_width = max((len(f"{line.label} {line.value:g}") for line in lines), default=0)
    axis_width = 9
    room = max(width - axis_width - (label_width + 3 if lines else 0), 8)
    columns = _buckets(points, room)
    values = [c[0] for c in columns] + [line.value for line in lines]
    lo, hi = min(values), max(values)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    pad = (hi - lo) * 0.05
    lo, hi = lo - pad, hi + pad
    span = hi - lo

    def row_of(value: float) -> int:  # 0 = bottom
        return min(height - 1, max(0, int((value - lo) / span * height)))

    line_rows: dict[int, Line] = {}
    for line in sorted(lines, key=lambda ln: ln.tone == "info"):  # limits win a shared row
        line_rows.setdefault(row_of(line.value), line)
    rows: list[list[tuple[str, str | None]]] = []
    for r in range(height - 1, -1, -1):
        axis = f"{hi:>8.4g}┤" if r == height - 1 else f"{lo:>8.4g}┤" if r == 0 else " " * 8 + "│"
        runs: list[tuple[str, str | None]] = [(axis, "muted")]
        on_row = line_rows.get(r)
        for value, triggering in columns:
            eighths = round((value - lo) / span * height * 8)
            filled = eighths - r * 8
            if filled >= 8:
                ch = BLOCKS[8]
            elif filled > 0:
                ch = BLOCKS[filled]
            else:
                ch = ""
            if ch:
                runs.append((ch, "bad" if triggering else "info"))
            elif on_row is not None:
                runs.append((LINE, on_row.tone))
            else:
                runs.append((" ", None))
        if on_row is not None:
            runs.append((f" {LINE} {on_row.label} {on_row.value:g}", on_row.tone))
        rows.append(runs)
    return rows


def _buckets(points: Sequence[Point], room: int) -> list[tuple[float, bool]]:
    """One column per point, or the most extreme point of each bucket."""
    if len(points) <= room:
        repeat = max(1, min(3, room // len(points)))
        return [(p.value, p.triggering) for p in points for _ in range(repeat)]
    size = len(points) / room
    out = []
    for i in range(room):
        chunk = points[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)]
        mean = sum(p.value for p in chunk) / len(chunk)
        extreme = max(chunk, key=lambda p: abs(p.value - mean))
        out.append((extreme.value, any(p.triggering for p in chunk)))
    return out


class Chart(Static):
    COMPONENT_CLASSES: ClassVar[set[str]] = set(tones.COMPONENT_CLASSES)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: Detail | None = None

    def show(self, detail: Detail) -> None:
        self.detail = detail
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        if self.detail is None:
            return
        width = self.size.width or 80
        text = Text(no_wrap=True, overflow="crop")
        rows = plot(self.detail.points, lines_for(self.detail), width)
        for index, runs in enumerate(rows):
            if index:
                text.append("\n")
            for part, tone in runs:
                text.append(part, tones.style(self, tone))
        self.update(text)
