"""Planning: find the streams connectors started in `event`, and plan the runs
of the streams that are due.

Two drives, one due test (worker/queries.sql):

- the clock (`plan`): every stream due at each tick of the run interval, in
  the tick's window — the guarantee, and what silence rules need;
- events (`plan_streams`): the streams `sentinel ingest` and the webhooks
  announce (`Channel.STREAM`, handed over by the listener) are planned at
  once, and a sweep every `SWEEP_SECONDS` finds new streams and plans those
  with new events that nobody announced (a connector writing `event` with
  SQL or COPY, a lost notification). Each run has a window of its own, at most one per stream per
  `stream_min_gap_seconds`: a burst of events coalesces into a run per gap.

A notification is only a hint: the due test is the database's, so a lost one
costs the sweep's second, and a duplicate (every scheduler hears it) plans
nothing twice.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from sentinel import metrics
from sentinel.settings import Settings
from sentinel.worker.store import RunStore

log = logging.getLogger(__name__)

# How often the sweep looks for streams with new events nobody announced. It
# probes one index entry per stream, so it backs off to take at most about
# 1/SWEEP_SHARE of the planner's time on a very large fleet of streams.
SWEEP_SECONDS = 1.0
SWEEP_SHARE = 20
# A stream due but blocked (gap, run in progress) is tried again no sooner.
MIN_RETRY_SECONDS = 0.02


@dataclass(frozen=True)
class PlannerConfig:
    run_interval_seconds: float = 30.0
    max_attempts: int = 5
    event_planning: bool = True
    stream_min_gap_seconds: float = 0.2

    def __post_init__(self) -> None:
        if (
            self.run_interval_seconds <= 0
            or self.max_attempts < 1
            or self.stream_min_gap_seconds < 0
        ):
            raise ValueError(f"invalid planner config: {self}")

    @classmethod
    def from_settings(cls, settings: Settings) -> PlannerConfig:
        return cls(
            settings.run_interval_seconds,
            settings.max_attempts,
            settings.event_planning,
            settings.stream_min_gap_seconds,
        )

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
        self._next_sweep = 0.0
        # Announced or blocked streams -> when (monotonic) to try them; the
        # listener's thread adds, the loop's thread plans.
        self._pending: dict[str, float] = {}
        self._mutex = threading.Lock()

    # ---- hints, from the listener's thread -------------------------------

    def announce(self, keys: list[str] | None) -> None:
        """Streams given new events (None: any may have been, so sweep)."""
        if not self.config.event_planning:
            return
        with self._mutex:
            if keys is None:
                self._next_sweep = 0.0
                return
            for key in keys:
                self._pending.setdefault(key, 0.0)

    def waiting(self) -> dict[str, float]:
        """The streams waiting to be planned, and when (monotonic) to try."""
        with self._mutex:
            return dict(self._pending)

    def next_due(self) -> float:
        """When (monotonic) the planner next has something to do."""
        due = self._next_plan
        if self.config.event_planning:
            with self._mutex:
                due = min(due, self._next_sweep, *self._pending.values())
        return due

    # ---- the loop's thread -----------------------------------------------

    def tick(self, now: float) -> None:
        if self.config.event_planning:
            self.plan_announced(now)
            if now >= self._next_sweep:
                self.sweep(now)
        if now >= self._next_plan:
            self.run_once()
            self._next_plan = now + self.config.every

    def plan_announced(self, now: float) -> int:
        """Plan the announced streams whose time has come; how many runs."""
        with self._mutex:
            ready = sorted(k for k, at in self._pending.items() if at <= now)
            for key in ready:
                del self._pending[key]
        return self._plan_streams(ready, now) if ready else 0

    def sweep(self, now: float) -> int:
        """Find the streams connectors started in `event`, and plan every
        stream with new events (or a clock rule due) that no announcement
        brought; how many runs."""
        started = time.monotonic()
        with self._mutex:
            self._next_sweep = now + SWEEP_SECONDS  # a request meanwhile sweeps again
        planned = self._plan_streams(None, now, discover=True)
        took = time.monotonic() - started
        with self._mutex:
            if self._next_sweep > 0:
                self._next_sweep = now + max(SWEEP_SECONDS, took * SWEEP_SHARE)
        return planned

    def _plan_streams(self, keys: list[str] | None, now: float, *, discover: bool = False) -> int:
        found: list[str] = []
        with self.pool.connection() as conn:
            store = RunStore(conn)
            if discover:
                found = store.discover_streams()
            result = store.plan_streams(
                keys, self.config.stream_min_gap_seconds, self.config.max_attempts
            )
        if found:
            log.info(
                "new streams",
                extra={"action": "discover", "count": len(found), "streams": found[:20]},
            )
        if result.retry:
            with self._mutex:
                for key, seconds in result.retry.items():
                    at = now + max(seconds, MIN_RETRY_SECONDS)
                    self._pending[key] = min(self._pending.get(key, at), at)
        if result.planned:
            by = "sweep" if keys is None else "announced"
            metrics.RUNS_PLANNED.labels(by).inc(len(result.planned))
            log.debug(
                "runs planned",
                extra={
                    "action": "plan_streams",
                    "planned": len(result.planned),
                    "by": by,
                },
            )
        return len(result.planned)

    def run_once(self, *, exact: bool = False) -> int:
        """Plan now (`exact`: a window of its own, as `run-once` does); how
        many runs were planned."""
        found: list[str] = []
        with self.pool.connection() as conn:
            store = RunStore(conn)
            # Streams that connectors started in `event`: one index probe per
            # stream, so once per run interval rather than at every plan (and
            # at every sweep, which backs off on its own).
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
            metrics.RUNS_PLANNED.labels("clock").inc(planned)
            log.info("runs planned", extra={"action": "plan", "planned": planned})
        return planned
