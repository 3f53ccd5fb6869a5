"""The `run` kind: runs grouped by `correlate`, one finding per run and
problem (hung, incomplete, slow) with the run's timeline as evidence; hung
judged on the events' clock and at pass time on `now`, cleared when the run
ends; bounded state; any split into batches gives the same findings."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.rules import pack as packs
from sentinel.rules.engine import Engine
from sentinel.rules.kinds import KINDS
from sentinel.rules.kinds._base import fingerprint
from sentinel.rules.model import Event, Finding, StreamPass

T0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
STREAM = "ci/acme/widget/ci"

BASE: dict[str, Any] = {
    "ref": "ci.runs",
    "streams": "ci/*",
    "kind": "run",
    "correlate": "payload.run_id",
    "start_when": {"field": "payload.status", "operator": "not_equals", "value": "completed"},
    "end_when": {"field": "payload.status", "operator": "equals", "value": "completed"},
    "severity": "warning",
    "recommendation": "Look at run {run} of {stream}: it {problem} ({payload.url}).",
}


def engine(**keys: Any) -> Engine:
    rule = {**BASE, **keys}
    rule = {k: v for k, v in rule.items() if v is not None}
    return Engine(packs.load_documents({"t.yaml": yaml.safe_dump({"rules": [rule]})}, "t"))


@dataclass
class Runs:
    """GitHub Actions events in the stored shape, numbered as they are made."""

    events: list[Event] = field(default_factory=list)

    def add(self, kind: str, minute: float, run_id: int, **payload: Any) -> Event:
        at = T0 + timedelta(minutes=minute)
        body = {
            "run_id": run_id,
            "run_attempt": 1,
            "url": f"https://github.com/acme/widget/actions/runs/{run_id}",
            **payload,
        }
        event = Event(len(self.events) + 1, STREAM, kind, at, at, body)
        self.events.append(event)
        return event

    def start(self, minute: float, run_id: int) -> Event:
        return self.add("run_started", minute, run_id, status="in_progress", conclusion=None)

    def job(self, minute: float, run_id: int, job: str, conclusion: str | None = "success") -> None:
        if conclusion != "skipped":
            self.add("job_started", minute, run_id, job=job, status="in_progress", conclusion=None)
        self.add(
            "job_completed", minute + 1, run_id, job=job, status="completed", conclusion=conclusion
        )

    def end(self, minute: float, run_id: int, conclusion: str = "success") -> Event:
        return self.add("run_completed", minute, run_id, status="completed", conclusion=conclusion)

    def whole(
        self,
        minute: float,
        run_id: int,
        took: float = 10,
        jobs: Sequence[str] = ("lint", "test", "build"),
        conclusion: str = "success",
    ) -> None:
        """A run of `took` minutes, its jobs one after another inside it."""
        self.start(minute, run_id)
        step = (took - 1) / max(len(jobs), 1)
        for i, job in enumerate(jobs):
            self.job(minute + 0.5 + i * step, run_id, job)
        self.end(minute + took, run_id, conclusion)

    def sorted(self) -> list[Event]:
        return sorted(self.events, key=lambda e: (e.occurred_at, e.id))


def run(
    eng: Engine,
    events: Sequence[Event],
    states: dict[str, Any] | None = None,
    now: datetime | None = None,
    final: bool = True,
) -> StreamPass:
    if now is None:
        now = events[-1].occurred_at if events else T0
    last = events[-1].received_at if events else None
    result = eng.run(STREAM, events, states or {}, now, last, final=final)
    json.dumps(result.states, allow_nan=False)
    return result


def stored(result: StreamPass) -> dict[str, Any]:
    """The states as the database gives them back."""
    states: dict[str, Any] = json.loads(json.dumps(result.states))
    return states


def by_kind(findings: Sequence[Finding], kind: str) -> list[Finding]:
    return [f for f in findings if f.kind == kind]


def item(finding: Finding, kind: str) -> dict[str, Any]:
    [data] = [e.data for e in finding.evidence if e.kind == kind]
    return data


# -- validation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "issue"),
    [
        ({"correlate": None}, "missing 'correlate'"),
        ({"correlate": "run_id"}, "correlate: field 'run_id' must start with 'payload.'"),
        ({"correlate": []}, "correlate must be a field or a list of fields"),
        ({"start_when": None}, "missing 'start_when'"),
        ({"end_when": {"field": "payload.status", "operator": "is"}}, "end_when: unknown operator"),
        ({"requires": "test"}, "requires must be a list of stage names"),
        ({"requires": ["test", "test"]}, "requires names a stage twice"),
        ({"ordered": True}, "ordered needs 'requires'"),
        ({"ordered": "yes", "requires": ["a"]}, "ordered must be true or false"),
        ({"max_duration": "soon"}, "max_duration: bad duration"),
        ({"slow": False}, "nothing to find"),
        ({"slow": False, "slow_factor": 3, "requires": ["a"]}, "slow_factor is for the slow"),
        ({"slow_factor": 0.5}, "slow_factor must be at least 1"),
        ({"min_history": 10, "history": 5}, "history (5) must be at least min_history (10)"),
        ({"history": 5000}, "history must be at most 1000"),
        ({"max_open": 0}, "max_open must be a whole number of at least 1"),
        ({"stage": "job"}, "stage: field 'job' must start with 'payload.'"),
        ({"recommendation": "Run {run}: {nonsense}"}, "cannot supply"),
    ],
)
def test_bad_keys_are_pack_errors_naming_the_key(keys: dict[str, Any], issue: str) -> None:
    with pytest.raises(packs.PackError) as raised:
        engine(**keys)
    assert any(issue in i.reason for i in raised.value.issues), raised.value.issues


def test_the_design_keys_are_the_kinds_keys() -> None:
    spec = KINDS["run"]
    assert {"correlate", "start_when", "end_when", "max_duration", "requires", "ordered"} <= (
        spec.keys
    )
    assert spec.required == {"correlate", "start_when", "end_when"}


# -- hung ----------------------------------------------------------------------------


def test_a_hung_run_is_seen_at_pass_time_with_no_new_events_and_only_once() -> None:
    eng = engine(max_duration="1h", slow=False)
    runs = Runs()
    runs.start(0, 7)
    runs.job(1, 7, "lint")
    first = run(eng, runs.events, now=T0 + timedelta(minutes=30))
    assert first.findings == []
    assert first.next_due == T0 + timedelta(hours=1)  # the planner runs the stream then

    later = run(eng, [], stored(first), now=T0 + timedelta(minutes=75))
    [hung] = later.findings
    assert hung.kind == "run.hung"
    assert hung.fingerprint == fingerprint("ci.runs", STREAM, "run.hung", "7")
    assert (hung.first_seen, hung.last_seen) == (T0, T0 + timedelta(minutes=75))
    assert hung.summary == "run 7 has not ended after 1h15m (max 1h)"
    assert hung.recommendation == (
        "Look at run 7 of ci/acme/widget/ci: it has not ended after 1h15m (max 1h) "
        "(https://github.com/acme/widget/actions/runs/7)."
    )
    assert item(hung, "episode")["status"] == "open"
    timeline = item(hung, "run")
    assert (timeline["start"], timeline["end"]) == (T0.isoformat(), None)
    assert [(s["name"], s["conclusion"]) for s in timeline["stages"]] == [("lint", "success")]
    assert item(hung, "trigger")["event_id"] == 1
    assert later.next_due is None  # reported: nothing more to wait for

    again = run(eng, [], stored(later), now=T0 + timedelta(hours=5))
    assert again.findings == []


def test_a_hung_run_that_ends_clears_the_same_finding() -> None:
    eng = engine(max_duration="1h", slow=False)
    runs = Runs()
    runs.start(0, 7)
    seen = run(eng, runs.events, now=T0 + timedelta(minutes=90))
    [opened] = seen.findings
    end = runs.end(100, 7)
    closed = run(eng, [end], stored(seen), now=T0 + timedelta(minutes=101))
    [cleared] = closed.findings
    assert cleared.fingerprint == opened.fingerprint
    assert cleared.recommendation == opened.recommendation  # as it opened
    assert cleared.summary == "run 7 did not end within 1h: it ended after 1h40m (cleared)"
    episode = item(cleared, "episode")
    assert (episode["status"], episode["cleared_at"]) == ("cleared", end.occurred_at.isoformat())
    assert cleared.last_seen >= opened.last_seen  # the store takes the newer report
    assert item(cleared, "run")["duration_s"] == 100 * 60


def test_a_run_that_overran_in_the_data_is_one_cleared_hung_finding() -> None:
    runs = Runs()
    runs.whole(0, 1, took=70)
    [hung] = run(engine(max_duration="1h", slow=False), runs.sorted()).findings
    assert hung.kind == "run.hung" and item(hung, "episode")["status"] == "cleared"


def test_other_runs_events_move_the_clock_that_judges_an_open_run() -> None:
    runs = Runs()
    runs.start(0, 1)
    runs.whole(80, 2)
    # The pass's now is no later than the events: the events' own clock saw run 1 hung.
    result = run(engine(max_duration="1h", slow=False), runs.sorted(), now=T0)
    assert [(f.kind, item(f, "run")["run"]) for f in result.findings] == [("run.hung", "1")]


def test_a_run_within_max_duration_and_earlier_batches_of_a_pass_judge_no_hang() -> None:
    eng = engine(max_duration="1h", slow=False)
    runs = Runs()
    runs.whole(0, 1, took=59)
    assert run(eng, runs.sorted(), now=T0 + timedelta(hours=3)).findings == []
    # An earlier batch of a pass does not judge `now`: later events follow.
    open_run = Runs()
    open_run.start(0, 2)
    assert run(eng, open_run.events, now=T0 + timedelta(hours=3), final=False).findings == []


# -- incomplete ----------------------------------------------------------------------


def test_a_run_without_a_required_stage_is_incomplete() -> None:
    eng = engine(requires=["lint", "test", "build"], slow=False)
    runs = Runs()
    runs.whole(0, 1)
    runs.whole(20, 2, jobs=("lint", "build"))
    result = run(eng, runs.sorted())
    [incomplete] = result.findings
    assert incomplete.kind == "run.incomplete"
    assert incomplete.summary == "run 2 ended without test"
    assert incomplete.fingerprint == fingerprint("ci.runs", STREAM, "run.incomplete", "2")
    timeline = item(incomplete, "run")
    assert timeline["missing"] == ["test"] and timeline["requires"] == ["lint", "test", "build"]
    assert [s["name"] for s in timeline["stages"]] == ["lint", "build"]
    assert item(incomplete, "trigger")["role"] == "end"
    assert incomplete.recommendation.endswith("it ended without test (" + timeline_url(2) + ").")


def timeline_url(run_id: int) -> str:
    return f"https://github.com/acme/widget/actions/runs/{run_id}"


def test_a_skipped_stage_did_not_run() -> None:
    runs = Runs()
    runs.start(0, 1)
    runs.job(1, 1, "lint")
    runs.job(2, 1, "test", conclusion="skipped")
    runs.end(5, 1)
    [incomplete] = run(engine(requires=["lint", "test"], slow=False), runs.sorted()).findings
    assert incomplete.summary == "run 1 ended without test"
    [test] = [s for s in item(incomplete, "run")["stages"] if s["name"] == "test"]
    assert test["conclusion"] == "skipped"


def test_ordered_stages_must_each_begin_after_the_one_before_ended() -> None:
    eng = engine(requires=["build", "deploy"], ordered=True, slow=False)
    runs = Runs()
    runs.whole(0, 1, jobs=("build", "deploy"))
    runs.start(20, 2)
    runs.job(21, 2, "deploy")  # 21..22
    runs.job(21.5, 2, "build")  # 21.5..22.5: deploy began before build ended
    runs.end(25, 2)
    [wrong] = run(eng, runs.sorted()).findings
    assert wrong.summary == "run 2 began deploy before build ended"
    assert item(wrong, "run")["out_of_order"] == [["build", "deploy"]]
    # Unordered, the same run is complete.
    unordered = engine(requires=["build", "deploy"], slow=False)
    assert run(unordered, runs.sorted()).findings == []


def test_success_when_keeps_failed_runs_out_of_the_checks() -> None:
    success = {"field": "payload.conclusion", "operator": "equals", "value": "success"}
    runs = Runs()
    runs.whole(0, 1, jobs=("lint",), conclusion="failure")  # test never ran: it failed first
    runs.whole(20, 2, jobs=("lint",), conclusion="cancelled")
    eng = engine(requires=["lint", "test"], success_when=success, slow=False)
    assert run(eng, runs.sorted()).findings == []
    assert len(run(engine(requires=["lint", "test"], slow=False), runs.sorted()).findings) == 2


def test_a_run_whose_start_was_not_seen_is_not_judged_incomplete() -> None:
    runs = Runs()
    runs.job(0, 1, "lint")
    runs.end(5, 1)
    assert run(engine(requires=["lint", "test"], slow=False), runs.sorted()).findings == []


# -- slow ----------------------------------------------------------------------------


def history(runs: Runs, durations: Sequence[float], first_id: int = 1) -> float:
    """Runs one after another; returns the minute after the last."""
    minute = 0.0
    for i, took in enumerate(durations):
        runs.whole(minute, first_id + i, took=took)
        minute += took + 5
    return minute


def test_a_run_far_beyond_its_usual_duration_is_slow() -> None:
    runs = Runs()
    minute = history(runs, [10, 11, 9, 10, 12, 10])
    runs.whole(minute, 99, took=42)
    [slow] = run(engine(), runs.sorted()).findings
    assert slow.kind == "run.slow"
    assert slow.summary == "run 99 took 42m, against a usual 10m (median of the last 6 runs)"
    window = item(slow, "window")
    assert (window["median_s"], window["n"], window["duration_s"]) == (600, 6, 42 * 60)
    assert window["threshold_s"] == 1200  # twice the median: above the outlier cut here
    assert [p["value"] for p in window["points"]] == [600, 660, 540, 600, 720, 600]
    assert item(slow, "trigger")["value"] == 42 * 60


def test_slow_needs_min_history_completed_runs() -> None:
    runs = Runs()
    minute = history(runs, [10, 10, 10, 10])
    runs.whole(minute, 99, took=60)
    assert run(engine(), runs.sorted()).findings == []
    assert len(run(engine(min_history=4), runs.sorted()).findings) == 1


def test_slow_is_robust_to_an_earlier_outlier_and_to_a_steady_workflow() -> None:
    runs = Runs()
    # One earlier 45-minute run (too early to judge: two runs before it) does
    # not move the median; a steady workflow (MAD 0) does not call a
    # 12-minute run slow: it must be twice the median.
    minute = history(runs, [10, 10, 45, 10, 10, 10, 10])
    runs.whole(minute, 98, took=12)
    runs.whole(minute + 20, 99, took=25)
    found = run(engine(), runs.sorted()).findings
    assert [item(f, "run")["run"] for f in by_kind(found, "run.slow")] == ["99"]


def test_the_slow_check_and_its_history_keep_to_successful_runs_with_success_when() -> None:
    success = {"field": "payload.conclusion", "operator": "equals", "value": "success"}
    runs = Runs()
    minute = 0.0
    for i in range(6):  # fast failures do not make the usual duration
        runs.whole(minute, 100 + i, took=2, conclusion="failure")
        minute += 7
    minute = history(runs, [10, 11, 10, 9, 10], first_id=1) + minute
    runs.whole(minute, 99, took=15)
    assert run(engine(success_when=success), runs.sorted()).findings == []
    assert len(run(engine(), runs.sorted()).findings) >= 1


# -- grouping, late events, bounds ------------------------------------------------------


def test_correlate_on_two_fields_tells_attempts_apart() -> None:
    runs = Runs()
    runs.start(0, 5)
    runs.end(3, 5, conclusion="failure")
    rerun = runs.add("run_started", 10, 5, run_attempt=2, status="in_progress", conclusion=None)
    eng = engine(correlate=["payload.run_id", "payload.run_attempt"], max_duration="1h", slow=False)
    result = run(eng, runs.sorted(), now=rerun.occurred_at + timedelta(hours=2))
    [hung] = result.findings
    assert item(hung, "run")["run"] == "5/2"
    # On run_id alone the rerun is a late event of run 5, which had ended.
    alone = run(
        engine(max_duration="1h", slow=False),
        runs.sorted(),
        now=rerun.occurred_at + timedelta(hours=2),
    )
    assert alone.findings == []


def test_an_event_without_the_correlate_field_is_a_problem() -> None:
    event = Event(1, STREAM, "run_started", T0, T0, {"status": "in_progress"})
    result = run(engine(max_duration="1h"), [event])
    assert [(p.event_id, p.reason) for p in result.problems] == [(1, "payload.run_id is missing")]
    assert stored(result)["ci.runs"]["open"] == []


def test_late_events_of_an_ended_run_open_nothing() -> None:
    eng = engine(max_duration="1h", slow=False)
    runs = Runs()
    runs.whole(0, 1)
    first = run(eng, runs.sorted())
    late = runs.add("job_completed", 9, 1, job="test", status="completed", conclusion="success")
    after = run(eng, [late], stored(first), now=T0 + timedelta(hours=3))
    assert after.findings == [] and stored(after)["ci.runs"]["open"] == []


def test_open_runs_are_capped_and_the_oldest_dropped_is_a_problem() -> None:
    runs = Runs()
    for i in range(3):
        runs.start(i, i + 1)
    result = run(engine(max_duration="1h", max_open=2, slow=False), runs.sorted())
    assert [p.reason for p in result.problems] == [
        "run 1 dropped unjudged: more than 2 runs open at once (max_open)"
    ]
    assert [r["key"] for r in stored(result)["ci.runs"]["open"]] == ["2", "3"]


def test_a_hung_run_dropped_past_the_cap_is_cleared_as_no_longer_watched() -> None:
    eng = engine(max_duration="1h", max_open=1, slow=False)
    runs = Runs()
    runs.start(0, 1)
    seen = run(eng, runs.events, now=T0 + timedelta(hours=2))
    [opened] = seen.findings
    newer = runs.start(150, 2)
    [dropped] = run(eng, [newer], stored(seen)).findings
    assert dropped.fingerprint == opened.fingerprint
    assert item(dropped, "episode")["status"] == "cleared"
    assert item(dropped, "episode")["dropped"] is True
    assert dropped.summary.endswith("no longer watched: more than 1 runs open (cleared)")


def test_the_state_stays_bounded_over_many_runs() -> None:
    runs = Runs()
    for i in range(800):
        runs.start(i * 3, i + 1)
        for j in range(40):  # more stage names than a run keeps
            runs.add("job_started", i * 3 + 1, i + 1, job=f"job-{j}", status="in_progress")
        if i % 2:
            runs.end(i * 3 + 2, i + 1)
    result = run(engine(max_duration="1d", history=20), runs.sorted())
    state = stored(result)["ci.runs"]
    # 400 runs ended, the other 400 were capped at 100 open (the last end left 99).
    assert len(state["open"]) == 99 and len(state["history"]) == 20
    assert len(state["ended"]) == 500  # the ended keys it remembers
    assert len(result.problems) == 301
    assert max(len(r["stages"]) for r in state["open"]) == 32
    assert max(r["dropped"] for r in state["open"]) == 8
    assert len(json.dumps(state)) < 2_000_000


# -- any split into batches gives the same findings ------------------------------------


RULE_KEYS = {
    "max_duration": "30m",
    "requires": ["lint", "test", "build"],
    "ordered": True,
    "min_history": 3,
    "history": 5,
    "max_open": 4,
}


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Event], list[int]]:
    """Overlapping runs: each may lose its start, skip or reorder stages, never
    end, or take long; events sorted by time as a pass reads them."""
    runs = Runs()
    count = draw(st.integers(1, 12))
    for run_id in range(1, count + 1):
        begin = draw(st.integers(0, 240))
        took = draw(st.sampled_from([8, 9, 10, 10, 11, 25, 40, 90]))
        if draw(st.booleans()) or run_id == 1:
            runs.start(begin, run_id)
        jobs = draw(st.permutations(["lint", "test", "build"]))
        keep = draw(st.integers(0, 3))
        for i, job in enumerate(jobs[:keep]):
            skipped = draw(st.integers(0, 9)) == 0
            runs.job(begin + 1 + i * took / 4, run_id, job, "skipped" if skipped else "success")
        if draw(st.integers(0, 4)):
            runs.end(begin + took, run_id, draw(st.sampled_from(["success", "failure"])))
        if draw(st.integers(0, 9)) == 0:
            runs.add("run_started", begin + 1, run_id, status=None)  # neither start nor end
    events = runs.sorted()
    cuts = draw(st.lists(st.integers(0, len(events)), max_size=len(events)))
    return events, cuts


def passes(eng: Engine, events: Sequence[Event], cuts: Sequence[int]) -> list[Finding]:
    """Pass by pass at the cut points (each at the time of its newest event,
    the last one at `end`), states through a JSON round trip."""
    end = events[-1].occurred_at + timedelta(hours=1)
    findings: list[Finding] = []
    states: dict[str, Any] = {}
    bounds = [0, *sorted(set(cuts)), len(events)]
    at = T0
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        part = events[lo:hi]
        at = end if i == len(bounds) - 2 else (part[-1].occurred_at if part else at)
        result = eng.run(STREAM, part, states, at, part[-1].received_at if part else None)
        states = json.loads(json.dumps(result.states, allow_nan=False))
        findings += result.findings
    return findings


def batches(eng: Engine, events: Sequence[Event], cuts: Sequence[int]) -> list[Finding]:
    """One pass at `end` in batches: only the last judges `now`."""
    end = events[-1].occurred_at + timedelta(hours=1)
    budget = eng.budget()
    findings: list[Finding] = []
    states: dict[str, Any] = {}
    bounds = [0, *sorted(set(cuts)), len(events)]
    for i, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        part = events[lo:hi]
        last = i == len(bounds) - 2
        result = eng.run(STREAM, part, states, end, None, final=last, budget=budget)
        states = json.loads(json.dumps(result.states, allow_nan=False))
        findings += result.findings
    return findings


def final(findings: Sequence[Finding]) -> dict[str, tuple[Any, ...]]:
    """Each detection as stored: the newest report of each fingerprint."""
    out: dict[str, tuple[Any, ...]] = {}
    for f in findings:
        evidence = [(e.kind, e.event_id, e.data) for e in f.evidence]
        out[f.fingerprint] = (
            f.kind,
            f.first_seen,
            f.last_seen,
            f.summary,
            evidence,
            f.recommendation,
        )
    return out


@settings(max_examples=300, deadline=None)
@given(case=histories())
def test_any_split_into_passes_gives_the_findings_of_one_pass(
    case: tuple[list[Event], list[int]],
) -> None:
    events, cuts = case
    eng = engine(**RULE_KEYS)
    whole = passes(eng, events, [])
    split = passes(eng, events, cuts)
    assert final(split) == final(whole)
    assert final(batches(eng, events, cuts)) == final(whole)
    # One pass reports each finding once; a hung run's opening and clearing
    # are the same finding.
    assert len({f.fingerprint for f in whole}) == len(whole)


def test_splitting_a_history_at_every_event_gives_the_same_findings() -> None:
    runs = Runs()
    minute = history(runs, [10, 11, 9, 10, 10])
    runs.whole(minute, 50, took=40)  # hung (over 30m) and slow
    runs.whole(minute + 50, 51, jobs=("lint", "build"))  # incomplete
    runs.start(minute + 70, 52)  # hung: seen at run 53's start
    runs.whole(minute + 102, 53)
    runs.job(minute + 115, 52, "lint")  # the hung run goes on: reported again
    events = runs.sorted()
    eng = engine(**RULE_KEYS)
    whole = passes(eng, events, [])
    assert sorted((f.kind, item(f, "run")["run"]) for f in whole) == [
        ("run.hung", "50"),
        ("run.hung", "52"),
        ("run.incomplete", "51"),
        ("run.slow", "50"),
    ]
    assert final(passes(eng, events, list(range(len(events))))) == final(whole)


def test_the_github_actions_pack_in_the_rules_doc_is_valid() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "rules.md").read_text(encoding="utf-8")
    section = doc.split("### `run`", 1)[1].split("\n## ", 1)[0]
    example = section.split("A pack for GitHub Actions", 1)[1].split("```yaml\n", 1)[1]
    pack = packs.load_documents({"gha.yaml": example.split("```", 1)[0]}, "docs")
    assert [rule.kind for rule in pack.rules] == ["run", "run", "run"]
