"""2 Runs: active runs and the latest ones."""

from __future__ import annotations

from sentinel import format as fmt
from sentinel.tui.widgets import tones
from sentinel.tui.widgets.table import Column, LiveTable, Shown
from sentinel.views.rows import RunRow

RECOVERED = "↺"
ERROR_WIDTH = 14  # the error's first characters, so the table fits 120 columns; enter: all of it


class RunsTable(LiveTable):
    TITLE = "Runs"
    COLUMNS = (
        Column("id", "run"),
        Column("stream", "stream"),
        Column("window", "window"),
        Column("status", "status"),
        Column("attempt", "try"),
        Column("owner", "owner"),
        Column("lease", "lease"),
        Column("counts", "ev/det/evi/rec"),
        Column("duration", "took"),
        Column("error", "error"),
    )

    def shown(self, r: RunRow) -> Shown:
        status = r.status + (f" {RECOVERED}{r.recovered}" if r.recovered else "")
        if r.lease_left is None:
            lease = "-"
        elif r.lease_left < 0:
            lease = "expired"
        else:
            lease = fmt.age(r.lease_left)
        lease_tone = "bad" if r.lease_left is not None and r.lease_left < 0 else None
        counts = f"{r.event_count}/{r.detection_count}/{r.evidence_count}/{r.recommendation_count}"
        return Shown(
            key=str(r.id),
            cells=(
                (str(r.id), None, r.id),
                (r.stream, None, r.stream),
                (fmt.window(r.window_start), None, r.window_start),
                (status, tones.RUN_STATUS_TONE.get(r.status), r.status),
                (f"{r.attempts}/{r.max_attempts}", None, r.attempts),
                (r.owner or "-", None, r.owner or ""),
                (lease, lease_tone, r.lease_left),
                (counts, None, r.event_count),
                (
                    fmt.duration(r.duration) + (" long" if r.long else ""),
                    "bad" if r.long else None,
                    r.duration,
                ),
                (fmt.one_line(r.error, ERROR_WIDTH), "bad" if r.error else None, r.error or ""),
            ),
            fields={"stream": r.stream, "status": r.status, "worker": r.owner or ""},
        )
