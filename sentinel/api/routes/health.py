"""`/health` (the process answers) and `/ready` (the database is reachable
and migrated to this Sentinel's revision): unauthenticated, for probes."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import Response

from sentinel.api.auth import state
from sentinel.api.responses import Json

router = APIRouter(tags=["health"])

PROBE_TIMEOUT = 2.0  # seconds to wait for a connection: a probe answers before it gives up


@router.get("/health", summary="Liveness: the process answers")
def health() -> Response:
    return Json({"status": "ok"})


@router.get("/ready", summary="Readiness: the database is reachable and migrated")
def ready(request: Request) -> Response:
    api = state(request)
    try:
        with api.write(timeout=PROBE_TIMEOUT) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        if api.replica is not None:
            with api.read(timeout=PROBE_TIMEOUT) as conn:
                conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = (
            "database not migrated"
            if isinstance(exc, psycopg.errors.UndefinedTable)
            else ("database unreachable")
        )
        return Json({"status": "not ready", "reason": reason}, status_code=503)
    revision = row[0] if row else None
    if revision != api.head and (revision is None or revision in api.known):
        return Json(
            {
                "status": "not ready",
                "reason": f"database at revision {revision or 'none'}, this Sentinel needs "
                f"{api.head}: run `sentinel db upgrade`",
            },
            status_code=503,
        )
    return Json({"status": "ready", "revision": revision})
