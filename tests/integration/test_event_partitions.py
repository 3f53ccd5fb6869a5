"""`event`'s partitions: retention drops whole days and keeps every finding;
re-ingesting stores nothing twice; late events land; the cursor skips none."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from sentinel.db.connect import make_pool
from sentinel.ingest.store import ingest_events
from sentinel.rules import pack as packs
from sentinel.settings import Settings
from sentinel.worker import partitions
from sentinel.worker.maintenance import Maintenance, MaintenanceConfig
from sentinel.worker.models import Completed
from sentinel.worker.packs import PackStore, RuleSource
from sentinel.worker.runner import PassRunner
from sentinel.worker.store import RunStore

# A pinned calendar far from the real one, so the partitions the migration
# made around today play no part.
DAY0 = datetime(2030, 1, 5, tzinfo=UTC)
DAYS = 6
STREAM = "plant/line-1/press-1"
PACK = """
rules:
  - ref: press.hot
    streams: "plant/*/*"
    kind: threshold
    field: payload.t
    above: 100
    clear_below: 90
    severity: warning
    recommendation: "Cool {stream}: {value}."
"""


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with make_pool(db_url, max_size=4, name="test-partitions") as opened:
        yield opened


def _events(day: int) -> list[dict[str, Any]]:
    """A day of readings, hourly, with one hot spell (one finding) at noon."""
    start = DAY0 + timedelta(days=day)
    return [
        {
            "source": "plc",
            "stream": STREAM,
            "kind": "reading",
            "occurred_at": start + timedelta(hours=h),
            "external_id": f"d{day}-h{h}",
            "payload": {"t": 120 if h == 12 else 50},
        }
        for h in range(24)
    ]


def _pass(pool: ConnectionPool, conn: psycopg.Connection, worker_id: int) -> int:
    store = RunStore(conn)
    store.plan(3600, 5, exact=True)
    runner = PassRunner(pool, RuleSource(pool, None), batch_events=50_000)
    outcomes = [runner.run(claim, worker_id) for claim in store.claim(worker_id, 100, 60.0)]
    assert all(isinstance(o, Completed) for o in outcomes), outcomes
    return sum(o.counts.events for o in outcomes if isinstance(o, Completed))


def _worker(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "INSERT INTO worker (name, capabilities, last_heartbeat) "
        "VALUES ('partitions', '{\"runtimes\": [\"python\"]}', now()) RETURNING id"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _names(conn: psycopg.Connection) -> list[str]:
    return [p.name for p in partitions.listed(conn)]


def _findings(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT d.fingerprint, d.first_seen, r.status, r.text, "
        "       (SELECT json_agg(json_build_array(e.kind, e.event_id, e.data) ORDER BY e.id) "
        "          FROM evidence e WHERE e.detection_id = d.id) "
        "FROM detection d JOIN recommendation r ON r.detection_id = d.id ORDER BY d.id"
    ).fetchall()


def test_retention_drops_old_days_whole_and_keeps_findings_and_idempotency(
    conn: psycopg.Connection, pool: ConnectionPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partitions, "KEY_BATCH", 10)  # a day's keys in several batches
    made = partitions.maintain(conn, ahead=DAYS, now=DAY0 + timedelta(hours=6))
    assert made.turn and made.created == [
        f"event_p{(DAY0 + timedelta(days=d)):%Y%m%d}" for d in range(DAYS + 1)
    ]
    PackStore(conn).save(packs.load_documents({"hot.yaml": PACK}, "hot"))
    me = _worker(conn)
    for day in range(DAYS):
        assert ingest_events(conn, _events(day)).accepted == 24
    assert _pass(pool, conn, me) == 24 * DAYS
    findings = _findings(conn)
    assert len(findings) == DAYS  # one hot spell a day
    per_partition = dict(
        conn.execute("SELECT tableoid::regclass::text, count(*) FROM event GROUP BY 1")
    )
    assert per_partition == {f"event_p{(DAY0 + timedelta(days=d)):%Y%m%d}": 24 for d in range(DAYS)}

    # Three days kept, judged on the pinned clock: the first three days'
    # partitions end before its horizon and go, whole.
    now = DAY0 + timedelta(days=DAYS, hours=1)
    before = _names(conn)
    kept = partitions.maintain(conn, ahead=1, retention=timedelta(days=3), now=now)
    # (the migration's partitions around the real today are older still)
    first_kept = before.index(f"event_p{(DAY0 + timedelta(days=3)):%Y%m%d}")
    assert kept.dropped == before[:first_kept]
    assert kept.dropped[-3:] == [f"event_p{(DAY0 + timedelta(days=d)):%Y%m%d}" for d in range(3)]
    assert _names(conn) == before[first_kept:] + kept.created
    row = conn.execute("SELECT min(occurred_at), count(*) FROM event").fetchone()
    assert row == (DAY0 + timedelta(days=3), 24 * 3)
    # Every finding stays, with the evidence it showed (event ids and values
    # of events that are gone).
    assert _findings(conn) == findings

    # The kept days ingested again: nothing stored twice, not even an id
    # sent again with another instant (the key is (source, external_id),
    # across partitions); the dropped days' keys went with them.
    again = ingest_events(conn, [e for day in range(3, DAYS) for e in _events(day)])
    assert (again.accepted, again.duplicate) == (0, 24 * 3)
    moved = [{**e, "occurred_at": e["occurred_at"] - timedelta(days=1)} for e in _events(4)]
    assert ingest_events(conn, moved).duplicate == 24
    assert conn.execute("SELECT count(*) FROM event").fetchone() == (24 * 3,)
    assert conn.execute("SELECT count(*) FROM event_key").fetchone() == (24 * 3,)
    # Nothing new for the pass either.
    assert _pass(pool, conn, me) == 0
    assert _findings(conn) == findings


def test_one_maintainer_at_a_time(conn: psycopg.Connection, db_url: str) -> None:
    with psycopg.connect(db_url) as other, other.transaction():
        # Another worker is maintaining (its transaction holds the turn).
        assert partitions.maintain(other, now=DAY0).turn
        skipped = partitions.maintain(conn, now=DAY0 + timedelta(days=10))
        assert skipped == partitions.Outcome(turn=False)
    assert f"event_p{DAY0 + timedelta(days=10):%Y%m%d}" not in _names(conn)
    assert partitions.maintain(conn, now=DAY0 + timedelta(days=10)).turn


def test_late_and_early_events_land_and_move_into_their_partition(
    conn: psycopg.Connection,
) -> None:
    partitions.maintain(conn, ahead=1, now=DAY0)
    late = DAY0 - timedelta(days=30, hours=3)  # older than any partition
    early = DAY0 + timedelta(days=4, hours=2)  # ahead of the partitions
    events = [
        {"source": "plc", "stream": STREAM, "occurred_at": at, "external_id": name}
        for name, at in (("late", late), ("early", early))
    ]
    assert ingest_events(conn, events).accepted == 2
    where = "SELECT external_id, tableoid::regclass::text, id, xact FROM event ORDER BY 1"
    before = conn.execute(where).fetchall()
    assert [r[:2] for r in before] == [("early", "event_default"), ("late", "event_default")]

    # At the next maintenance each gets its day's partition, same id and xact
    # (a pass sees it once, wherever it is), so retention can drop it in time.
    partitions.maintain(conn, ahead=1, now=DAY0 + timedelta(hours=1))
    after = conn.execute(where).fetchall()
    assert after == [
        ("early", f"event_p{early:%Y%m%d}", *before[0][2:]),
        ("late", f"event_p{late:%Y%m%d}", *before[1][2:]),
    ]
    assert ingest_events(conn, events).duplicate == 2
    assert conn.execute("SELECT count(*) FROM event").fetchone() == (2,)
    # The late one's day is past a week's retention: it goes, with its key.
    gone = partitions.maintain(
        conn, ahead=1, retention=timedelta(days=7), now=DAY0 + timedelta(hours=2)
    )
    assert f"event_p{late:%Y%m%d}" in gone.dropped
    keys = conn.execute("SELECT external_id FROM event_key ORDER BY 1").fetchall()
    assert keys == [("early",)]


def test_a_late_commit_into_an_old_partition_is_not_skipped(
    conn: psycopg.Connection, pool: ConnectionPool, db_url: str
) -> None:
    partitions.maintain(conn, ahead=DAYS, now=DAY0)
    PackStore(conn).save(packs.load_documents({"hot.yaml": PACK}, "hot"))
    me = _worker(conn)
    assert ingest_events(conn, _events(1)).accepted == 24
    with psycopg.connect(db_url, autocommit=True) as slow:
        # A slow writer for an older day starts first and commits last.
        assert ingest_events(slow, _events(0)).accepted == 24
        slow.execute("BEGIN")
        slow.execute(
            "INSERT INTO event (source, stream, occurred_at, external_id, payload) "
            "VALUES ('plc', %s, %s, 'slow', '{\"t\": 130}')",
            [STREAM, DAY0 + timedelta(hours=12, minutes=30)],
        )
        assert ingest_events(conn, _events(2)).accepted == 24
        # The slow transaction holds the horizon: nothing it could precede is
        # read yet.
        assert _pass(pool, conn, me) == 24 * 2
        slow.execute("COMMIT")
    assert _pass(pool, conn, me) == 1 + 24
    assert _pass(pool, conn, me) == 0


def test_a_maintainer_that_cannot_lock_in_time_gives_up_until_the_next_interval(
    conn: psycopg.Connection, db_url: str
) -> None:
    partitions.maintain(conn, ahead=2, now=DAY0)
    later = DAY0 + timedelta(days=1, hours=1)  # nothing to create, one day to drop
    oldest = f"event_p{DAY0:%Y%m%d}"
    with psycopg.connect(db_url) as reader, reader.transaction():
        reader.execute("SELECT count(*) FROM event")  # a long pass read
        busy = partitions.maintain(conn, ahead=1, retention=timedelta(hours=1), now=later)
        assert busy == partitions.Outcome(turn=True, busy=True)
        assert oldest in _names(conn)
    done = partitions.maintain(conn, ahead=1, retention=timedelta(hours=1), now=later)
    assert oldest in done.dropped and oldest not in _names(conn)


def test_the_workers_maintenance_applies_the_event_retention_setting(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    partitions.maintain(conn, ahead=0, now=old)
    config = MaintenanceConfig.from_settings(Settings(event_retention_days=30))
    assert config.event_retention_days == 30
    kept = MaintenanceConfig.from_settings(Settings())
    assert kept.event_retention_days is None
    # Unset: kept, and the partitions ahead of the real clock exist.
    Maintenance(pool, kept, threading.Event()).run_once()
    assert "event_p20200101" in _names(conn)
    Maintenance(pool, config, threading.Event()).run_once()
    names = _names(conn)
    assert "event_p20200101" not in names
    today = conn.execute("SELECT now()").fetchone()
    assert today is not None
    assert partitions.name_for(partitions.cell(today[0], timedelta(days=1))[0]) in names
