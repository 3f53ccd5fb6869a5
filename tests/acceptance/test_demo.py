"""`sentinel demo` as a new user runs it: the sample plant's faults found by a
real local fleet, and a second run that finds nothing new."""

from __future__ import annotations

import psycopg
import pytest

from sentinel.sample import generate
from tests.acceptance.test_cli import sentinel

pytestmark = pytest.mark.slow


def test_demo_finds_every_planted_fault_with_its_whole_fleet(db_url: str) -> None:
    env = {"SENTINEL_DATABASE_URL": db_url}
    first = sentinel("demo", env=env)
    assert first.returncode == 0, first.stderr
    assert "advisory only" in first.stdout
    for rule, stream in generate.EXPECTED:
        assert any(rule in line and stream in line for line in first.stdout.splitlines()), rule

    again = sentinel("demo", env=env)
    assert again.returncode == 0, again.stderr
    assert "none had new work" in again.stdout
    with psycopg.connect(db_url) as conn:
        rows = conn.execute("SELECT status::text, count(*) FROM worker GROUP BY 1").fetchall()
        behind = conn.execute(
            "SELECT count(*) FROM stream s WHERE EXISTS "
            "(SELECT 1 FROM event e WHERE e.stream = s.key AND e.xact >= s.cursor_xid)"
        ).fetchone()
    # Every worker of both fleets registered, then drained and deregistered.
    assert dict(rows) == {"inactive": 6}
    assert behind == (0,)
