"""Who may call what: bearer tokens (`Authorization: Bearer snt_…`) with
scopes. No token or an unknown or revoked one is 401, a token without the
route's scope 403; each refusal is logged with the path and the reason, and
with the token's name when it has one, never the token."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NoReturn

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from sentinel.api import tokens
from sentinel.api.responses import ApiError
from sentinel.api.state import ApiState
from sentinel.api.tokens import Principal, Scope

log = logging.getLogger("sentinel.api")

bearer = HTTPBearer(auto_error=False, description="An API token: `sentinel api tokens create`")

CHALLENGE = {"WWW-Authenticate": "Bearer"}


def state(request: Request) -> ApiState:
    found: ApiState = request.app.state.sentinel
    return found


def principal(request: Request, token: str | None) -> Principal:
    """The token's principal, or 401."""
    if not token:
        refuse(request, 401, "missing bearer token")
    with state(request).write() as conn:
        found = tokens.authenticate(conn, token)
    if found is None:
        refuse(request, 401, "unknown or revoked token")
    request.state.actor = found.name
    return found


def refuse(request: Request, status: int, reason: str, actor: str | None = None) -> NoReturn:
    log.warning(
        "refused",
        extra={
            "action": "api_refused",
            "status": status,
            "method": request.method,
            "path": request.url.path,
            "reason": reason,
            "actor": actor,
        },
    )
    raise ApiError(status, reason, headers=CHALLENGE if status == 401 else None)


def require(scope: Scope) -> Callable[..., Principal]:
    """A dependency: the request's principal, which must hold `scope`."""

    def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
    ) -> Principal:
        found = principal(request, credentials.credentials if credentials else None)
        if scope not in found.scopes:
            refuse(request, 403, f"token {found.name} lacks the {scope} scope", found.name)
        return found

    dependency.__name__ = f"require_{scope}"
    return dependency
