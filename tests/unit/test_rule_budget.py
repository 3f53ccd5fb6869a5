"""No rule can hold a pass: a `matches` search out of time is a Problem of its
event, and a rule over its per-pass budget is dropped for the rest of the
pass (findings gone, state as it was) while the other rules carry on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from sentinel.rules import pack as packs
from sentinel.rules.engine import Engine
from sentinel.rules.model import Event

T0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
STREAM = "logs/app-1"
SLOW = r"^(a+)+\1$"  # a backreference: RE2 cannot run it, so it is time-bounded
CATASTROPHIC = "a" * 5000 + "b"


def engine(*rules: dict[str, Any], budget: float = 5.0, flood: int = 10) -> Engine:
    full = [
        {"streams": "logs/*", "severity": "warning", "recommendation": "Check {stream}.", **r}
        for r in rules
    ]
    pack = packs.load_documents({"t.yaml": yaml.safe_dump({"rules": full})}, "test")
    return Engine(pack, rule_budget_seconds=budget, flood_findings=flood)


def lines(*texts: str, start_id: int = 1) -> list[Event]:
    return [
        Event(start_id + i, STREAM, "log", T0 + timedelta(seconds=i), T0, {"line": text})
        for i, text in enumerate(texts)
    ]


def matching(pattern: str, ref: str = "slow") -> dict[str, Any]:
    return {
        "ref": ref,
        "kind": "condition",
        "when": {"field": "payload.line", "operator": "matches", "value": pattern},
    }


@pytest.mark.timeout(10)
def test_a_catastrophic_pattern_on_an_event_is_a_problem_of_that_event() -> None:
    result = engine(matching(SLOW)).run(STREAM, lines("aa", CATASTROPHIC, "aaaa"), {}, T0, T0)
    assert [f.anchor_event_id for f in result.findings] == [1, 3]
    [problem] = result.problems
    assert (problem.rule_ref, problem.event_id) == ("slow", 2)
    assert "took over" in problem.reason and "counted as not matching" in problem.reason


@pytest.mark.timeout(10)
def test_a_backtracking_pattern_re2_can_run_needs_no_time_limit() -> None:
    result = engine(matching("^(a+)+$")).run(STREAM, lines(CATASTROPHIC, "aaa"), {}, T0, T0)
    assert [f.anchor_event_id for f in result.findings] == [2]
    assert result.problems == []


@pytest.mark.timeout(30)
def test_a_rule_over_its_budget_is_dropped_and_the_others_carry_on() -> None:
    rules = (
        matching(SLOW),
        matching("^aa$", ref="fast"),
        {"ref": "count", "kind": "count", "count": 2, "within": "1h",
         "when": {"field": "payload.line", "operator": "matches", "value": "a"}},
    )  # fmt: skip
    eng = engine(*rules, budget=0.3)
    events = lines(*(["aa"] + [CATASTROPHIC] * 40))
    states = {"slow": {"kept": True}}
    budget = eng.budget()
    result = eng.run(STREAM, events, states, T0, T0, budget=budget)

    slow = [p for p in result.problems if p.rule_ref == "slow"]
    [over] = slow  # its per-event problems go with its findings
    assert over.event_id is None and "over its time budget of 0.3 s" in over.reason
    assert not [f for f in result.findings if f.rule_ref == "slow"]
    assert result.states["slow"] == {"kept": True}  # as it was
    assert [f.anchor_event_id for f in result.findings if f.rule_ref == "fast"] == [1]
    assert [f.rule_ref for f in result.findings].count("count") == 1
    assert budget.over == {"slow"}

    # The next batch of the same pass: skipped at once, said once.
    later = eng.run(STREAM, lines("aa", start_id=50), result.states, T0, T0, budget=budget)
    [skipped] = [p for p in later.problems if p.rule_ref == "slow"]
    assert "skipped" in skipped.reason
    assert later.states["slow"] == {"kept": True}
    # (count's burst is still open: each batch that sees it reports it again)
    assert [f.rule_ref for f in later.findings if f.rule_ref != "count"] == ["fast"]

    # A new pass gives the rule its budget back.
    again = eng.run(STREAM, lines("aa", start_id=60), result.states, T0, T0)
    assert sorted(f.rule_ref for f in again.findings if f.rule_ref != "count") == ["fast", "slow"]


def test_a_long_batch_is_fed_in_chunks_with_the_findings_of_one_run() -> None:
    texts = [("aa" if i % 7 == 0 else "b") for i in range(3000)]
    # (429 findings in the same minute: flood protection off, it is not the point)
    eng = engine(matching("^aa$"), {"ref": "quiet", "kind": "silence", "for": "10m"}, flood=10**6)
    whole = eng.run(STREAM, lines(*texts), {}, T0 + timedelta(hours=1), T0)
    assert [f.anchor_event_id for f in whole.findings if f.rule_ref == "slow"] == [
        i + 1 for i in range(0, 3000, 7)
    ]
    # Only the end of the batch is judged at pass time: one silence, on the last event.
    [quiet] = [f for f in whole.findings if f.rule_ref == "quiet"]
    assert quiet.anchor_event_id == 3000
