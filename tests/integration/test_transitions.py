"""The state machine of a finding on a real Postgres: from each of the seven
combined states, what a person's acknowledge and dismiss do (allowed and
journaled, a no-op, or refused with one clear line), as docs/alarms.md
tables them; and the read model's state filter (SQL) agrees with
sentinel.types.finding_state (Python) on every state."""

from __future__ import annotations

import psycopg
import pytest

from sentinel.findings import review, shelves
from sentinel.types import FindingState, values
from sentinel.views import filters
from sentinel.views.read import Views
from sentinel.views.statements import View

# state → (stored status, cleared, shelved, suppressed)
MAKE = {
    "unacknowledged-active": ("open", False, False, False),
    "acknowledged-active": ("acknowledged", False, False, False),
    "unacknowledged-cleared": ("open", True, False, False),
    "done": ("acknowledged", True, False, False),
    "dismissed": ("dismissed", False, False, False),
    "shelved": ("open", False, True, False),
    "suppressed": ("open", False, False, True),
}
SHELVED_CLEARED = ("open", True, True, False)  # cleared while shelved: still shelved

# (state, action) → the state after, None for "no change", or the refusal
ALLOWED = {
    ("unacknowledged-active", "ack"): "acknowledged-active",
    ("unacknowledged-active", "dismiss"): "dismissed",
    ("acknowledged-active", "ack"): None,
    ("acknowledged-active", "dismiss"): "dismissed",
    ("unacknowledged-cleared", "ack"): "done",
    ("unacknowledged-cleared", "dismiss"): "dismissed",
    ("done", "ack"): None,
    ("done", "dismiss"): "dismissed",
    ("dismissed", "ack"): "refused: is dismissed: it cannot be acknowledged",
    ("dismissed", "dismiss"): None,
    ("shelved", "ack"): "acknowledged-active",
    ("shelved", "dismiss"): "dismissed",
    ("suppressed", "ack"): "acknowledged-active",
    ("suppressed", "dismiss"): "dismissed",
}


class Findings:
    """Findings made straight in the tables, one per combined state."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.n = 0
        self.shelf = shelves.shelve(
            conn, stream_glob="s/*", for_seconds=3600, reason="test", actor="ana"
        )
        self.suppressor = self._detection("line.stop", cleared=False)

    def _detection(self, rule: str, *, cleared: bool) -> int:
        self.n += 1
        row = self.conn.execute(
            "INSERT INTO detection (rule_ref, stream, kind, severity, summary, fingerprint,"
            " first_seen, last_seen, cleared_at) VALUES (%s, 's/1', 'threshold.above', 'warning',"
            " 'x', %s, now(), now(), CASE WHEN %s THEN now() END) RETURNING id",
            [rule, f"fp-{self.n}", cleared],
        ).fetchone()
        assert row is not None
        return int(row[0])

    def make(self, status: str, cleared: bool, shelved: bool, suppressed: bool) -> int:
        detection = self._detection("press.hot", cleared=cleared)
        row = self.conn.execute(
            "INSERT INTO recommendation (detection_id, stream, severity, text, status, shelf_id,"
            " suppressed_by) VALUES (%s, 's/1', 'warning', 'look', %s, %s, %s) RETURNING id",
            [
                detection,
                status,
                self.shelf.id if shelved else None,
                self.suppressor if suppressed else None,
            ],
        ).fetchone()
        assert row is not None
        return int(row[0])

    def state(self, rec: int) -> str:
        [row] = [r for r in Views(self.conn).latest_recommendations() if r.id == rec]
        return row.state

    def journal(self, rec: int) -> list[tuple[str, str | None, str, str | None]]:
        return [
            (r[0], r[1], r[2], r[3])
            for r in self.conn.execute(
                "SELECT actor, from_state, to_state, comment FROM finding_journal"
                " WHERE recommendation_id = %s ORDER BY id",
                [rec],
            )
        ]


@pytest.fixture
def findings(conn: psycopg.Connection) -> Findings:
    return Findings(conn)


def test_every_state_is_covered() -> None:
    assert set(MAKE) == set(values(FindingState))
    assert {s for s, _ in ALLOWED} == set(MAKE)


@pytest.mark.parametrize(("state", "action"), sorted(ALLOWED))
def test_a_review_from_each_state(findings: Findings, state: str, action: str) -> None:
    rec = findings.make(*MAKE[state])
    assert findings.state(rec) == state
    act = review.acknowledge if action == "ack" else review.dismiss
    wanted = ALLOWED[(state, action)]
    if wanted is not None and wanted.startswith("refused: "):
        with pytest.raises(review.RefusedTransition) as refused:
            act(findings.conn, rec, actor="bo", comment="c")
        assert str(refused.value) == f"recommendation {rec} {wanted.removeprefix('refused: ')}"
        assert findings.state(rec) == state and findings.journal(rec) == []
        return
    result = act(findings.conn, rec, actor="bo", comment="c")
    if wanted is None:
        assert not result.changed and findings.journal(rec) == []
        assert findings.state(rec) == state
        return
    assert result.changed
    assert findings.state(rec) == wanted
    assert findings.journal(rec) == [("bo", state, wanted, "c")]
    # a review takes it off its shelf and out of its suppression, for good
    [(shelf_id, suppressed_by)] = findings.conn.execute(
        "SELECT shelf_id, suppressed_by FROM recommendation WHERE id = %s", [rec]
    )
    assert (shelf_id, suppressed_by) == (None, None)


def test_a_finding_cleared_while_shelved_is_acknowledged_to_done(findings: Findings) -> None:
    rec = findings.make(*SHELVED_CLEARED)
    assert findings.state(rec) == "shelved"
    review.acknowledge(findings.conn, rec, actor="bo")
    assert findings.journal(rec) == [("bo", "shelved", "done", None)]


def test_the_state_filter_agrees_with_the_python_vocabulary(findings: Findings) -> None:
    made = {state: findings.make(*spec) for state, spec in MAKE.items()}
    made["shelved-cleared"] = findings.make(*SHELVED_CLEARED)
    views = Views(findings.conn)
    for state in values(FindingState):
        listed = views.latest_recommendations(filters.where(state=state))
        shown = views.recommendations(filters.parse(f"state:{state}"))
        assert {r.state for r in (*listed, *shown)} == {state}, state
        want = {rec for name, rec in made.items() if name.startswith(state)}
        assert {r.id for r in listed} == {r.id for r in shown} == want, state
        assert views.count(View.RECOMMENDATIONS, filters.where(state=state)) == len(want)
    opened = views.latest_recommendations(filters.where(status="open"))
    assert {r.state for r in opened} == {"unacknowledged-active", "unacknowledged-cleared"}
    assert {r.status for r in views.latest_recommendations()} == {
        "open",
        "shelved",
        "suppressed",
        "acknowledged",
        "dismissed",
    }
