"""The worker service: register, heartbeat, plan, claim, run passes, complete,
and drain on SIGTERM. `run_once()` is one full round for cron and tests."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg_pool

from sentinel import logs, metrics
from sentinel.db.connect import make_pool
from sentinel.errors import RegistrationRefused, first_line
from sentinel.registration.heartbeat import DB_ERRORS, Heartbeat
from sentinel.registration.registrar import Registration
from sentinel.settings import Settings, WorkerRole
from sentinel.worker.listener import Listener
from sentinel.worker.models import Claim, Completed, Failed, LeaseLost, Outcome
from sentinel.worker.packs import RuleSource
from sentinel.worker.runner import PassRunner
from sentinel.worker.store import RunStore

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # NOTIFY is only a hint: poll for due runs this often too
RETENTION_EVERY_SECONDS = 300.0


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


@dataclass
class RoundSummary:
    """What `run-once` did."""

    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def completed(self) -> list[Completed]:
        return [o for o in self.outcomes if isinstance(o, Completed)]

    @property
    def ok(self) -> bool:
        return all(isinstance(o, Completed) for o in self.outcomes)


class WorkerService:
    def __init__(
        self,
        settings: Settings,
        url: str,
        *,
        name: str | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.settings = settings
        self.url = url
        self.name = name or settings.resolved_worker_name()
        self.on_outcome = on_outcome
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._in_hand: dict[int, InHand] = {}
        self._unsettled: list[Unsettled] = []
        self._mutex = threading.Lock()
        self.refused: str | None = None  # another live process took our name
        self.pool: psycopg_pool.ConnectionPool | None = None
        self.registration: Registration | None = None
        self.heartbeat: Heartbeat | None = None
        self.listener: Listener | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.runner: PassRunner | None = None
        self._next_plan = 0.0
        self._next_discovery = 0.0
        self._next_retention = time.monotonic() + RETENTION_EVERY_SECONDS

    # ---- lifecycle -------------------------------------------------------

    def start(self) -> None:
        logs.bind_process(worker=self.name)
        capacity = self.settings.max_concurrent_runs
        self.pool = make_pool(self.url, max_size=capacity + 3, name=self.name)
        self.runner = PassRunner(
            self.pool,
            RuleSource(self.pool, self.settings.rules_path),
            batch_events=self.settings.batch_events,
        )
        self.registration = Registration(self.settings, self.url, self.pool, name=self.name)
        worker_id = self.registration.register()
        metrics.WORKER_INFO.info(
            {"name": self.name, "role": self.settings.worker_role.value, "version": _version()}
        )
        self.heartbeat = Heartbeat(
            self.registration,
            in_hand=self.in_hand_ids,
            on_lost=self._on_lost,
            on_requeued=self.wake.set,
            on_refused=self._on_refused,
        )
        # Read at scrape time, so the age keeps growing while heartbeats fail.
        metrics.HEARTBEAT_AGE.set_function(lambda: self.heartbeat.heartbeat_age)
        self.heartbeat.start()
        self.listener = Listener(self.url, on_notify=self.wake.set)
        self.listener.start()
        self.executor = ThreadPoolExecutor(capacity, thread_name_prefix=f"pass-{worker_id}")
        log.info(
            "worker started",
            extra={
                "action": "start",
                "worker_id": worker_id,
                "role": self.settings.worker_role.value,
                "capacity": capacity,
            },
        )

    def close(self) -> None:
        """Drain what is in hand (within the grace period), deregister, stop."""
        self.stopping.set()
        if self.registration is not None and self.registration.worker_id is not None:
            try:
                self.registration.set_status("draining")
            except DB_ERRORS:
                pass
        self._drain(self.settings.drain_grace_seconds)
        try:
            self._settle()
        except DB_ERRORS:
            pass  # their leases run out and the fleet recovers them
        for thread in (self.heartbeat, self.listener):
            if thread is not None:
                thread.stop()
        if self.registration is not None:
            try:
                self.registration.deregister()
            except DB_ERRORS as exc:
                log.warning("could not deregister", extra={"error": str(exc)})
                self.registration.lock.release()
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        if self.pool is not None:
            self.pool.close()
        log.info("worker stopped", extra={"action": "stop"})

    def request_stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def readiness(self) -> tuple[bool, str]:
        """For /readyz: registered, and the database answering."""
        if self.heartbeat is None or self.registration is None:
            return False, "not registered yet"
        if self.stopping.is_set():
            return False, "draining"
        return self.heartbeat.readiness()

    def _on_refused(self, reason: str) -> None:
        self.refused = reason
        self.request_stop()

    # ---- the loop --------------------------------------------------------

    def run_forever(self) -> None:
        backoff = 0.5
        while not self.stopping.is_set():
            try:
                self.tick()
                backoff = 0.5
                timeout = POLL_SECONDS
            except DB_ERRORS as exc:
                log.warning(
                    "database unavailable; retrying",
                    extra={"action": "tick", "error": str(exc), "retry_in": round(backoff, 1)},
                )
                timeout = backoff * random.uniform(0.5, 1.5)
                backoff = min(backoff * 2, 10.0)
            self.wake.wait(timeout)
            self.wake.clear()
        if self.refused is not None:
            raise RegistrationRefused(self.refused)

    def tick(self) -> None:
        """Settle what an outage left unsaid, plan if due, claim up to capacity."""
        self._settle()
        now = time.monotonic()
        if self.settings.worker_role != WorkerRole.SENTINEL and now >= self._next_plan:
            self.plan()
            # Planning again within a tick is a no-op, so plan a few times per
            # tick: a worker whose clock is off from the database's still
            # catches every window.
            interval = self.settings.run_interval_seconds
            self._next_plan = now + min(interval, max(1.0, interval / 3))
        if now >= self._next_retention:
            self.prune()
            self._next_retention = now + RETENTION_EVERY_SECONDS
        if self.settings.worker_role != WorkerRole.SCHEDULER:
            self.claim_and_submit()

    def plan(self, *, exact: bool = False) -> int:
        assert self.pool is not None
        found: list[str] = []
        with self.pool.connection() as conn:
            store = RunStore(conn)
            # Streams that connectors started in `event`: one index probe per
            # stream, so once per run interval rather than at every plan.
            if time.monotonic() >= self._next_discovery:
                found = store.discover_streams()
                self._next_discovery = time.monotonic() + self.settings.run_interval_seconds
            planned = store.plan(
                self.settings.run_interval_seconds, self.settings.max_attempts, exact=exact
            )
            metrics.QUEUE_DEPTH.set(store.queue_depth())
        if found:
            log.info(
                "new streams",
                extra={"action": "discover", "count": len(found), "streams": found[:20]},
            )
        if planned:
            log.info("runs planned", extra={"action": "plan", "planned": planned})
        return planned

    def prune(self) -> int:
        assert self.pool is not None
        removed = 0
        older_than = self.settings.run_retention_days * 86400
        with self.pool.connection() as conn:
            store = RunStore(conn)
            while (batch := store.prune_finished(older_than)) > 0:
                removed += batch
                if self.stopping.is_set():
                    break
        if removed:
            log.info("old runs pruned", extra={"action": "retention", "removed": removed})
        return removed

    def claim_and_submit(self) -> int:
        assert self.pool is not None and self.registration is not None
        assert self.executor is not None
        free = self.settings.max_concurrent_runs - len(self._in_hand)
        if free <= 0 or self.stopping.is_set():
            return 0
        worker_id = self.registration.worker_id
        assert worker_id is not None
        with self.pool.connection() as conn:
            claims = RunStore(conn).claim(worker_id, free, self.settings.lease_seconds)
        for claim in claims:
            metrics.RUNS_CLAIMED.inc()
            held = InHand(claim)
            with self._mutex:
                self._in_hand[claim.id] = held
            held.future = self.executor.submit(self._execute, held, worker_id)
        metrics.RUNS_IN_HAND.set(len(self._in_hand))
        return len(claims)

    # ---- one run ---------------------------------------------------------

    def _execute(self, held: InHand, worker_id: int) -> Outcome:
        claim = held.claim
        logs.bind(run_id=claim.id, stream=claim.stream)
        started = time.monotonic()
        log.info(
            "run started",
            extra={"action": "run_start", "attempt": claim.attempts, "fence": claim.fence},
        )
        try:
            outcome = self._attempt(held, worker_id)
            if isinstance(outcome, LeaseLost):
                self._give_back(claim)  # the loss may only have been suspected
        finally:
            with self._mutex:
                self._in_hand.pop(claim.id, None)
            metrics.RUNS_IN_HAND.set(len(self._in_hand))
            logs.bind(run_id=None, stream=None)
            self.wake.set()
        elapsed = time.monotonic() - started
        metrics.PASS_SECONDS.observe(elapsed)
        self._report(outcome, claim, elapsed)
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

    def _attempt(self, held: InHand, worker_id: int) -> Outcome:
        claim = held.claim
        assert self.runner is not None
        try:
            return self.runner.run(claim, worker_id, held.lost)
        except Exception as exc:  # any failure of the pass: retry with backoff
            error = f"{type(exc).__name__}: {exc}"
            delay = _backoff(claim.attempts, self.settings)
            try:
                assert self.pool is not None
                with self.pool.connection() as conn:
                    status = RunStore(conn).fail(claim, worker_id, error, delay)
            except DB_ERRORS as db_exc:
                # No longer in hand, so no longer renewed: recorded at the next
                # tick that reaches the database, else swept when its lease ends.
                log.warning(
                    "could not record failure; will retry",
                    extra={"action": "run_fail", "error": first_line(db_exc)},
                )
                self._defer(Unsettled(claim, error, delay))
                status = None
            if status is None:
                return (
                    LeaseLost(claim.id) if held.lost.is_set() else Failed(claim.id, "lost", error)
                )
            log.log(
                logging.ERROR if status == "dead" else logging.WARNING,
                "run failed",
                exc_info=not isinstance(exc, DB_ERRORS),
                extra={"action": "run_fail", "status": status, "retry_in": round(delay, 1)},
            )
            return Failed(claim.id, status, error)

    def _report(self, outcome: Outcome, claim: Claim, elapsed: float) -> None:
        extra: dict[str, object] = {"run_id": claim.id, "stream": claim.stream}
        if isinstance(outcome, Completed):
            c = outcome.counts
            metrics.RUNS_FINISHED.labels("succeeded").inc()
            metrics.EVENTS_PROCESSED.inc(c.events)
            metrics.RECOMMENDATIONS.inc(c.recommendations)
            for severity in c.severities:
                metrics.DETECTIONS.labels(severity).inc()
            log.info(
                "run completed",
                extra={
                    **extra,
                    "action": "run_complete",
                    "events": c.events,
                    "detections": c.detections,
                    "evidence": c.evidence,
                    "recommendations": c.recommendations,
                    "problems": c.problems,
                    "duration": round(elapsed, 3),
                },
            )
        elif isinstance(outcome, LeaseLost):
            metrics.LEASE_LOSSES.inc()
            log.warning("run lease lost; nothing written", extra={**extra, "action": "lease_lost"})
        else:
            if outcome.status in ("dead", "failed", "queued"):
                metrics.RUNS_FINISHED.labels("dead" if outcome.status == "dead" else "failed").inc()

    def _give_back(self, claim: Claim) -> None:
        """Requeue a run this worker stops working on, if the database says it
        is still ours; fenced, so harmless if someone else holds it now."""
        assert self.pool is not None and self.registration is not None
        worker_id = self.registration.worker_id
        if worker_id is None:
            return
        try:
            with self.pool.connection() as conn:
                if RunStore(conn).release(claim, worker_id):
                    log.info(
                        "run given back to the queue",
                        extra={"action": "release", "run_id": claim.id, "stream": claim.stream},
                    )
        except DB_ERRORS as exc:
            log.warning(
                "could not give the run back; will retry",
                extra={"action": "release", "run_id": claim.id, "error": first_line(exc)},
            )
            self._defer(Unsettled(claim, None))

    def _defer(self, item: Unsettled) -> None:
        with self._mutex:
            self._unsettled.append(item)

    def _settle(self) -> None:
        """Tell the database about the runs an outage made us drop: record
        the failure (with its backoff) or give the run back. Fenced: a run the
        fleet already recovered is left alone. Raises while it is still away."""
        with self._mutex:
            pending = list(self._unsettled)
        if not pending:
            return
        assert self.pool is not None and self.registration is not None
        worker_id = self.registration.worker_id
        assert worker_id is not None
        with self.pool.connection() as conn:
            store = RunStore(conn)
            for item in pending:
                if item.error is None:
                    store.release(item.claim, worker_id)
                else:
                    store.fail(item.claim, worker_id, item.error, item.delay)
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

    # ---- leases in hand --------------------------------------------------

    def in_hand_ids(self) -> set[int]:
        with self._mutex:
            return set(self._in_hand)

    def _on_lost(self, run_ids: set[int], reason: str) -> None:
        with self._mutex:
            for run_id in run_ids:
                if run_id in self._in_hand:
                    self._in_hand[run_id].lost.set()
        log.warning("stopped work on runs", extra={"runs": sorted(run_ids), "reason": reason})

    def _drain(self, grace: float) -> None:
        deadline = time.monotonic() + grace
        with self._mutex:
            held = list(self._in_hand.values())
        for item in held:
            if item.future is None:
                continue
            try:
                item.future.result(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:
                pass
        with self._mutex:
            left = list(self._in_hand.values())
        if not left or self.pool is None or self.registration is None:
            return
        for item in left:  # past the grace period: hand them back
            item.lost.set()
            self._give_back(item.claim)
        log.warning("released unfinished runs", extra={"runs": [i.claim.id for i in left]})

    # ---- one round (run-once) -------------------------------------------

    def run_once(self) -> RoundSummary:
        """Plan every enabled stream now, then claim and run until nothing
        claimable is left."""
        summary = RoundSummary()
        self.on_outcome = summary.outcomes.append
        self.plan(exact=True)
        while not self.stopping.is_set():
            claimed = self.claim_and_submit()
            with self._mutex:
                futures = [h.future for h in self._in_hand.values() if h.future is not None]
            if not claimed and not futures:
                break
            for future in futures:
                future.result()
        return summary


def _backoff(attempts: int, settings: Settings) -> float:
    """Exponential with full jitter between half and all of the step."""
    step = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** (attempts - 1))
    return step * random.uniform(0.5, 1.0)


def _version() -> str:
    from sentinel import __version__

    return __version__
