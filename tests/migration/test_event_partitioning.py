"""Migration 0013 on a populated `event`: every row moves into its day's
partition with its id and xact, its key into `event_key`, ids go on from
where they were, and the downgrade brings the plain table back with the same
rows."""

from __future__ import annotations

import psycopg
import pytest

from sentinel.db import migrate

ROWS = (
    "SELECT id, source, stream, kind, occurred_at, received_at, external_id, payload, xact "
    "FROM event ORDER BY id"
)


def _populate(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        # Three days, a second transaction for the last one (its own xact).
        conn.execute(
            "INSERT INTO event (source, stream, occurred_at, external_id, payload) "
            "SELECT 'plc', 's/' || (n % 3), "
            "       timestamptz '2026-01-01 00:00Z' + make_interval(hours => n), "
            "       'e' || n, jsonb_build_object('n', n) "
            "FROM generate_series(0, 47) AS n"
        )
        conn.execute(
            "INSERT INTO event (source, stream, occurred_at, external_id) "
            "VALUES ('plc', 's/0', '2026-01-03 23:59:59.5Z', 'last')"
        )
        return conn.execute(ROWS).fetchall()


def test_a_populated_event_table_is_partitioned_and_back(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url, "0012")
    before = _populate(empty_db_url)
    migrate.upgrade(empty_db_url, "0013")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert conn.execute(ROWS).fetchall() == before
        placed = conn.execute(
            "SELECT tableoid::regclass::text, count(*) FROM event GROUP BY 1 ORDER BY 1"
        ).fetchall()
        assert placed == [("event_p20260101", 24), ("event_p20260102", 24), ("event_p20260103", 1)]
        kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'event'").fetchone()
        assert kind == ("p",)
        # Ids continue, and the contract's key holds across partitions: the
        # same (source, external_id) at another instant is refused.
        row = conn.execute(
            "INSERT INTO event (source, stream, occurred_at, external_id) "
            "VALUES ('plc', 's/0', now(), 'new') RETURNING id"
        ).fetchone()
        assert row == (len(before) + 1,)
        assert conn.execute("SELECT count(*) FROM event_key").fetchone() == (len(before) + 1,)
        with pytest.raises(psycopg.errors.UniqueViolation, match="pk_event_key"):
            conn.execute(
                "INSERT INTO event (source, stream, occurred_at, external_id) "
                "VALUES ('plc', 's/0', '2026-01-02 05:00Z', 'e0')"
            )
        with pytest.raises(psycopg.errors.FeatureNotSupported):
            conn.execute("UPDATE event SET external_id = 'e0-renamed' WHERE external_id = 'e0'")
        # A deleted event takes its key with it.
        conn.execute("DELETE FROM event WHERE external_id = 'new'")
        assert conn.execute("SELECT count(*) FROM event_key").fetchone() == (len(before),)
    migrate.check(empty_db_url)

    migrate.downgrade(empty_db_url, "0012")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert conn.execute(ROWS).fetchall() == before
        kind = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'event'").fetchone()
        assert kind == ("r",)
        row = conn.execute(
            "INSERT INTO event (source, stream, occurred_at, external_id) "
            "VALUES ('plc', 's/0', now(), 'after') RETURNING id"
        ).fetchone()
        assert row is not None and row[0] > len(before)
        left = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'event\\_%' AND relkind IN ('r', 'p')"
        ).fetchone()
        assert left == (0,)
