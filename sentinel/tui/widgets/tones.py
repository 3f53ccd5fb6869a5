"""Tones: the few colours the dashboard uses, as component classes so that the
colours themselves live in app.tcss."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from sentinel.types import (
    FindingState,
    RecommendationStatus,
    Severity,
    ShownRunStatus,
    WorkerStatus,
)

TONES = ("ok", "warn", "bad", "muted", "active", "info", "critical", "accent")
COMPONENT_CLASSES = frozenset(f"tone--{tone}" for tone in TONES)

SEVERITY_TONE: dict[str, str | None] = {
    Severity.CRITICAL: "critical",
    Severity.WARNING: "warn",
    Severity.INFO: "info",
}
RECOMMENDATION_STATUS_TONE: dict[str, str | None] = {
    RecommendationStatus.OPEN: None,
    RecommendationStatus.ACKNOWLEDGED: "muted",
    RecommendationStatus.DISMISSED: "muted",
}
FINDING_STATE_TONE: dict[str, str | None] = {
    FindingState.UNACKNOWLEDGED_ACTIVE: "warn",
    FindingState.ACKNOWLEDGED_ACTIVE: None,
    FindingState.UNACKNOWLEDGED_CLEARED: "info",
    FindingState.DONE: "muted",
    FindingState.DISMISSED: "muted",
}
RUN_STATUS_TONE: dict[str, str | None] = {
    ShownRunStatus.QUEUED: "muted",
    ShownRunStatus.RUNNING: "active",
    ShownRunStatus.SUCCEEDED: "ok",
    ShownRunStatus.RETRYING: "warn",
    ShownRunStatus.FAILED: "bad",
    ShownRunStatus.DEAD: "bad",
}
WORKER_STATUS_TONE: dict[str, str | None] = {
    WorkerStatus.ACTIVE: "ok",
    WorkerStatus.DRAINING: "warn",
    WorkerStatus.INACTIVE: "muted",
}


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
