"""The whole pass on a real Postgres: ingest → plan → claim → PassRunner.run →
stored detections, evidence and recommendations, with the cursor and the
rules' state saved in the same fenced transaction."""

from __future__ import annotations

import json
import random
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from sentinel.cli import cli
from sentinel.db.connect import make_pool
from sentinel.ingest.store import ingest_events
from sentinel.rules import pack as packs
from sentinel.rules.engine import Engine
from sentinel.rules.flood import FLOOD_REF
from sentinel.sample import generate, runs
from sentinel.worker.models import Claim, Completed, LeaseLost
from sentinel.worker.packs import PackStore, RuleSource
from sentinel.worker.runner import PassRunner
from sentinel.worker.store import RunStore
from tests.acceptance.fleet import wait_for

# The sample plant's four hours end as each test starts (the fixture below):
# `silence` judges the device's clock (occurred_at), so a history that ended
# when the module was imported, minutes before a late test in a long suite
# runs, would already be silent on the compressor (5 minutes).
START = generate.recent_start()
LEASE = 60.0


@pytest.fixture(autouse=True)
def _history_ends_now() -> None:
    global START
    START = generate.recent_start()


# -- helpers ------------------------------------------------------------------


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with make_pool(db_url, max_size=4, name="test-pass") as opened:
        yield opened


def _worker(conn: psycopg.Connection, name: str = "pass-test") -> int:
    row = conn.execute(
        "INSERT INTO worker (name, capabilities, last_heartbeat) VALUES (%s, %s, now()) "
        "RETURNING id",
        [name, '{"runtimes": ["python"]}'],
    ).fetchone()
    assert row is not None
    return int(row[0])


def _runner(pool: ConnectionPool) -> PassRunner:
    # No rules path: the newest stored pack, else the bundled sample pack.
    return PassRunner(pool, RuleSource(pool, None), batch_events=50_000)


def _claims(conn: psycopg.Connection, worker_id: int) -> list[Claim]:
    store = RunStore(conn)
    store.plan(3600, 5, exact=True)
    return store.claim(worker_id, 100, LEASE)


def _pass(
    pool: ConnectionPool, conn: psycopg.Connection, worker_id: int, *, forced: bool = False
) -> list[Completed]:
    """Plan every due stream (every stream when `forced`: a run with nothing
    new, as a clock-driven rule gets), claim every run, run each pass; all
    must complete."""
    if forced:
        conn.execute(
            "INSERT INTO run (stream_id, window_start, max_attempts) "
            "SELECT id, now(), 5 FROM stream ON CONFLICT DO NOTHING"
        )
    runner = _runner(pool)
    outcomes = [runner.run(claim, worker_id) for claim in _claims(conn, worker_id)]
    assert outcomes and all(isinstance(o, Completed) for o in outcomes), outcomes
    return outcomes  # type: ignore[return-value]


def _nothing_due(conn: psycopg.Connection, worker_id: int) -> bool:
    """Planning now makes no run (and there is none to claim)."""
    return _claims(conn, worker_id) == []


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    assert row is not None
    return int(row[0])


def _totals(conn: psycopg.Connection) -> dict[str, int]:
    return {t: _count(conn, t) for t in ("detection", "evidence", "recommendation")}


def _fingerprints(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT fingerprint FROM detection ORDER BY 1")]


def _pairs(conn: psycopg.Connection) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in conn.execute("SELECT rule_ref, stream FROM detection")}


def _cursors(conn: psycopg.Connection) -> dict[str, int]:
    """Each stream's cursor: the last event id processed. (The transaction
    high-water mark beside it moves on at every pass, new events or not.)"""
    return dict(conn.execute("SELECT key, cursor FROM stream").fetchall())


def _last_ids(conn: psycopg.Connection) -> dict[str, int]:
    return {r[0]: r[1] for r in conn.execute("SELECT stream, max(id) FROM event GROUP BY stream")}


def _states(conn: psycopg.Connection) -> dict[tuple[int, str], Any]:
    rows = conn.execute("SELECT stream_id, rule_ref, state FROM rule_state")
    return {(r[0], r[1]): r[2] for r in rows}


def _full_pass(
    pool: ConnectionPool, conn: psycopg.Connection, batch_size: int = 10_000
) -> tuple[int, list[Completed]]:
    """The sample plant stored (in transactions of `batch_size` events, in
    time order), then one pass over every stream."""
    ingest_events(conn, generate.generate(START), batch_size=batch_size)
    me = _worker(conn)
    return me, _pass(pool, conn, me)


