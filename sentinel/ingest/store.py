"""Storing events: validated lines in batches, each streamed into one COPY as
it is validated — straight into `event` while the input brings only new
events, else into a session-private staging table followed by one
`INSERT … SELECT` of what `event_key` does not hold yet. Memory is bounded by
the batch size, never by the input.

Each batch is its own transaction, so a long file becomes visible to the fleet
batch by batch and an interrupted ingest keeps what it stored (ingesting the
file again stores only the rest). With `strict`, every batch runs inside one
transaction that is rolled back if any line is rejected: all or nothing. Each
batch announces the streams it gave new events (NOTIFY on `Channel.STREAM`,
sent at commit, none on a rollback), so the workers plan them at once.

One module: the batches, the COPY writer and the staging path share that
transaction discipline and are read as a whole.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any, Literal

import psycopg
import psycopg.errors

from sentinel.db import announce, queries
from sentinel.errors import InputError
from sentinel.ingest import ids, parse, rows
from sentinel.ingest.parse import Rejection
from sentinel.types import Channel

log = logging.getLogger(__name__)

SQL = queries.beside(__file__)

BATCH_SIZE = 10_000
# Rejections kept on the result (all are counted, and all reach on_reject).
KEPT_REJECTIONS = 10_000
# A batch that loses a deadlock against a concurrent ingest is retried, after
# a jittered pause (seconds, times the attempt) that lets the other commit.
DEADLOCK_RETRIES = 5
DEADLOCK_BACKOFF = 0.1

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
    chunks: Iterator[rows.Chunk]
    if fmt == "jsonl":
        chunks = rows.jsonl_chunks(lines, defaults=defaults, name=name, batch_size=batch_size)
    elif fmt == "csv":
        items = parse.parse_csv_rows(lines, defaults=defaults, name=name)
        chunks = rows.event_chunks(items, name=name, batch_size=batch_size)
    else:
        raise InputError(f"unknown format {fmt!r} (use one of: {', '.join(FORMATS)})")
    try:
        return _store(
            conn, chunks, strict=strict, name=name, progress=progress, on_reject=on_reject
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
    occurrences = ids.Occurrences()
    items = (
        parse.event_from_dict(obj, number, occurrences=occurrences, name=name)
        for number, obj in enumerate(events, 1)
    )
    chunks = rows.event_chunks(items, name=name, batch_size=batch_size)
    return _store(conn, chunks, strict=strict, name=name, progress=None, on_reject=None)


def _store(
    conn: psycopg.Connection,
    chunks: Iterator[rows.Chunk],
    *,
    strict: bool,
    name: str,
    progress: Callable[[int], None] | None,
    on_reject: Callable[[Rejection], None] | None,
) -> IngestResult:
    tally = _Tally(name, on_reject)
    conn.execute(SQL["create_staging"])
    if strict:
        with conn.transaction() as tx:
            _Writer(conn, tally, strict=True).run(chunks, progress)
            if tally.rejected_count:
                raise psycopg.Rollback(tx)
        if tally.rejected_count:
            tally.accepted = tally.duplicate = 0
    else:
        _Writer(conn, tally, strict=False).run(chunks, progress)
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


class _Writer:
    """Streams each batch's chunks into one COPY as they are validated, so
    the server inserts while Python parses the rest, and commits batch by
    batch (or, with `strict`, within the caller's transaction).

    A batch goes straight into `event` with `COPY` while the input brings only
    new events; `event_key`'s primary key (`source`, `external_id`) refuses
    the batch otherwise, and that batch — and the next ones while they hold duplicates —
    go through the staging table and one `INSERT … SELECT` of the keys
    `event_key` lacks, which tells stored from duplicate. Either way a batch
    is stored whole or not at all.
    """

    __slots__ = ("conn", "direct", "pending", "strict", "tally")

    def __init__(self, conn: psycopg.Connection, tally: _Tally, *, strict: bool) -> None:
        self.conn = conn
        self.tally = tally
        self.strict = strict
        self.direct = True
        self.pending: rows.Chunk | None = None  # the next batch's first chunk, read ahead

    def run(self, chunks: Iterator[rows.Chunk], progress: Callable[[int], None] | None) -> None:
        while True:
            first = self.pending if self.pending is not None else next(chunks, None)
            self.pending = None
            if first is None:
                return
            batch = _Batch(first, chunks, self)
            if self.strict and self.tally.rejected_count:
                batch.drain()  # nothing more will be stored: only validate the rest
            else:
                self.write(batch)
            if progress is not None:
                progress(batch.items)

    def write(self, batch: _Batch) -> None:
        deadlocks = races = 0
        while True:
            direct = self.direct
            try:
                stored = self._direct(batch) if direct else self._staged(batch)
            except psycopg.errors.UniqueViolation:
                if not direct:
                    # Another ingest committed one of these new keys after
                    # staging looked: look again (its keys are stored now).
                    races += 1
                    if races == DEADLOCK_RETRIES:
                        raise
                    continue
                self.direct = False  # the batch meets stored events: sort them out
                continue
            except psycopg.errors.DeadlockDetected:
                deadlocks += 1
                if deadlocks == DEADLOCK_RETRIES:
                    raise
                log.warning("ingest batch deadlocked; retrying", extra={"attempt": deadlocks})
                # Another ingest is storing the same events: let it commit
                # first, then sort them out through staging, which holds the
                # event locks for one INSERT rather than a whole COPY.
                time.sleep(random.uniform(0.5, 1.5) * DEADLOCK_BACKOFF * deadlocks)
                self.direct = False
                continue
            if batch.staged:
                self.tally.stored(stored, batch.staged)
                # Back to COPY straight into `event` once a batch is all new.
                self.direct = stored == batch.staged
            return

    def _direct(self, batch: _Batch) -> int:
        with self.conn.transaction(), self.conn.cursor() as cur:
            with cur.copy(SQL["copy_event"]) as copy:
                batch.feed(copy)
            if batch.staged:
                keys = sorted(batch.streams)
                cur.execute(SQL["upsert_streams"], _streams(keys, keys))
        return batch.staged

    def _staged(self, batch: _Batch) -> int:
        # ON COMMIT DELETE ROWS empties staging only when a transaction of
        # our own commits; inside a longer one (strict, or the caller's) the
        # previous batch's rows are still there.
        nested = self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        with self.conn.transaction(), self.conn.cursor() as cur:
            if nested:
                cur.execute(SQL["clear_staging"])
            with cur.copy(SQL["copy_staging"]) as copy:
                batch.feed(copy)
            if not batch.staged:
                return 0
            cur.execute(SQL["insert_events"])
            row = cur.fetchone()
            assert row is not None
            stored, touched = int(row[0]), list(row[1])
            keys = sorted(batch.streams)
            cur.execute(SQL["upsert_streams"], _streams(keys, touched))
            return stored


def _streams(keys: list[str], touched: list[str]) -> dict[str, Any]:
    """`upsert_streams`'s parameters: the batch's streams, and those of them
    that got new events, which it announces."""
    return {
        "keys": keys,
        "touched": touched,
        "channel": Channel.STREAM.value,
        "announce": announce.payloads(sorted(touched)),
    }


class _Batch:
    """One batch's chunks, read once, as they are written; the COPY text is
    kept in case the batch must be written again (memory: one batch)."""

    __slots__ = ("_reader", "items", "kept", "staged", "streams", "writer")

    def __init__(self, first: rows.Chunk, chunks: Iterator[rows.Chunk], writer: _Writer) -> None:
        self.writer = writer
        self.kept: list[bytes] = []
        self.streams: set[str] = set()
        self.staged = 0  # rows kept
        self.items = 0  # every item read, rejected or not
        self._reader = self._read(first, chunks)

    def _read(self, first: rows.Chunk, chunks: Iterator[rows.Chunk]) -> Iterator[bytes]:
        tally = self.writer.tally
        chunk: rows.Chunk | None = first
        while chunk is not None:
            self.items += chunk.items
            for rejection in chunk.rejections:
                tally.reject(rejection)
            if chunk.rows and not (self.writer.strict and tally.rejected_count):
                self.kept.append(chunk.data)
                self.streams |= chunk.streams
                self.staged += chunk.rows
                yield chunk.data
            chunk = None if chunk.ends_batch else next(chunks, None)
        # The server is still inserting the tail of this batch: meanwhile,
        # validate the next batch's first chunk.
        self.writer.pending = next(chunks, None)

    def feed(self, copy: psycopg.Copy) -> None:
        """Write the whole batch: what an earlier attempt read, then the rest
        as it is read."""
        for data in self.kept[:]:
            copy.write(data)
        for data in self._reader:
            copy.write(data)

    def drain(self) -> None:
        for _ in self._reader:
            pass


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
