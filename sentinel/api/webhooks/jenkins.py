"""Jenkins Notification plugin deliveries → events (`POST /api/webhooks/jenkins`).

The plugin posts JSON like `{"name": "app", "url": "job/app/", "build":
{"number": 42, "phase": "COMPLETED", "status": "FAILURE", "full_url":
"https://ci.example/job/app/42/", "timestamp": 1763805600000, "duration":
93000, "scm": {"branch": "origin/main", …}, …}}` once per phase: QUEUED,
STARTED, COMPLETED, FINALIZED.

Stored: source `jenkins`, stream `ci/jenkins/<job name>`; STARTED is
`run_started`, COMPLETED is `run_completed` (every plugin version sends it,
with the result; FINALIZED, after the post-build steps, carries nothing more,
and QUEUED nothing yet: both are answered and not stored). Payload: `run_id`
(the build number), `workflow` (the job), `phase`, `status` (SUCCESS,
FAILURE, UNSTABLE, ABORTED; null at STARTED), `url`, `branch` (when the
plugin sends scm.branch), `started_at`, `completed_at` and `duration_s` when
the plugin sends the build's timestamp and duration. occurred_at: the build's
start (STARTED) or end (COMPLETED) from those, else the receipt time. The
external id is `jenkins:<job>#<number>:<kind>`: a notification sent twice is
stored once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sentinel.api.webhooks import BadDelivery, Mapped, optional, required

SOURCE = "jenkins"
STORED_PHASES = {"STARTED": "run_started", "COMPLETED": "run_completed"}


def events(body: Any, *, received: datetime) -> Mapped:
    """The events one notification holds; `received`: when it arrived (UTC)."""
    if not isinstance(body, dict):
        raise BadDelivery("the body must be a JSON object")
    name: str = required(body, "name", str)
    required(body, "build", dict)  # an object, or the reason
    number: int = required(body, "build.number", int)
    phase = required(body, "build.phase", str).upper()
    kind = STORED_PHASES.get(phase)
    if kind is None:
        return Mapped(ignored=f"phase {phase}")
    started = _millis(optional(body, "build.timestamp", (int, float)))
    duration_ms = optional(body, "build.duration", (int, float))
    completed = kind == "run_completed"
    # The plugin reports a duration of 0 while a build runs.
    duration = duration_ms / 1000 if completed and duration_ms else None
    ended = started + timedelta(seconds=duration) if started and duration is not None else None
    occurred_at = (ended if completed else started) or received
    payload = {
        "run_id": number,
        "workflow": name,
        "phase": phase,
        "status": optional(body, "build.status", str),
        "url": optional(body, "build.full_url", str) or optional(body, "build.url", str),
        "branch": optional(body, "build.scm.branch", str),
        "started_at": _iso(started),
        "completed_at": _iso(ended) if completed else None,
        "duration_s": duration,
    }
    return Mapped(
        [
            {
                "source": SOURCE,
                "stream": f"ci/jenkins/{name}",
                "kind": kind,
                "occurred_at": occurred_at,
                "external_id": f"jenkins:{name}#{number}:{kind}",
                "payload": payload,
            }
        ]
    )


def _millis(value: int | float | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadDelivery(f"build.timestamp is not a time in milliseconds: {value}") from None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None