# -- the sample plant end to end -------------------------------------------------


def test_every_injected_fault_is_stored_with_evidence_and_one_open_recommendation(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    raw = generate.generate(START)
    _, outcomes = _full_pass(pool, conn)

    assert len(outcomes) == len(generate.STREAMS)
    per_pair = conn.execute(
        "SELECT rule_ref, stream, count(*) FROM detection GROUP BY rule_ref, stream"
    ).fetchall()
    assert {(r, s): n for r, s, n in per_pair} == {
        pair: fault.findings for pair, fault in generate.EXPECTED.items()
    }  # each planted fault is exactly one finding
    clean = conn.execute(
        "SELECT count(*) FROM detection WHERE stream = ANY(%s)", [list(generate.CLEAN_STREAMS)]
    ).fetchone()
    assert clean == (0,)

    pack = packs.load_path(packs.bundled_pack_path())
    stream_of = dict(conn.execute("SELECT id, stream FROM event").fetchall())
    evidence: dict[int, list[tuple[str, int | None, dict[str, Any]]]] = defaultdict(list)
    for detection_id, kind, event_id, data in conn.execute(
        "SELECT detection_id, kind, event_id, data FROM evidence ORDER BY id"
    ):
        evidence[detection_id].append((kind, event_id, data))
    recommendations: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for detection_id, status, severity, text in conn.execute(
        "SELECT detection_id, status::text, severity::text, text FROM recommendation"
    ):
        recommendations[detection_id].append((status, severity, text))

    detections = conn.execute(
        "SELECT id, rule_ref, stream, severity::text, anchor_event_id, first_seen, last_seen "
        "FROM detection"
    ).fetchall()
    for det_id, ref, stream, severity, anchor, first_seen, last_seen in detections:
        rule = pack.rule(ref)
        items = evidence[det_id]
        kinds = Counter(kind for kind, _, _ in items)
        where = f"{ref} on {stream}: {items}"
        # The rule as it was, exactly once.
        [snapshot] = [data for kind, _, data in items if kind == "rule"]
        assert snapshot == json.loads(json.dumps(dict(rule.raw))), where
        # Every event the evidence points at is one of this stream's.
        for _, event_id, _ in items:
            assert event_id is None or stream_of.get(event_id) == stream, where
        if rule.kind == "silence":
            [window] = [data for kind, _, data in items if kind == "window"]
            assert window["silent_seconds"] > window["for_seconds"], where
        else:
            assert kinds["trigger"] + kinds["point"] >= 1, where
            assert any(kind == "trigger" and e is not None for kind, e, _ in items), where
        if rule.kind == "spc":
            [baseline] = [data for kind, _, data in items if kind == "baseline"]
            assert baseline["sigma"] > 0, where
        assert anchor is None or stream_of.get(anchor) == stream, where
        assert first_seen <= last_seen, where
        # Exactly one recommendation, open, at the rule's severity, fully rendered.
        [(status, rec_severity, text)] = recommendations[det_id]
        assert (status, rec_severity, severity) == ("open", rule.severity, rule.severity), where
        assert text and "{" not in text, where

    # The runs' counts are what was written, and every cursor reached the end.
    sums = conn.execute(
        "SELECT sum(event_count), sum(detection_count), sum(evidence_count), "
        "sum(recommendation_count), count(*) FILTER (WHERE status = 'succeeded') FROM run"
    ).fetchone()
    totals = _totals(conn)
    assert sums == (
        len(raw),
        totals["detection"],
        totals["evidence"],
        totals["recommendation"],
        len(generate.STREAMS),
    )
    assert sum(o.counts.detections for o in outcomes) == totals["detection"]
    last = _last_ids(conn)
    assert _cursors(conn) == last
    assert {o.counts.problems for o in outcomes} == {0}
    # Every rule that looked at a stream left its state for the next pass.
    engine = Engine(pack)
    states = _states(conn)
    floods = {key: st for key, st in states.items() if key[1] == FLOOD_REF}
    rules = len(states) - len(floods)
    assert rules == sum(len(engine.rules_for(key)) for key in generate.STREAMS)
    # Flood protection counted the findings, and no stream of the plant flooded.
    assert floods and all(not st["floods"] and not st["collapsed"] for st in floods.values())


def test_two_halves_give_the_fingerprints_of_one_pass(db_url: str, other_db_url: str) -> None:
    # The first half ends now, so its pass judges silence as a pass then would
    # (on the device's clock); the second half is still to come.
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=121)
    raw = generate.generate(start)
    # Cut inside episodes: press-2's overtemp is active, the compressor's
    # discharge on-delay is pending, the nightly silence is open.
    cut = (start + timedelta(minutes=121)).strftime("%Y-%m-%dT%H:%M:%SZ")
    first = [e for e in raw if e["occurred_at"] < cut]
    second = [e for e in raw if e["occurred_at"] >= cut]
    assert first and second

    def history(url: str, batches: list[list[dict[str, Any]]]) -> tuple[list[str], Any]:
        with (
            psycopg.connect(url, autocommit=True) as conn,
            make_pool(url, max_size=4) as pool,
        ):
            me = _worker(conn)
            for batch in batches:
                ingest_events(conn, batch)
                outcomes = _pass(pool, conn, me)
                assert sum(o.counts.events for o in outcomes) == len(batch)
            ids = conn.execute("SELECT external_id, id FROM event ORDER BY id").fetchall()
            # The history ends two hours from now: the mixer, which stops 90
            # minutes before its end, has not gone quiet yet, and the deploy
            # stuck since 100 minutes before its end has not yet run an hour.
            not_yet = {("mixer.telemetry_silence", generate.MIXER), ("ci.run_hung", runs.DEPLOY)}
            assert _pairs(conn) == set(generate.EXPECTED) - not_yet
            return _fingerprints(conn), ids

    split, split_ids = history(db_url, [first, second])
    whole, whole_ids = history(other_db_url, [raw])
    assert split_ids == whole_ids  # same event ids, so fingerprints are comparable
    assert len(split) == len(set(split))
    assert split == whole


