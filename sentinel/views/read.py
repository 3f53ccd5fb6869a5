"""`Views(conn)`: every read a person makes, one typed method each.

The CLI's lists, the dashboard and the HTTP API to come read through it, so
they show the same rows (`rows.py`) selected by the same filters. It runs on
a connection the caller owns and opens no transaction: the dashboard reads a
whole snapshot in one read-only transaction (one `now()`), a list command in
its own.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sentinel.types import finding_state, shown_recommendation_status
from sentinel.views import filters, rows, statements
from sentinel.views.evidence import interpret
from sentinel.views.statements import SQL, View

NO_FILTER = filters.Filter()


class Views:
    def __init__(self, conn: psycopg.Connection[Any], *, now: datetime | None = None) -> None:
        self.conn = conn
        self.now = now  # None: the database's clock

    def _all(self, statement: statements.Statement) -> list[dict[str, Any]]:
        name, params = statement
        with self.conn.cursor(row_factory=dict_row) as cur:
            cur.execute(SQL[name], {"now": self.now, **params})
            return cur.fetchall()

    # ---- the header -------------------------------------------------------

    def summary(self) -> rows.Summary:
        [row] = self._all(statements.SUMMARY)
        return rows.Summary(
            now=row["now"],
            workers=dict(row["workers"]),
            queued=row["queued"],
            retrying=row["retrying"],
            running=row["running"],
            dead=row["dead"],
            open_recommendations=dict(row["open_recommendations"]),
            events_last_minute=row["events_last_minute"],
            count_cap=statements.COUNT_CAP,
            shelved=row["shelved"],
            suppressed=row["suppressed"],
            replica_lag=self.replica_lag(),
        )

    def replica_lag(self) -> float | None:
        """Seconds behind the primary when reading a replica; None on the primary."""
        [row] = self._all(("replica_lag", {}))
        return None if row["lag"] is None else float(row["lag"])

    # ---- the lists ----------------------------------------------------------

    def workers(
        self,
        flt: filters.Filter = NO_FILTER,
        *,
        limit: int | None = statements.ROW_LIMIT,
        after: tuple[str, str] | None = None,
    ) -> tuple[rows.WorkerRow, ...]:
        """Live workers first, then by name; `limit` None for every one;
        `after` (status, name): the page past that worker."""
        page = {"after_status": after[0], "after_name": after[1]} if after else None
        return _workers(self._all(statements.rows(View.FLEET, flt, limit=limit, after=page)))

    def runs(
        self,
        flt: filters.Filter = NO_FILTER,
        *,
        limit: int = statements.ROW_LIMIT,
        show_empty: bool = False,
        active_first: bool = True,
        before_id: int | None = None,
        since: datetime | None = None,
    ) -> tuple[rows.RunRow, ...]:
        """Queued and running runs first (unless not `active_first`), then the
        newest; empty successful runs only with `show_empty`; `before_id`:
        the newest-first page of runs below that id; `since`: only the runs
        created since then."""
        statement = statements.rows(
            View.RUNS,
            flt,
            limit=limit,
            show_empty=show_empty,
            active_first=active_first,
            after={"before_id": before_id, "since": since},
        )
        return _runs(self._all(statement))

    def run(self, run_id: int) -> rows.RunRow | None:
        """One run, as `runs` shows it; None if there is none (the newest run
        at or below the id: one probe on the primary key)."""
        found = self.runs(limit=1, show_empty=True, active_first=False, before_id=run_id + 1)
        return found[0] if found and found[0].id == run_id else None

    def streams(
        self,
        flt: filters.Filter = NO_FILTER,
        *,
        limit: int = statements.ROW_LIMIT,
        after_key: str | None = None,
    ) -> tuple[rows.StreamRow, ...]:
        """By key; `after_key`: the page past that stream."""
        statement = statements.rows(View.STREAMS, flt, limit=limit, after={"after_key": after_key})
        return _streams(self._all(statement))

    def recommendations(
        self, flt: filters.Filter = NO_FILTER, *, limit: int = statements.ROW_LIMIT
    ) -> tuple[rows.RecommendationRow, ...]:
        """Open ones, the most severe first, then the latest reviewed ones
        (statements.RECENT_REVIEWED of each status): what to look at."""
        found = self._all(statements.rows(View.RECOMMENDATIONS, flt, limit=limit))
        return _recommendations(found)

    def latest_recommendations(
        self,
        flt: filters.Filter = NO_FILTER,
        *,
        limit: int = 500,
        before: tuple[datetime, int] | None = None,
    ) -> tuple[rows.RecommendationRow, ...]:
        """The newest first, whatever their status; `before` (created, id):
        the page past that recommendation."""
        params = statements.filter_params(View.RECOMMENDATIONS, flt)
        page = statements.page_params(
            View.RECOMMENDATIONS,
            {"before_created": before[0], "before_id": before[1]} if before else None,
        )
        found = self._all(("recommendations_latest", {**params, **page, "limit": limit}))
        return _recommendations(found)

    def detections(
        self, flt: filters.Filter = NO_FILTER, *, limit: int = statements.ROW_LIMIT
    ) -> tuple[rows.DetectionRow, ...]:
        found = self._all(statements.rows(View.DETECTIONS, flt, limit=limit))
        return tuple(rows.DetectionRow(**row) for row in found)

    def count(
        self, view: View, flt: filters.Filter = NO_FILTER, *, show_empty: bool = False
    ) -> int:
        """How many rows of the view the filter lets through, up to COUNT_CAP."""
        [row] = self._all(statements.count(view, flt, show_empty=show_empty))
        return int(row["n"])

    def page(
        self, view: View, flt: filters.Filter = NO_FILTER, *, show_empty: bool = False
    ) -> rows.Page:
        """A dashboard view: its first ROW_LIMIT rows and how many match."""
        reads: dict[View, Callable[[], tuple[Any, ...]]] = {
            View.FLEET: lambda: self.workers(flt),
            View.RUNS: lambda: self.runs(flt, show_empty=show_empty),
            View.STREAMS: lambda: self.streams(flt),
            View.RECOMMENDATIONS: lambda: self.recommendations(flt),
            View.DETECTIONS: lambda: self.detections(flt),
        }
        found = reads[view]()
        total = self.count(view, flt, show_empty=show_empty)
        return rows.Page(rows=found, total=total, cap=statements.COUNT_CAP)

    def stats(self) -> rows.Stats:
        """The header's counts, the runs by status, the queue's oldest wait."""
        head = self.summary()
        [counts] = self._all(("run_counts", {"cap": statements.COUNT_CAP}))
        runs = {
            "queued": head.queued,
            "retrying": head.retrying,
            "running": head.running,
            "succeeded": counts["succeeded"],
            "failed": counts["failed"],
            "dead": head.dead,
        }
        return rows.Stats(
            now=head.now,
            workers=head.workers,
            runs=runs,
            queue_depth=head.queued + head.retrying,
            oldest_queued_age=counts["oldest_queued_age"],
            open_findings=head.open_recommendations,
            events_last_minute=head.events_last_minute,
            count_cap=head.count_cap,
        )

    def tokens(self) -> tuple[rows.TokenRow, ...]:
        """The API's bearer tokens, live ones first (never their hashes)."""
        found = self._all(("api_tokens", {}))
        return tuple(rows.TokenRow(**{**row, "scopes": tuple(row["scopes"])}) for row in found)

    # ---- one run's findings ---------------------------------------------------

    def anomalies(
        self, run_id: int, *, limit: int = 50, after_id: int | None = None
    ) -> tuple[rows.Detail, ...]:
        """The detections a run wrote, by id, each with its evidence."""
        found = self._all(
            ("run_detections", {"run_id": run_id, "after_id": after_id, "limit": limit})
        )
        details = (self.detail(row["id"]) for row in found)
        return tuple(d for d in details if d is not None)

    # ---- shelves ---------------------------------------------------------------

    def shelves(
        self, *, everything: bool = False, limit: int = statements.ROW_LIMIT
    ) -> tuple[rows.ShelfRow, ...]:
        """The live shelves, expiring soonest first; with `everything` also
        the latest `limit` ended or expired ones, newest first."""
        found = self._all(("shelves", {"everything": everything, "limit": limit}))
        return tuple(rows.ShelfRow(**row) for row in found)

    # ---- one recommendation's journal -----------------------------------------

    def history(
        self, recommendation_id: int, *, limit: int = statements.JOURNAL_LIMIT
    ) -> tuple[rows.JournalRow, ...] | None:
        """Every change of its state, oldest first; None if there is no such
        recommendation."""
        params = {"recommendation_id": recommendation_id}
        [known] = self._all(("recommendation_known", params))
        if not known["known"]:
            return None
        found = self._all(("journal", {**params, "limit": limit}))
        return tuple(rows.JournalRow(**row) for row in found)

    # ---- notifications and completion records ---------------------------------

    def notifications(
        self, statuses: Sequence[str] = (), *, limit: int = statements.ROW_LIMIT
    ) -> tuple[rows.NotificationRow, ...]:
        """The outbox, newest first, of the given statuses (none: all)."""
        found = self._all(("notifications", {"statuses": list(statuses), "limit": limit}))
        return tuple(rows.NotificationRow(**row) for row in found)

    def completions(
        self,
        *,
        since: datetime | None = None,
        run_id: int | None = None,
        limit: int | None = statements.ROW_LIMIT,
    ) -> tuple[rows.CompletionRow, ...]:
        """Run-completion records, newest first; `limit` None for all."""
        found = self._all(("completions", {"since": since, "run_id": run_id, "limit": limit}))
        return tuple(_completion(row) for row in found)

    # ---- one detection ------------------------------------------------------

    def detail(self, detection_id: int) -> rows.Detail | None:
        """A detection with its recommendation and evidence; None if gone."""
        head = self._all(("detection", {"detection_id": detection_id}))
        if not head:
            return None
        found = self._all(
            ("evidence", {"detection_id": detection_id, "limit": statements.EVIDENCE_LIMIT})
        )
        evidence = tuple(rows.Evidence(**row) for row in found)
        d = head[0]
        status = d["recommendation_status"]
        state = None
        if status:
            flags = _flags(d)
            state = finding_state(status, d["cleared_at"] is not None, **flags).value
            d["recommendation_status"] = shown_recommendation_status(status, **flags).value
        return rows.Detail(
            **d, recommendation_state=state, evidence=evidence, **interpret(evidence)
        )


