"""Lines of input → `Event | Rejection`. Pure: no database, no I/O.

This is the reference for what is valid and why not; `sentinel.ingest.rows`
has a faster JSON Lines path that hands every unusual line to it.

The contract (DESIGN.md, "Event formats for sentinel ingest"):

- JSON Lines: one object a line with `source`, `stream`, `kind` (default
  `event`), `occurred_at` (ISO-8601, required), `external_id`, `payload` (an
  object, default `{}`). Other top-level keys are rejected, so a misspelt
  field is reported rather than silently dropped. Blank lines are skipped.
- CSV: a header row; `occurred_at` (or `timestamp`) required; `source`,
  `stream`, `kind`, `external_id` optional columns; every other column is a
  payload field. A cell that reads as a JSON number becomes a number (int when
  integral text such as `42`, else float such as `4.2` or `1e3`); anything else
  stays text; an EMPTY cell is omitted from the payload (rules treat a missing
  field and a null alike).
- `source` and `stream` may come from the defaults (`--source`, `--stream`);
  a line's own value wins.
- A timestamp without a zone is in `tz` (UTC unless told otherwise).
- A missing `external_id` is derived from the event's content: a hash of the
  canonical JSON of its fields (without `external_id`), plus an occurrence
  number for identical events in the same input, so two identical lines stay
  two events and ingesting the same input again derives the same ids.

One module: it is the reference for that contract, both formats read
against the same event checks.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from sentinel.ingest.ids import Occurrences

FIELDS = frozenset({"source", "stream", "kind", "occurred_at", "external_id", "payload"})
CSV_TIME_COLUMNS = ("occurred_at", "timestamp")
CSV_EVENT_COLUMNS = frozenset({"source", "stream", "kind", "external_id"})
DEFAULT_KIND = "event"

_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# A JSON-escaped NUL that is not itself an escaped backslash followed by "u0000".
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


@dataclass(frozen=True, slots=True)
class Event:
    """One valid event, ready to store."""

    source: str
    stream: str
    kind: str
    occurred_at: datetime  # always timezone-aware
    external_id: str
    payload: dict[str, Any]
    line: int = 0
    # The payload as compact JSON text, computed once during validation.
    payload_json: str = field(default="{}", repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A line that was not stored, and why."""

    line: int
    reason: str
    name: str = "<stdin>"

    def __str__(self) -> str:
        return f"{self.name}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Defaults:
    """What the command line supplies for lines that lack it."""

    source: str | None = None
    stream: str | None = None
    tz: tzinfo = UTC


def parse_timestamp(value: object, tz: tzinfo = UTC) -> datetime | str:
    """An aware datetime, or the reason the value is not an ISO-8601 timestamp.
    (A datetime is accepted as is, for events built in Python.) An instant
    that falls outside years 1-9999 once in UTC (say, year 1 at +14:00) is
    refused: Python cannot hold it in UTC, nor read it back from Postgres."""
    if isinstance(value, datetime):
        moment = value
    elif not isinstance(value, str):
        return f"occurred_at must be an ISO-8601 string, got {_json_type(value)}"
    else:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return f"occurred_at is not an ISO-8601 timestamp: {value[:60]!r}"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    if not 1 < moment.year < 9999:
        try:
            moment.astimezone(UTC)
        except OverflowError:
            return f"occurred_at is out of range once in UTC: {str(value)[:60]!r}"
    return moment


def event_from_dict(
    obj: object,
    line: int = 0,
    *,
    defaults: Defaults = Defaults(),
    occurrences: Occurrences | None = None,
    name: str = "<stdin>",
) -> Event | Rejection:
    """Validate one event in the JSON Lines shape."""

    def reject(reason: str) -> Rejection:
        return Rejection(line, reason, name)

    if type(obj) is not dict:
        return reject(f"not a JSON object (got {_json_type(obj)})")
    if not obj.keys() <= FIELDS:
        unknown = ", ".join(sorted(map(str, obj.keys() - FIELDS)))
        return reject(f"unknown field(s): {unknown}")
    get = obj.get
    source = get("source", defaults.source)
    if source is None:
        return reject("missing source (add it to the line or pass --source)")
    if type(source) is not str or not source or "\x00" in source:
        return reject("source must be a non-empty string")
    stream = get("stream", defaults.stream)
    if stream is None:
        return reject("missing stream (add it to the line or pass --stream)")
    if type(stream) is not str or not stream or "\x00" in stream:
        return reject("stream must be a non-empty string")
    kind = get("kind", DEFAULT_KIND)
    if type(kind) is not str or not kind or "\x00" in kind:
        return reject("kind must be a non-empty string")
    raw_time = get("occurred_at")
    if raw_time is None:
        return reject("missing occurred_at")
    occurred_at = parse_timestamp(raw_time, defaults.tz)
    if type(occurred_at) is str:
        return reject(occurred_at)
    assert isinstance(occurred_at, datetime)
    payload = get("payload", None)
    if payload is None:
        payload = {}
    elif type(payload) is not dict:
        return reject(f"payload must be a JSON object, got {_json_type(payload)}")
    try:
        payload_json = json.dumps(
            payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False
        )
    except ValueError:
        return reject("payload holds NaN or Infinity, which JSON does not allow")
    if "\\u0000" in payload_json and _ESCAPED_NUL.search(payload_json):
        return reject("payload holds a NUL character (\\u0000), which Postgres cannot store")
    external_id = get("external_id")
    if external_id is None:
        if occurrences is None:
            occurrences = Occurrences()
        external_id = occurrences.derive_id(source, stream, kind, occurred_at, payload)
    elif type(external_id) is int:
        external_id = str(external_id)
    elif type(external_id) is not str or not external_id or "\x00" in external_id:
        return reject("external_id must be a non-empty string")
    return Event(source, stream, kind, occurred_at, external_id, payload, line, payload_json)