class CountingRunner(PassRunner):
    """Counts the batches it commits."""

    commits = 0

    def _commit(self, *args: Any, **kwargs: Any) -> Any:
        self.commits += 1
        return super()._commit(*args, **kwargs)


def test_a_stream_far_behind_catches_up_in_one_run_batch_by_batch(
    db_url: str, other_db_url: str
) -> None:
    raw = generate.generate(START)
    chunks = [raw[i : i + 60] for i in range(0, len(raw), 60)]  # one transaction each

    def history(url: str, batch_events: int) -> tuple[list[str], int]:
        with (
            psycopg.connect(url, autocommit=True) as conn,
            make_pool(url, max_size=4) as pool,
        ):
            for chunk in chunks:
                ingest_events(conn, chunk)
            me = _worker(conn)
            runner = CountingRunner(pool, RuleSource(pool, None), batch_events=batch_events)
            outcomes = [runner.run(claim, me) for claim in _claims(conn, me)]
            assert all(isinstance(o, Completed) for o in outcomes), outcomes
            runs = conn.execute(
                "SELECT count(*), sum(event_count), bool_and(status = 'succeeded') FROM run"
            ).fetchone()
            assert runs == (len(generate.STREAMS), len(raw), True)
            assert _cursors(conn) == _last_ids(conn)
            assert _pairs(conn) == set(generate.EXPECTED)
            return _fingerprints(conn), runner.commits

    batched, batches = history(db_url, batch_events=100)
    whole, single = history(other_db_url, batch_events=50_000)
    assert single == len(generate.STREAMS)
    assert batches > 2 * len(generate.STREAMS)
    assert batched == whole


PASS_TIMES = {"reported", "hung_at"}  # silence's and run's: when a pass saw it


