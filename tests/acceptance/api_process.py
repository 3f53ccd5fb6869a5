"""A real `sentinel api` process for the API tests: a free port on
127.0.0.1, polled until /ready answers, stopped with SIGTERM."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from sentinel.api import tokens
from tests.acceptance.fleet import wait_for


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ApiProcess:
    def __init__(self, url: str, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.log_path = log_dir / f"api-{self.port}-{time.monotonic_ns()}.log"
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")}
        environment.update({"SENTINEL_DATABASE_URL": url, "SENTINEL_LOG_FORMAT": "json", **env})
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sentinel",
                "api",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.base, timeout=15)
        wait_for(self._ready, timeout=60, what="sentinel api ready")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"sentinel api exited: {self.log_text()[-2000:]}")
        try:
            return self.client.get("/ready").status_code == 200
        except httpx.TransportError:
            return False

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()

    def request(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.request(method, path, headers=headers, **kwargs)


def token(url: str, name: str, *scopes: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        return tokens.create(conn, name, scopes)
