"""Storing events: validated lines in batches, COPY into a session-private
staging table, then one `INSERT … SELECT … ON CONFLICT DO NOTHING` into
`event`. Memory is bounded by the batch size, never by the input.

Each batch is its own transaction, so a long file becomes visible to the fleet
batch by batch and an interrupted ingest keeps what it stored (ingesting the
file again stores only the rest). With `strict`, every batch runs inside one
transaction that is rolled back if any line is rejected: all or nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from itertools import islice
from typing import Any, Literal

import psycopg
import psycopg.errors

from sentinel.db import queries
from sentinel.errors import InputError
from sentinel.ingest import parse
from sentinel.ingest.parse import Event, Rejection

log = logging.getLogger(__name__)

SQL = queries.beside(__file__)

BATCH_SIZE = 10_000
# Rejections kept on the result (all are counted, and all reach on_reject).
KEPT_REJECTIONS = 10_000
# A batch that loses a deadlock against a concurrent ingest is retried.
DEADLOCK_RETRIES = 3

Format = Literal["jsonl", "csv"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv")


@dataclass(frozen=True)
class IngestResult:
    """What one input did: stored, already stored, and not valid."""

    accepted: int = 0
    duplicate: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    # Every rejected line; `rejected` keeps at most KEPT_REJECTIONS of them.
    rejected_count: int = -1
    name: str = ""

    def __post_init__(self) -> None:
        if self.rejected_count < 0:
            object.__setattr__(self, "rejected_count", len(self.rejected))

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            accepted=self.accepted + other.accepted,
            duplicate=self.duplicate + other.duplicate,
            rejected=(self.rejected + other.rejected)[:KEPT_REJECTIONS],
            rejected_count=self.rejected_count + other.rejected_count,
            name="total",
        )

    def summary(self) -> str:
        return (
            f"accepted {self.accepted}, duplicate {self.duplicate}, rejected {self.rejected_count}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected_count,
            "rejections": [{"line": r.line, "reason": r.reason} for r in self.rejected],
        }


def format_for(filename: str) -> Format | None:
    """The format a file name implies, if any."""
    lowered = filename.lower()
    if lowered.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if lowered.endswith(".csv"):
        return "csv"
    return None


def ingest_lines(
    conn: psycopg.Connection,
    lines: Iterable[str],
    *,
    fmt: Format,
    source: str | None = None,
    stream: str | None = None,
    tz: tzinfo = UTC,
    strict: bool = False,
    name: str = "<stdin>",
    progress: Callable[[int], None] | None = None,
    on_reject: Callable[[Rejection], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> IngestResult:
    """Validate and store the lines of one input (JSON Lines or CSV text).

    Invalid lines are skipped and reported (on the result, and one by one to
    `on_reject`); `progress` is called after each batch with the number of
    lines it held. Raises InputError when a CSV header makes every row
    unusable.
    """
    defaults = parse.Defaults(source=source, stream=stream, tz=tz)
    if fmt == "jsonl":
        items = parse.parse_jsonl_lines(lines, defaults=defaults, name=name)
    elif fmt == "csv":
        items = parse.parse_csv_rows(lines, defaults=defaults, name=name)
    else:
        raise InputError(f"unknown format {fmt!r} (use one of: {', '.join(FORMATS)})")
    try:
        return _store(
            conn,
            items,
            strict=strict,
            name=name,
            progress=progress,
            on_reject=on_reject,
            batch_size=batch_size,
        )
    except parse.HeaderError as exc:
        raise InputError(str(exc)) from exc


def ingest_events(
    conn: psycopg.Connection,
    events: Iterable[dict[str, Any]],
    *,
    strict: bool = False,
    name: str = "<events>",
    batch_size: int = BATCH_SIZE,
) -> IngestResult:
    """Store events already built as dicts in the JSON Lines shape
    (`occurred_at` may be an ISO-8601 string or a datetime)."""
    occurrences = parse.Occurrences()
    items = (
        parse.event_from_dict(obj, number, occurrences=occurrences, name=name)
        for number, obj in enumerate(events, 1)
    )
    return _store(
        conn,
        items,
        strict=strict,
        name=name,
        progress=None,
        on_reject=None,
        batch_size=batch_size,
    )


def _store(
    conn: psycopg.Connection,
    items: Iterator[Event | Rejection],
    *,
    strict: bool,
    name: str,
    progress: Callable[[int], None] | None,
    on_reject: Callable[[Rejection], None] | None,
    batch_size: int,
) -> IngestResult:
    tally = _Tally(name, on_reject)
    conn.execute(SQL["create_staging"])
    if strict:
        with conn.transaction() as tx:
            for batch in _batches(items, batch_size):
                rows = tally.rows(batch)
                if rows and not tally.rejected_count:  # else: only validate the rest
                    tally.stored(_write(conn, rows, clear=True), len(rows))
                if progress is not None:
                    progress(len(batch))
            if tally.rejected_count:
                raise psycopg.Rollback(tx)
        if tally.rejected_count:
            tally.accepted = tally.duplicate = 0
    else:
        for batch in _batches(items, batch_size):
            rows = tally.rows(batch)
            if rows:
                tally.stored(_write_batch(conn, rows), len(rows))
            if progress is not None:
                progress(len(batch))
    result = tally.result()
    log.debug(
        "ingested",
        extra={
            "action": "ingest",
            "input": name,
            "accepted": result.accepted,
            "duplicate": result.duplicate,
            "rejected": result.rejected_count,
        },
    )
    return result


def _write_batch(conn: psycopg.Connection, rows: list[bytes]) -> int:
    """One batch, one transaction; retried if it loses a deadlock."""
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            with conn.transaction():
                return _write(conn, rows, clear=False)
        except psycopg.errors.DeadlockDetected:
            if attempt == DEADLOCK_RETRIES:
                raise
            log.warning("ingest batch deadlocked; retrying", extra={"attempt": attempt})
    raise AssertionError("unreachable")


def _write(conn: psycopg.Connection, rows: list[bytes], *, clear: bool) -> int:
    """COPY the rows into staging and move the new ones into `event`; the
    number stored. Runs inside the caller's transaction."""
    with conn.cursor() as cur:
        if clear:
            cur.execute(SQL["clear_staging"])
        with cur.copy(SQL["copy_staging"]) as copy:
            copy.write(b"".join(rows))
        cur.execute(SQL["create_streams"])
        cur.execute(SQL["insert_events"])
        row = cur.fetchone()
        assert row is not None
        return int(row[0])


