"""Shelving on a real Postgres: a shelf written by one process (`sentinel
shelve`, a real subprocess) shelves the findings a worker's pass writes
afterwards (still written, not open, journaled `shelved`), and expires on
the database clock (a pinned `now`, never a sleep); unshelving releases
what is still active, journaled with the person; the read model counts
shelved findings apart from open ones."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from sentinel.findings import review, shelves
from sentinel.findings.store import FindingStore
from sentinel.rules.model import EvidenceItem, Finding
from sentinel.views import filters
from sentinel.views.read import Views
from sentinel.worker.maintenance import Maintenance, MaintenanceConfig
from tests.acceptance.test_cli import sentinel
from tests.integration.test_finding_states import Plant
from tests.integration.test_finding_states import pool as pool  # a fixture


@pytest.fixture
def plant(conn: psycopg.Connection, pool: ConnectionPool) -> Plant:
    return Plant(conn, pool)


def _journal(conn: psycopg.Connection, rec: int) -> list[tuple[Any, ...]]:
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT actor, from_state, to_state, comment FROM finding_journal"
            " WHERE recommendation_id = %s ORDER BY id",
            [rec],
        )
    ]


def _recs(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """(id, stream, status, shelf_id, cleared) of each finding, oldest first."""
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT r.id, r.stream, r.status::text, r.shelf_id, d.cleared_at IS NOT NULL"
            " FROM recommendation r JOIN detection d ON d.id = r.detection_id ORDER BY r.id"
        )
    ]


def _states(conn: psycopg.Connection) -> dict[int, str]:
    return {r.id: r.state for r in Views(conn).latest_recommendations()}


def test_a_shelf_from_the_cli_shelves_a_pass_and_expires_on_the_database_clock(
    plant: Plant, db_url: str
) -> None:
    made = sentinel(
        "shelve",
        "--stream",
        "probe/ov*",
        "--for",
        "2h",
        "--reason",
        "sensor swap",
        "--by",
        "ana",
        env={"SENTINEL_DATABASE_URL": db_url},
    )
    assert made.returncode == 0, made.stderr
    found = re.fullmatch(
        r"shelf (\d+) live until (\S+ \S+) \(the database's clock; 2h00m.*\)\n", made.stdout
    )
    assert found, made.stdout
    shelf_id = int(found.group(1))
    [(created, expires_at, actor)] = plant.conn.execute(
        "SELECT created, expires_at, actor FROM shelf WHERE id = %s", [shelf_id]
    )
    assert expires_at - created == timedelta(hours=2) and actor == "ana"
    assert datetime.fromisoformat(found.group(2)) == expires_at.replace(microsecond=0)

    plant.readings(90, 91)  # probe/oven: shelved
    plant.readings(95, stream="probe/press")  # not matched: open
    plant.run_pass()
    [first, second] = _recs(plant.conn)
    oven, press = first[0], second[0]
    assert first[1:] == ("probe/oven", "open", shelf_id, False)
    assert second[1:] == ("probe/press", "open", None, False)
    assert _journal(plant.conn, oven) == [
        ("system", None, "shelved", f"shelf {shelf_id}: sensor swap")
    ]
    assert _journal(plant.conn, press) == [("system", None, "unacknowledged-active", None)]

    views = Views(plant.conn)
    assert _states(plant.conn) == {oven: "shelved", press: "unacknowledged-active"}
    assert views.summary().open_recommendations == {"critical": 1}
    assert (views.summary().shelved, views.summary().suppressed) == (1, 0)
    streams = {s.key: s.open_detections for s in views.streams()}
    assert streams == {"probe/oven": 0, "probe/press": 1}
    opened = views.latest_recommendations(filters.where(status="open"))
    assert [r.id for r in opened] == [press]
    shelved = views.latest_recommendations(filters.where(state="shelved"))
    assert [(r.id, r.status) for r in shelved] == [(oven, "shelved")]
    detail = views.detail(shelved[0].detection_id)
    assert detail is not None
    assert (detail.shelf_id, detail.recommendation_status, detail.recommendation_state) == (
        shelf_id,
        "shelved",
        "shelved",
    )
    assert [r.id for r in views.recommendations()] == [press, oven]  # open first
    [row] = views.shelves()
    assert (row.id, row.state, row.findings, row.reason) == (shelf_id, "live", 1, "sensor swap")

    # Still hot, reported again: the same finding, still shelved, no new row.
    plant.readings(92)
    plant.run_pass()
    assert [r[3] for r in _recs(plant.conn)] == [shelf_id, None]
    assert len(_journal(plant.conn, oven)) == 1

    # Not yet: a second before the expiry on the pinned clock nothing ends.
    assert shelves.expire(plant.conn, now=expires_at - timedelta(seconds=1)) == 0
    after = expires_at + timedelta(seconds=1)
    assert shelves.expire(plant.conn, now=after) == 1
    assert shelves.expire(plant.conn, now=after) == 0  # once
    [(ended_at, ended_by)] = plant.conn.execute(
        "SELECT ended_at, ended_by FROM shelf WHERE id = %s", [shelf_id]
    )
    assert (ended_at, ended_by) == (after, "system")
    assert _journal(plant.conn, oven)[1:] == [
        ("system", "shelved", "unacknowledged-active", f"shelf {shelf_id} expired")
    ]
    assert _states(plant.conn)[oven] == "unacknowledged-active"
    assert views.summary().open_recommendations == {"critical": 2}
    assert views.shelves() == () and [s.state for s in views.shelves(everything=True)] == [
        "expired"
    ]

    # A new episode after the shelf ended is not shelved.
    plant.readings(60, 96)
    plant.run_pass()
    assert _recs(plant.conn)[-1][2:4] == ("open", None)


def test_unshelving_releases_what_is_active_and_keeps_what_cleared(plant: Plant) -> None:
    shelf = shelves.shelve(
        plant.conn, stream_glob="probe/*", for_seconds=3600, reason="maintenance", actor="ana"
    )
    plant.readings(90, 70)  # opened and cleared while shelved
    plant.readings(90, stream="probe/press")  # still active
    plant.run_pass()
    [(cleared, *_), (active, *_)] = _recs(plant.conn)
    assert _states(plant.conn) == {cleared: "shelved", active: "shelved"}
    ended = shelves.unshelve(plant.conn, shelf.id, actor="bo", comment="done early")
    assert ended.ended_by == "bo" and ended.ended_at is not None
    assert _journal(plant.conn, active)[1:] == [
        ("bo", "shelved", "unacknowledged-active", f"shelf {shelf.id} unshelved: done early")
    ]
    # cleared while shelved: nothing left to act on, it stays shelved
    assert len(_journal(plant.conn, cleared)) == 1
    assert _states(plant.conn) == {cleared: "shelved", active: "unacknowledged-active"}
    with pytest.raises(shelves.ShelfEnded, match=f"shelf {shelf.id} ended at .* \\(by bo\\)"):
        shelves.unshelve(plant.conn, shelf.id, actor="bo")
    with pytest.raises(shelves.UnknownShelf, match="no shelf with id 424242"):
        shelves.unshelve(plant.conn, 424242, actor="bo")


def test_a_finding_on_two_shelves_moves_to_the_other_when_one_ends(plant: Plant) -> None:
    short = shelves.shelve(
        plant.conn, stream_glob="probe/oven", for_seconds=600, reason="swap", actor="ana"
    )
    long = shelves.shelve(
        plant.conn,
        stream_glob="probe/*",
        rule_glob="oven.*",
        for_seconds=7200,
        reason="line down",
        actor="bo",
    )
    plant.readings(90)
    plant.run_pass()
    [(rec, _, _, on, _)] = _recs(plant.conn)
    assert on == long.id  # the one expiring last
    shelves.unshelve(plant.conn, long.id, actor="bo")
    assert _recs(plant.conn)[0][3] == short.id  # moved, still shelved, no row
    assert len(_journal(plant.conn, rec)) == 1
    assert shelves.expire(plant.conn, now=short.expires_at) == 1
    assert _recs(plant.conn)[0][3] is None
    assert _journal(plant.conn, rec)[-1][:3] == ("system", "shelved", "unacknowledged-active")


def test_the_workers_maintenance_expires_shelves_on_the_database_clock(
    plant: Plant, pool: ConnectionPool
) -> None:
    import threading

    # Written against a pinned clock an hour ago: past its expiry by the database's now().
    [(db_now,)] = plant.conn.execute("SELECT now()")
    shelf = shelves.shelve(
        plant.conn,
        stream_glob="probe/*",
        for_seconds=600,
        reason="old",
        actor="ana",
        now=db_now - timedelta(hours=1),
    )
    assert Views(plant.conn).shelves() == ()  # not live: a pass would not shelve with it
    maintenance = Maintenance(pool, MaintenanceConfig(), threading.Event())
    maintenance.tick(0.0)  # every tick, not only when retention is due
    [(ended_by,)] = plant.conn.execute("SELECT ended_by FROM shelf WHERE id = %s", [shelf.id])
    assert ended_by == "system"


def test_acknowledging_or_dismissing_a_shelved_finding_takes_it_off_the_shelf(
    plant: Plant,
) -> None:
    shelf = shelves.shelve(
        plant.conn, stream_glob="probe/*", for_seconds=3600, reason="swap", actor="ana"
    )
    plant.readings(90)
    plant.readings(90, stream="probe/press")
    plant.run_pass()
    [(acked, *_), (dismissed, *_)] = _recs(plant.conn)
    review.acknowledge(plant.conn, acked, actor="cy", comment="seen")
    review.dismiss(plant.conn, dismissed, actor="cy")
    assert _journal(plant.conn, acked)[1:] == [("cy", "shelved", "acknowledged-active", "seen")]
    assert _journal(plant.conn, dismissed)[1:] == [("cy", "shelved", "dismissed", None)]
    assert [r[3] for r in _recs(plant.conn)] == [None, None]
    shelves.unshelve(plant.conn, shelf.id, actor="ana")  # nothing of theirs changes now
    assert len(_journal(plant.conn, acked)) == len(_journal(plant.conn, dismissed)) == 2
    assert _states(plant.conn) == {acked: "acknowledged-active", dismissed: "dismissed"}


def test_a_retried_write_enters_shelved_once(conn: psycopg.Connection) -> None:
    shelf = shelves.shelve(conn, stream_glob="s/*", for_seconds=60, reason="r", actor="ana")
    at = datetime.now().astimezone()
    finding = Finding(
        "r.one",
        "s/1",
        "threshold.above",
        "warning",
        "hot",
        "fp-1",
        None,
        at,
        at,
        (EvidenceItem("episode", None, {"status": "open"}),),
        "look",
    )
    run_id = _run(conn)
    for _ in range(2):  # a retry, a replay: the same fingerprint
        with conn.transaction():
            FindingStore(conn).write(run_id, [finding])
    [(rec, on)] = conn.execute("SELECT id, shelf_id FROM recommendation")
    assert on == shelf.id
    assert [r[2] for r in _journal(conn, rec)] == ["shelved"]


def _run(conn: psycopg.Connection) -> int:
    row = conn.execute("INSERT INTO stream (key) VALUES ('s/1') RETURNING id").fetchone()
    assert row is not None
    made = conn.execute(
        "INSERT INTO run (stream_id, window_start) VALUES (%s, now()) RETURNING id",
        [row[0]],
    ).fetchone()
    assert made is not None
    return int(made[0])


@pytest.mark.parametrize(
    ("stream", "rule", "severity", "hit"),
    [
        ("a/1", "x", "info", True),
        ("a/1/deep", "x", "info", True),  # `*` also crosses "/", as in rule packs
        ("A/1", "x", "info", False),  # case-sensitive, as in rule packs
        ("b/1", "x", "info", False),
    ],
)
def test_a_shelf_matches_as_rule_streams_do(
    stream: str, rule: str, severity: str, hit: bool
) -> None:
    at = datetime.now().astimezone()
    shelf = shelves.Shelf(1, "a/*", None, None, "r", "ana", at, at, None, None)
    assert shelf.matches(stream, rule, severity) is hit
    narrow = shelves.Shelf(2, "a/*", "press.[ab]*", "critical", "r", "ana", at, at, None, None)
    assert narrow.matches("a/1", "press.alpha", "critical")
    assert not narrow.matches("a/1", "press.cold", "critical")
    assert not narrow.matches("a/1", "press.alpha", "warning")


def test_shelf_input_is_checked(conn: psycopg.Connection) -> None:
    base: dict[str, Any] = {"stream_glob": "a/*", "reason": "r", "actor": "ana"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({"for_seconds": 60, "until": datetime.now().astimezone()}, "exactly one of"),
        ({}, "exactly one of"),
        ({"for_seconds": 60, "reason": "  "}, "needs a reason"),
        ({"for_seconds": 60, "actor": ""}, "needs an actor"),
        ({"for_seconds": 0}, "longer than 0"),
        ({"for_seconds": 60, "stream_glob": "a/[b"}, "unclosed"),
        ({"for_seconds": 60, "rule_glob": " x"}, "whitespace"),
        ({"for_seconds": 60, "severity": "huge"}, "bad severity"),
        ({"until": datetime(2020, 1, 1).astimezone()}, "not after the database's clock"),
    ]
    for change, message in cases:
        with pytest.raises(shelves.InputError, match=message):
            shelves.shelve(conn, **{**base, **change})
    assert conn.execute("SELECT count(*) FROM shelf").fetchone() == (0,)
