"""`sentinel report alarms` on a real Postgres: the figures as a table and
as --json over a history on the database's own clock, and one clear line for
bad input."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest
from click.testing import CliRunner

from sentinel.cli import cli
from tests.integration import alarm_history as history


@pytest.fixture
def runner(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", db_url)
    return CliRunner()


def _recent(conn: psycopg.Connection) -> dict[str, int]:
    """On the database's own clock (the command cannot pin it): a flood of
    twelve findings a few minutes ago on one line, and a stale one."""
    [(now,)] = conn.execute("SELECT now()")
    h = history.History(conn, now)
    base = now - timedelta(minutes=3)
    for j in range(12):
        h.finding(base + timedelta(seconds=5 * j), f"press.{j}", "plant/line-1/press")
    h.finding(now - timedelta(minutes=30), "ci.failed", "ci/main")
    _, stale = h.finding(now - timedelta(hours=30), "press.hot", "plant/line-2/press")
    return {"stale": stale}


def test_the_command_json(conn: psycopg.Connection, runner: CliRunner) -> None:
    ids = _recent(conn)
    out = runner.invoke(cli, ["report", "alarms", "--since", "1h", "--stream", "plant/*", "--json"])
    assert out.exit_code == 0, out.output
    found = json.loads(out.output)
    assert found["findings"] == 12 and found["stream"] == "plant/*"
    assert len(found["per_10m"]) == 6 and found["per_10m"][-1] == 12
    assert found["in_flood"] is True and len(found["floods"]) == 1
    assert found["floods"][0]["ongoing"] is True
    assert found["stale_total"] == 1
    assert found["stale"][0]["recommendation_id"] == ids["stale"]
    assert {t["figure"] for t in found["targets"]} >= {"average_per_10m", "peak_per_10m"}
    every = json.loads(runner.invoke(cli, ["report", "alarms", "--json"]).output)
    assert every["findings"] == 14 and len(every["per_10m"]) == 7 * 24 * 6


def test_the_command_table(conn: psycopg.Connection, runner: CliRunner) -> None:
    _recent(conn)
    out = runner.invoke(cli, ["report", "alarms", "--since", "1h"])
    assert out.exit_code == 0, out.output
    text = out.output
    assert "IN FLOOD" in text
    assert "EEMUA 191" in text and "ISA-18.2" in text
    assert "press.hot" in text  # the stale finding
    assert "ci.failed" in text  # among the top rules


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--since", "soon"], "bad duration 'soon'"),
        (["--since", "0"], "more than 0"),
        (["--since", "400d"], "at most 366d"),
        (["--stream", "plant/[a"], "unclosed '['"),
        (["--stream", " "], "empty"),
    ],
)
def test_the_command_refuses_bad_input(runner: CliRunner, args: list[str], says: str) -> None:
    out = runner.invoke(cli, ["report", "alarms", *args])
    assert out.exit_code != 0
    lines = [line for line in out.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("sentinel: error: "), out.output
    assert says in lines[0]
    assert "Traceback" not in out.output
