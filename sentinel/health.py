"""The worker's HTTP endpoints, on `SENTINEL_METRICS_PORT` (standard library only).

- `/healthz` — 200 `ok` while the process runs (liveness: restart me if not).
- `/readyz`  — 200 with the reason when `ready()` says so, else 503 with the
  reason (readiness: registered and the database reachable).
- `/metrics` — the Prometheus exposition of `sentinel.metrics.REGISTRY`.

Anything else is 404. The server runs on a daemon thread, one thread per
request, and logs nothing per request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import generate_latest

from sentinel.errors import ConfigError
from sentinel.metrics import REGISTRY

log = logging.getLogger(__name__)

Ready = Callable[[], tuple[bool, str]]

# What `generate_latest` writes: the classic text format, which every Prometheus
# (2.x and 3.x) scrapes. Newer prometheus-client versions call their
# CONTENT_TYPE_LATEST 1.0.0, which would not describe this body.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], ready: Ready) -> None:
        self.ready = ready
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-response is not worth a traceback on stderr.
        log.debug("health endpoint: error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "sentinel-health"
    sys_version = ""

    def do_GET(self) -> None:
        self._respond(send_body=True)

    def do_HEAD(self) -> None:
        self._respond(send_body=False)

    def _respond(self, *, send_body: bool) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        if path == "/healthz":
            status, body, ctype = 200, b"ok\n", "text/plain; charset=utf-8"
        elif path == "/readyz":
            ok, reason = self._readiness()
            status = 200 if ok else 503
            body, ctype = (reason + "\n").encode(), "text/plain; charset=utf-8"
        elif path == "/metrics":
            status, body, ctype = 200, generate_latest(REGISTRY), METRICS_CONTENT_TYPE
        else:
            status, body, ctype = 404, b"not found\n", "text/plain; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def _readiness(self) -> tuple[bool, str]:
        try:
            ok, reason = self.server.ready()
        except Exception as exc:  # a broken probe means "not ready", never a crash
            return False, f"readiness check failed: {type(exc).__name__}: {exc}"
        return bool(ok), str(reason)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no line per request on stderr


class HealthServer:
    """`/healthz`, `/readyz` and `/metrics` on a daemon thread.

    `port=0` binds a free port; `.port` is the port actually bound once
    `start()` has returned.
    """

    def __init__(self, port: int, ready: Ready, host: str = "0.0.0.0") -> None:
        self.host = host
        self._requested_port = port
        self.ready = ready
        self._bound_port: int | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._bound_port if self._bound_port is not None else self._requested_port

    def start(self) -> None:
        if self._server is not None:
            return
        try:
            self._server = _Server((self.host, self._requested_port), self.ready)
        except OSError as exc:
            raise ConfigError(
                f"SENTINEL_METRICS_PORT: cannot listen on {self.host}:{self._requested_port}: "
                f"{exc.strerror or exc}"
            ) from exc
        self._bound_port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="sentinel-health",
            daemon=True,
        )
        self._thread.start()
        log.info(
            "health endpoints listening",
            extra={"action": "health_start", "host": self.host, "port": self.port},
        )

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> HealthServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
