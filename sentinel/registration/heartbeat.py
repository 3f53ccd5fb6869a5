"""The heartbeat thread: beats and renews the leases in hand every heartbeat
interval, checks its own liveness lock every fraction of a second, and sweeps
dead peers on the ticks that are its turn (one sweeper per tick, fleet-wide).

It runs on its own thread so a long pass never starves it. It also keeps what
the worker's readiness and the heartbeat gauge report, so both stay true while
the database is away: the age keeps growing, and the first failed statement
makes the worker unready.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

import psycopg
import psycopg_pool

from sentinel.errors import ConfigError, DatabaseError, RegistrationRefused, first_line
from sentinel.registration.registrar import Registration

log = logging.getLogger(__name__)

# What an outage raises. RegistrationRefused is not among them: another live
# process under our name is not an outage.
DB_ERRORS = (psycopg.Error, psycopg_pool.PoolTimeout, DatabaseError, OSError)

MAX_RETRY_SECONDS = 5.0


class Heartbeat(threading.Thread):
    def __init__(
        self,
        registration: Registration,
        *,
        in_hand: Callable[[], set[int]],
        on_lost: Callable[[set[int], str], None],
        on_requeued: Callable[[], None] = lambda: None,
        on_refused: Callable[[str], None] = lambda reason: None,
    ) -> None:
        super().__init__(name=f"heartbeat-{registration.name}", daemon=True)
        self.registration = registration
        self.settings = registration.settings
        self.in_hand = in_hand
        self.on_lost = on_lost
        self.on_requeued = on_requeued
        self.on_refused = on_refused
        self.stop_event = threading.Event()
        self.last_beat = time.monotonic()  # of the last successful heartbeat
        self.problem: str | None = None  # what failed last; None while all is well
        interval = self.settings.heartbeat_interval_seconds
        self._retry_cap = min(MAX_RETRY_SECONDS, interval)
        self._retry_delay = 0.0
        self._next_check = 0.0

    def run(self) -> None:
        interval = self.settings.heartbeat_interval_seconds
        tick = min(self.settings.liveness_check_seconds, interval)
        next_beat = time.monotonic() + interval
        # A little under the tick, jittered: every worker asks for the sweep
        # turn at least once in each tick of the database clock (so a tick is
        # never left unswept), and workers started together drift apart.
        while not self.stop_event.wait(tick * random.uniform(0.7, 0.95)):
            try:
                if time.monotonic() >= next_beat:
                    self.beat_once()
                    next_beat = time.monotonic() + interval
                if time.monotonic() >= self._next_check:
                    self.check_once()
            except (RegistrationRefused, ConfigError) as exc:
                log.error("cannot stay registered; stopping", extra={"error": str(exc)})
                self.on_refused(str(exc))
                return

    def stop(self) -> None:
        self.stop_event.set()

    @property
    def heartbeat_age(self) -> float:
        """Seconds since the last successful heartbeat (grows during an outage)."""
        return time.monotonic() - self.last_beat

    def readiness(self) -> tuple[bool, str]:
        """Ready while the database answers and heartbeats get through."""
        age = self.heartbeat_age
        if self.problem is not None:
            return False, f"database unavailable: {self.problem}"
        limit = 2 * self.settings.heartbeat_interval_seconds
        if age > limit:
            return False, f"no heartbeat for {age:.0f}s"
        return True, f"registered as {self.registration.name}; heartbeat {age:.1f}s ago"

    def beat_once(self) -> None:
        # Runs claimed after this point got a fresh lease from their claim, and
        # may commit after the beat's snapshot: renew and judge only those
        # held before it.
        held_before = self.in_hand()
        try:
            beat = self.registration.beat(held_before)
            if not beat.active:
                log.warning("fleet marked this worker inactive; registering again")
                self.registration.register(in_hand=self.in_hand())
                beat = self.registration.beat(held_before)
        except DB_ERRORS as exc:
            self._failed("heartbeat", exc)
            if self.heartbeat_age > self.settings.lease_seconds and self.in_hand():
                # Someone else may own these runs now: stop working on them.
                self.on_lost(self.in_hand(), "no heartbeat for longer than the lease")
            return
        self._answered()
        self.last_beat = time.monotonic()
        lost = set(beat.lost & self.in_hand())
        if lost:
            self.on_lost(lost, "lease no longer held")

    def check_once(self) -> None:
        """Keep our liveness lock; notice dead peers when the tick is ours to
        sweep. Backs off while the database is away."""
        registration = self.registration
        try:
            if not registration.lock.healthy():
                registration.register(in_hand=self.in_hand())
                log.warning(
                    "liveness lock lost and taken again",
                    extra={"action": "register", "error": registration.lock.last_error},
                )
            # The turn is also the session's check: a lost session fails it.
            sweep = registration.sweep() if registration.my_turn() else None
        except DB_ERRORS as exc:
            self._failed("liveness check", exc)
            return
        self._answered()
        if sweep is not None and (sweep.dead or sweep.requeued or sweep.expired):
            log.warning(
                "recovered work of dead workers",
                extra={
                    "action": "sweep",
                    "dead": ",".join(sweep.dead),
                    "requeued": sweep.requeued,
                    "expired": sweep.expired,
                },
            )
            self.on_requeued()

    def _failed(self, what: str, exc: BaseException) -> None:
        """Unready at once; the next liveness check backs off (doubling, capped)."""
        self.problem = f"{what} failed: {first_line(exc)}"
        self._retry_delay = min(
            self._retry_cap, max(self.settings.liveness_check_seconds, self._retry_delay * 2)
        )
        self._next_check = time.monotonic() + self._retry_delay
        log.warning(
            "database unavailable",
            extra={
                "action": what.replace(" ", "_"),
                "error": first_line(exc),
                "heartbeat_age": round(self.heartbeat_age, 1),
                "retry_in": round(self._retry_delay, 1),
            },
        )

    def _answered(self) -> None:
        if self.problem is not None:
            log.info(
                "database reachable again",
                extra={"action": "reconnect", "heartbeat_age": round(self.heartbeat_age, 1)},
            )
        self.problem = None
        self._retry_delay = 0.0
