"""The sample's GitHub Actions runs: the runs pack finds exactly the three
planted problems (a hung, an incomplete and a slow run), each one finding of
its rule on the planted run, nothing on the good runs, whatever the seed and
however the events are split into passes."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sentinel.ingest import parse
from sentinel.rules import pack as packs
from sentinel.rules.engine import Engine
from sentinel.rules.model import Event, Finding, Problem
from sentinel.sample import runs

START = datetime(2026, 11, 22, 6, tzinfo=UTC)


def as_events(raw: list[dict[str, Any]]) -> dict[str, list[Event]]:
    streams: dict[str, list[Event]] = defaultdict(list)
    for i, e in enumerate(raw, 1):
        at = datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00"))
        streams[e["stream"]].append(Event(i, e["stream"], e["kind"], at, at, e["payload"]))
    for events in streams.values():
        events.sort(key=lambda e: (e.occurred_at, e.id))  # as a pass reads them
    return streams


def run_all(
    raw: list[dict[str, Any]], chunk: int | None = None, now: datetime | None = None
) -> tuple[list[Finding], list[Problem]]:
    engine = Engine(packs.load_path(packs.bundled_pack_path()))
    streams = as_events(raw)
    end = now or max(e.occurred_at for events in streams.values() for e in events)
    findings: list[Finding] = []
    problems: list[Problem] = []
    for stream, events in streams.items():
        size = chunk or len(events)
        states: dict[str, dict[str, Any]] = {}
        for lo in range(0, len(events), size):
            part = events[lo : lo + size]
            # Each pass runs when its newest event has arrived; the last one at `end`.
            at = end if lo + size >= len(events) else part[-1].received_at
            result = engine.run(stream, part, states, at, part[-1].received_at)
            states = json.loads(json.dumps(result.states))
            findings += result.findings
            problems += result.problems
    return findings, problems


def per_pair(findings: list[Finding]) -> dict[tuple[str, str], int]:
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in findings:
        seen[(f.rule_ref, f.stream)].add(f.fingerprint)
    return {pair: len(fps) for pair, fps in seen.items()}


def planted(raw: list[dict[str, Any]]) -> dict[str, str]:
    """Rule ref -> the run key of the run planted for it, read off the events."""
    ended = {
        (e["payload"]["run_id"], e["payload"]["run_attempt"])
        for e in raw
        if e["kind"] == "run_completed"
    }
    keys: dict[str, str] = {}
    for e in raw:
        p = e["payload"]
        key = (p["run_id"], p["run_attempt"])
        if e["stream"] == runs.DEPLOY and key not in ended:
            keys["ci.run_hung"] = f"{key[0]}/{key[1]}"
        if e["kind"] == "job_completed" and p["job"] == "test":
            if p["conclusion"] == "skipped":
                keys["ci.run_incomplete"] = f"{key[0]}/{key[1]}"
            if p["duration_s"] >= 30 * 60:
                keys["ci.run_slow"] = f"{key[0]}/{key[1]}"
    return keys


def run_of(finding: Finding) -> str:
    [timeline] = [e.data for e in finding.evidence if e.kind == "run"]
    return str(timeline["run"])


@pytest.mark.parametrize("seed", [7, 1, 2, 3, 99])
def test_each_planted_run_is_one_finding_of_its_rule_and_good_runs_give_nothing(
    seed: int,
) -> None:
    raw = runs.generate_runs(START, seed=seed)
    findings, problems = run_all(raw)
    assert per_pair(findings) == dict.fromkeys(runs.EXPECTED_RUNS, 1)
    assert problems == []
    # Each finding is on the run planted for its rule, and of its problem.
    assert {f.rule_ref: run_of(f) for f in findings} == planted(raw)
    kinds = {f.rule_ref: f.kind for f in findings}
    assert kinds == {
        "ci.run_hung": "run.hung",
        "ci.run_incomplete": "run.incomplete",
        "ci.run_slow": "run.slow",
    }


def test_the_planted_problems_read_as_planted() -> None:
    findings, _ = run_all(runs.generate_runs(START))
    by_rule = {f.rule_ref: f for f in findings}
    assert by_rule["ci.run_incomplete"].summary.endswith("ended without test")
    slow = by_rule["ci.run_slow"]
    [window] = [e.data for e in slow.evidence if e.kind == "window"]
    assert window["duration_s"] > 4 * window["median_s"]
    hung = by_rule["ci.run_hung"]
    [timeline] = [e.data for e in hung.evidence if e.kind == "run"]
    assert timeline["end"] is None
    assert [(s["name"], s["conclusion"]) for s in timeline["stages"]] == [
        ("build", "success"),
        ("deploy", None),
    ]
    assert "{" not in hung.recommendation and "https://github.com/acme/widget" in (
        hung.recommendation
    )


@pytest.mark.parametrize("chunk", [1, 7, 50])
def test_the_findings_are_the_same_pass_by_pass(chunk: int) -> None:
    raw = runs.generate_runs(START)
    once, _ = run_all(raw)
    stepwise, _ = run_all(raw, chunk=chunk)

    def stored(findings: list[Finding]) -> dict[str, tuple[Any, ...]]:
        return {
            f.fingerprint: (f.last_seen, f.summary, f.evidence, f.recommendation) for f in findings
        }

    assert stored(stepwise) == stored(once)


def test_a_longer_history_still_plants_exactly_three() -> None:
    findings, problems = run_all(runs.generate_runs(START, minutes=480))
    assert per_pair(findings) == dict.fromkeys(runs.EXPECTED_RUNS, 1) and problems == []


def test_the_run_still_going_at_the_end_is_not_hung_until_it_is() -> None:
    raw = runs.generate_runs(START)
    end = START + timedelta(minutes=240)
    findings, _ = run_all(raw, now=end)
    assert per_pair(findings) == dict.fromkeys(runs.EXPECTED_RUNS, 1)
    # An hour later the ci run still going at the end has hung too.
    later, _ = run_all(raw, now=end + timedelta(hours=1))
    assert per_pair(later)[("ci.run_hung", runs.CI)] == 1


def test_the_events_are_valid_ingest_lines_in_the_github_shape(tmp_path: Path) -> None:
    raw = runs.generate_runs(START, seed=3)
    assert {e["stream"] for e in raw} == set(runs.STREAMS)
    assert {e["kind"] for e in raw} == {
        "run_started",
        "run_completed",
        "job_started",
        "job_completed",
    }
    assert len({e["external_id"] for e in raw}) == len(raw)
    for n, e in enumerate(raw, 1):
        assert not isinstance(parse.event_from_dict(e, n), parse.Rejection), e
        p = e["payload"]
        assert isinstance(p["run_id"], int) and isinstance(p["run_attempt"], int)
        assert p["repository"] == "acme/widget" and e["source"] == "github"
        assert ("job" in p) == e["kind"].startswith("job_")
        assert (p["duration_s"] is not None) == e["kind"].endswith("_completed")
    assert max(e["occurred_at"] for e in raw) <= "2026-11-22T10:00:00Z"
    out = tmp_path / "runs.jsonl"
    assert runs.main([str(out), "--start", START.isoformat(), "--seed", "3"]) == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == raw


def test_the_runs_pack_is_valid_and_a_short_history_is_refused() -> None:
    assert packs.check_path(packs.bundled_pack_path()) == []
    with pytest.raises(ValueError, match="at least 240 minutes"):
        runs.generate_runs(START, minutes=120)
