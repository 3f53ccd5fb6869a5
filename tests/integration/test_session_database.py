"""The test suite's own database choice (tests/pg.py, tests/conftest.py): a
Docker engine that answers but cannot pull images must not fail the suite.

The Docker engine here is a tiny HTTP server on 127.0.0.1 that answers
/_ping and /version like a real engine and 404s everything else, as an
engine with no registry in reach does for `testcontainers/ryuk` and
`postgres:17-alpine`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import psycopg
import pytest

from tests import pg

ROOT = Path(__file__).resolve().parents[2]


class _Engine(BaseHTTPRequestHandler):
    """Answers like a Docker engine that has no images and cannot pull any."""

    requests: list[str]

    def _reply(self, status: int, body: object, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Api-Version", "1.43")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.requests.append(f"{self.command} {self.path}")
        path = self.path.split("?")[0]
        if path.endswith("/_ping"):
            self._reply(200, "OK", "text/plain")
        elif path.endswith("/version"):
            self._reply(
                200,
                {"ApiVersion": "1.43", "MinAPIVersion": "1.12", "Version": "24.0.0", "Os": "linux"},
            )
        else:  # containers/create, images/create (a pull), …
            self._reply(404, {"message": "No such image: no registry reachable"})

    do_GET = do_POST = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def engine() -> Iterator[tuple[str, list[str]]]:
    """DOCKER_HOST of a fake engine that cannot pull, and the requests it saw."""
    seen: list[str] = []
    handler = type("Engine", (_Engine,), {"requests": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_docker_engine_that_cannot_pull_falls_back_to_the_embedded_server(
    engine: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    docker_host, seen = engine
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    monkeypatch.delenv(pg.IMAGE_VARIABLE, raising=False)
    fallback = pg.Server("postgresql://unused@127.0.0.1:1/x", "embedded")
    choice = pg.choose(None, start_embedded=lambda: fallback)  # the real docker path
    assert pg.docker_answers()  # the engine answers…
    assert choice.server is fallback  # …but its container did not start
    assert choice.note is not None and "\n" not in choice.note
    assert "embedded" in choice.note and pg.IMAGE_VARIABLE in choice.note
    assert any("/images/create" in request for request in seen), seen  # it tried to pull


def test_any_failure_to_start_the_container_falls_back() -> None:
    def refused() -> tuple[pg.Server, object]:
        raise RuntimeError("ryuk did not start\nsecond line")

    fallback = pg.Server("postgresql://unused@127.0.0.1:1/x", "embedded")
    choice = pg.choose(
        None, docker=lambda: True, start_container=refused, start_embedded=lambda: fallback
    )
    assert choice.server is fallback
    assert choice.note is not None and "RuntimeError: ryuk did not start second line" in choice.note


def test_no_docker_and_an_external_url_need_no_note() -> None:
    fallback = pg.Server("postgresql://unused@127.0.0.1:1/x", "embedded")
    assert pg.choose(None, docker=lambda: False, start_embedded=lambda: fallback).note is None
    external = pg.choose("postgresql://db/x", docker=lambda: True)
    assert external.server.kind == "external" and external.note is None


def test_the_session_database_answers(db_url: str) -> None:
    """Run on its own by the next test, under a Docker engine that cannot pull."""
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_the_suite_runs_on_the_embedded_server_when_docker_cannot_pull(
    engine: tuple[str, list[str]],
) -> None:
    docker_host, _ = engine
    # The embedded server's folder, under /tmp so that its postgres user (when
    # the tests run as root) can reach it; removed at the end.
    scratch = Path(tempfile.mkdtemp(prefix="sentinel-session-test-"))
    scratch.chmod(0o755)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
    environment.update({"DOCKER_HOST": docker_host, "TMPDIR": str(scratch)})
    node = f"{Path(__file__).relative_to(ROOT)}::test_the_session_database_answers"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=240,
        )
        running = [  # the session stopped the server it started
            p.pid
            for p in psutil.process_iter(["cmdline", "status"])
            if str(scratch) in " ".join(p.info["cmdline"] or [])
            and p.info["status"] != psutil.STATUS_ZOMBIE
        ]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert result.returncode == 0, result.stdout + result.stderr
    notes = [line for line in result.stdout.splitlines() if "using the embedded Postgres" in line]
    assert len(notes) == 1, result.stdout
    assert notes[0].startswith("tests: Docker answers but the Postgres container did not start")
    assert "1 passed" in result.stdout
    assert not running
