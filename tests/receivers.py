"""Real receivers on 127.0.0.1 for the notification tests: an HTTP server
standing in for Slack, the generic webhook and anything else that takes a
POST (recording each request, optionally failing or holding the first one),
and an SMTP server (aiosmtpd) recording each message."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpReceiver:
    """Records every POST. `status`: what it answers (200 by default);
    `hold_first`: the first request waits until `release` is set (a receiver
    that hangs, so a test can kill the worker sending to it)."""

    status: int = 200
    hold_first: bool = False
    requests: list[Request] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _held: bool = False
    url: str = ""

    def handle(self, request: Request) -> int:
        with self._lock:
            hold = self.hold_first and not self._held
            self._held = self._held or hold
        if hold:
            self.holding.set()
            self.release.wait(60)
            return 503  # whoever sent it is gone by now
        with self._lock:
            self.requests.append(request)
        return self.status

    def bodies(self) -> list[Any]:
        with self._lock:
            return [r.json() for r in self.requests]


@contextmanager
def http_receiver(**options: Any) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(**options)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            status = receiver.handle(
                Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SmtpReceiver:
    port: int = 0
    messages: list[Message] = field(default_factory=list)


@contextmanager
def smtp_receiver() -> Iterator[SmtpReceiver]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1, plain (`security: none`)."""
    from aiosmtpd.controller import Controller

    receiver = SmtpReceiver()

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            receiver.messages.append(message_from_bytes(envelope.content))
            return "250 OK"

    receiver.port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=receiver.port)
    controller.start()
    try:
        yield receiver
    finally:
        controller.stop()
