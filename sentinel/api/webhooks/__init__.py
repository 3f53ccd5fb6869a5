"""Webhook deliveries → events in DESIGN.md's JSON shape: pure mappings, no
database, no clock (the receipt time comes in), no I/O.

Each mapping returns a `Mapped`: the events to store (possibly none, with the
reason it is ignored, answered 200), or raises `BadDelivery` with the reason
(answered 400, nothing stored)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class BadDelivery(ValueError):
    """The delivery cannot be read as the events it should hold."""


@dataclass(frozen=True)
class Mapped:
    events: list[dict[str, Any]] = field(default_factory=list)
    ignored: str | None = None  # why nothing is stored, when nothing is


def path(obj: Any, dotted: str) -> Any:
    """`obj["a"]["b"]` for "a.b", None where any step is missing."""
    for key in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def required(obj: Any, dotted: str, kind: type | tuple[type, ...]) -> Any:
    """The value at `dotted`, which must be of `kind` (a bool is no int)."""
    value = path(obj, dotted)
    if value is None:
        raise BadDelivery(f"missing {dotted}")
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int, float))):
        raise BadDelivery(f"{dotted} has the wrong type ({type(value).__name__})")
    if isinstance(value, str) and not value:
        raise BadDelivery(f"{dotted} is empty")
    return value


def optional(obj: Any, dotted: str, kind: type | tuple[type, ...]) -> Any:
    """The value at `dotted` when present and of `kind`, else None."""
    value = path(obj, dotted)
    if value is None or isinstance(value, bool) or not isinstance(value, kind):
        return None
    return value


def timestamp(value: Any, what: str) -> datetime:
    """An ISO-8601 time with its zone (GitHub's `2026-11-22T10:00:00Z`)."""
    if not isinstance(value, str):
        raise BadDelivery(f"missing {what}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadDelivery(f"{what} is not an ISO-8601 time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise BadDelivery(f"{what} has no time zone: {value[:40]!r}")
    return moment


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())
