"""The `run` kind through real passes on a real Postgres: the sample's GitHub
Actions runs give exactly the planted hung, incomplete and slow runs (stored
with their timelines, one open recommendation each), and a hung run is seen
by a pass with no new events on the database clock, planned by the stream's
next_due_at, and cleared as the same finding when the run ends."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from sentinel.db.connect import make_pool
from sentinel.ingest.store import ingest_events
from sentinel.rules import pack as packs
from sentinel.sample import generate, runs
from sentinel.worker.models import Completed
from sentinel.worker.packs import PackStore, RuleSource
from sentinel.worker.runner import PassRunner
from sentinel.worker.store import RunStore
from tests.acceptance.fleet import wait_for


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with make_pool(db_url, max_size=4, name="test-run-rules") as opened:
        yield opened


def _worker(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "INSERT INTO worker (name, capabilities, last_heartbeat) "
        "VALUES ('run-rules-test', '{\"runtimes\": [\"python\"]}', now()) RETURNING id"
    ).fetchone()
    assert row is not None
    return int(row[0])


def _pass(pool: ConnectionPool, conn: psycopg.Connection, worker_id: int) -> list[Completed]:
    """Plan the due streams, claim and run every one; all must complete."""
    store = RunStore(conn)
    store.plan(3600, 5, exact=True)
    claims = store.claim(worker_id, 100, 60.0)
    runner = PassRunner(pool, RuleSource(pool, None), batch_events=50_000)
    outcomes = [runner.run(claim, worker_id) for claim in claims]
    assert all(isinstance(o, Completed) for o in outcomes), outcomes
    return outcomes  # type: ignore[return-value]


def test_the_sample_runs_give_exactly_the_planted_findings_with_their_timelines(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    PackStore(conn).save(packs.load_path(packs.bundled_pack_path()))
    raw = runs.generate_runs(generate.recent_start())  # the history ends now
    result = ingest_events(conn, raw, batch_size=50)  # several transactions
    assert result.accepted == len(raw)
    me = _worker(conn)
    outcomes = _pass(pool, conn, me)
    assert len(outcomes) == len(runs.STREAMS)
    assert {o.counts.problems for o in outcomes} == {0}

    rows = conn.execute(
        "SELECT id, rule_ref, stream, kind, severity::text, cleared_at IS NOT NULL FROM detection"
    ).fetchall()
    assert {(r[1], r[2]) for r in rows} == set(runs.EXPECTED_RUNS)
    assert len(rows) == len(runs.EXPECTED_RUNS)  # one finding per planted problem
    pack = packs.load_path(packs.bundled_pack_path())
    stream_of: dict[int, str] = dict(conn.execute("SELECT id, stream FROM event").fetchall())
    evidence: dict[int, dict[str, tuple[int | None, Any]]] = defaultdict(dict)
    for detection_id, kind, event_id, data in conn.execute(
        "SELECT detection_id, kind, event_id, data FROM evidence ORDER BY id"
    ):
        evidence[detection_id][kind] = (event_id, data)
    for det_id, ref, stream, kind, severity, cleared in rows:
        items = evidence[det_id]
        assert {"trigger", "run", "rule"} <= items.keys(), items
        trigger_id, _ = items["trigger"]
        assert trigger_id is not None and stream_of[trigger_id] == stream
        _, timeline = items["run"]
        assert timeline["stages"], timeline
        # Hung is an episode still open (the run never ended); the others are momentary.
        assert (kind, cleared) == (
            {"ci.run_hung": "run.hung", "ci.run_incomplete": "run.incomplete"}.get(ref, "run.slow"),
            kind != "run.hung",
        )
        [(status, text, rec_severity)] = conn.execute(
            "SELECT status::text, text, severity::text FROM recommendation WHERE detection_id = %s",
            [det_id],
        ).fetchall()
        assert (status, rec_severity, severity) == ("open", pack.rule(ref).severity, severity)
        assert "{" not in text and timeline["run"] in text

    # The ci run still going at the end is due when it would hang; the stuck
    # deploy is reported, so nothing more is due there.
    due: dict[str, datetime | None] = dict(
        conn.execute("SELECT key, next_due_at FROM stream").fetchall()
    )
    last_ci_start = max(
        datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00"))
        for e in raw
        if e["stream"] == runs.CI and e["kind"] == "run_started"
    )
    assert due == {runs.CI: last_ci_start + timedelta(hours=1), runs.DEPLOY: None}


HUNG_PACK = """
rules:
  - ref: probe.run_hung
    streams: "ci/probe/*"
    kind: run
    correlate: payload.run_id
    start_when: {field: payload.status, operator: equals, value: in_progress}
    end_when: {field: payload.status, operator: equals, value: completed}
    max_duration: 2s
    slow: false
    severity: warning
    recommendation: "Run {run} of {stream} {problem}."
"""


def _delivery(at: datetime, n: int, **payload: Any) -> dict[str, Any]:
    return {
        "source": "github",
        "stream": "ci/probe/repo/ci",
        "kind": "run_started" if payload["status"] == "in_progress" else "run_completed",
        "occurred_at": at,
        "external_id": f"delivery-{n}",
        "payload": {"run_id": 42, "run_attempt": 1, **payload},
    }


def test_a_hung_run_is_seen_without_new_events_on_the_database_clock_and_cleared_by_its_end(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    PackStore(conn).save(packs.load_documents({"hung.yaml": HUNG_PACK}, "hung"))
    row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    began: datetime = row[0]
    ingest_events(conn, [_delivery(began, 1, status="in_progress", conclusion=None)])
    me = _worker(conn)
    [first] = _pass(pool, conn, me)
    assert (first.counts.events, first.counts.detections) == (1, 0)
    due = conn.execute("SELECT next_due_at FROM stream").fetchone()
    assert due == (began + timedelta(seconds=2),)

    # The hang under test is the rule's two seconds passing on the database's
    # own clock (the pass reads its now()): poll that clock.
    wait_for(
        lambda: conn.execute(
            "SELECT next_due_at + interval '0.2 s' <= now() FROM stream"
        ).fetchone()[0],  # type: ignore[index]
        timeout=30,
        what="the hung run's due time on the database clock",
    )

    [second] = _pass(pool, conn, me)  # planned by next_due_at: no new event
    assert (second.counts.events, second.counts.detections) == (0, 1)
    found = conn.execute(
        "SELECT id, kind, fingerprint, cleared_at, last_seen, summary FROM detection"
    ).fetchone()
    assert found is not None
    det_id, kind, fingerprint, cleared_at, last_seen, summary = found
    assert (kind, cleared_at) == ("run.hung", None)
    assert last_seen - began > timedelta(seconds=2)
    assert summary.startswith("run 42 has not ended after")
    assert conn.execute("SELECT next_due_at FROM stream").fetchone() == (None,)

    # The run ends: the same finding, cleared; no second detection or recommendation.
    ended = began + timedelta(seconds=30)
    ingest_events(conn, [_delivery(ended, 2, status="completed", conclusion="success")])
    [third] = _pass(pool, conn, me)
    assert (third.counts.events, third.counts.detections) == (1, 0)
    rows = conn.execute(
        "SELECT id, fingerprint, cleared_at IS NOT NULL, summary FROM detection"
    ).fetchall()
    assert rows == [
        (det_id, fingerprint, True, "run 42 did not end within 2s: it ended after 30s (cleared)")
    ]
    assert conn.execute("SELECT count(*) FROM recommendation").fetchone() == (1,)
    episode = conn.execute("SELECT data FROM evidence WHERE kind = 'episode'").fetchone()
    assert episode is not None and episode[0]["status"] == "cleared"
