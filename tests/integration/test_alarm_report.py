"""The alarm-system health report on a real Postgres: a seeded history with
known floods, chattering, stale and shelved findings gives exactly the
expected figures on a pinned clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from sentinel.views import alarms
from tests.integration import alarm_history as history
from tests.integration.alarm_history import COUNTS, NOW, START, at


@pytest.fixture
def seeded(conn: psycopg.Connection) -> dict[str, int]:
    return history.seed(conn)


def _report(conn: psycopg.Connection, **kw: Any) -> alarms.AlarmReport:
    return alarms.read(conn, since=timedelta(hours=2), now=NOW, **kw)


def test_the_plant_figures_exactly(conn: psycopg.Connection, seeded: dict[str, int]) -> None:
    r = _report(conn, stream="plant/*")
    assert (r.now, r.start) == (NOW, START)
    assert r.per_10m == tuple(COUNTS)
    assert r.findings == 66
    assert (r.shelved_findings, r.suppressed_findings) == (3, 1)
    assert r.average_per_10m == 5.5
    assert (r.peak_per_10m, r.peak_at, r.last_10m) == (15, at(10, 0), 5)
    floods = [(f.start, f.end, f.seconds, f.findings, f.peak, f.ongoing) for f in r.floods]
    assert floods == [
        (at(1, 0), at(3, 0), 1200.0, 19, 12, False),  # 12 starts it, 7 keeps it, 4 ends it
        (at(5, 0), at(6, 0), 600.0, 11, 11, False),  # window 4's 6 started none
        (at(10, 0), NOW, 1200.0, 20, 15, True),  # still in flood at NOW
    ]
    assert r.in_flood
    assert r.flood_percent == pytest.approx(100 * 5 / 12)
    assert (r.chattering_total, r.chattering_findings) == (1, 3)
    assert r.chattering == (alarms.Chattering("tank.level", "plant/tank-1", 3, 3),)
    assert r.stale_total == 2
    assert [(s.recommendation_id, s.age) for s in r.stale] == [
        (seeded["stale-48h"], 48 * 3600.0),
        (seeded["stale-25h"], 25 * 3600.0),
    ]
    assert [(t.rule, t.findings) for t in r.top_rules] == [
        ("rule.10", 15),
        ("rule.1", 12),
        ("rule.5", 11),
        ("rule.2", 7),
        ("rule.11", 5),
        ("rule.3", 4),
        ("rule.4", 3),
        ("tank.level", 3),
        ("valve.pos", 3),
        ("rule.0", 2),
    ]  # rule.7's one finding is the eleventh
    assert r.top_rules[0].percent == pytest.approx(100 * 15 / 66)
    assert r.top10_percent == pytest.approx(100 * 65 / 66)
    assert r.by_severity == {"warning": 66}
    assert [(s.id, s.age, s.expires_in, s.findings) for s in r.shelves] == [
        (seeded["shelf-a"], 3 * 3600.0, 3600.0, 3),
        (seeded["shelf-b"], 1800.0, 7200.0, 0),
    ]  # the ended and the expired shelves are not live
    assert (r.shelves_total, r.oldest_shelf_age) == (2, 3 * 3600.0)
    meets = {t.figure: t.meets for t in r.targets}
    assert meets == {
        "average_per_10m": False,
        "peak_per_10m": False,
        "flood_percent": False,
        "top10_percent": False,
        "chattering_total": False,
        "stale_total": True,
    }


def test_every_stream(conn: psycopg.Connection, seeded: dict[str, int]) -> None:
    r = _report(conn)
    # the lab's three in window 0 and its line stop (critical) in window 11
    assert r.per_10m == (5, *COUNTS[1:11], 6)
    assert r.findings == 70
    assert r.by_severity == {"warning": 69, "critical": 1}
    assert [f.findings for f in r.floods] == [19, 11, 21]  # window 0's 5 starts none
    assert r.stale_total == 3 and r.stale[0].recommendation_id == seeded["stale-lab"]
    assert r.top10_percent == pytest.approx(100 * 66 / 70)
    assert "oven.temp" in [t.rule for t in r.top_rules]


def test_a_calm_period_and_rounding(conn: psycopg.Connection, seeded: dict[str, int]) -> None:
    # 25 minutes round up to three windows: [09:30, 10:00)
    r = alarms.read(conn, since=timedelta(minutes=25), stream="plant/*", now=NOW)
    assert r.start == at(9, 0) and r.per_10m == (3, 15, 5)
    # an hour before the history: nothing at all, and no flood
    calm = alarms.read(conn, since=timedelta(hours=1), now=START - timedelta(hours=1))
    assert calm.findings == 0 and calm.per_10m == (0,) * 6
    assert not calm.floods and not calm.in_flood and calm.peak_at is None
    assert calm.average_per_10m == 0.0 and calm.top10_percent == 0.0
    with pytest.raises(ValueError, match="more than 0"):
        alarms.read(conn, since=timedelta(0))
