"""Tables and JSON from the same dataclasses, for every list command."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import click


def as_json(rows: Sequence[Any]) -> str:
    return json.dumps([dataclasses.asdict(r) for r in rows], default=_default, indent=2)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def table(rows: Sequence[Any], columns: Sequence[tuple[str, Callable[[Any], Any]]]) -> str:
    cells = [[_text(fn(row)) for _, fn in columns] for row in rows]
    headers = [name for name, _ in columns]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    return "\n".join(lines)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def echo_rows(
    rows: Sequence[Any],
    columns: Sequence[tuple[str, Callable[[Any], Any]]],
    *,
    json_output: bool,
    empty: str,
) -> None:
    if json_output:
        click.echo(as_json(rows))
    elif not rows:
        click.echo(empty)
    else:
        click.echo(table(rows, columns))


def notice_limit(rows: Sequence[Any], limit: int, what: str) -> None:
    """Say on stderr (so that --json on stdout stays clean) when a list stops
    at its limit; the caller fetched one row more than the limit to know."""
    if len(rows) > limit:
        click.echo(
            f"sentinel: showing the newest {limit} {what}; more match (raise --limit)", err=True
        )


def one_line(text: str, width: int) -> str:
    """A cell on one line: line breaks folded, cut at `width` with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
