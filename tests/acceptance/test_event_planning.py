"""Event-driven planning with real `sentinel worker` processes: a stream that
gets events is evaluated at once, not at the next tick of a long run
interval, whether the events came through the ingest store (which announces
them) or straight into `event` with SQL; bursts coalesce into a run per gap;
and with the listener's connection killed over and over, every event is
still evaluated."""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from sentinel.ingest.store import ingest_events
from tests.acceptance.fleet import all_processed, fleet, scalar, wait_for

pytestmark = pytest.mark.slow

# The run interval alone would plan a stream once in ten minutes: every bound
# below is far inside it, so only event-driven planning can meet them.
LONG = "600"
BOUND = 20.0  # seconds: generous for a loaded two-core machine, far below 600

PACK = """
rules:
  - ref: line.hot
    streams: "line/*"
    kind: condition
    when: {field: payload.temp, operator: greater_than, value: 90}
    severity: critical
    recommendation: "{stream} is hot: {payload.temp}"
"""
LISTENER_APP = "sentinel-worker-listen"  # the listener's application_name

_ids = itertools.count(1)


def _event(stream: str, temp: float) -> dict[str, object]:
    n = next(_ids)
    return {
        "source": "test",
        "stream": stream,
        "external_id": f"e{n}-{time.monotonic_ns()}",
        "occurred_at": datetime.now(UTC) - timedelta(seconds=1),
        "payload": {"temp": temp},
    }


def _ingest(url: str, *events: dict[str, object]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        ingest_events(conn, list(events))


def _findings(url: str, stream: str) -> int:
    return int(scalar(url, "SELECT count(*) FROM detection WHERE stream = %s", [stream]))


def _runs(url: str, stream: str) -> int:
    return int(
        scalar(
            url,
            "SELECT count(*) FROM run r JOIN stream s ON s.id = r.stream_id WHERE s.key = %s",
            [stream],
        )
    )


@pytest.fixture
def pack(tmp_path: Path) -> str:
    path = tmp_path / "pack.yaml"
    path.write_text(PACK)
    return str(path)


def _settled(url: str) -> None:
    """The worker's first plan is done and the first stream evaluated: from
    here on only events can make a stream due."""
    _ingest(url, _event("line/warmup", 20))
    wait_for(lambda: all_processed(url) and _runs(url, "line/warmup") >= 1, timeout=BOUND)


def test_an_ingested_fault_is_found_without_waiting_for_the_run_interval(
    db_url: str, tmp_path: Path, pack: str
) -> None:
    with fleet(db_url, tmp_path, 1, SENTINEL_RULES_PATH=pack, SENTINEL_RUN_INTERVAL_SECONDS=LONG):
        _settled(db_url)
        _ingest(db_url, _event("line/1", 20), _event("line/1", 95))
        wait_for(lambda: _findings(db_url, "line/1") == 1, timeout=BOUND, what="the finding")
        # A stream that got nothing new, and has no clock rule, gets no run:
        # line/2 receives events (so the worker is planning meanwhile), the
        # warmup stream nothing.
        warm = _runs(db_url, "line/warmup")
        for temp in (20, 21, 99):
            _ingest(db_url, _event("line/2", temp))
            wait_for(lambda: all_processed(db_url), timeout=BOUND, what="line/2 evaluated")
        assert _findings(db_url, "line/2") == 1
        assert _runs(db_url, "line/warmup") == warm


def test_events_written_with_plain_sql_are_evaluated_without_waiting_for_the_interval(
    db_url: str, tmp_path: Path, pack: str
) -> None:
    with fleet(db_url, tmp_path, 1, SENTINEL_RULES_PATH=pack, SENTINEL_RUN_INTERVAL_SECONDS=LONG):
        _settled(db_url)
        with psycopg.connect(db_url, autocommit=True) as conn:
            # No NOTIFY: an existing stream and a new one, as a connector
            # writing `event` itself would.
            conn.execute(
                "INSERT INTO event (source, stream, occurred_at, external_id, payload) VALUES "
                "('sql', 'line/warmup', now(), 'sql-1', '{\"temp\": 97}'),"
                "('sql', 'line/new', now(), 'sql-2', '{\"temp\": 98}')"
            )
        wait_for(
            lambda: _findings(db_url, "line/warmup") == 1 and _findings(db_url, "line/new") == 1,
            timeout=BOUND,
            what="both SQL-written faults found",
        )


def test_a_burst_of_events_coalesces_into_a_run_per_gap(
    db_url: str, tmp_path: Path, pack: str
) -> None:
    burst = 150
    with fleet(
        db_url,
        tmp_path,
        1,
        SENTINEL_STREAM_MIN_GAP_SECONDS="0.5",
        SENTINEL_RULES_PATH=pack,
        SENTINEL_RUN_INTERVAL_SECONDS=LONG,
    ):
        _settled(db_url)
        started = time.monotonic()
        with psycopg.connect(db_url, autocommit=True) as conn:
            for i in range(burst):  # one transaction, one announcement each
                ingest_events(conn, [_event("line/busy", 95 if i == burst - 1 else 20)])
        took = time.monotonic() - started
        wait_for(lambda: _findings(db_url, "line/busy") == 1, timeout=BOUND, what="the finding")
        wait_for(lambda: all_processed(db_url), timeout=BOUND, what="the burst evaluated")
    runs = _runs(db_url, "line/busy")
    # One run per gap while the burst lasts, and one to finish: far fewer
    # than one per event (a run per announcement would be about `burst`).
    assert 1 <= runs <= took / 0.5 + 3, (runs, took)
    assert runs < burst / 5
    assert (
        scalar(
            db_url,
            "SELECT sum(event_count) FROM run r JOIN stream s "
            "ON s.id = r.stream_id WHERE s.key = 'line/busy'",
        )
        == burst
    )


def _listening(url: str, names: list[str]) -> set[int]:
    """The backends the workers LISTEN on: the session connection each
    worker shares between its liveness lock and LISTEN (application_name: its
    name), or a listener's own connection."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = ANY(%s)",
            [[*names, LISTENER_APP]],
        ).fetchall()
    return {int(pid) for (pid,) in rows}


def test_with_notifications_lost_every_event_is_still_evaluated(
    db_url: str, tmp_path: Path, pack: str
) -> None:
    """The workers' listening connections are terminated, and events arrive
    while they are away, so their announcements reach nobody: the catch-up
    on reconnecting and the sweep find them."""
    names = ["lost-a", "lost-b"]
    rounds = 5
    with fleet(
        db_url,
        tmp_path,
        2,
        names=names,
        SENTINEL_RULES_PATH=pack,
        SENTINEL_RUN_INTERVAL_SECONDS=LONG,
    ):
        _settled(db_url)
        for i in range(rounds):
            before = wait_for(lambda: _listening(db_url, names), timeout=BOUND, what="listeners")
            with psycopg.connect(db_url, autocommit=True) as conn:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) pid", [sorted(before)]
                )
                ingest_events(conn, [_event(f"line/lost-{i}", 20), _event(f"line/lost-{i}", 91)])

            def gone(killed: set[int] = before) -> bool:
                return not _listening(db_url, names) & killed

            wait_for(gone, timeout=BOUND, what="the killed connections gone")
        wait_for(lambda: all_processed(db_url), timeout=BOUND, what="every event evaluated")
        found = scalar(db_url, "SELECT count(*) FROM detection WHERE stream LIKE 'line/lost-%'")
        assert found == rounds
        wait_for(lambda: len(_listening(db_url, names)) >= 2, timeout=BOUND, what="back")
