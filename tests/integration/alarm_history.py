"""A known two-hour history of findings for the alarm-system health report,
written with plain SQL relative to a pinned clock.

The period [NOW - 2 h, NOW) is twelve ten-minute windows holding COUNTS
annunciated findings on `plant/…` streams: floods in windows 1–2 (12 starts
it, 7 keeps it, 4 ends it), 5 (11, then 0) and 10–11 (15, then 5: still in
flood at NOW), while window 4's 6 starts none. Window 9 is one rule on one
stream three times in exactly 60 s (chattering); window 4 holds three of
another pair over 61 s (not). Shelved and suppressed findings, a lab stream,
findings just outside the period and stale candidates around the 24 h mark
each change a figure if counted where they should not be.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import psycopg

NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)
START = NOW - timedelta(hours=2)
COUNTS = [2, 12, 7, 4, 6, 11, 0, 1, 0, 3, 15, 5]

_fingerprints = itertools.count()


def at(bucket: int, seconds: float) -> datetime:
    return START + timedelta(seconds=bucket * 600 + seconds)


class History:
    def __init__(self, conn: psycopg.Connection, now: datetime = NOW) -> None:
        self.conn = conn
        self.now = now

    def finding(
        self,
        first_seen: datetime,
        rule: str,
        stream: str,
        *,
        severity: str = "warning",
        status: str = "open",
        cleared: bool = False,
        shelf_id: int | None = None,
        suppressed_by: int | None = None,
    ) -> tuple[int, int]:
        """A detection and its recommendation; their ids."""
        row = self.conn.execute(
            "INSERT INTO detection (rule_ref, stream, kind, severity, summary, fingerprint,"
            " first_seen, last_seen, cleared_at) VALUES (%s, %s, 'threshold', %s, 'seeded', %s,"
            " %s, %s, %s) RETURNING id",
            [
                rule,
                stream,
                severity,
                f"alarm-{next(_fingerprints)}",
                first_seen,
                first_seen,
                first_seen + timedelta(seconds=1) if cleared else None,
            ],
        ).fetchone()
        assert row is not None
        rec = self.conn.execute(
            "INSERT INTO recommendation (detection_id, stream, severity, text, status, shelf_id,"
            " suppressed_by, created, updated) VALUES (%s, %s, %s, 'look', %s, %s, %s, %s, %s)"
            " RETURNING id",
            [row[0], stream, severity, status, shelf_id, suppressed_by, first_seen, first_seen],
        ).fetchone()
        assert rec is not None
        return int(row[0]), int(rec[0])

    def shelf(
        self,
        stream_glob: str,
        created: datetime,
        expires_at: datetime,
        *,
        ended: bool = False,
        reason: str = "known",
    ) -> int:
        row = self.conn.execute(
            "INSERT INTO shelf (stream_glob, reason, actor, created, expires_at, ended_at,"
            " ended_by) VALUES (%s, %s, 'ana', %s, %s, %s, %s) RETURNING id",
            [
                stream_glob,
                reason,
                created,
                expires_at,
                created + timedelta(minutes=1) if ended else None,
                "ana" if ended else None,
            ],
        ).fetchone()
        assert row is not None
        return int(row[0])


def seed(conn: psycopg.Connection) -> dict[str, int]:
    """The whole known history; the ids a test needs."""
    h = History(conn)
    ids: dict[str, int] = {}
    now = NOW
    ids["shelf-a"] = h.shelf("plant/*", now - timedelta(hours=3), now + timedelta(hours=1))
    ids["shelf-b"] = h.shelf("lab/*", now - timedelta(minutes=30), now + timedelta(hours=2))
    h.shelf("plant/x", now - timedelta(hours=5), now + timedelta(hours=1), ended=True)
    h.shelf("plant/y", now - timedelta(hours=4), now - timedelta(minutes=1))  # expired
    # Each window's findings: one rule per window, a stream per finding (no
    # pair twice), 35 s apart; windows 4 and 9 hold the pairs below instead.
    for bucket, n in enumerate(COUNTS):
        bulk = {4: n - 3, 9: 0}.get(bucket, n)
        for j in range(bulk):
            seconds = 0 if bucket == 0 and j == 0 else 30 + 35 * j  # the period's first instant
            h.finding(at(bucket, seconds), f"rule.{bucket}", f"plant/m-{j}")
    for seconds in (0, 30, 61):  # 61 s from first to third: not chattering
        h.finding(at(4, 400 + seconds), "valve.pos", "plant/valve-2")
    for seconds in (10, 40, 70):  # 60 s from first to third: chattering
        h.finding(at(9, seconds), "tank.level", "plant/tank-1")
    # Not annunciated: shelved (window 3 would reach 5 and keep the first
    # flood going) and suppressed (window 11).
    h.finding(at(3, 500), "rule.3", "plant/s-1", shelf_id=ids["shelf-a"])
    h.finding(at(10, 550), "rule.10", "plant/s-2", shelf_id=ids["shelf-a"])
    h.finding(at(10, 560), "rule.10", "plant/s-3", shelf_id=ids["shelf-a"])
    suppressor, _ = h.finding(at(11, 500), "line.stop", "lab/line", severity="critical")
    h.finding(at(11, 510), "rule.11", "plant/s-4", suppressed_by=suppressor)
    # Another area: three more in window 0 (and the suppressor above).
    for j in range(3):
        h.finding(at(0, 100 + j * 100), "oven.temp", "lab/oven-1")
    # Outside the period: just before it, at NOW and after it.
    for when in (START - timedelta(seconds=1), now, now + timedelta(minutes=5)):
        h.finding(when, "rule.out", "plant/m-0")
    # Stale candidates (long before the period): only the open, active,
    # annunciated ones older than 24 h are stale.
    _, ids["stale-48h"] = h.finding(now - timedelta(hours=48), "press.hot", "plant/p-1")
    _, ids["stale-25h"] = h.finding(now - timedelta(hours=25), "press.hot", "plant/p-2")
    _, ids["stale-lab"] = h.finding(now - timedelta(hours=50), "oven.temp", "lab/oven-2")
    h.finding(now - timedelta(hours=30), "press.hot", "plant/p-3", status="acknowledged")
    h.finding(now - timedelta(hours=30), "press.hot", "plant/p-4", cleared=True)
    h.finding(now - timedelta(hours=23), "press.hot", "plant/p-5")
    h.finding(now - timedelta(hours=40), "press.hot", "plant/p-6", shelf_id=ids["shelf-a"])
    h.finding(now - timedelta(hours=40), "press.hot", "plant/p-7", status="dismissed")
    return ids
