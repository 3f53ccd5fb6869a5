"""A finding's combined state on a real Postgres: active while its episode
is open, cleared when a real pass sees it end (detection.cleared_at, the
database clock), crossed with the person's review; a re-opened episode is a
new finding; the CLI's `recommendations list --json` and the dashboard's
rows show the same states."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from psycopg_pool import ConnectionPool

from sentinel.cli import cli
from sentinel.db.connect import make_pool
from sentinel.findings import review
from sentinel.ingest.store import ingest_events
from sentinel.rules import pack as packs
from sentinel.sample import generate
from sentinel.tui.source import Source
from sentinel.types import FindingState, finding_state
from sentinel.views.statements import View
from sentinel.worker.models import Completed
from sentinel.worker.packs import PackStore, RuleSource
from sentinel.worker.runner import PassRunner
from sentinel.worker.store import RunStore

HOT_PACK = """
rules:
  - ref: oven.hot
    streams: "probe/*"
    kinds: [measurement]
    kind: threshold
    field: payload.t
    above: 85
    clear_below: 82
    severity: critical
    recommendation: "Inspect cooling on {stream}."
"""
STREAM = "probe/oven"


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with make_pool(db_url, max_size=4, name="test-states") as opened:
        yield opened


class Plant:
    """Readings stored and passes run, one call each."""

    def __init__(self, conn: psycopg.Connection, pool: ConnectionPool) -> None:
        self.conn, self.pool = conn, pool
        self.n = 0
        self.start = generate.recent_start()
        PackStore(conn).save(packs.load_documents({"hot.yaml": HOT_PACK}, "hot"))
        row = conn.execute(
            "INSERT INTO worker (name, capabilities, last_heartbeat) "
            "VALUES ('states', '{\"runtimes\": [\"python\"]}', now()) RETURNING id"
        ).fetchone()
        assert row is not None
        self.worker = int(row[0])

    def readings(self, *values: float, stream: str = STREAM) -> None:
        events = []
        for v in values:
            events.append(
                {
                    "source": "probe",
                    "stream": stream,
                    "kind": "measurement",
                    "occurred_at": self.start + timedelta(minutes=self.n),
                    "external_id": f"t-{self.n}",
                    "payload": {"t": v},
                }
            )
            self.n += 1
        ingest_events(self.conn, events)

    def run_pass(self) -> None:
        store = RunStore(self.conn)
        store.plan(3600, 5, exact=True)
        runner = PassRunner(self.pool, RuleSource(self.pool, None), batch_events=50_000)
        outcomes = [runner.run(c, self.worker) for c in store.claim(self.worker, 100, 60.0)]
        assert outcomes and all(isinstance(o, Completed) for o in outcomes), outcomes

    def findings(self) -> list[tuple[Any, ...]]:
        """(recommendation id, status, cleared) of each finding, oldest first."""
        return [
            tuple(r)
            for r in self.conn.execute(
                "SELECT r.id, r.status::text, d.cleared_at IS NOT NULL FROM detection d "
                "JOIN recommendation r ON r.detection_id = d.id ORDER BY d.id"
            )
        ]


@pytest.fixture
def plant(conn: psycopg.Connection, pool: ConnectionPool) -> Plant:
    return Plant(conn, pool)


def test_the_combined_states_follow_the_episode_and_the_review(plant: Plant) -> None:
    plant.readings(80, 90, 91)
    plant.run_pass()
    [(rec, status, cleared)] = plant.findings()
    assert (status, cleared) == ("open", False)
    assert finding_state(status, cleared) == FindingState.UNACKNOWLEDGED_ACTIVE
    review.acknowledge(plant.conn, rec)
    plant.readings(88)
    plant.run_pass()  # still hot: reported again, still active
    assert plant.findings() == [(rec, "acknowledged", False)]
    plant.readings(70, 70)
    plant.run_pass()  # the episode clears: acknowledged and cleared is done
    assert plant.findings() == [(rec, "acknowledged", True)]
    [(cleared_at, now)] = plant.conn.execute("SELECT cleared_at, now() FROM detection")
    assert abs((now - cleared_at).total_seconds()) < 60  # the database clock
    # hot again: a new episode is a new finding (new fingerprint), to acknowledge again
    plant.readings(95)
    plant.run_pass()
    found = plant.findings()
    assert found[0] == (rec, "acknowledged", True) and len(found) == 2
    assert found[1][1:] == ("open", False)
    fingerprints = {r[0] for r in plant.conn.execute("SELECT fingerprint FROM detection")}
    assert len(fingerprints) == 2
    plant.readings(60)
    plant.run_pass()
    assert plant.findings()[1][1:] == ("open", True)  # unacknowledged-cleared


def test_the_cli_and_the_dashboard_show_the_same_states(
    plant: Plant, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):  # three episodes, each opened and cleared
        plant.readings(90, 70)
        plant.run_pass()
    plant.readings(90)  # one still active
    plant.readings(90, stream="probe/press")  # and another, on another stream
    plant.run_pass()
    recs = [r[0] for r in plant.findings()]
    assert len(recs) == 5
    review.acknowledge(plant.conn, recs[1])
    review.dismiss(plant.conn, recs[2])
    review.acknowledge(plant.conn, recs[3])
    wanted = {
        recs[0]: "unacknowledged-cleared",
        recs[1]: "done",
        recs[2]: "dismissed",
        recs[3]: "acknowledged-active",
        recs[4]: "unacknowledged-active",
    }
    monkeypatch.setenv("SENTINEL_DATABASE_URL", db_url)
    out = CliRunner().invoke(cli, ["recommendations", "list", "--json"])
    assert out.exit_code == 0, out.output
    listed = {r["id"]: r["state"] for r in json.loads(out.output)}
    source = Source(db_url)
    try:
        shown = {r.id: r.state for r in source.snapshot(View.RECOMMENDATIONS).rows}
        [(detection_id,)] = plant.conn.execute(
            "SELECT detection_id FROM recommendation WHERE id = %s", [recs[1]]
        )
        detail = source.detail(detection_id)
    finally:
        source.close()
    assert listed == shown == wanted
    assert detail is not None and detail.recommendation_state == "done"


def test_which_findings_are_cleared_as_written() -> None:
    from datetime import UTC, datetime

    from sentinel.findings.store import cleared
    from sentinel.rules.model import EvidenceItem, Finding

    def finding(*evidence: EvidenceItem) -> Finding:
        at = datetime(2026, 12, 1, tzinfo=UTC)
        return Finding("r", "s", "k", "info", "x", "f", None, at, at, evidence, "look")

    assert not cleared(finding(EvidenceItem("episode", 1, {"status": "open"})))
    assert cleared(finding(EvidenceItem("episode", 1, {"status": "cleared"})))
    assert not cleared(finding(EvidenceItem("flood", None, {"status": "open"})))
    assert cleared(finding(EvidenceItem("flood", None, {"status": "closed"})))
    assert cleared(finding(EvidenceItem("window", 1, {})))  # silence: momentary
