"""The dashboard's bounded queries mean what the plain ones would: each view
and the header against a straightforward (unbounded) query over a varied,
seeded history, at small limits and caps and at large ones."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from sentinel.views import filters
from sentinel.views.statements import SQL, View, filter_params

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
FAR = 2**40


def _seed(conn: psycopg.Connection) -> None:
    rnd = random.Random(7)
    for i, status in enumerate(["active", "active", "draining", "inactive", "active", "inactive"]):
        conn.execute(
            "INSERT INTO worker (name, status, last_heartbeat) VALUES (%s, %s, %s)",
            [f"w-{i}", status, NOW - timedelta(seconds=i * 7)],
        )
    workers = [r[0] for r in conn.execute("SELECT id FROM worker ORDER BY id")]
    streams = []
    for i in range(7):
        row = conn.execute(
            "INSERT INTO stream (key, enabled, last_event_at) VALUES (%s, %s, %s)"
            " RETURNING id, key",
            [f"plant/line-{i}", i != 5, NOW - timedelta(minutes=i) if i % 3 == 0 else None],
        ).fetchone()
        assert row
        streams.append(row)
    # Events in shuffled order, so ids follow neither arrival nor transaction.
    events = []
    for sid, key in streams:
        for n in range(rnd.randrange(0, 40)):
            ago = timedelta(seconds=rnd.uniform(-5, 180))  # a few from "the future"
            events.append((key, 100 + n * 3 + sid, NOW - ago, f"{key}-{n}"))
    rnd.shuffle(events)
    for key, xact, at, ext in events:
        conn.execute(
            "INSERT INTO event (source, stream, occurred_at, received_at, external_id, xact)"
            " VALUES ('t', %s, %s, %s, %s, %s)",
            [key, at - timedelta(seconds=2), at, ext, xact],
        )
    for sid, _ in streams:  # no lag, all lag, part of it
        conn.execute(
            "UPDATE stream SET cursor_xid = %s WHERE id = %s", [[FAR, 0, 130][sid % 3], sid]
        )
    # Runs: history, and at most one queued-or-running run per stream.
    for sid, _ in streams:
        for w in range(12, 0, -1):
            status = rnd.choice(["succeeded"] * 6 + ["failed", "dead"])
            conn.execute(
                "INSERT INTO run (stream_id, window_start, status, attempts, created)"
                " VALUES (%s, %s, %s, %s, %s)",
                [sid, NOW - timedelta(minutes=w), status, 1, NOW],
            )
        active = rnd.choice(["queued", "retrying", "running", None])
        if active is not None:
            conn.execute(
                "INSERT INTO run (stream_id, window_start, status, attempts, lease_owner,"
                " lease_expires_at, started_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    sid,
                    NOW,
                    "queued" if active == "retrying" else active,
                    {"queued": 0, "retrying": 2, "running": 1}[active],
                    rnd.choice(workers) if active == "running" else None,
                    NOW + timedelta(seconds=20) if active == "running" else None,
                    NOW - timedelta(seconds=5) if active == "running" else None,
                ],
            )
    runs = conn.execute("SELECT r.id, s.key FROM run r JOIN stream s ON s.id = r.stream_id")
    for n, (run_id, key) in enumerate(list(runs)):
        if rnd.random() < 0.4:
            seen = NOW - timedelta(minutes=n)
            det = conn.execute(
                "INSERT INTO detection (run_id, rule_ref, stream, kind, severity, summary,"
                " fingerprint, first_seen, last_seen) VALUES (%s, 'r', %s, 'threshold', %s,"
                " 's', %s, %s, %s) RETURNING id",
                [run_id, key, rnd.choice(["info", "warning", "critical"]), f"fp{n}", seen, seen],
            ).fetchone()
            assert det
            if rnd.random() < 0.9:
                conn.execute(
                    "INSERT INTO recommendation (detection_id, stream, severity, text, status,"
                    " created, updated) SELECT id, stream, severity, 'do', %s, %s, %s"
                    " FROM detection WHERE id = %s",
                    [
                        rnd.choice(["open", "open", "acknowledged", "dismissed"]),
                        seen,
                        seen + timedelta(seconds=n),
                        det[0],
                    ],
                )


@pytest.fixture
def seeded_conn(conn: psycopg.Connection) -> psycopg.Connection:
    _seed(conn)
    conn.execute("ANALYZE")
    return conn


def _where(view: View, text: str = "", **kw: Any) -> dict[str, Any]:
    """The parameters of a view's filter (none by default)."""
    return filter_params(view, filters.parse(text), **kw)