def test_replay_re_evaluates_without_duplicating_a_detection(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    me, _ = _full_pass(pool, conn)
    before = _totals(conn)
    fingerprints = _fingerprints(conn)
    states = _states(conn)
    cursors = _cursors(conn)
    per_stream = dict(conn.execute("SELECT stream, count(*) FROM event GROUP BY stream"))

    store = RunStore(conn)
    for key in generate.STREAMS:
        assert store.replay(key, START - timedelta(hours=1)) == per_stream[key]
    assert _states(conn) == {}  # the rules start over

    outcomes = _pass(pool, conn, me)
    assert {o.counts.detections for o in outcomes} == {0}
    assert sum(o.counts.events for o in outcomes) == sum(per_stream.values())
    assert _totals(conn) == before
    assert _fingerprints(conn) == fingerprints
    assert _pairs(conn) == set(generate.EXPECTED)

    # Re-evaluating everything rebuilds the same state and the same cursors,
    # but for when a silence or a hung run still going on was seen at pass
    # time: the replay saw it later.
    def seen_at_pass_time(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: seen_at_pass_time(v) for k, v in node.items() if k not in PASS_TIMES}
        if isinstance(node, list):
            return [seen_at_pass_time(v) for v in node]
        return node

    assert seen_at_pass_time(_states(conn)) == seen_at_pass_time(states)
    assert _cursors(conn) == cursors


def test_cli_replay_of_one_stream_from_a_time(
    db_url: str,
    conn: psycopg.Connection,
    pool: ConnectionPool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    me, _ = _full_pass(pool, conn)
    before = _totals(conn)
    fingerprints = _fingerprints(conn)
    key = generate.PRESS.format(2)
    since = START + timedelta(minutes=170)  # before press-2's telemetry gap
    monkeypatch.setenv("SENTINEL_DATABASE_URL", db_url)
    out = CliRunner().invoke(cli, ["runs", "replay", "--stream", key, "--since", since.isoformat()])
    assert out.exit_code == 0, out.output
    assert "rewound" in out.output

    outcomes = _pass(pool, conn, me)
    by_stream = dict(
        conn.execute(
            "SELECT r.id, s.key FROM run r JOIN stream s ON s.id = r.stream_id "
            "WHERE r.id = ANY(%s)",
            [[o.run_id for o in outcomes]],
        ).fetchall()
    )
    # Only the replayed stream is due: idle streams get no run.
    assert list(by_stream.values()) == [key]
    [outcome] = outcomes
    row = conn.execute(
        "SELECT count(*) FROM event WHERE stream = %s AND occurred_at >= %s", [key, since]
    ).fetchone()
    assert row is not None
    assert outcome.counts.events >= row[0] > 0
    assert outcome.counts.detections == 0
    assert _totals(conn) == before
    assert _fingerprints(conn) == fingerprints
    assert _cursors(conn)[key] == _last_ids(conn)[key]


def test_replay_from_inside_an_episode_reports_nothing_twice(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    """press-2 runs hot from minute ~101 to ~129 (one episode) and press-3's
    cycle-time baseline was learned from its first points: a replay from
    minute 110 must neither see a new episode nor learn a new baseline."""
    me, _ = _full_pass(pool, conn, batch_size=20)  # as if it arrived minute by minute
    before, fingerprints, states = _totals(conn), _fingerprints(conn), _states(conn)
    store = RunStore(conn)
    for key in (generate.PRESS.format(2), generate.PRESS.format(3)):
        assert store.replay(key, START + timedelta(minutes=110)) is not None

    outcomes = _pass(pool, conn, me)
    assert sum(o.counts.detections for o in outcomes) == 0
    assert _totals(conn) == before
    assert _fingerprints(conn) == fingerprints
    assert _states(conn) == states


def test_replay_writes_only_what_was_detected_since(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    """After a rule change (here: its findings deleted), a replay writes the
    findings detected from the time asked for on, not the stream's whole past."""
    me, _ = _full_pass(pool, conn, batch_size=20)
    key = generate.PRESS.format(2)
    since = START + timedelta(minutes=150)
    rows = conn.execute(
        "SELECT fingerprint, last_seen >= %s FROM detection WHERE stream = %s", [since, key]
    ).fetchall()
    later = sorted(f for f, after in rows if after)
    assert later and len(later) < len(rows)  # the fixture has findings on both sides
    conn.execute("DELETE FROM detection WHERE stream = %s", [key])

    RunStore(conn).replay(key, since)
    _pass(pool, conn, me)
    again = [
        r[0]
        for r in conn.execute(
            "SELECT fingerprint FROM detection WHERE stream = %s ORDER BY 1", [key]
        )
    ]
    assert again == later
    row = conn.execute("SELECT replay_since FROM stream WHERE key = %s", [key]).fetchone()
    assert row == (None,)  # caught up: the next findings are written as usual


# -- bad input ----------------------------------------------------------------------


def test_an_event_a_rule_cannot_read_is_a_problem_and_is_passed(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    key = "plant-a/line-9/press-9"
    recent = datetime.now(UTC) - timedelta(minutes=10)  # not silent yet
    events = []
    for m in range(11):
        temperature: Any = 75.0 + (0.3 if m % 2 else -0.3)
        if m == 5:
            temperature = "hot"  # a threshold and a rate need a number
        events.append(
            {
                "source": "plc-gw",
                "stream": key,
                "kind": "measurement",
                "occurred_at": recent + timedelta(minutes=m),
                "external_id": f"bad-{m}",
                "payload": {
                    "temperature_c": temperature,
                    "pressure_bar": 120.0 + (0.5 if m % 2 else -0.5),
                    "cycle_ms": 1200.0 + (3 if m % 2 else -3),
                },
            }
        )
    assert ingest_events(conn, events).accepted == 11
    bad = conn.execute("SELECT id FROM event WHERE external_id = 'bad-5'").fetchone()
    assert bad is not None
    bad_id = bad[0]
    me = _worker(conn)

    [outcome] = _pass(pool, conn, me)
    assert outcome.counts.events == 11
    assert outcome.counts.problems == 2
    row = conn.execute(
        "SELECT status::text, problems, last_event_id FROM run WHERE id = %s", [outcome.run_id]
    ).fetchone()
    assert row is not None
    status, problems, last_event_id = row
    assert status == "succeeded"
    assert sorted(p["rule"] for p in problems) == ["press.overtemp", "press.temp_rate"]
    for p in problems:
        assert p["event_id"] == bad_id
        assert "not a number" in p["reason"] and "temperature_c" in p["reason"]
    assert _cursors(conn)[key] == last_event_id == _last_ids(conn)[key] > bad_id
    assert _count(conn, "detection") == 0

    # The bad event is behind the cursor: nothing is due, and a pass anyway
    # neither re-reads nor re-reports it.
    assert _nothing_due(conn, me)
    [again] = _pass(pool, conn, me, forced=True)
    assert (again.counts.events, again.counts.problems) == (0, 0)
    row = conn.execute("SELECT problems FROM run WHERE id = %s", [again.run_id]).fetchone()
    assert row == ([],)


# -- fencing ------------------------------------------------------------------------


def _take_over(conn: psycopg.Connection, how: str, claims: list[Claim]) -> threading.Event | None:
    ids = [c.id for c in claims]
    if how == "fence bumped":
        conn.execute("UPDATE run SET fence = nextval('run_fence_seq') WHERE id = ANY(%s)", [ids])
    elif how == "owner changed":
        other = _worker(conn, "usurper")
        conn.execute("UPDATE run SET lease_owner = %s WHERE id = ANY(%s)", [other, ids])
    elif how == "expired and reclaimed":
        other = _worker(conn, "successor")
        conn.execute(
            "UPDATE run SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL "
            "WHERE id = ANY(%s)",
            [ids],
        )
        assert len(RunStore(conn).claim(other, 100, LEASE)) == len(ids)
    elif how == "flagged lost":
        lost = threading.Event()
        lost.set()  # the heartbeat saw the lease go
        return lost
    return None


@pytest.mark.parametrize(
    "how", ["fence bumped", "owner changed", "expired and reclaimed", "flagged lost"]
)
def test_a_pass_that_lost_its_lease_writes_nothing(
    conn: psycopg.Connection, pool: ConnectionPool, how: str
) -> None:
    ingest_events(conn, generate.generate(START))
    me = _worker(conn)
    claims = _claims(conn, me)
    assert len(claims) == len(generate.STREAMS)
    lost = _take_over(conn, how, claims)
    runs_before = conn.execute("SELECT * FROM run ORDER BY id").fetchall()
    cursors = _cursors(conn)

    runner = _runner(pool)
    outcomes = [runner.run(claim, me, lost) for claim in claims]

    assert outcomes == [LeaseLost(c.id) for c in claims]
    assert _totals(conn) == {"detection": 0, "evidence": 0, "recommendation": 0}
    assert _states(conn) == {}
    assert _cursors(conn) == cursors
    assert set(cursors.values()) == {0}
    xids = conn.execute("SELECT DISTINCT cursor_xid FROM stream").fetchall()
    assert xids == [(0,)]
    # The runs are left exactly as the new holder (or the old, if only
    # suspected lost) has them: the loser does not touch them.
    assert conn.execute("SELECT * FROM run ORDER BY id").fetchall() == runs_before


def test_the_new_lease_holder_finds_everything_after_a_takeover(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    ingest_events(conn, generate.generate(START))
    me = _worker(conn)
    claims = _claims(conn, me)
    _take_over(conn, "expired and reclaimed", claims)
    runner = _runner(pool)
    assert {type(runner.run(c, me)) for c in claims} == {LeaseLost}
    successor = conn.execute("SELECT id FROM worker WHERE name = 'successor'").fetchone()
    assert successor is not None
    fresh = conn.execute(
        "SELECT r.id, r.stream_id, s.key, r.window_start, r.fence, r.attempts, r.max_attempts "
        "FROM run r JOIN stream s ON s.id = r.stream_id WHERE r.status = 'running'"
    ).fetchall()
    outcomes = [runner.run(Claim(*row), successor[0]) for row in fresh]
    assert all(isinstance(o, Completed) for o in outcomes)
    assert _pairs(conn) == set(generate.EXPECTED)


# -- passes with nothing new ---------------------------------------------------------


def test_a_pass_with_no_new_events_writes_nothing_new(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    me, _ = _full_pass(pool, conn)
    totals, fingerprints = _totals(conn), _fingerprints(conn)
    cursors, states = _cursors(conn), _states(conn)

    assert _nothing_due(conn, me), "an idle stream gets no run"
    outcomes = _pass(pool, conn, me, forced=True)
    assert len(outcomes) == len(generate.STREAMS)
    assert {(o.counts.events, o.counts.detections, o.counts.problems) for o in outcomes} == {
        (0, 0, 0)
    }
    assert _totals(conn) == totals
    assert _fingerprints(conn) == fingerprints
    assert _cursors(conn) == cursors
    assert _states(conn) == states
    row = conn.execute(
        "SELECT count(*) FROM run WHERE status = 'succeeded' AND event_count = 0"
    ).fetchone()
    assert row == (len(generate.STREAMS),)


QUIET_PACK = """
rules:
  - ref: probe.quiet
    streams: "probe/*"
    kind: silence
    for: 3s
    severity: warning
    recommendation: "Check the link of {stream}: nothing for {gap}."
"""


def test_silence_is_seen_by_a_pass_with_no_new_events_on_the_database_clock(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    stored = PackStore(conn).save(packs.load_documents({"quiet.yaml": QUIET_PACK}, "quiet"))
    assert stored.created
    at = datetime.now(UTC)
    ingest_events(
        conn,
        [
            {
                "source": "probe",
                "stream": "probe/a",
                "kind": "ping",
                "occurred_at": at,  # all at once: no silence between events
                "external_id": f"ping-{i}",
                "payload": {"i": i},
            }
            for i in range(3)
        ],
    )
    me = _worker(conn)
    [first] = _pass(pool, conn, me)
    assert (first.counts.events, first.counts.detections) == (3, 0)

    # The silence under test is the rule's three seconds passing on the
    # database's own clock (the pass reads its now()): poll that clock.
    wait_for(
        lambda: conn.execute(
            "SELECT last_event_at + interval '3.2 s' <= now() FROM stream WHERE key = 'probe/a'"
        ).fetchone()[0],  # type: ignore[index]
        timeout=30,
        what="the silence's end on the database clock",
    )

    [second] = _pass(pool, conn, me)
    assert (second.counts.events, second.counts.detections) == (0, 1)
    row = conn.execute(
        "SELECT d.rule_ref, d.last_seen, s.last_event_at, r.started_at, r.finished_at "
        "FROM detection d JOIN stream s ON s.key = d.stream JOIN run r ON r.id = d.run_id"
    ).fetchone()
    assert row is not None
    ref, last_seen, last_event_at, started_at, finished_at = row
    assert ref == "probe.quiet"
    # The pass looked at the database's now(), within the run, past the limit.
    assert started_at <= last_seen <= finished_at
    assert last_seen - last_event_at > timedelta(seconds=3)
    window = conn.execute("SELECT data FROM evidence WHERE kind = 'window'").fetchone()
    assert window is not None and window[0]["seen"] == "at pass time"
    assert _count(conn, "recommendation") == 1

    # Still silent: nothing is due, and the same silence is not reported again.
    assert _nothing_due(conn, me)
    assert conn.execute("SELECT next_due_at FROM stream").fetchone() == (None,)
    [third] = _pass(pool, conn, me, forced=True)
    assert (third.counts.events, third.counts.detections) == (0, 0)
    assert _count(conn, "detection") == 1


STOPPED_PACK = """
rules:
  - ref: probe.stopped
    streams: "probe/*"
    kind: silence
    for: 10m
    severity: warning
    recommendation: "Check {stream}: nothing for {gap}."
"""


@pytest.mark.parametrize("batch_events", [50_000, 7])
def test_a_device_stopped_90_minutes_ago_gives_one_silence_when_its_backlog_is_ingested_now(
    conn: psycopg.Connection, pool: ConnectionPool, batch_events: int
) -> None:
    PackStore(conn).save(packs.load_documents({"stopped.yaml": STOPPED_PACK}, "stopped"))
    row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    stopped = row[0] - timedelta(minutes=90)
    ingest_events(
        conn,
        [
            {
                "source": "probe",
                "stream": "probe/line",
                "kind": "reading",
                "occurred_at": stopped - timedelta(minutes=59 - m),  # a reading a minute
                "external_id": f"reading-{m}",
                "payload": {"m": m},
            }
            for m in range(60)
        ],
        batch_size=10,  # several transactions, so several batches when they are small
    )
    me = _worker(conn)
    runner = PassRunner(pool, RuleSource(pool, None), batch_events=batch_events)
    [claim] = _claims(conn, me)
    assert isinstance(runner.run(claim, me), Completed)

    rows = conn.execute("SELECT rule_ref, first_seen, anchor_event_id FROM detection").fetchall()
    last = conn.execute("SELECT max(id) FROM event").fetchone()
    assert last is not None
    assert rows == [("probe.stopped", stopped, last[0])]
    window = conn.execute("SELECT data FROM evidence WHERE kind = 'window'").fetchone()
    assert window is not None
    assert (window[0]["seen"], window[0]["clock"]) == ("at pass time", "occurred")
    # Still stopped: no run is due, and a pass anyway reports nothing new.
    assert _nothing_due(conn, me)
    [again] = _pass(pool, conn, me, forced=True)
    assert again.counts.detections == 0
    assert _count(conn, "detection") == 1
    assert conn.execute("SELECT cleared_at FROM detection").fetchone() == (None,)  # active
    # The device resumes: the same finding clears; still one.
    resumed = {
        "source": "probe",
        "stream": "probe/line",
        "kind": "reading",
        "occurred_at": row[0],
        "external_id": "reading-back",
        "payload": {"m": 60},
    }
    ingest_events(conn, [resumed])
    _pass(pool, conn, me)
    cleared = conn.execute("SELECT count(*), bool_and(cleared_at IS NOT NULL) FROM detection")
    assert cleared.fetchone() == (1, True)


BACKTRACKING_PACK = r"""
rules:
  - ref: log.linear
    streams: "logs/*"
    kind: condition
    when: {field: payload.line, operator: matches, value: '^(a+)+$'}
    severity: warning
    recommendation: "Look at {stream}."
  - ref: log.backref
    streams: "logs/*"
    kind: condition
    when: {field: payload.line, operator: matches, value: '^(a+)+\1$'}
    severity: warning
    recommendation: "Look at {stream}."
"""


@pytest.mark.timeout(30)
def test_a_backtracking_pattern_finishes_its_pass_with_a_problem_recorded(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    PackStore(conn).save(packs.load_documents({"logs.yaml": BACKTRACKING_PACK}, "logs"))
    at = datetime.now(UTC)
    lines = ["a" * 5000 + "b", "aaaa", "aa"]
    ingest_events(
        conn,
        [
            {
                "source": "app",
                "stream": "logs/app-1",
                "kind": "log",
                "occurred_at": at,
                "external_id": f"line-{i}",
                "payload": {"line": line},
            }
            for i, line in enumerate(lines)
        ],
    )
    ids = [r[0] for r in conn.execute("SELECT id FROM event ORDER BY id")]
    me = _worker(conn)
    [outcome] = _pass(pool, conn, me)

    assert (outcome.counts.events, outcome.counts.problems) == (3, 1)
    row = conn.execute(
        "SELECT status::text, problems FROM run WHERE id = %s", [outcome.run_id]
    ).fetchone()
    assert row is not None
    status, [problem] = row
    assert status == "succeeded"
    assert (problem["rule"], problem["event_id"]) == ("log.backref", ids[0])
    assert "took over" in problem["reason"]
    found = conn.execute(
        "SELECT rule_ref, anchor_event_id FROM detection ORDER BY rule_ref, anchor_event_id"
    ).fetchall()
    # RE2 answers '^(a+)+$' at once; the backreference is time-bounded and
    # still matches where it can ('aaaa' is 'aa' twice, 'aa' is 'a' twice).
    assert found == [
        ("log.backref", ids[1]),
        ("log.backref", ids[2]),
        ("log.linear", ids[1]),
        ("log.linear", ids[2]),
    ]


def test_jsonb_reads_back_exactly(db_url: str) -> None:
    """JSON written and read on the project's connections keeps every
    integer's value and type, however long."""
    from sentinel.db.connect import connect

    document = {"big": 2**80, "neg": -(2**63) - 1, "f": 0.1, "i": 7, "s": "é"}
    with connect(db_url) as conn:
        row = conn.execute("SELECT %s::jsonb", [Jsonb(document)]).fetchone()
    assert row is not None
    assert json.dumps(row[0], sort_keys=True) == json.dumps(document, sort_keys=True)


# -- episodes across passes ------------------------------------------------------------

SHIFT_PACK = """
rules:
  - ref: oven.shift
    streams: "probe/*"
    kinds: [measurement]
    kind: spc
    field: payload.v
    baseline_points: 25
    severity: warning
    recommendation: "Check {stream}: {test} at {value} (z={z})."
"""


def test_a_sustained_spc_shift_across_small_batches_a_retry_and_a_replay_is_one_finding(
    conn: psycopg.Connection, pool: ConnectionPool
) -> None:
    """A ~2.7σ shift lasting 200 readings, stored 40 at a time, each pass
    read 7 events a batch, one pass retried after losing its lease, then
    the whole stream replayed: one detection, whose last_seen advances."""
    PackStore(conn).save(packs.load_documents({"shift.yaml": SHIFT_PACK}, "shift"))
    rng = random.Random(5)
    values = [0.5, -0.5] * 15 + [round(2.7 + rng.gauss(0, 1), 3) for _ in range(200)]
    raw = [
        {
            "source": "probe",
            "stream": "probe/oven",
            "kind": "measurement",
            "occurred_at": START + timedelta(minutes=i),
            "external_id": f"m-{i}",
            "payload": {"v": v},
        }
        for i, v in enumerate(values)
    ]
    me = _worker(conn)
    runner = PassRunner(pool, RuleSource(pool, None), batch_events=7)

    def detection() -> tuple[Any, ...]:
        rows = conn.execute(
            "SELECT d.fingerprint, d.last_seen, d.summary, e.data FROM detection d "
            "JOIN evidence e ON e.detection_id = d.id AND e.kind = 'episode'"
        ).fetchall()
        assert len(rows) == 1, rows
        return tuple(rows[0])

    seen: list[datetime] = []
    for lo in range(0, len(raw), 40):
        ingest_events(conn, raw[lo : lo + 40], batch_size=10)
        claims = _claims(conn, me)
        if lo == 120:  # this pass loses its lease, and is retried
            lost = threading.Event()
            lost.set()
            assert [runner.run(c, me, lost) for c in claims] == [LeaseLost(c.id) for c in claims]
            conn.execute(
                "UPDATE run SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL "
                "WHERE id = ANY(%s)",
                [[c.id for c in claims]],
            )
            claims = _claims(conn, me)
        outcomes = [runner.run(c, me) for c in claims]
        assert all(isinstance(o, Completed) for o in outcomes), outcomes
        if lo >= 40:
            fingerprint, last_seen, _, episode = detection()
            seen.append(last_seen)
            assert episode["status"] == "open"
    assert seen == sorted(seen) and len(set(seen)) == len(seen)  # advances each pass
    fingerprint, last_seen, summary, episode = detection()
    assert last_seen >= START + timedelta(minutes=len(values) - 5)
    assert episode["points_beyond"] > 150 and "WE4+" in episode["rules"]
    assert _count(conn, "recommendation") == 1

    RunStore(conn).replay("probe/oven", START - timedelta(hours=1))
    outcomes = [runner.run(c, me) for c in _claims(conn, me)]
    assert [o.counts.detections for o in outcomes] == [0]  # type: ignore[union-attr]
    assert detection() == (fingerprint, last_seen, summary, episode)
    assert _count(conn, "recommendation") == 1
