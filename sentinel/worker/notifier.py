"""Delivery of the notification outbox, on its own thread so that a slow
receiver never holds up claims or passes. Each round: requeue deliveries
whose worker died, skip what is no longer worth telling, write the
cooldown's repeats, then claim one message at a time (SKIP LOCKED, under a
lease longer than any channel's timeout), send it and record the outcome:
sent, or failed with backoff and jitter until `dead` with the last error.
A worker killed mid-send leaves its lease to expire; another worker sends
the same message again under the same idempotency key."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

import httpx
from psycopg_pool import ConnectionPool

from sentinel import metrics
from sentinel.errors import ConfigError, first_line
from sentinel.notify import channels, routing
from sentinel.notify.outbox import Claimed, Outbox
from sentinel.notify_config import Notifications, SecretMissing
from sentinel.registration.heartbeat import DB_ERRORS

log = logging.getLogger(__name__)

T = TypeVar("T")

DEPTH_EVERY_SECONDS = 5.0  # the outbox's depth is sampled at most this often
PRUNE_EVERY_SECONDS = 3600.0


def check_channels(config: Notifications) -> None:
    """Every routed channel's secrets can be read now (a worker that could
    never deliver says so at its start, naming where, never the value)."""
    used = {c for route in config.routes for c in route.channels}
    for name in sorted(used):
        channel = config.channels[name]
        try:
            if channel.type != "email":
                channel.resolved_url()
            if channel.type == "webhook":
                channel.secret()
            channel.password()
        except SecretMissing as exc:
            raise ConfigError(f"notifications: channel {name}: {exc}") from None


class Notifier:
    def __init__(
        self,
        pool: ConnectionPool,
        config: Notifications,
        *,
        worker_id: int,
        retention_days: float = 7.0,
    ) -> None:
        self.pool = pool
        self.config = config
        self.worker_id = worker_id
        self.retention_days = retention_days
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(headers={"User-Agent": channels.USER_AGENT})
        self._sampled_at: float | None = None
        self._pruned_at: float | None = None
        self._sample = (0, 0.0)  # depth, oldest age as sampled
        metrics.OUTBOX_DEPTH.set_function(lambda: self._sample[0])
        # Grows between samples, so it stays true while the database is away.
        metrics.OUTBOX_OLDEST_AGE.set_function(self._oldest_age)
        for name in config.channels:
            for counter in (
                metrics.NOTIFICATIONS_SENT,
                metrics.NOTIFICATIONS_FAILED,
                metrics.NOTIFICATIONS_DEAD,
            ):
                counter.labels(name)

    # ---- the thread ----------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="notifier", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopping.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()

    def _loop(self) -> None:
        backoff = self.config.poll
        while not self.stopping.is_set():
            try:
                self.run_once()
                backoff = self.config.poll
            except DB_ERRORS as exc:
                log.warning(
                    "notifier: database unavailable; retrying",
                    extra={"action": "notify", "error": first_line(exc)},
                )
                backoff = min(backoff * 2, 10.0)
            self.wake.wait(backoff * random.uniform(0.8, 1.2))
            self.wake.clear()

    # ---- one round -------------------------------------------------------------

    def run_once(self, now: datetime | None = None) -> int:
        """Everything due now (`now` pins the clock for tests); how many
        notifications went out."""
        with self.pool.connection() as conn:
            outbox = Outbox(conn, self.config, now)
            outbox.requeue_expired()
            outbox.skip_stale()
            outbox.enqueue_repeats()
            self._maintain(outbox)
        sent = 0
        while not self.stopping.is_set():
            with self.pool.connection() as conn:
                claimed = Outbox(conn, self.config, now).claim(self.worker_id, self.config.lease)
            if not claimed:
                break
            sent += self._deliver(claimed, now)
        return sent

    def _deliver(self, claimed: list[Claimed], now: datetime | None) -> int:
        first = claimed[0]
        ids = [c.id for c in claimed]
        route = self.config.route(first.route)
        config = self.config.channels.get(first.channel)
        if route is None or config is None:
            reason = f"route {first.route!r} or channel {first.channel!r} no longer configured"
            self._record(lambda o: o.failed(ids, self.worker_id, reason, 0, permanent=True), now)
            metrics.NOTIFICATIONS_DEAD.labels(first.channel).inc(len(ids))
            return 0
        window = routing.muted_by(self.config, route, first.db_now)
        if window is not None:
            self._record(lambda o: o.skip(ids, self.worker_id, f"muted ({window})"), now)
            return 0
        message = channels.message_of(claimed)
        try:
            channels.deliver(config, message, self._client)
        except channels.DeliveryError as exc:
            return self._failed(claimed, exc, now)
        latencies = self._record(lambda o: o.sent(ids, self.worker_id), now)
        for latency in latencies:
            metrics.NOTIFICATIONS_SENT.labels(first.channel).inc()
            metrics.DELIVERY_SECONDS.labels(first.channel).observe(latency)
        log.info(
            "notification sent",
            extra={
                "action": "notify",
                "channel": first.channel,
                "route": first.route,
                "kind": first.kind,
                "notifications": ids,
                "key": message.key,
            },
        )
        return len(latencies)

    def _failed(
        self, claimed: list[Claimed], exc: channels.DeliveryError, now: datetime | None
    ) -> int:
        first = claimed[0]
        ids = [c.id for c in claimed]
        error = str(exc)
        delay = self.backoff(first.attempts)
        statuses = self._record(
            lambda o: o.failed(ids, self.worker_id, error, delay, permanent=exc.permanent), now
        )
        dead = statuses.count("dead")
        metrics.NOTIFICATIONS_FAILED.labels(first.channel).inc(len(statuses) - dead)
        metrics.NOTIFICATIONS_DEAD.labels(first.channel).inc(dead)
        log.log(
            logging.ERROR if dead else logging.WARNING,
            "notification failed",
            extra={
                "action": "notify",
                "channel": first.channel,
                "notifications": ids,
                "status": "dead" if dead else "failed",
                "error": error,
                "retry_in": None if dead else round(delay, 1),
            },
        )
        return 0

    def _record(self, write: Callable[[Outbox], T], now: datetime | None) -> T:
        with self.pool.connection() as conn:
            return write(Outbox(conn, self.config, now))

    def backoff(self, attempts: int) -> float:
        """Exponential with jitter between half and all of the step."""
        step = min(self.config.retry_max, self.config.retry_base * 2.0 ** (attempts - 1))
        return step * random.uniform(0.5, 1.0)

    # ---- metrics and retention ------------------------------------------------

    def _maintain(self, outbox: Outbox) -> None:
        mono = time.monotonic()
        if self._sampled_at is None or mono - self._sampled_at >= DEPTH_EVERY_SECONDS:
            depth = outbox.depth()
            self._sample = (depth.depth, depth.oldest_age)
            self._sampled_at = mono
        if self._pruned_at is None:
            self._pruned_at = mono  # not at start: a fleet restarting all at once
        elif mono - self._pruned_at >= PRUNE_EVERY_SECONDS:
            while outbox.prune(self.retention_days * 86400) > 0 and not self.stopping.is_set():
                pass
            self._pruned_at = mono

    def _oldest_age(self) -> float:
        depth, age = self._sample
        if not depth or self._sampled_at is None:
            return 0.0
        return age + (time.monotonic() - self._sampled_at)
