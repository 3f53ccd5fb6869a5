"""3 Streams: cursor lag, newest event, open detections, silence, replays."""

from __future__ import annotations

from sentinel import format as fmt
from sentinel.tui.widgets.table import Column, LiveTable, Shown
from sentinel.views import statements
from sentinel.views.rows import StreamRow


class StreamsTable(LiveTable):
    TITLE = "Streams"
    COLUMNS = (
        Column("key", "stream"),
        Column("lag", "lag"),
        Column("last_event", "last event"),
        Column("open", "open det."),
        Column("state", "state"),
    )

    def shown(self, s: StreamRow) -> Shown:
        if not s.enabled:
            state, tone = "disabled", "muted"
        elif s.replaying:
            state, tone = "replaying", "accent"
        elif s.silent:
            state, tone = "silent", "warn"
        else:
            state, tone = "live", "ok"
        lag = fmt.capped(s.lag, statements.LAG_CAP) if s.lag_capped else str(s.lag)
        return Shown(
            key=str(s.id),
            cells=(
                (s.key, None, s.key),
                (lag, "warn" if s.lag_capped else None, s.lag),
                (fmt.age(s.last_event_age), tone if s.silent else None, s.last_event_age),
                (
                    str(s.open_detections),
                    "accent" if s.open_detections else None,
                    s.open_detections,
                ),
                (state, tone, state),
            ),
            fields={"stream": s.key, "status": state},
        )
