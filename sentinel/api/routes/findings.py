"""Findings: recommendations (and a person's review of one), detections."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sentinel.api.auth import require, state
from sentinel.api.responses import ApiError, Json, decode_cursor, page
from sentinel.api.routes.runs import MAX_LIMIT, Cursor
from sentinel.api.tokens import Principal, Scope
from sentinel.types import RecommendationStatus, Severity

router = APIRouter(tags=["findings"])

Reader = Annotated[Principal, Depends(require(Scope.READ))]
Writer = Annotated[Principal, Depends(require(Scope.WRITE))]
Id = Annotated[int, Path(ge=1)]


@router.get("/api/recommendations", summary="Recommendations, newest first")
def recommendations(
    request: Request,
    _: Reader,
    status: RecommendationStatus | None = None,
    severity: Severity | None = None,
    stream: Annotated[str | None, Query(description="A stream key or glob")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    cursor: Cursor = None,
) -> Response:
    """The rows of `sentinel recommendations list --json`, filtered alike."""
    from sentinel.views import filters
    from sentinel.views.read import Views

    after = decode_cursor(cursor, "recommendations", [datetime, int])
    flt = filters.where(
        status=status.value if status else None,
        severity=severity.value if severity else None,
        stream=stream,
    )
    with state(request).read() as conn:
        found = Views(conn).latest_recommendations(
            flt, limit=limit + 1, before=(after[0], after[1]) if after else None
        )
    return page(found, limit, "recommendations", lambda r: [r.created, r.id])


class Review(BaseModel):
    comment: str | None = Field(None, max_length=2000, description="Why: kept in the journal")


def _review(
    request: Request, recommendation_id: int, who: Principal, review: Review | None, verb: str
) -> Response:
    from sentinel.findings import review as reviews

    act = reviews.acknowledge if verb == "acknowledge" else reviews.dismiss
    with state(request).write() as conn:
        result = act(
            conn, recommendation_id, actor=who.name, comment=review.comment if review else None
        )
    return Json(result)


@router.post(
    "/api/recommendations/{recommendation_id}/acknowledge", summary="Acknowledge a recommendation"
)
def acknowledge(
    request: Request,
    recommendation_id: Id,
    who: Writer,
    review: Annotated[Review | None, Body()] = None,
) -> Response:
    """Journaled with the token's name as the actor. 404 for none, 409 when
    it is dismissed; acknowledging an acknowledged one changes nothing."""
    return _review(request, recommendation_id, who, review, "acknowledge")


@router.post("/api/recommendations/{recommendation_id}/dismiss", summary="Dismiss a recommendation")
def dismiss(
    request: Request,
    recommendation_id: Id,
    who: Writer,
    review: Annotated[Review | None, Body()] = None,
) -> Response:
    """Journaled with the token's name as the actor (final: a dismissed
    finding cannot be acknowledged)."""
    return _review(request, recommendation_id, who, review, "dismiss")


@router.get("/api/recommendations/{recommendation_id}/history", summary="A finding's journal")
def history(request: Request, recommendation_id: Id, _: Reader) -> Response:
    """Every change of its state, oldest first (`recommendations history`)."""
    from sentinel.views.read import Views

    with state(request).read() as conn:
        found = Views(conn).history(recommendation_id)
    if found is None:
        raise ApiError(404, f"no recommendation with id {recommendation_id}")
    return Json({"items": found, "next": None})


@router.get("/api/detections/{detection_id}", summary="A detection with its evidence")
def detection(request: Request, detection_id: Id, _: Reader) -> Response:
    """What the dashboard's detail shows: the detection, its recommendation,
    its evidence and what of it is charted."""
    from sentinel.views.read import Views

    with state(request).read() as conn:
        found = Views(conn).detail(detection_id)
    if found is None:
        raise ApiError(404, f"no detection {detection_id}")
    return Json(found)
