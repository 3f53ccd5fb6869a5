"""A person's review of a recommendation: acknowledge or dismiss it, with an
optional comment, journaled.

The writes a person makes to a finding (shelving is `shelves.py`). They
change the recommendation's own `status` and `updated` (the safety boundary:
advisory only), take it off its shelf and out of its suppression, and append
one row to `finding_journal`: the time (the database clock), the actor, the
combined state before and after, the comment. Open (unacknowledged, shelved
or suppressed) may be acknowledged or dismissed, acknowledged may be
dismissed; a dismissed finding is final (acknowledging it is refused).
Setting the status it already has changes nothing. docs/alarms.md has the
whole table.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psycopg
from psycopg.rows import dict_row

from sentinel.db import queries
from sentinel.errors import InputError
from sentinel.types import Channel, finding_state

SQL = queries.load(Path(__file__).with_name("review.sql"))

RECOMMENDATION_CHANNEL = Channel.RECOMMENDATION.value

Status = Literal["open", "acknowledged", "dismissed"]

# status → the statuses a person may move it to
ALLOWED: dict[str, tuple[str, ...]] = {
    "open": ("acknowledged", "dismissed"),
    "acknowledged": ("dismissed",),
    "dismissed": (),
}


class UnknownRecommendation(InputError):
    """No such recommendation."""


class RefusedTransition(InputError):
    """The review is not allowed from the recommendation's current status."""


@dataclass(frozen=True)
class Reviewed:
    id: int
    status: str
    changed: bool  # False when it already had that status


def os_user() -> str:
    """Who is at this terminal: the default actor of the CLI and the dashboard."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def acknowledge(
    conn: psycopg.Connection,
    recommendation_id: int,
    *,
    actor: str | None = None,
    comment: str | None = None,
) -> Reviewed:
    """Mark a recommendation acknowledged (`actor`: the OS user if None)."""
    return _review(conn, recommendation_id, "acknowledged", actor, comment)


def dismiss(
    conn: psycopg.Connection,
    recommendation_id: int,
    *,
    actor: str | None = None,
    comment: str | None = None,
) -> Reviewed:
    """Mark a recommendation dismissed (`actor`: the OS user if None)."""
    return _review(conn, recommendation_id, "dismissed", actor, comment)


def _review(
    conn: psycopg.Connection,
    recommendation_id: int,
    status: Status,
    actor: str | None,
    comment: str | None,
) -> Reviewed:
    who = (actor or "").strip() or os_user()
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        current = cur.execute(SQL["lock"], {"id": recommendation_id}).fetchone()
        if current is None:
            raise UnknownRecommendation(f"no recommendation with id {recommendation_id}")
        if current["status"] == status:
            return Reviewed(id=recommendation_id, status=status, changed=False)
        if status not in ALLOWED[current["status"]]:
            raise RefusedTransition(
                f"recommendation {recommendation_id} is {current['status']}: it cannot be {status}"
            )
        cur.execute(SQL["set_status"], {"id": recommendation_id, "status": status})
        cur.execute(
            SQL["journal"],
            {
                "id": recommendation_id,
                "actor": who,
                "from_state": finding_state(
                    current["status"],
                    current["cleared"],
                    shelved=current["shelved"],
                    suppressed=current["suppressed"],
                ).value,
                "to_state": finding_state(status, current["cleared"]).value,
                "comment": comment or None,
            },
        )
        cur.execute(
            SQL["notify"],
            {"channel": RECOMMENDATION_CHANNEL, "payload": str(recommendation_id)},
        )
    return Reviewed(id=recommendation_id, status=status, changed=True)
