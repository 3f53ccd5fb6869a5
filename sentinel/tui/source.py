"""The dashboard's one connection: it reads through the read model
(`sentinel.views`) and makes the two writes a person may make.

The only module of the TUI that talks to the database. A snapshot (the
header, a view's rows and how many match) is read in one read-only
transaction, so every age in it is against one `now()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from sentinel.db import connect as db_connect
from sentinel.errors import DatabaseUnavailable
from sentinel.findings import review
from sentinel.views import filters
from sentinel.views.read import Views
from sentinel.views.rows import Detail, Summary
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
    the next call, so callers see `DatabaseUnavailable` and simply retry."""

    def __init__(self, url: str, *, now: datetime | None = None) -> None:
        self.url = url
        self.now = now
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    # ---- connection -------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._drop()
            try:
                self._conn = psycopg.connect(
                    self.url,
                    autocommit=True,
                    connect_timeout=db_connect.CONNECT_TIMEOUT,
                    application_name="sentinel-tui",
                    options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                    # never a generic plan: the filters' empty lists must fold away
                    prepare_threshold=None,
                )
            except psycopg.OperationalError as exc:
                raise db_connect.explain(exc, self.url) from exc
        return self._conn

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

    # ---- the two writes ---------------------------------------------------

    def acknowledge(self, recommendation_id: int, comment: str | None = None) -> review.Reviewed:
        return self._write(review.acknowledge, recommendation_id, comment)

    def dismiss(self, recommendation_id: int, comment: str | None = None) -> review.Reviewed:
        return self._write(review.dismiss, recommendation_id, comment)

    def _write(self, fn: Any, recommendation_id: int, comment: str | None) -> review.Reviewed:
        """A review by the dashboard's user (the OS user), journaled."""
        with self._lock:
            conn = self._connection()
            try:
                result: review.Reviewed = fn(
                    conn, recommendation_id, actor=review.os_user(), comment=comment
                )
                return result
            except psycopg.OperationalError as exc:
                self._drop()
                raise DatabaseUnavailable(_one_line(exc)) from exc


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
