"""Execution: claim up to capacity, run each pass on a thread, record its
failure with backoff, give back what it stops working on, and settle what an
outage left unsaid. The runs in hand are what the heartbeat renews."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from psycopg_pool import ConnectionPool

from sentinel import logs, metrics
from sentinel.errors import first_line
from sentinel.registration.heartbeat import DB_ERRORS
from sentinel.settings import Settings
from sentinel.worker.models import Claim, CursorMoved, Failed, LeaseLost, Outcome
from sentinel.worker.report import report
from sentinel.worker.runner import PassRunner
from sentinel.worker.store import RunStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecutorConfig:
    max_concurrent_runs: int = 4
    lease_seconds: float = 30.0
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 300.0

    def __post_init__(self) -> None:
        if self.max_concurrent_runs < 1 or self.lease_seconds <= 0:
            raise ValueError(f"invalid executor config: {self}")

    @classmethod
    def from_settings(cls, settings: Settings) -> ExecutorConfig:
        return cls(
            settings.max_concurrent_runs,
            settings.lease_seconds,
            settings.retry_base_seconds,
            settings.retry_max_seconds,
        )

    def backoff(self, attempts: int) -> float:
        """Exponential with full jitter between half and all of the step."""
        step = min(self.retry_max_seconds, self.retry_base_seconds * 2.0 ** (attempts - 1))
        return step * random.uniform(0.5, 1.0)


@dataclass
class InHand:
    claim: Claim
    lost: threading.Event = field(default_factory=threading.Event)
    future: Future[Outcome] | None = None


@dataclass(frozen=True)
class Unsettled:
    """A run this worker stopped working on but could not yet tell the
    database about (it was away). Settled at the next tick that reaches it;
    fenced, so harmless if the fleet recovered the run meanwhile."""

    claim: Claim
    error: str | None  # None: give it back untouched; else record the failure
    delay: float = 0.0


class Executor:
    def __init__(
        self,
        pool: ConnectionPool,
        runner: PassRunner,
        config: ExecutorConfig,
        *,
        worker_id: int,
        name: str,
        wake: threading.Event,
    ) -> None:
        self.pool = pool
        self.runner = runner
        self.config = config
        self.worker_id = worker_id
        self.wake = wake
        self.on_outcome: list[Callable[[Outcome], None]] = []  # e.g. run-once's summary
        self._in_hand: dict[int, InHand] = {}
        self._unsettled: list[Unsettled] = []
        self._mutex = threading.Lock()
        self._threads = ThreadPoolExecutor(
            config.max_concurrent_runs, thread_name_prefix=f"pass-{name}"
        )

    # ---- claiming --------------------------------------------------------

    def claim_and_submit(self) -> int:
        """Claim up to the free slots and start their passes; how many."""
        free = self.config.max_concurrent_runs - len(self._in_hand)
        if free <= 0:
            return 0
        with self.pool.connection() as conn:
            claims = RunStore(conn).claim(self.worker_id, free, self.config.lease_seconds)
        for claim in claims:
            metrics.RUNS_CLAIMED.inc()
            held = InHand(claim)
            with self._mutex:
                self._in_hand[claim.id] = held
            held.future = self._threads.submit(self._execute, held)
        metrics.RUNS_IN_HAND.set(len(self._in_hand))
        return len(claims)

    def in_hand_ids(self) -> set[int]:
        with self._mutex:
            return set(self._in_hand)

    def futures(self) -> list[Future[Outcome]]:
        with self._mutex:
            return [h.future for h in self._in_hand.values() if h.future is not None]

    def on_lost(self, run_ids: set[int], reason: str) -> None:
        """The heartbeat says these leases are gone: stop working on them."""
        with self._mutex:
            for run_id in run_ids:
                if run_id in self._in_hand:
                    self._in_hand[run_id].lost.set()
        log.warning("stopped work on runs", extra={"runs": sorted(run_ids), "reason": reason})

    # ---- one run ---------------------------------------------------------

    def _execute(self, held: InHand) -> Outcome:
        claim = held.claim
        logs.bind(run_id=claim.id, stream=claim.stream)
        started = time.monotonic()
        log.info(
            "run started",
            extra={"action": "run_start", "attempt": claim.attempts, "fence": claim.fence},
        )
        try:
            outcome = self._attempt(held)
            if isinstance(outcome, LeaseLost | CursorMoved):
                self.give_back(claim)  # a loss may only have been suspected
        finally:
            with self._mutex:
                self._in_hand.pop(claim.id, None)
            metrics.RUNS_IN_HAND.set(len(self._in_hand))
            logs.bind(run_id=None, stream=None)
            self.wake.set()
        report(outcome, claim, time.monotonic() - started)
        for listener in self.on_outcome:
            listener(outcome)
        return outcome

    def _attempt(self, held: InHand) -> Outcome:
        claim = held.claim
        try:
            return self.runner.run(claim, self.worker_id, held.lost)
        except Exception as exc:  # any failure of the pass: retry with backoff
            error = f"{type(exc).__name__}: {exc}"
            delay = self.config.backoff(claim.attempts)
            try:
                with self.pool.connection() as conn:
                    status = RunStore(conn).fail(claim, self.worker_id, error, delay)
            except DB_ERRORS as db_exc:
                # No longer in hand, so no longer renewed: recorded at the next
                # tick that reaches the database, else swept when its lease ends.
                log.warning(
                    "could not record failure; will retry",
                    extra={"action": "run_fail", "error": first_line(db_exc)},
                )
                self.defer(Unsettled(claim, error, delay))
                return Failed(claim.id, None, error)
            if status is None:  # fenced out: someone else holds it now
                return LeaseLost(claim.id)
            log.log(
                logging.ERROR if status == "dead" else logging.WARNING,
                "run failed",
                exc_info=not isinstance(exc, DB_ERRORS),
                extra={"action": "run_fail", "status": status, "retry_in": round(delay, 1)},
            )
            return Failed(claim.id, status, error)

    # ---- giving back -----------------------------------------------------

    def give_back(self, claim: Claim) -> None:
        """Requeue a run this worker stops working on, if the database says it
        is still ours; fenced, so harmless if someone else holds it now."""
        try:
            with self.pool.connection() as conn:
                if RunStore(conn).release(claim, self.worker_id):
                    log.info(
                        "run given back to the queue",
                        extra={"action": "release", "run_id": claim.id, "stream": claim.stream},
                    )
        except DB_ERRORS as exc:
            log.warning(
                "could not give the run back; will retry",
                extra={"action": "release", "run_id": claim.id, "error": first_line(exc)},
            )
            self.defer(Unsettled(claim, None))

    def defer(self, item: Unsettled) -> None:
        with self._mutex:
            self._unsettled.append(item)

    def settle(self) -> None:
        """Tell the database about the runs an outage made us drop: record
        the failure (with its backoff) or give the run back. Fenced: a run the
        fleet already recovered is left alone. Raises while it is still away."""
        with self._mutex:
            pending = list(self._unsettled)
        if not pending:
            return
        with self.pool.connection() as conn:
            store = RunStore(conn)
            for item in pending:
                if item.error is None:
                    store.release(item.claim, self.worker_id)
                else:
                    store.fail(item.claim, self.worker_id, item.error, item.delay)
                with self._mutex:
                    self._unsettled.remove(item)
                log.info(
                    "run settled after an outage",
                    extra={
                        "action": "settle",
                        "run_id": item.claim.id,
                        "stream": item.claim.stream,
                    },
                )

    def drain(self, grace: float) -> None:
        """Let the passes in hand finish within `grace`, then hand back the rest."""
        deadline = time.monotonic() + grace
        for future in self.futures():
            try:
                future.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:
                pass
        with self._mutex:
            left = list(self._in_hand.values())
        for item in left:
            item.lost.set()
            self.give_back(item.claim)
        if left:
            log.warning("released unfinished runs", extra={"runs": [i.claim.id for i in left]})
        try:
            self.settle()
        except DB_ERRORS:
            pass  # their leases run out and the fleet recovers them

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
