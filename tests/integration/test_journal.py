"""The audit journal on a real Postgres: every change of a finding's state is
a row (time on the database clock, actor, from, to, comment), by a person
through the CLI or the dashboard's write path, or by the system when a pass
sees an episode clear; the database refuses to change or delete one."""

from __future__ import annotations

import getpass
import json
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from sentinel.cli import cli
from sentinel.findings import review
from sentinel.tui.source import Source
from tests.integration.test_finding_states import Plant, pool  # noqa: F401  (a fixture)
from tests.tui import seed as seeding


def _history(runner: CliRunner, rec: int) -> list[dict[str, Any]]:
    out = runner.invoke(cli, ["recommendations", "history", str(rec), "--json"])
    assert out.exit_code == 0, out.output
    found: list[dict[str, Any]] = json.loads(out.output)
    return found


@pytest.fixture
def runner(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", db_url)
    return CliRunner()


def test_ack_with_a_comment_and_by_is_in_the_history(
    conn: psycopg.Connection, runner: CliRunner
) -> None:
    rec = seeding.seed(conn)["rec-press.overtemp"]
    [(before,)] = conn.execute("SELECT now()")
    out = runner.invoke(
        cli, ["recommendations", "ack", str(rec), "--comment", "cooling checked", "--by", "ana"]
    )
    assert out.exit_code == 0 and f"recommendation {rec} acknowledged" in out.output
    [row] = _history(runner, rec)
    assert (row["actor"], row["from_state"], row["to_state"], row["comment"]) == (
        "ana",
        "unacknowledged-active",
        "acknowledged-active",
        "cooling checked",
    )
    [(at,)] = conn.execute("SELECT at FROM finding_journal")
    assert at >= before  # the database's clock
    # acknowledging it again changes nothing, and journals nothing
    assert runner.invoke(cli, ["recommendations", "ack", str(rec)]).exit_code == 0
    assert len(_history(runner, rec)) == 1
    table = runner.invoke(cli, ["recommendations", "history", str(rec)])
    assert table.exit_code == 0 and "cooling checked" in table.output and "ana" in table.output


def test_dismiss_defaults_to_the_os_user_and_is_final(
    conn: psycopg.Connection, runner: CliRunner
) -> None:
    rec = seeding.seed(conn)["rec-press.spc"]
    out = runner.invoke(cli, ["recommendations", "dismiss", str(rec), "--comment", "sensor swap"])
    assert out.exit_code == 0, out.output
    [row] = _history(runner, rec)
    assert (row["actor"], row["from_state"], row["to_state"], row["comment"]) == (
        getpass.getuser(),
        "unacknowledged-active",
        "dismissed",
        "sensor swap",
    )
    out = runner.invoke(cli, ["recommendations", "ack", str(rec)])
    assert out.exit_code == 1
    assert f"recommendation {rec} is dismissed: it cannot be acknowledged" in out.output
    assert len(_history(runner, rec)) == 1
    out = runner.invoke(cli, ["recommendations", "history", "424242"])
    assert out.exit_code == 1 and "no recommendation with id 424242" in out.output


def test_the_dashboards_review_is_journaled_as_its_user(
    db_url: str, conn: psycopg.Connection
) -> None:
    rec = seeding.seed(conn)["rec-press.overtemp"]
    source = Source(db_url)
    try:
        assert source.acknowledge(rec).changed
    finally:
        source.close()
    rows = conn.execute("SELECT actor, from_state, to_state, comment FROM finding_journal")
    assert rows.fetchall() == [
        (getpass.getuser(), "unacknowledged-active", "acknowledged-active", None)
    ]


def test_a_pass_journals_the_opening_and_the_clearing(
    conn: psycopg.Connection,
    pool: Any,  # noqa: F811
    runner: CliRunner,
) -> None:
    plant = Plant(conn, pool)
    plant.readings(80, 90, 91)
    plant.run_pass()
    [(rec, _, _)] = plant.findings()
    review.acknowledge(conn, rec, actor="ana", comment="on it")
    plant.readings(88)
    plant.run_pass()  # still active: nothing changes
    plant.readings(70, 70)
    plant.run_pass()  # cleared
    plant.readings(60)
    plant.run_pass()  # reported no more: nothing changes
    got = [
        (r["actor"], r["from_state"], r["to_state"], r["comment"]) for r in _history(runner, rec)
    ]
    assert got == [
        ("system", None, "unacknowledged-active", None),
        ("ana", "unacknowledged-active", "acknowledged-active", "on it"),
        ("system", "acknowledged-active", "done", None),
    ]
    # an episode opened and cleared in one pass enters cleared
    plant.readings(95, 60)
    plant.run_pass()
    [(second, _, _)] = [r for r in plant.findings() if r[0] != rec]
    assert [(r["from_state"], r["to_state"]) for r in _history(runner, second)] == [
        (None, "unacknowledged-cleared")
    ]


def test_journal_rows_cannot_be_changed_or_deleted(conn: psycopg.Connection) -> None:
    rec = seeding.seed(conn)["rec-press.overtemp"]
    review.acknowledge(conn, rec, actor="ana", comment="ok")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only: UPDATE"):
        conn.execute("UPDATE finding_journal SET comment = 'rewritten'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only: DELETE"):
        conn.execute("DELETE FROM finding_journal")
    assert conn.execute("SELECT actor, comment FROM finding_journal").fetchall() == [("ana", "ok")]
