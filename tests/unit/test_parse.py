"""Parsing lines into events: the validation contract, without a database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sentinel.ingest import parse
from sentinel.ingest.parse import Defaults, Event, Rejection

GOOD = {
    "source": "plc-gw",
    "stream": "plant-a/line-1/press-1",
    "kind": "measurement",
    "occurred_at": "2026-11-22T10:00:00Z",
    "external_id": "plc-gw-000001",
    "payload": {"temperature_c": 81.2},
}


def line(**changes: object) -> str:
    obj = {**GOOD, **changes}
    return json.dumps({k: v for k, v in obj.items() if v is not ...})


def test_the_design_example_line_is_an_event() -> None:
    event = parse.parse_jsonl_line(line(), 1)
    assert event == Event(
        source="plc-gw",
        stream="plant-a/line-1/press-1",
        kind="measurement",
        occurred_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
        external_id="plc-gw-000001",
        payload={"temperature_c": 81.2},
        line=1,
    )
    assert isinstance(event, Event) and event.payload_json == '{"temperature_c":81.2}'


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "not a JSON object"),
        (line(occurred_at=...), "missing occurred_at"),
        (line(occurred_at="yesterday"), "not an ISO-8601 timestamp"),
        (line(occurred_at=1700000000), "must be an ISO-8601 string"),
        (line(payload=[1, 2]), "payload must be a JSON object"),
        (line(payload="x"), "payload must be a JSON object"),
        (line(source=...), "missing source"),
        (line(stream=...), "missing stream"),
        (line(stream=""), "stream must be a non-empty string"),
        (line(kind=3), "kind must be a non-empty string"),
        (line(external_id=["a"]), "external_id must be a non-empty string"),
        (line(temperature=3), "unknown field(s): temperature"),
        (
            '{"stream": "s", "source": "x", "occurred_at": "2026-01-01", "payload": {"v": NaN}}',
            "NaN or Infinity",
        ),
        (line(payload={"note": "a\u0000b"}), "NUL character"),
    ],
)
def test_each_invalid_line_is_rejected_with_its_reason(text: str, reason: str) -> None:
    result = parse.parse_jsonl_line(text, 7, name="in.jsonl")
    assert isinstance(result, Rejection), result
    assert result.line == 7 and reason in result.reason
    assert str(result).startswith("in.jsonl:7: ")


def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    assert isinstance(parse.parse_jsonl_line(line(payload={"path": "C:\\u0000"}), 1), Event)


def test_kind_defaults_to_event_and_payload_to_empty_object() -> None:
    event = parse.parse_jsonl_line(line(kind=..., payload=...), 1)
    assert isinstance(event, Event)
    assert event.kind == "event" and event.payload == {} and event.payload_json == "{}"


def test_defaults_fill_missing_source_and_stream_but_a_line_wins() -> None:
    defaults = Defaults(source="cli-src", stream="cli/stream")
    filled = parse.parse_jsonl_line(line(source=..., stream=...), 1, defaults=defaults)
    own = parse.parse_jsonl_line(line(), 1, defaults=defaults)
    assert isinstance(filled, Event) and isinstance(own, Event)
    assert (filled.source, filled.stream) == ("cli-src", "cli/stream")
    assert (own.source, own.stream) == ("plc-gw", "plant-a/line-1/press-1")


def test_timestamps_without_zone_are_utc_by_default() -> None:
    event = parse.parse_jsonl_line(line(occurred_at="2026-11-22T10:00:00"), 1)
    assert isinstance(event, Event)
    assert event.occurred_at == datetime(2026, 11, 22, 10, tzinfo=UTC)


def test_timestamps_without_zone_follow_the_given_timezone() -> None:
    paris = Defaults(tz=ZoneInfo("Europe/Paris"))
    winter = parse.parse_jsonl_line(line(occurred_at="2026-01-15T10:00:00"), 1, defaults=paris)
    summer = parse.parse_jsonl_line(line(occurred_at="2026-07-15T10:00:00"), 1, defaults=paris)
    zoned = parse.parse_jsonl_line(line(occurred_at="2026-07-15T10:00:00Z"), 1, defaults=paris)
    assert isinstance(winter, Event) and isinstance(summer, Event) and isinstance(zoned, Event)
    assert winter.occurred_at.astimezone(UTC) == datetime(2026, 1, 15, 9, tzinfo=UTC)
    assert summer.occurred_at.astimezone(UTC) == datetime(2026, 7, 15, 8, tzinfo=UTC)
    assert zoned.occurred_at.astimezone(UTC) == datetime(2026, 7, 15, 10, tzinfo=UTC)


def test_offsets_are_kept_as_the_same_instant() -> None:
    event = parse.parse_jsonl_line(line(occurred_at="2026-11-22T12:00:00+02:00"), 1)
    assert isinstance(event, Event)
    assert event.occurred_at == datetime(2026, 11, 22, 10, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(hours=2)


def test_derived_ids_are_stable_and_identical_lines_stay_distinct() -> None:
    text = line(external_id=...)
    lines = [text, text, line(external_id=..., payload={"temperature_c": 99})]
    first = [e.external_id for e in parse.parse_jsonl_lines(lines) if isinstance(e, Event)]
    again = [e.external_id for e in parse.parse_jsonl_lines(lines) if isinstance(e, Event)]
    assert first == again
    assert len(set(first)) == 3


def test_derived_ids_ignore_formatting_but_not_content() -> None:
    compact = '{"source":"a","stream":"s","occurred_at":"2026-01-01T00:00:00Z","payload":{"v":1}}'
    spaced = '{ "payload": {"v": 1}, "stream": "s", "source": "a",\
 "occurred_at": "2026-01-01T00:00:00+00:00" }'
    other = '{"source":"a","stream":"s","occurred_at":"2026-01-01T00:00:00Z","payload":{"v":2}}'
    ids = [parse.parse_jsonl_line(t, 1) for t in (compact, spaced, other)]
    assert all(isinstance(e, Event) for e in ids)
    a, b, c = (e.external_id for e in ids if isinstance(e, Event))
    assert a == b != c


def test_jsonl_lines_are_numbered_from_one_and_blank_lines_skipped() -> None:
    items = list(parse.parse_jsonl_lines([line(), "\n", "oops\n", line(external_id="2")]))
    assert [(type(i).__name__, i.line) for i in items] == [
        ("Event", 1),
        ("Rejection", 3),
        ("Event", 4),
    ]


def test_events_built_in_python_may_carry_datetimes() -> None:
    moment = datetime(2026, 11, 22, 10, tzinfo=UTC)
    event = parse.event_from_dict({**GOOD, "occurred_at": moment}, 1)
    assert isinstance(event, Event) and event.occurred_at == moment


CSV = [
    "timestamp,stream,temperature_c,pressure,label,count\n",
    "2026-11-22T10:00:00Z,plant/p1,81.2,3,ok,0\n",
    "2026-11-22T10:00:00Z,plant/p1,81.5,,007,-4\n",
]


def test_csv_numbers_are_parsed_and_empty_cells_omitted() -> None:
    events = list(parse.parse_csv_rows(CSV, defaults=Defaults(source="csv")))
    assert all(isinstance(e, Event) for e in events)
    first, second = (e for e in events if isinstance(e, Event))
    assert first.payload == {"temperature_c": 81.2, "pressure": 3, "label": "ok", "count": 0}
    assert second.payload == {"temperature_c": 81.5, "label": "007", "count": -4}
    assert type(first.payload["pressure"]) is int
    assert first.stream == "plant/p1" and first.source == "csv"
    assert (first.line, second.line) == (2, 3)


def test_csv_equal_timestamps_with_different_values_are_two_events() -> None:
    events = [e for e in parse.parse_csv_rows(CSV, defaults=Defaults(source="c"))]
    assert len({e.external_id for e in events if isinstance(e, Event)}) == 2


@pytest.mark.parametrize(
    ("cell", "value"),
    [
        ("42", 42),
        ("-1", -1),
        ("4.5", 4.5),
        ("1e3", 1000.0),
        (" 7 ", 7),
        ("0", 0),
        ("007", "007"),
        ("NaN", "NaN"),
        ("inf", "inf"),
        ("1,5", "1,5"),
        ("true", "true"),
    ],
)
def test_csv_cells_read_as_json_numbers_or_stay_text(cell: str, value: object) -> None:
    assert parse.csv_value(cell) == value
    assert type(parse.csv_value(cell)) is type(value)


def test_csv_rows_of_the_wrong_width_are_rejected_with_their_line() -> None:
    rows = ["occurred_at,v\n", "2026-01-01T00:00:00Z,1\n", "2026-01-01T00:00:01Z,1,2\n"]
    items = list(parse.parse_csv_rows(rows, defaults=Defaults("s", "t")))
    assert isinstance(items[1], Rejection) and items[1].line == 3
    assert "expected 2 cells, got 3" in items[1].reason


def test_csv_quoted_cells_spanning_lines_keep_later_line_numbers_right() -> None:
    rows = ["occurred_at,note\n", '2026-01-01T00:00:00Z,"two\n', 'lines"\n', "bad,x\n"]
    items = list(parse.parse_csv_rows(rows, defaults=Defaults("s", "t")))
    assert isinstance(items[0], Event) and items[0].payload == {"note": "two\nlines"}
    assert isinstance(items[1], Rejection) and items[1].line == 4


def test_csv_without_a_time_column_is_a_header_error() -> None:
    with pytest.raises(parse.HeaderError, match="no occurred_at or timestamp"):
        list(parse.parse_csv_rows(["when,v\n", "x,1\n"], name="f.csv"))
