"""One worker's membership of the fleet: register, beat, sweep, deregister."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from psycopg_pool import ConnectionPool

from sentinel.db.session import Session
from sentinel.errors import RegistrationRefused
from sentinel.registration import capabilities
from sentinel.registration.liveness import LivenessLock
from sentinel.registration.models import Beat, Sweep, WorkerInfo
from sentinel.registration.store import WorkerStore
from sentinel.settings import Settings

log = logging.getLogger(__name__)

# A process that has just died may hold its name's lock a moment longer: the
# server ends its session asynchronously. A successor under the same name
# waits this long before it is refused.
LOCK_WAIT_SECONDS = 1.0


class Registration:
    def __init__(
        self,
        settings: Settings,
        url: str,
        pool: ConnectionPool,
        *,
        name: str | None = None,
        custom_capabilities: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.pool = pool
        name = name or settings.resolved_worker_name()
        self.info = WorkerInfo(
            name=name,
            worker_type=capabilities.worker_type(settings).value,
            worker_role=settings.worker_role.value,
            host=socket.gethostname(),
            port=settings.metrics_port,
            capabilities=capabilities.capabilities(settings, custom_capabilities),
            meta={
                "pid": os.getpid(),
                "instance": uuid.uuid4().hex,
                "started_at": datetime.now(UTC).isoformat(),
            },
        )
        # The worker's one session connection: the lock, the sweep turn, LISTEN.
        self.session = Session(url, application_name=name)
        self.lock = LivenessLock(self.session, name)
        self.worker_id: int | None = None
        self._caps_mutex = threading.Lock()

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def stale_seconds(self) -> float:
        return self.settings.heartbeat_interval_seconds * self.settings.dead_after_heartbeats

    def register(self, in_hand: Iterable[int] = ()) -> int:
        """Take the name's lock and upsert the row. Refuses a name that another
        live process holds."""
        if not self.lock.acquire(wait=LOCK_WAIT_SECONDS):
            raise RegistrationRefused(self._refusal())
        with self.pool.connection() as conn, conn.transaction():
            store = WorkerStore(conn)
            self.worker_id = store.register(self.info)
            orphans = store.requeue_orphans(self.worker_id, in_hand)
        log.info(
            "worker registered",
            extra={"action": "register", "worker_id": self.worker_id, "requeued": orphans},
        )
        return self.worker_id

    def _refusal(self) -> str:
        with self.pool.connection() as conn:
            holder = WorkerStore(conn).holder(self.name)
        where = ""
        if holder:
            age = holder.get("age")
            where = (
                f" (pid {holder.get('pid')} on {holder.get('host')}, status {holder.get('status')}"
                + (f", last heartbeat {float(age):.0f}s ago" if age is not None else "")  # type: ignore[arg-type]
                + ")"
            )
        return (
            f"worker name {self.name!r} is in use by another live process{where}; "
            "set SENTINEL_WORKER_NAME to a different name"
        )

    def beat(self, in_hand: Iterable[int]) -> Beat:
        assert self.worker_id is not None
        with self.pool.connection() as conn:
            return WorkerStore(conn).heartbeat(
                self.worker_id, self.settings.lease_seconds, in_hand
            )

    def my_turn(self) -> bool:
        """Is this liveness tick ours to sweep? One worker of the fleet gets
        each tick (`LivenessLock.my_turn`)."""
        return self.lock.my_turn(self.settings.liveness_check_seconds)

    def sweep(self) -> Sweep:
        """Notice dead peers and put their runs back in the queue (now: the
        heartbeat asks `my_turn()` first)."""
        assert self.worker_id is not None
        with self.pool.connection() as conn:
            return WorkerStore(conn).sweep(
                self.worker_id,
                self.stale_seconds,
                # After a server restart, give every worker one heartbeat to
                # re-take its lock before judging it by its lock.
                lock_grace_seconds=self.settings.heartbeat_interval_seconds,
            )

    def set_status(self, status: str) -> None:
        assert self.worker_id is not None
        with self.pool.connection() as conn:
            WorkerStore(conn).set_status(self.worker_id, status)

    def deregister(self) -> int:
        """Inactive, held runs back to the queue, lock released."""
        requeued = 0
        if self.worker_id is not None:
            with self.pool.connection() as conn:
                requeued = WorkerStore(conn).deregister(self.worker_id)
            log.info("worker deregistered", extra={"action": "deregister", "requeued": requeued})
        self.lock.release()
        return requeued

    def add_capability(self, key: str, value: Any) -> None:
        self.update_capabilities({key: value})

    def update_capabilities(self, values: dict[str, Any]) -> None:
        with self._caps_mutex:
            merged = {**self.info.capabilities, **values}
            self.info = WorkerInfo(**{**self.info.__dict__, "capabilities": merged})
            if self.worker_id is not None:
                with self.pool.connection() as conn:
                    WorkerStore(conn).set_capabilities(self.worker_id, merged)
