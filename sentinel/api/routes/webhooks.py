"""Webhooks in: GitHub Actions, Jenkins, and events in Sentinel's own JSON.

Each delivery is stored as events through `sentinel ingest`'s validation and
store (`ingest_events`, all or nothing): a delivery received twice is stored
once (the same external ids), and a bad body gets 400 with the reason and
stores nothing. The answer counts what was stored: `{"accepted": n,
"duplicate": m}`, or `{"accepted": 0, "ignored": why}` for a delivery that
holds no event to store (a ping, a queued job).
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool

from sentinel.api import auth
from sentinel.api.responses import ApiError, Json
from sentinel.api.state import ApiState
from sentinel.api.tokens import Scope
from sentinel.api.webhooks import BadDelivery, Mapped, github, jenkins

router = APIRouter(tags=["webhooks"])

REJECTIONS_SHOWN = 5  # reasons in a 400 for a list of events


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8") from None
    except (ValueError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        raise ApiError(400, f"invalid JSON: {detail}") from None


def _store(api: ApiState, events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """Validate and store, all or nothing: the first reasons when any event
    is not valid (400, nothing stored)."""
    from sentinel.ingest.store import ingest_events

    with api.write() as conn:
        result = ingest_events(conn, events, strict=True, name=name)
    if result.rejected_count:
        reasons = [
            f"event {r.line}: {r.reason}".replace("pass --source", "pass ?source=").replace(
                "pass --stream", "pass ?stream="
            )
            for r in result.rejected[:REJECTIONS_SHOWN]
        ]
        more = result.rejected_count - len(reasons)
        raise ApiError(400, "; ".join(reasons) + (f"; and {more} more" if more > 0 else ""))
    return {"accepted": result.accepted, "duplicate": result.duplicate}


async def _answer(request: Request, mapped: Mapped, name: str) -> Response:
    if not mapped.events:
        return Json({"accepted": 0, "duplicate": 0, "ignored": mapped.ignored})
    stored = await run_in_threadpool(_store, auth.state(request), mapped.events, name)
    return Json(stored)


@router.post("/api/webhooks/github", summary="GitHub Actions deliveries (signed)")
async def github_webhook(
    request: Request,
    x_github_event: Annotated[str, Header()] = "",
    x_github_delivery: Annotated[str, Header()] = "",
    x_hub_signature_256: Annotated[str | None, Header()] = None,
) -> Response:
    """`workflow_run`, `workflow_job` and `check_run` deliveries, verified
    with `X-Hub-Signature-256` against SENTINEL_GITHUB_WEBHOOK_SECRET (401 if
    it does not match; 403 while no secret is set). `ping` is answered and
    not stored."""
    secret = auth.state(request).config.github_webhook_secret
    if not secret:
        auth.refuse(
            request, 403, "GitHub webhooks are off: SENTINEL_GITHUB_WEBHOOK_SECRET is unset"
        )
    body = await request.body()
    if not github.verify(secret.encode(), body, x_hub_signature_256):
        reason = (
            "invalid X-Hub-Signature-256"
            if x_hub_signature_256
            else ("missing X-Hub-Signature-256")
        )
        auth.refuse(request, 401, reason)
    request.state.actor = "github"
    try:
        mapped = github.events(x_github_event, x_github_delivery, _json(body))
    except BadDelivery as exc:
        raise ApiError(400, str(exc)) from None
    return await _answer(request, mapped, "github")


@router.post("/api/webhooks/jenkins", summary="Jenkins Notification plugin deliveries")
async def jenkins_webhook(
    request: Request,
    token: Annotated[
        str | None, Query(description="SENTINEL_JENKINS_WEBHOOK_TOKEN (or an ingest token)")
    ] = None,
) -> Response:
    """The plugin's JSON (`name`, `build.number`, `build.phase`,
    `build.status`, `build.full_url`, …). The token goes in `?token=` (the
    plugin sends no headers) or as a bearer token: the configured
    SENTINEL_JENKINS_WEBHOOK_TOKEN, or an API token with the `ingest` scope."""
    given = token or _bearer(request)
    expected = auth.state(request).config.jenkins_webhook_token
    if given and expected and hmac.compare_digest(given.encode(), expected.encode()):
        request.state.actor = "jenkins"
    else:
        await run_in_threadpool(_ingest_principal, request, given)
    body = await request.body()
    try:
        mapped = jenkins.events(_json(body), received=datetime.now(UTC))
    except BadDelivery as exc:
        raise ApiError(400, str(exc)) from None
    return await _answer(request, mapped, "jenkins")


@router.post("/api/webhooks/generic", summary="Events in Sentinel's JSON format")
async def generic_webhook(
    request: Request,
    source: Annotated[str | None, Query(description="For events without one")] = None,
    stream: Annotated[str | None, Query(description="For events without one")] = None,
) -> Response:
    """One event or a list, each as a line of `sentinel ingest`'s JSON Lines
    (`source`, `stream`, `kind`, `occurred_at`, `external_id`, `payload`);
    needs a token with the `ingest` scope. An event without `external_id`
    gets one derived from its content, so sending it again stores nothing."""
    await run_in_threadpool(_ingest_principal, request, _bearer(request))
    body = _json(await request.body())
    items = body if isinstance(body, list) else [body]
    if not items:
        raise ApiError(400, "no events: send one event or a non-empty list")
    defaults = {"source": source, "stream": stream}
    events = [
        {**{k: v for k, v in defaults.items() if v}, **item} if isinstance(item, dict) else item
        for item in items
    ]
    return await _answer(request, Mapped(events), "generic")


def _bearer(request: Request) -> str | None:
    scheme, credentials = get_authorization_scheme_param(request.headers.get("Authorization"))
    return credentials if scheme.lower() == "bearer" and credentials else None


def _ingest_principal(request: Request, token: str | None) -> None:
    found = auth.principal(request, token)
    if Scope.INGEST not in found.scopes:
        auth.refuse(request, 403, f"token {found.name} lacks the ingest scope", found.name)
