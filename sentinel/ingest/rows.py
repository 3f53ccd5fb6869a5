"""Validated input as COPY text, in chunks: what `store` streams into Postgres.

A `Chunk` holds up to a thousand consecutive input items (events and
rejections; blank lines are not items) as one block of COPY text-format rows,
plus what the store needs besides: the streams named, the rejections in line
order, and whether the chunk closes a batch. Chunks never straddle a batch, so
a batch is exactly `batch_size` items whatever the chunk size. Pure: no
database, no I/O beyond iterating the given lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from sentinel.ingest import ids, parse
from sentinel.ingest.parse import Defaults, Event, Rejection

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
    ends_batch: bool  # (the input's end ends the last batch in any case)


def copy_time(moment: datetime) -> str:
    """An aware datetime as COPY text for a timestamptz column. Postgres
    refuses a UTC offset of 16 hours or more, which Python allows: such an
    instant goes in UTC."""
    offset = moment.utcoffset()
    if offset is not None and not -_MAX_OFFSET < offset < _MAX_OFFSET:
        moment = moment.astimezone(UTC)
    return moment.isoformat()


_MAX_OFFSET = timedelta(hours=16)


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
        _take(item, item.line, name, pieces, streams, rejections)
        count += 1
        left -= 1
        if not left:
            yield Chunk(b"".join(pieces), len(pieces), count, streams, rejections, bounds.ends)
            pieces, streams, rejections, count = [], set(), [], 0
            left = bounds.next()
    if count:
        yield Chunk(b"".join(pieces), len(pieces), count, streams, rejections, True)


def _take(
    item: Event | Rejection,
    line: int,
    name: str,
    pieces: list[bytes],
    streams: set[str],
    rejections: list[Rejection],
) -> None:
    """One validated item into the chunk being built."""
    if type(item) is Event:
        try:
            pieces.append(copy_row(item))
        except UnicodeEncodeError:
            rejections.append(Rejection(line, NOT_UTF8, name))
        else:
            streams.add(item.stream)
    else:
        assert isinstance(item, Rejection)
        rejections.append(item)


# An RFC 3339 timestamp with a zone that Postgres reads as the same instant as
# datetime.fromisoformat does (at most microseconds; an offset Postgres
# accepts), so the line's own text can go into the COPY.
_ZONED = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:0[0-9]|1[0-5]):[0-5][0-9])"
)
# orjson reads an integer beyond 64 bits as a float where json keeps it exact:
# a payload holding a float this large takes the reference path.
_WIDE = 9.2e18


def jsonl_chunks(
    lines: Iterable[str],
    *,
    defaults: Defaults = Defaults(),
    name: str = "<stdin>",
    batch_size: int,
    chunk_size: int = CHUNK_ITEMS,
) -> Iterator[Chunk]:
    """JSON Lines as chunks; the same events and rejections as
    `parse.parse_jsonl_lines`, faster.

    A line that orjson reads into a plainly valid event is turned into its
    COPY row here; any other line (invalid JSON, a missing or ill-typed
    field, NaN, a NUL, an integer beyond 64 bits, a timestamp that
    `datetime.fromisoformat` refuses) goes through `parse.parse_jsonl_line`,
    the reference, which decides and words the reason. Both paths share one
    occurrence counter, in line order.
    """
    loads = orjson.loads
    dumps = orjson.dumps
    bad_json = orjson.JSONDecodeError
    from_iso = datetime.fromisoformat
    zoned = _ZONED.fullmatch
    fields = parse.FIELDS
    default_kind = parse.DEFAULT_KIND
    default_source, default_stream, tz = defaults.source, defaults.stream, defaults.tz
    occurrences = ids.Occurrences()
    reference = parse.parse_jsonl_line
    bounds = _Bounds(batch_size, chunk_size)
    pieces: list[bytes] = []
    streams: set[str] = set()
    rejections: list[Rejection] = []
    left = bounds.next()
    count = 0
    for number, text in enumerate(lines, 1):
        if not text or text.isspace():
            continue
        row = None
        try:
            obj = loads(text)
        except bad_json:
            obj = None
        if (
            type(obj) is dict
            and obj.keys() <= fields
            and type(source := obj.get("source", default_source)) is str
            and source
            and type(stream := obj.get("stream", default_stream)) is str
            and stream
            and type(kind := obj.get("kind", default_kind)) is str
            and kind
            and type(stamp := obj.get("occurred_at")) is str
            and type(external_id := obj.get("external_id")) in _ID_TYPES
            and external_id != ""
            and ((payload := obj.get("payload")) is None or type(payload) is dict)
            and (not payload or _exact(payload))
        ):
            try:
                moment = from_iso(stamp)
            except ValueError:
                moment = None
            # (Years 1 and 9999 may not hold in UTC: the reference decides.)
            if moment is not None and 1 < moment.year < 9999:
                if zoned(stamp):
                    at = stamp
                else:
                    if moment.tzinfo is None:
                        moment = moment.replace(tzinfo=tz)
                    at = copy_time(moment)
                body = dumps(payload) if payload else b"{}"
                if "\\" not in text:
                    # No escape in the line: no text can hold a NUL or what
                    # COPY must escape, and the payload's JSON no backslash.
                    head = f"{source}\t{stream}\t{kind}\t{at}\t"
                    row = body
                elif not (
                    "\x00" in source
                    or "\x00" in stream
                    or "\x00" in kind
                    or (type(external_id) is str and "\x00" in external_id)
                    or b"\\u0000" in body
                ):
                    head = f"{escape(source)}\t{escape(stream)}\t{escape(kind)}\t{at}\t"
                    if type(external_id) is str:
                        external_id = escape(external_id)
                    row = body.replace(b"\\", b"\\\\")
                if row is not None:
                    if external_id is None:  # last: only a stored event counts
                        external_id = occurrences.derive_id(
                            source, stream, kind, moment, payload or {}
                        )
                    pieces.append(f"{head}{external_id}\t".encode())
                    pieces.append(row + b"\n")
                    streams.add(stream)
        if row is None:
            item = reference(text, number, defaults=defaults, occurrences=occurrences, name=name)
            _take(item, number, name, pieces, streams, rejections)
        count += 1
        left -= 1
        if not left:
            yield _chunk(pieces, streams, rejections, count, bounds.ends)
            pieces, streams, rejections, count = [], set(), [], 0
            left = bounds.next()
    if count:
        yield _chunk(pieces, streams, rejections, count, True)


_ID_TYPES = (str, int, type(None))


def _chunk(
    pieces: list[bytes], streams: set[str], rejections: list[Rejection], count: int, ends: bool
) -> Chunk:
    data = b"".join(pieces)
    return Chunk(data, data.count(b"\n"), count, streams, rejections, ends)


def _exact(payload: dict[str, Any]) -> bool:
    """Whether orjson read every number of the payload as json would."""
    try:
        return _no_wide_float(payload.values())
    except RecursionError:
        return False


def _no_wide_float(values: Iterable[Any]) -> bool:
    for value in values:
        kind = type(value)
        if kind is float:
            if not -_WIDE < value < _WIDE:
                return False
        elif kind is dict:
            if not _no_wide_float(value.values()):
                return False
        elif kind is list and not _no_wide_float(value):
            return False
    return True


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
