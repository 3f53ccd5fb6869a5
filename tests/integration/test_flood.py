"""Flood protection through real passes on Postgres: a burst of 30 findings in
5 minutes, read in small batches, is stored as 10 detections and one flood
detection counting the other 20; once the stream calms, findings are stored
as themselves again and the flood is closed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from sentinel.db.connect import make_pool
from sentinel.ingest.store import ingest_events
from sentinel.rules import pack as packs
from sentinel.rules.flood import FLOOD_REF
from sentinel.worker.models import Completed
from sentinel.worker.packs import PackStore, RuleSource
from sentinel.worker.runner import PassRunner
from sentinel.worker.store import RunStore

PACK = """
rules:
  - ref: press.jam
    streams: "plant-a/*"
    kind: condition
    when: {field: payload.jam, operator: equals, value: true}
    severity: warning
    recommendation: "Clear the jam on {stream}."
"""
STREAM = "plant-a/line-1/press-1"
START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with make_pool(db_url, max_size=4, name="test-flood") as opened:
        yield opened


def _events(seconds: list[int], tag: str) -> list[dict[str, Any]]:
    return [
        {
            "source": "press",
            "stream": STREAM,
            "kind": "log",
            "occurred_at": START + timedelta(seconds=s),
            "external_id": f"{tag}-{i}",
            "payload": {"jam": True},
        }
        for i, s in enumerate(seconds)
    ]


def _pass(pool: ConnectionPool, conn: psycopg.Connection, worker_id: int) -> None:
    store = RunStore(conn)
    store.plan(3600, 5, exact=True)
    runner = PassRunner(pool, RuleSource(pool, None), batch_events=7)  # several batches
    outcomes = [runner.run(claim, worker_id) for claim in store.claim(worker_id, 10, 60.0)]
    assert outcomes and all(isinstance(o, Completed) for o in outcomes), outcomes


def _detections(conn: psycopg.Connection) -> list[tuple[str, str, Any]]:
    return conn.execute(
        "SELECT d.rule_ref, d.kind, e.data FROM detection d "
        "LEFT JOIN evidence e ON e.detection_id = d.id AND e.kind = 'flood' ORDER BY d.id"
    ).fetchall()


def test_a_burst_is_ten_detections_and_one_flood_then_calm_is_normal_again(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    PackStore(conn).save(packs.load_documents({"jams.yaml": PACK}, "jams"))
    row = conn.execute(
        "INSERT INTO worker (name, capabilities, last_heartbeat) "
        "VALUES ('flood-test', '{\"runtimes\": [\"python\"]}', now()) RETURNING id"
    ).fetchone()
    assert row is not None
    me = int(row[0])

    ingest_events(conn, _events([i * 10 for i in range(30)], "burst"))
    _pass(pool, conn, me)
    found = _detections(conn)
    assert [kind for _, kind, _ in found].count("condition") == 10
    [flood] = [data for ref, kind, data in found if kind == "flood"]
    assert [ref for ref, kind, _ in found if kind == "flood"] == [FLOOD_REF]
    assert flood["collapsed"] == 20 and flood["by_rule"] == {"press.jam": 20}
    assert flood["status"] == "open" and len(flood["listed"]) == 20
    ids = [r[0] for r in conn.execute("SELECT id FROM event ORDER BY id")]
    assert [e["event_id"] for e in flood["listed"]] == ids[10:]  # every one countable
    row = conn.execute("SELECT count(*) FROM recommendation").fetchone()
    assert row is not None and row[0] == 11  # not 30
    row = conn.execute(
        "SELECT count(*) FROM rule_state WHERE rule_ref = %s", [FLOOD_REF]
    ).fetchone()
    assert row is not None and row[0] == 1

    # 30 minutes on: calm. New findings are themselves; the flood is closed.
    ingest_events(conn, _events([1800, 1860, 1920], "later"))
    _pass(pool, conn, me)
    found = _detections(conn)
    assert [kind for _, kind, _ in found].count("condition") == 13
    [flood] = [data for _, kind, data in found if kind == "flood"]
    assert flood["status"] == "closed" and flood["collapsed"] == 20
    row = conn.execute("SELECT count(*) FROM recommendation").fetchone()
    assert row is not None and row[0] == 14
