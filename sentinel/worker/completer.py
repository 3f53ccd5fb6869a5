"""The batch completer: the worker's passes that found nothing to write (the
common short run) are completed many at once, in one fenced statement and one
transaction with their completion records, instead of a statement and a
transaction each.

Group commit, no timer: a pass hands its batch in and waits. If no flush is
under way, it flushes everything waiting (its own batch too) at once;
otherwise its batch waits for the flush in progress to end and goes in the
next. An idle worker's pass is completed at once, as before; a busy worker's
are completed together, with no wait added beyond the flush they queue
behind. Each run keeps its own outcome: one whose lease or cursor is no
longer its own is left out and told so, the others complete."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from sentinel.completions.dsse import Signer
from sentinel.completions.store import CompletionStore
from sentinel.worker.models import QuietBatch
from sentinel.worker.store import Completion, RunStore

MAX_BATCH = 100  # runs in one statement: beyond, the next flush takes the rest


@dataclass
class _Waiting:
    batch: QuietBatch
    outcome: Completion | None = None
    error: BaseException | None = None


class BatchCompleter:
    def __init__(self, pool: ConnectionPool, signer: Signer | None = None) -> None:
        self.pool = pool
        self.signer = signer
        self._cond = threading.Condition()
        self._waiting: list[_Waiting] = []
        self._flushing = False

    def complete(self, batch: QuietBatch) -> Completion:
        """This batch's outcome once it is committed (or refused); raises what
        its flush raised (a database error: nothing of that flush written)."""
        mine = _Waiting(batch)
        with self._cond:
            self._waiting.append(mine)
        while True:
            with self._cond:
                while mine.outcome is None and mine.error is None and self._flushing:
                    self._cond.wait()
                if mine.outcome is not None:
                    return mine.outcome
                if mine.error is not None:
                    raise mine.error
                self._flushing = True  # this pass leads the next flush
                taken = self._take()
            try:
                outcomes = self._flush([w.batch for w in taken])
            except BaseException as exc:
                with self._cond:
                    for w in taken:
                        w.error = exc
                    self._flushing = False
                    self._cond.notify_all()
                if mine.error is not None:
                    raise
                continue  # not ours: ours still waits for a flush
            with self._cond:
                for w in taken:
                    w.outcome = outcomes[w.batch.claim.id]
                self._flushing = False
                self._cond.notify_all()

    def _take(self) -> list[_Waiting]:
        """What waits, in order, as one statement can take it: one worker's,
        one run per stream (the statement locks each stream once), at most
        MAX_BATCH. The rest stays for the next flush. Under the lock."""
        taken: list[_Waiting] = []
        streams: set[int] = set()
        worker = self._waiting[0].batch.worker_id
        for w in self._waiting:
            b = w.batch
            if len(taken) >= MAX_BATCH:
                break
            if b.worker_id != worker or b.claim.stream_id in streams:
                continue
            streams.add(b.claim.stream_id)
            taken.append(w)
        for w in taken:
            self._waiting.remove(w)
        return taken

    def _flush(self, batches: list[QuietBatch]) -> dict[int, Completion]:
        # Pipelined: BEGIN goes with the completion and COMMIT with the
        # records, two round trips for the whole flush.
        with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            outcomes, records = RunStore(conn).complete_many(batches, batches[0].worker_id)
            CompletionStore(conn, self.signer).record_rows(records)
        return outcomes
