"""Durations as rule packs write them: "90s", "5m", "2h", "1d", "1h30m";
a plain number is seconds."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from typing import Final

_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+")


def parse_duration(text: str | int | float) -> timedelta:
    """A non-negative duration; ValueError saying what is accepted otherwise."""
    if isinstance(text, bool):
        raise ValueError(f"bad duration {text!r}: expected e.g. 90s, 5m, 2h, 1d")
    if isinstance(text, int | float):
        seconds = float(text)
    elif isinstance(text, str):
        compact = text.strip().lower()
        if re.fullmatch(r"\d+(?:\.\d+)?", compact):
            seconds = float(compact)
        elif _WHOLE.fullmatch(compact):
            seconds = sum(float(n) * _UNITS[u] for n, u in _PART.findall(compact))
        else:
            raise ValueError(
                f"bad duration {text!r}: expected e.g. 90s, 5m, 2h, 1d, 1h30m, "
                "or a number of seconds"
            )
    else:
        raise ValueError(f"bad duration {text!r}: expected e.g. 90s, 5m, 2h, 1d")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"bad duration {text!r}: must be a finite, non-negative time")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta | float) -> str:
    """A short human form: 45s, 12m, 1h05m, 2d03h (for summaries)."""
    seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
    total = round(seconds)
    if total < 60:
        return f"{seconds:g}s" if seconds < 10 and seconds != total else f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m" if not secs else f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h" if hours else f"{days}d"
