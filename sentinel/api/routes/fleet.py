"""The fleet: workers, streams (and a stream's recheck), the numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sentinel.api.auth import require, state
from sentinel.api.responses import Json, decode_cursor, page
from sentinel.api.routes.runs import MAX_LIMIT, Cursor, utc
from sentinel.api.tokens import Principal, Scope
from sentinel.types import WorkerRole, WorkerStatus

router = APIRouter(tags=["fleet"])

Reader = Annotated[Principal, Depends(require(Scope.READ))]


@router.get("/api/workers", summary="Workers: live ones first, then by name")
def workers(
    request: Request,
    _: Reader,
    role: WorkerRole | None = None,
    status: WorkerStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Cursor = None,
) -> Response:
    """The rows of `sentinel workers list --json`."""
    from sentinel.views import filters
    from sentinel.views.read import Views

    after = decode_cursor(cursor, "workers", [str, str])
    flt = filters.where(role=role.value if role else None, status=status.value if status else None)
    with state(request).read() as conn:
        found = Views(conn).workers(
            flt, limit=limit + 1, after=(after[0], after[1]) if after else None
        )
    return page(found, limit, "workers", lambda w: [w.status, w.name])


@router.get("/api/streams", summary="Streams by key, with their lag and state")
def streams(
    request: Request,
    _: Reader,
    state_: Annotated[
        str | None,
        Query(alias="state", pattern="^(live|silent|replaying|disabled)$"),
    ] = None,
    stream: Annotated[str | None, Query(description="A stream key or glob")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Cursor = None,
) -> Response:
    from sentinel.views import filters
    from sentinel.views.read import Views

    after = decode_cursor(cursor, "streams", [str])
    flt = filters.where(status=state_, stream=stream)
    with state(request).read() as conn:
        found = Views(conn).streams(flt, limit=limit + 1, after_key=after[0] if after else None)
    return page(found, limit, "streams", lambda s: [s.key])


class Recheck(BaseModel):
    since: datetime = Field(description="Write what is detected from this time on (ISO)")


@router.post(
    "/api/streams/{key:path}/recheck", summary="Re-evaluate a stream from a time (runs replay)"
)
def recheck(
    request: Request,
    key: Annotated[str, Path(description="The stream key (slashes allowed)")],
    body: Annotated[Recheck, Body()],
    _: Annotated[Principal, Depends(require(Scope.WRITE))],
) -> Response:
    """As `sentinel runs replay --stream KEY --since T`: the stream's next run
    re-reads it from its first event (so the rules' state comes out as
    before) and writes the findings detected from `since` on that are not
    stored yet. 404 for no such stream."""
    from sentinel.control import runs as control

    since = utc(body.since)
    assert since is not None
    with state(request).write() as conn:
        events = control.replay(conn, key, since)
    return Json({"stream": key, "since": since, "events": events})


@router.get("/api/stats", summary="The fleet in numbers")
def stats(request: Request, _: Reader) -> Response:
    """Workers by status, runs by status, the queue's depth and its oldest
    due run's wait (seconds), open findings by severity, events received in
    the last minute. Counts stop at `count_cap`."""
    from sentinel.views.read import Views

    with state(request).read() as conn:
        return Json(Views(conn).stats())