def _rows(conn: psycopg.Connection, sql: Any, **params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(sql, {"now": NOW, **params})
        return cur.fetchall()


@pytest.mark.parametrize("cap", [3, 10_000])
def test_summary_counts_what_a_plain_count_gives(seeded_conn: psycopg.Connection, cap: int) -> None:
    [got] = _rows(seeded_conn, SQL["summary"], cap=cap)
    [want] = _rows(
        seeded_conn,
        """
        SELECT (SELECT jsonb_object_agg(status, n)
                  FROM (SELECT status, count(*) n FROM worker GROUP BY status) w) AS workers,
               count(*) FILTER (WHERE status = 'queued' AND attempts = 0) AS queued,
               count(*) FILTER (WHERE status = 'queued' AND attempts > 0) AS retrying,
               count(*) FILTER (WHERE status = 'running') AS running,
               least(count(*) FILTER (WHERE status = 'dead'), %(cap)s) AS dead,
               (SELECT count(*) FROM (SELECT * FROM event ORDER BY id DESC LIMIT %(cap)s) e
                 WHERE received_at > %(now)s - interval '1 minute'
                   AND received_at <= %(now)s) AS events_last_minute,
               (SELECT count(*) FROM recommendation WHERE status = 'open') AS open_total,
               (SELECT jsonb_object_agg(severity, n)
                  FROM (SELECT severity, count(*) n FROM recommendation
                         WHERE status = 'open' GROUP BY severity) o) AS open_recommendations
          FROM run
        """,
        cap=cap,
    )
    assert got["now"] == NOW
    for name in ("workers", "queued", "retrying", "running", "dead", "events_last_minute"):
        assert got[name] == want[name], name
    assert want["events_last_minute"] > 0
    if want["open_total"] <= cap:
        assert got["open_recommendations"] == want["open_recommendations"]
    else:  # counted up to the cap, whatever the severities
        assert sum(got["open_recommendations"].values()) == cap


def test_events_last_minute_count_every_recent_arrival(conn: psycopg.Connection) -> None:
    # As ingest stores them: ids follow arrival.
    for ago, n in ((3600, 30), (90, 4), (50, 6), (1, 5)):
        conn.execute(
            "INSERT INTO event (source, stream, occurred_at, received_at, external_id)"
            " SELECT 't', 's', %(at)s, %(at)s, %(ago)s || '-' || g"
            "   FROM generate_series(1, %(n)s) g",
            {"at": NOW - timedelta(seconds=ago), "ago": ago, "n": n},
        )
    [got] = _rows(conn, SQL["summary"], cap=10_000)
    assert got["events_last_minute"] == 11
    [got] = _rows(conn, SQL["summary"], cap=8)  # the newest eight, all recent
    assert got["events_last_minute"] == 8


@pytest.mark.parametrize("limit", [1, 3, 8, 200])
def test_runs_are_the_active_ones_then_the_latest(
    seeded_conn: psycopg.Connection, limit: int
) -> None:
    got = [
        r["id"]
        for r in _rows(
            seeded_conn,
            SQL["runs"],
            limit=limit,
            long_factor=5.0,
            long_floor=60.0,
            usual_runs=20,
            active_first=True,
            **_where(View.RUNS, show_empty=True),
        )
    ]
    want = [
        r["id"]
        for r in _rows(
            seeded_conn,
            "SELECT id FROM run ORDER BY status IN ('queued', 'running') DESC, id DESC"
            " LIMIT %(limit)s",
            limit=limit,
        )
    ]
    assert got == want


@pytest.mark.parametrize(("limit", "lag_cap"), [(2, 5), (4, 1_000), (200, 1_000)])
def test_streams_lag_newest_event_and_open_detections(
    seeded_conn: psycopg.Connection, limit: int, lag_cap: int
) -> None:
    got = _rows(seeded_conn, SQL["streams"], limit=limit, lag_cap=lag_cap, **_where(View.STREAMS))
    want = _rows(
        seeded_conn,
        """
        SELECT s.id, s.key, s.enabled, s.cursor, s.replay_since IS NOT NULL AS replaying,
               least((SELECT count(*) FROM event e
                       WHERE e.stream = s.key AND e.xact >= s.cursor_xid), %(lag_cap)s) AS lag,
               extract(epoch FROM %(now)s - greatest(
                   s.last_event_at,
                   (SELECT occurred_at FROM event e WHERE e.stream = s.key
                     ORDER BY xact DESC, id DESC LIMIT 1)))::float8 AS last_event_age,
               (SELECT count(*) FROM detection d JOIN recommendation r ON r.detection_id = d.id
                 WHERE d.stream = s.key AND r.status = 'open') AS open_detections
          FROM stream s ORDER BY s.key LIMIT %(limit)s
        """,
        limit=limit,
        lag_cap=lag_cap,
    )
    assert [{k: v for k, v in r.items() if k != "state"} for r in got] == want
    assert any(r["lag"] == lag_cap for r in want) == (lag_cap == 5)


@pytest.mark.parametrize(("limit", "recent"), [(2, 1), (200, 100)])
def test_recommendations_open_then_latest_reviewed(
    seeded_conn: psycopg.Connection, limit: int, recent: int
) -> None:
    got = _rows(
        seeded_conn,
        SQL["recommendations"],
        limit=limit,
        recent=recent,
        **_where(View.RECOMMENDATIONS),
    )
    want = _rows(
        seeded_conn,
        """
        SELECT r.id, r.detection_id, r.severity::text AS severity, d.stream,
               d.rule_ref AS rule, d.kind, r.status::text AS status, d.cleared_at, r.text,
               r.created, r.updated,
               extract(epoch FROM %(now)s - r.created)::float8 AS age,
               extract(epoch FROM %(now)s - r.updated)::float8 AS updated_age
          FROM (SELECT *, row_number() OVER (
                         PARTITION BY status
                         ORDER BY CASE WHEN status = 'open' THEN severity END DESC,
                                  created DESC) AS n
                  FROM recommendation) r
          JOIN detection d ON d.id = r.detection_id
         WHERE r.n <= CASE WHEN r.status = 'open' THEN %(limit)s ELSE %(recent)s END
         ORDER BY (r.status = 'open') DESC, r.severity DESC, r.created DESC, r.id DESC
        """,
        limit=limit,
        recent=recent,
    )
    assert got == want


@pytest.mark.parametrize("limit", [3, 200])
def test_detections_latest_with_their_review(seeded_conn: psycopg.Connection, limit: int) -> None:
    got = _rows(seeded_conn, SQL["detections"], limit=limit, **_where(View.DETECTIONS))
    want = _rows(
        seeded_conn,
        """
        SELECT d.id, d.severity::text AS severity, d.stream, d.rule_ref AS rule, d.kind,
               d.summary, extract(epoch FROM %(now)s - d.first_seen)::float8 AS first_seen_age,
               extract(epoch FROM %(now)s - d.last_seen)::float8 AS last_seen_age,
               r.id AS recommendation_id, r.status::text AS recommendation_status, d.run_id
          FROM detection d LEFT JOIN recommendation r ON r.detection_id = d.id
         ORDER BY d.id DESC LIMIT %(limit)s
        """,
        limit=limit,
    )
    assert got == want
    assert any(r["recommendation_id"] is None for r in want) or limit == 3


@pytest.mark.parametrize("limit", [2, 200])
def test_workers_live_first_with_the_runs_they_hold(
    seeded_conn: psycopg.Connection, limit: int
) -> None:
    got = _rows(seeded_conn, SQL["workers"], limit=limit, **_where(View.FLEET))
    want = _rows(
        seeded_conn,
        """
        SELECT w.id, (SELECT count(*) FROM run r
                       WHERE r.lease_owner = w.id AND r.status = 'running')::int AS running
          FROM worker w ORDER BY w.status, w.name LIMIT %(limit)s
        """,
        limit=limit,
    )
    assert [(r["id"], r["running"]) for r in got] == [(r["id"], r["running"]) for r in want]
