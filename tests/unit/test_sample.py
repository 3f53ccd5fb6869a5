"""The sample plant: the engine finds exactly the injected faults, nothing on
clean streams, whatever the seed, and in one pass or many."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sentinel.rules import pack as packs
from sentinel.rules.engine import Engine
from sentinel.rules.model import Event, Finding, Problem
from sentinel.sample import generate

START = datetime(2026, 11, 22, 6, tzinfo=UTC)


def as_events(raw: list[dict[str, Any]]) -> dict[str, list[Event]]:
    streams: dict[str, list[Event]] = defaultdict(list)
    for i, e in enumerate(raw, 1):
        at = datetime.fromisoformat(e["occurred_at"].replace("Z", "+00:00"))
        streams[e["stream"]].append(Event(i, e["stream"], e["kind"], at, at, e["payload"]))
    return streams


def run_all(
    raw: list[dict[str, Any]], chunk: int | None = None
) -> tuple[list[Finding], list[Problem]]:
    engine = Engine(packs.load_path(packs.bundled_pack_path()))
    streams = as_events(raw)
    now = max(e.occurred_at for events in streams.values() for e in events)
    findings: list[Finding] = []
    problems: list[Problem] = []
    for stream, events in streams.items():
        size = chunk or len(events)
        states: dict[str, dict[str, Any]] = {}
        for lo in range(0, len(events), size):
            part = events[lo : lo + size]
            # Each pass runs when its newest event has arrived; the last one at `now`.
            at = now if lo + size >= len(events) else part[-1].received_at
            result = engine.run(stream, part, states, at, part[-1].received_at)
            states = json.loads(json.dumps(result.states))  # as stored in the database
            findings += result.findings
            problems += result.problems
    return findings, problems


def per_pair(findings: list[Finding]) -> dict[tuple[str, str], int]:
    """How many findings (distinct fingerprints) each (rule, stream) pair has."""
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in findings:
        seen[(f.rule_ref, f.stream)].add(f.fingerprint)
    return {pair: len(fingerprints) for pair, fingerprints in seen.items()}


PLANTED = {pair: fault.findings for pair, fault in generate.EXPECTED.items()}


def test_each_planted_fault_is_exactly_one_finding_of_its_rule() -> None:
    findings, problems = run_all(generate.generate(START))
    assert per_pair(findings) == PLANTED
    assert problems == []


def test_clean_streams_produce_nothing() -> None:
    findings, _ = run_all(generate.generate(START))
    assert not [f for f in findings if f.stream in generate.CLEAN_STREAMS]


@pytest.mark.parametrize("seed", [1, 2, 3, 99])
def test_sample_faults_do_not_depend_on_the_seed(seed: int) -> None:
    findings, problems = run_all(generate.generate(START, seed=seed))
    assert per_pair(findings) == PLANTED
    assert problems == []


@pytest.mark.parametrize("chunk", [1, 7, 50])
def test_sample_findings_are_the_same_pass_by_pass(chunk: int) -> None:
    raw = generate.generate(START)
    once, _ = run_all(raw)
    stepwise, _ = run_all(raw, chunk=chunk)
    # An open episode is reported again by every pass that sees it; the
    # newest report of each fingerprint is what is stored.
    def stored(findings: list[Finding]) -> dict[str, tuple[Any, ...]]:
        return {
            f.fingerprint: (f.last_seen, f.summary, f.evidence, f.recommendation) for f in findings
        }

    assert stored(stepwise) == stored(once)
    assert len(once) == len(stored(once))  # one pass: one report per episode


def _with_rule(ref: str, **changes: Any) -> packs.RulePack:
    """The bundled pack with one rule's keys changed."""
    import yaml

    doc = yaml.safe_load(packs.bundled_pack_path().read_text(encoding="utf-8"))
    for rule in doc["rules"]:
        if rule["ref"] == ref:
            rule.update(changes)
            for key in [k for k, v in changes.items() if v is None]:
                del rule[key]
    return packs.load_documents({"plant.yaml": yaml.safe_dump(doc)}, "plant.yaml")


@pytest.mark.parametrize(
    ("ref", "stream", "naive"),
    [
        # The daily cycle and the hourly defrost are normal only against the
        # same time on other days.
        ("chiller.supply_profile", generate.CHILLER.format(1), {"seasonal": None}),
        # A bearing warming with wear leaves a baseline learned once behind.
        ("bearing.temp_shift", generate.BEARING.format(1), {"baseline": None, "window": None}),
    ],
)
def test_the_clean_adaptive_streams_are_quiet_only_with_an_adaptive_baseline(
    ref: str, stream: str, naive: dict[str, Any]
) -> None:
    raw = [e for e in generate.generate(START) if e["stream"] == stream]
    engine = Engine(_with_rule(ref, **naive))
    events = as_events(raw)[stream]
    result = engine.run(stream, events, {}, events[-1].received_at, events[-1].received_at)
    assert [f for f in result.findings if f.rule_ref == ref], "the naive rule should fire"
    adaptive, _ = run_all(raw)
    assert not [f for f in adaptive if f.rule_ref == ref]


def test_every_rule_kind_has_an_injected_fault() -> None:
    pack = packs.load_path(packs.bundled_pack_path())
    kinds = {pack.rule(ref).kind for ref, _ in generate.EXPECTED}
    assert kinds == {"condition", "threshold", "spc", "rate", "flatline", "silence", "count", "run"}


def test_generate_is_deterministic_and_in_the_jsonl_shape(tmp_path: Path) -> None:
    a = generate.generate(START)
    assert a == generate.generate(START)
    assert a != generate.generate(START, seed=8)
    assert set(a[0]) == {"source", "stream", "kind", "occurred_at", "external_id", "payload"}
    assert a[0]["occurred_at"].endswith("Z")
    assert len({e["external_id"] for e in a}) == len(a)
    assert {e["stream"] for e in a} == set(generate.STREAMS)
    out = tmp_path / "sample.jsonl"
    assert generate.main([str(out), "--start", START.isoformat()]) == 0
    lines = out.read_text().splitlines()
    assert [json.loads(line) for line in lines] == a
