"""A person's review of a recommendation: acknowledge or dismiss it.

The only writes a person makes. They change the recommendation's own `status`
and `updated`, nothing else (the safety boundary: advisory only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg
from psycopg.rows import dict_row

from sentinel.db import queries
from sentinel.errors import InputError
from sentinel.types import Channel

SQL = queries.load(Path(__file__).with_name("review.sql"))

RECOMMENDATION_CHANNEL = Channel.RECOMMENDATION.value

Status = Literal["open", "acknowledged", "dismissed"]


class UnknownRecommendation(InputError):
    """No such recommendation."""


@dataclass(frozen=True)
class Reviewed:
    id: int
    status: str
    changed: bool  # False when it already had that status


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
            cur.execute(
                SQL["notify"],
                {"channel": RECOMMENDATION_CHANNEL, "payload": str(recommendation_id)},
            )
            return Reviewed(id=recommendation_id, status=status, changed=True)
        current = cur.execute(SQL["get"], {"id": recommendation_id}).fetchone()
    if current is None:
        raise UnknownRecommendation(f"no recommendation with id {recommendation_id}")
    return Reviewed(id=recommendation_id, status=current["status"], changed=False)
