"""A small, known fleet relative to a pinned database clock: plain SQL."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
FAR = 2**40  # a cursor_xid beyond every event: no lag

WORKERS = [
    # name, role, type, host, status, heartbeat seconds ago, runtimes
    ("w-alpha", "hybrid", "local", "host-a", "active", 3, ["python"]),
    ("w-beta", "sentinel", "container", "host-b", "active", 25, ["python", "shell"]),
    ("w-gamma", "scheduler", "remote", "host-c", "active", 120, ["python"]),
    ("w-delta", "hybrid", "local", "host-d", "inactive", 600, ["python"]),
    ("w-eps", "sentinel", "container", "host-e", "draining", 5, ["python"]),
]

STREAMS = ["plant-a/line-1/press-1", "plant-a/line-2/press-2", "ci/main"]


def seed(conn: psycopg.Connection, now: datetime = NOW) -> dict[str, int]:
    """Insert the fleet; return ids by name."""
    ids: dict[str, int] = {}
    p = {"now": now}
    for name, role, wtype, host, status, ago, runtimes in WORKERS:
        caps = {"runtimes": runtimes, "max_concurrent_runs": 4, "sentinel_version": "0.4.0"}
        meta = {"pid": 100, "started_at": "2026-11-22T08:00:00+00:00"}
        row = conn.execute(
            "INSERT INTO worker (name, worker_role, worker_type, host, status, capabilities,"
            " meta, last_heartbeat, created, updated) VALUES (%(name)s, %(role)s, %(type)s,"
            " %(host)s, %(status)s, %(caps)s, %(meta)s,"
            " %(now)s - make_interval(secs => %(ago)s), %(now)s - interval '2 hours', %(now)s)"
            " RETURNING id",
            {
                **p,
                "name": name,
                "role": role,
                "type": wtype,
                "host": host,
                "status": status,
                "caps": Jsonb(caps),
                "meta": Jsonb(meta),
                "ago": ago,
            },
        ).fetchone()
        assert row
        ids[name] = row[0]
    for key in STREAMS:
        row = conn.execute(
            "INSERT INTO stream (key, cursor_xid, created) VALUES (%s, %s, %s) RETURNING id",
            [key, 0 if key == "ci/main" else FAR, now],
        ).fetchone()
        assert row
        ids[key] = row[0]
    # Events: press-1 live (10 s ago), press-2 silent (10 min ago), ci/main lagging.
    for key, minutes_ago, count in (
        ("plant-a/line-1/press-1", 0, 4),
        ("plant-a/line-2/press-2", 10, 2),
        ("ci/main", 1, 3),
    ):
        conn.execute(
            "INSERT INTO event (source, stream, kind, occurred_at, received_at, external_id,"
            " payload) SELECT 'seed', %(key)s, 'measurement',"
            " %(now)s - make_interval(mins => %(m)s) - make_interval(secs => 10 + g),"
            " %(now)s - make_interval(mins => %(m)s) - make_interval(secs => 10 + g),"
            " %(key)s || '-' || g, jsonb_build_object('temperature_c', 80 + g)"
            " FROM generate_series(1, %(n)s) g",
            {**p, "key": key, "m": minutes_ago, "n": count},
        )
    runs = [
        # stream, window minutes ago, status, attempts, owner, lease s, error, recovered, counts
        ("plant-a/line-1/press-1", 1, "running", 1, "w-alpha", 20, None, 1, (0, 0, 0, 0)),
        (
            "plant-a/line-2/press-2",
            1,
            "queued",
            2,
            None,
            None,
            "rule press.spc: boom",
            0,
            (0, 0, 0, 0),
        ),
        ("ci/main", 1, "queued", 0, None, None, None, 0, (0, 0, 0, 0)),
        ("plant-a/line-1/press-1", 2, "succeeded", 1, "w-beta", None, None, 0, (120, 1, 3, 1)),
        (
            "plant-a/line-2/press-2",
            2,
            "dead",
            5,
            None,
            None,
            "psycopg: division by zero",
            0,
            (0, 0, 0, 0),
        ),
        ("ci/main", 2, "failed", 1, None, None, "timeout", 0, (0, 0, 0, 0)),
    ]
    for i, (stream, ago, status, attempts, owner, lease, error, recovered, c) in enumerate(runs):
        row = conn.execute(
            "INSERT INTO run (stream_id, window_start, status, attempts, lease_owner,"
            " lease_expires_at, error, recovered, event_count, detection_count, evidence_count,"
            " recommendation_count, created, started_at, finished_at, not_before)"
            " VALUES (%(stream)s, %(now)s - make_interval(mins => %(ago)s), %(status)s::run_status,"
            " %(attempts)s, %(owner)s, %(now)s + make_interval(secs => %(lease)s), %(error)s,"
            " %(recovered)s, %(e)s, %(d)s, %(v)s, %(r)s, %(now)s - interval '1 minute',"
            " CASE WHEN %(status)s::run_status <> 'queued'"
            " THEN %(now)s - make_interval(secs => 40 + %(i)s) END,"
            " CASE WHEN %(status)s::run_status IN ('succeeded', 'dead', 'failed')"
            " THEN %(now)s - make_interval(secs => 30) END, %(now)s) RETURNING id",
            {
                **p,
                "stream": ids[stream],
                "ago": ago,
                "status": status,
                "attempts": attempts,
                "owner": ids.get(owner or ""),
                "lease": lease,
                "error": error,
                "recovered": recovered,
                "e": c[0],
                "d": c[1],
                "v": c[2],
                "r": c[3],
                "i": i,
            },
        ).fetchone()
        assert row
        ids[f"run-{i}"] = row[0]
    _findings(conn, ids, now)
    return ids


def _findings(conn: psycopg.Connection, ids: dict[str, int], now: datetime) -> None:
    window = [
        {"event_id": 100 + i, "occurred_at": f"2026-11-22T09:58:{i * 5:02d}Z", "value": v}
        for i, v in enumerate([80.1, 81.0, 80.6, 82.3, 83.9, 84.8, 86.2, 88.9, 91.5, 90.2])
    ]
    spc_points = [
        {
            "event_id": 200 + i,
            "occurred_at": f"2026-11-22T09:50:{i * 5:02d}Z",
            "value": v,
            "z": round((v - 50) / 1.2, 2),
        }
        for i, v in enumerate([49.8, 50.3, 50.9, 51.2, 51.7, 52.4, 53.9, 54.1])
    ]
    detections = [
        (
            "press.overtemp",
            "plant-a/line-1/press-1",
            "threshold",
            "critical",
            "temperature_c reached 91.5 (limit 85)",
            5,
            "Inspect cooling on plant-a/line-1/press-1: temperature_c reached 91.5 (limit 85).",
            "open",
            [
                (
                    "trigger",
                    108,
                    {"event_id": 108, "occurred_at": "2026-11-22T09:58:40Z", "value": 91.5},
                ),
                (
                    "window",
                    None,
                    {
                        "start": "2026-11-22T09:58:00Z",
                        "end": "2026-11-22T09:58:45Z",
                        "points": window,
                    },
                ),
                (
                    "rule",
                    None,
                    {
                        "ref": "press.overtemp",
                        "kind": "threshold",
                        "field": "payload.temperature_c",
                        "above": 85,
                        "clear_below": 82,
                        "severity": "critical",
                    },
                ),
            ],
        ),
        (
            "press.spc",
            "plant-a/line-2/press-2",
            "spc",
            "warning",
            "WE2: 2 of 3 beyond 2 sigma",
            12,
            "Check press-2's drift: two of three points beyond 2 sigma.",
            "open",
            [
                ("point", None, spc_points[-3:]),
                ("baseline", None, {"mean": 50.0, "sigma": 1.2, "n": 25}),
                ("window", None, {"points": spc_points}),
                (
                    "rule",
                    None,
                    {
                        "ref": "press.spc",
                        "kind": "spc",
                        "field": "payload.pressure",
                        "rules": ["WE1", "WE2"],
                    },
                ),
            ],
        ),
        (
            "ci.main_failed",
            "ci/main",
            "condition",
            "info",
            "main failed on ci/main",
            30,
            "Main is failing on ci/main; look at the build log.",
            "acknowledged",
            [("trigger", None, {"event_id": 300, "payload": {"branch": "main"}})],
        ),
    ]
    for i, (rule, stream, kind, severity, summary, ago, text, status, evidence) in enumerate(
        detections
    ):
        row = conn.execute(
            "INSERT INTO detection (run_id, rule_ref, stream, kind, severity, summary,"
            " fingerprint, first_seen, last_seen, created) VALUES (%(run)s, %(rule)s, %(stream)s,"
            " %(kind)s, %(sev)s, %(summary)s, %(fp)s, %(now)s - make_interval(mins => %(ago)s),"
            " %(now)s - make_interval(mins => %(ago)s), %(now)s) RETURNING id",
            {
                "now": now,
                "run": ids["run-3"],
                "rule": rule,
                "stream": stream,
                "kind": kind,
                "sev": severity,
                "summary": summary,
                "fp": f"fp-{i}",
                "ago": ago,
            },
        ).fetchone()
        assert row
        ids[f"detection-{rule}"] = row[0]
        for ekind, event_id, data in evidence:
            conn.execute(
                "INSERT INTO evidence (detection_id, kind, event_id, data) VALUES (%s, %s, %s, %s)",
                [row[0], ekind, event_id, Jsonb(data)],
            )
        rec = conn.execute(
            "INSERT INTO recommendation (detection_id, stream, severity, text, status, created,"
            " updated) VALUES (%(d)s, %(stream)s, %(sev)s, %(text)s, %(status)s,"
            " %(now)s - make_interval(mins => %(ago)s), %(now)s - make_interval(mins => %(ago)s))"
            " RETURNING id",
            {
                "now": now,
                "d": row[0],
                "stream": stream,
                "sev": severity,
                "text": text,
                "status": status,
                "ago": ago,
            },
        ).fetchone()
        assert rec
        ids[f"rec-{rule}"] = rec[0]
