"""Every statement of the lease protocol, one method each. The caller owns the
connection and the transaction."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from sentinel.control import runs
from sentinel.db import queries
from sentinel.findings.models import Counts
from sentinel.rules.model import Event
from sentinel.types import Channel
from sentinel.worker.models import Claim, QuietBatch, StreamsPlanned

SQL = queries.beside(__file__)

RUN_CHANNEL = Channel.RUN.value
MAX_PROBLEMS_KEPT = 100  # evaluation problems recorded on one run


class Completion(Enum):
    DONE = "done"
    LEASE_LOST = "lease lost"
    CURSOR_MOVED = "cursor moved"


class RunStore:
    def __init__(self, conn: psycopg.Connection, now: datetime | None = None) -> None:
        self.conn = conn
        # The time the protocol's statements go by: None is the database's
        # now() (production); tests pin it instead of sleeping or rewriting rows.
        self.now = now

    def discover_streams(self) -> list[str]:
        """The keys of streams seen in `event` and now created (see queries.sql)."""
        row = self.conn.execute(SQL["discover_streams"]).fetchone()
        return list(row[0]) if row else []

    def plan(
        self,
        interval_seconds: float,
        max_attempts: int,
        *,
        exact: bool = False,
        stream: str | None = None,
    ) -> int:
        row = self.conn.execute(
            SQL["plan"],
            {
                "now": self.now,
                "interval": interval_seconds,
                "max_attempts": max_attempts,
                "exact": exact,
                "stream_key": stream,
            },
        ).fetchone()
        planned = int(row[0]) if row else 0
        if planned:
            self.notify()
        return planned

    def plan_streams(
        self, keys: Sequence[str] | None, gap_seconds: float, max_attempts: int
    ) -> StreamsPlanned:
        """Plan the due streams of `keys` now (None: every enabled stream),
        at most one run per stream per gap (see queries.sql)."""
        rows = self.conn.execute(
            SQL["plan_streams"],
            {
                "now": self.now,
                "keys": None if keys is None else list(keys),
                "gap": gap_seconds,
                "max_attempts": max_attempts,
            },
        ).fetchall()
        result = StreamsPlanned(
            planned=[key for key, planned, _ in rows if planned],
            retry={key: float(r) for key, planned, r in rows if not planned and r is not None},
        )
        if result.planned:
            self.notify()
        return result

    def claim(self, worker_id: int, limit: int, lease_seconds: float) -> list[Claim]:
        if limit <= 0:
            return []
        with self.conn.cursor(row_factory=class_row(Claim)) as cur:
            return cur.execute(
                claim_statement(limit), {"worker_id": worker_id, "lease_seconds": lease_seconds}
            ).fetchall()

    def queue_depth(self) -> int:
        row = self.conn.execute(SQL["queue_depth"]).fetchone()
        return int(row[0]) if row else 0

    def pass_bounds(self, stream_id: int) -> dict[str, Any]:
        with self.conn.cursor(row_factory=dict_row) as cur:
            row = cur.execute(
                SQL["pass_bounds"], {"now": self.now, "stream_id": stream_id}
            ).fetchone()
        assert row is not None, f"stream {stream_id} vanished"
        return row

    def batch_upper(self, stream: str, from_xact: int, horizon: int, batch: int) -> int:
        row = self.conn.execute(
            SQL["batch_upper"],
            {
                "stream": stream,
                "from_xact": from_xact,
                "horizon": horizon,
                "batch": batch,
            },
        ).fetchone()
        if row is None:
            return horizon
        # Never split a transaction; a single huge one is read whole.
        return max(int(row[0]), from_xact + 1)

    def events(self, stream: str, from_xact: int, upper: int) -> list[Event]:
        with self.conn.cursor(row_factory=_event_row) as cur:
            cur.execute(
                SQL["pass_events"],
                {"stream": stream, "from_xact": from_xact, "upper": upper},
            )
            return cur.fetchall()

    def rule_states(self, stream_id: int) -> dict[str, dict[str, Any]]:
        rows = self.conn.execute(SQL["rule_states"], {"stream_id": stream_id}).fetchall()
        return {r[0]: r[1] for r in rows}

    def lock_for_completion(self, claim: Claim, worker_id: int) -> bool:
        row = self.conn.execute(
            SQL["lock_for_completion"],
            {"run_id": claim.id, "fence": claim.fence, "worker_id": worker_id},
        ).fetchone()
        return row is not None

    def save_states(self, stream_id: int, states: dict[str, dict[str, Any]]) -> None:
        if not states:
            return
        with self.conn.cursor() as cur:
            cur.executemany(
                SQL["save_state"],
                [
                    {
                        "now": self.now,
                        "stream_id": stream_id,
                        "rule_ref": ref,
                        "state": Jsonb(state),
                    }
                    for ref, state in states.items()
                ],
            )

    def complete(
        self,
        claim: Claim,
        worker_id: int,
        *,
        from_xact: int,
        to_xact: int,
        first_event_id: int | None,
        last_event_id: int | None,
        counts: Counts,
        problems: list[dict[str, Any]],
        final: bool = True,
        next_due: datetime | None = None,
    ) -> Completion:
        row = self.conn.execute(
            SQL["complete"],
            {
                "run_id": claim.id,
                "fence": claim.fence,
                "worker_id": worker_id,
                "stream_id": claim.stream_id,
                "from_xact": from_xact,
                "to_xact": to_xact,
                "first_event_id": first_event_id,
                "last_event_id": last_event_id,
                "event_count": counts.events,
                "detection_count": counts.detections,
                "evidence_count": counts.evidence,
                "recommendation_count": counts.recommendations,
                "problems": Jsonb(problems),
                "max_problems": MAX_PROBLEMS_KEPT,
                "final": final,
                "next_due": next_due,
                "channel": RUN_CHANNEL,
            },
        ).fetchone()
        assert row is not None
        if row[0]:
            return Completion.DONE
        return Completion.LEASE_LOST if row[1] else Completion.CURSOR_MOVED

    def complete_many(
        self, batches: Sequence[QuietBatch], worker_id: int
    ) -> tuple[dict[int, Completion], list[dict[str, Any]]]:
        """Complete these batches (distinct runs and streams, all `worker_id`'s)
        in one statement, each fenced on its own (see queries.sql): each run's
        outcome, and the record rows of the runs it completed, for
        `CompletionStore.record_rows` in this transaction."""
        items = [
            {
                "run_id": b.claim.id,
                "fence": b.claim.fence,
                "stream_id": b.claim.stream_id,
                "from_xact": b.from_xact,
                "to_xact": b.to_xact,
                "first_event_id": b.first_event_id,
                "last_event_id": b.last_event_id,
                "event_count": b.events,
                "problems": b.problems,
                "final": b.final,
                "next_due": None if b.next_due is None else b.next_due.isoformat(),
                "states": b.states,
            }
            for b in batches
        ]
        with self.conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                SQL["complete_many"],
                {
                    "now": self.now,
                    "items": Jsonb(items),
                    "run_ids": [b.claim.id for b in batches],
                    "stream_ids": [b.claim.stream_id for b in batches],
                    "worker_id": worker_id,
                    "max_problems": MAX_PROBLEMS_KEPT,
                    "channel": RUN_CHANNEL,
                },
            ).fetchall()
        outcomes = {
            int(r["run_id"]): Completion.DONE
            if r["completed"]
            else Completion.LEASE_LOST
            if r["cursor_unmoved"]
            else Completion.CURSOR_MOVED
            for r in rows
        }
        return outcomes, [r for r in rows if r["completed"] and r["final"]]

    def fail(
        self,
        claim: Claim,
        worker_id: int,
        error: str,
        delay_seconds: float,
        *,
        permanent: bool = False,
    ) -> str | None:
        """The run's new status, or None if the lease was lost."""
        row = self.conn.execute(
            SQL["fail"],
            {
                "now": self.now,
                "run_id": claim.id,
                "fence": claim.fence,
                "worker_id": worker_id,
                "error": error[:2000],
                "delay": delay_seconds,
                "permanent": permanent,
            },
        ).fetchone()
        return str(row[0]) if row else None

    def release(self, claim: Claim, worker_id: int) -> bool:
        cur = self.conn.execute(
            SQL["release"],
            {"now": self.now, "run_id": claim.id, "fence": claim.fence, "worker_id": worker_id},
        )
        return cur.rowcount == 1

    def replay(self, stream: str, since: datetime) -> int | None:
        """The operator's rewind (sentinel.control.runs.rewind), here beside
        the passes it prepares."""
        return runs.rewind(self.conn, stream, since)

    def prune_activity(self) -> int:
        """Drop the stream activity every stream has read; how many rows."""
        return self.conn.execute(SQL["prune_activity"]).rowcount

    def prune_finished(self, older_than_seconds: float, batch: int = 1000) -> int:
        cur = self.conn.execute(
            SQL["prune_finished"],
            {"now": self.now, "older_than": older_than_seconds, "batch": batch},
        )
        return cur.rowcount

    def notify(self) -> None:
        self.conn.execute("SELECT pg_notify(%s, '')", [RUN_CHANNEL])


def _event_row(cursor: Any) -> Callable[[Sequence[Any]], Event]:
    return Event._make


@functools.cache
def claim_statement(limit: int) -> sql.Composed:
    """The claim with its limit written in: as a parameter, the planner could
    not trust a generic plan and would plan every claim anew (a third of its
    cost). A worker's limit is its free slots, so a few texts per worker."""
    return sql.SQL(SQL["claim"]).format(limit=sql.Literal(int(limit)))
