"""Suppression by design on a real Postgres, through real passes: while a
line's stop is active, the press alarms of the same stream are written
suppressed (a pointer to the stop's detection, journaled `suppressed`), also
when both fire in one pass; when the stop clears, the suppressed findings
still active become unacknowledged (journaled), and new ones are not
suppressed; another stream is never touched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from sentinel.findings import review
from sentinel.ingest.store import ingest_events
from sentinel.rules import pack as packs
from sentinel.views import filters
from sentinel.views.read import Views
from sentinel.worker.packs import PackStore
from tests.integration.test_finding_states import Plant
from tests.integration.test_finding_states import pool as pool  # a fixture

PACK = """
rules:
  - ref: line.stop
    streams: "line/*"
    kind: threshold
    field: payload.stopped
    above: 0.5
    clear_below: 0.4
    severity: warning
    suppresses: ["press.*"]
    recommendation: "The line {stream} stopped."
  - ref: press.hot
    streams: "line/*"
    kind: threshold
    field: payload.t
    above: 85
    clear_below: 82
    severity: critical
    recommendation: "Inspect cooling on {stream}."
"""


class Line(Plant):
    """The plant of test_finding_states with this pack, readings of both fields."""

    def __init__(self, conn: psycopg.Connection, pool: ConnectionPool) -> None:
        super().__init__(conn, pool)
        PackStore(conn).save(packs.load_documents({"line.yaml": PACK}, "line"))

    def read(self, *pairs: tuple[int, float], stream: str = "line/a") -> None:
        events = []
        for stopped, t in pairs:
            events.append(
                {
                    "source": "plc",
                    "stream": stream,
                    "kind": "measurement",
                    "occurred_at": self.start + timedelta(minutes=self.n),
                    "external_id": f"e-{self.n}",
                    "payload": {"stopped": stopped, "t": t},
                }
            )
            self.n += 1
        ingest_events(self.conn, events)

    def rows(self) -> list[dict[str, Any]]:
        """Each finding: its rule, stream, suppressor and combined state, oldest first."""
        states = {r.id: r for r in Views(self.conn).latest_recommendations()}
        found = self.conn.execute(
            "SELECT r.id, d.id, d.rule_ref, d.stream, r.suppressed_by"
            " FROM recommendation r JOIN detection d ON d.id = r.detection_id ORDER BY r.id"
        ).fetchall()
        return [
            {
                "rec": rec,
                "detection": det,
                "rule": rule,
                "stream": stream,
                "by": by,
                "state": states[rec].state,
            }
            for rec, det, rule, stream, by in found
        ]

    def journal(self, rec: int) -> list[tuple[Any, ...]]:
        return [
            tuple(r)
            for r in self.conn.execute(
                "SELECT actor, from_state, to_state, comment FROM finding_journal"
                " WHERE recommendation_id = %s ORDER BY id",
                [rec],
            )
        ]


@pytest.fixture
def line(conn: psycopg.Connection, pool: ConnectionPool) -> Line:
    return Line(conn, pool)


def test_suppression_follows_the_suppressing_findings_episode(line: Line) -> None:
    line.read((1, 90))  # the stop and the hot press in one pass, on one event
    line.read((0, 90), stream="line/b")  # another stream: its press alarm stands
    line.run_pass()
    stop, hot, other = line.rows()
    assert (stop["rule"], hot["rule"], other["rule"]) == ("line.stop", "press.hot", "press.hot")
    assert hot["by"] == stop["detection"] and other["by"] is None
    assert [stop["state"], hot["state"], other["state"]] == [
        "unacknowledged-active",
        "suppressed",
        "unacknowledged-active",
    ]
    assert line.journal(hot["rec"]) == [
        ("system", None, "suppressed", f"suppressed by detection {stop['detection']} (line.stop)")
    ]
    views = Views(line.conn)
    assert views.summary().open_recommendations == {"warning": 1, "critical": 1}
    assert views.summary().suppressed == 1
    suppressed = views.latest_recommendations(filters.where(status="suppressed"))
    assert [(r.id, r.status, r.state) for r in suppressed] == [
        (hot["rec"], "suppressed", "suppressed")
    ]
    detail = views.detail(hot["detection"])
    assert detail is not None and detail.suppressed_by == stop["detection"]

    line.read((1, 91))  # still stopped, still hot: reported again, still suppressed
    line.run_pass()
    assert [r["state"] for r in line.rows()][:2] == ["unacknowledged-active", "suppressed"]
    assert len(line.journal(hot["rec"])) == 1

    line.read((0, 92))  # the line runs again, the press is still hot
    line.run_pass()
    stop, hot, _ = line.rows()
    assert (stop["state"], hot["state"], hot["by"]) == (
        "unacknowledged-cleared",
        "unacknowledged-active",
        None,
    )
    assert line.journal(hot["rec"])[1:] == [
        ("system", "suppressed", "unacknowledged-active", "its suppressing finding cleared")
    ]

    # A new stop, in its own pass; then a new press episode: suppressed by the
    # stop stored before, and cleared with it in one pass: it stays suppressed.
    line.read((0, 70), (1, 70))
    line.run_pass()
    line.read((1, 95))
    line.run_pass()
    *_, stop2, hot2 = line.rows()
    assert (stop2["rule"], hot2["rule"], hot2["by"]) == (
        "line.stop",
        "press.hot",
        stop2["detection"],
    )
    assert hot2["state"] == "suppressed"
    line.read((0, 70))
    line.run_pass()
    *_, stop2, hot2 = line.rows()
    assert (stop2["state"], hot2["state"]) == ("unacknowledged-cleared", "suppressed")
    assert [r[2] for r in line.journal(hot2["rec"])] == ["suppressed"]

    # The stop cleared: a new press episode is not suppressed.
    line.read((0, 96))
    line.run_pass()
    assert line.rows()[-1]["state"] == "unacknowledged-active"


def test_a_press_alarm_before_the_stop_is_not_suppressed(line: Line) -> None:
    line.read((0, 90), (1, 90))  # hot first, the line stops a minute later: one pass
    line.run_pass()
    hot, stop = sorted(line.rows(), key=lambda r: r["rule"], reverse=True)
    assert (hot["rule"], hot["state"], hot["by"]) == ("press.hot", "unacknowledged-active", None)
    assert stop["state"] == "unacknowledged-active"


def test_a_reviewed_suppressed_finding_leaves_its_suppression(line: Line) -> None:
    line.read((1, 90))
    line.read((1, 90), stream="line/b")
    line.run_pass()
    _, acked, _, dismissed = line.rows()
    assert acked["state"] == dismissed["state"] == "suppressed"
    review.acknowledge(line.conn, acked["rec"], actor="ana", comment="seen")
    review.dismiss(line.conn, dismissed["rec"], actor="ana")
    assert line.journal(acked["rec"])[1:] == [("ana", "suppressed", "acknowledged-active", "seen")]
    assert line.journal(dismissed["rec"])[1:] == [("ana", "suppressed", "dismissed", None)]
    line.read((0, 90))
    line.read((0, 90), stream="line/b")
    line.run_pass()  # both stops clear: nothing more happens to the reviewed ones
    rows = line.rows()
    assert [r["state"] for r in rows] == [
        "unacknowledged-cleared",
        "acknowledged-active",
        "unacknowledged-cleared",
        "dismissed",
    ]
    assert len(line.journal(acked["rec"])) == len(line.journal(dismissed["rec"])) == 2
