"""Shelving (ISA-18.2 shelving, Alertmanager's silences): while a shelf is
live, new findings that match it are still written (nothing is lost) but
enter shelved: not counted as open, never notified.

A shelf matches a stream glob, optionally a rule glob and a severity (the
project's one glob meaning: `sentinel.rules.rule.glob_pattern`), until it
expires or is unshelved. Its times are the database clock's. When it ends,
the findings it covered that are still active leave it: onto another live
shelf that matches them, else they become unacknowledged (or suppressed, if
a finding that suppresses them is still active), each journaled with who
ended it (`system` on expiry). Findings that cleared while shelved stay
shelved: nothing is left to act on. The findings store asks `covering` which
shelf a new finding enters (findings/store.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sentinel.db import queries
from sentinel.errors import InputError
from sentinel.rules.rule import glob_pattern, glob_problem
from sentinel.types import Channel, Severity, values

SQL = queries.load(Path(__file__).with_name("shelves.sql"))

SEVERITIES = values(Severity)
_pattern = functools.lru_cache(maxsize=1024)(glob_pattern)  # a pass matches each finding
SYSTEM = "system"  # the actor of an expiry


class UnknownShelf(InputError):
    """No such shelf."""


class ShelfEnded(InputError):
    """The shelf has ended already."""


@dataclass(frozen=True)
class Shelf:
    id: int
    stream_glob: str
    rule_glob: str | None  # None: any rule
    severity: str | None  # None: any severity
    reason: str
    actor: str
    created: datetime
    expires_at: datetime
    ended_at: datetime | None  # unshelved, or its expiry processed
    ended_by: str | None

    def matches(self, stream: str, rule_ref: str, severity: str) -> bool:
        """Whether a finding of `rule_ref` on `stream` with `severity` enters it."""
        return (
            _pattern((self.stream_glob,)).match(stream) is not None
            and (self.rule_glob is None or _pattern((self.rule_glob,)).match(rule_ref) is not None)
            and (self.severity is None or self.severity == severity)
        )


def shelve(
    conn: psycopg.Connection[Any],
    *,
    stream_glob: str,
    rule_glob: str | None = None,
    severity: str | None = None,
    until: datetime | None = None,
    for_seconds: float | None = None,
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> Shelf:
    """A new shelf, live from the database clock (`now` pins it) until `until`
    or for `for_seconds`: exactly one of them, ending in the future."""
    reason, actor = (reason or "").strip(), (actor or "").strip()
    _check_glob(stream_glob, "--stream")
    if rule_glob is not None:
        _check_glob(rule_glob, "--rule")
    if severity is not None and severity not in SEVERITIES:
        raise InputError(f"bad severity {severity!r} (one of {', '.join(SEVERITIES)})")
    if not reason:
        raise InputError("a shelf needs a reason (--reason)")
    if not actor:
        raise InputError("a shelf needs an actor (--by)")
    if (until is None) == (for_seconds is None):
        raise InputError("give exactly one of --for and --until")
    if until is not None and until.tzinfo is None:
        raise InputError(f"--until {until.isoformat()} has no time zone")
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(SQL["clock"], {"now": now}).fetchone()
        assert row is not None
        created: datetime = row["now"]
        if for_seconds is not None:
            if for_seconds <= 0:
                raise InputError("--for must be longer than 0 seconds")
            expires_at = created + timedelta(seconds=for_seconds)
        else:
            assert until is not None
            expires_at = until
        if expires_at <= created:
            raise InputError(
                f"--until {expires_at.isoformat()} is not after the database's clock "
                f"({created.isoformat()})"
            )
        params = {
            "stream_glob": stream_glob,
            "rule_glob": rule_glob,
            "severity": severity,
            "reason": reason,
            "actor": actor,
            "created": created,
            "expires_at": expires_at,
        }
        shelf = Shelf(**_one(cur.execute(SQL["insert"], params).fetchone()))
    return shelf


def unshelve(
    conn: psycopg.Connection[Any],
    shelf_id: int,
    *,
    actor: str,
    comment: str | None = None,
    now: datetime | None = None,
) -> Shelf:
    """End a live shelf now; the still-active findings it covered leave it,
    journaled with `actor` and `comment`. Unknown or ended: refused."""
    actor = (actor or "").strip()
    if not actor:
        raise InputError("unshelving needs an actor (--by)")
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(SQL["lock"], {"id": shelf_id}).fetchone()
        if found is None:
            raise UnknownShelf(f"no shelf with id {shelf_id}")
        shelf = Shelf(**found)
        if shelf.ended_at is not None:
            raise ShelfEnded(
                f"shelf {shelf_id} ended at {shelf.ended_at.isoformat(timespec='seconds')} "
                f"(by {shelf.ended_by})"
            )
        note = f"shelf {shelf_id} unshelved" + (f": {comment}" if comment else "")
        [ended] = _end(cur, [shelf_id], actor=actor, comment=note, now=now)
    return ended


def expire(conn: psycopg.Connection[Any], *, now: datetime | None = None) -> int:
    """End every shelf past its expiry on the database clock (the worker's
    maintenance calls it each tick); how many ended. Its findings' journal
    rows name `system`."""
    with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        due = [Shelf(**row) for row in cur.execute(SQL["expired"], {"now": now}).fetchall()]
        for shelf in due:  # one at a time: each comment names its shelf
            _end(cur, [shelf.id], actor=SYSTEM, comment=f"shelf {shelf.id} expired", now=now)
    return len(due)


def live(conn: psycopg.Connection[Any], *, now: datetime | None = None) -> list[Shelf]:
    """The shelves in force, the one expiring last first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return [Shelf(**row) for row in cur.execute(SQL["live"], {"now": now}).fetchall()]


def covering(shelves: Sequence[Shelf], stream: str, rule_ref: str, severity: str) -> Shelf | None:
    """The shelf a finding enters: of the live ones that match it, the one
    expiring last (`shelves` as `live` orders them)."""
    return next((s for s in shelves if s.matches(stream, rule_ref, severity)), None)


def _end(
    cur: psycopg.Cursor[dict[str, Any]],
    ids: list[int],
    *,
    actor: str,
    comment: str,
    now: datetime | None,
) -> list[Shelf]:
    """End these shelves and move their still-active findings off them."""
    params: dict[str, Any] = {"ids": ids, "actor": actor, "now": now}
    ended = [Shelf(**row) for row in cur.execute(SQL["end"], params).fetchall()]
    covered = cur.execute(SQL["covered"], {"ids": ids}).fetchall()
    if covered:
        others = [s for s in _live(cur, now) if s.id not in ids]
        moves = []
        for f in covered:
            onto = covering(others, f["stream"], f["rule_ref"], f["severity"])
            moves.append({"id": f["id"], "shelf_id": None if onto is None else onto.id})
        params = {"moves": Jsonb(moves), "actor": actor, "comment": comment, "now": now}
        cur.execute(SQL["release"], params)
        cur.execute(SQL["notify"], {"channel": Channel.RECOMMENDATION.value})
    return ended


def _live(cur: psycopg.Cursor[dict[str, Any]], now: datetime | None) -> list[Shelf]:
    return [Shelf(**row) for row in cur.execute(SQL["live"], {"now": now}).fetchall()]


def _check_glob(glob: str, option: str) -> None:
    problem = glob_problem(glob)
    if problem:
        raise InputError(f"bad glob {glob!r} for {option}: {problem}")


def _one(row: dict[str, Any] | None) -> dict[str, Any]:
    assert row is not None
    return row
