"""The event store on real Postgres: what ingest stores, skips and reports."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest

from sentinel.errors import InputError
from sentinel.ingest.store import IngestResult, ingest_events, ingest_lines


def jl(**fields: object) -> str:
    base: dict[str, object] = {
        "source": "plc",
        "stream": "plant-a/line-1/press-1",
        "occurred_at": "2026-11-22T10:00:00Z",
        "payload": {"temperature_c": 80.0},
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}) + "\n"


def events(conn: psycopg.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT source, stream, kind, occurred_at, external_id, payload FROM event ORDER BY id"
    ).fetchall()


MALFORMED = [
    jl(external_id="e1"),
    "{not json\n",
    jl(external_id="e2", occurred_at=...),
    jl(external_id="e3", occurred_at="22/11/2026"),
    jl(external_id="e4", payload=[1, 2]),
    "\n",
    jl(external_id="e5", payload={"temperature_c": 81.0}),
    '"just a string"\n',
]


def test_malformed_lines_are_named_and_skipped_and_good_lines_stored(
    conn: psycopg.Connection,
) -> None:
    result = ingest_lines(conn, MALFORMED, fmt="jsonl", name="plant.jsonl")
    assert (result.accepted, result.duplicate, result.rejected_count) == (2, 0, 5)
    assert [(r.line, r.reason.split(":")[0]) for r in result.rejected] == [
        (2, "invalid JSON"),
        (3, "missing occurred_at"),
        (4, "occurred_at is not an ISO-8601 timestamp"),
        (5, "payload must be a JSON object, got an array"),
        (8, "not a JSON object (got a string)"),
    ]
    assert str(result.rejected[0]).startswith("plant.jsonl:2: invalid JSON")
    assert [row[4] for row in events(conn)] == ["e1", "e5"]


def test_reingesting_the_same_input_stores_nothing_twice(conn: psycopg.Connection) -> None:
    lines = [jl(external_id=f"e{i}", payload={"v": i}) for i in range(25)]
    first = ingest_lines(conn, lines, fmt="jsonl", batch_size=10)
    again = ingest_lines(conn, lines, fmt="jsonl", batch_size=7)
    assert (first.accepted, first.duplicate) == (25, 0)
    assert (again.accepted, again.duplicate) == (0, 25)
    assert len(events(conn)) == 25


def test_identical_lines_without_ids_stay_two_events_and_reingest_adds_none(
    conn: psycopg.Connection,
) -> None:
    same = jl(external_id=...)
    lines = [same, same, jl(external_id=..., payload={"temperature_c": 90.0})]
    first = ingest_lines(conn, lines, fmt="jsonl")
    again = ingest_lines(conn, lines, fmt="jsonl")
    assert (first.accepted, first.duplicate) == (3, 0)
    assert (again.accepted, again.duplicate) == (0, 3)
    assert len({row[4] for row in events(conn)}) == 3


def test_an_input_that_repeats_an_external_id_stores_it_once(conn: psycopg.Connection) -> None:
    result = ingest_lines(conn, [jl(external_id="x"), jl(external_id="x")], fmt="jsonl")
    assert (result.accepted, result.duplicate) == (1, 1)


def test_csv_columns_become_payload_fields_with_numbers_parsed(conn: psycopg.Connection) -> None:
    rows = [
        "timestamp,stream,temperature_c,cycles,operator,empty\n",
        "2026-11-22T10:00:00Z,plant/p1,81.5,12,ana,\n",
        "2026-11-22T10:00:00Z,plant/p1,82,12,ana,\n",
    ]
    result = ingest_lines(conn, rows, fmt="csv", source="historian")
    assert result.accepted == 2  # equal timestamps, different values: two events
    payloads = [row[5] for row in events(conn)]
    assert payloads == [
        {"temperature_c": 81.5, "cycles": 12, "operator": "ana"},
        {"temperature_c": 82, "cycles": 12, "operator": "ana"},
    ]
    again = ingest_lines(conn, rows, fmt="csv", source="historian")
    assert (again.accepted, again.duplicate) == (0, 2)


def test_csv_without_a_time_column_stores_nothing_and_says_why(conn: psycopg.Connection) -> None:
    with pytest.raises(InputError, match="no occurred_at or timestamp"):
        ingest_lines(conn, ["when,v\n", "x,1\n"], fmt="csv", source="s", stream="t")
    assert events(conn) == []


def test_naive_timestamps_are_stored_in_the_given_timezone(conn: psycopg.Connection) -> None:
    ingest_lines(
        conn,
        [jl(external_id="a", occurred_at="2026-07-01T12:00:00")],
        fmt="jsonl",
        tz=ZoneInfo("America/New_York"),
    )
    ingest_lines(conn, [jl(external_id="b", occurred_at="2026-07-01T12:00:00")], fmt="jsonl")
    stamps = [row[3] for row in events(conn)]
    assert stamps == [
        datetime(2026, 7, 1, 16, tzinfo=UTC),
        datetime(2026, 7, 1, 12, tzinfo=UTC),
    ]


def test_extreme_offsets_are_stored_or_rejected_never_fatal(conn: psycopg.Connection) -> None:
    lines = [
        jl(external_id="far-east", occurred_at="2026-11-22T10:00:00+16:00"),
        jl(external_id="year-0", occurred_at="0001-01-01T05:00:00+14:00"),
        jl(external_id=..., occurred_at="0001-01-01T05:00:00+14:00"),
        jl(external_id="fine", occurred_at="0001-01-01T15:00:00+14:00"),
    ]
    result = ingest_lines(conn, lines, fmt="jsonl")
    assert (result.accepted, result.rejected_count) == (2, 2)
    assert [r.line for r in result.rejected] == [2, 3]
    assert [row[3] for row in events(conn)] == [
        datetime(2026, 11, 21, 18, tzinfo=UTC),
        datetime(1, 1, 1, 1, tzinfo=UTC),
    ]


def test_strict_stores_nothing_when_any_line_is_rejected(conn: psycopg.Connection) -> None:
    lines = [jl(external_id=f"e{i}") for i in range(30)] + ["{broken\n"]
    result = ingest_lines(conn, lines, fmt="jsonl", strict=True, batch_size=10)
    assert (result.accepted, result.rejected_count) == (0, 1)
    assert result.rejected[0].line == 31
    assert events(conn) == []
    assert conn.execute("SELECT count(*) FROM stream").fetchone() == (0,)


def test_strict_stores_everything_when_all_lines_are_valid(conn: psycopg.Connection) -> None:
    lines = [jl(external_id=f"e{i}") for i in range(30)]
    result = ingest_lines(conn, lines, fmt="jsonl", strict=True, batch_size=10)
    assert (result.accepted, result.rejected_count) == (30, 0)
    assert len(events(conn)) == 30


def test_streams_are_created_on_first_sight_with_last_event_at(conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO stream (key, last_event_at) VALUES ('old', '2000-01-01Z')")
    lines = [jl(external_id="1", stream="new/a"), jl(external_id="2", stream="old")]
    ingest_lines(conn, lines, fmt="jsonl")
    rows = conn.execute(
        "SELECT key, last_event_at = (SELECT max(received_at) FROM event e WHERE e.stream = key)"
        " FROM stream ORDER BY key"
    ).fetchall()
    assert rows == [("new/a", True), ("old", True)]


def test_last_event_at_never_moves_back(conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO stream (key, last_event_at) VALUES ('s', '2999-01-01Z')")
    ingest_lines(conn, [jl(external_id="1", stream="s")], fmt="jsonl")
    row = conn.execute("SELECT last_event_at FROM stream WHERE key = 's'").fetchone()
    assert row == (datetime(2999, 1, 1, tzinfo=UTC),)


def test_duplicates_only_do_not_touch_last_event_at(conn: psycopg.Connection) -> None:
    ingest_lines(conn, [jl(external_id="1")], fmt="jsonl")
    conn.execute("UPDATE stream SET last_event_at = '2000-01-01Z'")
    ingest_lines(conn, [jl(external_id="1")], fmt="jsonl")
    row = conn.execute("SELECT last_event_at FROM stream").fetchone()
    assert row == (datetime(2000, 1, 1, tzinfo=UTC),)


def test_each_batch_commits_on_its_own(conn: psycopg.Connection) -> None:
    lines = [jl(external_id=f"e{i}") for i in range(10)]
    xacts = set()

    def after_batch(_count: int) -> None:
        xacts.update(r[0] for r in conn.execute("SELECT DISTINCT xact FROM event"))

    ingest_lines(conn, lines, fmt="jsonl", batch_size=4, progress=after_batch)
    assert len(xacts) == 3  # committed in three transactions, visible batch by batch


def test_awkward_text_survives_the_copy_round_trip(conn: psycopg.Connection) -> None:
    tricky = "tab\there, newline\nthere, back\\slash, ünïcödé, \r"
    line = jl(external_id=tricky, stream=tricky, kind=tricky, payload={"t": tricky, "n": None})
    result = ingest_lines(conn, [line], fmt="jsonl", source=tricky)
    assert result.accepted == 1
    (row,) = events(conn)
    assert row[1] == row[2] == row[4] == tricky
    assert row[5] == {"t": tricky, "n": None}


def test_text_that_is_not_utf8_is_rejected_not_fatal(conn: psycopg.Connection) -> None:
    bad = b'{"source":"s","stream":"t","occurred_at":"2026-01-01","payload":{"v":"\xff"}}\n'
    good = jl(external_id="ok")
    result = ingest_lines(
        conn, [bad.decode("utf-8", "surrogateescape"), good], fmt="jsonl", name="mixed"
    )
    assert (result.accepted, result.rejected_count) == (1, 1)
    assert "not valid UTF-8" in result.rejected[0].reason


def test_ingest_events_stores_generator_dicts_once(conn: psycopg.Connection) -> None:
    moment = datetime(2026, 11, 22, 10, tzinfo=UTC)
    built = [
        {
            "source": "gen",
            "stream": "s/1",
            "kind": "measurement",
            "occurred_at": moment,
            "payload": {"v": 1},
        },
        {
            "source": "gen",
            "stream": "s/1",
            "occurred_at": "2026-11-22T10:01:00Z",
            "external_id": "gen-2",
            "payload": {"v": 2},
        },
        {"source": "gen", "stream": "s/1"},
    ]
    first = ingest_events(conn, iter(built))
    again = ingest_events(conn, iter(built))
    assert isinstance(first, IngestResult)
    assert (first.accepted, first.duplicate, len(first.rejected)) == (2, 0, 1)
    assert (again.accepted, again.duplicate) == (0, 2)


def test_concurrent_ingests_of_one_file_store_each_event_once(db_url: str) -> None:
    lines = [jl(external_id=f"e{i}", stream=f"s/{i % 7}") for i in range(3000)]
    results: list[IngestResult] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as own:
                results.append(ingest_lines(own, lines, fmt="jsonl", batch_size=500))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.accepted for r in results) == 3000
    assert sum(r.duplicate for r in results) == 6000
    with psycopg.connect(db_url) as check:
        assert check.execute("SELECT count(*) FROM event").fetchone() == (3000,)
        assert check.execute("SELECT count(*) FROM stream").fetchone() == (7,)


def test_a_partly_stored_input_stores_only_the_rest_batch_by_batch(
    conn: psycopg.Connection,
) -> None:
    lines = [jl(external_id=f"e{i}", stream=f"s/{i % 3}") for i in range(30)]
    ingest_lines(conn, lines[5:12], fmt="jsonl", batch_size=5)
    # Batches: new, mixed, mixed, new, new, new — each stored whole or sorted out.
    result = ingest_lines(conn, lines, fmt="jsonl", batch_size=5)
    assert (result.accepted, result.duplicate) == (23, 7)
    stored = [row[4] for row in events(conn)]
    assert sorted(stored) == sorted(f"e{i}" for i in range(30)) and len(stored) == 30
    again = ingest_lines(conn, lines, fmt="jsonl", batch_size=5)
    assert (again.accepted, again.duplicate) == (0, 30)


def test_strict_sorts_out_duplicates_within_its_transaction(conn: psycopg.Connection) -> None:
    lines = [jl(external_id=f"e{i}") for i in range(20)]
    ingest_lines(conn, lines[:5], fmt="jsonl")
    result = ingest_lines(conn, lines + lines[:2], fmt="jsonl", strict=True, batch_size=5)
    assert (result.accepted, result.duplicate, result.rejected_count) == (15, 7, 0)
    assert len(events(conn)) == 20
    row = conn.execute("SELECT count(*), bool_and(last_event_at IS NOT NULL) FROM stream")
    assert row.fetchone() == (1, True)


def test_a_rejected_line_inside_a_batch_is_reported_and_its_batch_stored(
    conn: psycopg.Connection,
) -> None:
    lines = [jl(external_id=f"e{i}") for i in range(12)]
    lines[6] = "{oops\n"
    seen: list[int] = []
    result = ingest_lines(
        conn, lines, fmt="jsonl", batch_size=4, on_reject=lambda r: seen.append(r.line)
    )
    assert (result.accepted, result.duplicate, result.rejected_count) == (11, 0, 1)
    assert seen == [7] and result.rejected[0].line == 7
    assert len(events(conn)) == 11


def test_concurrent_ingests_in_opposite_orders_store_each_event_once(db_url: str) -> None:
    lines = [jl(external_id=f"e{i}", stream=f"s/{i // 150}") for i in range(2000)]
    inputs = [lines, lines[::-1], lines[500:]]
    results: list[IngestResult] = []
    errors: list[BaseException] = []

    def run(own_lines: list[str]) -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as own:
                results.append(ingest_lines(own, own_lines, fmt="jsonl", batch_size=250))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in inputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.accepted for r in results) == 2000
    assert sum(r.accepted + r.duplicate for r in results) == sum(map(len, inputs))
    with psycopg.connect(db_url) as check:
        assert check.execute("SELECT count(*) FROM event").fetchone() == (2000,)
        row = check.execute("SELECT count(*), count(last_event_at) FROM stream").fetchone()
        assert row == (14, 14)
