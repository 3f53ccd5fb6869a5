"""The heartbeat thread: beats and renews leases every heartbeat interval,
checks its own liveness lock and sweeps dead peers every fraction of a second.

It runs on its own thread so a long pass never starves it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import psycopg
import psycopg_pool

from sentinel.errors import SentinelError
from sentinel.registration.registrar import Registration

log = logging.getLogger(__name__)

DB_ERRORS = (psycopg.Error, psycopg_pool.PoolTimeout, SentinelError, OSError)


class Heartbeat(threading.Thread):
    def __init__(
        self,
        registration: Registration,
        *,
        in_hand: Callable[[], set[int]],
        on_lost: Callable[[set[int], str], None],
        on_requeued: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(name=f"heartbeat-{registration.name}", daemon=True)
        self.registration = registration
        self.settings = registration.settings
        self.in_hand = in_hand
        self.on_lost = on_lost
        self.on_requeued = on_requeued
        self.stop_event = threading.Event()
        self.last_beat = time.monotonic()  # of the last successful heartbeat
        self.healthy = True

    def run(self) -> None:
        interval = self.settings.heartbeat_interval_seconds
        tick = min(self.settings.liveness_check_seconds, interval)
        next_beat = time.monotonic() + interval
        while not self.stop_event.wait(tick):
            if time.monotonic() >= next_beat:
                self.beat_once()
                next_beat = time.monotonic() + interval
            self.check_once()

    def stop(self) -> None:
        self.stop_event.set()

    @property
    def heartbeat_age(self) -> float:
        return time.monotonic() - self.last_beat

    def beat_once(self) -> None:
        # Runs claimed after this point may commit after the beat's snapshot:
        # judge only the runs held before it.
        held_before = self.in_hand()
        try:
            beat = self.registration.beat()
            if not beat.active:
                log.warning("fleet marked this worker inactive; registering again")
                self.registration.register(in_hand=self.in_hand())
                beat = self.registration.beat()
        except DB_ERRORS as exc:
            self.healthy = False
            log.warning("heartbeat failed", extra={"action": "heartbeat", "error": str(exc)})
            if self.heartbeat_age > self.settings.lease_seconds and self.in_hand():
                # Someone else may own these runs now: stop working on them.
                self.on_lost(self.in_hand(), "no heartbeat for longer than the lease")
            return
        self.healthy = True
        self.last_beat = time.monotonic()
        lost = (held_before - beat.renewed) & self.in_hand()
        if lost:
            self.on_lost(lost, "lease no longer held")

    def check_once(self) -> None:
        """Keep our liveness lock; notice dead peers."""
        registration = self.registration
        try:
            if not registration.lock.healthy():
                log.warning("liveness connection lost; registering again")
                registration.register(in_hand=self.in_hand())
            sweep = registration.sweep()
        except DB_ERRORS as exc:
            log.debug("liveness check failed", extra={"error": str(exc)})
            return
        if sweep.dead or sweep.requeued or sweep.expired:
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
