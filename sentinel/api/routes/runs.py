"""Runs: the list, one run, the findings it wrote, and an operator's retry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from sentinel.api.auth import require, state
from sentinel.api.responses import ApiError, Json, decode_cursor, page
from sentinel.api.tokens import Principal, Scope
from sentinel.types import ShownRunStatus

router = APIRouter(tags=["runs"])

MAX_LIMIT = 500
Cursor = Annotated[str | None, Query(description="The `next` of the previous page")]
RunId = Annotated[int, Path(ge=1)]


def utc(moment: datetime | None) -> datetime | None:
    """A time without a zone is UTC, as everywhere in Sentinel."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


@router.get("/api/runs", summary="Runs, newest first")
def runs(
    request: Request,
    _: Annotated[Principal, Depends(require(Scope.READ))],
    status: Annotated[
        ShownRunStatus | None, Query(description="As shown (retrying: queued after a failure)")
    ] = None,
    stream: Annotated[str | None, Query(description="A stream key or glob (plant-a/*)")] = None,
    since: Annotated[
        datetime | None, Query(description="Only runs created at or after (ISO)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Cursor = None,
) -> Response:
    """The runs `sentinel runs list` shows (the same rows as its `--json`),
    filtered the same way, newest first."""
    from sentinel.views import filters
    from sentinel.views.read import Views

    after = decode_cursor(cursor, "runs", [int])
    flt = filters.where(status=status.value if status else None, stream=stream)
    with state(request).read() as conn:
        found = Views(conn).runs(
            flt,
            limit=limit + 1,
            show_empty=True,
            active_first=False,
            before_id=after[0] if after else None,
            since=utc(since),
        )
    return page(found, limit, "runs", lambda r: [r.id])


@router.get("/api/runs/{run_id}", summary="One run")
def run(
    request: Request, run_id: RunId, _: Annotated[Principal, Depends(require(Scope.READ))]
) -> Response:
    from sentinel.views.read import Views

    with state(request).read() as conn:
        found = Views(conn).run(run_id)
    if found is None:
        raise ApiError(404, f"no run {run_id}")
    return Json(found)


@router.get("/api/runs/{run_id}/anomalies", summary="The detections a run wrote, with evidence")
def anomalies(
    request: Request,
    run_id: RunId,
    _: Annotated[Principal, Depends(require(Scope.READ))],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> Response:
    """Each detection as `GET /api/detections/{id}` shows it (its
    recommendation and evidence), oldest first."""
    from sentinel.views.read import Views

    after = decode_cursor(cursor, f"anomalies/{run_id}", [int])
    with state(request).read() as conn:
        views = Views(conn)
        if views.run(run_id) is None:
            raise ApiError(404, f"no run {run_id}")
        found = views.anomalies(run_id, limit=limit + 1, after_id=after[0] if after else None)
    return page(found, limit, f"anomalies/{run_id}", lambda d: [d.id])


@router.post("/api/runs/{run_id}/retry", summary="Put a dead or failed run back in the queue")
def retry(
    request: Request,
    run_id: RunId,
    who: Annotated[Principal, Depends(require(Scope.WRITE))],
) -> Response:
    """As `sentinel runs retry`: 404 for no such run, 409 when it is not
    dead or failed, or its stream already has a queued or running run."""
    from sentinel.control import runs as control

    with state(request).write() as conn:
        control.retry(conn, run_id)
    return Json({"id": run_id, "status": "queued"})
