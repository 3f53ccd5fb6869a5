"""Serve the application with uvicorn until SIGTERM or SIGINT (uvicorn's own
graceful shutdown: it stops accepting, finishes the requests in flight)."""

from __future__ import annotations

import logging

from sentinel.api.state import ApiConfig
from sentinel.errors import ConfigError

log = logging.getLogger("sentinel.api")


class _Plain(logging.Filter):
    """uvicorn adds a `color_message` (ANSI codes) to its records: not a field."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.__dict__.pop("color_message", None)
        return True


def serve(config: ApiConfig, host: str, port: int) -> None:
    import socket

    import uvicorn

    from sentinel.api.app import create_app

    try:  # a taken port is one line, before the application starts
        probe = socket.create_server((host, port))
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    probe.close()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=host,
            port=port,
            log_config=None,  # the root logger: Sentinel's JSON or text lines
            access_log=False,  # the application logs each request, without its query
            server_header=False,
            lifespan="on",
            timeout_graceful_shutdown=10,
        )
    )
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).addFilter(_Plain())
    log.info("api listening", extra={"action": "api_start", "host": host, "port": port})
    server.run()
    log.info("api stopped", extra={"action": "api_stop"})
