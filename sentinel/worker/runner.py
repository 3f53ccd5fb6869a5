"""One sentinel pass: a stream's new events through the rules, and the results
written batch by batch, each in one fenced transaction with the cursor and the
rules' state (a batch that found nothing shares its transaction with other
passes' through the batch completer, completer.py)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg_pool import ConnectionPool

from sentinel.completions.dsse import Signer
from sentinel.completions.store import CompletionStore
from sentinel.findings.models import Counts
from sentinel.findings.store import FindingStore
from sentinel.notify.outbox import Outbox
from sentinel.notify_config import Notifications
from sentinel.rules.model import Event, StreamPass
from sentinel.worker.completer import BatchCompleter
from sentinel.worker.models import Claim, Completed, CursorMoved, LeaseLost, QuietBatch
from sentinel.worker.packs import RuleSource
from sentinel.worker.store import MAX_PROBLEMS_KEPT, Completion, RunStore

log = logging.getLogger(__name__)


# A replay that rewinds the cursor mid-pass discards the batch in hand; the
# pass then goes on from the new cursor. After this many, it gives the run back.
MAX_CURSOR_MOVES = 3


@dataclass(frozen=True)
class Batch:
    """The events of one batch of a pass and where it sits in the stream."""

    from_xact: int
    upper: int
    horizon: int
    events: list[Event]
    states: dict[str, dict[str, Any]]
    db_now: datetime
    last_event_at: datetime | None
    replay_since: datetime | None  # a replay's rebuild: findings before it are not news

    @property
    def final(self) -> bool:
        return self.upper >= self.horizon


class PassRunner:
    def __init__(
        self,
        pool: ConnectionPool,
        rules: RuleSource,
        *,
        batch_events: int,
        notifications: Notifications | None = None,
        signer: Signer | None = None,
    ) -> None:
        self.pool = pool
        self.rules = rules
        self.batch_events = batch_events
        self.notifications = notifications  # the outbox's routes; None: none written
        self.signer = signer  # signs the completion record; None: stored unsigned
        # Batches with nothing to write are completed many at once (completer.py).
        self.completer = BatchCompleter(pool, signer)

    def run(
        self, claim: Claim, worker_id: int, lost: threading.Event | None = None
    ) -> Completed | LeaseLost | CursorMoved:
        """Everything the stream had when the pass started, in batches of about
        `batch_events`, each committed (findings, state, cursor) on its own so a
        stream far behind catches up in one run and a retry resumes from the
        last committed batch."""
        engine = self.rules.engine()
        budget = engine.budget()  # each rule's time, across the pass's batches
        total = Counts()
        horizon: int | None = None  # fixed at the start: a busy stream still ends
        moves = 0
        while True:
            batch = self._read(claim, horizon)
            horizon = batch.horizon
            result = engine.run(
                claim.stream,
                batch.events,
                batch.states,
                now=batch.db_now,
                last_event_at=batch.last_event_at,
                final=batch.final,
                budget=budget,
            )
            if lost is not None and lost.is_set():
                return LeaseLost(claim.id)
            counts = self._commit(claim, worker_id, batch, result, engine.suppressors)
            if counts is Completion.LEASE_LOST:
                return LeaseLost(claim.id)
            if counts is Completion.CURSOR_MOVED:
                moves += 1
                if moves > MAX_CURSOR_MOVES:
                    return CursorMoved(claim.id)
                log.info("cursor moved during the pass (a replay); reading on from it")
                continue
            total = total.plus(counts)
            if batch.final:
                return Completed(claim.id, total)

    def _read(self, claim: Claim, horizon: int | None) -> Batch:
        with self.pool.connection() as conn:
            store = RunStore(conn)
            bounds = store.pass_bounds(claim.stream_id)
            from_xact = int(bounds["cursor_xid"])
            if horizon is None:
                horizon = int(bounds["horizon"])
            horizon = max(horizon, from_xact)
            upper = store.batch_upper(claim.stream, from_xact, horizon, self.batch_events)
            events = store.events(claim.stream, from_xact, upper)
            states = store.rule_states(claim.stream_id)
        return Batch(
            from_xact=from_xact,
            upper=upper,
            horizon=horizon,
            events=events,
            states=states,
            db_now=bounds["db_now"],
            last_event_at=bounds["last_event_at"],
            replay_since=bounds["replay_since"],
        )

    def _commit(
        self,
        claim: Claim,
        worker_id: int,
        batch: Batch,
        result: StreamPass,
        suppressors: Mapping[str, tuple[str, ...]],
    ) -> Counts | Literal[Completion.LEASE_LOST, Completion.CURSOR_MOVED]:
        """One fenced transaction; nothing is written unless it returns Counts."""
        changed = {ref: st for ref, st in result.states.items() if batch.states.get(ref) != st}
        findings = result.findings
        if batch.replay_since is not None:
            findings = [f for f in findings if f.last_seen >= batch.replay_since]
        ids = [e.id for e in batch.events]
        if not findings:  # the common short run: completed with others at once
            outcome = self.completer.complete(
                QuietBatch(
                    claim=claim,
                    worker_id=worker_id,
                    from_xact=batch.from_xact,
                    to_xact=batch.upper,
                    first_event_id=min(ids, default=None),
                    last_event_id=max(ids, default=None),
                    events=len(batch.events),
                    problems=_problems(result),
                    final=batch.final,
                    next_due=result.next_due,
                    states=changed,
                )
            )
            if outcome is Completion.LEASE_LOST or outcome is Completion.CURSOR_MOVED:
                return outcome
            return Counts(events=len(batch.events), problems=len(result.problems))
        refused: Completion | None = None
        # Pipelined, so BEGIN goes out with the first statement, not alone.
        with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            store = RunStore(conn)
            if not store.lock_for_completion(claim, worker_id):
                return Completion.LEASE_LOST  # before writing anything
            written = FindingStore(conn).write(claim.id, findings, suppressors=suppressors)
            if self.notifications is not None:  # what they tell, in the same transaction
                Outbox(conn, self.notifications).enqueue(findings)
            store.save_states(claim.stream_id, changed)
            counts = Counts(
                events=len(batch.events),
                detections=written.detections,
                evidence=written.evidence,
                recommendations=written.recommendations,
                problems=len(result.problems),
                severities=written.severities,
            )
            outcome = store.complete(
                claim,
                worker_id,
                from_xact=batch.from_xact,
                to_xact=batch.upper,
                first_event_id=min(ids, default=None),
                last_event_id=max(ids, default=None),
                counts=counts,
                problems=_problems(result),
                final=batch.final,
                next_due=result.next_due,
            )
            if outcome is not Completion.DONE:
                refused = outcome
                raise psycopg.Rollback  # undo the findings; leave the run alone
            if batch.final:  # the run is complete: its (signed) record, in its transaction
                CompletionStore(conn, self.signer).record(claim.id)
        if refused is Completion.LEASE_LOST or refused is Completion.CURSOR_MOVED:
            return refused
        return counts


def _problems(result: StreamPass) -> list[dict[str, Any]]:
    return [
        {"rule": p.rule_ref, "event_id": p.event_id, "reason": p.reason}
        for p in result.problems[:MAX_PROBLEMS_KEPT]
    ]
