"""The `sentinel` command as a user runs it: real processes, real databases."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg

from sentinel.db import migrate


def sentinel(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
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
    assert problems[-1] == f"9 problem(s) in {BROKEN_PACK}"
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
    from sentinel.rules.pack import bundled_pack_path

    result = sentinel("rules", "check", str(bundled_pack_path()))
    assert result.returncode == 0, result.stderr
    assert "24 rules OK" in result.stdout


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
    from datetime import UTC, datetime

    from psycopg.types.json import Jsonb

    from sentinel.sample import generate

    START = datetime(2026, 11, 22, 6, tzinfo=UTC)  # the generator's default
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
