"""Formatting shared by the CLI and the dashboard: short ages and durations,
capped counts, clock times, one-line text."""

from __future__ import annotations

from datetime import datetime


def age(seconds: float | None) -> str:
    """`42s`, `3m`, `5h`, `2d`; `-` when unknown."""
    if seconds is None:
        return "-"
    seconds = max(seconds, 0.0)
    if seconds < 100:
        return f"{seconds:.0f}s"
    if seconds < 100 * 60:
        return f"{seconds / 60:.0f}m"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.0f}d"


def duration(seconds: float | None) -> str:
    """`0.4s`, `12s`, `3m05s`, `2h10m`."""
    if seconds is None:
        return "-"
    seconds = max(seconds, 0.0)
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def capped(value: int, cap: int) -> str:
    return f"{cap}+" if value >= cap else str(value)


def clock(value: datetime) -> str:
    return value.strftime("%H:%M:%S")


def window(value: datetime) -> str:
    return value.strftime("%m-%d %H:%M")


def one_line(text: str | None, limit: int = 200) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
