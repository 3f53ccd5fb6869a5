"""Deterministic GitHub Actions runs for the sample, with three planted problems.

`generate_runs(start)` returns events in the DESIGN.md JSON-lines shape, as
`POST /api/webhooks/github` stores GitHub's `workflow_run` / `workflow_job`
deliveries: source `github`, stream `ci/<owner>/<repo>/<workflow>`, kinds
`run_started`, `run_completed`, `job_started`, `job_completed`. Two workflows
of acme/widget over four hours ending at `start + minutes`:

  ci      every 12 minutes, on main and on pull requests: lint and test side
          by side, then build (about 9 minutes). Normal: a run that fails
          its tests (build skipped) and is re-run as attempt 2, a run
          cancelled by a newer push, and a run still going at the end.
  deploy  every 15 minutes on main: build, then deploy (about 7 minutes).
          Normal: a deploy that fails.

Planted, one finding each (EXPECTED_RUNS, with the `ci.run_*` rules of the
sample pack, plant.yaml): a
deploy stuck in its deploy job since 100 minutes before the end (hung); a
ci run that passed with its test job skipped (incomplete); a ci run whose
tests took 40 minutes (slow). Durations are jittered by the seed within
bounds that keep every other run ordinary, so the findings do not depend on
it. One module: the problems planted and EXPECTED_RUNS are read side by side.

    python -m sentinel.sample.runs OUT.jsonl [--start ISO] [--seed N] [--minutes N]
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

OWNER, REPO = "acme", "widget"
CI: Final = f"ci/{OWNER}/{REPO}/ci"
DEPLOY: Final = f"ci/{OWNER}/{REPO}/deploy"
STREAMS: Final = (CI, DEPLOY)
MIN_MINUTES: Final = 240  # the planted problems need this much history

# (rule ref in plant.yaml, stream) -> the problem planted for it: the pack must
# find exactly these pairs, one finding each, and nothing else
# (tests/unit/test_sample_runs.py).
EXPECTED_RUNS: Final[dict[tuple[str, str], str]] = {
    ("ci.run_hung", DEPLOY): "a deploy stuck in its deploy job since 100 minutes before the end",
    ("ci.run_incomplete", CI): "a ci run that passed with its test job skipped",
    ("ci.run_slow", CI): "a ci run of about 43 minutes (its tests took 40) where 9 is usual",
}

Event = dict[str, Any]


@dataclass(frozen=True)
class Job:
    name: str
    start: float  # seconds from the history's start
    end: float | None  # None: still running at the end of the history
    conclusion: str | None  # None while running; "skipped": no job ever started


class _Builder:
    def __init__(self, start: datetime, rng: random.Random) -> None:
        self.start = start
        self.rng = rng
        self.events: list[Event] = []
        self.next_run_id = rng.randrange(9_000_000_000, 9_500_000_000)
        self.next_job_id = rng.randrange(25_000_000_000, 26_000_000_000)

    def at(self, seconds: float) -> str:
        return (self.start + timedelta(seconds=round(seconds))).strftime("%Y-%m-%dT%H:%M:%SZ")

    def run_id(self) -> int:
        self.next_run_id += self.rng.randrange(3, 40)  # other repositories' runs in between
        return self.next_run_id

    def add(self, stream: str, kind: str, seconds: float, payload: Event) -> None:
        self.events.append(
            {
                "source": "github",
                "stream": stream,
                "kind": kind,
                "occurred_at": self.at(seconds),
                # GitHub's X-GitHub-Delivery: a GUID per delivery.
                "external_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                "payload": payload,
            }
        )

    def run(
        self,
        workflow: str,
        run_id: int,
        start: float,
        jobs: list[Job],
        end: float | None,
        conclusion: str | None,
        *,
        attempt: int = 1,
        branch: str = "main",
        event: str = "push",
    ) -> None:
        """One run's deliveries: started, each job's start and completion, completed."""
        stream = f"ci/{OWNER}/{REPO}/{workflow}"
        url = f"https://github.com/{OWNER}/{REPO}/actions/runs/{run_id}"
        if attempt > 1:
            url += f"/attempts/{attempt}"
        common = {
            "run_id": run_id,
            "run_attempt": attempt,
            "workflow": workflow,
            "repository": f"{OWNER}/{REPO}",
            "branch": branch,
            "event": event,
        }

        def payload(status: str, conclusion: str | None, begun: float, done: float | None) -> Event:
            return {
                **common,
                "status": status,
                "conclusion": conclusion,
                "url": url,
                "started_at": self.at(begun),
                "completed_at": self.at(done) if done is not None else None,
                "duration_s": round(done) - round(begun) if done is not None else None,
            }

        self.add(stream, "run_started", start, payload("in_progress", None, start, None))
        for job in jobs:
            self.next_job_id += self.rng.randrange(1, 5)
            extra = {"job": job.name, "job_id": self.next_job_id}
            job_url = {"url": f"{url.split('/attempts/')[0]}/job/{self.next_job_id}"}
            if job.conclusion != "skipped":
                body = payload("in_progress", None, job.start, None)
                self.add(stream, "job_started", job.start, {**body, **extra, **job_url})
            if job.end is not None:
                body = payload("completed", job.conclusion, job.start, job.end)
                self.add(stream, "job_completed", job.end, {**body, **extra, **job_url})
        if end is not None:
            self.add(stream, "run_completed", end, payload("completed", conclusion, start, end))


def _ci(b: _Builder, minutes: int) -> None:
    """Every 12 minutes: lint ‖ test, then build. Run 9 is slow, run 14
    passes with test skipped; run 3 fails and is re-run, run 6 is cancelled."""
    horizon = minutes * 60
    k = 0
    while True:
        start = (2 + 12 * k) * 60 + b.rng.uniform(0, 30)
        if start + 12 * 60 > horizon - 60:
            break
        run_id = b.run_id()
        branch, event = ("main", "push") if k % 3 == 0 else (f"feature/{k:02d}", "pull_request")
        queued = start + b.rng.uniform(8, 20)
        lint_end = queued + b.rng.uniform(60, 110)
        test_took = b.rng.uniform(330, 420)
        if k == 9:
            test_took = 40 * 60  # planted: ci.run_slow
        test_end = queued + test_took
        build_start = max(lint_end, test_end) + b.rng.uniform(5, 15)
        build_end = build_start + b.rng.uniform(120, 170)
        end = build_end + b.rng.uniform(5, 12)
        lint = Job("lint", queued, lint_end, "success")
        if k == 3:  # a test failure: build is skipped, the run fails
            jobs = [lint, Job("test", queued, test_end, "failure")]
            jobs.append(Job("build", test_end + 2, test_end + 2, "skipped"))
            b.run("ci", run_id, start, jobs, test_end + 8, "failure", branch=branch, event=event)
            # re-run by hand a few minutes later: attempt 2 passes
            again = test_end + 240
            a_queued = again + 12
            a_test_end = a_queued + b.rng.uniform(330, 420)
            a_build_end = a_test_end + 10 + b.rng.uniform(120, 170)
            b.run(
                "ci",
                run_id,
                again,
                [
                    Job("lint", a_queued, a_queued + b.rng.uniform(60, 110), "success"),
                    Job("test", a_queued, a_test_end, "success"),
                    Job("build", a_test_end + 10, a_build_end, "success"),
                ],
                a_build_end + 6,
                "success",
                attempt=2,
                branch=branch,
                event=event,
            )
        elif k == 6:  # cancelled by a newer push halfway through its tests
            cancel = queued + 200
            jobs = [lint, Job("test", queued, cancel, "cancelled")]
            b.run("ci", run_id, start, jobs, cancel + 4, "cancelled", branch=branch, event=event)
        else:
            test = Job("test", queued, test_end, "success")
            if k == 14:  # planted: ci.run_incomplete (an `if:` skipped the tests)
                test = Job("test", queued + 1, queued + 1, "skipped")
                build_start = lint_end + b.rng.uniform(5, 15)
                build_end = build_start + b.rng.uniform(120, 170)
                end = build_end + b.rng.uniform(5, 12)
            jobs = [lint, test, Job("build", build_start, build_end, "success")]
            b.run("ci", run_id, start, jobs, end, "success", branch=branch, event=event)
        k += 1
    # Still going at the end of the history: lint done, tests running.
    start = horizon - 6 * 60
    lint_end = start + 15 + b.rng.uniform(60, 110)
    jobs = [Job("lint", start + 15, lint_end, "success"), Job("test", start + 15, None, None)]
    b.run("ci", b.run_id(), start, jobs, None, None, branch="feature/last", event="pull_request")


def _deploy(b: _Builder, minutes: int) -> None:
    """Every 15 minutes on main: build, then deploy. Deploy 3 fails; the one
    100 minutes before the end never finishes its deploy job (planted:
    ci.run_hung), and blocks the deploys after it (one concurrency group)."""
    stuck = (minutes - 100) * 60
    k = 0
    while (5 + 15 * k) * 60 + 12 * 60 <= stuck:
        start = (5 + 15 * k) * 60 + b.rng.uniform(0, 20)
        queued = start + b.rng.uniform(8, 20)
        build_end = queued + b.rng.uniform(180, 230)
        deploy_start = build_end + b.rng.uniform(5, 15)
        deploy_end = deploy_start + b.rng.uniform(150, 250)
        outcome = "failure" if k == 3 else "success"
        jobs = [
            Job("build", queued, build_end, "success"),
            Job("deploy", deploy_start, deploy_end, outcome),
        ]
        b.run("deploy", b.run_id(), start, jobs, deploy_end + b.rng.uniform(5, 10), outcome)
        k += 1
    queued = stuck + 12
    build_end = queued + b.rng.uniform(180, 230)
    jobs = [
        Job("build", queued, build_end, "success"),
        Job("deploy", build_end + 9, None, None),  # waits on a runner that never comes back
    ]
    b.run("deploy", b.run_id(), stuck, jobs, None, None)


def generate_runs(start: datetime, *, seed: int = 7, minutes: int = MIN_MINUTES) -> list[Event]:
    """The runs' events from `start` for `minutes` (at least MIN_MINUTES), in time order."""
    if minutes < MIN_MINUTES:
        raise ValueError(f"the planted runs need at least {MIN_MINUTES} minutes, not {minutes}")
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    b = _Builder(start, random.Random(seed))
    _ci(b, minutes)
    _deploy(b, minutes)
    b.events.sort(key=lambda e: (e["occurred_at"], e["stream"], e["kind"] != "run_started"))
    return b.events


def main(argv: list[str] | None = None) -> int:
    from sentinel.sample.generate import command  # generate imports this module

    return command(argv, __doc__, generate_runs, minutes=MIN_MINUTES)


if __name__ == "__main__":
    raise SystemExit(main())
