"""Registration on a real Postgres: the lifecycle, the refusal to share a name,
capabilities, and noticing the dead."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from sentinel.db.connect import make_pool
from sentinel.errors import RegistrationRefused
from sentinel.registration.registrar import Registration
from sentinel.registration.store import WorkerStore
from sentinel.settings import Settings, load_settings


@pytest.fixture
def pool(db_url: str) -> Iterator[ConnectionPool]:
    pool = make_pool(db_url, max_size=4)
    yield pool
    pool.close()


def _settings(**overrides: object) -> Settings:
    return load_settings(**overrides)


def _registration(
    db_url: str, pool: ConnectionPool, name: str, **overrides: object
) -> Registration:
    return Registration(_settings(**overrides), db_url, pool, name=name)


def _worker(conn: psycopg.Connection, name: str) -> dict[str, object]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        row = cur.execute("SELECT * FROM worker WHERE name = %s", [name]).fetchone()
    assert row is not None
    return row


def _held_run(conn: psycopg.Connection, worker_id: int, stream: str = "s1") -> int:
    row = conn.execute(
        "WITH s AS (INSERT INTO stream (key) VALUES (%s) RETURNING id) "
        "INSERT INTO run (stream_id, window_start, status, lease_owner, lease_expires_at, "
        "attempts, fence) SELECT id, now(), 'running', %s, now() + interval '30 seconds', 1, 1 "
        "FROM s RETURNING id",
        [stream, worker_id],
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_register_heartbeat_deregister_round_trip(
    db_url: str, pool: ConnectionPool, conn: psycopg.Connection
) -> None:
    reg = _registration(db_url, pool, "w-one", max_concurrent_runs=3)
    worker_id = reg.register()
    row = _worker(conn, "w-one")
    assert row["id"] == worker_id
    assert row["status"] == "active"
    assert row["worker_role"] == "hybrid"
    assert row["capabilities"]["max_concurrent_runs"] == 3  # type: ignore[index]
    assert "python" in row["capabilities"]["runtimes"]  # type: ignore[index]
    assert row["meta"]["pid"] > 0  # type: ignore[index]
    first_beat = row["last_heartbeat"]

    run_id = _held_run(conn, worker_id)
    conn.execute("UPDATE run SET lease_expires_at = now() WHERE id = %s", [run_id])
    beat = reg.beat({run_id})
    assert beat.active and beat.renewed == {run_id}
    row = _worker(conn, "w-one")
    assert row["last_heartbeat"] > first_beat  # type: ignore[operator]
    lease = conn.execute(
        "SELECT lease_expires_at > now() + interval '20 seconds' FROM run"
    ).fetchone()
    assert lease == (True,)

    assert reg.deregister() == 1
    assert _worker(conn, "w-one")["status"] == "inactive"
    status = conn.execute("SELECT status, lease_owner FROM run WHERE id = %s", [run_id]).fetchone()
    assert status == ("queued", None)

    # Re-registering the same name reuses the row.
    again = _registration(db_url, pool, "w-one")
    assert again.register() == worker_id
    assert _worker(conn, "w-one")["status"] == "active"
    again.deregister()


def test_live_name_is_never_taken_over(db_url: str, pool: ConnectionPool) -> None:
    first = _registration(db_url, pool, "shared")
    first.register()
    second = _registration(db_url, pool, "shared")
    with pytest.raises(RegistrationRefused, match="in use by another live process"):
        second.register()
    first.deregister()
    second.register()  # free once the owner is gone
    second.deregister()


def test_name_of_a_dead_owner_is_reused_and_its_runs_requeued(
    db_url: str, pool: ConnectionPool, conn: psycopg.Connection
) -> None:
    dead = _registration(db_url, pool, "reborn")
    worker_id = dead.register()
    run_id = _held_run(conn, worker_id)
    dead.lock.release()  # the process died without deregistering

    successor = _registration(db_url, pool, "reborn")
    assert successor.register() == worker_id
    status = conn.execute("SELECT status, recovered FROM run WHERE id = %s", [run_id]).fetchone()
    assert status == ("queued", 1)
    successor.deregister()


def test_sweep_notices_a_worker_whose_session_is_gone(
    db_url: str, pool: ConnectionPool, conn: psycopg.Connection
) -> None:
    watcher = _registration(db_url, pool, "watcher", heartbeat_interval_seconds=0.1)
    watcher.register()
    victim = _registration(db_url, pool, "victim")
    victim_id = victim.register()
    run_id = _held_run(conn, victim_id)

    assert watcher.sweep().dead == ()  # alive: its lock is held
    victim.lock.release()  # SIGKILL: the session and its lock vanish
    # (the server ends the session asynchronously: the lock goes a moment later)
    deadline = time.monotonic() + 5
    while not (sweep := watcher.sweep()).dead and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sweep.dead == ("victim",) and sweep.requeued == 1
    assert _worker(conn, "victim")["status"] == "inactive"
    status = conn.execute("SELECT status, lease_owner FROM run WHERE id = %s", [run_id]).fetchone()
    assert status == ("queued", None)
    watcher.deregister()


def test_stale_heartbeat_is_dead_but_a_long_pass_that_beats_keeps_its_runs(
    db_url: str, pool: ConnectionPool, conn: psycopg.Connection
) -> None:
    watcher = _registration(db_url, pool, "watcher", heartbeat_interval_seconds=1)
    watcher.register()
    busy = _registration(db_url, pool, "busy", heartbeat_interval_seconds=1)
    busy_id = busy.register()
    run_id = _held_run(conn, busy_id)
    # The pass has run for far longer than the lease, but the worker beats.
    conn.execute(
        "UPDATE run SET started_at = now() - interval '10 minutes' WHERE id = %s", [run_id]
    )
    busy.beat({run_id})
    assert watcher.sweep().dead == ()
    assert conn.execute("SELECT status FROM run WHERE id = %s", [run_id]).fetchone() == ("running",)

    # Paused: the lock is still held, but the heartbeats stopped.
    conn.execute(
        "UPDATE worker SET last_heartbeat = now() - interval '4 seconds' WHERE name = 'busy'"
    )
    sweep = watcher.sweep()
    assert sweep.dead == ("busy",)
    assert conn.execute("SELECT status FROM run WHERE id = %s", [run_id]).fetchone() == ("queued",)
    # When it resumes, its heartbeat tells it so.
    assert busy.beat({run_id}).active is False
    watcher.deregister()
    busy.deregister()


def test_expired_lease_of_a_silent_owner_is_requeued(
    db_url: str, pool: ConnectionPool, conn: psycopg.Connection
) -> None:
    watcher = _registration(db_url, pool, "watcher")
    watcher.register()
    run_id = _held_run(conn, watcher.worker_id or 0)
    conn.execute(
        "UPDATE run SET lease_owner = NULL, lease_expires_at = now() - interval '1 second'"
    )
    assert watcher.sweep().expired == 1
    assert conn.execute("SELECT status FROM run WHERE id = %s", [run_id]).fetchone() == ("queued",)
    watcher.deregister()


def test_heartbeat_renews_only_the_runs_in_hand_so_an_abandoned_run_is_recovered(
    db_url: str, pool: ConnectionPool, conn: psycopg.Connection
) -> None:
    """A pass that failed in an outage and could not say so leaves its run
    owned by a worker that still beats: that run must not be renewed, and
    once its lease ends the sweep puts it back in the queue."""
    watcher = _registration(db_url, pool, "watcher")
    watcher.register()
    owner = _registration(db_url, pool, "owner")
    owner_id = owner.register()
    working = _held_run(conn, owner_id, "s-working")  # leases of 30 s from now
    abandoned = _held_run(conn, owner_id, "s-abandoned")

    # The clock pinned past both leases: the owner beats for the run it works on.
    later = conn.execute("SELECT now() + interval '31 seconds'").fetchone()[0]  # type: ignore[index]
    beat = WorkerStore(conn, now=later).heartbeat(owner_id, 30, {working})
    assert beat.active and beat.renewed == {working}
    sweep = WorkerStore(conn, now=later).sweep(watcher.worker_id or 0, 30, 10)
    assert (sweep.dead, sweep.expired) == ((), 1)
    rows = dict(conn.execute("SELECT id, status::text FROM run").fetchall())
    assert rows == {working: "running", abandoned: "queued"}
    watcher.deregister()
    owner.deregister()


def test_a_beat_calls_lost_only_the_runs_someone_else_holds_now(
    db_url: str, pool: ConnectionPool, conn: psycopg.Connection
) -> None:
    """A pass that completed just before the beat is not reported lost (it
    was, as a warning, for every such race); a run recovered and claimed by
    another worker is."""
    me = _registration(db_url, pool, "me")
    my_id = me.register()
    other = _registration(db_url, pool, "other")
    other_id = other.register()
    working = _held_run(conn, my_id, "s-working")
    finished = _held_run(conn, my_id, "s-finished")
    taken = _held_run(conn, my_id, "s-taken")
    conn.execute("UPDATE run SET status = 'succeeded' WHERE id = %s", [finished])
    conn.execute("UPDATE run SET lease_owner = %s WHERE id = %s", [other_id, taken])

    beat = me.beat({working, finished, taken})
    assert (beat.renewed, beat.lost) == ({working}, {taken})
    me.deregister()
    other.deregister()


def test_capabilities_can_change_while_running(
    db_url: str, pool: ConnectionPool, conn: psycopg.Connection
) -> None:
    reg = _registration(db_url, pool, "caps")
    reg.register()
    reg.add_capability("gpu", True)
    reg.update_capabilities({"site": "plant-a"})
    caps = _worker(conn, "caps")["capabilities"]
    assert caps["gpu"] is True and caps["site"] == "plant-a"  # type: ignore[index]
    found = conn.execute(
        "SELECT name FROM worker WHERE capabilities->'runtimes' ? 'python' AND capabilities @> %s",
        [psycopg.types.json.Jsonb({"site": "plant-a"})],
    ).fetchall()
    assert found == [("caps",)]
    reg.deregister()


def test_runtimes_priority_env_over_file_over_detection(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sentinel.registration import capabilities

    detected = capabilities.runtimes(load_settings())
    assert "python" in detected and "native" in detected
    config = tmp_path / "sentinel.toml"
    config.write_text('runtimes = "python,cuda"\n')
    monkeypatch.setenv("SENTINEL_CONFIG", str(config))
    assert capabilities.runtimes(load_settings()) == ["python", "cuda"]
    monkeypatch.setenv("SENTINEL_RUNTIMES", "shell")
    assert capabilities.runtimes(load_settings()) == ["shell"]


def test_custom_capabilities_from_the_environment_or_the_config_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from sentinel.errors import ConfigError
    from sentinel.registration import capabilities

    config = tmp_path / "sentinel.yaml"
    config.write_text("capabilities:\n  site: lyon\n  gpu: true\n")
    monkeypatch.setenv("SENTINEL_CONFIG", str(config))
    caps = capabilities.capabilities(load_settings())
    assert caps["site"] == "lyon" and caps["gpu"] is True and "python" in caps["runtimes"]
    monkeypatch.setenv("SENTINEL_CAPABILITIES", '{"site": "paris"}')
    assert capabilities.capabilities(load_settings())["site"] == "paris"
    for bad, says in (
        ('{"runtimes": ["cuda"]}', "runtimes cannot be set here"),
        ("site=lyon", "JSON object"),
        ("[1]", "valid dictionary"),
    ):
        monkeypatch.setenv("SENTINEL_CAPABILITIES", bad)
        with pytest.raises(ConfigError, match=says):
            load_settings()


def test_prune_removes_only_long_inactive_workers(
    db_url: str, pool: ConnectionPool, conn: psycopg.Connection
) -> None:
    from sentinel.registration.store import WorkerStore

    conn.execute(
        "INSERT INTO worker (name, status, updated) VALUES "
        "('old', 'inactive', now() - interval '8 days'), "
        "('recent', 'inactive', now() - interval '1 day'), "
        "('alive', 'active', now() - interval '9 days')"
    )
    assert WorkerStore(conn).prune(7 * 86400) == ["old"]
    names = {r[0] for r in conn.execute("SELECT name FROM worker").fetchall()}
    assert names == {"recent", "alive"}
