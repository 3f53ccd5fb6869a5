"""A person's review of a recommendation: acknowledge or dismiss it.

The only writes a person makes. They change the recommendation's own `status`
and `updated`, nothing else (the safety boundary: advisory only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

import psycopg
from psycopg.rows import class_row, dict_row

from sentinel.db import queries
from sentinel.errors import InputError

SQL = queries.load(Path(__file__).with_name("review.sql"))

RECOMMENDATION_CHANNEL = "sentinel_recommendation"

Status = Literal["open", "acknowledged", "dismissed"]


class UnknownRecommendation(InputError):
    """No such recommendation."""


@dataclass(frozen=True)
class Reviewed:
    id: int
    status: str
    changed: bool  # False when it already had that status


@dataclass(frozen=True)
class Recommendation:
    id: int
    severity: str
    stream: str
    rule: str
    status: str
    text: str
    created: datetime
    updated: datetime
    age: float
    detection_id: int


def acknowledge(conn: psycopg.Connection, recommendation_id: int) -> Reviewed:
    """Mark a recommendation acknowledged."""
    return _review(conn, recommendation_id, "acknowledged")


def dismiss(conn: psycopg.Connection, recommendation_id: int) -> Reviewed:
    """Mark a recommendation dismissed."""
    return _review(conn, recommendation_id, "dismissed")


def _review(conn: psycopg.Connection, recommendation_id: int, status: Status) -> Reviewed:
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(SQL["set_status"], {"id": recommendation_id, "status": status}).fetchone()
        if row is not None:
            cur.execute(SQL["notify"], {"payload": str(recommendation_id)})
            return Reviewed(id=recommendation_id, status=status, changed=True)
        current = cur.execute(SQL["get"], {"id": recommendation_id}).fetchone()
    if current is None:
        raise UnknownRecommendation(f"no recommendation with id {recommendation_id}")
    return Reviewed(id=recommendation_id, status=current["status"], changed=False)


def glob_to_like(glob: str) -> str:
    """A shell glob (`*`, `?`) as a LIKE pattern; LIKE's own wildcards are escaped."""
    out = []
    for ch in glob:
        if ch in "%_\\":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


def listing(
    conn: psycopg.Connection,
    *,
    status: str | None = None,
    severity: str | None = None,
    stream: str | None = None,
    limit: int = 500,
) -> list[Recommendation]:
    """Recommendations newest first, filtered by status, severity and a stream glob."""
    params = {
        "status": status,
        "severity": severity,
        "stream_like": glob_to_like(stream) if stream else None,
        "limit": limit,
    }
    with conn.cursor(row_factory=class_row(Recommendation)) as cur:
        return cur.execute(SQL["list"], params).fetchall()
