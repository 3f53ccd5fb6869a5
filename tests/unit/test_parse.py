"""Parsing lines into events: the validation contract, without a database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.ingest import ids, parse, rows
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


def test_offsets_postgres_refuses_are_stored_as_the_same_instant_in_utc() -> None:
    event = parse.parse_jsonl_line(line(occurred_at="2026-11-22T10:00:00+16:00"), 1)
    assert isinstance(event, Event)
    assert b"\t2026-11-21T18:00:00+00:00\t" in rows.copy_row(event)


@pytest.mark.parametrize("stamp", ["0001-01-01T05:00:00+14:00", "9999-12-31T20:00:00-05:00"])
def test_instants_beyond_years_1_to_9999_in_utc_are_rejected(stamp: str) -> None:
    for text in (line(occurred_at=stamp), line(occurred_at=stamp, external_id=...)):
        result = parse.parse_jsonl_line(text, 3)
        assert isinstance(result, Rejection) and "out of range" in result.reason


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


# The fast JSON Lines path (sentinel.ingest.rows) against the reference
# (parse.parse_jsonl_lines): the same rows, rejections, streams and chunks.


def reference_chunks(
    lines: list[str], defaults: Defaults, batch_size: int, chunk_size: int
) -> list[rows.Chunk]:
    items = parse.parse_jsonl_lines(lines, defaults=defaults, name="f")
    return list(rows.event_chunks(items, name="f", batch_size=batch_size, chunk_size=chunk_size))


def fast_chunks(
    lines: list[str], defaults: Defaults, batch_size: int, chunk_size: int
) -> list[rows.Chunk]:
    return list(
        rows.jsonl_chunks(
            lines, defaults=defaults, name="f", batch_size=batch_size, chunk_size=chunk_size
        )
    )


def _unescape(field: bytes) -> str:
    text = field.decode()
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}[text[i + 1]])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _same_row(a: bytes, b: bytes) -> bool:
    """Two COPY rows that Postgres stores alike: equal text fields, the same
    instant, the same JSON payload (orjson and json spell some floats apart)."""
    fa, fb = a.split(b"\t"), b.split(b"\t")
    assert len(fa) == len(fb) == 6, (a, b)
    if [fa[i] for i in (0, 1, 2, 4)] != [fb[i] for i in (0, 1, 2, 4)]:
        return False
    ta, tb = (datetime.fromisoformat(f[3].decode()) for f in (fa, fb))
    assert ta.tzinfo is not None and tb.tzinfo is not None
    pa, pb = (json.loads(_unescape(f[5])) for f in (fa, fb))
    return ta == tb and pa == pb and json.dumps(pa) == json.dumps(pb)


def assert_same_chunks(lines: list[str], defaults: Defaults = Defaults(), size: int = 4) -> None:
    for batch_size, chunk_size in ((size, size), (2 * size + 1, size), (10_000, 1_000)):
        expected = reference_chunks(lines, defaults, batch_size, chunk_size)
        got = fast_chunks(lines, defaults, batch_size, chunk_size)
        assert len(got) == len(expected)
        for e, g in zip(expected, got, strict=True):
            assert (g.rows, g.items, g.streams, g.ends_batch) == (
                e.rows,
                e.items,
                e.streams,
                e.ends_batch,
            )
            assert [(r.line, r.reason, r.name) for r in g.rejections] == [
                (r.line, r.reason, r.name) for r in e.rejections
            ]
            got_rows, expected_rows = g.data.split(b"\n"), e.data.split(b"\n")
            assert len(got_rows) == len(expected_rows)
            for x, y in zip(expected_rows, got_rows, strict=True):
                assert x == y or _same_row(x, y), (x, y)


TRICKY = [
    line(),
    line(external_id=...),
    line(external_id=...),
    line(external_id=42),
    line(external_id=2**70),
    line(external_id=True),
    line(external_id=""),
    line(source="tab\there", stream="new\nline", kind="back\\slash", external_id="cr\r"),
    line(source="nul\u0000"),
    line(external_id="nul\u0000"),
    line(payload={"note": "a\u0000b"}),
    line(payload={"path": "C:\\u0000"}),
    line(payload={"quote": 'say "hi"', "uni": "ünïcödé \u2028 😀", "ctl": "\x01"}),
    line(payload={"big": 123456789012345678901234567890, "neg": -(2**63) - 1}),
    line(payload={"u64": 2**64 - 1, "i64": -(2**63), "wide": 9.3e18, "small": 1e-5}),
    line(payload={"nested": [1, {"deep": [10**30]}], "f": 1e16}),
    line(payload=None),
    line(payload={}),
    line(payload=[1]),
    '{"source": "s", "stream": "t", "occurred_at": "2026-01-01", "payload": {"v": NaN}}',
    '{"source": "s", "stream": "t", "occurred_at": "2026-01-01", "payload": {"v": 1e400}}',
    '{"source": "s", "stream": "t", "occurred_at": "2026-01-01", "payload": {"v": "\\ud800"}}',
    '{"source": "s", "source": "dup", "stream": "t", "occurred_at": "2026-01-01Z"}',
    line(occurred_at="2026-11-22T10:00:00.1234567Z"),
    line(occurred_at="2026-11-22T10:00:00.5+05:30"),
    line(occurred_at="2026-11-22T10:00:00-00:00"),
    line(occurred_at="2026-11-22 10:00:00"),
    line(occurred_at="20261122T100000Z"),
    line(occurred_at="2026-11-22T10:00:00z"),
    line(occurred_at="2026-02-30T10:00:00Z"),
    line(occurred_at="2026-11-22T10:00:00+15:59"),
    line(occurred_at="2026-11-22T10:00:00+16:00"),
    line(occurred_at="2026-11-22T10:00:00-23:59", external_id=...),
    line(occurred_at="0001-01-01T05:00:00+14:00"),
    line(occurred_at="0001-01-01T05:00:00+14:00", external_id=...),
    line(occurred_at="0001-01-01T15:00:00+14:00", external_id=...),
    line(occurred_at="9999-12-31T20:00:00-05:00"),
    line(occurred_at=None),
    line(source=None),
    line(stream=[]),
    line(kind=""),
    line(temperature=1),
    "{broken",
    "[]",
    "   ",
    "",
    "\ufeff" + line(),
    "  " + line(external_id="padded") + "  \r\n",
    '{"source": "s", "stream": "t", "occurred_at": "2026-01-01", "payload": {"v": "\udcff"}}',
]


@pytest.mark.parametrize(
    "defaults",
    [Defaults(), Defaults(source="cli", stream="cli/s"), Defaults(tz=ZoneInfo("Europe/Paris"))],
)
def test_the_fast_path_matches_the_reference_on_tricky_lines(defaults: Defaults) -> None:
    assert_same_chunks(TRICKY, defaults)


def test_the_fast_path_keeps_wide_integers_exact() -> None:
    (chunk,) = fast_chunks([line(payload={"n": 123456789012345678901234567890})], Defaults(), 1, 1)
    assert chunk.data.endswith(b'\t{"n":123456789012345678901234567890}\n')


def test_chunks_never_straddle_a_batch() -> None:
    lines = [line(external_id=str(i)) for i in range(17)]
    lines[3] = "{bad"
    lines.insert(5, "\n")  # blank lines are not items
    chunks = fast_chunks(lines, Defaults(), 7, 3)
    assert [(c.items, c.ends_batch) for c in chunks] == [
        (3, False),
        (3, False),
        (1, True),
        (3, False),
        (3, False),
        (1, True),
        (3, False),  # the input's end ends the last batch
    ]
    assert sum(c.rows for c in chunks) == 16
    assert [r.line for c in chunks for r in c.rejections] == [4]


_chars = st.sampled_from(list('ab/\t\n\r\\"\x01é😀\u2028')) | st.characters(
    blacklist_categories=["Cs"], blacklist_characters="\x00"
)
_text = st.text(_chars, max_size=6)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    _text,
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
# Mostly valid fields, so that most lines are events and take the fast path.


def _mostly(valid: st.SearchStrategy[object], *others: st.SearchStrategy[object]) -> object:
    """Nine draws in ten from `valid`: most lines are events, on the fast path."""
    return st.integers(0, 9).flatmap(lambda i: valid if i else st.one_of(*others))


_name = _mostly(_text.filter(bool), st.just(...), _scalars)
_valid_stamp = st.one_of(
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z")),
)
_stamps = _mostly(
    _valid_stamp,
    st.sampled_from(["2026-11-22T10:00:00.25+02:00", "2026-11-22 10:00", "soon", "2026"]),
    st.just(...),
    _scalars,
)
_payloads = _mostly(st.dictionaries(_text, _values, max_size=4), st.just(...), _values)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "source": _name,
                "stream": _name,
                "kind": _name,
                "occurred_at": _stamps,
                "external_id": st.one_of(st.just(...), st.sampled_from(["x", "y"]), _name),
                "payload": _payloads,
            }
        ),
        max_size=12,
    ),
    st.booleans(),
)
def test_the_fast_path_matches_the_reference_on_generated_lines(
    objects: list[dict[str, object]], ascii_only: bool
) -> None:
    lines = [
        json.dumps({k: v for k, v in obj.items() if v is not ...}, ensure_ascii=ascii_only)
        for obj in objects
    ]
    assert_same_chunks(lines, Defaults(source="cli"), size=3)


def test_derived_ids_never_change_across_versions() -> None:
    """Ids derived by earlier versions: a file ingested again after an
    upgrade must still store nothing twice."""
    plain = '{"source":"a","stream":"s","occurred_at":"2026-01-01T00:00:00Z","payload":{"v":1}}'
    awkward = (
        '{"source":"plc","stream":"plant-a/x","kind":"measurement",'
        '"occurred_at":"2026-11-22T10:00:00+02:00","payload":{"t":81.2,"small":1.5e-07,'
        '"big":1e+16,"n":123456789012345678901234567890,"s":"\\u00e9\\n\\u2028",'
        '"nested":{"b":[1,2.5,null,true],"a":{}}}}'
    )
    occurrences = ids.Occurrences()
    got = [parse.parse_jsonl_line(t, 1, occurrences=occurrences) for t in (plain, awkward, plain)]
    assert [e.external_id for e in got if isinstance(e, Event)] == [
        "062ad3a117f77e7e70ed09b863aa924b",
        "6be62297db635b97ad16c75094628154",
        "062ad3a117f77e7e70ed09b863aa924b.2",
    ]


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=16,
)


@given(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=5))
def test_canonical_json_is_json_dumps_byte_for_byte(value: dict[str, object]) -> None:
    expected = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8", "surrogatepass")
    assert ids.canonical_json(value) == expected


@given(
    st.lists(st.integers(0, 6), max_size=60),
    st.integers(1, 5),
)
def test_copies_are_numbered_the_same_once_counts_move_to_disk(
    contents: list[int], in_memory: int
) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)

    def numbered(occurrences: ids.Occurrences) -> list[str]:
        return [occurrences.derive_id("a", "s", "k", at, {"v": v}) for v in contents]

    assert numbered(ids.Occurrences(in_memory=in_memory)) == numbered(ids.Occurrences())
