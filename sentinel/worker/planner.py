"""Planning: find the streams connectors started in `event`, and plan the runs
of the streams that are due (worker/queries.sql, `plan`)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from sentinel import metrics
from sentinel.settings import Settings
from sentinel.worker.store import RunStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlannerConfig:
    run_interval_seconds: float = 30.0
    max_attempts: int = 5

    def __post_init__(self) -> None:
        if self.run_interval_seconds <= 0 or self.max_attempts < 1:
            raise ValueError(f"invalid planner config: {self}")

    @classmethod
    def from_settings(cls, settings: Settings) -> PlannerConfig:
        return cls(settings.run_interval_seconds, settings.max_attempts)

    @property
    def every(self) -> float:
        """Planning again within a tick is a no-op, so plan a few times per
        tick: a worker whose clock is off from the database's still catches
        every window."""
        return min(self.run_interval_seconds, max(1.0, self.run_interval_seconds / 3))


class Planner:
    def __init__(self, pool: ConnectionPool, config: PlannerConfig) -> None:
        self.pool = pool
        self.config = config
        self._next_plan = 0.0
        self._next_discovery = 0.0

    def tick(self, now: float) -> None:
        if now >= self._next_plan:
            self.run_once()
            self._next_plan = now + self.config.every

    def run_once(self, *, exact: bool = False) -> int:
        """Plan now (`exact`: a window of its own, as `run-once` does); how
        many runs were planned."""
        found: list[str] = []
        with self.pool.connection() as conn:
            store = RunStore(conn)
            # Streams that connectors started in `event`: one index probe per
            # stream, so once per run interval rather than at every plan.
            if time.monotonic() >= self._next_discovery:
                found = store.discover_streams()
                self._next_discovery = time.monotonic() + self.config.run_interval_seconds
            planned = store.plan(
                self.config.run_interval_seconds, self.config.max_attempts, exact=exact
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
