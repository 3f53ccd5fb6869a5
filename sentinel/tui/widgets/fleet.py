"""1 Fleet: the workers, their heartbeat age coloured against the settings."""

from __future__ import annotations

from dataclasses import dataclass

from sentinel import format as fmt
from sentinel.tui.widgets import tones
from sentinel.tui.widgets.table import Column, LiveTable, Shown
from sentinel.views.rows import WorkerRow


@dataclass(frozen=True)
class Thresholds:
    heartbeat_interval: float
    lease: float

    def heartbeat_tone(self, status: str, age: float | None) -> str:
        """Grey inactive; green under two intervals; yellow up to the lease; red beyond."""
        if status == "inactive":
            return "muted"
        if age is None:
            return "bad"
        if age < 2 * self.heartbeat_interval:
            return "ok"
        if age <= self.lease:
            return "warn"
        return "bad"


class FleetTable(LiveTable):
    TITLE = "Fleet"
    COLUMNS = (
        Column("name", "worker"),
        Column("role", "role"),
        Column("type", "type"),
        Column("host", "host"),
        Column("status", "status"),
        Column("heartbeat", "heartbeat"),
        Column("runs", "runs"),
        Column("runtimes", "runtimes"),
        Column("version", "version"),
        Column("uptime", "uptime"),
    )
    context: Thresholds = Thresholds(10.0, 30.0)

    def shown(self, w: WorkerRow) -> Shown:
        capacity = "?" if w.capacity is None else str(w.capacity)
        full = w.capacity is not None and w.running >= w.capacity
        return Shown(
            key=str(w.id),
            cells=(
                (w.name, None, w.name),
                (w.worker_role, None, w.worker_role),
                (w.worker_type, None, w.worker_type),
                (w.host or "-", None, w.host or ""),
                (w.status, tones.WORKER_STATUS_TONE.get(w.status), w.status),
                (
                    fmt.age(w.heartbeat_age),
                    self.context.heartbeat_tone(w.status, w.heartbeat_age),
                    w.heartbeat_age,
                ),
                (f"{w.running}/{capacity}", "accent" if full else None, w.running),
                (",".join(w.runtimes) or "-", None, ",".join(w.runtimes)),
                (w.version or "-", None, w.version or ""),
                (fmt.age(w.uptime), None, w.uptime),
            ),
            fields={"worker": w.name, "status": w.status, "role": w.worker_role},
        )
