"""The embedded Postgres as a user meets it: first uses at once, the notice
when a command starts it, `sentinel db status` and `sentinel db stop`.

Every test uses its own SENTINEL_HOME under tmp_path and stops the server it
started."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from sentinel.db import embedded

STARTED = "sentinel: started the embedded Postgres"


def _command() -> list[str]:
    script = Path(sys.executable).parent / "sentinel"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sentinel"]


def _env(home: Path, **extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    environment.update({"SENTINEL_HOME": str(home), **extra})
    return environment


def sentinel(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_command(), *args],
        env=_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    try:
        yield home
    finally:
        embedded.stop_server(home)
        assert not embedded.state(home).running


def test_two_first_uses_at_once_both_succeed(home: Path) -> None:
    """Three `sentinel db upgrade` on a fresh SENTINEL_HOME at the same moment:
    one server, one database, every command exits 0 and one says it started it."""
    procs = [
        subprocess.Popen(
            [*_command(), "db", "upgrade"],
            env=_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            results.append((proc.returncode, out, err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for returncode, out, err in results:
        assert returncode == 0, err
        assert "database at" in out
        assert "Traceback" not in err
    assert sum(err.count(STARTED) for _, _, err in results) == 1
    current = sentinel(home, "db", "current")
    assert current.returncode == 0 and "up to date" in current.stdout, current.stderr


def test_status_and_stop_of_the_embedded_server(home: Path) -> None:
    before = sentinel(home, "db", "status")
    assert before.returncode == 0, before.stderr
    assert "not running" in before.stdout and str(home) in before.stdout
    assert not embedded.state(home).running  # status never starts it

    first = sentinel(home, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    started = [line for line in first.stderr.splitlines() if line.startswith(STARTED)]
    assert len(started) == 1 and "sentinel db stop" in started[0], first.stderr

    again = sentinel(home, "db", "current")
    assert again.returncode == 0 and STARTED not in again.stderr  # said once, not every time

    status = sentinel(home, "db", "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["kind"] == "embedded" and report["running"] and report["answers"]
    assert report["data_dir"] == str(embedded.data_dir(home))
    assert report["port"] == 5432 and isinstance(report["pid"], int)
    pid = report["pid"]
    human = sentinel(home, "db", "status")
    assert f"pid: {pid}" in human.stdout and "accepting connections" in human.stdout

    stopped = sentinel(home, "db", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip().splitlines() == [
        f"stopped the embedded Postgres under {home} (pid {pid})"
    ]
    assert not embedded.state(home).running
    with contextlib.suppress(psutil.NoSuchProcess):  # gone, or a zombie nobody reaps
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    nothing = sentinel(home, "db", "stop")
    assert nothing.returncode == 0 and "not running" in nothing.stdout, nothing.stderr
    after = sentinel(home, "db", "status", "--json")
    assert json.loads(after.stdout)["running"] is False

    restarted = sentinel(home, "db", "current")  # the next command starts it again
    assert restarted.returncode == 0 and STARTED in restarted.stderr, restarted.stderr


def test_stop_refuses_an_external_database(tmp_path: Path, db_url: str) -> None:
    home = tmp_path / "home"
    result = sentinel(home, "db", "stop", SENTINEL_DATABASE_URL=db_url)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "sentinel: error: the database is external (SENTINEL_DATABASE_URL is set): "
        "sentinel db stop only stops the embedded Postgres"
    ]
    assert not embedded.data_dir(home).exists()  # nothing embedded was started


def test_status_of_an_external_database_says_whether_it_answers(
    tmp_path: Path, db_url: str
) -> None:
    home = tmp_path / "home"
    up = sentinel(home, "db", "status", "--json", SENTINEL_DATABASE_URL=db_url)
    assert up.returncode == 0, up.stderr
    report = json.loads(up.stdout)
    assert report["kind"] == "external" and report["answers"] is True

    down_url = "postgresql://app:s3cret@127.0.0.1:1/x"
    down = sentinel(home, "db", "status", SENTINEL_DATABASE_URL=down_url)
    assert down.returncode == 0, down.stderr
    assert "external" in down.stdout and "does not answer" in down.stdout
    assert "127.0.0.1:1" in down.stdout and "s3cret" not in down.stdout + down.stderr
    assert not embedded.data_dir(home).exists()


def test_state_ignores_a_stale_postmaster_pid(tmp_path: Path) -> None:
    """A postmaster.pid left by a crash (its pid now someone else's or gone)
    is not a running server."""
    pgdata = embedded.data_dir(tmp_path)
    pgdata.mkdir(parents=True)
    (pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{pgdata}\n1700000000\n5432\n")
    state = embedded.state(tmp_path)
    assert state.pid == os.getpid() and state.port == 5432
    assert not state.running  # the pid is this pytest, not a postgres
