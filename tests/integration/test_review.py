"""Acknowledge and dismiss: only the recommendation's status and `updated` change."""

from __future__ import annotations

import json

import psycopg
import pytest
from click.testing import CliRunner

from sentinel.cli import cli
from sentinel.findings import review
from tests.tui import seed as seeding


def _rows(conn: psycopg.Connection) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        for table in ("recommendation", "detection", "evidence", "run", "stream", "worker")
    }


def test_acknowledge_changes_only_status_and_updated(conn: psycopg.Connection) -> None:
    ids = seeding.seed(conn)
    rec = ids["rec-press.overtemp"]
    before = _rows(conn)
    result = review.acknowledge(conn, rec)
    after = _rows(conn)
    assert result == review.Reviewed(id=rec, status="acknowledged", changed=True)
    for table in ("detection", "evidence", "run", "stream", "worker"):
        assert after[table] == before[table]
    changed = [
        (b, a)
        for b, a in zip(before["recommendation"], after["recommendation"], strict=True)
        if a != b
    ]
    assert len(changed) == 1
    old, new = changed[0]
    columns = [d.name for d in conn.execute("SELECT * FROM recommendation LIMIT 0").description]
    differing = {columns[i] for i in range(len(columns)) if old[i] != new[i]}
    assert differing == {"status", "updated"}


def test_dismiss_twice_is_a_no_op_the_second_time(conn: psycopg.Connection) -> None:
    ids = seeding.seed(conn)
    rec = ids["rec-press.spc"]
    assert review.dismiss(conn, rec).changed
    updated = conn.execute("SELECT updated FROM recommendation WHERE id = %s", [rec]).fetchone()
    again = review.dismiss(conn, rec)
    assert again == review.Reviewed(id=rec, status="dismissed", changed=False)
    assert (
        conn.execute("SELECT updated FROM recommendation WHERE id = %s", [rec]).fetchone()
        == updated
    )


def test_unknown_recommendation_is_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(review.UnknownRecommendation, match="no recommendation with id 999"):
        review.acknowledge(conn, 999)


def test_review_notifies_the_dashboards(db_url: str, conn: psycopg.Connection) -> None:
    ids = seeding.seed(conn)
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("LISTEN sentinel_recommendation")
        review.acknowledge(conn, ids["rec-press.spc"])
        got = list(listener.notifies(timeout=2.0, stop_after=1))
    assert got and got[0].channel == "sentinel_recommendation"


def test_cli_lists_filters_and_reviews(
    db_url: str, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = seeding.seed(conn)
    monkeypatch.setenv("SENTINEL_DATABASE_URL", db_url)
    runner = CliRunner()
    out = runner.invoke(cli, ["recommendations", "list", "--stream", "plant-a/*", "--json"])
    assert out.exit_code == 0, out.output
    assert sorted(r["rule"] for r in json.loads(out.output)) == ["press.overtemp", "press.spc"]
    out = runner.invoke(
        cli, ["recommendations", "list", "--status", "open", "--severity", "critical"]
    )
    assert out.exit_code == 0 and "press.overtemp" in out.output and "press.spc" not in out.output
    rec = ids["rec-press.overtemp"]
    out = runner.invoke(cli, ["recommendations", "ack", str(rec)])
    assert out.exit_code == 0 and f"recommendation {rec} acknowledged" in out.output
    out = runner.invoke(cli, ["recommendations", "dismiss", "424242"])
    assert out.exit_code == 1
    assert "no recommendation with id 424242" in out.output
