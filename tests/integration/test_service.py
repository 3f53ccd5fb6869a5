"""The worker's services in-process, on a real Postgres: each one's
`run_once()`, and the round `run-once` makes of them."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from sentinel.db.connect import make_pool
from sentinel.ingest.store import ingest_events
from sentinel.rules.engine import Engine
from sentinel.sample import generate
from sentinel.settings import load_settings
from sentinel.worker.models import Completed
from sentinel.worker.packs import RuleSource
from sentinel.worker.runner import PassRunner
from sentinel.worker.service import WorkerService
from sentinel.worker.store import RunStore

START = generate.recent_start()


@pytest.fixture(autouse=True)
def _history_ends_now() -> None:
    """The sample plant's history ends as each test starts (silence judges
    the device's clock)."""
    global START
    START = generate.recent_start()


class _ReplayMidPass:
    """The bundled rules, with a replay of the stream (from another
    connection, as `sentinel runs replay` does) after the first batch is
    evaluated and before it is committed."""

    def __init__(self, pool: ConnectionPool, url: str, stream: str) -> None:
        self.rules = RuleSource(pool, None)
        self.url = url
        self.stream = stream
        self.replays = 0

    def engine(self) -> _ReplayMidPass:
        return self

    def __getattr__(self, name: str) -> Any:  # the rest of the real engine
        return getattr(self.rules.engine(), name)

    def run(self, *args: Any, **kwargs: Any) -> Any:
        result = Engine.run(self.rules.engine(), *args, **kwargs)
        if self.replays == 0:
            with psycopg.connect(self.url, autocommit=True) as conn:
                assert RunStore(conn).replay(self.stream, START) is not None
            self.replays += 1
        return result


def test_a_replay_during_a_pass_is_followed_without_spending_an_attempt(db_url: str) -> None:
    events = [e for e in generate.generate(START) if e["stream"] == generate.PRESS.format(2)]
    stream = events[0]["stream"]
    with (
        psycopg.connect(db_url, autocommit=True) as conn,
        make_pool(db_url, max_size=4) as pool,
    ):
        ingest_events(conn, events)
        worker = conn.execute(
            "INSERT INTO worker (name, capabilities, last_heartbeat) "
            "VALUES ('w', '{\"runtimes\": [\"python\"]}', now()) RETURNING id"
        ).fetchone()
        assert worker is not None
        store = RunStore(conn)
        store.plan(3600, 5, exact=True)
        [claim] = store.claim(worker[0], 1, 30)
        rules = _ReplayMidPass(pool, db_url, stream)
        runner = PassRunner(pool, rules, batch_events=len(events) // 3)  # type: ignore[arg-type]

        outcome = runner.run(claim, worker[0])

        assert isinstance(outcome, Completed) and rules.replays == 1
        row = conn.execute("SELECT status::text, attempts, error FROM run").fetchone()
        assert row == ("succeeded", 1, None)
        cursor = conn.execute("SELECT cursor, replay_since FROM stream").fetchone()
        assert cursor == (max(e[0] for e in conn.execute("SELECT id FROM event")), None)


def test_run_once_reports_its_round_and_leaves_the_listeners_as_they_were(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        ingest_events(conn, generate.generate(START))
    service = WorkerService(load_settings(), db_url, name="w-round")
    service.start()
    try:
        seen: list[object] = []
        service.services.executor.on_outcome.append(seen.append)
        first = service.run_once()
        assert first.ok and len(first.completed) == len(generate.STREAMS)
        assert len(seen) == len(generate.STREAMS)
        # Nothing new: nothing is due, so the second round runs nothing.
        second = service.run_once()
        assert second.outcomes == [] and second.ok
        assert service.services.executor.on_outcome == [seen.append]
    finally:
        service.close()
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT status::text FROM worker").fetchall() == [("inactive",)]


def test_a_pool_passed_in_is_left_open(db_url: str) -> None:
    with make_pool(db_url, max_size=8) as pool:
        service = WorkerService(load_settings(), db_url, name="w-pool", pool=pool)
        service.start()
        service.close()
        with pool.connection() as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
