"""Real `sentinel worker` processes for the fleet tests, and ways to wait on
the database instead of sleeping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

FAST = {
    "SENTINEL_RUN_INTERVAL_SECONDS": "1",
    "SENTINEL_HEARTBEAT_INTERVAL_SECONDS": "1",
    "SENTINEL_LEASE_SECONDS": "5",
    "SENTINEL_LOG_FORMAT": "json",
}


class Worker:
    def __init__(self, url: str, log_dir: Path, name: str | None, env: dict[str, str]) -> None:
        self.log_path = log_dir / f"worker-{name or 'auto'}-{time.monotonic_ns()}.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
        environment.update({"SENTINEL_DATABASE_URL": url, **env})
        if name:
            environment["SENTINEL_WORKER_NAME"] = name
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sentinel", "worker"],
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.name = name

    @property
    def pid(self) -> int:
        return self.process.pid

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        return self.process.wait(timeout=timeout)

    def alive(self) -> bool:
        return self.process.poll() is None

    def records(self) -> list[dict[str, Any]]:
        self.log.flush()
        lines = self.log_path.read_text().splitlines()
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def started(self) -> bool:
        """Registered and in its loop; fails at once if the process exited."""
        if not self.alive():
            raise AssertionError(f"worker exited at start: {self.log_path.read_text()[-2000:]}")
        return any(r.get("action") == "start" for r in self.records())

    def stop(self) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@contextmanager
def fleet(
    url: str, log_dir: Path, n: int, *, names: list[str] | None = None, **env: str
) -> Iterator[list[Worker]]:
    settings = {**FAST, **env}
    workers = [Worker(url, log_dir, names[i] if names else None, settings) for i in range(n)]
    try:
        wait_for(lambda: all(w.started() for w in workers), what=f"{n} workers started")
        yield workers
    finally:
        for worker in workers:
            worker.stop()


def wait_for(
    predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll until predicate() is truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


def scalar(url: str, query: str, params: Any = None) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def active_workers(url: str) -> int:
    return int(scalar(url, "SELECT count(*) FROM worker WHERE status = 'active'"))


def streams_behind(url: str) -> set[str]:
    """The streams whose cursor is not yet past all of their events."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT s.key FROM stream s WHERE EXISTS (SELECT 1 FROM event e "
            "WHERE e.stream = s.key AND e.xact >= s.cursor_xid)"
        ).fetchall()
    return {r[0] for r in rows}


def all_processed(url: str) -> bool:
    """Every stream's cursor is past all of its events."""
    return not streams_behind(url)
