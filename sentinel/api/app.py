"""The application factory: routes, the body limit, one error shape, one
log line per request.

Errors are `{"error": "one line"}`: a bad body or query 400, a missing or
wrong token 401, a missing scope 403, nothing there 404, a refused change
409, a body over the limit 413, the database unreachable 503. Never a
traceback, a URL or a secret in an answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from sentinel import __version__
from sentinel.api.responses import Json, dumps, error
from sentinel.api.state import ApiConfig, ApiState
from sentinel.errors import DatabaseError, InputError

log = logging.getLogger("sentinel.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

QUIET_PATHS = frozenset({"/health", "/ready"})  # probes: logged at debug only

DESCRIPTION = """Sentinel's fleet, runs and findings over HTTP, and webhooks in.

Authenticate with `Authorization: Bearer <token>` (`sentinel api tokens
create NAME --scope read,write,ingest`): `read` for every GET under `/api`,
`write` for acknowledge, dismiss, recheck and retry, `ingest` for the generic
and Jenkins webhooks. GitHub deliveries are verified by their signature.
Lists return `{"items": [...], "next": cursor}`: pass `cursor` (and the same
filters) for the next page."""


def create_app(config: ApiConfig) -> FastAPI:
    from sentinel.api.routes import findings, fleet, health, runs, webhooks

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.sentinel = ApiState(config)
        try:
            yield
        finally:
            app.state.sentinel.close()

    app = FastAPI(
        title="Sentinel",
        version=__version__,
        description=DESCRIPTION,
        default_response_class=Json,
        lifespan=lifespan,
    )
    for module in (health, runs, fleet, findings, webhooks):
        app.include_router(module.router)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(psycopg.OperationalError, _unavailable)
    app.add_exception_handler(DatabaseError, _unavailable)
    app.add_middleware(Guard, max_body_bytes=config.max_body_bytes)
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return error(exc.status_code, str(exc.detail), dict(exc.headers or {}) or None)


async def _invalid(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    reasons = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body", "query", "path"))
        reasons.append(f"{where}: {item.get('msg', 'invalid')}" if where else item.get("msg", ""))
    return error(400, "; ".join(reasons) or "invalid request")


async def _input_error(request: Request, exc: Exception) -> Response:
    from sentinel.control.runs import UnknownRun, UnknownStream
    from sentinel.findings.review import UnknownRecommendation

    status = 404 if isinstance(exc, UnknownRun | UnknownStream | UnknownRecommendation) else 409
    return error(status, str(exc))


async def _unavailable(request: Request, exc: Exception) -> Response:
    log.error(
        "database unavailable",
        extra={"action": "api_database", "path": request.url.path, "error": type(exc).__name__},
    )
    return error(503, "database unavailable")


class BodyTooLarge(StarletteHTTPException):
    """Raised as the body streams in: an HTTP error, so that whoever reads
    the body (FastAPI's own parsing too) lets it through to the 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")


class Guard:
    """Pure ASGI middleware: refuses bodies over the limit (413, by their
    Content-Length or as they stream in, before a route reads them whole),
    turns an unexpected failure into a 500 without a traceback in the
    answer, and logs one line per request (method, path without its query,
    status, time, the token's name): never a header, a query or a body,
    which may hold a token."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
            await send(message)

        length = dict(scope.get("headers") or []).get(b"content-length")
        try:
            if length is not None and (not length.isdigit() or int(length) > self.limit):
                raise BodyTooLarge(self.limit)
            await self.app(scope, self._limited(receive), sending)
        except BodyTooLarge as exc:
            if not status["sent"]:
                await _send(sending, 413, str(exc.detail))
        except Exception:
            log.exception("request failed", extra={"action": "api_error", "path": scope["path"]})
            if not status["sent"]:
                await _send(sending, 500, "internal error")
        path = scope["path"]
        state = scope.get("state") or {}
        log.log(
            logging.DEBUG if path in QUIET_PATHS else logging.INFO,
            "request",
            extra={
                "action": "api_request",
                "method": scope["method"],
                "path": path,
                "status": status["code"],
                "ms": round((time.perf_counter() - started) * 1000, 2),
                "actor": state.get("actor"),
            },
        )

    def _limited(self, receive: Receive) -> Receive:
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        return limited


async def _send(send: Send, status: int, message: str) -> None:
    body = dumps({"error": message})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