def parse_jsonl_line(
    text: str,
    line: int = 0,
    *,
    defaults: Defaults = Defaults(),
    occurrences: Occurrences | None = None,
    name: str = "<stdin>",
) -> Event | Rejection:
    """One JSON Lines line (blank lines are the caller's to skip)."""
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return Rejection(line, f"invalid JSON: {detail}", name)
    return event_from_dict(obj, line, defaults=defaults, occurrences=occurrences, name=name)


def parse_jsonl_lines(
    lines: Iterable[str],
    *,
    defaults: Defaults = Defaults(),
    name: str = "<stdin>",
) -> Iterator[Event | Rejection]:
    """Every non-blank line, numbered from 1, one shared occurrence counter."""
    occurrences = Occurrences()
    for number, text in enumerate(lines, 1):
        if not text or text.isspace():
            continue
        yield parse_jsonl_line(text, number, defaults=defaults, occurrences=occurrences, name=name)


class HeaderError(ValueError):
    """The CSV header does not allow any row to be an event."""


def csv_value(cell: str) -> Any:
    """A cell as a payload value: a number when it reads as a JSON number,
    else the text itself."""
    text = cell.strip()
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return cell


def parse_csv_rows(
    lines: Iterable[str],
    *,
    defaults: Defaults = Defaults(),
    name: str = "<stdin>",
) -> Iterator[Event | Rejection]:
    """CSV with a header row. Raises HeaderError (before yielding anything)
    when the header has no time column, repeats a column, or has no `source`
    (`stream`) column while the defaults give none: every row would be
    rejected for the same reason."""
    numbered = _LineCounter(lines)
    reader = csv.reader(numbered)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise HeaderError(f"{name}:1: unreadable CSV header: {exc}") from exc
    header = [column.strip() for column in header]
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    time_column = next((c for c in CSV_TIME_COLUMNS if c in header), None)
    if time_column is None:
        raise HeaderError(f"{name}:1: the CSV header has no occurred_at or timestamp column")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise HeaderError(f"{name}:1: the CSV header repeats column(s): {', '.join(repeated)}")
    for column, default, option in (
        ("source", defaults.source, "--source NAME"),
        ("stream", defaults.stream, "--stream KEY"),
    ):
        if column not in header and default is None:  # no row could name it
            raise HeaderError(
                f"{name}:1: the CSV header has no {column} column: add one, or pass {option}"
            )
    width = len(header)
    time_index = header.index(time_column)
    fixed = [(header.index(c), c) for c in CSV_EVENT_COLUMNS if c in header]
    fields = [
        (i, c) for i, c in enumerate(header) if c not in CSV_EVENT_COLUMNS and i != time_index
    ]
    occurrences = Occurrences()
    while True:
        start = numbered.count + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Rejection(start, f"invalid CSV: {exc}", name)
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            yield Rejection(start, f"expected {width} cells, got {len(row)}", name)
            continue
        obj: dict[str, Any] = {"occurred_at": row[time_index]}
        for index, column in fixed:
            if row[index] != "":
                obj[column] = row[index]
        obj["payload"] = {c: csv_value(row[i]) for i, c in fields if row[i] != ""}
        yield event_from_dict(obj, start, defaults=defaults, occurrences=occurrences, name=name)


class _LineCounter:
    """Counts the physical lines csv.reader has consumed (a quoted cell may
    span lines), so a rejection names the row's first line."""

    __slots__ = ("_lines", "count")

    def __init__(self, lines: Iterable[str]) -> None:
        self._lines = iter(lines)
        self.count = 0

    def __iter__(self) -> _LineCounter:
        return self

    def __next__(self) -> str:
        text = next(self._lines)
        self.count += 1
        return text


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
