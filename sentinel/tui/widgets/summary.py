"""The header line: database, fleet, runs, open recommendations, event rate,
last refresh, paused."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.widgets import Static

from sentinel import format as fmt
from sentinel.tui.widgets import tones
from sentinel.views.rows import Summary

REPLICA_LAG_WARN = 10.0  # seconds behind the primary worth a look


class SummaryBar(Static):
    COMPONENT_CLASSES: ClassVar[set[str]] = set(tones.COMPONENT_CLASSES)

    def __init__(self, database: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.database = database
        self.summary: Summary | None = None
        self.paused = False
        self.interval = 2.0

    def on_mount(self) -> None:
        self.redraw()

    def show(self, summary: Summary | None, *, paused: bool, interval: float) -> None:
        if summary is not None:
            self.summary = summary
        self.paused = paused
        self.interval = interval
        self.redraw()

    def redraw(self) -> None:
        self.update(self.render_text())

    def render_text(self) -> Text:
        t = Text(no_wrap=False)

        def add(text: str, tone: str | None = None) -> None:
            t.append(text, tones.style(self, tone))

        add("Sentinel ", "accent")
        add(self.database, "muted")
        s = self.summary
        if s is not None:
            add(f"  {fmt.clock(s.now)} UTC", "muted")
        if s is not None and s.replica_lag is not None:
            # Reading a replica: how stale what is shown may be.
            lag, warn = s.replica_lag, s.replica_lag >= REPLICA_LAG_WARN
            add(f"  replica lag {fmt.duration(lag)}", "warn" if warn else "muted")
        add(f" every {self.interval:g}s", "muted")
        if self.paused:
            add("  PAUSED", "warn")
        if s is None:
            add("\nconnecting…")
            return t
        add("\nworkers ")
        for status, tone in tones.WORKER_STATUS_TONE.items():
            add(f"{s.workers.get(status, 0)} {status}", tone if s.workers.get(status) else None)
            add(" ")
        add(f"│ {fmt.capped(s.events_last_minute, s.count_cap)} events/min")
        add("\nruns ")
        add(f"{s.queued} queued ", "muted")
        if s.retrying:
            add(f"{s.retrying} retrying ", "warn")
        add(f"{s.running} running ", "active" if s.running else None)
        add(f"{fmt.capped(s.dead, s.count_cap)} dead ", "bad" if s.dead else None)
        add("│ open ")
        # Counted up to the cap in all: past it, each figure is a lower bound.
        partial = sum(s.open_recommendations.values()) >= s.count_cap
        for severity in ("critical", "warning", "info"):
            n = s.open_recommendations.get(severity, 0)
            shown = f"{n}+" if partial and n else str(n)
            add(f"{shown} {severity}", tones.SEVERITY_TONE[severity] if n else None)
            add(" ")
        return t
