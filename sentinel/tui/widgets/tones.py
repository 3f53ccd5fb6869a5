"""Tones: the few colours the dashboard uses, as component classes so that the
colours themselves live in app.tcss."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

TONES = ("ok", "warn", "bad", "muted", "active", "info", "critical", "accent")
COMPONENT_CLASSES = frozenset(f"tone--{tone}" for tone in TONES)

SEVERITY_TONE = {"critical": "critical", "warning": "warn", "info": "info"}
RECOMMENDATION_STATUS_TONE = {"open": None, "acknowledged": "muted", "dismissed": "muted"}
RUN_STATUS_TONE = {
    "queued": "muted",
    "running": "active",
    "succeeded": "ok",
    "retrying": "warn",
    "failed": "bad",
    "dead": "bad",
}
WORKER_STATUS_TONE = {"active": "ok", "draining": "warn", "inactive": "muted"}


def style(widget: Widget, tone: str | None) -> Style | str:
    if tone is None:
        return ""
    return widget.get_component_rich_style(f"tone--{tone}", partial=True)


def toned(widget: Widget, *parts: tuple[str, str | None]) -> Text:
    """Text from (text, tone) parts."""
    text = Text()
    for part, tone in parts:
        text.append(part, style(widget, tone))
    return text
