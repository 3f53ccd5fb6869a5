"""GitHub Actions deliveries → events (`POST /api/webhooks/github`).

Stored shape (the `run` rule kind and the sample data rely on it): source
`github`, stream `ci/<owner>/<repo>/<workflow name>`, and

| delivery (`X-GitHub-Event`, action) | kind | occurred_at |
|---|---|---|
| `workflow_run` requested, in_progress | `run_started` (once an attempt) | `run_started_at` |
| `workflow_run` completed | `run_completed` | `updated_at` |
| `workflow_job` in_progress | `job_started` | `started_at` |
| `workflow_job` completed | `job_completed` | `completed_at` |
| `check_run` completed | `check_completed` | `completed_at` |

Other actions (a queued or waiting job, a re-requested check) and `ping` are
answered and not stored. Payload: `run_id`, `run_attempt` (ints), `workflow`,
`repository` (owner/repo), `branch`, `event` (the trigger), `status`,
`conclusion` (null until completed), `url`, `started_at`, `completed_at` (ISO
or null), `duration_s` (completed only, else null); job and check events also
`job` and `job_id`. A check run (any app's, not only Actions') belongs to its
check suite: `run_id` is the suite's id, `workflow` the app's name.

The external id is the delivery's `X-GitHub-Delivery`, so a redelivery is
stored once; except `run_started`, keyed on the run attempt, since GitHub
sends both `requested` and `in_progress` for one start.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from sentinel.api.webhooks import BadDelivery, Mapped, optional, required, seconds_between
from sentinel.api.webhooks import timestamp as parse_time

SOURCE = "github"
EVENTS = ("workflow_run", "workflow_job", "check_run", "ping")
SIGNATURE_PREFIX = "sha256="


def signature(secret: bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` GitHub sends for `body`."""
    return SIGNATURE_PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Whether `header` signs `body` with `secret` (a constant-time compare)."""
    if not header:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode())


def events(event: str, delivery: str, body: Any) -> Mapped:
    """The events a delivery of type `event` (`X-GitHub-Event`) holds."""
    if not isinstance(body, dict):
        raise BadDelivery("the body must be a JSON object")
    if not delivery:
        raise BadDelivery("missing X-GitHub-Delivery")
    if event == "ping":
        return Mapped(ignored="ping")
    if event == "workflow_run":
        return _workflow_run(delivery, body)
    if event == "workflow_job":
        return _workflow_job(delivery, body)
    if event == "check_run":
        return _check_run(delivery, body)
    raise BadDelivery(
        f"unsupported X-GitHub-Event {event[:40]!r} (send {', '.join(EVENTS)})"
        if event
        else "missing X-GitHub-Event"
    )


def _repository(body: dict[str, Any]) -> str:
    name: str = required(body, "repository.full_name", str)
    if name.count("/") != 1:
        raise BadDelivery(f"repository.full_name is not owner/repo: {name[:60]!r}")
    return name


def _event(
    kind: str,
    external_id: str,
    repository: str,
    workflow: str,
    occurred_at: datetime,
    payload: dict[str, Any],
) -> dict[str, Any]:
    return {
        "source": SOURCE,
        "stream": f"ci/{repository}/{workflow}",
        "kind": kind,
        "occurred_at": occurred_at,
        "external_id": external_id,
        "payload": payload,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def _workflow_run(delivery: str, body: dict[str, Any]) -> Mapped:
    action = required(body, "action", str)
    if action not in ("requested", "in_progress", "completed"):
        return Mapped(ignored=f"workflow_run {action}")
    required(body, "workflow_run", dict)  # an object, or the reason
    repository = _repository(body)
    workflow = optional(body, "workflow_run.name", str) or required(body, "workflow.name", str)
    run_id: int = required(body, "workflow_run.id", int)
    attempt: int = optional(body, "workflow_run.run_attempt", int) or 1
    started = parse_time(
        optional(body, "workflow_run.run_started_at", str)
        or required(body, "workflow_run.created_at", str),
        "workflow_run.run_started_at",
    )
    completed = action == "completed"
    ended = parse_time(required(body, "workflow_run.updated_at", str), "workflow_run.updated_at")
    payload = {
        "run_id": run_id,
        "run_attempt": attempt,
        "workflow": workflow,
        "repository": repository,
        "branch": optional(body, "workflow_run.head_branch", str),
        "event": optional(body, "workflow_run.event", str),
        "status": optional(body, "workflow_run.status", str),
        "conclusion": optional(body, "workflow_run.conclusion", str),
        "url": optional(body, "workflow_run.html_url", str),
        "started_at": _iso(started),
        "completed_at": _iso(ended) if completed else None,
        "duration_s": seconds_between(started, ended) if completed else None,
    }
    if completed:
        return Mapped([_event("run_completed", delivery, repository, workflow, ended, payload)])
    # requested and in_progress: one start per run attempt, whichever comes first
    key = f"github:{repository}:run:{run_id}:{attempt}:started"
    return Mapped([_event("run_started", key, repository, workflow, started, payload)])


def _workflow_job(delivery: str, body: dict[str, Any]) -> Mapped:
    action = required(body, "action", str)
    if action not in ("in_progress", "completed"):
        return Mapped(ignored=f"workflow_job {action}")
    required(body, "workflow_job", dict)  # an object, or the reason
    repository = _repository(body)
    workflow = optional(body, "workflow_job.workflow_name", str) or required(
        body, "workflow.name", str
    )
    started = parse_time(required(body, "workflow_job.started_at", str), "workflow_job.started_at")
    completed = action == "completed"
    ended = (
        parse_time(required(body, "workflow_job.completed_at", str), "workflow_job.completed_at")
        if completed
        else None
    )
    payload = {
        "run_id": required(body, "workflow_job.run_id", int),
        "run_attempt": optional(body, "workflow_job.run_attempt", int) or 1,
        "workflow": workflow,
        "repository": repository,
        "branch": optional(body, "workflow_job.head_branch", str),
        "event": optional(body, "workflow_run.event", str),
        "status": optional(body, "workflow_job.status", str),
        "conclusion": optional(body, "workflow_job.conclusion", str),
        "url": optional(body, "workflow_job.html_url", str),
        "started_at": _iso(started),
        "completed_at": _iso(ended),
        "duration_s": seconds_between(started, ended),
        "job": required(body, "workflow_job.name", str),
        "job_id": required(body, "workflow_job.id", int),
    }
    kind, at = ("job_completed", ended) if ended is not None else ("job_started", started)
    return Mapped([_event(kind, delivery, repository, workflow, at, payload)])


def _check_run(delivery: str, body: dict[str, Any]) -> Mapped:
    action = required(body, "action", str)
    if action != "completed":
        return Mapped(ignored=f"check_run {action}")
    required(body, "check_run", dict)  # an object, or the reason
    repository = _repository(body)
    workflow = optional(body, "check_run.app.name", str) or "checks"
    ended = parse_time(required(body, "check_run.completed_at", str), "check_run.completed_at")
    started_text = optional(body, "check_run.started_at", str)
    started = parse_time(started_text, "check_run.started_at") if started_text else None
    payload = {
        "run_id": required(body, "check_run.check_suite.id", int),
        "run_attempt": 1,
        "workflow": workflow,
        "repository": repository,
        "branch": optional(body, "check_run.check_suite.head_branch", str),
        "event": None,
        "status": optional(body, "check_run.status", str),
        "conclusion": optional(body, "check_run.conclusion", str),
        "url": optional(body, "check_run.html_url", str),
        "started_at": _iso(started),
        "completed_at": _iso(ended),
        "duration_s": seconds_between(started, ended),
        "job": required(body, "check_run.name", str),
        "job_id": required(body, "check_run.id", int),
    }
    return Mapped([_event("check_completed", delivery, repository, workflow, ended, payload)])
