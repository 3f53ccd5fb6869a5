"""Signed run-completion records on a real Postgres: one DSSE envelope per
completed run, written in its completing transaction and announced; it
verifies with the public key, and `completions verify` names each record
whose payload was changed, that another key signed, or whose signature was
cut; unsigned records (no key configured) are said to be unsigned."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from psycopg_pool import ConnectionPool

from sentinel.cli import cli
from sentinel.completions import dsse
from sentinel.db.connect import make_pool
from sentinel.ingest.store import ingest_events
from sentinel.sample import generate
from sentinel.types import Channel
from sentinel.worker.models import Completed
from sentinel.worker.packs import RuleSource
from sentinel.worker.runner import PassRunner
from sentinel.worker.store import RunStore


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    with make_pool(db_url, max_size=4, name="test-completions") as opened:
        yield opened


def _key(tmp_path: Path, name: str = "signing.pem") -> Path:
    path = tmp_path / name
    dsse.write_private(path, dsse.generate())
    return path


def _run_all(conn: psycopg.Connection, pool: ConnectionPool, signer: dsse.Signer | None) -> int:
    events = generate.generate(generate.recent_start())
    faulty = sorted({stream for _, stream in generate.EXPECTED})[:2]  # findings to record
    ingest_events(conn, [e for e in events if e["stream"] in faulty])
    worker = conn.execute(
        "INSERT INTO worker (name, capabilities, last_heartbeat) "
        "VALUES ('c', '{\"runtimes\": [\"python\"]}', now()) RETURNING id"
    ).fetchone()
    assert worker is not None
    store = RunStore(conn)
    store.plan(3600, 5, exact=True)
    runner = PassRunner(pool, RuleSource(pool, None), batch_events=500, signer=signer)
    outcomes = [runner.run(c, worker[0]) for c in store.claim(worker[0], 100, 60.0)]
    assert outcomes and all(isinstance(o, Completed) for o in outcomes)
    return len(outcomes)


def test_each_completed_run_has_a_signed_record_that_verifies(
    conn: psycopg.Connection, pool: ConnectionPool, tmp_path: Path
) -> None:
    signer = dsse.Signer.from_file(_key(tmp_path))
    conn.execute(f"LISTEN {Channel.COMPLETION.value}")
    runs = _run_all(conn, pool, signer)
    rows = conn.execute(
        "SELECT c.run_id, c.envelope, c.signed, c.key_id, r.stream_id, r.event_count, "
        "r.first_event_id, r.last_event_id, r.fence, r.window_start "
        "FROM completion c JOIN run r ON r.id = c.run_id ORDER BY c.id"
    ).fetchall()
    assert len(rows) == runs
    announced = {n.payload for n in conn.notifies(timeout=1, stop_after=runs)}
    assert announced == {str(r[0]) for r in rows}
    public = signer.private_key.public_key()
    for run_id, envelope, signed, key_id, _, events, first, last, fence, window in rows:
        assert signed and key_id == signer.key_id
        assert envelope["payloadType"] == dsse.PAYLOAD_TYPE
        assert dsse.verify(envelope, public) is None
        record = json.loads(dsse.payload_of(envelope))
        assert record["run_id"] == run_id and record["fence"] == fence
        assert record["counts"]["events"] == events
        assert record["event_ids"] == {"first": first, "last": last}
        assert record["window_start"] == window.isoformat()
        assert record["worker"]["name"] == "c"
        written = conn.execute(
            "SELECT fingerprint FROM detection WHERE run_id = %s ORDER BY fingerprint", [run_id]
        ).fetchall()
        assert record["fingerprints"] == [f for (f,) in written]
    assert any(json.loads(dsse.payload_of(r[1]))["fingerprints"] for r in rows)


def _verify(db_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["completions", "verify", *args], env={"SENTINEL_DATABASE_URL": db_url}
    )
    return result.exit_code, result.output


def test_verify_names_a_changed_payload_another_key_and_a_cut_signature(
    conn: psycopg.Connection, pool: ConnectionPool, tmp_path: Path, db_url: str
) -> None:
    key = _key(tmp_path)
    _run_all(conn, pool, dsse.Signer.from_file(key))
    public = tmp_path / "public.pem"
    shown = CliRunner().invoke(cli, ["keys", "public", "--key", str(key)])
    assert shown.exit_code == 0
    public.write_text(shown.stdout)
    code, output = _verify(db_url, "--key", str(public))
    assert code == 0 and "verified" in output

    ids = [r[0] for r in conn.execute("SELECT id FROM completion ORDER BY id LIMIT 2")]
    payload = json.loads(
        dsse.payload_of(
            conn.execute("SELECT envelope FROM completion WHERE id = %s", [ids[0]]).fetchone()[0]
        )  # type: ignore[index]
    )
    payload["counts"]["events"] += 1  # a consumer's doctored count
    changed = base64.b64encode(json.dumps(payload).encode()).decode()
    conn.execute(
        "UPDATE completion SET envelope = jsonb_set(envelope, '{payload}', to_jsonb(%s::text)) "
        "WHERE id = %s",
        [changed, ids[0]],
    )
    conn.execute(
        "UPDATE completion SET envelope = jsonb_set(envelope, '{signatures,0,sig}', "
        "to_jsonb(left(envelope->'signatures'->0->>'sig', 40))) WHERE id = %s",
        [ids[1]],
    )
    code, output = _verify(db_url, "--key", str(public))
    assert code == 1
    lines = output.splitlines()
    assert any(
        f"completion {ids[0]} " in line and "does not match the payload" in line for line in lines
    )
    assert any(f"completion {ids[1]} " in line and "truncated" in line for line in lines)
    assert "2 of" in output and "failed verification" in output

    other = _key(tmp_path, "other.pem")
    code, output = _verify(
        db_url,
        "--key",
        str(other),
        "--run",
        str(
            conn.execute("SELECT run_id FROM completion ORDER BY id DESC LIMIT 1").fetchone()[0]  # type: ignore[index]
        ),
    )
    assert code == 1 and "wrong key" in output and "signed by key" in output


def test_without_a_key_records_are_unsigned_and_verify_says_so(
    conn: psycopg.Connection, pool: ConnectionPool, tmp_path: Path, db_url: str
) -> None:
    runs = _run_all(conn, pool, None)
    signed = conn.execute("SELECT bool_or(signed), count(*) FROM completion").fetchone()
    assert signed == (False, runs)
    code, output = _verify(db_url)
    assert code == 1
    assert "sentinel: error: no key to verify with" in output
    assert f"{runs} of {runs} record(s) are unsigned" in output
    code, output = _verify(db_url, "--key", str(_key(tmp_path)))
    assert code == 1 and "unsigned (no SENTINEL_SIGNING_KEY_FILE" in output


def test_keys_generate_writes_a_private_key_once_and_prints_the_public(tmp_path: Path) -> None:
    out = tmp_path / "k.pem"
    made = CliRunner().invoke(cli, ["keys", "generate", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert "BEGIN PUBLIC KEY" in made.stdout and "PRIVATE" not in made.stdout
    assert out.stat().st_mode & 0o077 == 0
    signer = dsse.Signer.from_file(out)
    assert dsse.public_pem(signer.private_key.public_key()).decode() == made.stdout
    again = CliRunner().invoke(cli, ["keys", "generate", "--out", str(out)])
    assert again.exit_code == 1 and "exists already" in again.output
