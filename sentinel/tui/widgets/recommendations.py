"""4 Recommendations: open first, by severity, each with its combined state
(active or cleared, and the review); enter for the evidence, `a`
acknowledges and `d` dismisses (asking for a comment), `S` shelves what its
stream and rule match (asking for how long and why)."""

from __future__ import annotations

from textual.binding import Binding

from sentinel import format as fmt
from sentinel.tui.widgets import tones
from sentinel.tui.widgets.table import Column, LiveTable, Shown
from sentinel.views.rows import RecommendationRow

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
TEXT_WIDTH = 35  # so a row fits 120 columns; enter shows the whole text


class RecommendationsTable(LiveTable):
    TITLE = "Recommendations"
    BINDINGS = [
        Binding("enter", "select_cursor", "Evidence"),
        Binding("a", "app.review('acknowledge')", "Ack"),
        Binding("d", "app.review('dismiss')", "Dismiss"),
        Binding("S", "app.shelve", "Shelve"),
    ]
    COLUMNS = (
        Column("id", "id"),
        Column("severity", "severity"),
        Column("stream", "stream"),
        Column("rule", "rule"),
        Column("state", "state"),
        Column("age", "age"),
        Column("text", "recommendation"),
    )

    def shown(self, r: RecommendationRow) -> Shown:
        return Shown(
            key=str(r.id),
            cells=(
                (str(r.id), None, r.id),
                (r.severity, tones.SEVERITY_TONE.get(r.severity), SEVERITY_RANK.get(r.severity)),
                (r.stream, None, r.stream),
                (r.rule, None, r.rule),
                (r.state, tones.FINDING_STATE_TONE.get(r.state), r.state),
                (fmt.age(r.age), None, r.age),
                (fmt.one_line(r.text, TEXT_WIDTH), None, r.text),
            ),
            fields={
                "severity": r.severity,
                "stream": r.stream,
                "rule": r.rule,
                "status": r.status,
            },
        )
