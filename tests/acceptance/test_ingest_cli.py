"""`sentinel ingest` as users run it: click's runner, and one real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner

from sentinel.cli import cli


def jl(external_id: str | None, **fields: object) -> str:
    obj: dict[str, object] = {
        "source": "plc",
        "stream": "plant-a/line-1/press-1",
        "occurred_at": "2026-11-22T10:00:00Z",
        "payload": {"temperature_c": 80.0},
        **fields,
    }
    if external_id is not None:
        obj["external_id"] = external_id
    return json.dumps(obj) + "\n"


@pytest.fixture
def runner(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SENTINEL_DATABASE_URL", db_url)
    return CliRunner()


def count(db_url: str, table: str = "event") -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()  # type: ignore[arg-type]
        assert row is not None
        return int(row[0])


def test_bad_lines_go_to_stderr_with_file_and_line_and_the_rest_is_stored(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(jl("a") + "{nope\n" + jl("b", occurred_at="soon") + jl("c"))
    result = runner.invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "accepted 2, duplicate 0, rejected 2"
    assert f"{path}:2: invalid JSON" in result.stderr
    assert f"{path}:3: occurred_at is not an ISO-8601 timestamp" in result.stderr
    assert count(db_url) == 2


def test_reingesting_a_file_reports_duplicates_and_stores_nothing_twice(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.ndjson"
    path.write_text(jl(None) + jl(None) + jl("x"))
    runner.invoke(cli, ["ingest", str(path)])
    again = runner.invoke(cli, ["ingest", str(path)])
    assert again.exit_code == 0
    assert again.stdout.strip() == "accepted 0, duplicate 3, rejected 0"
    assert count(db_url) == 3


def test_several_files_are_counted_each_and_in_total(runner: CliRunner, tmp_path: Path) -> None:
    a = tmp_path / "a.jsonl"
    b = tmp_path / "b.csv"
    a.write_text(jl("1") + jl("2"))
    b.write_text("occurred_at,temperature_c\n2026-11-22T10:00:00,80.5\n")
    result = runner.invoke(cli, ["ingest", str(a), str(b), "--source", "s", "--stream", "p/1"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"{a}: accepted 2, duplicate 0, rejected 0",
        f"{b}: accepted 1, duplicate 0, rejected 0",
        "accepted 3, duplicate 0, rejected 0",
    ]


def test_json_output_for_scripts(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(jl("1") + "[]\n")
    result = runner.invoke(cli, ["ingest", "--json", str(path)])
    document = json.loads(result.stdout)
    assert (document["accepted"], document["duplicate"], document["rejected"]) == (1, 0, 1)
    assert document["files"][0]["name"] == str(path)


def test_stdin_is_read_with_dash(runner: CliRunner, db_url: str) -> None:
    result = runner.invoke(cli, ["ingest", "-", "--source", "pipe"], input=jl("1") + jl("2"))
    assert result.exit_code == 0, result.output
    assert "accepted 2" in result.stdout
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT DISTINCT source FROM event").fetchall() == [("plc",)]


def test_csv_from_stdin_needs_the_format_option(runner: CliRunner, db_url: str) -> None:
    csv = "timestamp,v\n2026-11-22T10:00:00Z,1\n2026-11-22T10:00:00Z,2\n"
    result = runner.invoke(
        cli, ["ingest", "-", "--format", "csv", "--source", "s", "--stream", "p"], input=csv
    )
    assert result.exit_code == 0, result.output
    assert count(db_url) == 2


def test_timezone_option_places_naive_timestamps(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "local.csv"
    path.write_text("occurred_at,v\n2026-01-15 08:00:00,1\n")
    result = runner.invoke(
        cli, ["ingest", str(path), "--source", "s", "--stream", "p", "--timezone", "Asia/Tokyo"]
    )
    assert result.exit_code == 0, result.output
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT occurred_at AT TIME ZONE 'UTC' FROM event").fetchone()
    assert row is not None and row[0].isoformat() == "2026-01-14T23:00:00"


def test_unknown_timezone_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(jl("1"))
    result = runner.invoke(cli, ["ingest", str(path), "--timezone", "Mars/Olympus"])
    assert result.exit_code == 2 and "Mars/Olympus" in result.stderr


def test_strict_with_a_rejected_line_fails_and_stores_nothing(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    good = tmp_path / "good.jsonl"
    bad = tmp_path / "bad.jsonl"
    good.write_text(jl("1") + jl("2"))
    bad.write_text(jl("3") + "{broken\n")
    result = runner.invoke(cli, ["ingest", "--strict", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:2: invalid JSON" in result.stderr
    assert "--strict: 1 line(s) rejected; nothing stored" in result.stderr
    assert count(db_url) == 0 and count(db_url, "stream") == 0


def test_unreadable_file_is_one_clear_line_and_nothing_is_stored(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(jl("1"))
    missing = tmp_path / "missing.jsonl"
    result = runner.invoke(cli, ["ingest", str(good), str(missing)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"sentinel: error: cannot read {missing}: No such file or directory"
    ]
    assert count(db_url) == 0


def test_a_file_of_unknown_format_asks_for_format(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "events.txt"
    path.write_text(jl("1"))
    result = runner.invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 2 and "--format" in result.stderr
    forced = runner.invoke(cli, ["ingest", str(path), "--format", "jsonl"])
    assert forced.exit_code == 0 and "accepted 1" in forced.stdout


def test_no_progress_bar_when_stderr_is_not_a_terminal(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text("".join(jl(str(i)) for i in range(50)))
    result = runner.invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 0 and result.stderr == ""


def sentinel(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "sentinel", *args],
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_real_sentinel_ingest_process_stores_and_reports(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "plant.jsonl"
    path.write_text(jl("a") + "oops\n" + jl(None) + jl(None))
    env = {"SENTINEL_DATABASE_URL": db_url, "SENTINEL_HOME": str(tmp_path / "home")}
    first = sentinel("ingest", str(path), env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "accepted 3, duplicate 0, rejected 1"
    assert f"{path}:2: invalid JSON" in first.stderr
    again = sentinel("ingest", "-", env=env, stdin=path.read_text())
    assert again.stdout.strip() == "accepted 0, duplicate 3, rejected 1"
    assert count(db_url) == 3


def test_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text(jl("1"))
    env = {"SENTINEL_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}
    result = sentinel("ingest", str(path), env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "127.0.0.1:1" in lines[0], result.stderr


# ---- a problem of the whole file; many lines with one mistake ------------------


@pytest.mark.parametrize(
    ("header", "option", "missing"),
    [
        ("timestamp,stream,temp", "--source", "source"),
        ("timestamp,source,temp", "--stream", "stream"),
    ],
)
def test_a_csv_whose_header_lacks_source_or_stream_is_one_line_and_a_failure(
    header: str, option: str, missing: str, runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        header + "\n" + "".join(f"2026-11-22T10:00:{i:02d}Z,x,{i}\n" for i in range(60))
    )
    result = runner.invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"sentinel: error: {path}:1: the CSV header has no {missing} column: "
        f"add one, or pass {option} {'NAME' if missing == 'source' else 'KEY'}"
    ]
    assert count(db_url) == 0
    given = runner.invoke(cli, ["ingest", str(path), option, "given"])
    assert given.exit_code == 0 and given.stdout.strip() == "accepted 60, duplicate 0, rejected 0"


def test_one_mistake_on_every_line_prints_ten_lines_and_a_count_and_fails(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    lines = [jl(None, payload={"v": i}) for i in range(2_000)]
    path.write_text("".join(line.replace('"source": "plc", ', "") for line in lines))
    result = runner.invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 1
    errors = result.stderr.strip().splitlines()
    reason = "missing source (add it to the line or pass --source)"
    assert errors == [
        *(f"{path}:{n}: {reason}" for n in range(1, 11)),
        f"{path}: and 1,990 more like this: {reason}",
        "sentinel: error: nothing stored: all 2,000 line(s) were rejected",
    ]
    assert result.stdout.strip() == "accepted 0, duplicate 0, rejected 2000"


def test_reasons_differing_only_in_their_values_are_one_kind(
    runner: CliRunner, db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "events.jsonl"
    bad = "".join(jl(str(i), occurred_at=f"soon-{i}") for i in range(30))
    path.write_text(jl("good") + bad + "{nope\n" * 3)
    result = runner.invoke(cli, ["ingest", str(path)])
    assert result.exit_code == 0  # one line was stored: the command did its job
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 10 + 3 + 1
    assert errors[-1].startswith(f"{path}: and 20 more like this: occurred_at is not")
    assert result.stdout.strip() == "accepted 1, duplicate 0, rejected 33"


def test_rejections_printed_under_a_progress_bar_each_start_their_own_line(
    db_url: str, tmp_path: Path
) -> None:
    import pty
    import re
    import select

    path = tmp_path / "events.jsonl"
    path.write_text("".join(jl(str(i)) if i % 3 else "{nope\n" for i in range(30)))
    controller, terminal = pty.openpty()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    environment.update({"SENTINEL_DATABASE_URL": db_url, "COLUMNS": "100"})
    process = subprocess.Popen(
        [sys.executable, "-m", "sentinel", "ingest", str(path)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
    )
    os.close(terminal)
    shown = b""
    while True:  # read the terminal until the process closes it
        ready, _, _ = select.select([controller], [], [], 60)
        assert ready, "no output within a minute"
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        shown += chunk
    assert process.wait(timeout=60) == 0
    os.close(controller)
    screen_lines = []
    for line in shown.decode().split("\n"):
        visible = line.rstrip("\r").rsplit("\r", 1)[-1]  # what a terminal leaves on the line
        screen_lines.append(re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", visible))
    rejections = [line for line in screen_lines if "invalid JSON" in line]
    assert len(rejections) == 10, shown
    assert all(line.startswith(f"{path}:") for line in rejections), shown
    assert "100%" in shown.decode()  # the bar is drawn
