"""5 Detections: the latest detections; enter for the evidence."""

from __future__ import annotations

from textual.binding import Binding

from sentinel import format as fmt
from sentinel.tui.widgets import tones
from sentinel.tui.widgets.recommendations import SEVERITY_RANK
from sentinel.tui.widgets.table import Column, LiveTable, Shown
from sentinel.views.rows import DetectionRow

SUMMARY_WIDTH = 28  # so a row fits 120 columns; enter shows the whole summary


class DetectionsTable(LiveTable):
    TITLE = "Detections"
    BINDINGS = [Binding("enter", "select_cursor", "Evidence")]
    COLUMNS = (
        Column("id", "id"),
        Column("severity", "severity"),
        Column("stream", "stream"),
        Column("rule", "rule"),
        Column("kind", "kind"),
        Column("last_seen", "last seen"),
        Column("review", "review"),
        Column("summary", "summary"),
    )

    def shown(self, d: DetectionRow) -> Shown:
        review = d.recommendation_status or "-"
        return Shown(
            key=str(d.id),
            cells=(
                (str(d.id), None, d.id),
                (d.severity, tones.SEVERITY_TONE.get(d.severity), SEVERITY_RANK.get(d.severity)),
                (d.stream, None, d.stream),
                (d.rule, None, d.rule),
                (d.kind, None, d.kind),
                (fmt.age(d.last_seen_age), None, d.last_seen_age),
                (review, tones.RECOMMENDATION_STATUS_TONE.get(review), review),
                (fmt.one_line(d.summary, SUMMARY_WIDTH), None, d.summary),
            ),
            fields={
                "severity": d.severity,
                "stream": d.stream,
                "rule": d.rule,
                "status": review,
            },
        )
