"""The batch completer on a real Postgres: many quiet runs (nothing to write
but counts, cursor and rule state) completed in one statement, each fenced on
its own, each leaving what a single completion would."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sentinel.completions import dsse
from sentinel.completions.store import CompletionStore
from sentinel.db.connect import make_pool
from sentinel.findings.models import Counts
from sentinel.worker.completer import BatchCompleter
from sentinel.worker.models import Claim, QuietBatch
from sentinel.worker.store import Completion, RunStore
from tests.acceptance.fleet import wait_for

NEXT_DUE = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with make_pool(db_url, max_size=4, name="test-batch-completion") as opened:
        yield opened


def _setup(
    conn: psycopg.Connection, streams: int, analyze: bool = False
) -> tuple[int, list[Claim]]:
    """`streams` streams with three events each, a worker holding a run of each."""
    conn.execute(
        "INSERT INTO stream (key) SELECT 'plant/b' || g FROM generate_series(1, %s) g", [streams]
    )
    for (key,) in conn.execute("SELECT key FROM stream ORDER BY id").fetchall():
        with conn.transaction():  # one transaction per stream: its own xact
            conn.execute(
                "INSERT INTO event (source, stream, occurred_at, external_id) "
                "SELECT 'src', %s, now(), %s || g FROM generate_series(1, 3) g",
                [key, key],
            )
    row = conn.execute(
        "INSERT INTO worker (name, capabilities, last_heartbeat) VALUES ('b', '{}', now()) "
        "RETURNING id"
    ).fetchone()
    assert row is not None
    store = RunStore(conn)
    store.plan(3600, 5)
    if analyze:  # as autovacuum would after planning: no run is running yet
        conn.execute("ANALYZE run")
    claims = sorted(store.claim(int(row[0]), streams, 30), key=lambda c: c.stream_id)
    assert len(claims) == streams
    return int(row[0]), claims


def _quiet(conn: psycopg.Connection, claim: Claim, worker: int, n: int) -> QuietBatch:
    """The batch a quiet pass of the claim's stream would hand in: all its events."""
    xacts, first, last = conn.execute(
        "SELECT max(xact), min(id), max(id) FROM event WHERE stream = %s", [claim.stream]
    ).fetchone() or (None, None, None)
    return QuietBatch(
        claim=claim,
        worker_id=worker,
        from_xact=0,
        to_xact=int(xacts) + 1,
        first_event_id=first,
        last_event_id=last,
        events=3,
        problems=[{"rule": "r", "event_id": first, "reason": f"problem {n}"}],
        final=True,
        next_due=NEXT_DUE,
        states={"rule/a": {"seen": n}},
    )


def _run(conn: psycopg.Connection, run_id: int) -> dict[int, Any]:
    row = conn.execute(
        "SELECT status::text, lease_owner, first_event_id, last_event_id, event_count, "
        "detection_count, problems, finished_at IS NOT NULL, lease_expires_at IS NULL, error "
        "FROM run WHERE id = %s",
        [run_id],
    ).fetchone()
    assert row is not None
    return dict(enumerate(row))


