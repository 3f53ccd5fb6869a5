"""Validated input as COPY text, in chunks: what `store` streams into Postgres.

A `Chunk` holds up to a thousand consecutive input items (events and
rejections; blank lines are not items) as one block of COPY text-format rows,
plus what the store needs besides: the streams named, the rejections in line
order, and whether the chunk closes a batch. Chunks never straddle a batch, so
a batch is exactly `batch_size` items whatever the chunk size. Pure: no
database, no I/O beyond iterating the given lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sentinel.ingest.parse import Event, Rejection

CHUNK_ITEMS = 1_000

NOT_UTF8 = "not valid UTF-8 text"


@dataclass(slots=True)
class Chunk:
    """Consecutive input items: the valid ones as COPY text, the others as
    rejections."""

    data: bytes  # one COPY text line per valid event, in input order
    rows: int  # the number of those lines
    items: int  # rows + rejections
    streams: set[str]
    rejections: list[Rejection]
    ends_batch: bool


def copy_time(moment: datetime) -> str:
    """An aware datetime as COPY text for a timestamptz column."""
    return moment.isoformat()


def copy_row(event: Event) -> bytes:
    """The event as one line of COPY text format (tab-separated, with
    backslash escapes), UTF-8 encoded. Raises UnicodeEncodeError for text that
    holds lone surrogates (bytes that were not UTF-8 in the input)."""
    return (
        f"{escape(event.source)}\t{escape(event.stream)}\t{escape(event.kind)}\t"
        f"{copy_time(event.occurred_at)}\t{escape(event.external_id)}\t"
        f"{event.payload_json.replace(chr(92), chr(92) * 2)}\n"
    ).encode()


def escape(text: str) -> str:
    """Text as a COPY text-format field."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return (
            text.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return text


def event_chunks(
    items: Iterable[Event | Rejection],
    *,
    name: str,
    batch_size: int,
    chunk_size: int = CHUNK_ITEMS,
) -> Iterator[Chunk]:
    """Chunks of already validated items (CSV rows, dicts built in Python)."""
    bounds = _Bounds(batch_size, chunk_size)
    pieces: list[bytes] = []
    streams: set[str] = set()
    rejections: list[Rejection] = []
    left = bounds.next()
    count = 0
    for item in items:
        if type(item) is Event:
            try:
                pieces.append(copy_row(item))
            except UnicodeEncodeError:
                rejections.append(Rejection(item.line, NOT_UTF8, name))
            else:
                streams.add(item.stream)
        else:
            assert isinstance(item, Rejection)
            rejections.append(item)
        count += 1
        left -= 1
        if not left:
            yield Chunk(b"".join(pieces), len(pieces), count, streams, rejections, bounds.ends)
            pieces, streams, rejections, count = [], set(), [], 0
            left = bounds.next()
    if count:
        yield Chunk(b"".join(pieces), len(pieces), count, streams, rejections, True)


class _Bounds:
    """Where chunks end: every `chunk_size` items, and at every batch end."""

    __slots__ = ("_batch_left", "batch_size", "chunk_size", "ends")

    def __init__(self, batch_size: int, chunk_size: int) -> None:
        if batch_size < 1 or chunk_size < 1:
            raise ValueError("batch and chunk sizes must be positive")
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self._batch_left = batch_size
        self.ends = False  # whether the chunk last sized ends its batch

    def next(self) -> int:
        """The size of the next chunk (sets `ends` for it)."""
        if self._batch_left == 0:
            self._batch_left = self.batch_size
        size = min(self.chunk_size, self._batch_left)
        self._batch_left -= size
        self.ends = self._batch_left == 0
        return size
