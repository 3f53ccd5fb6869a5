"""The `sentinel` command as a user runs it: real processes, real databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from sentinel.db import migrate


def sentinel(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    # SENTINEL_HOME stays (the test's own, from conftest): a command that
    # falls back to the embedded Postgres must never touch the user's.
    environment = {
        k: v for k, v in os.environ.items() if k == "SENTINEL_HOME" or not k.startswith("SENTINEL_")
    }
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sentinel", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_db_upgrade_and_current_on_a_configured_database(empty_db_url: str) -> None:
    env = {"SENTINEL_DATABASE_URL": empty_db_url}
    upgraded = sentinel("db", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    current = sentinel("db", "current", env=env)
    assert current.returncode == 0
    assert migrate.head() in current.stdout and "up to date" in current.stdout


def test_db_upgrade_on_the_embedded_default(tmp_path: Path) -> None:
    env = {"SENTINEL_HOME": str(tmp_path / "home")}
    try:
        upgraded = sentinel("db", "upgrade", env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        current = sentinel("db", "current", env=env)
        assert "up to date" in current.stdout
        url = sentinel("db", "url", env=env)
        assert str(tmp_path / "home") in url.stdout
    finally:
        from sentinel.db import embedded

        embedded.stop_server(tmp_path / "home")


def test_unreachable_database_is_one_clear_line_and_a_failure() -> None:
    result = sentinel(
        "db", "upgrade", env={"SENTINEL_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"}
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "127.0.0.1:1" in lines[0] and "refused" in lines[0].lower()
    assert "Traceback" not in result.stderr


def test_invalid_setting_names_the_variable() -> None:
    result = sentinel("db", "current", env={"SENTINEL_RUN_INTERVAL_SECONDS": "abc"})
    assert result.returncode != 0
    assert "SENTINEL_RUN_INTERVAL_SECONDS" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_db_url_masks_the_password() -> None:
    result = sentinel(
        "db", "url", env={"SENTINEL_DATABASE_URL": "postgresql://app:s3cret@db.example:5432/x"}
    )
    assert result.stdout.strip() == "postgresql://app:***@db.example:5432/x"
    assert "s3cret" not in result.stdout + result.stderr


def test_config_file_is_read_and_the_environment_wins(tmp_path: Path, db_url: str) -> None:
    config = tmp_path / "sentinel.yaml"
    config.write_text(f"database_url: {db_url}\nSENTINEL_WORKER_ROLE: boss\n")
    bad = sentinel("db", "current", env={"SENTINEL_CONFIG": str(config)})
    assert bad.returncode != 0 and "SENTINEL_WORKER_ROLE" in bad.stderr
    good = sentinel(
        "db", "current", env={"SENTINEL_CONFIG": str(config), "SENTINEL_WORKER_ROLE": "sentinel"}
    )
    assert good.returncode == 0, good.stderr


def test_run_once_on_an_empty_event_store_succeeds(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO stream (key) VALUES ('plant-a/line-1/press-1'), ('ci/main')")
    result = sentinel("run-once", env={"SENTINEL_DATABASE_URL": db_url})
    assert result.returncode == 0, result.stderr
    assert "total" in result.stdout
    with psycopg.connect(db_url) as conn:
        runs = conn.execute("SELECT status::text, event_count FROM run").fetchall()
        worker = conn.execute("SELECT status::text FROM worker").fetchall()
    assert runs == [("succeeded", 0), ("succeeded", 0)]
    assert worker == [("inactive",)]


BROKEN_PACK = Path(__file__).resolve().parents[2] / "sentinel" / "sample" / "broken.yaml"


def test_rules_check_lists_every_problem_of_a_broken_pack() -> None:
    result = sentinel("rules", "check", str(BROKEN_PACK))
    assert result.returncode == 1
    problems = result.stderr.splitlines()
    assert problems[-1] == f"sentinel: error: 9 problem(s) in {BROKEN_PACK}"
    for ref, reason in [
        ("press.mystery", "unknown kind 'histogram'"),
        ("ci.bad_operator", "unknown operator 'is'"),
        ("ci.bad_regex", "bad regular expression"),
        ("press.overtemp", "clear_below (90) must be below above (85)"),
        ("oven.template", "{operator_name}"),
        ("oven.bad_duration", "bad glob"),
    ]:
        assert any(
            line.startswith(f"broken.yaml: {ref}: ") and reason in line for line in problems
        ), (ref, result.stderr)


def test_rules_check_accepts_the_bundled_pack() -> None:
    from sentinel.rules.pack import bundled_pack_path, load_path

    result = sentinel("rules", "check", str(bundled_pack_path()))
    assert result.returncode == 0, result.stderr
    assert f"{len(load_path(bundled_pack_path()).rules)} rules OK" in result.stdout


def test_rules_load_stores_a_pack_once_and_never_a_broken_one(db_url: str, tmp_path: Path) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text(
        "rules:\n"
        "  - ref: ci.failed\n"
        "    streams: 'ci/*'\n"
        "    kind: condition\n"
        "    when: {field: payload.status, operator: equals, value: failed}\n"
        "    severity: warning\n"
        "    recommendation: 'Look at {stream}.'\n"
    )
    env = {"SENTINEL_DATABASE_URL": db_url}
    first = sentinel("rules", "load", str(pack), env=env)
    again = sentinel("rules", "load", str(pack), env=env)
    broken = sentinel("rules", "load", str(BROKEN_PACK), env=env)
    assert first.returncode == 0 and "stored" in first.stdout, first.stderr
    assert again.returncode == 0 and "already stored" in again.stdout
    assert broken.returncode == 1 and "nothing stored" in broken.stderr
    with psycopg.connect(db_url) as conn:
        stored = conn.execute("SELECT rule_count FROM rule_pack").fetchall()
    assert stored == [(1,)]


def test_ingest_then_run_once_finds_every_injected_fault(db_url: str, tmp_path: Path) -> None:
    from sentinel.sample import generate

    events = tmp_path / "plant.jsonl"
    generate.main([str(events)])
    env = {"SENTINEL_DATABASE_URL": db_url}
    ingested = sentinel("ingest", str(events), env=env)
    ran = sentinel("run-once", env=env)
    listed = sentinel("recommendations", "list", "--json", env=env)
    assert ingested.returncode == 0, ingested.stderr
    assert ran.returncode == 0, ran.stderr
    found = {(r["rule"], r["stream"]) for r in json.loads(listed.stdout)}
    assert found == set(generate.EXPECTED)


def test_events_a_connector_writes_straight_into_event_are_found(db_url: str) -> None:
    """Connectors store events with plain SQL, creating no stream row: the
    worker discovers their streams on its next plan and runs them."""

    from psycopg.types.json import Jsonb

    from sentinel.sample import generate

    START = generate.recent_start()  # the generator's default: a history that ends now
    with psycopg.connect(db_url) as conn:
        conn.cursor().executemany(
            "INSERT INTO event (source, stream, kind, occurred_at, external_id, payload) "
            "VALUES (%(source)s, %(stream)s, %(kind)s, %(occurred_at)s, %(external_id)s, "
            "%(payload)s)",
            [{**e, "payload": Jsonb(e["payload"])} for e in generate.generate(START)],
        )
    env = {"SENTINEL_DATABASE_URL": db_url}
    ran = sentinel("run-once", env=env)
    listed = sentinel("recommendations", "list", "--json", env=env)
    assert ran.returncode == 0, ran.stderr
    found = {(r["rule"], r["stream"]) for r in json.loads(listed.stdout)}
    assert found == set(generate.EXPECTED)


# ---- one clear line, never a traceback -------------------------------------------

# Every command that touches the database, as a user types it ({pack} and
# {events} are files the test writes). The dashboard is a separate program.
DATABASE_COMMANDS = [
    ("workers", "list"),
    ("runs", "list"),
    ("recommendations", "list"),
    ("worker",),
    ("run-once",),
    ("ingest", "{events}"),
    ("rules", "load", "{pack}"),
    ("runs", "retry", "1"),
    ("recommendations", "ack", "1"),
    ("sentinel-tui",),
]


def _run_command(
    words: tuple[str, ...], tmp_path: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    from sentinel.rules.pack import bundled_pack_path

    events = tmp_path / "events.jsonl"
    events.write_text('{"source": "s", "stream": "a/b", "occurred_at": "2026-11-22T10:00:00Z"}\n')
    args = [w.format(pack=bundled_pack_path(), events=events) for w in words]
    env = {"SENTINEL_WORKER_NAME": "w1", **env}
    if args[0] != "sentinel-tui":
        return sentinel(*args, env=env, timeout=60)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    environment.update(env)
    return subprocess.run(  # if it started, the dashboard would wait for keys until the timeout
        [sys.executable, "-c", "from sentinel.tui.cli import main; main()", *args[1:]],
        env=environment,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(("sentinel: error: ", "sentinel-tui: error: ")), lines[0]
    return lines[0]


@pytest.mark.parametrize("words", DATABASE_COMMANDS, ids=" ".join)
def test_every_command_on_an_unmigrated_database_says_to_run_db_upgrade(
    words: tuple[str, ...], empty_db_url: str, tmp_path: Path
) -> None:
    result = _run_command(words, tmp_path, {"SENTINEL_DATABASE_URL": empty_db_url})
    line = _one_error_line(result)
    assert "sentinel db upgrade" in line and "revision: none" in line, line
    assert migrate.head() in line


def test_a_database_behind_the_code_names_its_revision(empty_db_url: str, tmp_path: Path) -> None:
    migrate.upgrade(empty_db_url, "0001")
    env = {"SENTINEL_DATABASE_URL": empty_db_url}
    result = _run_command(("run-once",), tmp_path, env)
    line = _one_error_line(result)
    assert "at revision 0001" in line and "sentinel db upgrade" in line, line


@pytest.mark.parametrize("words", DATABASE_COMMANDS, ids=" ".join)
def test_every_command_on_an_unreachable_database_is_one_line(
    words: tuple[str, ...], tmp_path: Path
) -> None:
    env = {"SENTINEL_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}
    line = _one_error_line(_run_command(words, tmp_path, env))
    assert "127.0.0.1:1" in line and "refused" in line.lower(), line


@pytest.mark.parametrize("words", [("workers", "list"), ("db", "current"), ("sentinel-tui",)])
def test_a_database_url_that_is_not_one_is_one_line_naming_the_variable(
    words: tuple[str, ...], tmp_path: Path
) -> None:
    line = _one_error_line(_run_command(words, tmp_path, {"SENTINEL_DATABASE_URL": "not a url"}))
    assert "SENTINEL_DATABASE_URL" in line and "not a Postgres URL" in line, line


@pytest.mark.parametrize("revision", ["9999", "nope"])
def test_downgrade_to_an_unknown_revision_is_one_line_listing_the_revisions(
    revision: str, db_url: str
) -> None:
    result = sentinel("db", "downgrade", revision, env={"SENTINEL_DATABASE_URL": db_url})
    line = _one_error_line(result)
    assert revision in line and f"{migrate.head()}" in line and "base" in line, line


# ---- the URL in use, password masked --------------------------------------------


@pytest.mark.parametrize(
    ("configured", "shown"),
    [
        ("postgresql://app:s3cret@db.example:5432/x", "postgresql://app:***@db.example:5432/x"),
        (
            "postgresql://app@db.example/x?password=s3cret",
            "postgresql://app@db.example/x?password=***",
        ),
        (
            "postgresql://db.example/x?sslmode=require&password=s3cret&application_name=a",
            "postgresql://db.example/x?sslmode=require&password=***&application_name=a",
        ),
        ("host=db.example password=s3cret dbname=x", "host=db.example password=*** dbname=x"),
        (
            "host=db.example password = 's3 cret' dbname=x",
            "host=db.example password = *** dbname=x",
        ),
        ("host=db.example sslpassword=s3cret dbname=x", "host=db.example sslpassword=*** dbname=x"),
    ],
    ids=[
        "url-userinfo",
        "url-query",
        "url-query-among-others",
        "keywords",
        "keywords-quoted",
        "sslpassword",
    ],
)
def test_db_url_masks_the_password_in_every_form(configured: str, shown: str) -> None:
    result = sentinel("db", "url", env={"SENTINEL_DATABASE_URL": configured})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == shown
    assert "s3" not in result.stdout + result.stderr


# ---- one style, fast help -------------------------------------------------------

HEAVY = ("sqlalchemy", "alembic", "textual", "psycopg", "pydantic", "pydantic_settings")


@pytest.mark.parametrize(
    "words",
    [("--help",), ("db", "--help"), ("runs", "list", "--help"), ("ingest", "--help"), ()],
    ids=" ".join,
)
def test_help_imports_no_heavy_dependency(words: tuple[str, ...]) -> None:
    """`sentinel --help` lists every command without importing what the
    commands need (SQLAlchemy, alembic, textual, psycopg, pydantic)."""
    probe = (
        "import sys\n"
        "from sentinel.cli import main\n"
        f"sys.argv = ['sentinel', *{list(words)!r}]\n"
        "try:\n    main()\n"
        "except SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout
    if words[:1] == ("--help",):
        for name in ("db", "ingest", "recommendations", "rules", "run-once", "runs", "worker"):
            assert f"  {name} " in result.stdout


def test_list_commands_import_neither_sqlalchemy_nor_textual(db_url: str) -> None:
    probe = (
        "import sys\n"
        "from sentinel.cli import main\n"
        "for words in (['runs', 'list'], ['workers', 'list'], ['recommendations', 'list']):\n"
        "    sys.argv = ['sentinel', *words]\n"
        "    try:\n        main()\n"
        "    except SystemExit as exit:\n        assert not exit.code, words\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'textual') if m in sys.modules))\n"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**environment, "SENTINEL_DATABASE_URL": db_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stdout


@pytest.mark.parametrize(
    "words",
    [
        ("runs", "list", "--status", "bogus"),
        ("runs", "retry", "x"),
        ("bogus",),
        ("ingest",),
        ("rules", "check", "/nonexistent.yaml"),
        ("runs", "replay", "--stream", "a", "--since", "soon"),
    ],
    ids=" ".join,
)
def test_usage_errors_are_one_line_in_the_sentinel_style(words: tuple[str, ...]) -> None:
    result = sentinel(*words)
    assert result.returncode == 2
    line = _one_error_line(result)
    assert line.startswith("sentinel: error: ") and "--help" in line, line


def _seed_runs(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO stream (key) VALUES ('a/1'), ('a/2'), ('a/3'), ('a/4')")
        conn.execute(
            "INSERT INTO run (stream_id, window_start, status, attempts, error)"
            " SELECT s.id, now(), v.status::run_status, v.attempts, v.error"
            "   FROM (VALUES ('a/1', 'succeeded', 1, NULL), ('a/2', 'queued', 0, NULL),"
            "                ('a/3', 'queued', 2, e'boom\\n  at line 2'),"
            "                ('a/4', 'dead', 5, 'gone')) AS v(key, status, attempts, error)"
            "   JOIN stream s ON s.key = v.key"
        )


def test_runs_list_accepts_every_status_the_dashboard_shows(db_url: str) -> None:
    from sentinel.views.rows import run_status

    _seed_runs(db_url)
    env = {"SENTINEL_DATABASE_URL": db_url}
    shown = {}
    for status in ("queued", "retrying", "running", "succeeded", "failed", "dead"):
        result = sentinel("runs", "list", "--status", status, "--json", env=env)
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)
        assert all(run_status(r["status"], r["attempts"]) == status for r in rows)
        shown[status] = [r["stream"] for r in rows]
    assert shown == {
        "queued": ["a/2"],
        "retrying": ["a/3"],
        "running": [],
        "succeeded": ["a/1"],
        "failed": [],
        "dead": ["a/4"],
    }
    table = sentinel("runs", "list", env=env).stdout.splitlines()
    retrying = [line for line in table if " a/3 " in line]
    assert len(table) == 5 and "retrying" in retrying[0] and "boom at line 2" in retrying[0]


def test_runs_retry_says_why_it_refuses_in_plain_words(db_url: str) -> None:
    _seed_runs(db_url)
    env = {"SENTINEL_DATABASE_URL": db_url}
    with psycopg.connect(db_url) as conn:
        ids = dict(
            conn.execute("SELECT s.key, r.id FROM run r JOIN stream s ON s.id = r.stream_id")
        )
    succeeded = sentinel("runs", "retry", str(ids["a/1"]), env=env)
    assert _one_error_line(succeeded) == (
        f"sentinel: error: run {ids['a/1']} already succeeded; "
        "only dead or failed runs can be retried"
    )
    queued = sentinel("runs", "retry", str(ids["a/2"]), env=env)
    assert _one_error_line(queued) == f"sentinel: error: run {ids['a/2']} is already queued"
    missing = sentinel("runs", "retry", "999999", env=env)
    assert _one_error_line(missing) == "sentinel: error: no run 999999"


def test_list_commands_say_on_stderr_when_they_stop_at_their_limit(
    db_url: str, tmp_path: Path
) -> None:
    from sentinel.sample import generate

    events = tmp_path / "plant.jsonl"
    generate.main([str(events)])
    env = {"SENTINEL_DATABASE_URL": db_url}
    assert sentinel("ingest", str(events), env=env).returncode == 0
    assert sentinel("run-once", env=env).returncode == 0
    everything = json.loads(sentinel("recommendations", "list", "--json", env=env).stdout)
    limited = sentinel("recommendations", "list", "--json", "--limit", "3", env=env)
    assert [r["id"] for r in json.loads(limited.stdout)] == [r["id"] for r in everything[:3]]
    assert limited.stderr.strip() == (
        "sentinel: showing the newest 3 recommendation(s); more match (raise --limit)"
    )
    exact = sentinel("recommendations", "list", "--limit", str(len(everything)), env=env)
    assert exact.stderr == ""
    runs = sentinel("runs", "list", "--limit", "1", env=env)
    assert "showing the newest 1 run(s)" in runs.stderr
    assert len(runs.stdout.strip().splitlines()) == 2  # header and one run


def test_cli_choices_match_the_schema() -> None:
    from sentinel.cli import fleet, recommendations
    from sentinel.db import schema

    assert recommendations.RECOMMENDATION_STATUSES == schema.RECOMMENDATION_STATUSES
    shown = {*schema.RECOMMENDATION_STATUSES, "shelved", "suppressed"}
    assert set(recommendations.SHOWN_STATUSES) == shown
    assert recommendations.SEVERITIES == schema.SEVERITIES
    assert set(fleet.RUN_STATUSES) == {*schema.RUN_STATUSES, "retrying"}


def test_a_pinned_rule_pack_that_does_not_load_stops_the_worker_naming_the_variable(
    db_url: str, tmp_path: Path
) -> None:
    env = {"SENTINEL_DATABASE_URL": db_url, "SENTINEL_RULES_PATH": str(BROKEN_PACK)}
    for command in ("run-once", "worker"):
        line = _one_error_line(sentinel(command, env=env))
        assert "SENTINEL_RULES_PATH" in line and "sentinel rules check" in line, line
    missing = {"SENTINEL_DATABASE_URL": db_url, "SENTINEL_RULES_PATH": str(tmp_path / "none")}
    line = _one_error_line(sentinel("run-once", env=missing))
    assert "SENTINEL_RULES_PATH" in line and "no such file" in line


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SENTINEL_LOG_FORMAT", "xml"),
        ("SENTINEL_HEARTBEAT_INTERVAL_SECONDS", "30"),
        ("SENTINEL_CAPABILITIES", "site=lyon"),
    ],
)
def test_a_wrong_setting_stops_every_command_with_one_line(variable: str, value: str) -> None:
    line = _one_error_line(sentinel("workers", "list", env={variable: value}))
    assert variable in line