def _stream(conn: psycopg.Connection, stream_id: int) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT cursor_xid, cursor, last_pass_at IS NOT NULL, next_due_at, "
        "(SELECT jsonb_object_agg(rule_ref, state) FROM rule_state WHERE stream_id = s.id) "
        "FROM stream s WHERE id = %s",
        [stream_id],
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_a_lost_lease_in_a_batch_writes_nothing_for_that_run_and_completes_the_others(
    conn: psycopg.Connection,
) -> None:
    worker, claims = _setup(conn, 4)
    lost, moved = claims[1], claims[2]
    # run 2: its lease ran out and another worker holds it now (a new fence);
    # run 3: a replay rewound its stream's cursor after its pass had read.
    other = conn.execute(
        "INSERT INTO worker (name, capabilities, last_heartbeat) VALUES ('o', '{}', now()) "
        "RETURNING id"
    ).fetchone()
    assert other is not None
    conn.execute(
        "UPDATE run SET lease_owner = %s, fence = nextval('run_fence_seq') WHERE id = %s",
        [other[0], lost.id],
    )
    batches = [_quiet(conn, c, worker, n) for n, c in enumerate(claims)]
    moved_batch = QuietBatch(**{**batches[2].__dict__, "from_xact": 1})  # not where it is
    batches[2] = moved_batch
    before_lost, before_moved = _run(conn, lost.id), _run(conn, moved.id)
    stream_lost, stream_moved = _stream(conn, lost.stream_id), _stream(conn, moved.stream_id)

    with conn.transaction():
        outcomes, records = RunStore(conn).complete_many(batches, worker)
        CompletionStore(conn).record_rows(records)

    assert outcomes == {
        claims[0].id: Completion.DONE,
        lost.id: Completion.LEASE_LOST,
        moved.id: Completion.CURSOR_MOVED,
        claims[3].id: Completion.DONE,
    }
    # Nothing of the refused runs: run, cursor, rule state, record.
    assert _run(conn, lost.id) == before_lost
    assert _run(conn, moved.id) == before_moved
    assert _stream(conn, lost.stream_id) == stream_lost
    assert _stream(conn, moved.stream_id) == stream_moved
    recorded = conn.execute("SELECT run_id FROM completion ORDER BY run_id").fetchall()
    assert [r for (r,) in recorded] == [claims[0].id, claims[3].id]
    for n in (0, 3):
        assert _run(conn, claims[n].id)[0] == "succeeded"
        assert _stream(conn, claims[n].stream_id)[4] == {"rule/a": {"seen": n}}


def test_a_batch_completion_leaves_what_single_completions_would(
    conn: psycopg.Connection,
) -> None:
    """Two streams alike: one completed alone (`complete`, its state, its
    record), the other in a batch; their run, stream and record agree."""
    worker, claims = _setup(conn, 3)
    alone, *batched = claims
    store = RunStore(conn)
    b = _quiet(conn, alone, worker, 0)
    with conn.transaction():
        store.save_states(alone.stream_id, b.states)
        assert (
            store.complete(
                alone,
                worker,
                from_xact=b.from_xact,
                to_xact=b.to_xact,
                first_event_id=b.first_event_id,
                last_event_id=b.last_event_id,
                counts=Counts(events=3, problems=1),
                problems=b.problems,
                next_due=b.next_due,
            )
            is Completion.DONE
        )
        CompletionStore(conn).record(alone.id)
    with conn.transaction():
        outcomes, records = store.complete_many(
            [_quiet(conn, c, worker, 0) for c in batched], worker
        )
        assert CompletionStore(conn).record_rows(records) == 2
    assert set(outcomes.values()) == {Completion.DONE}

    def run_shape(claim: Claim) -> dict[int, Any]:
        shape = _run(conn, claim.id)
        offset = claim.id - alone.id  # the ids differ by the events' order
        shape[2] -= offset * 3
        shape[3] -= offset * 3
        shape[6] = [{**p, "event_id": p["event_id"] - offset * 3} for p in shape[6]]
        return shape

    def stream_shape(claim: Claim) -> tuple[Any, ...]:
        cursor_xid, cursor, *rest = _stream(conn, claim.stream_id)
        offset = claim.id - alone.id
        xid_offset = cursor_xid - _stream(conn, alone.stream_id)[0]
        assert xid_offset == offset  # one transaction per stream's events
        return (cursor - offset * 3, *rest)

    def record(claim: Claim) -> dict[str, Any]:
        row = conn.execute(
            "SELECT envelope, signed, fence FROM completion WHERE run_id = %s", [claim.id]
        ).fetchone()
        assert row is not None
        body = json.loads(dsse.payload_of(row[0]))
        assert (body["run_id"], body["stream"], body["fence"], row[2]) == (
            claim.id,
            claim.stream,
            claim.fence,
            claim.fence,
        )
        offset = (claim.id - alone.id) * 3
        ids = {k: v - offset for k, v in body["event_ids"].items()}
        keep = ("type", "counts", "fingerprints", "worker", "attempt", "window_start")
        return {"signed": row[1], "event_ids": ids, **{k: body[k] for k in keep}}

    for claim in batched:
        assert run_shape(claim) == run_shape(alone)
        assert stream_shape(claim) == stream_shape(alone)
        assert record(claim) == record(alone)
    assert _run(conn, alone.id)[0] == "succeeded"


