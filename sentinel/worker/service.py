"""The worker: the composition root of its services, and its loop.

`start()` registers and builds the services from `Settings` and a pool; the
loop ticks them until a stop is requested; `close()` drains and deregisters.
Each service owns one thing and has a `run_once()` that tests call directly:

- registration.heartbeat.Heartbeat — beats, renews the runs in hand, sweeps
  the dead (its own thread, so a long pass never starves it);
- planner.Planner — discovery and planning (scheduler and hybrid roles);
- executor.Executor — claims, passes, failures, give-backs, drain;
- maintenance.Maintenance — retention, the expiry of shelves;
- notifier.Notifier — delivery of the notification outbox (its own thread,
  so a slow receiver never holds up a claim), when routes are configured;
- alarms.AlarmGauges — the alarm-system health gauges, once a minute, when
  the worker serves /metrics.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field

import psycopg_pool

from sentinel import logs, metrics
from sentinel.completions.dsse import Signer
from sentinel.db.connect import make_pool, session_url
from sentinel.errors import RegistrationRefused, first_line
from sentinel.registration.heartbeat import DB_ERRORS, Heartbeat
from sentinel.registration.registrar import Registration
from sentinel.settings import Settings
from sentinel.types import WorkerRole
from sentinel.worker.alarms import AlarmGauges, AlarmGaugesConfig
from sentinel.worker.executor import Executor, ExecutorConfig
from sentinel.worker.listener import Listener
from sentinel.worker.maintenance import Maintenance, MaintenanceConfig
from sentinel.worker.models import Completed, Outcome
from sentinel.worker.notifier import Notifier, check_channels
from sentinel.worker.packs import RuleSource
from sentinel.worker.planner import Planner, PlannerConfig
from sentinel.worker.runner import PassRunner

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # NOTIFY is only a hint: poll for due runs this often too

# The pool serves what runs at once and no more: the passes (one connection
# each while they read or commit), the loop (settle, plan, claim) and the
# heartbeat thread (beat, sweep). The session connection (liveness lock,
# sweep turn, LISTEN) is apart: a worker holds at most this plus one.
POOL_BEYOND_PASSES = 2


def pool_size(settings: Settings) -> int:
    # The notifier's thread holds one more, briefly, between its deliveries.
    notifier = 1 if settings.notifications.enabled else 0
    return settings.max_concurrent_runs + POOL_BEYOND_PASSES + notifier


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


@dataclass(frozen=True)
class Services:
    """What a started worker is made of."""

    pool: psycopg_pool.ConnectionPool
    registration: Registration
    heartbeat: Heartbeat
    listener: Listener
    planner: Planner
    executor: Executor
    maintenance: Maintenance
    notifier: Notifier | None = None
    alarms: AlarmGauges | None = None  # with /metrics only


class WorkerService:
    def __init__(
        self,
        settings: Settings,
        url: str,
        *,
        name: str | None = None,
        pool: psycopg_pool.ConnectionPool | None = None,
    ) -> None:
        self.settings = settings
        self.url = url
        self.name = name or settings.resolved_worker_name()
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.refused: str | None = None  # another live process took our name
        self._own_pool = pool is None
        self._pool = pool
        self._services: Services | None = None

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the worker is not started")
        return self._services

    # ---- lifecycle -------------------------------------------------------

    def start(self) -> None:
        logs.bind_process(worker=self.name)
        settings = self.settings
        # Before registering: a bad key file or a missing channel secret stops the start.
        signer = _signer(settings)
        check_channels(settings.notifications)
        capacity = settings.max_concurrent_runs
        pool = self._pool or make_pool(
            self.url, max_size=pool_size(settings), name=self.name, pgbouncer=settings.pgbouncer
        )
        registration = Registration(settings, session_url(settings, self.url), pool, name=self.name)
        worker_id = registration.register()
        metrics.WORKER_INFO.info(
            {"name": self.name, "role": settings.worker_role.value, "version": _version()}
        )
        planner = Planner(pool, PlannerConfig.from_settings(settings))
        rules = RuleSource(
            pool,
            settings.rules_path,
            rule_budget_seconds=settings.rule_budget_seconds,
            flood_findings=settings.flood_findings,
        )
        runner = PassRunner(
            pool,
            rules,
            batch_events=settings.batch_events,
            notifications=settings.notifications if settings.notifications.enabled else None,
            signer=signer,
        )
        executor = Executor(
            pool,
            runner,
            ExecutorConfig.from_settings(settings),
            worker_id=worker_id,
            name=self.name,
            wake=self.wake,
        )
        heartbeat = Heartbeat(
            registration,
            in_hand=executor.in_hand_ids,
            on_lost=executor.on_lost,
            on_requeued=self.wake.set,
            on_refused=self._on_refused,
        )
        self._services = Services(
            pool=pool,
            registration=registration,
            heartbeat=heartbeat,
            # A scheduler also hears which streams got events, to plan them now.
            listener=Listener(
                self.url,
                on_notify=self.wake.set,
                on_streams=planner.announce if self._plans_events() else None,
            ),
            planner=planner,
            executor=executor,
            maintenance=Maintenance(pool, MaintenanceConfig.from_settings(settings), self.stopping),
            alarms=_alarm_gauges(pool, settings),
            notifier=(
                Notifier(
                    pool,
                    settings.notifications,
                    worker_id=worker_id,
                    retention_days=settings.run_retention_days,
                )
                if settings.notifications.enabled
                else None
            ),
        )
        # Read at scrape time, so the age keeps growing while heartbeats fail.
        metrics.HEARTBEAT_AGE.set_function(lambda: heartbeat.heartbeat_age)
        heartbeat.start()
        if self._services.notifier is not None:
            self._services.notifier.start()
        # The listener LISTENs on the session connection, not one of its own.
        registration.session.subscribe(self._services.listener)
        registration.session.start()
        log.info(
            "worker started",
            extra={
                "action": "start",
                "worker_id": worker_id,
                "role": settings.worker_role.value,
                "capacity": capacity,
            },
        )

    def close(self) -> None:
        """Drain what is in hand (within the grace period), deregister, stop."""
        self.stopping.set()
        parts = self._services
        if parts is None:
            if self._own_pool and self._pool is not None:
                self._pool.close()
            return
        try:
            parts.registration.set_status("draining")
        except DB_ERRORS:
            pass
        parts.executor.drain(self.settings.drain_grace_seconds)
        if parts.notifier is not None:
            parts.notifier.stop()  # a delivery cut short is sent again by another worker
        parts.heartbeat.stop()
        try:
            parts.registration.deregister()
        except DB_ERRORS as exc:
            log.warning("could not deregister", extra={"error": first_line(exc)})
        parts.registration.session.stop()  # the lock and LISTEN end with it
        parts.executor.close()
        if self._own_pool:
            parts.pool.close()
        log.info("worker stopped", extra={"action": "stop"})

    def request_stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def readiness(self) -> tuple[bool, str]:
        """For /readyz: registered, and the database answering."""
        if self._services is None:
            return False, "not registered yet"
        if self.stopping.is_set():
            return False, "draining"
        return self._services.heartbeat.readiness()

    def _plans_events(self) -> bool:
        return self.settings.worker_role != WorkerRole.SENTINEL and self.settings.event_planning

    def _wait_seconds(self) -> float:
        """Until the next poll, or sooner when the planner has streams to try."""
        if not self._plans_events():
            return POLL_SECONDS
        until = self.services.planner.next_due() - time.monotonic()
        return max(0.0, min(POLL_SECONDS, until))

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
                timeout = self._wait_seconds()
            except DB_ERRORS as exc:
                log.warning(
                    "database unavailable; retrying",
                    extra={
                        "action": "tick",
                        "error": first_line(exc),
                        "retry_in": round(backoff, 1),
                    },
                )
                timeout = backoff * random.uniform(0.5, 1.5)
                backoff = min(backoff * 2, 10.0)
            self.wake.wait(timeout)
            self.wake.clear()
        if self.refused is not None:
            raise RegistrationRefused(self.refused)

    def tick(self) -> None:
        """Settle what an outage left unsaid, claim up to capacity, plan if
        due, then claim what that planned."""
        parts = self.services
        role = self.settings.worker_role
        now = time.monotonic()
        parts.executor.settle()
        claims = role != WorkerRole.SCHEDULER
        if claims and not self.stopping.is_set():
            # First: a slot a pass just freed is filled before the planning
            # statements, which a busy fleet's notifications make frequent.
            parts.executor.claim_and_submit()
        if role != WorkerRole.SENTINEL:
            parts.planner.tick(now)
        parts.maintenance.tick(now)
        if parts.alarms is not None:
            parts.alarms.tick(now)
        if claims and not self.stopping.is_set():
            parts.executor.claim_and_submit()

    def run_once(self) -> RoundSummary:
        """Plan every due stream now, then claim and run until nothing
        claimable is left."""
        parts = self.services
        summary = RoundSummary()
        parts.executor.on_outcome.append(summary.outcomes.append)
        try:
            parts.maintenance.expire_shelves()  # before the passes: they see what is live
            parts.planner.run_once(exact=True)
            while not self.stopping.is_set():
                claimed = parts.executor.claim_and_submit()
                futures = parts.executor.futures()
                if not claimed and not futures:
                    break
                for future in futures:
                    future.result()
        finally:
            parts.executor.on_outcome.remove(summary.outcomes.append)
        return summary


def _signer(settings: Settings) -> Signer | None:
    if settings.signing_key_file is None:
        return None
    return Signer.from_file(settings.signing_key_file)


def _alarm_gauges(pool: psycopg_pool.ConnectionPool, settings: Settings) -> AlarmGauges | None:
    config = AlarmGaugesConfig.from_settings(settings)
    return AlarmGauges(pool, config) if config is not None else None


def _version() -> str:
    from sentinel import __version__

    return __version__
