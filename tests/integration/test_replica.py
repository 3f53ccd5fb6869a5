"""SENTINEL_READ_DATABASE_URL against a real streaming replica (a
`pg_basebackup` standby of a private embedded primary, from the same
binaries, started by the fixture on its own socket): the list commands and the
dashboard read the replica while the primary takes writes, a person's review
goes to the primary, and the dashboard's header shows the replica's lag."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from textual.pilot import Pilot

from sentinel.cli import cli
from sentinel.db import migrate
from sentinel.tui.app import SentinelApp
from sentinel.tui.widgets.summary import SummaryBar
from sentinel.views.read import Views
from tests import pg
from tests.acceptance.fleet import wait_for
from tests.tui import seed as seeding
from tests.tui.conftest import drive, until


@dataclass(frozen=True)
class Pair:
    primary: str
    replica: str


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    primary = pg.embedded()
    try:
        url = primary.create_database("sentinel")
        migrate.upgrade(url)
        with psycopg.connect(url, autocommit=True) as conn:
            seeding.seed(conn)
        try:
            standby = pg.replica(primary)
            replica = standby.__enter__()
        except Exception as exc:  # no pg_basebackup, a refused replication connection
            pytest.skip(f"cannot start a streaming replica here: {exc}")
        try:
            yield Pair(url, replica.url("sentinel"))
        finally:
            standby.__exit__(None, None, None)
    finally:
        pg.destroy(primary)


def _count(url: str, query: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


RUNS = "SELECT count(*) FROM run"


def _caught_up(pair: Pair) -> None:
    wait_for(
        lambda: _count(pair.replica, RUNS) == _count(pair.primary, RUNS),
        timeout=30,
        what="the replica caught up",
    )


@pytest.fixture
def paused(pair: Pair) -> Iterator[None]:
    """Replay paused on the replica: it keeps what it had while the primary
    goes on taking writes."""
    _caught_up(pair)
    with psycopg.connect(pair.replica, autocommit=True) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    try:
        yield
    finally:
        with psycopg.connect(pair.replica, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        _caught_up(pair)


def _write_a_run(url: str) -> None:
    """A finished run on a new stream (one write the lists show)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "WITH s AS (INSERT INTO stream (key) "
            "           SELECT 'replica/' || (count(*) + 1) FROM stream RETURNING id) "
            "INSERT INTO run (stream_id, window_start, status, started_at, finished_at) "
            "SELECT id, now(), 'succeeded', now(), now() FROM s"
        )


def _runs_list(pair: Pair, monkeypatch: pytest.MonkeyPatch, *, replica: bool) -> list[object]:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", pair.primary)
    if replica:
        monkeypatch.setenv("SENTINEL_READ_DATABASE_URL", pair.replica)
    else:
        monkeypatch.delenv("SENTINEL_READ_DATABASE_URL", raising=False)
    result = CliRunner().invoke(cli, ["runs", "list", "--json", "--limit", "1000"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list)
    return rows


def test_runs_list_reads_the_replica_while_the_primary_takes_writes(
    pair: Pair, paused: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _runs_list(pair, monkeypatch, replica=True)
    _write_a_run(pair.primary)  # the replica does not replay it yet
    assert len(_runs_list(pair, monkeypatch, replica=True)) == len(before)
    assert len(_runs_list(pair, monkeypatch, replica=False)) == len(before) + 1


def test_a_review_goes_to_the_primary_and_reads_follow_once_replayed(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    _caught_up(pair)
    with psycopg.connect(pair.primary) as conn:
        row = conn.execute(
            "SELECT id FROM recommendation WHERE status = 'open' ORDER BY id LIMIT 1"
        ).fetchone()
    assert row is not None
    rec = int(row[0])
    monkeypatch.setenv("SENTINEL_DATABASE_URL", pair.primary)
    monkeypatch.setenv("SENTINEL_READ_DATABASE_URL", pair.replica)
    # The replica refuses writes: an ack that went there would fail.
    result = CliRunner().invoke(cli, ["recommendations", "ack", str(rec), "--by", "tester"])
    assert result.exit_code == 0, result.output
    status = "SELECT status::text FROM recommendation WHERE id = %s"
    with psycopg.connect(pair.primary) as conn:
        assert conn.execute(status, [rec]).fetchone() == ("acknowledged",)

    def listed() -> list[dict[str, object]]:
        got = CliRunner().invoke(cli, ["recommendations", "history", str(rec), "--json"])
        assert got.exit_code == 0, got.output
        return list(json.loads(got.stdout))

    wait_for(
        lambda: any(e.get("actor") == "tester" for e in listed()),
        timeout=30,
        what="the review in the history read from the replica",
    )


def test_the_dashboard_reads_the_replica_writes_the_primary_and_shows_its_lag(
    pair: Pair, paused: None
) -> None:
    app = SentinelApp(
        pair.primary, read_url=pair.replica, listen=False, interval=0.5, actor="tester"
    )
    seen: dict[str, Any] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        bar = app.query_one(SummaryBar)
        assert bar.summary is not None and bar.summary.replica_lag is not None
        seen["before"] = bar.summary
        _write_a_run(pair.primary)  # the replica holds it back: its lag grows
        await until(
            pilot,
            lambda: bar.summary is not None and (bar.summary.replica_lag or 0) > 0,
            timeout=30,
        )
        seen["lagging"] = bar.summary
        seen["header"] = bar.render_text().plain
        # A write from the dashboard goes to the primary (the replica refuses it).
        with psycopg.connect(pair.primary) as conn:
            row = conn.execute(
                "SELECT id FROM recommendation WHERE status = 'open' ORDER BY id DESC LIMIT 1"
            ).fetchone()
        assert row is not None
        seen["dismissed"] = app.source.dismiss(int(row[0]), "seen on the replica")

    drive(app, scenario)
    assert "replica lag" in seen["header"]
    assert seen["dismissed"].status == "dismissed" and seen["dismissed"].changed
    assert seen["lagging"].events_last_minute == seen["before"].events_last_minute
    with psycopg.connect(pair.primary) as conn:
        assert Views(conn).replica_lag() is None  # the primary is no replica


def test_the_header_names_no_replica_on_the_primary(pair: Pair) -> None:
    app = SentinelApp(pair.primary, listen=False, interval=3600.0)
    header: dict[str, str] = {}

    async def scenario(pilot: Pilot[Any]) -> None:
        header["text"] = app.query_one(SummaryBar).render_text().plain

    drive(app, scenario)
    assert "replica" not in header["text"]
