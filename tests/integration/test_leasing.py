"""The lease protocol's statements on a real Postgres: plan, claim, fence,
fail with backoff, and the claim index."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from sentinel.control import runs as control
from sentinel.worker.models import Claim
from sentinel.worker.store import RunStore


def _streams(conn: psycopg.Connection, n: int, caps: str = "{}") -> None:
    conn.execute(
        "INSERT INTO stream (key, required_capabilities) "
        "SELECT 'plant/s' || g, %s::jsonb FROM generate_series(1, %s) g",
        [caps, n],
    )


def _worker(conn: psycopg.Connection, name: str, caps: str = '{"runtimes": ["python"]}') -> int:
    row = conn.execute(
        "INSERT INTO worker (name, capabilities, last_heartbeat) VALUES (%s, %s, now()) "
        "RETURNING id",
        [name, caps],
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_planning_twice_in_a_tick_creates_no_duplicate(conn: psycopg.Connection) -> None:
    _streams(conn, 5)
    store = RunStore(conn)
    assert store.plan(3600, 5) == 5
    assert store.plan(3600, 5) == 0
    assert conn.execute("SELECT count(*) FROM run").fetchone() == (5,)


def test_only_streams_with_something_to_judge_are_planned(conn: psycopg.Connection) -> None:
    """New events, never looked at, or a clock-driven rule due: planned. An
    idle stream gets no run (it used to get an empty one every tick)."""
    conn.execute(
        "INSERT INTO stream (key, last_pass_at, next_due_at, cursor_xid) VALUES "
        "('new-events', now(), NULL, 0), ('never-looked-at', NULL, NULL, 0), "
        "('clock-due', now(), now() - interval '1 second', 0), "
        "('clock-later', now(), now() + interval '1 hour', 0), ('idle', now(), NULL, 0)"
    )
    conn.execute(
        "INSERT INTO event (source, stream, occurred_at, external_id) "
        "SELECT 'src', key, now(), key FROM stream WHERE key <> 'never-looked-at'"
    )
    # Every stream but one has read all of its events.
    conn.execute(
        "UPDATE stream SET cursor_xid = (SELECT max(xact) + 1 FROM event) WHERE key <> 'new-events'"
    )
    assert RunStore(conn).plan(3600, 5) == 3
    planned = conn.execute(
        "SELECT s.key FROM run r JOIN stream s ON s.id = r.stream_id ORDER BY 1"
    ).fetchall()
    assert [key for (key,) in planned] == ["clock-due", "never-looked-at", "new-events"]


def test_concurrent_schedulers_never_duplicate_a_window(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        _streams(conn, 200)
    barrier = threading.Barrier(4)
    planned: list[int] = []

    def scheduler() -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            barrier.wait()
            for _ in range(5):
                planned.append(RunStore(conn).plan(3600, 5))

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT (stream_id, window_start)) FROM run"
        ).fetchone()
    assert sum(planned) == 200
    assert rows == (200, 200)


def test_a_stream_has_at_most_one_active_run(conn: psycopg.Connection) -> None:
    _streams(conn, 1)
    store = RunStore(conn)
    store.plan(3600, 5)
    # A new tick while the first run is still queued: coalesced, not piled up.
    assert store.plan(3600, 5, exact=True) == 0
    conn.execute("UPDATE run SET status = 'succeeded'")
    assert store.plan(3600, 5, exact=True) == 1


def test_claim_sets_owner_lease_fence_and_attempt(conn: psycopg.Connection) -> None:
    _streams(conn, 3)
    me = _worker(conn, "w")
    store = RunStore(conn)
    store.plan(3600, 5)
    first = store.claim(me, 2, 30)
    second = store.claim(me, 5, 30)
    assert len(first) == 2 and len(second) == 1
    fences = [c.fence for c in first + second]
    assert len(set(fences)) == 3 and fences == sorted(fences)
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE status = 'running' AND lease_owner = %s "
        "AND attempts = 1 AND lease_expires_at > now() + interval '25 seconds') FROM run",
        [me],
    ).fetchone()
    assert row == (3,)
    assert store.claim(me, 5, 30) == []


def test_claim_honours_not_before_and_capabilities(conn: psycopg.Connection) -> None:
    _streams(conn, 2, caps='{"runtimes": ["node"]}')
    python_only = _worker(conn, "py")
    both = _worker(conn, "both", '{"runtimes": ["python", "node"]}')
    store = RunStore(conn)
    store.plan(3600, 5)
    assert store.claim(python_only, 5, 30) == []
    conn.execute(
        "UPDATE run SET not_before = now() + interval '1 hour' WHERE id = (SELECT min(id) FROM run)"
    )
    claimed = store.claim(both, 5, 30)
    assert len(claimed) == 1


def test_two_workers_never_claim_the_same_run(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        _streams(conn, 300)
        ids = [_worker(conn, f"w{i}") for i in range(6)]
        RunStore(conn).plan(3600, 5)
    barrier = threading.Barrier(len(ids))
    claims: list[Claim] = []

    def claimer(worker_id: int) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            barrier.wait()
            while batch := RunStore(conn).claim(worker_id, 7, 30):
                claims.extend(batch)

    threads = [threading.Thread(target=claimer, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claims) == 300
    assert len({c.id for c in claims}) == 300


def test_completion_is_refused_to_a_stale_fence(conn: psycopg.Connection) -> None:
    _streams(conn, 1)
    first, second = _worker(conn, "first"), _worker(conn, "second")
    store = RunStore(conn)
    store.plan(3600, 5)
    [old] = store.claim(first, 1, 30)
    # The lease expired and the run was requeued and claimed again.
    conn.execute("UPDATE run SET status = 'queued', lease_owner = NULL")
    [new] = store.claim(second, 1, 30)
    assert new.fence > old.fence
    with conn.transaction():
        assert store.lock_for_completion(old, first) is False
        assert store.lock_for_completion(new, second) is True
    assert store.fail(old, first, "late", 0) is None


def test_failing_run_backs_off_and_dies_after_max_attempts(conn: psycopg.Connection) -> None:
    _streams(conn, 1)
    me = _worker(conn, "w")
    store = RunStore(conn)
    store.plan(3600, 3)
    statuses = []
    for _ in range(3):
        conn.execute("UPDATE run SET not_before = now()")
        [claim] = store.claim(me, 1, 30)
        statuses.append(store.fail(claim, me, "boom", 60))
        if statuses[-1] == "queued":
            # the backoff holds it back
            assert store.claim(me, 1, 30) == []
    assert statuses == ["queued", "queued", "dead"]
    row = conn.execute("SELECT status, attempts, error FROM run").fetchone()
    assert row == ("dead", 3, "boom")


def test_operator_retry_and_replay(conn: psycopg.Connection) -> None:
    _streams(conn, 1)
    me = _worker(conn, "w")
    store = RunStore(conn)
    store.plan(3600, 1)
    [claim] = store.claim(me, 1, 30)
    assert store.fail(claim, me, "boom", 0) == "dead"
    control.retry(conn, claim.id)
    assert conn.execute("SELECT status, attempts FROM run").fetchone() == ("queued", 0)
    with pytest.raises(control.RetryRefused, match="is already queued"):
        control.retry(conn, claim.id)  # not dead any more
    with pytest.raises(control.UnknownRun):
        control.retry(conn, claim.id + 1)

    conn.execute(
        "INSERT INTO event (source, stream, occurred_at, external_id) VALUES "
        "('t', 'plant/s1', '2026-01-01T00:00:00Z', 'a'), "
        "('t', 'plant/s1', '2026-01-02T00:00:00Z', 'b')"
    )
    conn.execute("UPDATE stream SET cursor = 1000, cursor_xid = 10000000")
    since = datetime.fromisoformat("2026-01-01T12:00:00+00:00")
    assert store.replay("plant/s1", since) == 2  # from the first event: the rules' state
    assert store.replay("plant/s1", since + timedelta(days=1)) == 2
    assert store.replay("nope", since) is None
    with pytest.raises(control.UnknownStream):
        control.replay(conn, "nope", since)
    row = conn.execute("SELECT cursor, cursor_xid, replay_since FROM stream").fetchone()
    assert row == (0, 0, since)  # the earliest of two replays wins


def test_streams_of_events_written_straight_into_event_are_discovered(
    conn: psycopg.Connection,
) -> None:
    _streams(conn, 1)  # plant/s1 exists already
    conn.execute(
        "INSERT INTO event (source, stream, occurred_at, external_id) "
        "SELECT 'c', k, now(), k || g FROM unnest(ARRAY['plant/s1', 'b/2', 'a/1']) k, "
        "generate_series(1, 50) g"
    )
    store = RunStore(conn)
    assert store.discover_streams() == ["a/1", "b/2"]
    assert store.discover_streams() == []
    keys = [r[0] for r in conn.execute("SELECT key FROM stream ORDER BY key")]
    assert keys == ["a/1", "b/2", "plant/s1"]
    assert store.plan(3600, 5) == 3  # and they are planned like any other


def test_the_due_test_reads_stream_activity_which_the_maintenance_prunes_once_read(
    conn: psycopg.Connection,
) -> None:
    """Each statement writing events notes its streams and transaction
    (event's trigger); a stream is due while a note lies past its cursor.
    What has been read is pruned; a replay notes activity from the start."""
    _streams(conn, 2)
    conn.execute(
        "INSERT INTO event (source, stream, occurred_at, external_id) "
        "SELECT 'c', 'plant/s' || g, now(), 'e' || g || '-' || n "
        "FROM generate_series(1, 2) g, generate_series(1, 30) n"
    )
    rows = conn.execute("SELECT stream, xact FROM stream_activity ORDER BY 1").fetchall()
    (xact,) = {x for _, x in rows}
    assert [k for k, _ in rows] == ["plant/s1", "plant/s2"]  # one note a stream, not a row
    store = RunStore(conn)
    # plant/s1 has read past it; plant/s2 has not.
    conn.execute(
        "UPDATE stream SET last_pass_at = now(), "
        "cursor_xid = CASE key WHEN 'plant/s1' THEN %s ELSE 0 END",
        [xact + 1],
    )
    assert store.plan(3600, 5) == 1
    assert store.prune_activity() == 1
    assert conn.execute("SELECT stream FROM stream_activity").fetchall() == [("plant/s2",)]
    conn.execute("DELETE FROM run")
    assert store.replay("plant/s1", datetime.now(UTC)) == 30
    assert store.plan(3600, 5) == 2  # the replayed stream is due again


def test_claim_uses_the_claim_index(conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO stream (key) SELECT 's' || g FROM generate_series(1, 2000) g")
    conn.execute(
        "INSERT INTO run (stream_id, window_start, status, finished_at) "
        "SELECT s.id, now() - g * interval '1 minute', 'succeeded', now() "
        "FROM stream s, generate_series(1, 100) g"
    )
    # A backlog: the claim must walk its index in order and stop at the limit,
    # not collect every queued run and sort them.
    conn.execute(
        "INSERT INTO run (stream_id, window_start) "
        "SELECT id, now() - (id % 60) * interval '1 second' FROM stream"
    )
    conn.execute("ANALYZE run")
    conn.execute("ANALYZE stream")
    me = _worker(conn, "w")
    from sentinel.worker.store import claim_statement

    claim = claim_statement(4).as_string(conn)
    plan = conn.execute(
        "EXPLAIN (FORMAT JSON) " + claim, {"worker_id": me, "lease_seconds": 30}
    ).fetchone()
    assert plan is not None
    assert "ix_run_claim" in str(plan[0])
    # A worker's connection soon settles on the generic plan: it must too.
    prepared = (
        claim.replace("%(worker_id)s", "$1").replace("%(lease_seconds)s", "$2").replace("%%", "%")
    )
    conn.execute(f"PREPARE claim_test(bigint, float8) AS {prepared}")
    conn.execute("SET plan_cache_mode = force_generic_plan")
    generic = conn.execute(f"EXPLAIN (FORMAT JSON) EXECUTE claim_test({me}, 30)").fetchone()
    assert generic is not None
    assert "ix_run_claim" in str(generic[0])
    assert "$1" in str(generic[0])  # generic indeed: the worker id is still a parameter


@pytest.mark.parametrize("older_than_days, left", [(1, 1), (30, 2)])
def test_retention_prunes_only_old_finished_runs(
    conn: psycopg.Connection, older_than_days: int, left: int
) -> None:
    _streams(conn, 1)
    conn.execute(
        "INSERT INTO run (stream_id, window_start, status, finished_at) VALUES "
        "(1, now() - interval '10 days', 'succeeded', now() - interval '10 days'), "
        "(1, now(), 'queued', NULL)"
    )
    removed = RunStore(conn).prune_finished(older_than_days * 86400, batch=1)
    assert conn.execute("SELECT count(*) FROM run").fetchone() == (left,)
    assert removed == 2 - left