# ---- row builders -----------------------------------------------------------


def _workers(found: Sequence[dict[str, Any]]) -> tuple[rows.WorkerRow, ...]:
    out = []
    for row in found:
        runtimes, capacity, version = row["runtimes"], row["capacity"], row["version"]
        started = _timestamp(row["started_at"]) or row["created"]
        out.append(
            rows.WorkerRow(
                id=row["id"],
                name=row["name"],
                worker_role=row["worker_role"],
                worker_type=row["worker_type"],
                host=row["host"],
                status=row["status"],
                heartbeat_age=row["heartbeat_age"],
                running=row["running"],
                capacity=int(capacity) if capacity and capacity.isdigit() else None,
                runtimes=tuple(str(r) for r in runtimes) if isinstance(runtimes, list) else (),
                version=str(version) if version is not None else None,
                created=row["created"],
                uptime=(row["now"] - started).total_seconds() if started else None,
            )
        )
    return tuple(out)


def _timestamp(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _recommendations(found: Sequence[dict[str, Any]]) -> tuple[rows.RecommendationRow, ...]:
    """Rows of the status as people read it (the query's `status`), with the
    combined state it and the episode make."""
    out = []
    for row in found:
        shown = row["status"]
        flags = {"shelved": shown == "shelved", "suppressed": shown == "suppressed"}
        stored = "open" if any(flags.values()) else shown
        state = finding_state(stored, row["cleared_at"] is not None, **flags)
        out.append(rows.RecommendationRow(**row, state=state.value))
    return tuple(out)


def _flags(row: dict[str, Any]) -> dict[str, bool]:
    return {
        "shelved": row["shelf_id"] is not None,
        "suppressed": row["suppressed_by"] is not None,
    }


def _runs(found: Sequence[dict[str, Any]]) -> tuple[rows.RunRow, ...]:
    return tuple(
        rows.RunRow(**{**row, "status": rows.run_status(row["status"], row["attempts"])})
        for row in found
    )


def _streams(found: Sequence[dict[str, Any]]) -> tuple[rows.StreamRow, ...]:
    out = []
    for row in found:
        age = row["last_event_age"]
        out.append(
            rows.StreamRow(
                **row,
                lag_capped=row["lag"] >= statements.LAG_CAP,
                silent=row["enabled"] and (age is None or age > statements.SILENCE_SECONDS),
            )
        )
    return tuple(out)


def _completion(row: dict[str, Any]) -> rows.CompletionRow:
    """The row, with what its payload says (unreadable: left empty, for
    `completions verify` to name)."""
    try:
        record = json.loads(base64.b64decode(row["envelope"].get("payload", ""), validate=True))
    except (binascii.Error, ValueError, TypeError):
        record = {}
    if not isinstance(record, dict):
        record = {}
    counts: dict[str, Any] = record.get("counts") or {}
    worker: dict[str, Any] = record.get("worker") or {}
    if not isinstance(counts, dict) or not isinstance(worker, dict):
        counts, worker = {}, {}
    return rows.CompletionRow(
        **row,
        window_start=record.get("window_start"),
        events=counts.get("events"),
        detections=counts.get("detections"),
        fingerprints=tuple(record.get("fingerprints") or ()),
        worker=worker.get("name"),
    )
