"""The notification outbox: what a pass's findings must tell (written in the
pass's fenced transaction, beside the findings), the cooldown's repeats, and
the delivery lease (claim, sent, failed, skipped), one method per statement.
The caller owns the connection and the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from sentinel.db import queries
from sentinel.notify import routing
from sentinel.notify_config import Notifications
from sentinel.rules.model import Finding
from sentinel.types import NotificationKind, RecommendationStatus

SQL = queries.beside(__file__)

MAX_BATCH = 50  # notifications in one message at most
EPISODE_EVIDENCE = ("episode", "flood")  # a finding with an end (see findings.store.cleared)


@dataclass(frozen=True)
class Claimed:
    """A notification this worker is delivering, and the message it is in."""

    id: int
    detection_id: int
    recommendation_id: int
    route: str
    channel: str
    kind: str
    idempotency_key: str
    batch_key: str
    attempts: int
    max_attempts: int
    payload: dict[str, Any]
    created: datetime
    db_now: datetime


@dataclass(frozen=True)
class Depth:
    depth: int
    oldest_age: float


class Outbox:
    def __init__(
        self, conn: psycopg.Connection, config: Notifications, now: datetime | None = None
    ) -> None:
        self.conn = conn
        self.config = config
        self.now = now  # None: the database's clock; tests pin it

    # ---- writing, in the pass's transaction ------------------------------

    def enqueue(self, findings: Sequence[Finding]) -> int:
        """The notifications these just-written findings need, written once
        each: a firing for every routed channel not yet told (never for a
        finding reviewed, shelved or suppressed, nor for one that was already
        over when first seen by routing), and a cleared notice where a firing
        went or goes out and the route asks for it (Alertmanager always)."""
        if not self.config.enabled or not findings:
            return 0
        momentary = {
            f.fingerprint
            for f in findings
            if not any(e.kind in EPISODE_EVIDENCE for e in f.evidence)
        }
        with self.conn.cursor(row_factory=dict_row) as cur:
            stored = cur.execute(
                SQL["finding_targets"], {"fingerprints": sorted({f.fingerprint for f in findings})}
            ).fetchall()
        rows: list[dict[str, Any]] = []
        for finding in stored:
            rows += self._needed(finding, finding["fingerprint"] in momentary)
        if not rows:
            return 0
        for n, row in enumerate(rows):
            row["n"] = n
        written = self.conn.execute(
            SQL["enqueue"],
            {"rows": Jsonb(rows), "now": self.now, "max_attempts": self.config.max_attempts},
        ).fetchall()
        return len(written)

    def _needed(self, finding: dict[str, Any], momentary: bool) -> list[dict[str, Any]]:
        subject = routing.Subject(finding["severity"], finding["stream"], finding["rule_ref"])
        told = {tuple(t) for t in finding["told"]}
        resolved = {tuple(t) for t in finding["resolved"]}
        notifiable = (
            finding["status"] == RecommendationStatus.OPEN
            and finding["shelf_id"] is None
            and finding["suppressed_by"] is None
        )
        cleared = finding["cleared_at"] is not None
        out = []
        for route, channel in routing.targets(self.config, subject):
            pair = (route.name, channel)
            firing = notifiable and pair not in told and (not cleared or finding["new"])
            if firing:
                out.append(self._row(finding, route, channel, NotificationKind.FIRING, subject))
            wants_cleared = route.send_cleared or self.config.channels[channel].type == (
                "alertmanager"
            )
            if (
                cleared
                and not momentary
                and wants_cleared
                and (firing or pair in told)
                and pair not in resolved
            ):
                out.append(self._row(finding, route, channel, NotificationKind.RESOLVED, subject))
        return out

    def _row(
        self,
        finding: dict[str, Any],
        route: Any,
        channel: str,
        kind: NotificationKind,
        subject: routing.Subject,
    ) -> dict[str, Any]:
        key = routing.idempotency_key(finding["fingerprint"], route.name, channel, kind.value)
        return {
            "detection_id": finding["detection_id"],
            "recommendation_id": finding["recommendation_id"],
            "route": route.name,
            "channel": channel,
            "kind": kind.value,
            "idempotency_key": key,
            "group_key": routing.group_key(route, channel, subject, key),
            "wait": route.group_wait if kind == NotificationKind.FIRING else 0.0,
            "payload": payload(finding, self.config.api_url),
        }

    # ---- the notifier's statements ----------------------------------------

    def enqueue_repeats(self) -> int:
        intervals = [
            {"route": route.name, "channel": channel, "secs": self._interval(route, channel)}
            for route in self.config.routes
            for channel in route.channels
        ]
        written = self.conn.execute(
            SQL["enqueue_repeats"],
            {
                "intervals": Jsonb(intervals),
                "now": self.now,
                "max_attempts": self.config.max_attempts,
            },
        ).fetchall()
        return len(written)

    def _interval(self, route: Any, channel: str) -> float:
        """Alertmanager forgets an alert at its endsAt: while the finding is
        active, it is posted again every `refresh` (it has its own repeat)."""
        config = self.config.channels[channel]
        if config.type == "alertmanager":
            return config.refresh
        return float(route.repeat_interval)

    def skip_stale(self) -> int:
        return len(self.conn.execute(SQL["skip_stale"]).fetchall())

    def requeue_expired(self) -> int:
        return len(self.conn.execute(SQL["requeue_expired"], {"now": self.now}).fetchall())

    def claim(self, worker_id: int, lease_seconds: float) -> list[Claimed]:
        with self.conn.cursor(row_factory=class_row(Claimed)) as cur:
            return cur.execute(
                SQL["claim"],
                {
                    "now": self.now,
                    "worker_id": worker_id,
                    "lease": lease_seconds,
                    "max_batch": MAX_BATCH,
                },
            ).fetchall()

    def sent(self, ids: Sequence[int], worker_id: int) -> list[float]:
        """The delivery latencies (created → sent) of those still ours."""
        rows = self.conn.execute(
            SQL["sent"], {"ids": list(ids), "worker_id": worker_id, "now": self.now}
        ).fetchall()
        return [float(r[1]) for r in rows]

    def failed(
        self,
        ids: Sequence[int],
        worker_id: int,
        error: str,
        delay_seconds: float,
        *,
        permanent: bool = False,
    ) -> list[str]:
        rows = self.conn.execute(
            SQL["failed"],
            {
                "ids": list(ids),
                "worker_id": worker_id,
                "error": error[:2000],
                "delay": delay_seconds,
                "permanent": permanent,
                "now": self.now,
            },
        ).fetchall()
        return [str(r[1]) for r in rows]

    def skip(self, ids: Sequence[int], worker_id: int, reason: str) -> int:
        rows = self.conn.execute(
            SQL["skip"], {"ids": list(ids), "worker_id": worker_id, "reason": reason}
        ).fetchall()
        return len(rows)

    def depth(self) -> Depth:
        row = self.conn.execute(SQL["depth"], {"now": self.now}).fetchone()
        assert row is not None
        return Depth(int(row[0]), float(row[1]))

    def prune(self, older_than_seconds: float, batch: int = 1000) -> int:
        cur = self.conn.execute(
            SQL["prune"], {"now": self.now, "older_than": older_than_seconds, "batch": batch}
        )
        return cur.rowcount


def retry(conn: psycopg.Connection, notification_id: int, now: datetime | None = None) -> str:
    """An operator's retry; '' when done, else the status that refused it."""
    if conn.execute(SQL["retry"], {"id": notification_id, "now": now}).fetchone():
        return ""
    row = conn.execute(SQL["status"], {"id": notification_id}).fetchone()
    return str(row[0]) if row else "missing"


def payload(finding: dict[str, Any], api_url: str | None) -> dict[str, Any]:
    """What a message says about the finding, as it stood when written."""
    link = None
    if api_url:
        link = f"{api_url.rstrip('/')}/api/detections/{finding['detection_id']}"
    cleared = finding["cleared_at"]
    return {
        "detection_id": finding["detection_id"],
        "recommendation_id": finding["recommendation_id"],
        "fingerprint": finding["fingerprint"],
        "severity": finding["severity"],
        "stream": finding["stream"],
        "rule": finding["rule_ref"],
        "summary": finding["summary"],
        "text": finding["text"],
        "first_seen": finding["first_seen"].isoformat(),
        "last_seen": finding["last_seen"].isoformat(),
        "cleared_at": cleared.isoformat() if cleared else None,
        "link": link,
    }
