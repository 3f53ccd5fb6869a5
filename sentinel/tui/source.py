"""The dashboard's one connection: it reads through the read model
(`sentinel.views`) and makes the writes a person may make (review, shelve,
unshelve), as its user (`--by`, else the OS user).

The only module of the TUI that talks to the database. A snapshot (the
header, a view's rows and how many match) is read in one read-only
transaction, so every age in it is against one `now()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import psycopg

from sentinel.db import connect as db_connect
from sentinel.errors import DatabaseUnavailable
from sentinel.findings import review
from sentinel.findings import shelves as shelving
from sentinel.views import alarms, filters
from sentinel.views.alarms import AlarmReport
from sentinel.views.read import Views
from sentinel.views.rows import Detail, JournalRow, ShelfRow, Summary
from sentinel.views.statements import COUNT_CAP, View

STATEMENT_TIMEOUT_MS = 10_000

T = TypeVar("T")


@dataclass(frozen=True)
class Snapshot:
    view: View
    summary: Summary
    rows: tuple[Any, ...] = field(default=())
    total: int = 0  # rows the filter lets through, counted up to COUNT_CAP
    count_cap: int = COUNT_CAP


class Source:
    """A lazily (re)opened connection; a lost one is dropped and reopened on
    the next call, so callers see `DatabaseUnavailable` and simply retry.

    With `read_url` (SENTINEL_READ_DATABASE_URL, a replica) the reads go
    there and the writes to `url`, the primary, on a second connection opened
    at the first write."""

    def __init__(
        self,
        url: str,
        *,
        read_url: str | None = None,
        now: datetime | None = None,
        actor: str | None = None,
    ) -> None:
        self.url = url
        self.read_url = read_url or url
        self.now = now
        self.actor = (actor or "").strip() or review.os_user()  # who writes
        self._conn: psycopg.Connection | None = None
        self._primary: psycopg.Connection | None = None  # for writes, with a replica
        self._lock = threading.Lock()

    # ---- connection -------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        for conn in (self._conn, self._primary):
            if conn is not None:
                try:
                    conn.close()
                except psycopg.Error:
                    pass
        self._conn = self._primary = None

    def _connection(self, *, write: bool = False) -> psycopg.Connection:
        if write and self.read_url != self.url:
            if self._primary is None or self._primary.closed or self._primary.broken:
                self._primary = self._open(self.url)
            return self._primary
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop()
            self._conn = self._open(self.read_url)
        return self._conn

    def _open(self, url: str) -> psycopg.Connection:
        try:
            return psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=db_connect.CONNECT_TIMEOUT,
                application_name="sentinel-tui",
                options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                # never a generic plan: the filters' empty lists must fold away
                prepare_threshold=None,
            )
        except psycopg.OperationalError as exc:
            raise db_connect.explain(exc, url) from exc

    def _read(self, read: Callable[[Views], T]) -> T:
        """Run reads in one read-only transaction (one `now()`)."""
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    conn.execute("SET TRANSACTION READ ONLY")
                    return read(Views(conn, now=self.now))
            except psycopg.OperationalError as exc:
                self._drop()
                raise DatabaseUnavailable(_one_line(exc)) from exc
            except psycopg.Error:
                if conn.broken:
                    self._drop()
                raise

    def ping(self) -> None:
        """Connect now: raises DatabaseUnavailable with one clear line."""
        with self._lock:
            self._connection()

    # ---- reads ------------------------------------------------------------

    def summary(self) -> Summary:
        return self._read(Views.summary)

    def snapshot(
        self, view: View, flt: filters.Filter = filters.Filter(), *, show_empty: bool = False
    ) -> Snapshot:
        def read(views: Views) -> Snapshot:
            summary = views.summary()
            page = views.page(view, flt, show_empty=show_empty)
            return Snapshot(view, summary, page.rows, page.total, page.cap)

        return self._read(read)

    def detail(self, detection_id: int) -> Detail | None:
        return self._read(lambda views: views.detail(detection_id))

    def finding(self, detection_id: int) -> tuple[Detail | None, tuple[JournalRow, ...]]:
        """A detection's detail and its recommendation's journal, in one snapshot."""

        def read(views: Views) -> tuple[Detail | None, tuple[JournalRow, ...]]:
            detail = views.detail(detection_id)
            if detail is None or detail.recommendation_id is None:
                return detail, ()
            return detail, views.history(detail.recommendation_id) or ()

        return self._read(read)

    def alarms(self, since: timedelta = alarms.DEFAULT_SINCE) -> AlarmReport:
        """The alarm-system health report (one scan of the period's findings:
        the app reads it once a minute, not at every refresh)."""
        return self._read(lambda views: alarms.read(views.conn, since=since, now=views.now))

    def shelves(self) -> tuple[ShelfRow, ...]:
        """The live shelves, expiring soonest first."""
        return self._read(lambda views: views.shelves())

    # ---- the writes ---------------------------------------------------------

    def acknowledge(self, recommendation_id: int, comment: str | None = None) -> review.Reviewed:
        return self._write(
            lambda conn: review.acknowledge(
                conn, recommendation_id, actor=self.actor, comment=comment
            )
        )

    def dismiss(self, recommendation_id: int, comment: str | None = None) -> review.Reviewed:
        return self._write(
            lambda conn: review.dismiss(conn, recommendation_id, actor=self.actor, comment=comment)
        )

    def shelve(
        self, stream_glob: str, rule_glob: str | None, for_seconds: float, reason: str
    ) -> shelving.Shelf:
        """A shelf from now (the pinned clock, if any) for `for_seconds`."""
        return self._write(
            lambda conn: shelving.shelve(
                conn,
                stream_glob=stream_glob,
                rule_glob=rule_glob,
                for_seconds=for_seconds,
                reason=reason,
                actor=self.actor,
                now=self.now,
            )
        )

    def unshelve(self, shelf_id: int, comment: str | None = None) -> shelving.Shelf:
        return self._write(
            lambda conn: shelving.unshelve(
                conn, shelf_id, actor=self.actor, comment=comment, now=self.now
            )
        )

    def _write(self, write: Callable[[psycopg.Connection], T]) -> T:
        """One write by the dashboard's user, journaled by what it calls
        (always on the primary)."""
        with self._lock:
            conn = self._connection(write=True)
            try:
                return write(conn)
            except psycopg.OperationalError as exc:
                self._drop()
                raise DatabaseUnavailable(_one_line(exc)) from exc


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
