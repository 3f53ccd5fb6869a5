"""GitHub and Jenkins deliveries → events, from real-looking delivery JSON
(tests/unit/webhooks/): the stored shape the `run` rule kind relies on, what
is ignored, what is refused, and the signature check."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinel.api.webhooks import BadDelivery, github, jenkins
from sentinel.ingest import parse

FIXTURES = Path(__file__).with_name("webhooks")
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

PAYLOAD_KEYS = {
    "run_id", "run_attempt", "workflow", "repository", "branch", "event", "status",
    "conclusion", "url", "started_at", "completed_at", "duration_s",
}  # fmt: skip


def delivery(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def one(mapped: Any) -> dict[str, Any]:
    assert mapped.ignored is None
    [event] = mapped.events
    # Every mapped event is valid for `sentinel ingest` as it is.
    assert isinstance(parse.event_from_dict(event), parse.Event)
    return dict(event)


def test_workflow_run_completed_is_run_completed_with_its_duration() -> None:
    event = one(github.events("workflow_run", "d-3", delivery("workflow_run_completed")))
    assert event["source"] == "github"
    assert event["stream"] == "ci/octo-org/octo-repo/Build"
    assert event["kind"] == "run_completed"
    assert event["external_id"] == "d-3"
    assert event["occurred_at"] == datetime(2026, 11, 22, 10, 7, 30, tzinfo=UTC)
    assert event["payload"] == {
        "run_id": 30433642,
        "run_attempt": 1,
        "workflow": "Build",
        "repository": "octo-org/octo-repo",
        "branch": "main",
        "event": "push",
        "status": "completed",
        "conclusion": "failure",
        "url": "https://github.com/octo-org/octo-repo/actions/runs/30433642",
        "started_at": "2026-11-22T10:00:00Z",
        "completed_at": "2026-11-22T10:07:30Z",
        "duration_s": 450.0,
    }


def test_requested_and_in_progress_are_one_start_per_run_attempt() -> None:
    requested = one(github.events("workflow_run", "d-1", delivery("workflow_run_requested")))
    started = one(github.events("workflow_run", "d-2", delivery("workflow_run_in_progress")))
    assert requested["kind"] == started["kind"] == "run_started"
    assert requested["external_id"] == started["external_id"]  # stored once
    assert requested["occurred_at"] == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    assert requested["payload"]["completed_at"] is None
    assert requested["payload"]["duration_s"] is None
    assert set(requested["payload"]) == PAYLOAD_KEYS
    second = delivery("workflow_run_requested")
    second["workflow_run"]["run_attempt"] = 2
    again = one(github.events("workflow_run", "d-9", second))
    assert again["external_id"] != requested["external_id"]  # a re-run is a new start


def test_workflow_job_completed_is_job_completed_with_job_and_id() -> None:
    event = one(github.events("workflow_job", "d-4", delivery("workflow_job_completed")))
    assert event["kind"] == "job_completed"
    assert event["stream"] == "ci/octo-org/octo-repo/Build"
    assert event["occurred_at"] == datetime(2026, 11, 22, 10, 3, 42, tzinfo=UTC)
    payload = event["payload"]
    assert set(payload) == PAYLOAD_KEYS | {"job", "job_id"}
    assert (payload["job"], payload["job_id"], payload["run_id"]) == ("test", 29679449, 30433642)
    assert payload["conclusion"] == "success" and payload["duration_s"] == 210.0


def test_a_job_in_progress_is_job_started_and_a_queued_one_is_not_stored() -> None:
    body = delivery("workflow_job_completed")
    body["action"] = "in_progress"
    body["workflow_job"].update(status="in_progress", conclusion=None, completed_at=None)
    event = one(github.events("workflow_job", "d-5", body))
    assert event["kind"] == "job_started"
    assert event["occurred_at"] == datetime(2026, 11, 22, 10, 0, 12, tzinfo=UTC)
    assert event["payload"]["duration_s"] is None
    queued = github.events("workflow_job", "d-6", delivery("workflow_job_queued"))
    assert queued.events == [] and queued.ignored == "workflow_job queued"


def test_check_run_completed_belongs_to_its_suite_under_its_app() -> None:
    event = one(github.events("check_run", "d-7", delivery("check_run_completed")))
    assert event["kind"] == "check_completed"
    assert event["stream"] == "ci/octo-org/octo-repo/Octo CI"
    payload = event["payload"]
    assert (payload["run_id"], payload["job"], payload["job_id"]) == (5, "lint", 4)
    assert payload["branch"] == "feature/x" and payload["duration_s"] == 150.0


def test_ping_is_answered_and_not_stored() -> None:
    mapped = github.events("ping", "d-8", delivery("ping"))
    assert mapped.events == [] and mapped.ignored == "ping"


@pytest.mark.parametrize(
    ("event", "change", "reason"),
    [
        ("issues", None, "unsupported X-GitHub-Event"),
        ("", None, "missing X-GitHub-Event"),
        ("workflow_run", lambda b: b["workflow_run"].pop("id"), "missing workflow_run.id"),
        (
            "workflow_run",
            lambda b: b["workflow_run"].update(id="7"),
            "workflow_run.id has the wrong type",
        ),
        ("workflow_run", lambda b: b.pop("repository"), "missing repository.full_name"),
        (
            "workflow_run",
            lambda b: b["workflow_run"].update(updated_at="yesterday"),
            "not an ISO-8601 time",
        ),
    ],
)
def test_a_malformed_delivery_is_refused_with_the_reason(
    event: str, change: Any, reason: str
) -> None:
    body = delivery("workflow_run_completed")
    if change:
        change(body)
    with pytest.raises(BadDelivery, match=reason):
        github.events(event, "d-1", body)
    with pytest.raises(BadDelivery, match="JSON object"):
        github.events("workflow_run", "d-1", [body])


def test_the_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = (FIXTURES / "workflow_run_completed.json").read_bytes()
    good = github.signature(b"s3cret", body)
    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert github.verify(b"s3cret", body, good)
    assert not github.verify(b"other", body, good)
    assert not github.verify(b"s3cret", body + b" ", good)
    assert not github.verify(b"s3cret", body, None)
    assert not github.verify(b"s3cret", body, good.replace("sha256=", "sha1="))
    # GitHub's documented example (docs: "Validating webhook deliveries").
    assert github.signature(b"It's a Secret to Everybody", b"Hello, World!") == (
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_jenkins_completed_is_run_completed_at_the_build_end() -> None:
    event = one(jenkins.events(delivery("jenkins_completed"), received=NOW))
    assert event["source"] == "jenkins" and event["stream"] == "ci/jenkins/asgard"
    assert event["kind"] == "run_completed"
    assert event["external_id"] == "jenkins:asgard#18:run_completed"
    started = datetime.fromtimestamp(1763805600, UTC)
    assert event["occurred_at"] == started + timedelta(seconds=93.5)
    payload = event["payload"]
    assert payload["run_id"] == 18 and payload["status"] == "FAILURE"
    assert payload["branch"] == "origin/main" and payload["duration_s"] == 93.5
    assert payload["url"] == "http://ci.example.com/job/asgard/18/"


def test_jenkins_started_is_run_started_and_finalized_is_not_stored() -> None:
    event = one(jenkins.events(delivery("jenkins_started"), received=NOW))
    assert event["kind"] == "run_started"
    assert event["occurred_at"] == datetime.fromtimestamp(1763805600, UTC)
    assert event["payload"]["status"] is None and event["payload"]["duration_s"] is None
    finalized = jenkins.events(delivery("jenkins_finalized"), received=NOW)
    assert finalized.events == [] and finalized.ignored == "phase FINALIZED"


def test_jenkins_without_a_timestamp_is_stamped_on_receipt() -> None:
    body = delivery("jenkins_started")
    del body["build"]["timestamp"]
    assert one(jenkins.events(body, received=NOW))["occurred_at"] == NOW


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda b: b.pop("name"), "missing name"),
        (lambda b: b["build"].pop("number"), "missing build.number"),
        (lambda b: b["build"].update(number="18"), "build.number has the wrong type"),
        (lambda b: b["build"].pop("phase"), "missing build.phase"),
    ],
)
def test_a_malformed_jenkins_notification_is_refused(change: Any, reason: str) -> None:
    body = delivery("jenkins_completed")
    change(body)
    with pytest.raises(BadDelivery, match=reason):
        jenkins.events(body, received=NOW)