class _Tally:
    __slots__ = ("accepted", "duplicate", "kept", "name", "on_reject", "rejected_count")

    def __init__(self, name: str, on_reject: Callable[[Rejection], None] | None) -> None:
        self.name = name
        self.accepted = 0
        self.duplicate = 0
        self.rejected_count = 0
        self.kept: list[Rejection] = []
        self.on_reject = on_reject

    def reject(self, rejection: Rejection) -> None:
        self.rejected_count += 1
        if len(self.kept) < KEPT_REJECTIONS:
            self.kept.append(rejection)
        if self.on_reject is not None:
            self.on_reject(rejection)

    def rows(self, batch: list[Event | Rejection]) -> list[bytes]:
        """COPY rows of the batch's events; its rejections counted."""
        rows: list[bytes] = []
        append = rows.append
        for item in batch:
            if type(item) is Event:
                try:
                    append(copy_row(item))
                except UnicodeEncodeError:
                    self.reject(Rejection(item.line, "not valid UTF-8 text", self.name))
            else:
                assert isinstance(item, Rejection)
                self.reject(item)
        return rows

    def stored(self, accepted: int, staged: int) -> None:
        self.accepted += accepted
        self.duplicate += staged - accepted

    def result(self) -> IngestResult:
        return IngestResult(
            accepted=self.accepted,
            duplicate=self.duplicate,
            rejected=self.kept,
            rejected_count=self.rejected_count,
            name=self.name,
        )


def copy_row(event: Event) -> bytes:
    """The event as one line of COPY text format (tab-separated, with
    backslash escapes), UTF-8 encoded."""
    return (
        f"{_escape(event.source)}\t{_escape(event.stream)}\t{_escape(event.kind)}\t"
        f"{event.occurred_at.isoformat()}\t{_escape(event.external_id)}\t"
        f"{event.payload_json.replace(chr(92), chr(92) * 2)}\n"
    ).encode()


def _escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def _batches(items: Iterator[Event | Rejection], size: int) -> Iterator[list[Event | Rejection]]:
    while batch := list(islice(items, size)):
        yield batch
