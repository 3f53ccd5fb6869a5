"""One read model: the CLI's lists (`--json`) and the dashboard's rows are the
same dataclasses read by the same queries, so the same run, worker or
recommendation shows the same in both; the read model's own queries stay on
their indexes."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest

from sentinel.tui.source import Source
from sentinel.views import filters
from sentinel.views.rows import RecommendationRow, RunRow, WorkerRow
from sentinel.views.statements import SQL, View, filter_params, rows
from tests.tui import seed as seeding


def _cli(url: str, *args: str) -> list[dict[str, Any]]:
    environment = {
        k: v for k, v in os.environ.items() if k == "SENTINEL_HOME" or not k.startswith("SENTINEL_")
    }
    environment["SENTINEL_DATABASE_URL"] = url
    done = subprocess.run(
        [sys.executable, "-m", "sentinel", *args, "--json"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def _names(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def test_the_cli_and_the_dashboard_show_the_same_runs(seeded: tuple[str, dict[str, int]]) -> None:
    url, _ = seeded
    source = Source(url, now=seeding.NOW)
    try:
        shown = source.snapshot(View.RUNS, show_empty=True).rows
        retrying = source.snapshot(View.RUNS, filters.parse("status:retrying")).rows
    finally:
        source.close()
    listed = _cli(url, "runs", "list")
    assert all(isinstance(r, RunRow) for r in shown)
    assert all(set(r) == _names(RunRow) for r in listed)
    by_id = {r["id"]: r for r in listed}
    assert set(by_id) == {r.id for r in shown}
    for run in shown:  # the clock-free columns: the CLI reads at the database's now()
        cli = by_id[run.id]
        assert (cli["status"], cli["attempts"], cli["stream"], cli["owner"], cli["error"]) == (
            run.status,
            run.attempts,
            run.stream,
            run.owner,
            run.error,
        )
    # a queued run that failed before is retrying in both, and both filter by it
    assert [r.stream for r in retrying] == ["plant-a/line-2/press-2"]
    cli_retrying = _cli(url, "runs", "list", "--status", "retrying")
    assert [r["id"] for r in cli_retrying] == [r.id for r in retrying]
    assert cli_retrying[0]["status"] == "retrying"


def test_the_cli_and_the_dashboard_show_the_same_workers_and_recommendations(
    seeded: tuple[str, dict[str, int]],
) -> None:
    url, _ = seeded
    source = Source(url, now=seeding.NOW)
    try:
        workers = source.snapshot(View.FLEET).rows
        recommendations = source.snapshot(View.RECOMMENDATIONS).rows
        sentinels = source.snapshot(View.FLEET, filters.parse("role:sentinel")).rows
    finally:
        source.close()
    listed = _cli(url, "workers", "list")
    assert all(set(w) == _names(WorkerRow) for w in listed)
    assert [
        (w["id"], w["worker_role"], w["status"], w["running"], w["capacity"]) for w in listed
    ] == [(w.id, w.worker_role, w.status, w.running, w.capacity) for w in workers]
    assert [w["name"] for w in _cli(url, "workers", "list", "--role", "sentinel")] == [
        w.name for w in sentinels
    ]
    assert {w.name for w in sentinels} == {"w-beta", "w-eps"}
    cli_recs = {r["id"]: r for r in _cli(url, "recommendations", "list")}
    assert all(set(r) == _names(RecommendationRow) for r in cli_recs.values())
    assert recommendations and set(cli_recs) == {r.id for r in recommendations}
    for rec in recommendations:
        cli = cli_recs[rec.id]
        assert (cli["status"], cli["severity"], cli["rule"], cli["kind"], cli["text"]) == (
            rec.status,
            rec.severity,
            rec.rule,
            rec.kind,
            rec.text,
        )


def test_a_list_option_is_the_whole_value_never_a_substring() -> None:
    flt = filters.where(stream="plant/1", status="dead")
    assert flt.matches({"stream": "plant/1", "status": "dead"})
    assert not flt.matches({"stream": "plant/10", "status": "dead"})
    params = filter_params(View.RUNS, flt)
    assert params["stream_re"] == ["^plant\\/1$"] and params["run_status"] == ["dead"]
    globbed = filters.where(stream="plant/*")
    assert globbed.matches({"stream": "plant/10"}) and not globbed.matches({"stream": "x/plant/1"})


# ---- the read model's own queries on a large history -------------------------

HISTORY_TABLES = {"event", "run", "detection", "evidence", "recommendation"}


def _seq_scans(conn: psycopg.Connection, name: str, params: dict[str, Any]) -> list[str]:
    [(plan,)] = conn.execute(
        "EXPLAIN (FORMAT JSON) " + SQL[name], {"now": None, **params}
    ).fetchall()
    nodes, scans = [plan[0]["Plan"]], []
    while nodes:
        node = nodes.pop()
        nodes.extend(node.get("Plans", []))
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in HISTORY_TABLES:
            scans.append(node["Relation Name"])
    return scans


@pytest.fixture
def history(db_url: str) -> str:
    sys.path.insert(0, str(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    from bench.tui_refresh import seed

    seed(db_url, {"workers": 100, "streams": 200, "per_stream": 50, "windows": 150, "hours": 1})
    return db_url


def test_the_lists_queries_use_indexes_on_a_large_history(history: str) -> None:
    """`runs list` (newest first, empty runs too), `recommendations list`
    (newest first) and `workers list --role` walk indexes, never the history."""
    statements = [
        rows(View.RUNS, limit=51, show_empty=True, active_first=False),
        rows(
            View.RUNS, filters.where(status="dead"), limit=51, show_empty=True, active_first=False
        ),
        rows(
            View.RUNS,
            filters.where(stream="plant-1/*"),
            limit=51,
            show_empty=True,
            active_first=False,
        ),
        rows(View.FLEET, filters.where(role="sentinel"), limit=None),
    ]
    for text in ("", "status:open", "severity:critical"):
        where = filter_params(View.RECOMMENDATIONS, filters.parse(text))
        statements.append(("recommendations_latest", {**where, "limit": 501}))
    with psycopg.connect(history, autocommit=True, prepare_threshold=None) as conn:
        conn.execute("ANALYZE")
        for name, params in statements:
            assert _seq_scans(conn, name, params) == [], (name, params)
