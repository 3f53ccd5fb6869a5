"""One sentinel pass: a stream's new events through the rules, and the results
written in one fenced transaction with the cursor and the rules' state."""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from sentinel.findings.store import FindingStore
from sentinel.rules.model import Event, StreamPass
from sentinel.worker.models import Claim, Completed, Counts, LeaseLost
from sentinel.worker.packs import RuleSource
from sentinel.worker.store import Completion, RunStore

log = logging.getLogger(__name__)

MAX_PROBLEMS_KEPT = 100


class CursorMoved(Exception):
    """The stream's cursor moved while the pass ran (a replay): run it again."""


class PassRunner:
    def __init__(self, pool: ConnectionPool, rules: RuleSource, *, batch_events: int) -> None:
        self.pool = pool
        self.rules = rules
        self.batch_events = batch_events

    def run(
        self, claim: Claim, worker_id: int, lost: threading.Event | None = None
    ) -> Completed | LeaseLost:
        engine = self.rules.engine()
        with self.pool.connection() as conn:
            store = RunStore(conn)
            bounds = store.pass_bounds(claim.stream_id)
            from_xact = int(bounds["cursor_xid"])
            horizon = max(int(bounds["horizon"]), from_xact)
            upper = store.batch_upper(claim.stream, from_xact, horizon, self.batch_events)
            rows = store.events(claim.stream, from_xact, upper)
            states = store.rule_states(claim.stream_id)
        events = [Event(*row) for row in rows]
        result = engine.run(
            claim.stream,
            events,
            states,
            now=bounds["db_now"],
            last_event_at=bounds["last_event_at"],
        )
        if lost is not None and lost.is_set():
            return LeaseLost(claim.id)
        changed = {ref: st for ref, st in result.states.items() if states.get(ref) != st}
        last_id = max((e.id for e in events), default=None)
        first_id = min((e.id for e in events), default=None)
        lease_lost = False
        with self.pool.connection() as conn, conn.transaction():
            store = RunStore(conn)
            if result.findings and not store.lock_for_completion(claim, worker_id):
                return LeaseLost(claim.id)  # before writing anything
            written = FindingStore(conn).write(claim.id, result.findings)
            store.save_states(claim.stream_id, changed)
            counts = Counts(
                events=len(events),
                detections=written.detections,
                evidence=written.evidence,
                recommendations=written.recommendations,
                problems=len(result.problems),
                severities=written.severities,
            )
            outcome = store.complete(
                claim,
                worker_id,
                from_xact=from_xact,
                to_xact=upper,
                first_event_id=first_id,
                last_event_id=last_id,
                counts=counts,
                problems=_problems(result),
            )
            if outcome is Completion.CURSOR_MOVED:
                raise CursorMoved(f"cursor of {claim.stream} moved during the pass")
            if outcome is Completion.LEASE_LOST:
                lease_lost = True
                raise psycopg.Rollback  # undo the findings; leave the run alone
        if lease_lost:
            return LeaseLost(claim.id)
        return Completed(claim.id, counts)


def _problems(result: StreamPass) -> list[dict[str, Any]]:
    return [
        {"rule": p.rule_ref, "event_id": p.event_id, "reason": p.reason}
        for p in result.problems[:MAX_PROBLEMS_KEPT]
    ]