def test_passes_completing_at_once_share_one_flush(
    conn: psycopg.Connection, pool: ConnectionPool, db_url: str
) -> None:
    """Group commit: while one flush waits on the database, the passes that
    finish meanwhile are completed together in the next, each with its own
    outcome."""
    worker, claims = _setup(conn, 6)
    flushed: list[int] = []

    class Counting(BatchCompleter):
        def _flush(self, batches: list[QuietBatch]) -> dict[int, Completion]:
            flushed.append(len(batches))
            return super()._flush(batches)

    completer = Counting(pool)
    outcomes: dict[int, Completion] = {}
    batches = [_quiet(conn, c, worker, n) for n, c in enumerate(claims)]

    def complete(b: QuietBatch) -> None:
        outcomes[b.claim.id] = completer.complete(b)

    with psycopg.connect(db_url) as blocker:
        # The first flush waits on its stream's row, locked here.
        blocker.execute("SELECT 1 FROM stream WHERE id = %s FOR UPDATE", [claims[0].stream_id])
        first = threading.Thread(target=complete, args=(batches[0],))
        first.start()
        wait_for(lambda: flushed == [1], timeout=10)
        rest = [threading.Thread(target=complete, args=(b,)) for b in batches[1:]]
        for t in rest:
            t.start()
        wait_for(lambda: len(completer._waiting) == 5, timeout=10)
        blocker.rollback()
    for t in [first, *rest]:
        t.join(timeout=10)
    assert flushed == [1, 5]
    assert outcomes == {c.id: Completion.DONE for c in claims}
    done = conn.execute("SELECT count(*) FROM completion").fetchone()
    assert done == (6,)


def _generic_plan(conn: psycopg.Connection, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """EXPLAIN of a named statement as a worker's connection ends up running
    it: prepared, on its generic plan (the parameters unknown)."""
    from sentinel.worker.store import SQL

    text = SQL[name]
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", text)))
    for n, key in enumerate(names, 1):
        text = text.replace(f"%({key})s", f"${n}")
    conn.execute(f"PREPARE plan_test_{name} AS {text.replace('%%', '%')}")
    conn.execute("SET plan_cache_mode = force_generic_plan")
    values = ", ".join(psycopg.sql.Literal(args[k]).as_string(conn) for k in names)
    row = conn.execute(f"EXPLAIN (FORMAT JSON) EXECUTE plan_test_{name}({values})").fetchone()
    assert row is not None
    return dict(row[0][0]["Plan"])


def _run_scans(node: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(index, condition) of each scan of `run` in a plan."""
    if node.get("Relation Name") == "run" and node["Node Type"] != "ModifyTable":
        yield node.get("Index Name", node["Node Type"]), node.get("Index Cond", "")
    for child in node.get("Plans", []):
        yield from _run_scans(child)


def test_fenced_statements_find_the_run_by_its_primary_key(conn: psycopg.Connection) -> None:
    """Statistics taken while every run was queued make ix_run_lease (owner,
    running) look empty: a cached plan must still look the run up by id, not
    walk the worker's running runs."""
    worker, claims = _setup(conn, 300, analyze=True)
    claim = claims[0]
    fenced = {"run_id": claim.id, "fence": claim.fence, "worker_id": worker}
    statements: list[tuple[str, dict[str, Any]]] = [
        ("lock_for_completion", {}),
        ("fail", {"now": None, "error": "e", "delay": 1.0, "permanent": False}),
        ("release", {"now": None}),
        (
            "complete",
            {
                "stream_id": claim.stream_id,
                "from_xact": 0,
                "to_xact": 1,
                "first_event_id": None,
                "last_event_id": None,
                "event_count": 0,
                "detection_count": 0,
                "evidence_count": 0,
                "recommendation_count": 0,
                "problems": Jsonb([]),
                "max_problems": 100,
                "final": True,
                "next_due": None,
                "channel": "c",
            },
        ),
        (
            "complete_many",
            {
                "now": None,
                "items": Jsonb([]),
                "run_ids": [claim.id],
                "stream_ids": [claim.stream_id],
                "max_problems": 100,
                "channel": "c",
            },
        ),
    ]
    for name, extra in statements:
        scans = list(_run_scans(_generic_plan(conn, name, {**fenced, **extra})))
        # By id: the primary key, or the active runs' index on id alone.
        assert scans, name
        for index, condition in scans:
            assert index in ("pk_run", "ix_run_active"), (name, scans)
            assert set(re.findall(r"\b([a-z_]+) = ", condition)) == {"id"}, (name, scans)
